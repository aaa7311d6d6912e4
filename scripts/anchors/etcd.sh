#!/usr/bin/env bash
# Runs loads against a fresh etcd cluster of Debian's etcd-server on 127.0.0.1 and prints one
# RESULT line per load and run, as paxos-bench does (called by scripts/bench.sh --etcd).
#
#   scripts/anchors/etcd.sh MEMBERS LOAD...
#
# LOAD is NAME:CLIENTS:CONNS:TARGET:OP:VAL, e.g. c64-leader:64:8:leader:put:100; TARGET is
# leader or all (the connections spread over every member), OP put or get (a linearizable
# range read of one key). Its line is labelled mMEMBERS-NAME. Knobs: RUNS=2 DURATION=10
# WARMUP=2 (seconds), BUILD_DIR (where etcd_load is built; default a directory under /tmp).
# Member i listens on 127.0.0.1:2379i for clients and 2380i for peers (i = 1..9), keeps its
# data in a temporary directory, fdatasyncs its log before it acknowledges (etcd always does)
# and is stopped, by its PID, at the end. Needs etcd-server, etcd-client, golang-go and
# golang-etcd-server-dev (scripts/bench.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

anchor_args etcd.sh "$@"
shift
load_bin="$build/etcd_load"
if [ ! -x "$load_bin" ] || [ "$here/etcd_load.go" -nt "$load_bin" ]; then
  GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$build/gocache" GOFLAGS= \
    go build -o "$load_bin" "$here/etcd_load.go"
fi

begin_work etcd-anchor

cluster="" endpoints=""
for i in $(seq "$members"); do
  cluster+="${cluster:+,}e$i=http://127.0.0.1:$((23800 + i))"
  endpoints+="${endpoints:+,}127.0.0.1:$((23790 + i))"
done
for i in $(seq "$members"); do
  etcd --name "e$i" --data-dir "$work/e$i" \
    --listen-client-urls "http://127.0.0.1:$((23790 + i))" \
    --advertise-client-urls "http://127.0.0.1:$((23790 + i))" \
    --listen-peer-urls "http://127.0.0.1:$((23800 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((23800 + i))" \
    --initial-cluster "$cluster" --initial-cluster-state new \
    --initial-cluster-token "anchor-$$" --log-level warn --logger zap \
    >"$work/e$i.log" 2>&1 &
  pids+=($!)
done
export ETCDCTL_API=3
leader=""
for _ in $(seq 300); do
  leader=$(etcdctl --endpoints="$endpoints" --dial-timeout=1s endpoint status -w simple 2>/dev/null |
    awk -F', ' '$5 == "true" {print $1; exit}') || true
  [ -n "$leader" ] && break
  sleep 0.1
done
[ -n "$leader" ] || { echo "etcd.sh: no leader within 30 s" >&2; tail -3 "$work"/*.log >&2; exit 1; }
echo "# etcd $(etcd --version | awk 'NR==1{print $3}'): $members members, leader $leader" >&2

for r in $(seq "$RUNS"); do
  for load in "$@"; do
    IFS=: read -r name clients conns target op val <<<"$load"
    eps=$([ "$target" = all ] && echo "$endpoints" || echo "$leader")
    measured "${pids[*]}" "$load_bin" -endpoints "$eps" -clients "$clients" -conns "$conns" \
      -op "$op" -val "$val" -duration "${DURATION}s" -warmup "${WARMUP}s" \
      -label "m$members-$name"
  done
done
