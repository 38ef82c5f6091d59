#!/usr/bin/env bash
# nginx as the local load balancer in front of several parleyd nodes (development and tests).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: deploy/nginx.sh start|reload|test [HOST:PORT ...]
       deploy/nginx.sh stop|status|url

nginx (Debian's) as the load balancer on 127.0.0.1:\$PARLEY_LB_PORT in front of parleyd nodes,
run as an unprivileged master from a config inside the deploy dir (plain HTTP: dev/test only).
  start    render the config, check it (nginx -t) and start nginx (a no-op if running)
  reload   re-render the config (e.g. other upstreams) and reload a running nginx
  test     render the config and run nginx -t only
  stop     stop it (a no-op if stopped)
  status   print 'running' (exit 0) or 'stopped' (exit 3)
  url      print the base URL (http://127.0.0.1:PORT)
Upstreams (the parleyd nodes): the HOST:PORT arguments, else \$PARLEY_LB_UPSTREAMS (comma- or
space-separated), else 127.0.0.1:18081 127.0.0.1:18082 127.0.0.1:18083.

Environment:
  PARLEY_DEPLOY_DIR     state directory (default <repo>/.deploy); nginx prefix \$PARLEY_DEPLOY_DIR/nginx
  PARLEY_LB_PORT        listening port on 127.0.0.1 (default 28080)
  PARLEY_LB_UPSTREAMS   upstream list (see above)
  PARLEY_LB_MAX_BODY    client_max_body_size (default 101m: parleyd's 100 MiB upload limit + 1 MiB)
  PARLEY_LB_WORKERS     worker_processes (default 2)
  PARLEY_NGINX_USER     when run as root, the unprivileged user nginx runs as (default www-data)
  NGINX_BIN             the nginx binary (default nginx on PATH, else /usr/sbin/nginx)
EOF
}

NGINX_BIN="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
PREFIX="$PARLEY_DEPLOY_DIR/nginx"
CONF="$PREFIX/conf/parley.conf"
PIDFILE="$PREFIX/nginx.pid"
ERRLOG="$PREFIX/logs/error.log"
TEMPLATE="$DEPLOY_SRC/nginx/parley.conf.template"
LB_PORT="$PARLEY_LB_PORT"
NGINX_USER="${PARLEY_NGINX_USER:-www-data}"

as_nginx() {
  if is_root; then
    (cd / && runuser -u "$NGINX_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

running_pid() {
  local pid
  pid="$(read_pid "$PIDFILE")"
  if [[ -n "$pid" ]] && pid_is "$pid" nginx && pid_cmdline_has "$pid" "$CONF"; then
    echo "$pid"
    return 0
  fi
  return 1
}

# Fills UPSTREAMS (array) from the arguments, $PARLEY_LB_UPSTREAMS or the default.
parse_upstreams() {
  local list
  if (($# > 0)); then
    list="$*"
  else
    list="${PARLEY_LB_UPSTREAMS:-127.0.0.1:18081 127.0.0.1:18082 127.0.0.1:18083}"
  fi
  read -r -a UPSTREAMS <<<"${list//,/ }"
  ((${#UPSTREAMS[@]} > 0)) || die "no upstreams given"
  local u
  for u in "${UPSTREAMS[@]}"; do
    [[ "$u" =~ ^[A-Za-z0-9._-]+:[0-9]+$|^\[[0-9a-fA-F:]+\]:[0-9]+$ ]] \
      || die "bad upstream '$u' (want HOST:PORT)"
  done
}

render() {
  [[ -r "$TEMPLATE" ]] || die "template $TEMPLATE missing"
  if is_root; then
    getent passwd "$NGINX_USER" >/dev/null || die "user '$NGINX_USER' does not exist; set PARLEY_NGINX_USER"
  fi
  ensure_dir "$PREFIX/conf" "$PREFIX/logs" "$PREFIX/tmp"/{client_body,proxy,fastcgi,uwsgi,scgi}
  local servers="" u
  for u in "${UPSTREAMS[@]}"; do
    servers+="        server $u max_fails=1 fail_timeout=2s;"$'\n'
  done
  servers="${servers%$'\n'}"
  # Workers raise their descriptor limit (worker_rlimit_nofile) up to the hard limit nginx
  # runs under; each proxied connection uses two descriptors. At most 8192 connections.
  local nofile conns
  nofile="$(as_nginx bash -c 'ulimit -Hn')"
  [[ "$nofile" =~ ^[0-9]+$ ]] || nofile=16384
  ((nofile > 16640)) && nofile=16640
  conns=$(((nofile - 256) / 2))
  ((conns < 256)) && conns=256
  local t
  t="$(<"$TEMPLATE")"
  t="${t//@@PREFIX@@/$PREFIX}"
  t="${t//@@LB_PORT@@/$LB_PORT}"
  t="${t//@@WORKERS@@/${PARLEY_LB_WORKERS:-2}}"
  t="${t//@@WORKER_CONNECTIONS@@/${PARLEY_LB_WORKER_CONNECTIONS:-$conns}}"
  t="${t//@@NOFILE@@/$nofile}"
  t="${t//@@MAX_BODY@@/${PARLEY_LB_MAX_BODY:-101m}}"
  t="${t//@@NEXT_TRIES@@/${#UPSTREAMS[@]}}"
  t="${t//@@UPSTREAM_SERVERS@@/$servers}"
  if grep -qE '@@[A-Z_]+@@' <<<"$t"; then
    die "template has an unfilled placeholder: $(grep -oE '@@[A-Z_]+@@' <<<"$t" | head -1)"
  fi
  printf '%s\n' "$t" >"$CONF.new"
  mv "$CONF.new" "$CONF"
  if is_root; then
    check_traversable_by "$NGINX_USER" "$PREFIX"
    chown -R "$NGINX_USER:" "$PREFIX"
  fi
}

check_conf() {
  local out
  if ! out="$(as_nginx "$NGINX_BIN" -t -q -p "$PREFIX/" -c "$CONF" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "nginx -t rejected $CONF"
  fi
}

cmd_test() {
  parse_upstreams "$@"
  render
  as_nginx "$NGINX_BIN" -t -p "$PREFIX/" -c "$CONF"
}

cmd_start() {
  [[ -x "$NGINX_BIN" ]] || die "nginx not found (apt-get install nginx-light or nginx)"
  local pid
  if pid="$(running_pid)"; then
    say "already running on 127.0.0.1:$LB_PORT (pid $pid; 'reload' applies new upstreams)"
    return 0
  fi
  if port_in_use "$LB_PORT"; then
    die "127.0.0.1:$LB_PORT is already in use by another process; set PARLEY_LB_PORT"
  fi
  parse_upstreams "$@"
  rm -f "$PIDFILE"
  render
  check_conf
  say "starting on 127.0.0.1:$LB_PORT -> ${UPSTREAMS[*]} (logs $PREFIX/logs)"
  local out
  if ! out="$(as_nginx "$NGINX_BIN" -p "$PREFIX/" -c "$CONF" 2>&1)"; then
    printf '%s\n' "$out" >&2
    log_tail "$ERRLOG"
    die "nginx did not start"
  fi
  local i
  for ((i = 0; i < 100; i++)); do
    if pid="$(running_pid)" && port_in_use "$LB_PORT"; then
      say "ready: $(cmd_url) (pid $pid)"
      return 0
    fi
    sleep 0.1
  done
  log_tail "$ERRLOG"
  die "nginx is not listening on 127.0.0.1:$LB_PORT after 10s"
}

cmd_reload() {
  local pid
  pid="$(running_pid)" || die "not running (use start)"
  parse_upstreams "$@"
  render
  check_conf
  local out
  if ! out="$(as_nginx "$NGINX_BIN" -p "$PREFIX/" -c "$CONF" -s reload 2>&1)"; then
    printf '%s\n' "$out" >&2
    log_tail "$ERRLOG"
    die "nginx reload failed"
  fi
  say "reloaded (pid $pid) -> ${UPSTREAMS[*]}"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    say "not running"
    rm -f "$PIDFILE"
    return 0
  fi
  say "stopping (pid $pid)"
  # Fast shutdown (TERM): open WebSockets are closed rather than waited for.
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_pid_gone "$pid" 20; then
    log_tail "$ERRLOG"
    die "nginx (pid $pid) did not stop"
  fi
  rm -f "$PIDFILE"
  say "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    echo "nginx: running on 127.0.0.1:$LB_PORT (pid $pid)"
    grep -E '^\s*server [^ ]+ max_fails' "$CONF" 2>/dev/null | awk '{print "  upstream " $2}' || true
  else
    echo "nginx: stopped"
    exit 3
  fi
}

cmd_url() { echo "http://127.0.0.1:$LB_PORT"; }

cmd="${1:-}"
(($# > 0)) && shift
case "$cmd" in
  start) cmd_start "$@" ;;
  reload) cmd_reload "$@" ;;
  test) cmd_test "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
