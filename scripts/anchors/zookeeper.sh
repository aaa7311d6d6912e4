#!/usr/bin/env bash
# Runs write loads against a fresh ensemble of Debian's ZooKeeper on 127.0.0.1 and prints one
# RESULT line per load and run, as paxos-bench does (called by scripts/bench.sh --etcd).
#
#   scripts/anchors/zookeeper.sh MEMBERS LOAD...
#
# LOAD is NAME:CLIENTS:CONNS:TARGET:OP:VAL as for etcd.sh; OP must be put (an asynchronous
# setData of VAL bytes, zk_load.c); TARGET leader or all (sessions spread over every member;
# followers forward writes to the leader). Its line is labelled mMEMBERS-NAME. Knobs: RUNS=2
# DURATION=10 WARMUP=2 (seconds), PREWARM=15 (seconds of 64 clients before the first
# measurement, not reported: a fresh JVM is slow, and Debian's 3.8.0 can hold one early
# write until its session times out), BUILD_DIR, ZK_HEAP_MB=512.
# Member i listens on 127.0.0.1:2218i (quorum 2288i, election 2388i), with forceSync=yes (it
# fdatasyncs its log before it acknowledges) and its data in a temporary directory; it is
# stopped, by its PID, at the end. A system ZooKeeper service is never touched. Needs
# zookeeper and libzookeeper-mt-dev (scripts/bench.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

anchor_args zookeeper.sh "$@"
shift
PREWARM=${PREWARM:-15}
load_bin="$build/zk_load"
if [ ! -x "$load_bin" ] || [ "$here/zk_load.c" -nt "$load_bin" ]; then
  cc -O2 -Wall -o "$load_bin" "$here/zk_load.c" -lzookeeper_mt
fi
# Debian's classpath and main class for the server (zkEnv.sh), with our own conf directory.
{ read -r java; read -r main; read -r classpath; } < <(
  CLASSPATH="" JAVA="" ZOOMAIN=""
  . /usr/share/zookeeper/bin/zkEnv.sh >/dev/null 2>&1 || true
  printf '%s\n' "${JAVA:-java}" "${ZOOMAIN:-org.apache.zookeeper.server.quorum.QuorumPeerMain}" \
    "${CLASSPATH:-/usr/share/java/zookeeper.jar}")

begin_work zk-anchor

hosts=""
for i in $(seq "$members"); do hosts+="${hosts:+,}127.0.0.1:$((22180 + i))"; done
for i in $(seq "$members"); do
  mkdir -p "$work/z$i/conf" "$work/z$i/data"
  echo "$i" >"$work/z$i/data/myid"
  {
    echo "tickTime=2000"
    echo "initLimit=10"
    echo "syncLimit=5"
    echo "dataDir=$work/z$i/data"
    echo "clientPort=$((22180 + i))"
    echo "clientPortAddress=127.0.0.1"
    echo "forceSync=yes"
    echo "maxClientCnxns=0"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=srvr"
    for j in $(seq "$members"); do echo "server.$j=127.0.0.1:$((22880 + j)):$((23880 + j))"; done
  } >"$work/z$i/conf/zoo.cfg"
  echo "log4j.rootLogger=WARN, stderr" >"$work/z$i/conf/log4j.properties"
  "$java" -Xmx"${ZK_HEAP_MB:-512}"m -cp "$work/z$i/conf:${classpath#/etc/zookeeper/conf:}" \
    -Dzookeeper.log.dir="$work/z$i" "$main" "$work/z$i/conf/zoo.cfg" >"$work/z$i.log" 2>&1 &
  pids+=($!)
done

# mode PORT: "leader", "follower" or nothing, from the member's srvr answer.
mode() {
  local out
  out=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && echo srvr >&3 && cat <&3" 2>/dev/null) || true
  sed -n 's/^Mode: //p' <<<"$out"
}
leader=""
for _ in $(seq 300); do
  for i in $(seq "$members"); do
    [ "$(mode $((22180 + i)))" = leader ] && leader="127.0.0.1:$((22180 + i))" && break
  done
  [ -n "$leader" ] && break
  sleep 0.2
done
[ -n "$leader" ] || { echo "zookeeper.sh: no leader within 60 s" >&2; tail -3 "$work"/*.log >&2; exit 1; }
echo "# ZooKeeper: $members members, leader $leader" >&2
"$load_bin" "$leader" 64 8 100 "$PREWARM" 0 prewarm >/dev/null || true
"$load_bin" "$leader" 1 1 100 5 0 prewarm >/dev/null || true

for r in $(seq "$RUNS"); do
  for load in "$@"; do
    IFS=: read -r name clients conns target op val <<<"$load"
    [ "$op" = put ] || { echo "zookeeper.sh: only put loads (got $op)" >&2; continue; }
    at=$([ "$target" = all ] && echo "$hosts" || echo "$leader")
    measured "${pids[*]}" "$load_bin" "$at" "$clients" "$conns" "$val" "$DURATION" "$WARMUP" \
      "m$members-$name"
  done
done
