#!/usr/bin/env bash
# The "package" test's checks, run by tests/package/run.sh inside a throw-away Debian 12
# container where the .deb has just been installed. Not meant to be run elsewhere: it writes
# /etc/parliament and starts a priest.
#
# There is no systemd in the container, so this does for instance 1 what systemd does with
# the installed unit: the [Service] section's User, Group, UMask and StateDirectory (made
# under /var/lib, owned by the user, StateDirectoryMode), then ExecStart with %i = 1, run in
# the background. The unit's sandboxing options (ProtectSystem= and the rest) are not
# applied here. Every wait has a deadline.
set -euo pipefail
unit=/lib/systemd/system/paxos-priest@.service
config=/etc/parliament/parliament.json
certs=/etc/parliament/certs
log=/root/priest-1.log
pid=""

say() { echo "package test: $*"; }
fail() {
  say "FAILED: $*"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  if [ -s "$log" ]; then
    say "the priest's log (last 20 lines):"
    tail -20 "$log"
  fi
  exit 1
}

# What the package put where.
for f in /usr/bin/paxos-priest /usr/bin/paxos-god /usr/bin/paxos-client /usr/bin/paxos-bench; do
  [ -x "$f" ] || fail "$f is not installed"
done
for f in "$unit" /lib/systemd/system/paxos-god-bootstrap.service /etc/parliament/parliament.json.example /usr/share/doc/paxos-parliament/README.md \
         /usr/share/doc/paxos-parliament/docs/OPERATIONS.md /usr/share/doc/paxos-parliament/docs/PROTOCOL.md \
         /usr/share/doc/paxos-parliament/examples/parliament.json \
         /usr/share/doc/paxos-parliament/docs/CLIENT.md \
         /usr/share/doc/paxos-parliament/examples/client/decree.cpp \
         /usr/include/parliament/client.hpp /usr/include/parliament/code.hpp \
         /usr/lib/libparliament-client.a /usr/lib/cmake/parliament-client/parliament-client-config.cmake \
         /usr/lib/pkgconfig/parliament-client.pc; do
  [ -f "$f" ] || fail "$f is not installed"
done
getent passwd parliament >/dev/null || fail "the postinst did not make the user parliament"
getent group parliament-operators >/dev/null || fail "the postinst did not make the group parliament-operators"
[ "$(stat -c '%U:%G %a' /etc/parliament/client)" = "root:parliament-operators 750" ] ||
  fail "/etc/parliament/client is $(stat -c '%U:%G %a' /etc/parliament/client), not root:parliament-operators 750"
# The shipped example must be a configuration the installed programs accept.
paxos-god --config /etc/parliament/parliament.json.example certs --out /root/example-certs >/dev/null ||
  fail "paxos-god does not accept /etc/parliament/parliament.json.example"

# The unit's [Service] settings, as systemd reads them (tests/package/unit.sh).
source /root/unit.sh
why=$(unit_command "$unit" 1) || fail "$unit: $why"
unit_command "$unit" 1
user=$unit_user
group=$unit_group
say "ExecStart of priest 1: ${unit_argv[*]} (as $user:$group)"
[ "$user" != root ] || fail "$unit has no User (this test expects the priest to run as a system user)"

# A configuration of one priest, and its certificates, as docs/OPERATIONS.md says.
mkdir -p /etc/parliament
cat >"$config" <<'JSON'
{
  "priests": [{"id": 1, "host": "127.0.0.1", "port": 7101}],
  "tls": true,
  "certs": "/etc/parliament/certs"
}
JSON
paxos-god --config "$config" certs --out "$certs" >/dev/null || fail "paxos-god certs failed"
chown -R "root:$group" "$certs"
chmod 0750 "$certs"
chmod 0640 "$certs"/*.key

# What systemd does: its StateDirectory, then ExecStart as its user.
unit_start "$unit" 1 "$log" || fail "cannot start $unit for instance 1"
pid=$unit_pid

client() { paxos-client --config "$config" "$@"; }
# Up: it answers status (not yet bootstrapped), or it exited (a start failure).
deadline=$((SECONDS + 20))
until client status --json 2>/dev/null | grep -q '"answered":true'; do
  kill -0 "$pid" 2>/dev/null || { wait "$pid" && code=0 || code=$?; fail "the priest exited with code $code at start"; }
  [ "$SECONDS" -lt "$deadline" ] || fail "the priest did not answer status within 20 s"
  sleep 0.2
done
runs_as=$(stat -c %U "/proc/$pid")
[ "$runs_as" = "$user" ] || fail "the priest runs as $runs_as, not as $user"
say "priest 1 answers; it runs as $runs_as"

paxos-god --config "$config" bootstrap --timeout 20 || fail "paxos-god bootstrap failed"
out=$(client propose --json --timeout 10 hello) || fail "paxos-client propose hello failed: $out"
say "propose: $out"
[[ "$out" == *'"passed":true'* && "$out" == *'"decree_no":1'* ]] || fail "hello did not pass as decree 1"
out=$(client status --json) || fail "paxos-client status --json failed: $out"
say "status: $out"
[[ "$out" == *'"answered":true'* ]] || fail "priest 1 did not answer status"
[[ "$out" == *'"role":"president"'* ]] || fail "priest 1 is not president"
[[ "$out" == *'"passed_len":1'* ]] || fail "priest 1's ledger does not hold exactly one decree"
[[ "$out" != *'"halted"'* ]] || fail "priest 1 halted"

# Its files are where docs/OPERATIONS.md says, made by its user.
data=/var/lib/parliament/priest-1
grep -q ',hello,' "$data/ledger.csv" || fail "$data/ledger.csv does not hold hello"
owner=$(stat -c %U "$data/ledger.csv")
[ "$owner" = "$user" ] || fail "$data/ledger.csv belongs to $owner, not $user"

# systemctl stop: SIGTERM, and the priest exits 0 (anything else would count as a failure and,
# with Restart=on-failure, be restarted).
kill -TERM "$pid"
deadline=$((SECONDS + 30))
while kill -0 "$pid" 2>/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || fail "the priest did not exit within 30 s of SIGTERM"
  sleep 0.1
done
wait "$pid" && code=0 || code=$?
pid=""
[ "$code" -eq 0 ] || fail "the priest exited with code $code on SIGTERM"
say "priest 1 passed hello as decree 1 and stopped cleanly on SIGTERM"
