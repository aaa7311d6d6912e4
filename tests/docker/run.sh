#!/usr/bin/env bash
# CTest's "docker" test: the parliament in docker compose, partitioned for real.
#
#   tests/docker/run.sh DOCKER_TESTS_BINARY [catch2 args...]
#
# Skips (exit 77, one line saying why) when there is no Docker engine, no compose, no way to
# become root for the partitions, or PARLIAMENT_DOCKER_TESTS=0. Otherwise: makes the base
# image if the host has no registry (scripts/docker-base-image.sh); builds parliament:latest
# unless its label says it was built from the sources as they are; starts its own compose
# project "parliament-test" on host ports 27201-27205 with its data in a fresh temporary
# directory (never the user's data/); runs the scenarios; and always heals the network and
# tears the project down, on failure or interruption too. On failure the data and the
# priests' logs are kept and named. One run at a time per machine (a lock file).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: run.sh DOCKER_TESTS_BINARY}
shift

skip() { echo "docker test SKIPPED: $*"; exit 77; }
if [ "${PARLIAMENT_DOCKER_TESTS:-1}" = 0 ]; then
  skip "PARLIAMENT_DOCKER_TESTS=0 in the environment"
fi
command -v docker >/dev/null || skip "no docker command on this machine"
if ! why=$(docker info --format '{{.ServerVersion}}' 2>&1); then
  skip "no Docker engine answers ($(echo "$why" | tail -1))"
fi
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  skip "neither 'docker compose' nor 'docker-compose' is installed"
fi
if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
  skip "partitions need root (nsenter + iptables) and sudo asks for a password"
fi

# One run at a time on a machine: runs share the project name, the ports and the image.
exec 9>"${TMPDIR:-/tmp}/parliament-docker-test.lock"
if ! flock -n 9; then
  echo "docker test: another run holds ${TMPDIR:-/tmp}/parliament-docker-test.lock; waiting for it"
  flock -w 1200 9 || { echo "docker test: still locked after 20 minutes"; exit 1; }
fi

export COMPOSE_PROJECT_NAME=parliament-test
export PARLIAMENT_PROJECT=$COMPOSE_PROJECT_NAME
export PARLIAMENT_PORT_PREFIX=${PARLIAMENT_PORT_PREFIX:-2720}
export PARLIAMENT_HTTP_PREFIX=${PARLIAMENT_HTTP_PREFIX:-2730}
work=$(mktemp -d "${TMPDIR:-/tmp}/parliament-docker.XXXXXX")
export PARLIAMENT_WORK=$work PARLIAMENT_DATA=$work/data
export PARLIAMENT_COMPOSE="${compose[*]} -p $COMPOSE_PROJECT_NAME -f $src/docker-compose.yml"
# The legacy builder: these hosts have no buildx.
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
dc() { "${compose[@]}" -p "$COMPOSE_PROJECT_NAME" -f "$src/docker-compose.yml" "$@"; }

status=1
teardown() {
  trap - EXIT INT TERM
  "$src/scripts/partition.sh" -p "$COMPOSE_PROJECT_NAME" heal >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ]; then
    echo "docker test: priests' logs are in $work/logs.txt, their data in $PARLIAMENT_DATA"
    dc logs --no-color --timestamps >"$work/logs.txt" 2>&1 || true
  fi
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  if [ "$status" -eq 0 ]; then rm -rf "$work"; fi
  exit "$status"
}
child=""
interrupted() {
  # Stop the scenarios first; the EXIT trap then heals and takes the project down.
  [ -n "$child" ] && kill "$child" 2>/dev/null && wait "$child" 2>/dev/null
  status=130
  exit
}
trap teardown EXIT
trap interrupted INT TERM

start=$(date +%s)
# Leftovers of an interrupted run of this test (never another project's containers).
"$src/scripts/partition.sh" -p "$COMPOSE_PROJECT_NAME" heal >/dev/null 2>&1 || true
dc down -v --remove-orphans >/dev/null 2>&1 || true

"$src/scripts/docker-base-image.sh"
# The image is rebuilt only when what it is built from changed: its label holds a hash of
# those files. (One `docker build`, not `compose build`, which builds once per service.)
source_hash=$(cd "$src" && find Dockerfile .dockerignore CMakeLists.txt proto server client net page include packaging config/docker.json scripts/docker-keys.sh \
                -type f ! -name '*.swp' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
image_hash=$(docker image inspect -f '{{index .Config.Labels "parliament.source"}}' parliament:latest 2>/dev/null || true)
if [ "$image_hash" = "$source_hash" ]; then
  echo "docker test: image parliament:latest is up to date with the sources ($source_hash)"
else
  t=$(date +%s)
  if ! docker build --label "parliament.source=$source_hash" -t parliament:latest "$src" >"$work/build.log" 2>&1; then
    tail -30 "$work/build.log"
    echo "docker test: the image did not build (log: $work/build.log)"
    exit 1
  fi
  echo "docker test: image parliament:latest built in $(( $(date +%s) - t )) s"
fi
mkdir -p "$PARLIAMENT_DATA"
t=$(date +%s)
if ! dc up -d >"$work/up.log" 2>&1; then
  cat "$work/up.log"
  exit 1
fi
echo "docker test: parliament up in $(( $(date +%s) - t )) s"

set +e
"$bin" "$@" &  # in the background, so a signal reaches the traps at once
child=$!
wait "$child"
status=$?
child=""
set -e
echo "docker test: $( [ $status -eq 0 ] && echo passed || echo FAILED ) in $(( $(date +%s) - start )) s in all"
