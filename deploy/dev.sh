#!/usr/bin/env bash
# The scale-out engines for development and tests: PostgreSQL, Redis, Kafka, OpenSearch, Cassandra,
# and S3Proxy (the object store).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF2
Usage: deploy/dev.sh up|down|status|env

Starts the engines the scale-out adapters and their tests need, all on 127.0.0.1 with private
state under \$PARLEY_DEPLOY_DIR (default <repo>/.deploy). Development and tests only.
  up       start PostgreSQL (deploy/postgres.sh), Redis (deploy/redis.sh), Kafka
           (deploy/kafka/kafka.sh), OpenSearch (deploy/opensearch/opensearch.sh), Cassandra
           (deploy/cassandra/cassandra.sh) and S3Proxy (deploy/s3proxy/s3proxy.sh); each is a
           no-op if already running
  down     stop them (S3Proxy, Cassandra, OpenSearch, Kafka, Redis, PostgreSQL); data is kept (delete the deploy
           dir to reset)
  status   the status of each (exit 0 only if all run)
  env      print the variables the tests read, for: eval "\$(deploy/dev.sh env)"
             PARLEY_TEST_POSTGRES_URL  postgres://parley@127.0.0.1:\$PARLEY_PG_PORT/parley
             PARLEY_TEST_REDIS_URL     redis://127.0.0.1:\$PARLEY_REDIS_PORT
             PARLEY_TEST_KAFKA_BROKERS 127.0.0.1:\$PARLEY_KAFKA_PORT
             PARLEY_TEST_OPENSEARCH_URL http://127.0.0.1:\$PARLEY_OPENSEARCH_PORT
             PARLEY_TEST_CASSANDRA_URL cassandra://cassandra:cassandra@127.0.0.1:\$PARLEY_CASSANDRA_PORT/parley
             PARLEY_TEST_S3_URL        s3://parley:parley-dev-secret@127.0.0.1:\$PARLEY_S3_PORT/parley-media

Environment: PARLEY_DEPLOY_DIR, PARLEY_PG_PORT (25432), PARLEY_REDIS_PORT (26379),
PARLEY_KAFKA_PORT (29092; the broker's port is deploy/kafka/kafka.sh's), and
PARLEY_DEV_SKIP_KAFKA=1 to leave Kafka out (e.g. when only PostgreSQL/Redis are needed),
PARLEY_OPENSEARCH_PORT (29200) and PARLEY_DEV_SKIP_OPENSEARCH=1 to leave OpenSearch out,
PARLEY_CASSANDRA_PORT (29042) and PARLEY_DEV_SKIP_CASSANDRA=1 to leave Cassandra out,
PARLEY_S3_PORT (29000) and PARLEY_DEV_SKIP_S3=1 to leave the object store (S3Proxy) out.
EOF2
}

kafka() {
  local k="$DEPLOY_SRC/kafka/kafka.sh"
  [[ -f "$k" ]] || die "$k not found (the Kafka script is not in this checkout yet); PARLEY_DEV_SKIP_KAFKA=1 skips Kafka"
  bash "$k" "$@"
}

skip_kafka() { [[ "${PARLEY_DEV_SKIP_KAFKA:-0}" == 1 ]]; }

opensearch() { bash "$DEPLOY_SRC/opensearch/opensearch.sh" "$@"; }

cassandra() { bash "$DEPLOY_SRC/cassandra/cassandra.sh" "$@"; }

skip_cassandra() { [[ "${PARLEY_DEV_SKIP_CASSANDRA:-0}" == 1 ]]; }

skip_opensearch() { [[ "${PARLEY_DEV_SKIP_OPENSEARCH:-0}" == 1 ]]; }

s3proxy() { bash "$DEPLOY_SRC/s3proxy/s3proxy.sh" "$@"; }

skip_s3() { [[ "${PARLEY_DEV_SKIP_S3:-0}" == 1 ]]; }

cmd_up() {
  "$DEPLOY_SRC/postgres.sh" start
  "$DEPLOY_SRC/redis.sh" start
  if skip_kafka; then say "Kafka skipped (PARLEY_DEV_SKIP_KAFKA=1)"; else kafka start; fi
  if skip_opensearch; then say "OpenSearch skipped (PARLEY_DEV_SKIP_OPENSEARCH=1)"; else opensearch start; fi
  if skip_cassandra; then say "Cassandra skipped (PARLEY_DEV_SKIP_CASSANDRA=1)"; else cassandra start; fi
  if skip_s3; then say "S3Proxy skipped (PARLEY_DEV_SKIP_S3=1)"; else s3proxy start; fi
  say "engines up; for the tests: eval \"\$(deploy/dev.sh env)\""
}

cmd_down() {
  local rc=0
  if ! skip_s3; then s3proxy stop || rc=1; fi
  if ! skip_cassandra; then cassandra stop || rc=1; fi
  if ! skip_opensearch; then opensearch stop || rc=1; fi
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
  if ! skip_opensearch; then opensearch status || rc=3; fi
  if ! skip_cassandra; then cassandra status || rc=3; fi
  if ! skip_s3; then s3proxy status || rc=3; fi
  exit "$rc"
}

cmd_env() {
  printf 'export PARLEY_TEST_POSTGRES_URL=%s\n' "postgres://parley@127.0.0.1:$PARLEY_PG_PORT/parley"
  printf 'export PARLEY_TEST_REDIS_URL=%s\n' "redis://127.0.0.1:$PARLEY_REDIS_PORT"
  printf 'export PARLEY_TEST_KAFKA_BROKERS=%s\n' "127.0.0.1:$PARLEY_KAFKA_PORT"
  printf 'export PARLEY_TEST_OPENSEARCH_URL=%s\n' "$(opensearch url)"
  printf 'export PARLEY_TEST_CASSANDRA_URL=%s\n' "$(cassandra url)"
  printf 'export PARLEY_TEST_S3_URL=%s\n' "$(s3proxy url)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
