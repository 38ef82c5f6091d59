#!/usr/bin/env bash
# The docs/benchmarks.md procedure for the `direct` figures: 3 saturation runs, then 3 open-loop
# runs at half the median saturation rate; prints the medians and keeps every JSON.
# Needs a running parleyd; pass its PID so its CPU use is reported.
#
#   bench/run_direct_suite.sh [URL] [PARLEYD_PID] [OUT_DIR]
#   env: BENCH (binary), USERS, WINDOW, THREADS, WARMUP, DURATION, RUNS, EXTRA_RATES ("25000")
set -euo pipefail

URL=${1:-http://127.0.0.1:8080}
PID=${2:-}
OUT=${3:-/tmp/parley-bench-direct}
BENCH=${BENCH:-build-bench/bench/parley-bench}
USERS=${USERS:-100}
WINDOW=${WINDOW:-16}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
EXTRA_RATES=${EXTRA_RATES:-}
mkdir -p "$OUT"
common=(--url "$URL" --users "$USERS" --threads "$THREADS" --warmup-s "$WARMUP"
        --duration-s "$DURATION")
[[ -n "$PID" ]] && common+=(--server-pid "$PID")

run() {  # run NAME ARGS...: one run, JSON kept, table to the log; exit 4 is still a result
  local name=$1; shift
  echo "== $name: $BENCH ${common[*]} direct $*" | tee -a "$OUT/log.txt"
  "$BENCH" "${common[@]}" direct "$@" --json "$OUT/$name.json" >>"$OUT/log.txt" 2>&1 || {
    rc=$?; [[ $rc -eq 4 ]] || { echo "run $name failed ($rc); see $OUT/log.txt"; exit $rc; }; }
}

median() {  # median FIELD_PATH FILES...: median of a number across JSON reports
  local path=$1; shift
  python3 - "$path" "$@" <<'PY'
import json, statistics, sys
path, files = sys.argv[1].split("."), sys.argv[2:]
vals = []
for f in files:
    v = json.load(open(f))
    for k in path: v = v[k]
    vals.append(v)
fmt = lambda x: f"{x:.2f}" if abs(x) < 10 else f"{x:.0f}"
print(f"{fmt(statistics.median(vals))}  (runs: {', '.join(fmt(x) for x in vals)})")
PY
}

summary() {  # summary PREFIX: the medians of the runs PREFIX-1..N
  local files=("$OUT/$1"-*.json)
  echo "-- $1 (median of ${#files[@]})"
  echo "   acked msgs/s:        $(median 'rates_per_s.acked (send -> ack)' "${files[@]}")"
  echo "   delivered msgs/s:    $(median 'rates_per_s.delivered (recipient frames)' "${files[@]}")"
  for p in p50 p99 p99_9 max; do
    echo "   send->recipient ${p}_us: $(median "latency.send -> recipient frame.${p}_us" "${files[@]}")"
  done
  echo "   send->ack p99_us:    $(median 'latency.send -> ack.p99_us' "${files[@]}")"
  echo "   parley-bench cores:  $(median 'resources_cores.parley-bench CPU' "${files[@]}")"
  [[ -n "$PID" ]] && echo "   parleyd cores:       $(median 'resources_cores.parleyd CPU' "${files[@]}")"
  return 0
}

probe() {  # the machine's state: a durable server is only as fast as fdatasync here
  python3 - <<'PY'
import os, time
fd = os.open("/tmp/parley-fsync-probe", os.O_WRONLY | os.O_CREAT, 0o644)
ts = []
for _ in range(200):
    os.write(fd, b"x" * 4096)
    t = time.perf_counter(); os.fdatasync(fd); ts.append(time.perf_counter() - t)
os.close(fd); os.unlink("/tmp/parley-fsync-probe")
ts.sort()
print(f"fdatasync of 4 KiB on /tmp: p50 {ts[100]*1e3:.2f} ms, p99 {ts[197]*1e3:.2f} ms; "
      f"load average {open('/proc/loadavg').read().split()[0]}")
PY
}

rm -f "$OUT"/*.json "$OUT/log.txt"
before=$(probe)
for i in $(seq 1 "$RUNS"); do run "saturation-$i" --rate 0 --window "$WINDOW"; done
sat=$(python3 -c "
import json, statistics, sys
print(round(statistics.median(json.load(open(f))['rates_per_s']['acked (send -> ack)'] for f in sys.argv[1:])))
" "$OUT"/saturation-*.json)
half=$((sat / 2))
for i in $(seq 1 "$RUNS"); do run "half-$i" --rate "$half"; done
for r in $EXTRA_RATES; do run "rate$r-1" --rate "$r"; done

{
  echo "-- machine before: $before"
  echo "-- machine after:  $(probe)"
  summary saturation
  echo "-- half of saturation: --rate $half"
  summary half
  for r in $EXTRA_RATES; do summary "rate$r"; done
} | tee "$OUT/summary.txt"
