#!/usr/bin/env bash
# A private ejabberd (Debian's package, run as a plain process, not the system service) for the
# side-by-side benchmark bench/run_peer.sh.
#
#   bench/peer/ejabberd.sh start [DIR]   fresh instance: config, spool (mnesia) and logs in DIR
#                                        (default: a new mktemp dir); prints DIR on stdout
#   bench/peer/ejabberd.sh stop DIR      stops the instance of DIR and removes DIR
#   bench/peer/ejabberd.sh pid DIR       the beam.smp PID of that instance (for --server-pid)
#
# env: EJABBERD_C2S_PORT (55222), EJABBERD_DIST_PORT (55299, Erlang distribution port: no epmd
#      is started), EJABBERD_DOMAIN (localhost), EJABBERD_NODE (pbench@localhost).
# Installs ejabberd (apt-get) when missing. Must run as root (Debian's ejabberdctl then runs the
# node as the `ejabberd` user) or as the `ejabberd` user.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
C2S_PORT=${EJABBERD_C2S_PORT:-55222}
DIST_PORT=${EJABBERD_DIST_PORT:-55299}
DOMAIN=${EJABBERD_DOMAIN:-localhost}
NODE=${EJABBERD_NODE:-pbench@localhost}

ensure_installed() {
  command -v ejabberdctl >/dev/null && return
  echo "ejabberd.sh: installing ejabberd (Debian package)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q ejabberd >&2
  # The package may start the system service on 5222; it is not ours and not in our way (other
  # ports, other node name), so it is left alone.
}

ctl() {  # ctl DIR ARGS...: Debian's ejabberdctl pointed at the private instance
  local dir=$1; shift
  ejabberdctl --node "$NODE" --config-dir "$dir" --config "$dir/ejabberd.yml" \
    --ctl-config "$dir/ejabberdctl.cfg" --spool "$dir/spool" --logs "$dir/log" "$@"
}

beam_pid() {  # the beam.smp of our node (by its unique -sname and spool dir)
  local dir=$1
  pgrep -f -- "beam.smp.*-sname ${NODE%@*}.*$dir/spool" | head -1 || true
}

case ${1:-} in
  start)
    ensure_installed
    dir=${2:-$(mktemp -d /tmp/pb-ejabberd.XXXXXX)}
    mkdir -p "$dir/spool" "$dir/log"
    sed -e "s/@C2S_PORT@/$C2S_PORT/g" -e "s/@DOMAIN@/$DOMAIN/g" \
      "$HERE/ejabberd.yml.template" >"$dir/ejabberd.yml"
    cat >"$dir/ejabberdctl.cfg" <<CFG
ERLANG_NODE=$NODE
ERL_DIST_PORT=$DIST_PORT
INET_DIST_INTERFACE=127.0.0.1
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
EJABBERD_PID_PATH=$dir/ejabberd.pid
EJABBERD_BYPASS_WARNINGS=true
CFG
    [[ $(id -u) -eq 0 ]] && chown -R ejabberd:ejabberd "$dir"
    chmod 755 "$dir"
    if ss -ltn "( sport = :$C2S_PORT )" | grep -q LISTEN; then
      echo "ejabberd.sh: port $C2S_PORT is already in use" >&2; exit 1
    fi
    ctl "$dir" start >&2
    for _ in $(seq 1 120); do
      ss -ltn "( sport = :$C2S_PORT )" | grep -q LISTEN && break
      sleep 0.5
    done
    if ! ss -ltn "( sport = :$C2S_PORT )" | grep -q LISTEN; then
      echo "ejabberd.sh: ejabberd did not listen on $C2S_PORT; log:" >&2
      tail -30 "$dir/log/"*.log >&2 2>/dev/null || true
      exit 1
    fi
    echo "$dir"
    ;;
  stop)
    dir=${2:?usage: ejabberd.sh stop DIR}
    pid=$(beam_pid "$dir")
    ctl "$dir" stop >/dev/null 2>&1 || true
    for _ in $(seq 1 40); do
      [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null && break
      sleep 0.25
    done
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; fi
    [[ "$dir" == /tmp/pb-ejabberd.* ]] && rm -rf "$dir"
    true
    ;;
  pid)
    beam_pid "${2:?usage: ejabberd.sh pid DIR}"
    ;;
  ctl)  # ctl DIR ARGS...: any ejabberdctl command against the instance
    shift; dir=$1; shift; ctl "$dir" "$@"
    ;;
  *)
    sed -n '2,13p' "$0"; exit 1
    ;;
esac
