#!/usr/bin/env bash
# Sets up (packages, build) and runs every test through CTest: unit, simulation
# (PARLIAMENT_SIM_SEEDS seeds, default 500), integration (real processes on 127.0.0.1),
# docker (containers and real partitions; skipped, saying why, without a Docker engine),
# page (the live page in headless Chromium), package (the .deb in a container), a benchmark
# smoke run, fuzzing and the house's shape (scripts/check-shape.py). It installs the test tools it can (scripts/setup.sh --test-tools). Extra arguments go to ctest (e.g. -R sim).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test-tools
cd build
rc=0
ctest --output-on-failure "$@" || rc=$?
# CTest reports a skipped test without its output; say why it was skipped.
grep -h "SKIPPED:" Testing/Temporary/LastTest.log 2>/dev/null | sort -u || true
exit $rc
