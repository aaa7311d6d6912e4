#!/usr/bin/env bash
# Benchmarks the parliament on this machine and, with --etcd, etcd and ZooKeeper on the same
# machine in the same session, and writes the three side by side to docs/BENCHMARKS.md.
#
#   scripts/bench.sh --etcd        the whole comparison: the disk's fdatasync floor (one
#                                  writer, and three at once); the standard loads (1 client;
#                                  CLIENTS over CONNS to the president/leader; the same
#                                  spread over every member) with 5, 3 and 7 members; at 5
#                                  members also 1 KiB and 16 KiB values, linearizable reads
#                                  (CLIENTS, and 1 client), and (ours only) BIG_CLIENTS
#                                  clients and 100 watchers. Ours with mutual TLS, etcd's and
#                                  ZooKeeper's plaintext, all driven by this repository's
#                                  scripts/anchors/ (Debian's etcd-server and zookeeper,
#                                  installed if missing). Writes docs/BENCHMARKS.md, with the
#                                  project's targets checked. About 20 minutes.
#   scripts/bench.sh               ours only, the standard loads (printed; docs untouched)
#                                  The session's RESULT lines are kept in build/bench-last/.
#   scripts/bench.sh --report DIR  writes docs/BENCHMARKS.md again from the RESULT lines kept
#                                  in DIR (results.txt, etcd.txt, zk.txt, disk.txt), running
#                                  nothing
#   scripts/bench.sh --smoke       a few seconds, any figure: proves the tool works (CTest)
#   scripts/bench.sh --big         pass BIG_DECREES (1,000,000) decrees, then report each
#                                  priest's resident memory and how long a follower takes
#                                  from restart to following the president with the whole
#                                  ledger again
#
# Every line of figures is a RESULT line: paxos-bench's (or the anchors' drivers', in the same
# form) with host_cpu_busy and steal (the whole machine), cpu_us_op (the members' own CPU,
# from /proc, per request answered) and cpu_probe_ms (the CPU's own speed around the load:
# scripts/anchors/lib.sh) added, and on ours ballot_decrees (decrees per begin ballot, from
# the priests' events.jsonl: how far the president batched).
# Knobs: RUNS=2 DURATION=10 WARMUP=2 VAL=100 CLIENTS=64 CONNS=8, TLS=both|on|off (which
# parliaments to measure: mutual TLS, the default, labelled m5-..., and plaintext, labelled
# m5-...-plain; --etcd, --smoke and --big use TLS only), PRIESTS="5 3" (the parliaments' sizes
# of the standard loads; --etcd uses "5 3 7", --smoke "5 3", --big five priests),
# PARLIAMENT_BIN=DIR (the programs to measure, e.g. another commit's build/bin for a
# before/after comparison: nothing is built then; without it, scripts/setup.sh builds build/),
# BIG_CLIENTS=1000 BIG_CONNS=100, STEAL_MAX=10 STEAL_TRIES=3 (a run during which the hypervisor
# took STEAL_MAX % of the CPU runs again, up to STEAL_TRIES runs: scripts/anchors/lib.sh,
# measured; the ballots counted for ballot_decrees are those of all its runs). Relative paths
# in PARLIAMENT_BIN are taken from the repository's root.
# Starts fresh parliaments (PRIESTS, in that order) on 127.0.0.1:7301.. with their data in a
# temporary directory, durability on (every priest fdatasyncs before it votes), and stops
# only the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=ours
case "${1:-}" in
  --etcd) mode=etcd ;;
  --smoke) mode=smoke ;;
  --big) mode=big ;;
  --report)
    mode=report
    saved=$(cd "${2:?usage: scripts/bench.sh --report DIR}" && pwd)
    ;;
  "") ;;
  *) echo "usage: scripts/bench.sh [--etcd | --smoke | --big | --report DIR]" >&2; exit 2 ;;
esac

RUNS=${RUNS:-2}
PRIESTS=${PRIESTS:-5 3}
case "$mode" in
  etcd) PRIESTS="5 3 7" ;;
  smoke) PRIESTS="5 3" ;;  # the smoke's three lines
esac
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
VAL=${VAL:-100}
CLIENTS=${CLIENTS:-64}
CONNS=${CONNS:-8}
if [ "$mode" = etcd ]; then TLS=on; else TLS=${TLS:-both}; fi
. scripts/anchors/lib.sh  # measured: the members' CPU per request
BIG_CLIENTS=${BIG_CLIENTS:-1000}  # the many-clients load (five priests): BIG_CLIENTS over BIG_CONNS
BIG_CONNS=${BIG_CONNS:-100}
case "$TLS" in
  both) tls_modes="on off" ;;
  on|off) tls_modes=$TLS ;;
  *) echo "bench: TLS must be both, on or off" >&2; exit 2 ;;
esac
[ "$mode" = ours ] || [ "$mode" = etcd ] || tls_modes=on
# PARLIAMENT_BIN: other binaries, e.g. for a before/after comparison (built by whoever made
# them: nothing is built here then).
bin=${PARLIAMENT_BIN:-build/bin}
if [ "$mode" = smoke ]; then
  RUNS=1 DURATION=1 WARMUP=0.5
elif [ -z "${PARLIAMENT_BIN:-}" ] && [ "$mode" != report ]; then
  scripts/setup.sh >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/parliament-bench.XXXXXX")
god_pid=""
extra_pid=""
stop_parliament() {
  if [ -n "$extra_pid" ]; then
    kill -TERM "$extra_pid" 2>/dev/null || true
    wait "$extra_pid" 2>/dev/null || true
    extra_pid=""
  fi
  if [ -n "$god_pid" ]; then
    kill -TERM "$god_pid" 2>/dev/null || true
    wait "$god_pid" 2>/dev/null || true
    god_pid=""
  fi
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_parliament
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT INT TERM

# start_parliament N [off]: N priests on 127.0.0.1:7301.., waits until one is president;
# with "off", plaintext ("tls": false). Certificates are made by paxos-god up in $work/certs.
start_parliament() {
  local n=$1 cfg="$work/parliament-$1.json" sep=""
  {
    if [ "${2:-on}" = off ]; then echo '{"tls": false, "priests": ['; else echo '{"priests": ['; fi
    for i in $(seq "$n"); do
      echo "$sep {\"id\": $i, \"host\": \"127.0.0.1\", \"port\": $((7300 + i))}"
      sep=","
    done
    echo ']}'
  } >"$cfg"
  "$bin/paxos-god" --config "$cfg" up --data-dir "$work/data-$n" >"$work/god-$n.log" 2>&1 &
  god_pid=$!
  for _ in $(seq 100); do
    if "$bin/paxos-client" --config "$cfg" status --json 2>/dev/null | grep -q '"role":"president"'; then
      return 0
    fi
    kill -0 "$god_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: the parliament of $n did not elect a president; its log:" >&2
  tail -20 "$work/god-$n.log" >&2
  exit 1
}

# passed_len PORT: how many decrees the priest at 127.0.0.1:PORT has in its ledger.
passed_len() {
  "$bin/paxos-client" --cluster "127.0.0.1:$1" --certs "$work/certs" status --json 2>/dev/null |
    sed -n 's/.*"passed_len":\([0-9]*\).*/\1/p'
}

if [ "$mode" = big ]; then
  want=${BIG_DECREES:-1000000}
  start_parliament 5
  cfg="$work/parliament-5.json"
  while [ "$(passed_len 7301 || echo 0)" -lt "$want" ] 2>/dev/null; do
    "$bin/paxos-bench" --config "$cfg" --label big --clients "$CLIENTS" --conns "$CONNS" \
      --val "$VAL" --duration 20 --warmup 0 | grep RESULT
    echo "# priest 1 holds $(passed_len 7301) decrees" >&2
  done
  rss_max=0
  for i in 1 2 3 4 5; do
    pid=$(pgrep -f "paxos-priest --config $cfg --id $i " | head -1)
    rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")
    echo "# priest $i: resident set $((rss / 1024)) MiB" >&2
    [ "$rss" -gt "$rss_max" ] && rss_max=$rss
  done
  # Restart a follower with kill -9, time it back to following with the whole ledger.
  victim=""
  for i in 5 4 3 2 1; do
    "$bin/paxos-client" --cluster "127.0.0.1:$((7300 + i))" --certs "$work/certs" status --json | grep -q '"role":"follower"' &&
      victim=$i && break
  done
  len=$(passed_len 7301)
  pkill -9 -f "paxos-priest --config $cfg --id $victim " || true
  sleep 0.5
  t0=$(date +%s%N)
  "$bin/paxos-priest" --config "$cfg" --id "$victim" --data-dir "$work/data-5/priest-$victim" \
    >"$work/restart.log" 2>&1 &
  extra_pid=$!
  back=""
  for _ in $(seq 600); do
    st=$("$bin/paxos-client" --cluster "127.0.0.1:$((7300 + victim))" --certs "$work/certs" status --json 2>/dev/null || true)
    n=$(echo "$st" | sed -n 's/.*"passed_len":\([0-9]*\).*/\1/p')
    if echo "$st" | grep -q '"role":"follower"' && echo "$st" | grep -q '"president":[0-9]' &&
       [ -n "$n" ] && [ "$n" -ge "$len" ]; then
      back=$(( ($(date +%s%N) - t0) / 1000000 ))
      break
    fi
    sleep 0.01
  done
  echo "RESULT label=m5-big decrees=$len rss_max_mib=$((rss_max / 1024)) restart_ms=${back:-timeout}"
  exit 0
fi

results="$work/results.txt"
: >"$results"
[ "$mode" = report ] && PRIESTS=""  # nothing is run: the tables are written from $saved
# The loads, NAME:CLIENTS:CONNS:TARGET:OP:VAL, as scripts/anchors/ takes them: the standard
# ones for every size, and at five members the larger values and the reads.
hi="c$CLIENTS"
standard="c1-leader:1:1:leader:put:$VAL $hi-leader:$CLIENTS:$CONNS:leader:put:$VAL $hi-all:$CLIENTS:$CONNS:all:put:$VAL"
larger="$hi-leader-1k:$CLIENTS:$CONNS:leader:put:1024 $hi-leader-16k:$CLIENTS:$CONNS:leader:put:16384"
# (c1-read: one client's linearizable reads, the round to a majority without the disk)
reads="$hi-read:$CLIENTS:$CONNS:leader:get:$VAL c1-read:1:1:leader:get:$VAL"
loads_of() { # members -> the loads of the comparison at that size
  # (the reads before the larger values: each reads the latest decree, one of VAL bytes)
  if [ "$1" = 5 ] && [ "$mode" = etcd ]; then echo "$standard $reads $larger"; else echo "$standard"; fi
}

# load N SPEC [WATCHERS [SUFFIX]]: one run of paxos-bench on the parliament of N, as measured.
load() {
  local n=$1 name clients conns target op val
  IFS=: read -r name clients conns target op val <<<"$2"
  local args=(--config "$work/parliament-$n.json" --label "m$n-$name${4:-}$suffix"
    --clients "$clients" --conns "$conns" --val "$val" --duration "$DURATION" --warmup "$WARMUP"
    --target "$([ "$target" = all ] && echo all || echo president)"
    --op "$([ "$op" = get ] && echo read || echo propose)" --watchers "${3:-0}")
  local t0 line
  t0=$(date +%s%3N)
  line=$(measured "$(pgrep -d ' ' -f "paxos-priest --config $work/parliament-$n.json " || true)" \
    "$bin/paxos-bench" "${args[@]}")
  [ -n "$line" ] || return 0
  sed "s/ host_cpu_busy=/ ballot_decrees=$(ballot_decrees "$n" "$t0" "$(date +%s%3N)") host_cpu_busy=/" \
    <<<"$line" | tee -a "$results"
}

# ballot_decrees N T0 T1: decrees per begin ballot from T0 to T1 (ms since the epoch), from
# the ballot events of the parliament of N (events.jsonl): how far the president batched.
ballot_decrees() {
  cat "$work/data-$1"/priest-*/events.jsonl 2>/dev/null | grep '"kind":"begin"' |
    sed -n 's/.*"t":\([0-9]*\),.*"from":\([0-9]*\),"to":\([0-9]*\).*/\1 \2 \3/p' |
    awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b { n++; d += $3 - $2 + 1 }
      END { printf "%.1f", n ? d / n : 0 }'
}

for n in $PRIESTS; do
  for t in $tls_modes; do
    suffix=$([ "$t" = off ] && echo -plain || true)
    start_parliament "$n" "$t"
    for r in $(seq "$RUNS"); do
      echo "# parliament of $n, TLS $t, round $r/$RUNS (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
      for spec in $(loads_of "$n"); do load "$n" "$spec"; done
      if [ "$n" = 5 ] && [ "$mode" != smoke ]; then
        load 5 "c$BIG_CLIENTS-leader:$BIG_CLIENTS:$BIG_CONNS:leader:put:$VAL"
        [ "$mode" = etcd ] && load 5 "$hi-leader:$CLIENTS:$CONNS:leader:put:$VAL" 100 -w100
      fi
    done
    stop_parliament
  done
  [ "$mode" = smoke ] && break
done
# TLS on against off, load by load (ours only: etcd's figures are without TLS).
if [[ "$tls_modes" == "on off" ]]; then
  echo "# TLS on / off, the lowest ops/s of the runs:" >&2
  for l in $(grep -o '^RESULT label=[^ ]*' "$results" | sed 's/^RESULT label=//' | grep -v -- '-plain$' | sort -u); do
    on=$(grep "^RESULT label=$l " "$results" | sed -n 's/.* ops_s=\([^ ]*\).*/\1/p' | sort -g | head -1)
    off=$(grep "^RESULT label=$l-plain " "$results" | sed -n 's/.* ops_s=\([^ ]*\).*/\1/p' | sort -g | head -1)
    echo "TLS label=$l on_ops_s=$on off_ops_s=$off" | awk '{split($3,a,"=");split($4,b,"="); printf "%s on/off=%.2f\n", $0, (b[2]>0?a[2]/b[2]:0)}'
  done
fi

if [ "$mode" = smoke ]; then
  # Every line must be a RESULT line with figures; the figures themselves are not judged.
  n=$(grep -c '^RESULT label=.* ops_s=[0-9.]* .*p99_ms=[0-9.]* .*max_ms=[0-9.]* .*cpu_us_op=[0-9.]* cpu_probe_ms=[0-9]*$' "$results" || true)
  [ "$n" -eq 3 ] || { echo "bench smoke: expected 3 RESULT lines, got $n" >&2; exit 1; }
  echo "bench smoke: 3 RESULT lines"
  exit 0
fi
[ "$mode" = etcd ] || [ "$mode" = report ] || exit 0

# ---------------------------------------------------------------- etcd and ZooKeeper, same machine, same session
etcd_results="$work/etcd.txt" zk_results="$work/zk.txt" disk_results="$work/disk.txt"
if [ "$mode" = report ]; then
  cp "$saved/results.txt" "$saved/etcd.txt" "$saved/zk.txt" "$saved/disk.txt" "$work/"
else
  need=()
  for p in etcd-server etcd-client golang-go golang-etcd-server-dev zookeeper libzookeeper-mt-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  fi
  export RUNS DURATION WARMUP BUILD_DIR="$work/anchors-build"
  for n in 5 3 7; do
    # shellcheck disable=SC2046
    scripts/anchors/etcd.sh "$n" $(loads_of "$n") | tee -a "$etcd_results" >&2
    # shellcheck disable=SC2046
    scripts/anchors/zookeeper.sh "$n" $(loads_of "$n" | tr ' ' '\n' | grep -v ':get:') |
      tee -a "$zk_results" >&2
  done
  # The CPU's own speed on the quiet machine: the same fixed work, 20 times, half a second apart.
  for _ in $(seq 20); do cpu_probe; echo; sleep 0.5; done | sort -g |
    awk '{a[NR] = $1} END { printf "RESULT cpu=probe tries=%d min_ms=%d p50_ms=%d max_ms=%d\n",
      NR, a[1], a[int((NR + 1) / 2)], a[NR] }' | tee -a "$disk_results" >&2
  # The disk under the data: one 100 B record per fdatasync, then 64; then one record each
  # by three writers at once, the flushes a ballot of five waits for (twice each).
  cc -O2 -pthread -o "$work/disk_probe" scripts/anchors/disk_probe.c
  for _ in 1 2; do
    for batch in 1 64; do "$work/disk_probe" "$work" 2000 "$batch" 100 | tee -a "$disk_results" >&2; done
    "$work/disk_probe" "$work" 2000 1 100 3 | tee -a "$disk_results" >&2
  done

  # Kept, so that the tables can be written again from them: scripts/bench.sh --report DIR.
  mkdir -p build/bench-last
  cp "$results" "$etcd_results" "$zk_results" "$disk_results" build/bench-last/
  echo "bench: the session's RESULT lines are kept in build/bench-last/" >&2
fi
# ---------------------------------------------------------------- docs/BENCHMARKS.md
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
lines_of() { grep "^RESULT label=$2 " "$1" || true; }  # file label -> its RESULT lines (or none)
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
median_hi() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int(NR/2)+1]; else print "-"}'; }
stat_of() { # file label field -> median over runs; of two, the worse (lower ops/s, higher ms, CPU)
  case "$3" in
    *_ms | cpu_us_op) lines_of "$1" "$2" | field "$3" | median_hi ;;
    *) lines_of "$1" "$2" | field "$3" | median ;;
  esac
}
sum_of() { # file label field -> sum over runs
  lines_of "$1" "$2" | field "$3" | awk '{s+=$1} END {print s+0}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.1fx", a / b; else print "-" }'; }
frac() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else print "-" }'; }
# met VALUE OP BOUND: "yes" or "**no**" (OP: ge or le); "-" when a figure is missing.
met() { awk -v v="$1" -v op="$2" -v b="$3" 'BEGIN { if (v == "-" || v == "") { print "-"; exit }
  ok = op == "ge" ? v + 0 >= b + 0 : v + 0 <= b + 0; print ok ? "yes" : "**no**" }'; }
spread() { # file label -> highest / lowest ops/s over the runs (four decimals: sorted, then shown with two)
  lines_of "$1" "$2" | field ops_s | sort -g |
    awk 'NR == 1 {lo = $1} {hi = $1} END { if (NR > 1 && lo > 0) printf "%.4f", hi / lo; else print "-" }'
}
# explained file label -> "yes" when the load's slowest run spent at least three quarters of
# its shortfall as more CPU per request than the fastest, with batching alike (decrees per
# ballot within 10 %): the same work done by a CPU that did less per second. Else "no".
explained() {
  lines_of "$1" "$2" | awk '{
    split("", f)
    for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    ops[NR] = f["ops_s"] + 0; cpu[NR] = f["cpu_us_op"] + 0; bal[NR] = f["ballot_decrees"] + 0
  } END {
    lo = hi = 1
    for (i = 2; i <= NR; i++) { if (ops[i] < ops[lo]) lo = i; if (ops[i] > ops[hi]) hi = i }
    if (NR < 2 || ops[lo] <= 0 || cpu[hi] <= 0) { print "no"; exit }
    b = bal[lo] > bal[hi] ? bal[lo] / (bal[hi] > 0 ? bal[hi] : 1) : bal[hi] / (bal[lo] > 0 ? bal[lo] : 1)
    alike = (bal[lo] == 0 && bal[hi] == 0) || b <= 1.10
    print (alike && cpu[lo] / cpu[hi] >= 1 + 0.75 * (ops[hi] / ops[lo] - 1)) ? "yes" : "no"
  }'
}
names="c1-leader:1 client -> president/leader
$hi-leader:$CLIENTS clients / $CONNS conns -> president/leader
$hi-all:$CLIENTS clients / $CONNS conns -> all members
$hi-leader-1k:$CLIENTS clients, 1 KiB values -> president/leader
$hi-leader-16k:$CLIENTS clients, 16 KiB values -> president/leader
$hi-read:$CLIENTS clients, linearizable reads -> president/leader
c1-read:1 client, linearizable reads -> president/leader
c$BIG_CLIENTS-leader:$BIG_CLIENTS clients / $BIG_CONNS conns -> president (ours only)
$hi-leader-w100:$CLIENTS clients -> president, 100 watchers (ours only)"
rows() { # members -> the rows of that size: m<N>-<name>:<description>
  while IFS= read -r line; do
    l="m$1-${line%%:*}"
    grep -q "^RESULT label=$l " "$results" "$etcd_results" "$zk_results" && echo "$l:${line#*:}"
  done <<<"$names"
}
disk() { # batch [writers] -> the fdatasync p50 (of the slowest writer of each round)
  if [ -n "${2:-}" ]; then grep "^RESULT disk=fdatasync .* batch=$1 writers=$2 " "$disk_results"
  else grep "^RESULT disk=fdatasync .* batch=$1 syncs=" "$disk_results"; fi | field p50_ms | median_hi
}
{
  echo "# Benchmarks"
  echo
  echo "Measured by \`scripts/bench.sh --etcd\` on $(date -u +%Y-%m-%d), one session, one machine:"
  echo "$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)),"
  echo "$(free -g | awk '/^Mem:/{print $2}') GiB RAM, kernel $(uname -r), data on"
  echo "$(stat -f -c %T "$work") ($(df --output=source "$work" | tail -1)). Every priest, every etcd member and"
  echo "every ZooKeeper member (forceSync) fdatasyncs before it acknowledges; all members and the"
  echo "load generator share the CPUs. The parliament runs with mutual TLS, etcd $(etcd --version | awk 'NR==1{print $3}')"
  echo "and ZooKeeper $(dpkg-query -W -f='${Version}' zookeeper | sed 's/-.*//') (Debian 12's) plaintext, driven by this repository's"
  echo "scripts/anchors/. Values of $VAL bytes unless said; $RUNS runs of ${DURATION} s after ${WARMUP} s"
  echo "warm-up; each figure is the median over the runs (of two, the worse one: the lower ops/s,"
  echo "the higher latency and CPU). CPU/op is the members' own user and system CPU (from /proc, all"
  echo "members summed) per request answered, in microseconds; busy is the whole machine's."
  echo
  echo "The disk under the data directories (scripts/anchors/disk_probe.c, 100 B records written"
  if [ "$(disk 1 3)" = - ]; then
    echo "into a zero-filled file): fdatasync p50 $(disk 1) ms one record at a time, $(disk 64) ms for 64."
  else
    echo "into a zero-filled file): fdatasync p50 $(disk 1) ms one record at a time, $(disk 64) ms for 64;"
    echo "three writers at once, each its own file (the flushes a ballot of five waits for: the"
    echo "president's and two followers'), $(disk 1 3) ms until the last of them has synced."
  fi
  probe=$(grep '^RESULT cpu=probe ' "$disk_results" | tail -1 || true)
  if [ -n "$probe" ]; then
    echo
    echo "The CPUs' own speed (scripts/anchors/lib.sh, cpu_probe: a fixed piece of work, timed in"
    echo "CPU time) on the quiet machine, 20 tries half a second apart: $(field min_ms <<<"$probe") to"
    echo "$(field max_ms <<<"$probe") ms, p50 $(field p50_ms <<<"$probe"). Every RESULT line carries it too (cpu_probe_ms, before"
    echo "and after the load): the same work taking longer is a CPU doing less per second of it."
  fi
  for n in 5 3 7; do
    echo
    echo "## $n members"
    echo
    echo "| load | parliament ops/s | etcd ops/s | ZooKeeper ops/s | / etcd | / ZooKeeper | parliament p50 / p99 / p99.9 ms | etcd p50 / p99 / p99.9 ms | ZooKeeper p50 / p99 / p99.9 ms | CPU/op µs: ours, etcd, ZK |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    while IFS= read -r row; do
      [ -n "$row" ] || continue
      l=${row%%:*}
      lat() { echo "$(stat_of "$1" "$l" p50_ms) / $(stat_of "$1" "$l" p99_ms) / $(stat_of "$1" "$l" p999_ms)"; }
      ours=$(stat_of "$results" "$l" ops_s) e=$(stat_of "$etcd_results" "$l" ops_s) z=$(stat_of "$zk_results" "$l" ops_s)
      echo "| ${row#*:} | $ours | $e | $z | $(ratio "$ours" "$e") | $(ratio "$ours" "$z") | $(lat "$results") | $(lat "$etcd_results") | $(lat "$zk_results") |" \
        "$(stat_of "$results" "$l" cpu_us_op), $(stat_of "$etcd_results" "$l" cpu_us_op), $(stat_of "$zk_results" "$l" cpu_us_op) |"
    done <<<"$(rows "$n")"
  done
  echo
  echo "## The targets (five members)"
  echo
  lead="m5-$hi-leader" all="m5-$hi-all" one="m5-c1-leader" big="m5-c$BIG_CLIENTS-leader"
  watched="m5-$hi-leader-w100" read="m5-$hi-read"
  ops=$(stat_of "$results" "$lead" ops_s)
  e_ops=$(stat_of "$etcd_results" "$lead" ops_s) z_ops=$(stat_of "$zk_results" "$lead" ops_s)
  p99=$(stat_of "$results" "$lead" p99_ms) e_p99=$(stat_of "$etcd_results" "$lead" p99_ms)
  p50=$(stat_of "$results" "$one" p50_ms) e_p50=$(stat_of "$etcd_results" "$one" p50_ms)
  p999=$(stat_of "$results" "$lead" p999_ms)
  # What one decree at one client cannot go below here: a round to a majority and back (one
  # client's linearizable read, which waits for no disk) plus the quorum's three flushes.
  floor=$(awk -v r="$(stat_of "$results" m5-c1-read p50_ms)" -v d="$(disk 1 3)" \
    'BEGIN { if (r + 0 > 0 && d + 0 > 0) printf "%.3f", r + d; else print "-" }')
  all_ops=$(stat_of "$results" "$all" ops_s)
  r_ops=$(stat_of "$results" "$read" ops_s) e_r_ops=$(stat_of "$etcd_results" "$read" ops_s)
  w_ops=$(stat_of "$results" "$watched" ops_s) w_p50=$(stat_of "$results" "$watched" watch_p50_ms)
  w_gaps=$(sum_of "$results" "$watched" watch_gaps)
  big_errors=$(sum_of "$results" "$big" errors)
  worst=$(for l in $(grep -o '^RESULT label=[^ ]*' "$results" | sed 's/^RESULT label=//' | sort -u); do
    echo "$(spread "$results" "$l") $l"; done | sort -g | tail -1)
  echo "| target | measured | met |"
  echo "|---|---|---|"
  echo "| $CLIENTS clients -> president: at least 5x etcd's ops/s | $(ratio "$ops" "$e_ops") ($ops / $e_ops) | $(met "$(frac "$ops" "$e_ops")" ge 5) |"
  echo "| $CLIENTS clients -> president: at least 5x ZooKeeper's ops/s | $(ratio "$ops" "$z_ops") ($ops / $z_ops) | $(met "$(frac "$ops" "$z_ops")" ge 5) |"
  echo "| $CLIENTS clients -> president: p99 at most a quarter of etcd's | $(frac "$p99" "$e_p99") ($p99 / $e_p99 ms) | $(met "$(frac "$p99" "$e_p99")" le 0.25) |"
  echo "| 1 client: p50 at most a third of etcd's | $(frac "$p50" "$e_p50") ($p50 / $e_p50 ms) | $(met "$(frac "$p50" "$e_p50")" le 0.3334) |"
  echo "| 1 client: p50 at most 3x the disk's fdatasync p50 | $(frac "$p50" "$(disk 1)")x ($p50 / $(disk 1) ms) | $(met "$(frac "$p50" "$(disk 1)")" le 3) |"
  [ "$floor" = - ] ||
    echo "| (the floor under it: one client's read round + three writers' fdatasync p50) | $(frac "$floor" "$(disk 1)")x ($floor ms) | - |"
  echo "| $CLIENTS clients over all priests: at least 0.9 of those -> president | $(frac "$all_ops" "$ops") ($all_ops / $ops) | $(met "$(frac "$all_ops" "$ops")" ge 0.9) |"
  # The target allows a spread whose cause is found and named: each load over 10 % whose CPU
  # per request explains it (explained) is named under the table, and only those.
  wide=$(for l in $(grep -o '^RESULT label=[^ ]*' "$results" | sed 's/^RESULT label=//' | sort -u); do
    if awk -v s="$(spread "$results" "$l")" 'BEGIN { exit !(s != "-" && s + 0 > 1.10) }'; then
      echo "$l $(explained "$results" "$l")"
    fi; done)
  stable=$(met "${worst%% *}" le 1.10)
  if [ "$stable" = "**no**" ] && ! grep -q ' no$' <<<"$wide"; then stable="cause named (below)"; fi
  echo "| two runs of each load within 10% (the widest: ${worst#* }) | $(awk -v w="${worst%% *}" 'BEGIN { if (w == "-") print w; else printf "%.2f", w }') | $stable |"
  echo "| $CLIENTS clients' linearizable reads: at least 5x etcd's | $(ratio "$r_ops" "$e_r_ops") ($r_ops / $e_r_ops) | $(met "$(frac "$r_ops" "$e_r_ops")" ge 5) |"
  echo "| watch: decree passed -> watcher's receipt, p50 at most 2 ms (100 watchers, $CLIENTS clients) | $w_p50 ms | $(met "$w_p50" le 2) |"
  echo "| watch: 100 watchers cost at most 5% of throughput | $(frac "$w_ops" "$ops") ($w_ops / $ops), $w_gaps gaps | $(met "$(frac "$w_ops" "$ops")" ge 0.95) |"
  echo "| $CLIENTS clients -> president: p99.9 at most 20 ms | $p999 ms | $(met "$p999" le 20) |"
  echo "| $BIG_CLIENTS clients / $BIG_CONNS conns: no errors | $big_errors errors | $(met "$big_errors" le 0) |"
  echo
  steal=$(cat "$results" "$etcd_results" "$zk_results" | grep '^RESULT' | field steal | tr -d % | sort -g |
    awk 'NR == 1 {lo = $1} {hi = $1} END { if (NR) printf "%s%% to %s%%", lo, hi; else print "-" }')
  reruns=$(cat "$results" "$etcd_results" "$zk_results" | grep '^RESULT' | field reruns |
    awk '{s += $1} END {print s + 0}')
  echo "CPU time the hypervisor gave to others during the loads (steal, from /proc/stat): $steal;"
  echo "runs measured again because steal reached ${STEAL_MAX:-10}% during them: $reruns (reruns=K on"
  echo "their RESULT lines; the line kept is the last run's)."
  # The widest spread, run by run: the same work at a higher CPU per decree (batching alike,
  # no steal, the probe slower) is a CPU that did less per second, not a parliament that did more.
  if [ -n "$wide" ]; then
    echo
    echo "The loads whose two runs differ by more than 10%: $(while read -r l e; do
      echo "$l $(awk -v s="$(spread "$results" "$l")" 'BEGIN { printf "%.2f", s }') apart, CPU per request" \
        "$(lines_of "$results" "$l" | field cpu_us_op | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END { printf "%.2f", hi / lo }')x" \
        "($( [ "$e" = yes ] && echo "explained: the slower run spent as much more CPU on the same work" ||
          echo "not explained by the CPU"))"; done <<<"$wide" | paste -sd ';' | sed 's/;/; /g')."
  fi
  w=${worst#* }
  if [ -n "$w" ] && [ "$(lines_of "$results" "$w" | wc -l)" -gt 1 ]; then
    echo
    echo "The widest spread ($w), run by run: $(lines_of "$results" "$w" | awk '{
      split("", f)
      for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      printf "%s%s decrees/s at %s µs of CPU per decree, %s decrees per ballot, machine %s busy, steal %s%s",
        (NR > 1 ? "; " : ""), f["ops_s"], f["cpu_us_op"], f["ballot_decrees"], f["host_cpu_busy"], f["steal"],
        ("cpu_probe_ms" in f ? ", cpu_probe " f["cpu_probe_ms"] " ms" : "") }')."
  fi
  echo
  echo "Every RESULT line of the session (the parliament's, etcd's, ZooKeeper's, the disk's):"
  echo
  echo '```'
  cat "$results"
  grep '^RESULT' "$etcd_results" || true
  grep '^RESULT' "$zk_results" || true
  cat "$disk_results"
  echo '```'
  echo
} >"$work/BENCHMARKS.head.md"
mkdir -p docs
# Keep the hand-written analysis below the generated part.
if [ -f docs/BENCHMARKS.md ] && grep -q '^<!-- analysis -->' docs/BENCHMARKS.md; then
  sed -n '/^<!-- analysis -->/,$p' docs/BENCHMARKS.md >>"$work/BENCHMARKS.head.md"
fi
mv "$work/BENCHMARKS.head.md" docs/BENCHMARKS.md
echo "bench: wrote docs/BENCHMARKS.md" >&2
