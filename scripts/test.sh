#!/usr/bin/env bash
# Sets up (packages, build) and runs every test through CTest: unit, simulation
# (PARLIAMENT_SIM_SEEDS seeds, default 500) and integration (real processes on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure "$@"
