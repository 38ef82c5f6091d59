#!/usr/bin/env bash
# A single-node Apache Cassandra 5.0 on 127.0.0.1 for development and the scale-out tests. The
# jars come from Maven Central through pom.xml beside this file, into a cache that later starts
# reuse; no tarball, no download script.
#
#   deploy/cassandra/cassandra.sh start    # fetch jars if missing, write the config, start, wait for CQL
#   deploy/cassandra/cassandra.sh status   # exit 0 if running, 3 if not
#   deploy/cassandra/cassandra.sh stop     # clean shutdown (SIGTERM, bounded wait)
#   deploy/cassandra/cassandra.sh url      # cassandra://USER:PASSWORD@127.0.0.1:PORT/parley
#
# Environment:
#   PARLEY_DEPLOY_DIR                 state root (default: <repo>/.deploy); Cassandra uses $it/cassandra/
#   PARLEY_CASSANDRA_PORT             CQL native protocol on 127.0.0.1 (default 29042)
#   PARLEY_CASSANDRA_STORAGE_PORT     inter-node port (default 29700; one node, but it binds it)
#   PARLEY_CASSANDRA_JMX_PORT         local JMX (default 29799)
#   PARLEY_CASSANDRA_START_TIMEOUT    seconds to wait for CQL connections (default 120)
#   PARLEY_CASSANDRA_HEAP             JVM heap (default 768m; the machine has 2 cores and is shared)
#
# Authentication is on (PasswordAuthenticator) with Cassandra's built-in superuser
# cassandra/cassandra: development only, on loopback (see deploy/README.md "Security").
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"  # say, die, log_tail, port_open, stop_daemon, ...

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
deploy_dir="${PARLEY_DEPLOY_DIR:-$repo/.deploy}"
[[ "$deploy_dir" == /* ]] || deploy_dir="$PWD/$deploy_dir"
cdir="$deploy_dir/cassandra"
libs="$cdir/libs"
data="$cdir/data"
conf="$cdir/cassandra.yaml"
logback_conf="$cdir/logback.xml"
log="$cdir/cassandra.log"
pidfile="$cdir/cassandra.pid"
port="${PARLEY_CASSANDRA_PORT:-29042}"
sport="${PARLEY_CASSANDRA_STORAGE_PORT:-29700}"
jmx_port="${PARLEY_CASSANDRA_JMX_PORT:-29799}"
start_timeout="${PARLEY_CASSANDRA_START_TIMEOUT:-120}"
heap="${PARLEY_CASSANDRA_HEAP:-768m}"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

cassandra_version() { sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$here/pom.xml"; }

# The pid of our node if it is running, else nothing.
running_pid() {
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null \
      | grep -q "CassandraDaemon" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$conf"; then
    echo "$pid"
  fi
}

# CQL connections are accepted once the node is up; the default superuser exists a moment later.
cql_ready() { port_open "$port" && grep -q "Created default superuser role\|Startup complete" "$log"; }

fetch_jars() {
  local version stamp
  version="$(cassandra_version)"
  stamp="$libs/.complete-$version"
  [[ -f "$stamp" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven); it fetches Cassandra's jars"
  command -v java >/dev/null || die "java not found (Java 17 needed; apt-get install openjdk-17-jre-headless)"
  say "fetching Apache Cassandra $version jars from Maven Central into $libs (about 66 MB, once)"
  rm -rf "$libs.tmp"
  mkdir -p "$libs.tmp"
  mvn -B -ntp -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs.tmp" \
    2>&1 | grep --line-buffered -E '^\[(ERROR)\]|BUILD' || true
  if [[ ! -f "$libs.tmp/cassandra-all-$version.jar" ]]; then
    rm -rf "$libs.tmp"
    die "could not fetch the Cassandra jars (no network to Maven Central?); rerun: mvn -f $here/pom.xml dependency:copy-dependencies -DoutputDirectory=$libs"
  fi
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  touch "$libs/.complete-$version"
  say "fetched $(ls "$libs"/*.jar | wc -l) jars"
}

write_config() {
  mkdir -p "$cdir" "$data"/{data,commitlog,saved_caches,hints,cdc_raw}
  cat >"$conf" <<CONF
# Written by deploy/cassandra/cassandra.sh on every start: one node for development and tests.
cluster_name: parley-dev
num_tokens: 16
allocate_tokens_for_local_replication_factor: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$sport"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $sport
native_transport_port: $port
start_native_transport: true
data_file_directories: [$data/data]
commitlog_directory: $data/commitlog
saved_caches_directory: $data/saved_caches
hints_directory: $data/hints
cdc_raw_directory: $data/cdc_raw
# Acknowledged writes are in the commit log; it is fsync'd in batches (Parley's messages are
# also replicated in production: RF 3).
commitlog_sync: batch
authenticator: PasswordAuthenticator
authorizer: CassandraAuthorizer
role_manager: CassandraRoleManager
# Small machine: few threads, heap memtables.
concurrent_reads: 8
concurrent_writes: 8
concurrent_counter_writes: 8
memtable_allocation_type: heap_buffers
CONF
  cat >"$logback_conf" <<'XML'
<!-- Written by deploy/cassandra/cassandra.sh: INFO and above to stdout (cassandra.log). -->
<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
XML
}

# Cassandra's conf/jvm17-server.options (JPMS exports and opens it needs on Java 17), with a
# small heap and quick single-node start-up.
java_opts() {
  local o="-Xms$heap -Xmx$heap -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxGCPauseMillis=300"
  o+=" -Djava.awt.headless=true -Djdk.attach.allowAttachSelf=true"
  local m
  for m in java.base/jdk.internal.misc java.management.rmi/com.sun.jmx.remote.internal.rmi \
      java.rmi/sun.rmi.registry java.rmi/sun.rmi.server java.sql/java.sql java.base/java.lang.ref \
      jdk.unsupported/sun.misc jdk.compiler/com.sun.tools.javac.file jdk.attach/sun.tools.attach; do
    o+=" --add-exports $m=ALL-UNNAMED"
  done
  for m in java.base/java.lang.module java.base/jdk.internal.loader java.base/jdk.internal.ref \
      java.base/jdk.internal.reflect java.base/jdk.internal.math java.base/jdk.internal.module \
      java.base/jdk.internal.util.jar jdk.management/com.sun.management.internal java.base/sun.nio.ch \
      java.base/java.io java.base/java.lang.reflect jdk.compiler/com.sun.tools.javac \
      java.base/java.lang java.base/java.util; do
    o+=" --add-opens $m=ALL-UNNAMED"
  done
  o+=" -Dio.netty.tryReflectionSetAccessible=true"
  o+=" -Dcassandra.config=file://$conf -Dlogback.configurationFile=$logback_conf"
  o+=" -Dcassandra.storagedir=$data -Dcassandra.logdir=$cdir -Dcassandra-foreground=yes"
  o+=" -Dcassandra.jmx.local.port=$jmx_port"
  # One node: no peers to wait for.
  o+=" -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=100"
  o+=" -Dcassandra.superuser_setup_delay_ms=0"
  echo "$o"
}

start() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    say "already running (pid $pid) on 127.0.0.1:$port"
    return 0
  fi
  local p
  for p in "$port" "$sport" "$jmx_port"; do
    port_open "$p" && die "port $p on 127.0.0.1 is taken by another process; set PARLEY_CASSANDRA_PORT / _STORAGE_PORT / _JMX_PORT"
  done
  fetch_jars
  write_config
  say "starting on 127.0.0.1:$port (heap $heap, log $log)"
  # setsid: the node outlives this shell and its terminal; the pid file is how stop finds it.
  # shellcheck disable=SC2046
  setsid nohup java $(java_opts) -cp "$libs/*" org.apache.cassandra.service.CassandraDaemon \
    >"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  wait_daemon_ready "$pid" "$pidfile" "$start_timeout" "$log" "the node" cql_ready
  say "running (pid $pid) after ${READY_AFTER_S}s; CQL on 127.0.0.1:$port"
}

stop() { stop_daemon "$pidfile" 60; }

status() {
  daemon_status "; CQL on 127.0.0.1:$port" "no CQL on 127.0.0.1:$port yet; log: $log" \
    port_open "$port"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "cassandra://cassandra:cassandra@127.0.0.1:$port/parley" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
