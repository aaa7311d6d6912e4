# Sourced by scripts/bench.sh and the anchors' scripts beside this file.
#
#   anchor_args SCRIPT MEMBERS ...
#
# checks MEMBERS (1..9) into $members and sets the knobs RUNS, DURATION and WARMUP and the
# directory $build (BUILD_DIR) where the loads are built.
#
#   begin_work NAME
#
# makes the temporary directory $work (NAME.XXXXXX) and, at exit, stops the processes whose
# PIDs are in the array $pids and removes $work.
#
# What a load cost in CPU, read from /proc:
#
#   measured "PID PID ..." COMMAND ARGS...
#
# runs COMMAND (a load that prints one RESULT line with done=D, the requests it had answered)
# and prints that line with four figures added: host_cpu_busy=P% and steal=S% (the whole
# machine's CPU time, from /proc/stat: busy, and taken by the hypervisor), cpu_us_op=U
# (the user and system CPU of the listed processes, the members, from /proc/PID/stat, in
# microseconds per answered request) and cpu_probe_ms=T (the CPU time cpu_probe took, the
# mean of once before the load and once after). A process that is gone by the
# end counts for what it had used when last seen. A run during which the hypervisor took
# STEAL_MAX % (10) or more of the machine's CPU time measured the neighbours as much as the
# load: it runs again, up to STEAL_TRIES (3) runs in all, saying so on stderr, and the line
# printed (the last run's) then carries reruns=K before host_cpu_busy.
#
#   cpu_probe
#
# prints the CPU time, in ms, that a fixed piece of work (two million steps of an awk loop)
# takes now: the same work, so a higher figure is a CPU that does less per second of it, which
# a guest cannot otherwise see (the hypervisor's steal counts only time it was not given).

# member_ticks PID...: their user + system clock ticks (utime and stime of /proc/PID/stat;
# the fields are counted after the command name, which may hold spaces).
member_ticks() {
  local total=0 p t
  for p in "$@"; do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# host_ticks: busy, idle (with iowait) and stolen ticks of the whole machine (stolen: time
# the hypervisor gave this machine's virtual CPUs to someone else).
host_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6, $9}' /proc/stat; }

cpu_probe() {
  local TIMEFORMAT=%3U LC_ALL=C t  # (C: a decimal point, whatever the user's locale)
  t=$( { time awk 'BEGIN { for (i = 0; i < 2000000; i++) s += i % 7 * i; if (s < 0) print s }' \
    >/dev/null; } 2>&1)
  awk -v t="$t" 'BEGIN { printf "%.0f", t * 1000 }'
}

measured() {
  local line steal reruns=0
  while :; do
    line=$(measured_once "$@")
    [ -n "$line" ] || return 0
    steal=$(sed -n 's/.* steal=\([0-9]*\)%.*/\1/p' <<<"$line")
    [ "${steal:-0}" -ge "${STEAL_MAX:-10}" ] && [ $((reruns + 1)) -lt "${STEAL_TRIES:-3}" ] || break
    reruns=$((reruns + 1))
    echo "# steal ${steal}% during the load (STEAL_MAX ${STEAL_MAX:-10}%): running it again" >&2
  done
  if [ "$reruns" -gt 0 ]; then
    sed "s/ host_cpu_busy=/ reruns=$reruns host_cpu_busy=/" <<<"$line"
  else
    echo "$line"
  fi
}

# measured_once "PID PID ..." COMMAND ARGS...: one run of the load, as measured() describes.
measured_once() {
  local pids=$1 m0 m1 b0 i0 s0 b1 i1 s1 out done hz p0 p1
  shift
  hz=$(getconf CLK_TCK)
  p0=$(cpu_probe)
  # shellcheck disable=SC2086
  m0=$(member_ticks $pids)
  read -r b0 i0 s0 < <(host_ticks)
  out=$("$@" | grep '^RESULT' || true)
  # shellcheck disable=SC2086
  m1=$(member_ticks $pids)
  read -r b1 i1 s1 < <(host_ticks)
  p1=$(cpu_probe)
  [ -n "$out" ] || { echo "# the load printed no RESULT line: $*" >&2; return 0; }
  done=$(sed -n 's/.* done=\([0-9]*\).*/\1/p' <<<"$out")
  awk -v line="$out" -v m=$((m1 - m0)) -v hz="$hz" -v done="${done:-0}" \
    -v busy=$((b1 - b0)) -v idle=$((i1 - i0)) -v stolen=$((s1 - s0)) -v probe=$(((p0 + p1) / 2)) 'BEGIN {
      all = busy + idle + stolen
      printf "%s host_cpu_busy=%d%% steal=%d%% cpu_us_op=%.1f cpu_probe_ms=%d\n", line,
        (all > 0 ? 100 * busy / all : 0), (all > 0 ? 100 * stolen / all : 0),
        (done > 0 ? m * 1e6 / hz / done : 0), probe }'
}

begin_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  pids=()
  trap end_work EXIT INT TERM
}

end_work() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
  exit $rc
}

anchor_args() {
  local script=$1
  members=${2:-}
  [[ "$members" =~ ^[1-9]$ ]] ||
    { echo "$script: usage: $script MEMBERS LOAD... (MEMBERS: 1 to 9)" >&2; exit 2; }
  RUNS=${RUNS:-2} DURATION=${DURATION:-10} WARMUP=${WARMUP:-2}
  build=${BUILD_DIR:-/tmp/parliament-anchors}
  mkdir -p "$build"
}
