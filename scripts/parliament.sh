#!/usr/bin/env bash
# Sets up (packages, build) and runs a five-priest parliament as local processes on
# 127.0.0.1:7101-7105, data under data/priest-N. Ctrl-C stops every priest.
# Extra arguments go to paxos-god (e.g. --data-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/bin/paxos-god --config config/local.json up "$@"
