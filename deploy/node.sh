#!/usr/bin/env bash
# Starts/stops one parleyd node of the local scale-out cluster (development and tests).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: deploy/node.sh start <n> [extra parleyd options...]
       deploy/node.sh stop|status|log <n>
       deploy/node.sh status

parleyd node n (1..9, normally 1..3) of the local cluster, on 127.0.0.1:1808<n>, with its own
data dir (\$PARLEY_DEPLOY_DIR/nodes/node<n>/data) and the secrets dir shared by all nodes
(\$PARLEY_DEPLOY_DIR/shared/secrets: the JWT signing key and the media URL key must be the same
on every node).
  start    start the node and wait (bounded) until GET /readyz answers 200; on failure print
           the log tail and stop it again (a no-op if it is running)
  stop     stop it (SIGTERM, then SIGKILL after PARLEY_NODE_STOP_TIMEOUT s; a no-op if stopped)
  status   'running' (exit 0) or 'stopped' (exit 3); without <n>, every node found
  log      print the node's log file path

The scale-out options passed (override with the environment):
  --store   \$PARLEY_NODE_STORE   (default postgres://parley@127.0.0.1:\$PARLEY_PG_PORT/parley)
  --bus     \$PARLEY_NODE_BUS     (default kafka://127.0.0.1:\$PARLEY_KAFKA_PORT)
  --cluster \$PARLEY_NODE_CLUSTER (default redis://127.0.0.1:\$PARLEY_REDIS_PORT)
  --search  \$PARLEY_NODE_SEARCH  (default opensearch://127.0.0.1:\$PARLEY_OPENSEARCH_PORT;
            left out when PARLEY_DEV_SKIP_OPENSEARCH=1: each node's embedded SQLite FTS)
  --ship-logs \$PARLEY_NODE_SHIP_LOGS (default: the same OpenSearch; off with it)
  messages  \$PARLEY_NODE_MESSAGES, passed as PARLEY_MESSAGES (default: the URL of
            deploy/cassandra/cassandra.sh url; none when PARLEY_DEV_SKIP_CASSANDRA=1: message
            rows stay in PostgreSQL)
  media     \$PARLEY_NODE_MEDIA_STORE, passed as PARLEY_MEDIA_STORE (default: the URL of
            deploy/s3proxy/s3proxy.sh url); when PARLEY_DEV_SKIP_S3=1, --media-dir <shared>/media
  --node-id node<n>  --secrets-dir <shared>/secrets
  --trusted-proxies 127.0.0.1   (nginx's X-Forwarded-For names the client)
PARLEY_NODE_MODE=embedded passes none of these (only --listen and --data-dir: independent
embedded servers, e.g. to try the load balancer without the engines).

Environment:
  PARLEYD_BIN               the server binary (default build/parleyd, relative to the repo)
  PARLEY_DEPLOY_DIR         state directory (default <repo>/.deploy)
  PARLEY_NODE_BASE_PORT     node n listens on BASE+n (default 18080)
  PARLEY_NODE_READY_TIMEOUT seconds to wait for /readyz (default 30)
  PARLEY_NODE_STOP_TIMEOUT  seconds to wait after SIGTERM (default 20)
  PARLEY_NODE_ARGS          extra parleyd options for every node (word-split)
EOF
}

BASE_PORT="${PARLEY_NODE_BASE_PORT:-18080}"
READY_TIMEOUT="${PARLEY_NODE_READY_TIMEOUT:-30}"
STOP_TIMEOUT="${PARLEY_NODE_STOP_TIMEOUT:-20}"
SHARED="$PARLEY_DEPLOY_DIR/shared"

resolve_bin() {
  local b="${PARLEYD_BIN:-build/parleyd}"
  if [[ "$b" != /* ]]; then
    if [[ -x "$PWD/$b" ]]; then b="$PWD/$b"; else b="$REPO_ROOT/$b"; fi
  fi
  [[ -x "$b" ]] || die "parleyd binary not found at $b (build it: ./scripts/build.sh Release build, or set PARLEYD_BIN)"
  echo "$b"
}

node_vars() {
  local n="$1"
  [[ "$n" =~ ^[1-9]$ ]] || die "node number must be 1..9, got '${n}'"
  NODE_ID="node$n"
  NODE_DIR="$PARLEY_DEPLOY_DIR/nodes/$NODE_ID"
  NODE_PORT=$((BASE_PORT + n))
  NODE_PID="$NODE_DIR/parleyd.pid"
  NODE_LOG="$NODE_DIR/parleyd.log"
}

running_pid() {
  local pid
  pid="$(read_pid "$NODE_PID")"
  if [[ -n "$pid" ]] && pid_is "$pid" parleyd && pid_cmdline_has "$pid" "$NODE_DIR/data"; then
    echo "$pid"
    return 0
  fi
  return 1
}

ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$NODE_PORT/readyz" 2>/dev/null; }

kill_node() {
  terminate_pid "$1" "$STOP_TIMEOUT" "$NODE_ID (pid $1)"
  rm -f "$NODE_PID"
}

cmd_start() {
  (($# >= 1)) || die "usage: deploy/node.sh start <n> [parleyd options...]"
  node_vars "$1"
  shift
  local pid
  if pid="$(running_pid)"; then
    say "$NODE_ID already running on 127.0.0.1:$NODE_PORT (pid $pid)"
    return 0
  fi
  if port_in_use "$NODE_PORT"; then
    die "127.0.0.1:$NODE_PORT is already in use by another process (PARLEY_NODE_BASE_PORT moves the nodes)"
  fi
  local bin
  bin="$(resolve_bin)"
  ensure_dir "$NODE_DIR/data"
  local -a args=(--listen "127.0.0.1:$NODE_PORT" --data-dir "$NODE_DIR/data")
  if [[ "${PARLEY_NODE_MODE:-scaleout}" == embedded ]]; then
    :
  elif [[ "${PARLEY_NODE_MODE:-scaleout}" == scaleout ]]; then
    ensure_dir "$SHARED/media" "$SHARED/secrets"
    chmod 0700 "$SHARED/secrets"
    args+=(
      --store "${PARLEY_NODE_STORE:-postgres://parley@127.0.0.1:$PARLEY_PG_PORT/parley}"
      --bus "${PARLEY_NODE_BUS:-kafka://127.0.0.1:$PARLEY_KAFKA_PORT}"
      --cluster "${PARLEY_NODE_CLUSTER:-redis://127.0.0.1:$PARLEY_REDIS_PORT}"
      --node-id "$NODE_ID"
      --secrets-dir "$SHARED/secrets"
      --trusted-proxies 127.0.0.1
    )
    # Message rows on Cassandra, search on OpenSearch and media on S3Proxy, unless dev.sh leaves
    # those engines out. URLs that hold a password or key go through the environment (not on the
    # command line or in the log's start line).
    if [[ "${PARLEY_DEV_SKIP_CASSANDRA:-0}" != 1 ]]; then
      PARLEY_MESSAGES="${PARLEY_NODE_MESSAGES:-$(bash "$DEPLOY_SRC/cassandra/cassandra.sh" url)}"
      export PARLEY_MESSAGES
    fi
    if [[ "${PARLEY_DEV_SKIP_OPENSEARCH:-0}" != 1 ]]; then
      args+=(--search "${PARLEY_NODE_SEARCH:-opensearch://127.0.0.1:${PARLEY_OPENSEARCH_PORT:-29200}}")
      args+=(--ship-logs "${PARLEY_NODE_SHIP_LOGS:-opensearch://127.0.0.1:${PARLEY_OPENSEARCH_PORT:-29200}}")
    fi
    if [[ "${PARLEY_DEV_SKIP_S3:-0}" != 1 ]]; then
      PARLEY_MEDIA_STORE="${PARLEY_NODE_MEDIA_STORE:-$(bash "$DEPLOY_SRC/s3proxy/s3proxy.sh" url)}"
      export PARLEY_MEDIA_STORE
    else
      args+=(--media-dir "$SHARED/media")
    fi
  else
    die "PARLEY_NODE_MODE must be scaleout or embedded"
  fi
  if [[ -n "${PARLEY_NODE_ARGS:-}" ]]; then
    local -a extra
    read -r -a extra <<<"$PARLEY_NODE_ARGS"
    args+=("${extra[@]}")
  fi
  args+=("$@")
  rm -f "$NODE_PID"
  printf '==== %s deploy/node.sh start: %s %s\n' "$(date -u +%FT%TZ)" "$bin" "${args[*]}" >>"$NODE_LOG"
  say "starting $NODE_ID on 127.0.0.1:$NODE_PORT (log $NODE_LOG)"
  # setsid: the node outlives this script and its terminal; stdin from /dev/null.
  setsid "$bin" "${args[@]}" </dev/null >>"$NODE_LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$NODE_PID"
  local i
  for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
    if ! pid_alive "$pid"; then
      local rc=0
      wait "$pid" 2>/dev/null || rc=$?
      rm -f "$NODE_PID"
      log_tail "$NODE_LOG"
      die "$NODE_ID exited during start-up (status ${rc:-?})"
    fi
    if ready; then
      say "$NODE_ID ready: http://127.0.0.1:$NODE_PORT (pid $pid)"
      return 0
    fi
    sleep 0.2
  done
  log_tail "$NODE_LOG"
  say "$NODE_ID did not answer GET /readyz with 200 within ${READY_TIMEOUT}s; stopping it"
  kill_node "$pid"
  exit 1
}

cmd_stop() {
  (($# >= 1)) || die "usage: deploy/node.sh stop <n>"
  node_vars "$1"
  local pid
  if ! pid="$(running_pid)"; then
    say "$NODE_ID not running"
    rm -f "$NODE_PID"
    return 0
  fi
  say "stopping $NODE_ID (pid $pid)"
  kill_node "$pid"
  say "$NODE_ID stopped"
}

status_one() {
  node_vars "$1"
  local pid
  if pid="$(running_pid)"; then
    local r="not ready"
    ready && r="ready"
    echo "$NODE_ID: running on 127.0.0.1:$NODE_PORT (pid $pid, $r)"
    return 0
  fi
  echo "$NODE_ID: stopped"
  return 3
}

cmd_status() {
  if (($# >= 1)); then
    status_one "$1" || exit $?
    return 0
  fi
  local d n any=0 rc=0
  for d in "$PARLEY_DEPLOY_DIR"/nodes/node[1-9]; do
    [[ -d "$d" ]] || continue
    n="${d##*node}"
    any=1
    status_one "$n" || rc=$?
  done
  if [[ "$any" == 0 ]]; then
    echo "no nodes under $PARLEY_DEPLOY_DIR/nodes"
    exit 3
  fi
  exit "$rc"
}

cmd="${1:-}"
(($# > 0)) && shift
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  log) (($# >= 1)) || die "usage: deploy/node.sh log <n>"; node_vars "$1"; echo "$NODE_LOG" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
