# What systemd does to start an instance of one of the package's units, for the package test's
# containers (which have no systemd). Sourced by in_container.sh and three_hosts.sh, inside
# a container where the .deb is installed:
#
#   source /root/unit.sh
#   unit_command /lib/systemd/system/paxos-priest@.service 2   # sets unit_argv, unit_user...
#   unit_start  /lib/systemd/system/paxos-priest@.service 2 /root/priest-2.log   # sets unit_pid
#
# It reads the [Service] section's ExecStart, User, Group, UMask, StateDirectory,
# StateDirectoryMode and EnvironmentFile (the last assignment of a key wins, as in systemd),
# replaces %i by the instance, and $PARLIAMENT_PRIEST_ARGS by that variable of the
# EnvironmentFile (VAR=the rest of its line; split on blanks, as systemd splits an unquoted
# $VAR). Anything else it
# does not interpret (quotes, other variables, other specifiers) fails. The sandboxing
# options (ProtectSystem= and the rest) are not applied.

unit_value() {  # FILE KEY
  awk -v key="$2" '
    /^[[:space:]]*\[/ { in_service = ($0 ~ /^[[:space:]]*\[Service\]/) }
    in_service && $0 ~ "^[[:space:]]*" key "[[:space:]]*=" { sub(/^[^=]*=[[:space:]]*/, ""); value = $0 }
    END { print value }' "$1"
}

unit_command() {  # FILE INSTANCE: sets unit_argv, unit_user, unit_group, unit_umask, unit_state
  local file=$1 instance=$2 exec_start env_file extra=""
  exec_start=$(unit_value "$file" ExecStart)
  [ -n "$exec_start" ] || { echo "$file has no ExecStart"; return 1; }
  case "$exec_start" in /*) ;; *) echo "ExecStart is not an absolute path: $exec_start"; return 1 ;; esac
  env_file=$(unit_value "$file" EnvironmentFile)
  env_file=${env_file#-}
  env_file=${env_file//%i/$instance}
  if [ -n "$env_file" ] && [ -f "$env_file" ]; then
    # As systemd reads an EnvironmentFile: VAR=the rest of the line (quotes around it dropped).
    extra=$(sed -n 's/^[[:space:]]*PARLIAMENT_PRIEST_ARGS=//p' "$env_file" | tail -1)
    extra=${extra#[\"\']}
    extra=${extra%[\"\']}
  fi
  exec_start=${exec_start//\$PARLIAMENT_PRIEST_ARGS/$extra}
  case "$exec_start" in
    *[\"\'\$\\]*) echo "ExecStart has quotes, variables or escapes this test does not interpret: $exec_start"; return 1 ;;
  esac
  exec_start=${exec_start//%i/$instance}
  unit_user=$(unit_value "$file" User)
  unit_group=$(unit_value "$file" Group)
  unit_group=${unit_group:-${unit_user:-root}}
  unit_user=${unit_user:-root}
  unit_umask=$(unit_value "$file" UMask)
  unit_state=$(unit_value "$file" StateDirectory)
  unit_state=${unit_state//%i/$instance}
  unit_state_mode=$(unit_value "$file" StateDirectoryMode)
  [[ "$exec_start$unit_state" != *%* ]] || { echo "specifiers this test does not know: $exec_start"; return 1; }
  read -r -a unit_argv <<<"$exec_start"
}

unit_start() {  # FILE INSTANCE LOG: starts it in the background (a child of this shell): unit_pid
  unit_command "$1" "$2" || return 1
  local d
  for d in $unit_state; do
    mkdir -p "/var/lib/$d"
    chown "$unit_user:$unit_group" "/var/lib/$d"
    chmod "${unit_state_mode:-0755}" "/var/lib/$d"
  done
  (
    cd /
    umask "${unit_umask:-0022}"
    exec setpriv --reuid="$unit_user" --regid="$unit_group" --init-groups --no-new-privs -- "${unit_argv[@]}"
  ) >"$3" 2>&1 </dev/null &
  unit_pid=$!
}
