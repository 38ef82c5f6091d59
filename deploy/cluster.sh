#!/usr/bin/env bash
# A local scale-out cluster: the engines, three parleyd nodes and nginx in front of them.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF2
Usage: deploy/cluster.sh up|down|status

A local scale-out Parley for development and tests:
  up       deploy/dev.sh up (PostgreSQL, Redis, Kafka, OpenSearch, Cassandra, S3Proxy), then parleyd nodes 1..N
           (deploy/node.sh, 127.0.0.1:18081..), then nginx on 127.0.0.1:\$PARLEY_LB_PORT
           (deploy/nginx.sh) in front of them. Clients use http://127.0.0.1:28080.
  down     the reverse: nginx, the nodes, the engines (data is kept)
  status   the status of every part

Environment: PARLEY_CLUSTER_NODES (default 3, at most 9), PARLEYD_BIN (default build/parleyd),
PARLEY_NODE_BASE_PORT (18080), PARLEY_LB_PORT (28080), PARLEY_DEPLOY_DIR, and those of
deploy/dev.sh, deploy/node.sh and deploy/nginx.sh (see their --help).
EOF2
}

NODES="${PARLEY_CLUSTER_NODES:-3}"
[[ "$NODES" =~ ^[1-9]$ ]] || die "PARLEY_CLUSTER_NODES must be 1..9"
BASE_PORT="${PARLEY_NODE_BASE_PORT:-18080}"

cmd_up() {
  trap 'echo "cluster: error: start-up failed; deploy/cluster.sh down stops what did start" >&2' ERR
  "$DEPLOY_SRC/dev.sh" up
  local n upstreams=()
  for ((n = 1; n <= NODES; n++)); do
    "$DEPLOY_SRC/node.sh" start "$n"
    upstreams+=("127.0.0.1:$((BASE_PORT + n))")
  done
  "$DEPLOY_SRC/nginx.sh" start "${upstreams[@]}"
  say "cluster up: $("$DEPLOY_SRC/nginx.sh" url) -> ${upstreams[*]}"
}

cmd_down() {
  local rc=0 n d
  "$DEPLOY_SRC/nginx.sh" stop || rc=1
  # Every node that has a directory (also ones started with a larger PARLEY_CLUSTER_NODES).
  for d in "$PARLEY_DEPLOY_DIR"/nodes/node[1-9]; do
    [[ -d "$d" ]] || continue
    n="${d##*node}"
    "$DEPLOY_SRC/node.sh" stop "$n" || rc=1
  done
  "$DEPLOY_SRC/dev.sh" down || rc=1
  return "$rc"
}

cmd_status() {
  local rc=0
  "$DEPLOY_SRC/dev.sh" status || rc=3
  "$DEPLOY_SRC/node.sh" status || rc=3
  "$DEPLOY_SRC/nginx.sh" status || rc=3
  exit "$rc"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
