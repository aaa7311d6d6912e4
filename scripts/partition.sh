#!/usr/bin/env bash
# Faults for the parliament in docker compose: cut the network between priests in any shape,
# freeze or kill priests, and heal it all again.
#
#   scripts/partition.sh status              every priest: container, role, ledger, whom it does not hear
#   scripts/partition.sh isolate N           N hears no one and no one hears N
#   scripts/partition.sh split 1,2 3,4,5     the two sides cannot hear each other
#   scripts/partition.sh bridge 3 1,2 4,5    3 hears and is heard by all; 1,2 and 4,5 not each other
#   scripts/partition.sh oneway FROM TO      what FROM sends is lost on the way to TO: TO does not
#                                            hear FROM, FROM still hears TO (lists allowed: 2,3 1)
#   scripts/partition.sh heal                remove every rule this script made; unpause priests
#   scripts/partition.sh pause N | unpause N freeze / thaw priest N's container (docker pause)
#   scripts/partition.sh kill N | start N    SIGKILL priest N's container / start it again
#                                            (N may be a list: kill 2,3)
#   scripts/partition.sh president           print the id of the priest that says it is president
#
# A priest is a number (1-5) or "president". Options before the command: -p PROJECT (the
# compose project; default $COMPOSE_PROJECT_NAME, else the one in .env, else "parliament").
#
# How: from the host, iptables rules are put into each container's own network namespace
# (nsenter --net=/proc/PID/ns/net), in a chain of their own, PARLIAMENT, that INPUT jumps
# to: "TO does not hear FROM" is `-s FROM_IP -j DROP` in TO's namespace. Nothing is needed in
# the image and nothing on the host's own firewall changes. Only containers carrying this
# project's compose labels are touched, and `heal` deletes the chain wherever it exists, so
# it restores the network even after an interrupted run. The host still reaches every
# priest through its published port: a client on the host can talk to a cut-off priest.
# Over TCP a one-way cut also stalls the other direction's connections (their ACKs are
# lost), as on a real network. Needs root (or sudo) for nsenter and iptables; installs
# iptables with apt-get if it is missing.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
chain=PARLIAMENT

die() { echo "partition: $*" >&2; exit 1; }
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

project=${COMPOSE_PROJECT_NAME:-}
while [ $# -gt 0 ]; do
  case "$1" in
    -p|--project) [ $# -ge 2 ] || usage; project=$2; shift 2 ;;
    -h|--help) usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
if [ -z "$project" ] && [ -f "$repo/.env" ]; then
  project=$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' "$repo/.env" | tail -1)
fi
project=${project:-parliament}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
need_iptables() {
  if ! command -v iptables >/dev/null && [ ! -x /usr/sbin/iptables ] && [ ! -x /sbin/iptables ]; then
    echo "partition: installing iptables" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends iptables >/dev/null
  fi
}
# iptables inside the network namespace of the process PID (a container's main process).
ns_ipt() { local pid=$1; shift; $sudo nsenter --net="/proc/$pid/ns/net" iptables -w "$@"; }

# --- the project's containers: one line per priest "N CONTAINER STATE PID IP" ---
declare -A cid=() state=() pid=() ip=() byip=()
load() {
  cid=() state=() pid=() ip=() byip=()
  local ids
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
  if [ -z "$ids" ]; then
    [ "$cmd" = heal ] && { echo "healed: compose project '$project' has no containers"; exit 0; }
    die "no containers of compose project '$project' (start them: docker compose up -d)"
  fi
  local service c st p addr
  # shellcheck disable=SC2086
  while read -r service c st p addr; do
    [[ "$service" =~ ^priest([0-9]+)$ ]] || continue
    local n=${BASH_REMATCH[1]}
    cid[$n]=$c state[$n]=$st pid[$n]=$p ip[$n]=${addr:-}
    [ -n "${addr:-}" ] && byip[$addr]=$n
  done < <(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.Id}} {{.State.Status}} {{.State.Pid}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' $ids)
  [ ${#cid[@]} -gt 0 ] || die "compose project '$project' has no priestN services"
}
priests() { printf '%s\n' "${!cid[@]}" | sort -n; }

# The status one priest gives of itself, as JSON (empty when it does not answer).
self_status() {
  local n=$1
  [ "${state[$n]}" = running ] || return 0
  # With the priest's own certificate: a priest's container holds no client key.
  # (--cluster answers for every member it finds; the first entry is this priest's own.)
  timeout 5 docker exec "${cid[$n]}" paxos-client --cluster 127.0.0.1:7100 --certs /etc/parliament/certs \
    --priest-cert "$n" status --json 2>/dev/null | sed 's/},{"address".*//' || true
}
field() { sed -n "s/.*\"$1\":\\(\"[^\"]*\"\\|[0-9a-z]*\\).*/\\1/p" | tr -d '"'; }

president() {
  local tries=0 found
  while :; do
    found=()
    for n in $(priests); do
      self_status "$n" | grep -q '"role":"president"' && found+=("$n")
    done
    [ ${#found[@]} -eq 1 ] && { echo "${found[0]}"; return; }
    tries=$((tries + 1))
    if [ $tries -ge 15 ]; then
      [ ${#found[@]} -eq 0 ] && die "no priest says it is president"
      die "several priests say they are president: ${found[*]}; name one by number"
    fi
    sleep 0.2
  done
}

# "3" or "president" -> 3, checked against the project's priests.
resolve() {
  local n=$1
  [ "$n" = president ] && n=$(president)
  [[ "$n" =~ ^[0-9]+$ ]] && [ -n "${cid[$n]:-}" ] || die "no priest '$1' (priests: $(priests | tr '\n' ' ')or president)"
  echo "$n"
}
resolve_list() {
  local out=() x
  IFS=, read -ra xs <<<"$1"
  for x in "${xs[@]}"; do out+=("$(resolve "$x")"); done
  echo "${out[@]}"
}
netns_of() {
  local n=$1
  [ "${state[$n]}" = running ] || [ "${state[$n]}" = paused ] ||
    die "priest $n is ${state[$n]}: no network to cut (start it: $0 start $n)"
  echo "${pid[$n]}"
}

# TO does not hear FROM: drop, in TO's namespace, every packet from FROM's address.
drop() {
  local from=$1 to=$2 p
  p=$(netns_of "$to")
  [ -n "${ip[$from]}" ] || die "priest $from has no address (is it running?)"
  ns_ipt "$p" -N "$chain" 2>/dev/null || true
  ns_ipt "$p" -C INPUT -j "$chain" 2>/dev/null || ns_ipt "$p" -I INPUT 1 -j "$chain"
  local rule=(-s "${ip[$from]}/32" -m comment --comment "priest $to does not hear priest $from" -j DROP)
  ns_ipt "$p" -C "$chain" "${rule[@]}" 2>/dev/null || ns_ipt "$p" -A "$chain" "${rule[@]}"
}
cut_sides() {  # every priest of side A and every priest of side B, both ways
  local a b
  for a in $1; do for b in $2; do
    [ "$a" = "$b" ] && die "priest $a cannot be on both sides"
    drop "$a" "$b"
    drop "$b" "$a"
  done; done
}

# Deletes our chain from one namespace; prints how many rules it held.
unrule() {
  local p=$1 count
  if ! ns_ipt "$p" -S "$chain" >/dev/null 2>&1; then echo 0; return; fi
  count=$(ns_ipt "$p" -S "$chain" | grep -c '^-A' || true)
  while ns_ipt "$p" -D INPUT -j "$chain" 2>/dev/null; do :; done
  ns_ipt "$p" -F "$chain"
  ns_ipt "$p" -X "$chain"
  echo "$count"
}

heal() {
  local n removed=0 r thawed=()
  for n in $(priests); do
    if [ "${state[$n]}" = paused ]; then
      docker unpause "${cid[$n]}" >/dev/null
      thawed+=("$n")
    fi
    if [ "${pid[$n]}" -gt 0 ] 2>/dev/null && [ -e "/proc/${pid[$n]}/ns/net" ]; then
      r=$(unrule "${pid[$n]}")
      removed=$((removed + r))
    fi
  done
  local msg="healed: removed $removed rule(s)"
  [ ${#thawed[@]} -gt 0 ] && msg+="; unpaused priest(s) ${thawed[*]}"
  echo "$msg"
}

show() {
  printf '%-7s %-9s %-10s %-9s %-8s %s\n' PRIEST CONTAINER STATE ROLE LEDGER "DOES NOT HEAR"
  local n
  for n in $(priests); do
    local deaf="-" role="-" len="-" s
    if [ "${pid[$n]}" -gt 0 ] 2>/dev/null; then
      local rules
      rules=$(ns_ipt "${pid[$n]}" -S "$chain" 2>/dev/null | sed -n 's/^-A [A-Z]* -s \([0-9.]*\)\/32 .*/\1/p' || true)
      if [ -n "$rules" ]; then
        deaf=""
        for a in $rules; do deaf+="${deaf:+,}${byip[$a]:-$a}"; done
      fi
    fi
    s=$(self_status "$n")
    if [ -n "$s" ]; then
      role=$(field role <<<"$s")
      len=$(field passed_len <<<"$s")
    fi
    printf '%-7s %-9s %-10s %-9s %-8s %s\n' "$n" "${cid[$n]:0:9}" "${state[$n]}" "${role:--}" "${len:--}" "$deaf"
  done
}

cmd=$1; shift
case "$cmd" in
  status|president|isolate|split|bridge|oneway|heal|pause|unpause|kill|start) ;;
  *) usage ;;
esac
load
case "$cmd" in
  status) show ;;
  president) president ;;
  isolate)
    [ $# -eq 1 ] || usage; need_iptables
    n=$(resolve "$1"); others=()
    for m in $(priests); do [ "$m" = "$n" ] || others+=("$m"); done
    cut_sides "$n" "${others[*]}"
    echo "isolated priest $n from ${others[*]}" ;;
  split)
    [ $# -eq 2 ] || usage; need_iptables
    a=$(resolve_list "$1"); b=$(resolve_list "$2")
    cut_sides "$a" "$b"
    echo "split: {$a} | {$b}" ;;
  bridge)
    [ $# -eq 3 ] || usage; need_iptables
    n=$(resolve "$1"); a=$(resolve_list "$2"); b=$(resolve_list "$3")
    for x in $a $b; do [ "$x" = "$n" ] && die "the bridge $n cannot be on a side"; done
    cut_sides "$a" "$b"
    echo "bridge: {$a} | {$b}, priest $n hears and is heard by both" ;;
  oneway)
    [ $# -eq 2 ] || usage; need_iptables
    from=$(resolve_list "$1"); to=$(resolve_list "$2")
    for f in $from; do for t in $to; do
      [ "$f" = "$t" ] && die "priest $f on both ends"
      drop "$f" "$t"
    done; done
    echo "one-way: what {$from} send is lost on the way to {$to}" ;;
  heal) [ $# -eq 0 ] || usage; heal ;;
  pause|unpause|kill|start)
    [ $# -eq 1 ] || usage
    ns=$(resolve_list "$1"); cs=()
    for n in $ns; do cs+=("${cid[$n]}"); done
    case "$cmd" in  # one docker command for all of them: the fault hits them together
      pause) docker pause "${cs[@]}" >/dev/null ;;
      unpause) docker unpause "${cs[@]}" >/dev/null ;;
      kill) docker kill -s KILL "${cs[@]}" >/dev/null ;;
      start) docker start "${cs[@]}" >/dev/null ;;
    esac
    echo "$cmd: priest(s) $ns" ;;
  *) usage ;;
esac
