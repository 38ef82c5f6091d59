#!/usr/bin/env bash
# A single-node OpenSearch (2.19, Java 17) on 127.0.0.1 for development and the scale-out tests.
# No tarball, no download script: the jars come from Maven Central through pom.xml beside this
# file, and this script lays them out as the distribution does (lib/, modules/<name>/ with a
# plugin-descriptor.properties each), into a cache that later starts reuse.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"  # say, die, log_tail, port_open, stop_daemon, ...

usage() {
  cat <<EOF2
Usage: deploy/opensearch/opensearch.sh start|stop|status|url

A single-node OpenSearch for development and tests: security plugin absent (plain HTTP, no
authentication), HTTP on 127.0.0.1 only, state under \$PARLEY_DEPLOY_DIR/opensearch.
  start    fetch the jars if missing (mvn, once), start the node, wait for the cluster health
           to be yellow or green; a no-op if already running
  stop     clean shutdown (SIGTERM, bounded wait); data is kept
  status   exit 0 if running, 3 if not
  url      print the node's URL (http://127.0.0.1:\$PARLEY_OPENSEARCH_PORT)

Environment:
  PARLEY_DEPLOY_DIR                   state root (default <repo>/.deploy); uses \$it/opensearch/
  PARLEY_OPENSEARCH_PORT              HTTP port on 127.0.0.1 (default 29200)
  PARLEY_OPENSEARCH_TRANSPORT_PORT    transport port on 127.0.0.1 (default 29300)
  PARLEY_OPENSEARCH_HEAP              JVM heap (default 512m)
  PARLEY_OPENSEARCH_START_TIMEOUT     seconds to wait for the cluster health (default 120)
  PARLEY_OPENSEARCH_USER              OS user the node runs as when started as root (OpenSearch
                                      refuses to run as root; default nobody)
EOF2
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
deploy_dir="${PARLEY_DEPLOY_DIR:-$repo/.deploy}"
[[ "$deploy_dir" == /* ]] || deploy_dir="$PWD/$deploy_dir"
odir="$deploy_dir/opensearch"
home="$odir/home"          # lib/, modules/, plugins/ (the jars; the cache)
conf="$odir/config"        # opensearch.yml, log4j2.properties (rewritten on every start)
data="$odir/data"
logs="$odir/logs"
tmp="$odir/tmp"
log="$odir/opensearch.log"  # the node's stdout and stderr
pidfile="$odir/opensearch.pid"
port="${PARLEY_OPENSEARCH_PORT:-29200}"
tport="${PARLEY_OPENSEARCH_TRANSPORT_PORT:-29300}"
heap="${PARLEY_OPENSEARCH_HEAP:-512m}"
start_timeout="${PARLEY_OPENSEARCH_START_TIMEOUT:-120}"
run_user="${PARLEY_OPENSEARCH_USER:-nobody}"
url="http://127.0.0.1:$port"

os_version() { sed -n 's:.*<opensearch.version>\(.*\)</opensearch.version>.*:\1:p' "$here/pom.xml"; }

# The pid of our node if it is running, else nothing.
running_pid() {
  [[ -f "$pidfile" ]] || return 0
  local pid state
  pid="$(head -n1 "$pidfile" 2>/dev/null | tr -dc '0-9' || true)"
  [[ -n "$pid" ]] || return 0
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z ]] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-Dopensearch.path.conf=$conf"; then
    echo "$pid"
  fi
}

health_ok() {
  local h
  h="$(health)"
  [[ "$h" == green || "$h" == yellow ]]
}

# GET /_cluster/health's status (green, yellow, red), or nothing.
health() {
  curl -s --max-time 5 "$url/_cluster/health" 2>/dev/null \
    | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' || true
}

# Writes a module's plugin-descriptor.properties (the distribution's module folders carry one;
# the Maven artifacts do not).
descriptor() {
  local dir="$1" name="$2" classname="$3" description="$4" version="$5"
  cat >"$dir/plugin-descriptor.properties" <<EOF2
# Written by deploy/opensearch/opensearch.sh (the distribution generates this at build time).
description=$description
version=$version
name=$name
classname=$classname
java.version=11
opensearch.version=$version
extended.plugins=
has.native.controller=false
EOF2
}

fetch_jars() {
  local version stamp all f
  version="$(os_version)"
  stamp="$home/.complete-$version"
  [[ -f "$stamp" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven); it fetches OpenSearch's jars"
  command -v java >/dev/null || die "java not found (Java 17 needed; apt-get install openjdk-17-jre-headless)"
  say "fetching OpenSearch $version jars from Maven Central into $home (about 60 MB, once)"
  rm -rf "$home.tmp"
  all="$home.tmp/all"
  mkdir -p "$all" "$home.tmp/lib" "$home.tmp/modules/transport-netty4" \
    "$home.tmp/modules/analysis-common" "$home.tmp/plugins"
  mvn -B -ntp -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$all" \
    2>&1 | grep --line-buffered -E '^\[(ERROR)\]|BUILD' || true
  if [[ ! -f "$all/opensearch-$version.jar" || ! -f "$all/transport-netty4-client-$version.jar" ]]; then
    rm -rf "$home.tmp"
    die "could not fetch the OpenSearch jars (no network to Maven Central?); try: mvn -f $here/pom.xml dependency:copy-dependencies -DoutputDirectory=/tmp/os-jars"
  fi
  # Each module's jars live only in its folder: the node refuses a class on two class paths.
  mv "$all/transport-netty4-client-$version.jar" "$all"/netty-*.jar "$home.tmp/modules/transport-netty4/"
  mv "$all/analysis-common-$version.jar" "$home.tmp/modules/analysis-common/"
  for f in "$all"/*.jar; do mv "$f" "$home.tmp/lib/"; done
  rmdir "$all"
  descriptor "$home.tmp/modules/transport-netty4" transport-netty4 org.opensearch.transport.Netty4Plugin \
    "Netty 4 based transport implementation" "$version"
  descriptor "$home.tmp/modules/analysis-common" analysis-common org.opensearch.analysis.common.CommonAnalysisPlugin \
    "Adds common analysis capabilities to OpenSearch" "$version"
  # The module's grants under the node's security manager (the distribution's module folder
  # carries this file): Netty accepts and makes connections.
  cat >"$home.tmp/modules/transport-netty4/plugin-security.policy" <<'EOF2'
grant codeBase "${codebase.netty-common}" {
  permission java.io.FilePermission "/proc/sys/net/core/somaxconn", "read";
  permission java.net.SocketPermission "*", "accept,connect";
  permission java.lang.RuntimePermission "*", "setContextClassLoader";
};
grant codeBase "${codebase.netty-transport}" {
  permission java.util.PropertyPermission "sun.nio.ch.bugLevel", "write";
};
EOF2
  rm -rf "$home"
  mv "$home.tmp" "$home"
  touch "$stamp"
  say "fetched $(find "$home" -name '*.jar' | wc -l) jars"
}

write_config() {
  # The node checks that path.home's bin/ and plugins/ exist (empty here: no tools, no plugins).
  mkdir -p "$conf" "$data" "$logs" "$tmp" "$home/bin" "$home/plugins"
  cat >"$conf/opensearch.yml" <<EOF2
# Written by deploy/opensearch/opensearch.sh on every start: one node, development and tests only.
cluster.name: parley-dev
node.name: parley-os-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $port
transport.port: $tport
path.data: $data
path.logs: $logs
# Indices are created on purpose (by Parley's adapter, with its mapping), never by a typo.
action.auto_create_index: false
# A small machine: no disk-based refusal to allocate, no swapping memory checks.
cluster.routing.allocation.disk.threshold_enabled: false
bootstrap.memory_lock: false
EOF2
  cat >"$conf/log4j2.properties" <<'EOF2'
# Written by deploy/opensearch/opensearch.sh: the node's log to stdout (opensearch.log).
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.deprecation.name = org.opensearch.deprecation
logger.deprecation.level = error
EOF2
  if is_root; then
    id -u "$run_user" >/dev/null 2>&1 || die "user '$run_user' does not exist (set PARLEY_OPENSEARCH_USER)"
    chown -R "$run_user:" "$conf" "$data" "$logs" "$tmp"
    if ! runuser -u "$run_user" -- test -r "$home/lib/opensearch-$(os_version).jar" 2>/dev/null; then
      die "user '$run_user' cannot read $home (a parent directory is not searchable, e.g. mode 0700); choose a PARLEY_DEPLOY_DIR under a world-searchable path or run as a normal user"
    fi
  fi
}

java_opts() {
  echo "-Xms${heap} -Xmx${heap} -XX:+UseG1GC -Xss1m -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
-Djna.nosys=true -XX:-OmitStackTraceInFastThrow -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true \
-Dio.netty.recycler.maxCapacityPerThread=0 -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true \
-Dlog4j2.formatMsgNoLookups=true -Djava.locale.providers=SPI,COMPAT -Djava.io.tmpdir=$tmp \
-XX:ErrorFile=$logs/hs_err_pid%p.log -Dopensearch.path.home=$home -Dopensearch.path.conf=$conf \
-Dopensearch.distribution.type=tar -Dopensearch.bundled_jdk=false"
}

start() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    say "already running (pid $pid) on $url"
    return 0
  fi
  if port_open "$port" || port_open "$tport"; then
    die "port $port or $tport on 127.0.0.1 is taken by another process; set PARLEY_OPENSEARCH_PORT / PARLEY_OPENSEARCH_TRANSPORT_PORT"
  fi
  command -v curl >/dev/null || die "curl not found (apt-get install curl)"
  fetch_jars
  write_config
  say "starting on $url (heap $heap, log $log)"
  : >"$log"
  local runner=()
  if is_root; then runner=(runuser -u "$run_user" --); chown "$run_user:" "$log"; fi
  # setsid: the node outlives this shell and its terminal; the pid file is how stop finds it.
  # The pid recorded is the JVM's, whether or not runuser is in between. The subshell's own
  # output goes to the log too: it lives as long as the node, and must not hold the caller's
  # stdout open (a `dev.sh up | tail` would never end).
  # shellcheck disable=SC2046
  (cd / && OPENSEARCH_PATH_CONF="$conf" setsid nohup "${runner[@]}" java $(java_opts) \
      -cp "$home/lib/*" org.opensearch.bootstrap.OpenSearch >>"$log" 2>&1 </dev/null) \
      >>"$log" 2>&1 </dev/null &
  # The JVM's pid: the child of runuser when root, else the subshell's exec.
  local waited=0
  pid=""
  while (( waited < 50 )); do
    pid="$(pgrep -n -f -- "-Dopensearch.path.conf=$conf" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == java ]]; then break; fi
    pid=""
    sleep 0.1
    waited=$((waited + 1))
  done
  [[ -n "$pid" ]] || { log_tail "$log"; die "the node did not start (log: $log)"; }
  echo "$pid" >"$pidfile"
  wait_daemon_ready "$pid" "$pidfile" "$start_timeout" "$log" "the node" health_ok
  say "running (pid $pid, health $(health) after ${READY_AFTER_S}s); url: $url"
}

stop() { stop_daemon "$pidfile" 60; }

status() {
  local h
  h="$(health)"
  daemon_status ", health $h; url: $url" "$url does not answer yet; log: $log" test -n "$h"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "$url" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
