#!/usr/bin/env bash
# Runs one parley-bench command RUNS times (default 3), keeps each JSON, and prints the median
# of every rate and of each latency's p50/p99/p99.9/max, plus both CPU figures. Exit code 4 of a
# run (incomplete) is kept as a result and flagged; any other failure stops.
#
#   bench/run_medians.sh OUT_DIR NAME parley-bench-args...
#   e.g. bench/run_medians.sh /tmp/pb group-100 --server-pid $PID group --group-size 100 --groups 10
#   env: BENCH (command, may include a prefix such as "nice -n -10"; default
#        build-bench2/bench/parley-bench), RUNS
set -euo pipefail
OUT=$1; NAME=$2; shift 2
BENCH=${BENCH:-build-bench2/bench/parley-bench}
RUNS=${RUNS:-3}
mkdir -p "$OUT"
files=()
for i in $(seq 1 "$RUNS"); do
  f="$OUT/$NAME-$i.json"
  echo "== $NAME run $i: $BENCH $* --json $f" | tee -a "$OUT/log.txt"
  rc=0; $BENCH "$@" --json "$f" >>"$OUT/log.txt" 2>&1 || rc=$?
  [[ $rc -eq 0 || $rc -eq 4 ]] || { echo "run failed ($rc); see $OUT/log.txt"; exit "$rc"; }
  [[ $rc -eq 4 ]] && echo "   run $i incomplete (exit 4): see its warnings in $OUT/log.txt"
  files+=("$f")
done
python3 - "${files[@]}" <<'PY' | tee "$OUT/$NAME-summary.txt"
import json, statistics, sys
runs = [json.load(open(f)) for f in sys.argv[1:]]
fmt = lambda x: f"{x:.2f}" if abs(x) < 10 else f"{x:,.0f}"
def line(label, vals):
    print(f"  {label:48s} {fmt(statistics.median(vals)):>12}  (runs: {', '.join(fmt(v) for v in vals)})")
print(f"-- {runs[0]['scenario']}: {runs[0]['summary']} -- median of {len(runs)}")
for k in runs[0]["rates_per_s"]:
    line(k + " /s", [r["rates_per_s"][k] for r in runs])
for k in runs[0]["latency"]:
    for p in ("p50_us", "p99_us", "p99_9_us", "max_us"):
        line(f"{k} {p}", [r["latency"][k][p] for r in runs])
for k in runs[0]["resources_cores"]:
    line(k + " (cores)", [r["resources_cores"][k] for r in runs])
for r in runs:
    for w in r["warnings"]: print("  WARNING:", w[:300])
PY
