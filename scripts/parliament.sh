#!/usr/bin/env bash
# Sets up (packages, build) and runs a five-priest parliament as local processes on
# 127.0.0.1:7101-7105, data under data/priest-N, and the live page on
# http://127.0.0.1:8100/ (paxos-client console; PARLIAMENT_CONSOLE_PORT to move it).
# Ctrl-C stops every priest and the page. Extra arguments go to paxos-god (e.g. --data-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
port=${PARLIAMENT_CONSOLE_PORT:-8100}
# The page reaches the priests as the client: it starts once `up` has made the certificates.
(
  for _ in $(seq 1 300); do [ -f data/certs/client.crt ] && break; sleep 0.1; done
  exec build/bin/paxos-client --config config/local.json console --listen "127.0.0.1:$port"
) &
console=$!
trap 'kill "$console" 2>/dev/null || true' EXIT
build/bin/paxos-god --config config/local.json up "$@"
