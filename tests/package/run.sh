#!/usr/bin/env bash
# CTest's "package" test: the .deb on a fresh Debian 12, and a priest started the way its
# systemd unit starts it (docs/OPERATIONS.md "Running on several machines").
#
#   tests/package/run.sh BUILD_DIR
#
# Skips (exit 77, one line saying why) when there is no Docker engine or
# PARLIAMENT_DOCKER_TESTS=0. Otherwise:
#   1. cpack makes paxos-parliament_*.deb from BUILD_DIR (into a temporary directory);
#   2. scripts/docker-base-image.sh makes the image debian:bookworm-slim if it is missing
#      (debootstrap + docker import: no registry, no pulls);
#   3. a throw-away container of that image gets the .deb and `apt-get install`s it, its
#      dependencies coming from Debian's archive;
#   4. inside it (tests/package/in_container.sh): checks what the package installed, makes a
#      one-priest configuration and its certificates as docs/OPERATIONS.md says, reads the installed
#      unit paxos-priest@.service and does what systemd would for instance 1 (its User,
#      Group, UMask, StateDirectory, then ExecStart with %i = 1), bootstraps the priest with
#      paxos-god, passes a decree with paxos-client and checks status --json; finally stops
#      the priest with SIGTERM, as systemctl stop does, and expects exit code 0;
#   5. tests/package/three_hosts.sh: the several-machines walk-through on three containers of
#      an image of that container (certificates per host, the units, the god's one-shot
#      bootstrap, an operator's group, Prometheus' key, health through a kill -9).
# The container is removed whatever happens. On failure the .deb and the priest's log stay
# in the temporary directory, which is named.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
image=debian:bookworm-slim

skip() { echo "package test SKIPPED: $*"; exit 77; }
say() { echo "package test: $*"; }
if [ "${PARLIAMENT_DOCKER_TESTS:-1}" = 0 ]; then
  skip "PARLIAMENT_DOCKER_TESTS=0 in the environment"
fi
command -v docker >/dev/null || skip "no docker command on this machine"
if ! why=$(docker info --format '{{.ServerVersion}}' 2>&1); then
  skip "no Docker engine answers ($(echo "$why" | tail -1))"
fi

start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start )) s"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/parliament-package.XXXXXX")
container=parliament-package-$$
hosts_image=parliament-package-hosts:$$
status=1
finish() {
  trap - EXIT INT TERM
  docker rm -f "$container" >/dev/null 2>&1 || true
  docker rmi "$hosts_image" >/dev/null 2>&1 || true
  if [ "$status" -eq 0 ]; then
    rm -rf "$work"
    say "passed in $(elapsed)"
  else
    say "FAILED after $(elapsed); the .deb and logs are in $work"
  fi
  exit "$status"
}
trap finish EXIT
trap 'status=130; exit' INT TERM

# 1. The .deb. CPack's Depends come from dpkg-shlibdeps (dpkg-dev), which CPack runs only
#    when `file` is there too.
missing=()
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
command -v file >/dev/null || missing+=(file)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  say "installing ${missing[*]} (cpack needs them to compute the package's dependencies)"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
           --no-install-recommends "${missing[@]}" >/dev/null; }; then
    say "cannot install ${missing[*]}: install them (apt-get install ${missing[*]}) and run again"
    exit 1
  fi
fi
[ -f "$build/CPackConfig.cmake" ] || { say "$build/CPackConfig.cmake is missing: configure $build with cmake"; exit 1; }
for b in paxos-priest paxos-god paxos-client paxos-bench; do
  [ -x "$build/bin/$b" ] || { say "$build/bin/$b is missing: build $build first"; exit 1; }
done
if ! (cd "$build" && cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/cpack") >"$work/cpack.log" 2>&1; then
  tail -20 "$work/cpack.log"
  say "cpack failed (log: $work/cpack.log)"
  exit 1
fi
debs=("$work"/cpack/paxos-parliament_*.deb)
[ -f "${debs[0]}" ] && [ ${#debs[@]} -eq 1 ] || { say "cpack made no single paxos-parliament_*.deb in $work/cpack"; exit 1; }
deb=${debs[0]}
say "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB) in $(elapsed); $(dpkg-deb -f "$deb" Depends | sed 's/^/Depends: /')"

# 2. The base image, made locally if missing.
"$src/scripts/docker-base-image.sh"

# 3. A fresh Debian 12 with the package installed.
docker run -d --name "$container" --label parliament.test=package "$image" sleep infinity >/dev/null
docker cp "$deb" "$container:/root/"
docker cp "$src/tests/package/in_container.sh" "$container:/root/in_container.sh"
docker cp "$src/tests/package/unit.sh" "$container:/root/unit.sh"
t=$(date +%s)
if ! timeout 300 docker exec -e DEBIAN_FRONTEND=noninteractive "$container" bash -c \
      'apt-get update -qq && apt-get install -y -qq --no-install-recommends /root/paxos-parliament_*.deb' \
      >"$work/apt.log" 2>&1; then
  tail -20 "$work/apt.log"
  say "apt-get could not install the package in a fresh $image (log: $work/apt.log)"
  exit 1
fi
say "installed with apt-get in $(( $(date +%s) - t )) s"

# 4. The priest, as its unit starts it.
set +e
timeout 120 docker exec "$container" bash /root/in_container.sh
status=$?
set -e
if [ "$status" -ne 0 ]; then
  [ "$status" -eq 124 ] && say "the checks in the container did not finish within 120 s"
  docker cp "$container:/root/priest-1.log" "$work/priest-1.log" >/dev/null 2>&1 || true
  status=1
  exit 1
fi

# 5. Three hosts, as docs/OPERATIONS.md "Running on several machines" says, from an image of
#    this container (the package installed; curl added only now, to play Prometheus, so that
#    it could not have supplied a library the package fails to depend on).
status=1
if ! timeout 300 docker exec -e DEBIAN_FRONTEND=noninteractive "$container" bash -c \
      'apt-get install -y -qq --no-install-recommends curl ca-certificates && rm -rf /var/lib/parliament/* /etc/parliament/certs /etc/parliament/parliament.json' \
      >"$work/apt-curl.log" 2>&1; then
  tail -5 "$work/apt-curl.log"
  say "could not install curl in the container (log: $work/apt-curl.log)"
  exit 1
fi
docker commit "$container" "$hosts_image" >/dev/null
set +e
timeout 420 "$src/tests/package/three_hosts.sh" "$hosts_image" "$work"
status=$?
set -e
[ "$status" -eq 124 ] && say "the three-host walk-through did not finish within 420 s"
[ "$status" -eq 0 ] || status=1
