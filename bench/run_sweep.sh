#!/usr/bin/env bash
# Latency against offered load: one open-loop `direct --rate R` run per rate, each JSON kept,
# then bench/plot_latency.py draws p50/p99/p99.9 send -> recipient frame against the rate.
# Needs a running parleyd (rate limits off, see docs/benchmarks.md); pass its PID for CPU figures.
#
#   bench/run_sweep.sh [URL] [PARLEYD_PID] [OUT_DIR]
#   env: BENCH (binary), RATES ("500 1000 2000 3000 4000 5000"), USERS (100), THREADS (2),
#        WARMUP (2), DURATION (5), PLOT (PNG path; default docs/benchmarks-latency.png, "" = none),
#        DIRECT_ARGS (more `direct` options, e.g. "--encryption e2ee-v1 --body-bytes 200")
set -euo pipefail

URL=${1:-http://127.0.0.1:8080}
PID=${2:-}
OUT=${3:-/tmp/parley-bench-sweep}
BENCH=${BENCH:-build-bench/bench/parley-bench}
RATES=${RATES:-500 1000 2000 3000 4000 5000}
USERS=${USERS:-100}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-5}
PLOT=${PLOT-docs/benchmarks-latency.png}
read -r -a direct_args <<<"${DIRECT_ARGS:-}"
mkdir -p "$OUT"
common=(--url "$URL" --users "$USERS" --threads "$THREADS" --warmup-s "$WARMUP"
        --duration-s "$DURATION")
[[ -n "$PID" ]] && common+=(--server-pid "$PID")

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/log.txt"
files=()
for r in $RATES; do
  f="$OUT/direct-rate-$r.json"
  echo "== rate $r: $BENCH ${common[*]} direct --rate $r ${direct_args[*]} --json $f" | tee -a "$OUT/log.txt"
  # exit code 4 (incomplete: an overloaded server's backlog) is still a point of the curve
  "$BENCH" "${common[@]}" direct --rate "$r" "${direct_args[@]}" --json "$f" >>"$OUT/log.txt" 2>&1 || {
    rc=$?; [[ $rc -eq 4 ]] || { echo "rate $r failed ($rc); see $OUT/log.txt"; exit $rc; }; }
  files+=("$f")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/log.txt"

python3 - "${files[@]}" <<'PY'
import json, sys
print(f"{'offered/s':>9} {'delivered/s':>11} {'p50 ms':>9} {'p99 ms':>9} {'p99.9 ms':>9} {'max ms':>9}")
for f in sys.argv[1:]:
    j = json.load(open(f)); l = j["latency"]["send -> recipient frame"]
    print(f"{j['config']['rate']:>9.0f} {j['rates_per_s']['delivered (recipient frames)']:>11.0f} "
          f"{l['p50_us']/1e3:>9.2f} {l['p99_us']/1e3:>9.2f} {l['p99_9_us']/1e3:>9.2f} {l['max_us']/1e3:>9.2f}")
PY
if [[ -n "$PLOT" ]]; then
  PY=python3; [[ -x .venv/bin/python ]] && PY=.venv/bin/python
  "$PY" bench/plot_latency.py --out "$PLOT" "${files[@]}"
fi
