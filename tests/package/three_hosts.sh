#!/usr/bin/env bash
# The package test's second part: docs/OPERATIONS.md "Running on several machines" followed
# on three hosts, each a container of IMAGE (a fresh Debian 12 with the .deb installed, and
# curl to play Prometheus), on a network of their own where each answers to the example
# configuration's name (priest1.example.net ...). Run by tests/package/run.sh:
#
#   tests/package/three_hosts.sh IMAGE WORK_DIR
#
# Host 1 is also the god's host. The steps are the document's: the example configuration
# (with http_port) on every host; the certificates made once on the god's host and each host
# given only its own; each priest started as its unit starts it (tests/package/unit.sh),
# priest 3 with a PARLIAMENT_PRIEST_ARGS environment file; the god's one-shot bootstrap unit;
# an operator in group parliament-operators proposing with a named client certificate (a
# user outside the group cannot read its key); Prometheus' files at absolute paths with a key
# its user can read, scraping a priest over HTTPS; health naming a priest killed, and healthy
# again once its unit starts it; a fourth host given its own certificate and added by decree. The containers and the network are removed whatever happens.
set -euo pipefail
image=${1:?usage: three_hosts.sh IMAGE WORK_DIR}
work=${2:?usage: three_hosts.sh IMAGE WORK_DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
net=parliament-hosts-$$
name() { echo "parliament-host$1-$$"; }
say() { echo "package test (three hosts): $*"; }
fail() {
  say "FAILED: $*"
  for n in 1 2 3 4; do
    docker exec "$(name "$n")" bash -c "tail -5 /root/priest-$n.log" 2>/dev/null | sed "s/^/  priest $n: /" || true
  done
  exit 1
}
cleanup() {
  for n in 1 2 3 4; do docker rm -f "$(name "$n")" >/dev/null 2>&1 || true; done
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
on() { local n=$1; shift; docker exec "$(name "$n")" bash -c "$*"; }

docker network create "$net" >/dev/null
for n in 1 2 3 4; do
  docker run -d --name "$(name "$n")" --hostname "priest$n.example.net" --network "$net" \
    --network-alias "priest$n.example.net" --label parliament.test=package "$image" sleep infinity >/dev/null
  docker cp "$src/tests/package/unit.sh" "$(name "$n"):/root/unit.sh"
done
config=/etc/parliament/parliament.json
unit=/lib/systemd/system/paxos-priest@.service

# One configuration, the same on every host: the shipped example.
for n in 1 2 3; do on "$n" "cp /etc/parliament/parliament.json.example $config"; done

# Certificates, made once on the god's host; each host gets only its own.
on 1 "paxos-god --config $config certs --out /root/ca --client alice --client prometheus >/dev/null" ||
  fail "paxos-god certs on the god's host failed"
mkdir -p "$work/ca"
docker cp "$(name 1):/root/ca/." "$work/ca/"
for n in 1 2 3; do
  on "$n" "mkdir -p /etc/parliament/certs"
  for f in ca.crt "priest-$n.crt" "priest-$n.key"; do docker cp "$work/ca/$f" "$(name "$n"):/etc/parliament/certs/$f"; done
  on "$n" "chown -R root:parliament /etc/parliament/certs && chmod 0750 /etc/parliament/certs && chmod 0640 /etc/parliament/certs/*.key"
  [ "$(on "$n" "ls /etc/parliament/certs | tr '\n' ' '")" = "ca.crt priest-$n.crt priest-$n.key " ] ||
    fail "host $n holds more than ca.crt and its own pair"
done
# The god's files stay on its host, root only; the CA's key is not among them.
on 1 "mkdir -m 0700 /etc/parliament/god && cp /root/ca/ca.crt /root/ca/god.crt /root/ca/god.key /etc/parliament/god/"
# Priest 3 takes one more option from its environment file (an HTTP port of its own choosing).
on 3 "echo 'PARLIAMENT_PRIEST_ARGS=--http-port 8103 --http-listen 0.0.0.0' > /etc/parliament/priest-3.env"

# Each priest as its unit starts it.
for n in 1 2 3; do
  on "$n" "source /root/unit.sh && unit_start $unit $n /root/priest-$n.log && echo \$unit_pid > /root/priest-$n.pid" ||
    fail "priest $n did not start"
done
# The god's one-shot bootstrap unit, on its host.
on 1 "source /root/unit.sh && unit_command /lib/systemd/system/paxos-god-bootstrap.service 1 && \"\${unit_argv[@]}\" > /root/god.log 2>&1" ||
  fail "the bootstrap unit failed: $(on 1 'tail -5 /root/god.log')"
say "three priests started by their units, bootstrapped by the god's one-shot unit"

# An operator: a named client certificate in /etc/parliament/client, readable by the group.
on 2 "adduser --disabled-password --gecos '' alice >/dev/null && adduser alice parliament-operators >/dev/null && adduser --disabled-password --gecos '' bob >/dev/null"
for f in ca.crt client-alice.crt client-alice.key; do docker cp "$work/ca/$f" "$(name 2):/etc/parliament/client/$f"; done
on 2 "chgrp parliament-operators /etc/parliament/client/* && chmod 0640 /etc/parliament/client/*"
as_alice="paxos-client --config $config --certs /etc/parliament/client --client-name alice"
out=$(on 2 "su alice -c '$as_alice propose --timeout 20 \"The olive oil ration is doubled\"'") ||
  fail "alice could not propose: $out"
say "alice: $out"
[[ "$out" == "passed as decree "* ]] || fail "alice's decree did not pass: $out"
if out=$(on 2 "su bob -c '$as_alice status'" 2>&1); then fail "bob, outside the group, read alice's key: $out"; fi
[[ "$out" == *"Permission denied"* ]] || fail "bob was refused, but not for want of permission: $out"
say "bob, outside parliament-operators, is refused: $(echo "$out" | tail -1)"
out=$(on 2 "su alice -c '$as_alice health'") || fail "health is not 0: $out"
say "health: $out"

# Prometheus: its own client certificate at absolute paths, the key readable by its user.
on 1 "adduser --system --group prometheus >/dev/null && mkdir -p /etc/parliament/prometheus"
for f in ca.crt client-prometheus.crt client-prometheus.key; do docker cp "$work/ca/$f" "$(name 1):/etc/parliament/prometheus/$f"; done
on 1 "chown -R root:prometheus /etc/parliament/prometheus && chmod 0750 /etc/parliament/prometheus && chmod 0640 /etc/parliament/prometheus/*"
scrape="curl -sf --cacert /etc/parliament/prometheus/ca.crt --cert /etc/parliament/prometheus/client-prometheus.crt --key /etc/parliament/prometheus/client-prometheus.key"
for target in priest2.example.net:8100 priest3.example.net:8103; do
  out=$(on 1 "su prometheus -s /bin/sh -c '$scrape https://$target/metrics'") || fail "prometheus could not scrape $target"
  grep -q '^paxos_build_info' <<<"$out" || fail "$target's metrics lack paxos_build_info"
done
say "prometheus (its own user, absolute paths) scraped priest 2 and priest 3 over HTTPS"

# A priest killed: health names it; its unit starts it again; healthy once more.
on 2 'kill -9 "$(cat /root/priest-2.pid)"'
deadline=$((SECONDS + 20))
until out=$(on 3 "paxos-client --config $config --certs /etc/parliament/certs --priest-cert 3 health" 2>&1); [[ "$out" == *"priest 2 (priest2.example.net:7100) did not answer"* ]]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "health did not name the killed priest 2: $out"
  sleep 0.5
done
say "after kill -9 of priest 2, health says: $(grep 'priest 2' <<<"$out")"
on 2 "source /root/unit.sh && unit_start $unit 2 /root/priest-2.log.again && echo \$unit_pid > /root/priest-2.pid"
deadline=$((SECONDS + 30))
until on 3 "paxos-client --config $config --certs /etc/parliament/certs --priest-cert 3 health" >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || fail "not healthy again within 30 s of priest 2's restart"
  sleep 0.5
done
say "priest 2 started again by its unit: healthy"

# A new host: priest 4's pair made where the CA is (nothing else remade), only its own files
# copied to it, its unit told its address by its environment file, and added by the god.
on 1 "paxos-god --config $config certs --out /root/ca --priest 4" > "$work/certs-4.log" ||
  fail "certs --priest 4 failed: $(cat "$work/certs-4.log")"
grep -q "made /root/ca/priest-4.key" "$work/certs-4.log" || fail "priest 4's key was not made"
if grep -q "^made" <(grep -v "priest-4" "$work/certs-4.log"); then fail "certs --priest 4 remade another file"; fi
docker cp "$(name 1):/root/ca/priest-4.crt" "$work/ca/priest-4.crt"
docker cp "$(name 1):/root/ca/priest-4.key" "$work/ca/priest-4.key"
on 4 "cp /etc/parliament/parliament.json.example $config && mkdir -p /etc/parliament/certs"
for f in ca.crt priest-4.crt priest-4.key; do docker cp "$work/ca/$f" "$(name 4):/etc/parliament/certs/$f"; done
on 4 "chown -R root:parliament /etc/parliament/certs && chmod 0750 /etc/parliament/certs && chmod 0640 /etc/parliament/certs/*.key"
on 4 "echo 'PARLIAMENT_PRIEST_ARGS=--address priest4.example.net:7100 --listen 0.0.0.0' > /etc/parliament/priest-4.env"
on 4 "source /root/unit.sh && unit_start $unit 4 /root/priest-4.log && echo \$unit_pid > /root/priest-4.pid" ||
  fail "priest 4 did not start"
out=$(on 1 "paxos-god --config $config --certs /etc/parliament/god add 4 priest4.example.net:7100 --timeout 60" 2>&1) ||
  fail "add 4 failed: $out"
[[ "$out" == *"membership in force"*"4 priests"* ]] || fail "add 4 did not end with four priests: $out"
out=$(on 2 "su alice -c '$as_alice members'") || fail "members failed: $out"
[[ "$out" == *"priests 1, 2, 3, 4"* ]] || fail "the membership does not name priest 4: $out"
say "a new host: priest 4's own pair made where the CA is, its unit given --address, added: $(head -1 <<<"$out")"
