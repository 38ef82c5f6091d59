#!/usr/bin/env bash
# Side by side: parleyd and ejabberd (Debian's 23.01) on the same 1:1 workload, in ONE run on
# the same machine, alternating servers so that a noisy machine hurts both alike. Prints every
# figure, the medians and the ratios parleyd/ejabberd; keeps each JSON in OUT_DIR.
#
#   bench/run_peer.sh [OUT_DIR]        (default /tmp/pb-peer; must run as root, see peer/)
#
# Procedure: a fresh parleyd (fresh data dir, rate limits off) and a fresh private ejabberd
# (bench/peer/ejabberd.sh: plain TCP c2s on 55222, mnesia, mod_offline, no shaper), then
#   saturation: parleyd, ejabberd, parleyd, ejabberd, ... (RUNS each), --rate 0 --window WINDOW
#   open loop:  the same alternation at RATE msgs/s (default: half of the smaller of the two
#               median saturation rates, so that both servers can sustain it)
# `direct` drives parleyd over WebSocket, `xmpp-direct` drives ejabberd over XMPP; same users,
# window, body size, threads, warm-up and duration.
#
# env: BENCH (build-xmpp/bench/parley-bench), PARLEYD (build-xmpp/parleyd, else build/parleyd),
#      USERS (100), WINDOW (16), THREADS (2), WARMUP (2), DURATION (10), RUNS (3), RATE (auto),
#      PARLEY_PORT (18480), NICE (-10: servers and generator; empty = not reniced)
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-/tmp/pb-peer}
BENCH=${BENCH:-build-xmpp/bench/parley-bench}
if [[ -z "${PARLEYD:-}" ]]; then
  PARLEYD=build-xmpp/parleyd
  [[ -x $PARLEYD ]] || PARLEYD=build/parleyd
fi
USERS=${USERS:-100}
WINDOW=${WINDOW:-16}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
RATE=${RATE:-}
PARLEY_PORT=${PARLEY_PORT:-18480}
NICE=${NICE--10}
[[ -x $PARLEYD ]] || { echo "run_peer.sh: no parleyd at '$PARLEYD' (set PARLEYD)" >&2; exit 1; }
[[ -x $BENCH ]] || { echo "run_peer.sh: no parley-bench at '$BENCH' (set BENCH)" >&2; exit 1; }
C2S_PORT=${EJABBERD_C2S_PORT:-55222}
export EJABBERD_C2S_PORT=$C2S_PORT

mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT/log.txt" "$OUT/summary.txt"
PARLEY_DATA=$(mktemp -d /tmp/pb-peer-parleyd.XXXXXX)
EJ_DIR=""
PARLEYD_PID=""

cleanup() {
  [[ -n "$PARLEYD_PID" ]] && kill "$PARLEYD_PID" 2>/dev/null && wait "$PARLEYD_PID" 2>/dev/null
  [[ -n "$EJ_DIR" ]] && bench/peer/ejabberd.sh stop "$EJ_DIR"
  rm -rf "$PARLEY_DATA"
}
trap cleanup EXIT

wait_port() {  # wait_port PORT: until something listens there (30 s)
  for _ in $(seq 1 150); do
    ss -ltn "( sport = :$1 )" | grep -q LISTEN && return 0
    sleep 0.2
  done
  echo "nothing listens on port $1" >&2; return 1
}

renice_pid() { [[ -n "$NICE" ]] && renice -n "$NICE" -p "$1" >/dev/null; true; }
nice_cmd() { if [[ -n "$NICE" ]]; then nice -n "$NICE" "$@"; else "$@"; fi; }

echo "-- parleyd: $PARLEYD (built $(stat -c '%y' "$PARLEYD" | cut -c1-19), sha256 $(sha256sum "$PARLEYD" | cut -c1-16)), data $PARLEY_DATA" | tee "$OUT/log.txt"
"$PARLEYD" --listen "127.0.0.1:$PARLEY_PORT" --data-dir "$PARLEY_DATA" --log-level warn \
  --rate-signup-per-min 0 --rate-login-per-min 0 --rate-send-per-min 0 \
  >"$OUT/parleyd.log" 2>&1 &
PARLEYD_PID=$!
wait_port "$PARLEY_PORT"
renice_pid "$PARLEYD_PID"

EJ_DIR=$(bench/peer/ejabberd.sh start)
EJ_PID=$(bench/peer/ejabberd.sh pid "$EJ_DIR")
renice_pid "$EJ_PID"
echo "-- ejabberd $(dpkg-query -W -f='${Version}' ejabberd 2>/dev/null): $EJ_DIR, beam.smp pid $EJ_PID, c2s 127.0.0.1:$C2S_PORT" | tee -a "$OUT/log.txt"

common=(--users "$USERS" --threads "$THREADS" --warmup-s "$WARMUP" --duration-s "$DURATION"
        --setup-concurrency 8)

run() {  # run NAME SERVER ARGS...: one run, JSON kept, table to the log; exit 4 still a result
  local name=$1 server=$2; shift 2
  local args
  if [[ $server == parleyd ]]; then
    args=(--url "http://127.0.0.1:$PARLEY_PORT" --server-pid "$PARLEYD_PID" "${common[@]}" direct "$@")
  else
    args=(--url "127.0.0.1:$C2S_PORT" --server-pid "$EJ_PID" "${common[@]}" xmpp-direct "$@")
  fi
  echo "== $name: $BENCH ${args[*]}" | tee -a "$OUT/log.txt"
  local rc=0
  nice_cmd "$BENCH" "${args[@]}" --json "$OUT/$name.json" >>"$OUT/log.txt" 2>&1 || rc=$?
  if [[ $rc -ne 0 && $rc -ne 4 ]]; then echo "run $name failed ($rc); see $OUT/log.txt"; exit $rc; fi
  python3 - "$OUT/$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lat = r["latency"]["send -> recipient frame"]
cpu = r["resources_cores"]
srv = cpu.get("parleyd CPU", cpu.get("server CPU", -1))
print(f"   acked {r['rates_per_s']['acked (send -> ack)']:.0f}/s, delivered "
      f"{r['rates_per_s']['delivered (recipient frames)']:.0f}/s, send->recipient p50 "
      f"{lat['p50_us']/1000:.3f} ms p99 {lat['p99_us']/1000:.3f} ms; server {srv:.2f} cores, "
      f"bench {cpu['parley-bench CPU']:.2f} cores{'  INCOMPLETE' if r['incomplete'] else ''}")
PY
}

probe() {
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
}

before=$(probe)
echo "-- machine before: $before" | tee -a "$OUT/log.txt"
for i in $(seq 1 "$RUNS"); do
  run "parleyd-saturation-$i" parleyd --rate 0 --window "$WINDOW"
  run "ejabberd-saturation-$i" ejabberd --rate 0 --window "$WINDOW"
done
if [[ -z "$RATE" ]]; then
  RATE=$(python3 - "$OUT" "$RUNS" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
med = lambda s: statistics.median(json.load(open(f"{out}/{s}-saturation-{i}.json"))["rates_per_s"]["acked (send -> ack)"] for i in range(1, runs + 1))
print(max(100, int(min(med("parleyd"), med("ejabberd")) / 2) // 100 * 100))
PY
)
fi
echo "-- open loop at $RATE msgs/s (half the smaller median saturation rate unless RATE was set)" | tee -a "$OUT/log.txt"
for i in $(seq 1 "$RUNS"); do
  run "parleyd-rate-$i" parleyd --rate "$RATE"
  run "ejabberd-rate-$i" ejabberd --rate "$RATE"
done
after=$(probe)

python3 - "$OUT" "$RUNS" "$RATE" "$before" "$after" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
out, runs, rate, before, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def vals(server, kind, path):
    v = []
    for i in range(1, runs + 1):
        x = json.load(open(f"{out}/{server}-{kind}-{i}.json"))
        for k in path: x = x[k]
        v.append(x)
    return v
def fmt(x): return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"
rows = [
    ("saturation: acked msgs/s", "saturation", ("rates_per_s", "acked (send -> ack)"), 1),
    ("saturation: delivered msgs/s", "saturation", ("rates_per_s", "delivered (recipient frames)"), 1),
    ("saturation: send->recipient p50 ms", "saturation", ("latency", "send -> recipient frame", "p50_us"), 1e-3),
    ("saturation: send->recipient p99 ms", "saturation", ("latency", "send -> recipient frame", "p99_us"), 1e-3),
    (f"open loop {rate}/s: delivered msgs/s", "rate", ("rates_per_s", "delivered (recipient frames)"), 1),
    (f"open loop {rate}/s: send->recipient p50 ms", "rate", ("latency", "send -> recipient frame", "p50_us"), 1e-3),
    (f"open loop {rate}/s: send->recipient p99 ms", "rate", ("latency", "send -> recipient frame", "p99_us"), 1e-3),
    (f"open loop {rate}/s: send->ack p99 ms", "rate", ("latency", "send -> ack", "p99_us"), 1e-3),
]
print(f"-- machine before: {before}\n-- machine after:  {after}")
print(f"{'figure':42} {'parleyd (median; runs)':34} {'ejabberd (median; runs)':34} parleyd/ejabberd")
for name, kind, path, scale in rows:
    p = [x * scale for x in vals("parleyd", kind, path)]
    e = [x * scale for x in vals("ejabberd", kind, path)]
    mp, me = statistics.median(p), statistics.median(e)
    ratio = f"{mp / me:.2f}" if me else "n/a"
    ps = f"{fmt(mp)} ({', '.join(fmt(x) for x in p)})"
    es = f"{fmt(me)} ({', '.join(fmt(x) for x in e)})"
    print(f"{name:42} {ps:34} {es:34} {ratio}")
for kind in ("saturation", "rate"):
    for server, key in (("parleyd", "parleyd CPU"), ("ejabberd", "server CPU")):
        c = vals(server, kind, ("resources_cores", key))
        b = vals(server, kind, ("resources_cores", "parley-bench CPU"))
        print(f"-- {kind} {server}: server {statistics.median(c):.2f} cores, generator {statistics.median(b):.2f} cores (medians)")
inc = [f"{s}-{k}-{i}" for s in ("parleyd", "ejabberd") for k in ("saturation", "rate")
       for i in range(1, runs + 1) if json.load(open(f"{out}/{s}-{k}-{i}.json"))["incomplete"]]
print("-- incomplete runs: " + (", ".join(inc) if inc else "none"))
PY
