#!/usr/bin/env bash
# Installs what Parley needs to build and test, if missing. Safe to run again.
set -euo pipefail

DEB_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libsodium-dev libssl-dev libtomlplusplus-dev libcli11-dev
  libgtest-dev libbenchmark-dev
  libvips-dev
  libjemalloc-dev  # parleyd's allocator (CMakeLists.txt)
  python3 python3-venv nodejs
  python3-x3dh python3-doubleratchet python3-nacl
  clang libfuzzer-14-dev libclang-rt-14-dev
  chromium
  libpq-dev libhiredis-dev librdkafka-dev
  postgresql redis-server nginx openjdk-17-jre-headless maven
  ccache  # rebuilds reuse what the same flags compiled before (CMakeLists.txt)
  curl  # deploy/s3proxy/s3proxy.sh: its SigV4-signed readiness probe; deploy/opensearch/opensearch.sh
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm for the web client (web/): Node.js images usually bring it; Debian's nodejs does not.
if ! command -v npm >/dev/null; then
  echo "setup: installing npm" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
fi
