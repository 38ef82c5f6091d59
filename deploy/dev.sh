#!/usr/bin/env bash
# The scale-out engines for development and tests: PostgreSQL, Redis and Kafka.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF2
Usage: deploy/dev.sh up|down|status|env

Starts the engines the scale-out adapters and their tests need, all on 127.0.0.1 with private
state under \$PARLEY_DEPLOY_DIR (default <repo>/.deploy). Development and tests only.
  up       start PostgreSQL (deploy/postgres.sh), Redis (deploy/redis.sh) and Kafka
           (deploy/kafka/kafka.sh); each is a no-op if already running
  down     stop them (Kafka, Redis, PostgreSQL); data is kept (delete the deploy dir to reset)
  status   the status of each (exit 0 only if all run)
  env      print the variables the tests read, for: eval "\$(deploy/dev.sh env)"
             PARLEY_TEST_POSTGRES_URL  postgres://parley@127.0.0.1:\$PARLEY_PG_PORT/parley
             PARLEY_TEST_REDIS_URL     redis://127.0.0.1:\$PARLEY_REDIS_PORT
             PARLEY_TEST_KAFKA_BROKERS 127.0.0.1:\$PARLEY_KAFKA_PORT

Environment: PARLEY_DEPLOY_DIR, PARLEY_PG_PORT (55432), PARLEY_REDIS_PORT (56379),
PARLEY_KAFKA_PORT (59092; the broker's port is deploy/kafka/kafka.sh's), and
PARLEY_DEV_SKIP_KAFKA=1 to leave Kafka out (e.g. when only PostgreSQL/Redis are needed).
EOF2
}

kafka() {
  local k="$DEPLOY_SRC/kafka/kafka.sh"
  [[ -f "$k" ]] || die "$k not found (the Kafka script is not in this checkout yet); PARLEY_DEV_SKIP_KAFKA=1 skips Kafka"
  bash "$k" "$@"
}

skip_kafka() { [[ "${PARLEY_DEV_SKIP_KAFKA:-0}" == 1 ]]; }

cmd_up() {
  "$DEPLOY_SRC/postgres.sh" start
  "$DEPLOY_SRC/redis.sh" start
  if skip_kafka; then say "Kafka skipped (PARLEY_DEV_SKIP_KAFKA=1)"; else kafka start; fi
  say "engines up; for the tests: eval \"\$(deploy/dev.sh env)\""
}

cmd_down() {
  local rc=0
  if ! skip_kafka; then kafka stop || rc=1; fi
  "$DEPLOY_SRC/redis.sh" stop || rc=1
  "$DEPLOY_SRC/postgres.sh" stop || rc=1
  return "$rc"
}

cmd_status() {
  local rc=0
  "$DEPLOY_SRC/postgres.sh" status || rc=3
  "$DEPLOY_SRC/redis.sh" status || rc=3
  if ! skip_kafka; then kafka status || rc=3; fi
  exit "$rc"
}

cmd_env() {
  printf 'export PARLEY_TEST_POSTGRES_URL=%s\n' "postgres://parley@127.0.0.1:$PARLEY_PG_PORT/parley"
  printf 'export PARLEY_TEST_REDIS_URL=%s\n' "redis://127.0.0.1:$PARLEY_REDIS_PORT"
  printf 'export PARLEY_TEST_KAFKA_BROKERS=%s\n' "127.0.0.1:$PARLEY_KAFKA_PORT"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
