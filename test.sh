#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: C++ unit tests (ctest) and the
# integration suite, which drives the real parleyd over HTTP and WebSocket. Non-zero on any
# failure.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
./scripts/build.sh Release build

echo "== unit tests (ctest)"
ctest --test-dir build --output-on-failure -j 2

echo "== integration tests (pytest, real parleyd)"
if [[ ! -x .venv/bin/pytest ]] || ! .venv/bin/pip freeze -r tests/integration/requirements.txt >/dev/null 2>&1; then
  python3 -m venv .venv
  .venv/bin/pip install -q -r tests/integration/requirements.txt
fi
PARLEYD_BIN="$PWD/build/parleyd" .venv/bin/pytest -q tests/integration "$@"
