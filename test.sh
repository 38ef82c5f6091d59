#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: C++ unit tests (ctest), the integration
# suite that drives the real parleyd over HTTP and WebSocket, and the same server and unit tests
# built with AddressSanitizer + UndefinedBehaviorSanitizer. Non-zero on any failure.
# PARLEY_SKIP_SANITIZERS=1 skips the sanitizer stage (quicker local runs; CI always runs it).
# Extra arguments go to pytest (e.g. ./test.sh -k websocket).
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

if [[ "${PARLEY_SKIP_SANITIZERS:-0}" != "1" ]]; then
  echo "== sanitizers: ASan+UBSan build of the unit tests and of parleyd under hostile input"
  BUILD_TARGETS="parleyd parley_unit_tests" ./scripts/build.sh Debug build-asan -DPARLEY_SANITIZE=address
  export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  ./build-asan/parley_unit_tests --gtest_brief=1
  PARLEYD_BIN="$PWD/build-asan/parleyd" .venv/bin/pytest -q tests/integration/test_bad_input.py \
    tests/integration/test_websocket.py tests/integration/test_chat.py tests/integration/test_groups.py \
    tests/integration/test_media.py
fi
