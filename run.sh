#!/usr/bin/env bash
# Installs what is missing, builds parleyd, the `parley` CLI (build/parley) and the web client
# (web/dist), and starts parleyd on its embedded default: http://127.0.0.1:8080 (the web client
# is at /) with data in ./parley-data. Extra arguments go to parleyd
# (./run.sh --help lists them).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
./scripts/build.sh Release build
./scripts/web.sh build   # the browser client, served by parleyd at http://127.0.0.1:8080/
exec ./build/parleyd --listen "${PARLEY_LISTEN:-127.0.0.1:8080}" \
  --data-dir "${PARLEY_DATA_DIR:-./parley-data}" "$@"
