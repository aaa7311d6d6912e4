#!/usr/bin/env bash
# Installs the Debian 12 packages the parliament needs (only those missing) and builds it
# into build/ (binaries in build/bin/). Called by scripts/parliament.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ pkg-config python3 libasio-dev nlohmann-json3-dev libspdlog-dev catch2 libcpp-httplib-dev
          libcli11-dev zlib1g-dev libssl-dev libhttp-parser-dev)
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

# --test-tools (scripts/test.sh): what some tests use when it can be installed here:
# Chromium (the live page, headless), promtool (package prometheus: the metrics' format),
# dpkg-dev and file (CPack's .deb). Where one cannot be installed, the test that needs it
# says so (skipped, or checked another way), and nothing else changes.
if [ "${1:-}" = "--test-tools" ]; then
  optional=()
  command -v chromium >/dev/null || optional+=(chromium)
  command -v promtool >/dev/null || optional+=(prometheus)
  command -v dpkg-shlibdeps >/dev/null || optional+=(dpkg-dev)
  command -v file >/dev/null || optional+=(file)
  if [ ${#optional[@]} -gt 0 ]; then
    echo "setup: installing the test tools ${optional[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    { $sudo apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${optional[@]}"; } ||
      echo "setup: could not install ${optional[*]}; the tests that need them say so"
  fi
fi

if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# Two jobs: a coroutine/Asio-heavy file needs about 750 MB and these machines have 2 cores.
cmake --build build -j "${JOBS:-2}"
