#!/usr/bin/env bash
# A local S3-compatible object store for development and the scale-out tests: S3Proxy (Apache
# jclouds behind an S3 API, https://github.com/gaul/s3proxy) on its filesystem-nio2 provider, so the
# objects are plain files under $PARLEY_DEPLOY_DIR/s3proxy/data. The jars come from Maven Central
# through pom.xml beside this file, into a cache that later starts reuse.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

usage() {
  cat <<EOF
Usage: deploy/s3proxy/s3proxy.sh start|stop|status|url

A private S3-compatible object store (S3Proxy $(s3proxy_version), filesystem-nio2 provider) on 127.0.0.1
for development and tests (NOT for production: fixed credentials, plain HTTP).
  start    fetch the jars if missing (mvn), start S3Proxy, create the bucket, and wait until a
           signed HEAD of the bucket answers 200 (a no-op if running)
  stop     stop it (SIGTERM, bounded wait; a no-op if stopped); the objects are kept
  status   print 'running' (exit 0) or 'stopped' (exit 3)
  url      print the URL parleyd and the tests take:
             s3://ACCESS_KEY:SECRET@127.0.0.1:PORT/BUCKET

Environment:
  PARLEY_DEPLOY_DIR         state directory (default <repo>/.deploy); files in \$PARLEY_DEPLOY_DIR/s3proxy
  PARLEY_S3_PORT            TCP port on 127.0.0.1 (default 29000)
  PARLEY_S3_BUCKET          bucket created at start (default parley-media)
  PARLEY_S3_ACCESS_KEY      access key (default parley)
  PARLEY_S3_SECRET_KEY      secret key (default parley-dev-secret)
  PARLEY_S3_READY_TIMEOUT   seconds to wait for readiness (default 60)
  PARLEY_S3_HEAP            JVM heap (default 256m)
EOF
}

S3_SRC="$DEPLOY_SRC/s3proxy"
S3_DIR="$PARLEY_DEPLOY_DIR/s3proxy"
S3_LIBS="$S3_DIR/libs"
S3_DATA="$S3_DIR/data"
S3_CONF="$S3_DIR/s3proxy.conf"
S3_PID="$S3_DIR/s3proxy.pid"
S3_LOG="$S3_DIR/s3proxy.log"
S3_PORT="${PARLEY_S3_PORT:-29000}"
S3_BUCKET="${PARLEY_S3_BUCKET:-parley-media}"
S3_ACCESS="${PARLEY_S3_ACCESS_KEY:-parley}"
S3_SECRET="${PARLEY_S3_SECRET_KEY:-parley-dev-secret}"
READY_TIMEOUT="${PARLEY_S3_READY_TIMEOUT:-60}"
HEAP="${PARLEY_S3_HEAP:-256m}"

s3proxy_version() { sed -n 's:.*<s3proxy.version>\(.*\)</s3proxy.version>.*:\1:p' "$S3_SRC/pom.xml"; }

running_pid() {
  local pid
  pid="$(read_pid "$S3_PID")"
  # Ours: a java whose command line names our config (a reused pid is not mistaken for it).
  if [[ -n "$pid" ]] && pid_is "$pid" java && pid_cmdline_has "$pid" "$S3_CONF"; then
    echo "$pid"
    return 0
  fi
  return 1
}

fetch_jars() {
  local version stamp
  version="$(s3proxy_version)"
  stamp="$S3_LIBS/.complete-$version"
  [[ -f "$stamp" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven); it fetches S3Proxy's jars"
  say "fetching S3Proxy $version jars from Maven Central into $S3_LIBS (once)"
  rm -rf "$S3_LIBS.tmp"
  mkdir -p "$S3_LIBS.tmp"
  mvn -B -ntp -f "$S3_SRC/pom.xml" dependency:copy-dependencies -DoutputDirectory="$S3_LIBS.tmp" \
    >"$S3_DIR/mvn.log" 2>&1 || true
  if [[ ! -f "$S3_LIBS.tmp/s3proxy-$version.jar" ]]; then
    rm -rf "$S3_LIBS.tmp"
    log_tail "$S3_DIR/mvn.log" 20
    die "could not fetch the S3Proxy jars (no network to Maven Central?); log: $S3_DIR/mvn.log"
  fi
  rm -rf "$S3_LIBS"
  mv "$S3_LIBS.tmp" "$S3_LIBS"
  touch "$stamp"
  say "fetched $(find "$S3_LIBS" -name '*.jar' | wc -l) jars"
}

write_conf() {
  umask 077  # the file holds the (development) secret
  cat >"$S3_CONF" <<EOF
# Written by deploy/s3proxy/s3proxy.sh on every start; edit the script, not this file.
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS
s3proxy.credential=$S3_SECRET
jclouds.provider=filesystem-nio2
# The backend's own credentials (a local directory: any value).
jclouds.identity=local
jclouds.credential=local
jclouds.filesystem.basedir=$S3_DATA
EOF
  umask 022
  cat >"$S3_DIR/logback.xml" <<'EOF'
<!-- Written by deploy/s3proxy/s3proxy.sh: warnings and errors only (the default is DEBUG). -->
<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{30} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="OUT"/></root>
</configuration>
EOF
}

# A SigV4-signed HEAD of the bucket (curl's own signer): 200 once S3Proxy serves it. S3Proxy
# wants x-amz-content-sha256 (here: SHA-256 of the empty body).
bucket_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -I \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS:$S3_SECRET" \
    "http://127.0.0.1:$S3_PORT/$S3_BUCKET" 2>/dev/null || true
}

cmd_start() {
  command -v java >/dev/null || die "java not found (Java 17+ needed; apt-get install openjdk-17-jre-headless)"
  command -v curl >/dev/null || die "curl not found (apt-get install curl)"
  local pid
  if pid="$(running_pid)"; then
    say "already running on 127.0.0.1:$S3_PORT (pid $pid)"
    return 0
  fi
  if port_in_use "$S3_PORT"; then
    die "127.0.0.1:$S3_PORT is already in use by another process; set PARLEY_S3_PORT"
  fi
  ensure_dir "$S3_DIR"
  fetch_jars
  # With the filesystem-nio2 provider a bucket is a directory of the base dir.
  ensure_dir "$S3_DATA/$S3_BUCKET"
  rm -f "$S3_PID"
  write_conf
  say "starting on 127.0.0.1:$S3_PORT (log $S3_LOG)"
  # setsid: it outlives this shell and its terminal; the pid file is how stop finds it.
  setsid nohup java "-Xms$HEAP" "-Xmx$HEAP" -XX:+UseSerialGC -Djava.awt.headless=true \
    "-Dlogback.configurationFile=$S3_DIR/logback.xml" \
    -cp "$S3_LIBS/*" org.gaul.s3proxy.Main --properties "$S3_CONF" >"$S3_LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$S3_PID"
  wait_daemon_ready "$pid" "$S3_PID" "$READY_TIMEOUT" "$S3_LOG" "S3Proxy" bucket_ready
  say "ready: http://127.0.0.1:$S3_PORT/$S3_BUCKET (pid $pid)"
}

cmd_stop() { stop_daemon "$S3_PID" 30; }

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    echo "s3proxy: running on 127.0.0.1:$S3_PORT (pid $pid)"
  else
    echo "s3proxy: stopped"
    exit 3
  fi
}

bucket_ready() { [[ "$(bucket_status)" == 200 ]]; }

cmd_url() { echo "s3://$S3_ACCESS:$S3_SECRET@127.0.0.1:$S3_PORT/$S3_BUCKET"; }

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
