#!/usr/bin/env bash
# Benchmarks the parliament on this machine and, with --etcd, etcd and ZooKeeper on the same
# machine in the same session, and writes the three side by side to docs/BENCHMARKS.md.
#
#   scripts/bench.sh --etcd        the standard matrix, ours, etcd's and ZooKeeper's (drivers
#                                  named in ETCD_BENCH and ZK_BENCH), into
#                                  docs/BENCHMARKS.md, with the project's targets checked (the
#                                  parliament with mutual TLS, the default; TLS=both adds plaintext)
#   scripts/bench.sh               ours only (printed; docs/BENCHMARKS.md untouched)
#   scripts/bench.sh --smoke       a few seconds, any figure: proves the tool works (CTest)
#   scripts/bench.sh --big         pass BIG_DECREES (1,000,000) decrees, then report each
#                                  priest's resident memory and how long a follower takes
#                                  from restart to following the president with the whole
#                                  ledger again
#
# Knobs: RUNS=2 DURATION=10 WARMUP=2 VAL=100 CLIENTS=64 CONNS=8, TLS=both|on|off (which
# parliaments to measure: mutual TLS, the default, labelled m5-..., and plaintext, labelled
# m5-...-plain; --smoke and --big use TLS only), PRIESTS="5 3" (the parliaments' sizes of the
# standard loads; --etcd and --smoke use "5 3", --big five priests), PARLIAMENT_BIN=DIR (the
# programs to measure, e.g. another commit's build/bin for a before/after comparison: nothing
# is built then; without it, scripts/setup.sh builds build/). Relative paths in
# PARLIAMENT_BIN, ETCD_BENCH and ZK_BENCH are taken from the repository's root.
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
  "") ;;
  *) echo "usage: scripts/bench.sh [--etcd | --smoke | --big]" >&2; exit 2 ;;
esac

RUNS=${RUNS:-2}
PRIESTS=${PRIESTS:-5 3}
case "$mode" in etcd|smoke) PRIESTS="5 3" ;; esac  # the comparison, and the smoke's three lines
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
VAL=${VAL:-100}
CLIENTS=${CLIENTS:-64}
CONNS=${CONNS:-8}
if [ "$mode" = etcd ]; then TLS=${TLS:-on}; else TLS=${TLS:-both}; fi
if [ "$mode" = etcd ]; then
  # The etcd and ZooKeeper drivers are the operator's: scripts that take the member count, run
  # the same loads against a fresh cluster of Debian's etcd (ZooKeeper) and print RESULT lines
  # like ours (label=mN-..., ops_s=, p50_ms=, p99_ms=). Name them in ETCD_BENCH and ZK_BENCH.
  etcd_script="${ETCD_BENCH:-}"
  zk_script="${ZK_BENCH:-}"
  for s in "$etcd_script" "$zk_script"; do
    [ -n "$s" ] && [ -f "$s" ] || {
      echo "bench: --etcd needs ETCD_BENCH and ZK_BENCH set to the etcd and ZooKeeper drivers (scripts that print RESULT lines)" >&2
      exit 1
    }
  done
fi
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
elif [ -z "${PARLIAMENT_BIN:-}" ]; then
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
bench() { # label clients conns target priests
  "$bin/paxos-bench" --config "$work/parliament-$5.json" --label "$1$suffix" --clients "$2" --conns "$3" \
    --target "$4" --val "$VAL" --duration "$DURATION" --warmup "$WARMUP" | tee -a "$results"
}

for n in $PRIESTS; do
  for t in $tls_modes; do
    suffix=$([ "$t" = off ] && echo -plain || true)
    start_parliament "$n" "$t"
    for r in $(seq "$RUNS"); do
      echo "# parliament of $n, TLS $t, round $r/$RUNS (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
      bench "m$n-c1-leader" 1 1 president "$n"
      bench "m$n-c$CLIENTS-leader" "$CLIENTS" "$CONNS" president "$n"
      if [ "$n" = 5 ] || [ "$mode" != smoke ]; then
        bench "m$n-c$CLIENTS-all" "$CLIENTS" "$CONNS" all "$n"
      fi
      if [ "$n" = 5 ] && [ "$mode" != smoke ]; then
        bench "m$n-c$BIG_CLIENTS-leader" "$BIG_CLIENTS" "$BIG_CONNS" president "$n"
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
  n=$(grep -c '^RESULT label=.* ops_s=[0-9.]* .*p99_ms=[0-9.]* .*max_ms=[0-9.]*$' "$results" || true)
  [ "$n" -eq 3 ] || { echo "bench smoke: expected 3 RESULT lines, got $n" >&2; exit 1; }
  echo "bench smoke: 3 RESULT lines"
  exit 0
fi
[ "$mode" = etcd ] || exit 0

# ---------------------------------------------------------------- etcd, same machine, same session
need=()
for p in etcd-server etcd-client golang-go golang-etcd-server-dev jq zookeeper libzookeeper-mt-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
etcd_results="$work/etcd.txt"
for n in 5 3; do
  RUNS=$RUNS DURATION="${DURATION}s" HI_CLIENTS=$CLIENTS HI_CONNS=$CONNS VAL_SIZE=$VAL CHECK_PERF="" \
    FSYNC_PROBE=$([ "$n" = 5 ] && echo 1 || echo 0) bash "$etcd_script" "$n" 2>&1 | tee -a "$etcd_results" >&2
done

# ---------------------------------------------------------------- ZooKeeper, same machine, same session
zk_results="$work/zk.txt"
for n in 5 3; do
  # Its labels are zkN-...; ours and etcd's mN-...: renamed so that one lookup serves all three.
  RUNS=$RUNS DURATION="${DURATION}s" HI_CLIENTS=$CLIENTS HI_CONNS=$CONNS VAL_SIZE=$VAL FSYNC_PROBE=0 \
    bash "$zk_script" "$n" 2>&1 | sed 's/^RESULT label=zk/RESULT label=m/' | tee -a "$zk_results" >&2
done

# ---------------------------------------------------------------- docs/BENCHMARKS.md
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
median_hi() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int(NR/2)+1]; else print "-"}'; }
stat_of() { # file label field -> median over runs; of two, the worse (lower ops/s, higher ms)
  case "$3" in
    *_ms) grep "^RESULT label=$2 " "$1" | field "$3" | median_hi ;;
    *) grep "^RESULT label=$2 " "$1" | field "$3" | median ;;
  esac
}
sum_of() { # file label field -> sum over runs
  grep "^RESULT label=$2 " "$1" | field "$3" | awk '{s+=$1} END {print s+0}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.1fx", a / b; else print "-" }'; }
frac() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else print "-" }'; }
# met VALUE OP BOUND: "yes" or "**no**" (OP: ge or le); "-" when a figure is missing.
met() { awk -v v="$1" -v op="$2" -v b="$3" 'BEGIN { if (v == "-" || v == "") { print "-"; exit }
  ok = op == "ge" ? v + 0 >= b + 0 : v + 0 <= b + 0; print ok ? "yes" : "**no**" }'; }
hi="c$CLIENTS"
loads="c1-leader:1 client -> president/leader
$hi-leader:$CLIENTS clients / $CONNS conns -> president/leader
$hi-all:$CLIENTS clients / $CONNS conns -> all members"
{
  echo "# Benchmarks"
  echo
  echo "Measured by \`scripts/bench.sh --etcd\` on $(date -u +%Y-%m-%d), one session, one machine:"
  echo "$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)),"
  echo "$(free -g | awk '/^Mem:/{print $2}') GiB RAM, kernel $(uname -r), data on"
  echo "$(stat -f -c %T "$work") ($(df --output=source "$work" | tail -1)). Every priest, every etcd member and"
  echo "every ZooKeeper member (forceSync) fdatasyncs before it acknowledges; all members and the"
  echo "load generator share the CPUs. The parliament runs with mutual TLS$([[ "$tls_modes" == *off* ]] && echo " (and, labelled -plain, without)");"
  echo "etcd and ZooKeeper run plaintext. Decrees/values of $VAL bytes; $RUNS runs of ${DURATION} s after"
  echo "${WARMUP} s warm-up; each figure is the median over the runs (of two, the worse one: the lower"
  echo "ops/s, the higher latency). etcd 3.4"
  echo "and ZooKeeper 3.8 are Debian 12's, driven by $(basename "$etcd_script") and $(basename "$zk_script")."
  echo
  echo "The disk, by the etcd driver's fsync probe (one 100 B append per fdatasync, then 64):"
  echo
  grep '^RESULT sync=' "$etcd_results" | head -2 | sed 's/^/    /' || true
  echo
  echo "## Throughput"
  echo
  echo "| members | load | parliament ops/s | etcd ops/s | ZooKeeper ops/s | parliament / etcd | parliament / ZooKeeper |"
  echo "|---|---|---|---|---|---|---|"
  for n in 5 3; do
    while IFS= read -r load; do
      l="m$n-${load%%:*}"
      ours=$(stat_of "$results" "$l" ops_s) etcd=$(stat_of "$etcd_results" "$l" ops_s) zk=$(stat_of "$zk_results" "$l" ops_s)
      echo "| $n | ${load#*:} | $ours | $etcd | $zk | $(ratio "$ours" "$etcd") | $(ratio "$ours" "$zk") |"
    done <<<"$loads"
  done
  big="m5-c$BIG_CLIENTS-leader"
  echo "| 5 | $BIG_CLIENTS clients / $BIG_CONNS conns -> president | $(stat_of "$results" "$big" ops_s) | - | - | - | - |"
  echo
  echo "## Latency"
  echo
  echo "| members | load | parliament p50 / p99 / p99.9 ms | etcd p50 / p99 ms | ZooKeeper p50 / p99 / p99.9 ms |"
  echo "|---|---|---|---|---|"
  for n in 5 3; do
    while IFS= read -r load; do
      l="m$n-${load%%:*}"
      echo "| $n | ${load#*:} | $(stat_of "$results" "$l" p50_ms) / $(stat_of "$results" "$l" p99_ms) / $(stat_of "$results" "$l" p999_ms) |" \
        "$(stat_of "$etcd_results" "$l" p50_ms) / $(stat_of "$etcd_results" "$l" p99_ms) |" \
        "$(stat_of "$zk_results" "$l" p50_ms) / $(stat_of "$zk_results" "$l" p99_ms) / $(stat_of "$zk_results" "$l" p999_ms) |"
    done <<<"$loads"
  done
  echo
  echo "## The targets (five members)"
  echo
  lead="m5-$hi-leader" all="m5-$hi-all" one="m5-c1-leader"
  ops=$(stat_of "$results" "$lead" ops_s)
  e_ops=$(stat_of "$etcd_results" "$lead" ops_s) z_ops=$(stat_of "$zk_results" "$lead" ops_s)
  p99=$(stat_of "$results" "$lead" p99_ms) e_p99=$(stat_of "$etcd_results" "$lead" p99_ms)
  p50=$(stat_of "$results" "$one" p50_ms) e_p50=$(stat_of "$etcd_results" "$one" p50_ms)
  p999=$(stat_of "$results" "$lead" p999_ms)
  all_ops=$(stat_of "$results" "$all" ops_s)
  big_ops=$(stat_of "$results" "$big" ops_s) big_errors=$(sum_of "$results" "$big" errors)
  echo "| target | measured | met |"
  echo "|---|---|---|"
  echo "| $CLIENTS clients -> president: at least 5x etcd's ops/s | $(ratio "$ops" "$e_ops") ($ops / $e_ops) | $(met "$(frac "$ops" "$e_ops")" ge 5) |"
  echo "| $CLIENTS clients -> president: at least 5x ZooKeeper's ops/s | $(ratio "$ops" "$z_ops") ($ops / $z_ops) | $(met "$(frac "$ops" "$z_ops")" ge 5) |"
  echo "| $CLIENTS clients -> president: p99 at most a quarter of etcd's | $(frac "$p99" "$e_p99") ($p99 / $e_p99 ms) | $(met "$(frac "$p99" "$e_p99")" le 0.25) |"
  echo "| 1 client: p50 at most a third of etcd's | $(frac "$p50" "$e_p50") ($p50 / $e_p50 ms) | $(met "$(frac "$p50" "$e_p50")" le 0.3334) |"
  echo "| $CLIENTS clients -> president: p99.9 at most 20 ms | $p999 ms | $(met "$p999" le 20) |"
  echo "| $CLIENTS clients over all priests: at least 0.8 of those -> president | $(frac "$all_ops" "$ops") ($all_ops / $ops) | $(met "$(frac "$all_ops" "$ops")" ge 0.8) |"
  echo "| $BIG_CLIENTS clients / $BIG_CONNS conns: no errors | $big_errors errors | $(met "$big_errors" le 0) |"
  echo "| $BIG_CLIENTS clients / $BIG_CONNS conns: ops/s no lower than $CLIENTS clients' | $(frac "$big_ops" "$ops") ($big_ops / $ops) | $(met "$(frac "$big_ops" "$ops")" ge 1) |"
  echo
  echo "Every RESULT line of the session (ZooKeeper's relabelled zkN- -> mN-, in the order parliament, etcd, ZooKeeper):"
  echo
  echo '```'
  cat "$results"
  grep '^RESULT' "$etcd_results" || true
  grep '^RESULT' "$zk_results" || true
  echo '```'
} >"$work/BENCHMARKS.head.md"
mkdir -p docs
# Keep the hand-written analysis below the generated part.
if [ -f docs/BENCHMARKS.md ] && grep -q '^<!-- analysis -->' docs/BENCHMARKS.md; then
  sed -n '/^<!-- analysis -->/,$p' docs/BENCHMARKS.md >>"$work/BENCHMARKS.head.md"
fi
mv "$work/BENCHMARKS.head.md" docs/BENCHMARKS.md
echo "bench: wrote docs/BENCHMARKS.md" >&2
