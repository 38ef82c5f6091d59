#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for development and tests (Debian's binaries).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: deploy/postgres.sh start|stop|status|url|psql [psql args...]

A private PostgreSQL 15 cluster for development and tests (NOT for production: trust
authentication on loopback, no TLS).
  start    initialise the cluster on first use, start it, wait until it accepts connections,
           and make sure role 'parley' and database 'parley' exist (a no-op if running)
  stop     stop it (fast shutdown; a no-op if stopped)
  status   print 'running' (exit 0) or 'stopped' (exit 3)
  url      print the connection URL (postgres://parley@127.0.0.1:PORT/parley)
  psql     open psql on the 'parley' database as role 'parley' (extra args go to psql)

Environment:
  PARLEY_DEPLOY_DIR   state directory (default <repo>/.deploy); data in \$PARLEY_DEPLOY_DIR/postgres
  PARLEY_PG_PORT      TCP port on 127.0.0.1 (default 25432)
  PARLEY_PG_BIN       PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
  PARLEY_PG_READY_TIMEOUT  seconds to wait for readiness (default 60)
Run as root, the server runs as the 'postgres' OS user (initdb refuses root).
EOF
}

PG_BIN="${PARLEY_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_DIR="$PARLEY_DEPLOY_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"
PG_PORT="$PARLEY_PG_PORT"
READY_TIMEOUT="${PARLEY_PG_READY_TIMEOUT:-60}"
PG_OS_USER=postgres

# Runs a command as the cluster's OS user ('postgres' when we are root, else ourselves),
# from a directory that user can enter.
as_pg() {
  if is_root; then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

pg_running() {
  [[ -f "$PG_DATA/PG_VERSION" ]] || return 1
  # A postmaster killed with -9 may linger as a zombie until reaped; that is not "running".
  pid_alive "$(read_pid "$PG_DATA/postmaster.pid")" || return 1
  as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

psql_admin() {
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres
}

write_conf() {
  # Rewritten on every start so a changed port or deploy dir takes effect.
  cat >"$PG_DATA/parley.conf" <<EOF
# Written by deploy/postgres.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
unix_socket_permissions = 0770
max_connections = 200
# Sized for a small (2-core) development/test box.
shared_buffers = 128MB
work_mem = 4MB
maintenance_work_mem = 64MB
effective_cache_size = 1GB
# Durable, as the delivery guarantees require (do not turn these off to "speed up tests").
fsync = on
synchronous_commit = on
full_page_writes = on
wal_buffers = 8MB
max_wal_size = 1GB
checkpoint_completion_target = 0.9
timezone = 'UTC'
log_timezone = 'UTC'
log_min_duration_statement = -1
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  if is_root; then chown "$PG_OS_USER:" "$PG_DATA/parley.conf"; fi
}

init_cluster() {
  say "initialising a new cluster in $PG_DATA"
  ensure_dir "$PG_DIR"
  if is_root; then
    getent passwd "$PG_OS_USER" >/dev/null || die "running as root needs the '$PG_OS_USER' OS user (Debian's postgresql package creates it)"
    chown "$PG_OS_USER:" "$PG_DIR"
    check_traversable_by "$PG_OS_USER" "$PG_DIR"
  fi
  rm -rf "$PG_DATA"
  if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=trust >"$PG_DIR/initdb.log" 2>&1; then
    log_tail "$PG_DIR/initdb.log"
    die "initdb failed"
  fi
  echo "include_if_exists = 'parley.conf'" >>"$PG_DATA/postgresql.conf"
}

ensure_role_and_db() {
  psql_admin <<'SQL'
SELECT 'CREATE ROLE parley LOGIN CREATEDB'
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'parley') \gexec
SELECT 'CREATE DATABASE parley OWNER parley'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'parley') \gexec
SQL
}

# After kill -9, a postmaster whose parent does not reap it (e.g. a container without an init)
# stays a zombie; PostgreSQL then sees its PID as alive and refuses to start.
remove_zombie_pidfile() {
  local f pid state
  for f in "$PG_DATA/postmaster.pid" "$PG_SOCK/.s.PGSQL.$PG_PORT.lock"; do
    pid="$(read_pid "$f")"
    [[ -n "$pid" ]] || continue
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    if [[ "$state" == Z ]]; then
      say "removing stale $(basename "$f") (PID $pid is a dead, unreaped process)"
      rm -f "$f"
      [[ "$f" == *.lock ]] && rm -f "${f%.lock}"
    fi
  done
  return 0
}

cmd_start() {
  [[ -x "$PG_BIN/pg_ctl" ]] || die "PostgreSQL 15 not found in $PG_BIN (apt-get install postgresql-15)"
  if pg_running; then
    say "already running on 127.0.0.1:$PG_PORT (data $PG_DATA)"
    return 0
  fi
  if port_in_use "$PG_PORT"; then
    die "127.0.0.1:$PG_PORT is already in use by another process; set PARLEY_PG_PORT"
  fi
  [[ -f "$PG_DATA/PG_VERSION" ]] || init_cluster
  ensure_dir "$PG_SOCK"
  remove_zombie_pidfile
  if is_root; then
    chown "$PG_OS_USER:" "$PG_DIR" "$PG_SOCK"
    check_traversable_by "$PG_OS_USER" "$PG_DIR"
    touch "$PG_LOG" && chown "$PG_OS_USER:" "$PG_LOG"
  fi
  chmod 0700 "$PG_SOCK"
  write_conf
  say "starting on 127.0.0.1:$PG_PORT (data $PG_DATA, log $PG_LOG)"
  if ! as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" -s >/dev/null 2>"$PG_DIR/pg_ctl.err"; then
    cat "$PG_DIR/pg_ctl.err" >&2 || true
    log_tail "$PG_LOG"
    die "PostgreSQL did not start"
  fi
  local i ok=0
  for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
    if pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 2; then ok=1; break; fi
    sleep 0.2
  done
  if [[ "$ok" != 1 ]]; then
    log_tail "$PG_LOG"
    die "PostgreSQL is not accepting connections on 127.0.0.1:$PG_PORT after ${READY_TIMEOUT}s"
  fi
  if ! ensure_role_and_db; then
    log_tail "$PG_LOG"
    die "could not create role/database 'parley'"
  fi
  say "ready: $(cmd_url)"
}

cmd_stop() {
  if ! pg_running; then
    say "not running"
    return 0
  fi
  say "stopping"
  if ! as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 -s; then
    log_tail "$PG_LOG"
    die "PostgreSQL did not stop"
  fi
  say "stopped"
}

cmd_status() {
  if pg_running; then
    echo "postgres: running on 127.0.0.1:$PG_PORT (data $PG_DATA)"
  else
    echo "postgres: stopped"
    exit 3
  fi
}

cmd_url() { echo "postgres://parley@127.0.0.1:$PG_PORT/parley"; }

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  psql) shift; exec psql -X -h 127.0.0.1 -p "$PG_PORT" -U parley -d parley "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
