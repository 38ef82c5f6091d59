#!/usr/bin/env bash
# Installs what is missing, builds parleyd, the `parley` CLI (build/parley) and the web client
# (web/dist), and starts parleyd on its embedded default: http://127.0.0.1:8080 (the web client
# is at /) with data in ./parley-data. Extra arguments go to parleyd and win over those defaults
# (./run.sh --listen 0.0.0.0:9000; ./run.sh --help lists them).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
./scripts/build.sh Release build
./scripts/web.sh build   # the browser client, served by parleyd at http://127.0.0.1:8080/
# parleyd's own defaults are the embedded ones (127.0.0.1:8080, ./parley-data here); arguments,
# PARLEY_* variables and a --config file override them as usual.
exec ./build/parleyd "$@"
