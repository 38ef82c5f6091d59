#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/: clang, libFuzzer, ASan+UBSan) into build-fuzz and runs each for
# SECONDS_PER_TARGET (default 15), starting from the committed seeds in fuzz/corpus/<target>/.
# Non-zero if any target crashes, trips a sanitizer, leaks, hangs or fails to build.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]      (targets: build-fuzz/targets.txt)
#
# New inputs the fuzzer finds go to build-fuzz/corpus/<target>/ (kept between runs, never
# committed; fold the useful ones into fuzz/corpus with -merge=1, see fuzz/README.md). A crash
# leaves its input in build-fuzz/artifacts/ and the log in build-fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
shift $(( $# > 0 ? 1 : 0 ))
dir=build-fuzz

# Inputs longer than these say nothing new and slow every execution down.
declare -A max_len=([http_request]=8192 [ws_frame]=4096 [json_fields]=4096 [jwt]=6000
                    [media_headers]=2048 [e2ee]=4096 [ws_wire]=8192)

if [[ ! -f "$dir/build.ninja" ]]; then
  cmake -S fuzz -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="${PARLEY_FUZZ_CXX:-clang++}" >/dev/null
fi
cmake --build "$dir" -j "$(( $(nproc) < 2 ? $(nproc) : 2 ))"

targets=("$@")
if ((${#targets[@]} == 0)); then mapfile -t targets < "$dir/targets.txt"; fi

# halt_on_error/abort: a report is a crash. Leaks are checked (libFuzzer's -detect_leaks).
export ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

mkdir -p "$dir/logs" "$dir/artifacts"
failed=()
printf '%-15s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
  [[ -z "$t" ]] && continue
  work="$dir/corpus/$t"
  mkdir -p "$work"
  args=(-max_total_time="$seconds" -max_len="${max_len[$t]:-4096}" -timeout=30
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t-")
  [[ -f "fuzz/dict/$t.dict" ]] && args+=(-dict="fuzz/dict/$t.dict")
  seeds=()
  [[ -d "fuzz/corpus/$t" ]] && seeds=("fuzz/corpus/$t")
  log="$dir/logs/$t.log"
  if "$dir/${t}_fuzzer" "${args[@]}" "$work" "${seeds[@]}" >"$log" 2>&1; then result=ok; else
    result=FAILED
    failed+=("$t")
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$work" -type f | wc -l)
  printf '%-15s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
  if [[ $result == FAILED ]]; then
    echo "---- $log (tail)"
    tail -n 60 "$log"
    echo "----"
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $dir/artifacts/, reproduce: $dir/<target>_fuzzer <input>)" >&2
  exit 1
fi
