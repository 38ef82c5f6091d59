#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test, non-zero on any failure:
#  1. C++ unit tests (ctest): server, client SDK and E2EE (RFC and protocol vectors, SDK tests
#     against a real parleyd), and the E2EE cross-check with Debian's python3-x3dh/-doubleratchet;
#  2. the integration suite (pytest) driving the real parleyd, and the `parley` CLI, over HTTP
#     and WebSocket;
#  2b. the scale-out profile: PostgreSQL, Redis, Kafka and OpenSearch started by deploy/dev.sh; the
#     adapters' tests (parley_scaleout_tests: the storage conformance suite on PostgreSQL, Redis,
#     Kafka; the search suite on OpenSearch), the deploy scripts' tests, and three parleyd nodes
#     behind nginx (tests/scaleout);
#  3. the web client: vitest (the TypeScript protocol reproduces the C++ vectors) and Playwright
#     end-to-end tests in Debian's headless Chromium;
#  4. ASan+UBSan builds of parleyd, the unit tests and the SDK tests; the integration suite
#     against the ASan parleyd;
#  5. ThreadSanitizer (build-tsan): the unit tests and parleyd under concurrent clients;
#  6. a short run of every libFuzzer target (fuzz/, build-fuzz; see fuzz/README.md).
# PARLEY_SKIP_SANITIZERS=1 skips stages 4 and 5 (quicker local runs; CI always runs them);
# PARLEY_SKIP_FUZZ=1 skips stage 6.
# Fuzzing time per target: 15 s by default; PARLEY_FUZZ_SECONDS=N sets it, and --long (as the
# first argument) makes it 600 s (a 50-minute fuzz stage; not for every CI run).
# Other arguments go to pytest (e.g. ./test.sh -k websocket).
set -euo pipefail
cd "$(dirname "$0")"
fuzz_seconds="${PARLEY_FUZZ_SECONDS:-15}"
if [[ "${1:-}" == "--long" ]]; then
  fuzz_seconds="${PARLEY_FUZZ_SECONDS:-600}"
  shift
fi
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

echo "== scale-out: adapters on real PostgreSQL, Redis, Kafka, OpenSearch, Cassandra and S3Proxy; three nodes behind nginx"
# Engine state outside the checkout: PostgreSQL runs as the postgres user when we are root, and
# it must be able to reach its data directory.
export PARLEY_DEPLOY_DIR="${PARLEY_DEPLOY_DIR:-/tmp/parley-deploy-$(id -u)}"
./deploy/dev.sh up
trap './deploy/dev.sh down >/dev/null 2>&1 || true' EXIT
eval "$(./deploy/dev.sh env)"
./build/parley_scaleout_tests --gtest_brief=1
./deploy/dev.sh down
trap - EXIT
# The deploy scripts' own tests, and the three-node cluster: each brings up its own engines and
# nodes on free ports in a temporary directory (the engines' jars copied from the cache above).
PARLEY_SCALEOUT_JAR_CACHE="$PARLEY_DEPLOY_DIR" PARLEYD_BIN="$PWD/build/parleyd" \
  .venv/bin/pytest -q tests/deploy tests/scaleout

echo "== web client (vitest: protocol vectors and engine; Playwright on Debian's Chromium)"
./scripts/web.sh test

if [[ "${PARLEY_SKIP_SANITIZERS:-0}" != "1" ]]; then
  echo "== sanitizers: ASan+UBSan build of the unit tests and of parleyd under hostile input"
  BUILD_TARGETS="parleyd parley_unit_tests parley_sdk_tests" ./scripts/build.sh Debug build-asan -DPARLEY_SANITIZE=address
  export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  ./build-asan/parley_unit_tests --gtest_brief=1
  PARLEYD_BIN="$PWD/build-asan/parleyd" ./build-asan/parley_sdk_tests --gtest_brief=1
  # The whole integration suite, but the WebSocket flood test: its bounds (round trips, RSS) are
  # figures of the Release server, which the Debug+ASan build cannot meet (~2.5 min in all).
  PARLEYD_BIN="$PWD/build-asan/parleyd" .venv/bin/pytest -q tests/integration \
    -k "not test_websocket_frame_flood"
  unset ASAN_OPTIONS UBSAN_OPTIONS

  echo "== sanitizers: TSan build of the unit tests and of parleyd under concurrent clients"
  BUILD_TARGETS="parleyd parley_unit_tests" ./scripts/build.sh RelWithDebInfo build-tsan -DPARLEY_SANITIZE=thread
  # Reports from parleyd also go to files, so that a race found while the server shuts down (after
  # its test has passed) still fails the stage.
  rm -rf build-tsan/reports && mkdir -p build-tsan/reports
  tsan_common="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp"
  # ThumbnailerTest is left to ASan: libvips synchronizes its workers with GLib futexes that TSan
  # cannot see (see scripts/tsan.supp).
  TSAN_OPTIONS="$tsan_common" ./build-tsan/parley_unit_tests --gtest_brief=1 \
    --gtest_filter=-ThumbnailerTest.*
  # The suites whose server work crosses threads: I/O threads, the store's writer and completion
  # threads, the blocking pool, the bus's subscribers (gateway, presence, search indexer, notify).
  TSAN_OPTIONS="$tsan_common:log_path=$PWD/build-tsan/reports/parleyd" \
    PARLEYD_BIN="$PWD/build-tsan/parleyd" .venv/bin/pytest -q tests/integration/test_websocket.py \
    tests/integration/test_chat.py tests/integration/test_groups.py tests/integration/test_presence.py \
    tests/integration/test_crash.py tests/integration/test_search.py \
    tests/integration/test_audit_notify.py || tsan_status=$?
  if compgen -G "build-tsan/reports/parleyd*" >/dev/null; then
    cat build-tsan/reports/parleyd*
    echo "TSan: parleyd reported data races (above)" >&2
    exit 1
  fi
  if [[ "${tsan_status:-0}" != 0 ]]; then exit "$tsan_status"; fi
fi

if [[ "${PARLEY_SKIP_FUZZ:-0}" != "1" ]]; then
  echo "== fuzzing: every parser target for ${fuzz_seconds} s (libFuzzer, ASan+UBSan)"
  ./scripts/fuzz.sh "$fuzz_seconds"
fi
