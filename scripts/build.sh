#!/usr/bin/env bash
# Configures (once) and builds every target. Usage: scripts/build.sh [BUILD_TYPE] [DIR] [cmake args…]
set -euo pipefail
cd "$(dirname "$0")/.."
type="${1:-Release}"
dir="${2:-build}"
shift $(( $# > 2 ? 2 : $# )) || true
if [[ ! -f "$dir/build.ninja" ]]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"
