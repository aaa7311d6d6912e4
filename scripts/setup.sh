#!/usr/bin/env bash
# Installs the Debian 12 packages the parliament needs (only those missing) and builds it
# into build/ (binaries in build/bin/). Called by scripts/parliament.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ pkg-config libasio-dev nlohmann-json3-dev libspdlog-dev catch2 libcpp-httplib-dev
          libcli11-dev zlib1g-dev libssl-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # --no-install-recommends: without it libasio-dev pulls in about 140 MB of Boost.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# Two jobs: a coroutine/Asio-heavy file needs about 750 MB and these machines have 2 cores.
cmake --build build -j "${JOBS:-2}"
