#!/usr/bin/env bash
# Makes the Docker base image debian:bookworm-slim on a host that has a Docker engine but no
# registry (no `docker pull`): debootstraps a minimal Debian 12 from Debian's package archive
# and imports it under that tag, so the Dockerfile's `FROM debian:bookworm-slim` builds with
# no pull. Does nothing when the image is already there (pulled or made earlier).
#
#   scripts/docker-base-image.sh            # make it if missing
#   FORCE=1 scripts/docker-base-image.sh    # make it again
#
# Needs root (debootstrap) or sudo; installs debootstrap with apt-get if it is missing.
# MIRROR=http://... picks another Debian mirror (default: deb.debian.org).
set -euo pipefail

image=debian:bookworm-slim
mirror=${MIRROR:-http://deb.debian.org/debian}

if ! command -v docker >/dev/null; then
  echo "docker-base-image: no docker command; install a Docker engine first" >&2
  exit 1
fi
if [ -z "${FORCE:-}" ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "docker-base-image: $image is already there"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v debootstrap >/dev/null && [ ! -x /usr/sbin/debootstrap ]; then
  echo "docker-base-image: installing debootstrap"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/bookworm-rootfs.XXXXXX")
trap '$sudo rm -rf "$root"' EXIT
echo "docker-base-image: debootstrapping Debian 12 (bookworm, minbase) from $mirror (about a minute)"
$sudo debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -20 "$root.log" >&2
  echo "docker-base-image: debootstrap failed (full log: $root.log)" >&2
  exit 1
}
rm -f "$root.log"

# Make it look like the official image: the same apt sources (with security updates), no
# package lists or downloaded .debs baked in.
$sudo rm -f "$root/etc/apt/sources.list"
$sudo tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
$sudo rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/log/*.log "$root"/tmp/*

echo "docker-base-image: importing as $image"
$sudo tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$image" >/dev/null
echo "docker-base-image: $image is ready ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
