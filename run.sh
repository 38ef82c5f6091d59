#!/usr/bin/env bash
# Installs what is missing, builds parleyd (Release) and starts it on its embedded default:
# http://127.0.0.1:8080 with data in ./parley-data. Extra arguments go to parleyd
# (./run.sh --help lists them).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
./scripts/build.sh Release build
exec ./build/parleyd --listen "${PARLEY_LISTEN:-127.0.0.1:8080}" \
  --data-dir "${PARLEY_DATA_DIR:-./parley-data}" "$@"
