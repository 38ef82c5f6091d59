#!/usr/bin/env bash
# Idle WebSocket connections, end to end: starts SERVERS parleyd processes (each its own port and
# data dir: one process is the unit of the 20,000 file-descriptor limit), creates the accounts
# on each, restarts each server (so that the memory the argon2id login hashes leave behind does
# not hide the connections' cost), then runs one `parley-bench idle` process per server, all at
# once, each opening CONNS WebSockets from its own range of 127.0.0.x source addresses, holding
# them HOLD_S seconds and measuring its server's RSS per connection. Prints a summary, keeps
# every JSON and log in OUT, stops everything it started.
#
#   bench/run_idle.sh [OUT_DIR]
#   env: PARLEYD (build/parleyd), BENCH (build-bench/bench/parley-bench), SERVERS (1),
#        CONNS (19000 per server), USERS (200 per server: accounts, one device each; connections
#        are spread over their tokens), HOLD_S (40: past the server's 30 s heartbeat timeout),
#        BASE_PORT (18300), ADDRS_PER_GEN (4 source addresses per generator), THREADS (1 per
#        generator), PARLEYD_THREADS (0 = the server's default)
#
#   bench/run_idle.sh /tmp/idle-1                                  # (a) 19,000 on one process
#   SERVERS=6 CONNS=17000 USERS=100 bench/run_idle.sh /tmp/idle-6  # (b) 102,000 on six
set -uo pipefail

OUT=${1:-/tmp/parley-bench-idle}
PARLEYD=${PARLEYD:-build/parleyd}
BENCH=${BENCH:-build-bench/bench/parley-bench}
SERVERS=${SERVERS:-1}
CONNS=${CONNS:-19000}
USERS=${USERS:-200}
HOLD_S=${HOLD_S:-40}
BASE_PORT=${BASE_PORT:-18300}
ADDRS_PER_GEN=${ADDRS_PER_GEN:-4}
THREADS=${THREADS:-1}
PARLEYD_THREADS=${PARLEYD_THREADS:-0}
rm -rf "$OUT" && mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"

declare -a SPIDS
stop_servers() {
  for pid in "${SPIDS[@]}"; do [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null; done
  for pid in "${SPIDS[@]}"; do [[ -n "$pid" ]] && wait "$pid" 2>/dev/null; done
  SPIDS=()
}
trap stop_servers EXIT

start_server() {  # start_server K: parleyd K on BASE_PORT+K, data in OUT/data-K
  local k=$1 port=$((BASE_PORT + $1))
  "$PARLEYD" --listen "127.0.0.1:$port" --data-dir "$OUT/data-$k" --threads "$PARLEYD_THREADS" \
    --rate-signup-per-min 0 --rate-login-per-min 0 --rate-send-per-min 0 \
    >>"$OUT/parleyd-$k.log" 2>&1 &
  SPIDS[$k]=$!
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "parleyd $k did not become ready; see $OUT/parleyd-$k.log"; exit 2
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); fd limit $(ulimit -n)" | tee "$OUT/summary.txt"
for k in $(seq 0 $((SERVERS - 1))); do start_server "$k"; done
# accounts, all servers at once (argon2id: the slow part)
pids=()
for k in $(seq 0 $((SERVERS - 1))); do
  "$BENCH" --url "http://127.0.0.1:$((BASE_PORT + k))" --users "$USERS" --setup-concurrency 4 \
    idle --setup-only --accounts-out "$OUT/accounts-$k.tsv" >"$OUT/setup-$k.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { echo "account setup failed; see $OUT/setup-*.log"; exit 3; }; done
stop_servers
for k in $(seq 0 $((SERVERS - 1))); do start_server "$k"; done
sleep 1
echo "kernel before: $(grep '^TCP:' /proc/net/sockstat) (mem in 4 KiB pages)" | tee -a "$OUT/summary.txt"

pids=()
for k in $(seq 0 $((SERVERS - 1))); do
  first=$((1 + k * ADDRS_PER_GEN)); last=$((first + ADDRS_PER_GEN - 1))
  cmd=("$BENCH" --url "http://127.0.0.1:$((BASE_PORT + k))" --threads "$THREADS"
       --server-pid "${SPIDS[$k]}" --connect-timeout-ms 60000 --json "$OUT/idle-$k.json"
       idle --accounts-in "$OUT/accounts-$k.tsv" --connections "$CONNS" --hold-s "$HOLD_S"
       --source-addresses "127.0.0.$first-127.0.0.$last")
  echo "generator $k: ${cmd[*]}" | tee -a "$OUT/summary.txt"
  "${cmd[@]}" >"$OUT/idle-$k.log" 2>&1 &
  pids+=($!)
done
# wait until every generator holds its connections, then sample the middle of the hold
for k in $(seq 0 $((SERVERS - 1))); do
  until grep -q "holding them idle" "$OUT/idle-$k.log" 2>/dev/null; do
    kill -0 "${pids[$k]}" 2>/dev/null || break
    sleep 0.5
  done
done
sleep $((HOLD_S / 2))
echo "load average during the hold: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/summary.txt"
# kernel socket memory is not in any process's RSS: the machine-wide TCP figures, for reference
echo "kernel during the hold: $(grep '^TCP:' /proc/net/sockstat) (mem in 4 KiB pages)" | tee -a "$OUT/summary.txt"
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
stop_servers
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/summary.txt"

python3 - "$OUT" "$SERVERS" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
tot = {"req": 0, "est": 0, "fail": 0, "open": 0, "pong": 0, "ping": 0}
print(f"{'server':>6} {'requested':>9} {'open':>6} {'failed':>6} {'held':>6} {'pongs':>9} {'open s':>8}"
      f" {'srv RSS before':>14} {'srv RSS held':>12} {'srv B/conn':>10} {'gen B/conn':>10}")
per = []
for k in range(n):
    try:
        j = json.load(open(f"{out}/idle-{k}.json"))
    except Exception as e:
        print(f"{k:>6} no report ({e}); see {out}/idle-{k}.log"); continue
    c = j["counters"]
    tot["req"] += c["connections requested"]; tot["est"] += c["connections established"]
    tot["fail"] += c["connections failed"]; tot["open"] += c["still open after the hold"]
    tot["pong"] += c["pongs received"]; tot["ping"] += c["pings sent (sample)"]
    per.append(c["server RSS per connection (bytes)"])
    print(f"{k:>6} {c['connections requested']:>9} {c['connections established']:>6} {c['connections failed']:>6}"
          f" {c['still open after the hold']:>6} {c['pongs received']:>4}/{c['pings sent (sample)']:<4}"
          f" {c['time to establish all (ms)']/1000:>8.1f} {c['server RSS before (KiB)']/1024:>11.1f} MiB"
          f" {c['server RSS end of hold (KiB)']/1024:>8.1f} MiB {c['server RSS per connection (bytes)']:>10}"
          f" {c['generator RSS per connection (bytes)']:>10}")
print(f"total: {tot['est']} of {tot['req']} established, {tot['fail']} failed, {tot['open']} still open after"
      f" the hold, {tot['pong']}/{tot['ping']} sampled pings answered; server RSS per connection "
      f"{min(per) if per else '-'}..{max(per) if per else '-'} bytes (target <= 4096)")
PY
exit $rc
