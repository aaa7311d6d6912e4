#!/bin/sh
# parliament-keys: the docker parliament's one-shot `certs` service (runs as root in the
# image, before any priest starts). Keys stay home:
#
#   /data/certs/            every file paxos-god certs makes, ca.key and god.key included;
#                           root only (0700). The operator's copy, on the host in
#                           $PARLIAMENT_DATA/certs. Never mounted into a running priest.
#   /data/keys/priest-N/    ca.crt, priest-N.crt and priest-N.key, owned by the parliament
#                           user (uid 10001): all that priest N's container mounts.
#   /data/keys/god/         ca.crt, god.crt and god.key: all that the god's container mounts.
#   /data/priest-N/         priest N's data directory, owned by the parliament user.
#
# Usage: parliament-keys CONFIG [paxos-god certs options, e.g. --priest 6 --client NAME]
# Kept on later runs: paxos-god certs keeps the files it made; the copies are made again.
set -eu
uid=10001
config=${1:?usage: parliament-keys CONFIG [certs options]}
shift
paxos-god --config "$config" certs --out /data/certs "$@"
chmod 0700 /data/certs
copy_home() {  # copy_home DIR STEM: ca.crt and STEM.crt/.key into DIR, for the parliament user
  dir=$1 stem=$2
  mkdir -p "$dir"
  cp /data/certs/ca.crt "$dir/ca.crt"
  cp /data/certs/"$stem".crt "$dir/$stem.crt"
  cp /data/certs/"$stem".key "$dir/$stem.key"
  chmod 0644 "$dir/ca.crt" "$dir/$stem.crt"
  chmod 0600 "$dir/$stem.key"
  chown -R "$uid:$uid" "$dir"
  chmod 0700 "$dir"
}
mkdir -p /data/keys
chmod 0755 /data/keys
for crt in /data/certs/priest-*.crt; do
  [ -e "$crt" ] || continue
  stem=$(basename "$crt" .crt)
  copy_home "/data/keys/$stem" "$stem"
  mkdir -p "/data/$stem"
  chown -R "$uid:$uid" "/data/$stem"
done
copy_home /data/keys/god god
echo "parliament-keys: each priest's container gets only ca.crt and its own pair (/data/keys/priest-N); the god's, god.* (/data/keys/god)"
