#!/usr/bin/env bash
# A single-node Apache Kafka (4.x, KRaft: one process is broker and controller) on 127.0.0.1 for
# development and the scale-out tests. No ZooKeeper, no download script: the jars come from Maven
# Central through pom.xml beside this file, into a cache that later starts reuse.
#
#   deploy/kafka/kafka.sh start    # fetch jars if missing, format once, start, create the topics
#   deploy/kafka/kafka.sh status   # exit 0 if running, 3 if not
#   deploy/kafka/kafka.sh stop     # clean shutdown (SIGTERM, bounded wait)
#
# Environment:
#   PARLEY_DEPLOY_DIR              state root (default: <repo>/.deploy); Kafka uses $it/kafka/
#   PARLEY_KAFKA_PORT              client listener on 127.0.0.1 (default 29092)
#   PARLEY_KAFKA_CONTROLLER_PORT   KRaft controller listener (default 29093)
#   PARLEY_KAFKA_PARTITIONS        partitions of each topic created (default 6)
#   PARLEY_KAFKA_START_TIMEOUT     seconds to wait for the broker to accept connections (default 90)
#   PARLEY_KAFKA_HEAP              JVM heap (default 512m; the machine has 2 cores and is shared)
#
# Brokers for clients: 127.0.0.1:$PARLEY_KAFKA_PORT (e.g. PARLEY_TEST_KAFKA_BROKERS).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"  # say, die, log_tail, port_open, stop_daemon, ...

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
deploy_dir="${PARLEY_DEPLOY_DIR:-$repo/.deploy}"
[[ "$deploy_dir" == /* ]] || deploy_dir="$PWD/$deploy_dir"
kdir="$deploy_dir/kafka"
libs="$kdir/libs"
data="$kdir/data"
conf="$kdir/server.properties"
log4j_conf="$kdir/log4j2.properties"
log="$kdir/kafka.log"
pidfile="$kdir/kafka.pid"
port="${PARLEY_KAFKA_PORT:-29092}"
cport="${PARLEY_KAFKA_CONTROLLER_PORT:-29093}"
partitions="${PARLEY_KAFKA_PARTITIONS:-6}"
start_timeout="${PARLEY_KAFKA_START_TIMEOUT:-90}"
heap="${PARLEY_KAFKA_HEAP:-512m}"
brokers="127.0.0.1:$port"

# The topics of src/events/event.h (namespace topic): the seed's, and auth-events.
topics=(message-events user-status-updates group-events group-member-events media-events
        conversation-events notification-events audit-events auth-events)

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml"; }

# The pid of our broker if it is running, else nothing.
running_pid() {
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
    echo "$pid"
  fi
}

fetch_jars() {
  local version stamp
  version="$(kafka_version)"
  stamp="$libs/.complete-$version"
  [[ -f "$stamp" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven); it fetches Kafka's jars"
  command -v java >/dev/null || die "java not found (Java 17+ needed; apt-get install openjdk-17-jre-headless)"
  say "fetching Apache Kafka $version jars from Maven Central into $libs (about 55 MB, once)"
  rm -rf "$libs.tmp"
  mkdir -p "$libs.tmp"
  if ! mvn -B -ntp -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs.tmp" \
      2>&1 | grep --line-buffered -E '^\[(INFO|ERROR)\] (Copying|BUILD|Failed|.*Could not)' ; then
    :
  fi
  if [[ ! -f "$libs.tmp/kafka_2.13-$version.jar" ]]; then
    rm -rf "$libs.tmp"
    die "could not fetch the Kafka jars (no network to Maven Central?); rerun: mvn -f $here/pom.xml dependency:copy-dependencies -DoutputDirectory=$libs"
  fi
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  touch "$libs/.complete-$version"
  say "fetched $(ls "$libs"/*.jar | wc -l) jars"
}

write_config() {
  mkdir -p "$kdir" "$data"
  cat >"$conf" <<EOF
# Written by deploy/kafka/kafka.sh: a single-node KRaft cluster for development and tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
# Topics are created on purpose (kafka.sh, or a test's admin call), never by a typo.
auto.create.topics.enable=false
num.partitions=$partitions
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# One node: no reason to wait for more members before the first rebalance.
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"$log4j_conf" <<'EOF'
# Written by deploy/kafka/kafka.sh: Kafka's own log to stdout (kafka.sh sends it to kafka.log).
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka_request.name = kafka.request.logger
logger.kafka_request.level = warn
logger.state_change.name = state.change.logger
logger.state_change.level = warn
EOF
  # The admin tools only say what went wrong.
  sed 's/^rootLogger.level = info/rootLogger.level = warn/' "$log4j_conf" >"$kdir/log4j2-tools.properties"
}

java_opts() {
  echo "-Xms${heap} -Xmx${heap} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
-Dlog4j2.configurationFile=$log4j_conf -Dkafka.logs.dir=$kdir"
}

format_storage() {
  [[ -f "$data/meta.properties" ]] && return 0
  local cluster_id
  cluster_id="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  [[ -n "$cluster_id" ]] || die "kafka.tools.StorageTool random-uuid printed nothing"
  say "formatting $data (cluster $cluster_id)"
  # shellcheck disable=SC2046
  if ! java $(java_opts) -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" \
      >"$kdir/format.log" 2>&1; then
    tail -n 20 "$kdir/format.log" >&2
    die "formatting the storage failed (log: $kdir/format.log)"
  fi
}

create_topics() {
  # One JVM for all topics (CreateTopics.java beside this script, run from source by java 11+).
  if ! java -Xmx256m -cp "$libs/*" -Dlog4j2.configurationFile="$kdir/log4j2-tools.properties" \
      "$here/CreateTopics.java" "$brokers" "$partitions" "${topics[@]}" 2>"$kdir/topics.log" \
      | sed 's/^/kafka: /'; then
    tail -n 20 "$kdir/topics.log" >&2
    die "creating the topics failed (log: $kdir/topics.log)"
  fi
}

start() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    say "already running (pid $pid) on $brokers"
    return 0
  fi
  if port_open "$port" || port_open "$cport"; then
    die "port $port or $cport on 127.0.0.1 is taken by another process; set PARLEY_KAFKA_PORT / PARLEY_KAFKA_CONTROLLER_PORT"
  fi
  fetch_jars
  write_config
  format_storage
  say "starting broker on $brokers (heap $heap, log $log)"
  # setsid: the broker outlives this shell and its terminal; the pid file is how stop finds it.
  # shellcheck disable=SC2046
  setsid nohup java $(java_opts) -cp "$libs/*" kafka.Kafka "$conf" >"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  wait_daemon_ready "$pid" "$pidfile" "$start_timeout" "$log" "the broker" port_open "$port"
  say "accepting connections after ${READY_AFTER_S}s"
  create_topics
  say "running (pid $pid); brokers: $brokers"
}

stop() { stop_daemon "$pidfile" 60; }

status() {
  daemon_status "; brokers: $brokers" "not yet accepting on $brokers; log: $log" port_open "$port"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
