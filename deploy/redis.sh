#!/usr/bin/env bash
# A private Redis for development and tests (Debian's redis-server), soft state only.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: deploy/redis.sh start|stop|status|url|cli [redis-cli args...]

A private Redis for development and tests (NOT for production: no password, no TLS).
Parley keeps only soft state there (presence, user->node routing, rate limits, caches), so
persistence is off: a restart starts empty.
  start    start redis-server daemonized and wait until it answers PING (a no-op if running)
  stop     shut it down (a no-op if stopped)
  status   print 'running' (exit 0) or 'stopped' (exit 3)
  url      print the URL (redis://127.0.0.1:PORT)
  cli      run redis-cli against it (extra args go to redis-cli)

Environment:
  PARLEY_DEPLOY_DIR   state directory (default <repo>/.deploy); files in \$PARLEY_DEPLOY_DIR/redis
  PARLEY_REDIS_PORT   TCP port on 127.0.0.1 (default 26379)
  PARLEY_REDIS_READY_TIMEOUT  seconds to wait for readiness (default 20)
EOF
}

REDIS_DIR="$PARLEY_DEPLOY_DIR/redis"
REDIS_CONF="$REDIS_DIR/redis.conf"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
REDIS_PORT="$PARLEY_REDIS_PORT"
READY_TIMEOUT="${PARLEY_REDIS_READY_TIMEOUT:-20}"

rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

running_pid() {
  local pid
  pid="$(read_pid "$REDIS_PID")"
  # Ours: a redis-server whose title names our port (a reused pid is not mistaken for it).
  if [[ -n "$pid" ]] && pid_is "$pid" redis-server && pid_cmdline_has "$pid" ":$REDIS_PORT"; then
    echo "$pid"
    return 0
  fi
  return 1
}

write_conf() {
  cat >"$REDIS_CONF" <<EOF
# Written by deploy/redis.sh on every start; edit the script, not this file.
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $REDIS_PID
logfile $REDIS_LOG
loglevel notice
dir $REDIS_DIR
# Soft state only: no RDB snapshots, no AOF.
save ""
appendonly no
databases 16
tcp-backlog 511
timeout 0
tcp-keepalive 60
maxclients 10000
EOF
}

cmd_start() {
  command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
  local pid
  if pid="$(running_pid)"; then
    say "already running on 127.0.0.1:$REDIS_PORT (pid $pid)"
    return 0
  fi
  if port_in_use "$REDIS_PORT"; then
    die "127.0.0.1:$REDIS_PORT is already in use by another process; set PARLEY_REDIS_PORT"
  fi
  ensure_dir "$REDIS_DIR"
  rm -f "$REDIS_PID"
  write_conf
  say "starting on 127.0.0.1:$REDIS_PORT (log $REDIS_LOG)"
  if ! redis-server "$REDIS_CONF" >"$REDIS_DIR/start.err" 2>&1; then
    cat "$REDIS_DIR/start.err" >&2 || true
    log_tail "$REDIS_LOG"
    die "redis-server did not start"
  fi
  local i
  for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
    if [[ "$(rcli ping 2>/dev/null)" == PONG ]] && running_pid >/dev/null; then
      say "ready: $(cmd_url) (pid $(running_pid))"
      return 0
    fi
    sleep 0.1
  done
  log_tail "$REDIS_LOG"
  die "Redis is not answering PING on 127.0.0.1:$REDIS_PORT after ${READY_TIMEOUT}s"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    say "not running"
    rm -f "$REDIS_PID"
    return 0
  fi
  say "stopping (pid $pid)"
  rcli shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  if ! wait_pid_gone "$pid" 20; then
    log_tail "$REDIS_LOG"
    die "Redis (pid $pid) did not stop"
  fi
  rm -f "$REDIS_PID"
  say "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    echo "redis: running on 127.0.0.1:$REDIS_PORT (pid $pid)"
  else
    echo "redis: stopped"
    exit 3
  fi
}

cmd_url() { echo "redis://127.0.0.1:$REDIS_PORT"; }

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  cli) shift; exec redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
