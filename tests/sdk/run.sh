#!/usr/bin/env bash
# The client library as a program outside this tree uses it: installed with
# `cmake --install BUILD --prefix P`, the example of docs/CLIENT.md (which must be the file
# docs/examples/client/decree.cpp, word for word) is built with find_package and again with
# pkg-config, and both pass a decree and read it back from a parliament of three priests
# started by the installed paxos-god.
#
#   tests/sdk/run.sh BUILD_DIR        (CTest test "sdk")
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/parliament-sdk.XXXXXX")
god_pid=""
cleanup() {
  local rc=$?
  if [ -n "$god_pid" ]; then
    kill -TERM "$god_pid" 2>/dev/null || true
    wait "$god_pid" 2>/dev/null || true
  fi
  [ $rc -eq 0 ] || { echo "--- god's log:"; tail -20 "$work/god.log" 2>/dev/null || true; }
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT INT TERM
fail() { echo "sdk: FAILED: $*" >&2; exit 1; }

# The example in the doc is the example that is built.
awk '/^```cpp$/ {on=1; next} /^```$/ && on {exit} on' "$src/docs/CLIENT.md" >"$work/from-doc.cpp"
diff -u "$src/docs/examples/client/decree.cpp" "$work/from-doc.cpp" >&2 ||
  fail "docs/CLIENT.md's example differs from docs/examples/client/decree.cpp"

prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in include/parliament/client.hpp include/parliament/code.hpp; do
  [ -f "$prefix/$f" ] || fail "cmake --install left out $f"
done
echo "sdk: installed in $prefix"

cmake -S "$src/docs/examples/client" -B "$work/example" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$work/example.log" 2>&1 ||
  { cat "$work/example.log" >&2; fail "the example did not configure with find_package"; }
cmake --build "$work/example" >>"$work/example.log" 2>&1 ||
  { cat "$work/example.log" >&2; fail "the example did not build with find_package"; }
pc_dir=$(dirname "$(find "$prefix" -name parliament-client.pc | head -1)")
# shellcheck disable=SC2046  # pkg-config's words are separate arguments
g++ -std=c++17 -o "$work/decree-pc" "$src/docs/examples/client/decree.cpp" \
  $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs parliament-client) ||
  fail "the example did not build with pkg-config"
echo "sdk: the example built with find_package and with pkg-config (C++17)"

# A parliament of three, on ports checked free.
base=$(python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 30000, 10)
    try:
        for i in range(1, 4):
            s = socket.socket(); s.bind(("127.0.0.1", base + i)); s.close()
        print(base); break
    except OSError:
        pass
PY
)
[ -n "$base" ] || fail "no free ports"
cfg="$work/parliament.json"
printf '{"certs": "%s", "priests": [\n' "$work/certs" >"$cfg"
printf ' {"id": 1, "host": "127.0.0.1", "port": %d},\n' $((base + 1)) >>"$cfg"
printf ' {"id": 2, "host": "127.0.0.1", "port": %d},\n' $((base + 2)) >>"$cfg"
printf ' {"id": 3, "host": "127.0.0.1", "port": %d}]}\n' $((base + 3)) >>"$cfg"
"$prefix/bin/paxos-god" --config "$cfg" up --data-dir "$work/data" >"$work/god.log" 2>&1 &
god_pid=$!
for _ in $(seq 150); do
  "$prefix/bin/paxos-client" --config "$cfg" status --json 2>/dev/null |
    grep -q '"role":"president"' && break
  kill -0 "$god_pid" 2>/dev/null || fail "paxos-god up exited"
  sleep 0.1
done

for program in "$work/example/decree" "$work/decree-pc"; do
  text="from $(basename "$program") $RANDOM"
  out=$("$program" "$cfg" "$text") || fail "$program: $out"
  echo "$out"
  grep -q "^read back decree [0-9]*: $text " <<<"$out" || fail "$program did not read its decree back"
done
# A refusal comes back as a code: a decree over the limit is invalid, and not retryable.
big=$(head -c 100000 /dev/zero | tr "\0" x)  # over 64 KiB, under the 128 KiB of one argument
if out=$("$work/example/decree" "$cfg" "$big" 2>&1); then fail "an oversized decree passed"; fi
grep -q "not passed (invalid: .*asking again will not help)" <<<"$out" ||
  fail "an oversized decree: $out"
echo "sdk: 3 passed, 0 failed"
