#!/usr/bin/env bash
# Fuzzes the pure core (proto/) with libFuzzer, ASan and UBSan (tests/fuzz/: clang-14, its own
# CMake project, built into build-fuzz/, never build/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS is the budget of the whole run, split evenly across the targets (default 60: 30 s
# for each of the two), so the wall time is known in advance on a shared machine.
# TARGET: frames (the framing decoder and every frame decoder behind it), priest
# (Priest::step behind an authenticated session); default both. A longer run, an hour:
#   scripts/fuzz.sh 3600
# Each target works on a scratch copy of its seeds (tests/fuzz/corpus/TARGET stays as it is)
# in build-fuzz/runs/STAMP/TARGET/ (corpus/, artifacts/, log). At the end it prints how to
# merge what the run found into the seeds, and, for every crash, out-of-memory or timeout,
# the input's path, what broke, and the command that replays it; it then exits 1.
#
# Environment:
#   FUZZ_REV=REV       fuzz proto/ as of git revision REV (e.g. HEAD, to leave uncommitted
#                      changes out), exported and built in build-fuzz/rev-SHA/
#   FUZZ_KEEP_GOING=1  go on after a crash (libFuzzer -fork=1 -ignore_crashes ...) to collect
#                      every crash the time allows rather than stop at the first
#   FUZZ_ARGS          more libFuzzer flags, e.g. FUZZ_ARGS="-use_value_profile=1"
#   JOBS               build jobs (default 1: these machines have 2 cores, and share them)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

seconds=${1:-60}
[ $# -gt 0 ] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [frames|priest ...]" >&2
  exit 2
fi
targets=()
for t in "${@:-frames priest}"; do
  for one in $t; do
    one=${one#fuzz_}
    case "$one" in
      frames|priest) targets+=("$one") ;;
      *) echo "fuzz: unknown target '$one' (frames, priest)" >&2; exit 2 ;;
    esac
  done
done

# ---------------------------------------------------------------- packages
packages=(clang-14 libclang-rt-14-dev cmake ninja-build nlohmann-json3-dev zlib1g-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Another apt-get (scripts/setup.sh) may hold the lock: wait for it rather than fail.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

# ---------------------------------------------------------------- build
build=build-fuzz
cmake_extra=()
if [ -n "${FUZZ_REV:-}" ]; then
  sha=$(git rev-parse --verify "${FUZZ_REV}^{commit}")
  build=build-fuzz/rev-${sha:0:12}
  mkdir -p "$build/src"
  if [ ! -d "$build/src/proto" ]; then
    git archive "$sha" proto | tar -x -C "$build/src"
  fi
  cmake_extra=(-DPARLIAMENT_ROOT="$repo/$build/src")
  echo "fuzz: proto/ as of ${FUZZ_REV} (${sha:0:12})"
fi
if [ ! -f "$build/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S tests/fuzz -B "$build" -G Ninja "${cmake_extra[@]}" >/dev/null
fi
start=$(date +%s)
cmake --build "$build" -j "${JOBS:-1}"
echo "fuzz: built in $(( $(date +%s) - start )) s"

# ---------------------------------------------------------------- run
per=$(( seconds / ${#targets[@]} ))
[ "$per" -ge 1 ] || per=1
stamp=$(date +%Y%m%d-%H%M%S)
runs=$build/runs/$stamp
flags=(-max_total_time="$per" -rss_limit_mb=2048 -timeout=25 -dict=tests/fuzz/fuzz.dict
       -print_final_stats=1)
if [ -n "${FUZZ_KEEP_GOING:-}" ]; then
  flags+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
fi
# shellcheck disable=SC2206
extra=(${FUZZ_ARGS:-})
echo "fuzz: ${targets[*]}, $per s each, in $runs/"

failed=0
for t in "${targets[@]}"; do
  dir=$runs/$t
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$dir/corpus/"
  seeds=$(ls "$dir/corpus" | wc -l)
  echo
  echo "== fuzz_$t: $per s from $seeds seeds (log: $dir/log)"
  rc=0
  "$build/fuzz_$t" "${flags[@]}" "${extra[@]}" -artifact_prefix="$dir/artifacts/" "$dir/corpus" \
    >"$dir/log" 2>&1 || rc=$?
  # What the run did: libFuzzer's last status line and final statistics.
  grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$dir/log" | tail -1 || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$dir/log" \
    | tr '\n' ' ' || true
  echo
  echo "   corpus: $seeds seeds -> $(ls "$dir/corpus" | wc -l) inputs"
  found=()
  for f in "$dir"/artifacts/crash-* "$dir"/artifacts/oom-* "$dir"/artifacts/timeout-* \
           "$dir"/artifacts/leak-*; do
    [ -e "$f" ] && found+=("$f")
  done
  for f in "$dir"/artifacts/slow-unit-*; do
    [ -e "$f" ] && echo "   slow input (not a failure): $f"
  done
  if [ ${#found[@]} -eq 0 ] && [ "$rc" -ne 0 ]; then
    echo "   fuzz_$t exited with $rc and saved no input; see $dir/log"
    failed=1
  fi
  shown=0
  for f in "${found[@]}"; do
    failed=1
    shown=$((shown + 1))
    if [ "$shown" -gt 10 ]; then
      echo "   ... and $(( ${#found[@]} - 10 )) more in $dir/artifacts/"
      break
    fi
    # Replay it to say what broke (first line the sanitizer, libFuzzer or the target printed).
    why=$(timeout 120 "$build/fuzz_$t" -rss_limit_mb=2048 -timeout=25 "$f" 2>&1 \
          | grep -m1 -E 'invariant broken|fuzz_frames: broken|runtime error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|terminate called|what\(\): |deadly signal|ALARM' \
          || true)
    echo "   FOUND $(basename "$f" | cut -d- -f1): $f"
    echo "     ${why:-(did not fail again when replayed alone; see $dir/log)}"
    echo "     replay: $build/fuzz_$t $f"
    [ "$t" = priest ] && echo "     story:  FUZZ_VERBOSE=1 $build/fuzz_$t $f"
  done
done

echo
echo "fuzz: to keep what a run found (only inputs that add coverage are copied):"
for t in "${targets[@]}"; do
  echo "  $build/fuzz_$t -merge=1 tests/fuzz/corpus/$t $runs/$t/corpus"
done
echo "  (crash inputs stay out of the corpus: a seed must pass)"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED: see the inputs above"
  exit 1
fi
echo "fuzz: no crash in ${seconds} s"
