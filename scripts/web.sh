#!/usr/bin/env bash
# The browser client (web/). Usage:
#   scripts/web.sh build   npm ci when node_modules is missing or older than package-lock.json,
#                          then type-check and build into web/dist (served by parleyd at /)
#   scripts/web.sh test    build, unit tests (vitest: protocol vectors, engine), then the
#                          end-to-end tests (headless Chromium, each file with its own parleyd)
#   scripts/web.sh unit    unit tests only (no server or browser needed)
#   scripts/web.sh e2e     end-to-end tests only (after build)
# The e2e tests use PARLEYD_BIN (default build/parleyd, else build-web/parleyd), PARLEY_CLI_BIN
# (default build/parley, else build-web/parley) and CHROMIUM_BIN (default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/../web"

deps() {
  if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund
  fi
}

build() {
  deps
  npx tsc --noEmit -p tsconfig.json
  npx vite build --logLevel warn
  echo "web: built into web/dist ($(du -sh dist | cut -f1))"
}

unit() {
  deps
  npx vitest run
}

e2e() {
  deps
  [[ -f dist/index.html ]] || build
  node e2e/run.mjs "$@"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  build) build ;;
  unit) unit ;;
  e2e) e2e "$@" ;;
  test)
    build
    unit
    e2e "$@"
    ;;
  *)
    echo "usage: scripts/web.sh build|test|unit|e2e" >&2
    exit 1
    ;;
esac
