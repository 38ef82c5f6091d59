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
: "${PARLEY_PG_PORT:=55432}"
: "${PARLEY_REDIS_PORT:=56379}"
: "${PARLEY_KAFKA_PORT:=59092}"
: "${PARLEY_LB_PORT:=58080}"
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
