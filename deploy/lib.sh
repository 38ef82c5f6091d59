# shellcheck shell=bash
# Shared helpers for the deploy/ scripts (sourced, not run). Dev/test tooling only.
# Sets REPO_ROOT, DEPLOY_SRC (this folder) and PARLEY_DEPLOY_DIR (exported, so scripts called
# from here, e.g. deploy/kafka/kafka.sh, see the same value).

DEPLOY_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DEPLOY_SRC/.." && pwd)"
: "${PARLEY_DEPLOY_DIR:=$REPO_ROOT/.deploy}"
case "$PARLEY_DEPLOY_DIR" in
  /*) ;;
  *) PARLEY_DEPLOY_DIR="$PWD/$PARLEY_DEPLOY_DIR" ;;
esac
export PARLEY_DEPLOY_DIR

# Default ports (non-default on purpose, so nothing collides with system services).
: "${PARLEY_PG_PORT:=25432}"
: "${PARLEY_REDIS_PORT:=26379}"
: "${PARLEY_KAFKA_PORT:=29092}"
: "${PARLEY_LB_PORT:=28080}"
export PARLEY_PG_PORT PARLEY_REDIS_PORT PARLEY_KAFKA_PORT PARLEY_LB_PORT

SCRIPT_NAME="$(basename "$0" .sh)"

say() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }
die() { printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" == "0" ]]; }

# Prints the last lines of a log file to stderr (for failure messages).
log_tail() {
  local file="$1" lines="${2:-40}"
  if [[ -s "$file" ]]; then
    printf -- '---- last %s lines of %s ----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2 || true
    printf -- '---- end of %s ----\n' "$file" >&2
  else
    printf '(log %s is empty or missing)\n' "$file" >&2
  fi
}

# Is pid alive and is its executable name (comm) one of the given names?
pid_is() {
  local pid="$1"; shift
  pid_alive "$pid" || return 1
  local comm
  comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
  local name
  for name in "$@"; do
    [[ "$comm" == "$name"* ]] && return 0
  done
  return 1
}

# Does pid's command line contain the given text (e.g. our config path or port)?
pid_cmdline_has() {
  local pid="$1" text="$2"
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$text"
}

# Reads the first line of a pid file (empty if missing).
read_pid() {
  if [[ -r "$1" ]]; then head -n1 "$1" 2>/dev/null | tr -dc '0-9' || true; fi
}

# Is something listening on 127.0.0.1:port?
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Is pid a live process (a zombie -- dead, not yet reaped by its parent -- does not count)?
pid_alive() {
  local pid="$1" state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z ]]
}

# Waits (bounded) until pid is gone. Returns non-zero on timeout.
wait_pid_gone() {
  local pid="$1" seconds="${2:-20}" i
  for ((i = 0; i < seconds * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  return 1
}

# Makes dir (and parents) exist.
ensure_dir() { mkdir -p "$@"; }

# When run as root, a service user must be able to reach (search) every parent of a directory.
check_traversable_by() {
  local user="$1" dir="$2"
  if ! runuser -u "$user" -- test -x "$dir" 2>/dev/null; then
    die "user '$user' cannot reach $dir (a parent directory is not searchable, e.g. mode 0700); " \
        "choose a PARLEY_DEPLOY_DIR under a world-searchable path or run as a normal user"
  fi
}

# Is something accepting TCP connections on 127.0.0.1:port? (The same test as port_in_use, named
# for readiness probes.)
port_open() { port_in_use "$1"; }

# Stops the daemon that the caller's `running_pid` function names (it prints the pid while the
# process is ours and alive, and nothing otherwise): SIGTERM, then SIGKILL after timeout seconds
# (default 60); then removes the pid file. Says "not running" (and succeeds) if it is not.
stop_daemon() {
  local pidfile="$1" timeout="${2:-60}" pid
  pid="$(running_pid)" || true
  if [[ -z "$pid" ]]; then
    rm -f "$pidfile"
    say "not running"
    return 0
  fi
  say "stopping (pid $pid)"
  terminate_pid "$pid" "$timeout" "pid $pid"
  rm -f "$pidfile"
  say "stopped"
}

# Says whether the daemon the caller's `running_pid` names is running: if not, "not running" and
# status 3; if so (status 0), "running (pid N)<ready_text>" when the probe command (the remaining
# arguments) succeeds, else "starting or stuck (pid N; <starting_text>)".
daemon_status() {
  local ready_text="$1" starting_text="$2" pid
  shift 2
  pid="$(running_pid)" || true
  if [[ -z "$pid" ]]; then
    say "not running"
    return 3
  fi
  if "$@"; then
    say "running (pid $pid)$ready_text"
  else
    say "starting or stuck (pid $pid; $starting_text)"
  fi
}

# SIGTERM, then SIGKILL if pid has not exited after timeout seconds; dies if even that fails.
# `what` names the process in the messages.
terminate_pid() {
  local pid="$1" timeout="$2" what="$3"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_pid_gone "$pid" "$timeout"; then
    say "$what ignored SIGTERM for ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_pid_gone "$pid" 10 || die "$what did not exit"
  fi
}

# Waits (bounded) for a daemon just started until the probe command (the remaining arguments)
# succeeds. If the process exits first or timeout seconds pass, prints the log tail and dies (an
# exited daemon's pid file is removed). On success READY_AFTER_S holds the seconds waited.
wait_daemon_ready() {
  local pid="$1" pidfile="$2" timeout="$3" log="$4" what="$5"
  shift 5
  local i
  for ((i = 0; i < timeout * 5; i++)); do
    if ! pid_alive "$pid"; then
      log_tail "$log"
      rm -f "$pidfile"
      die "$what exited during start-up (log: $log)"
    fi
    if "$@"; then
      # shellcheck disable=SC2034 # read by the caller
      READY_AFTER_S=$((i / 5))
      return 0
    fi
    sleep 0.2
  done
  log_tail "$log"
  die "$what was not ready within ${timeout}s (pid $pid still running; log: $log; stop with: $0 stop)"
}
