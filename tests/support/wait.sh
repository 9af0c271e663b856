# shellcheck shell=bash
# The one wait of the test scripts, sourced by them, as the launcher's poll::until:
#   wait_until SECONDS INTERVAL COMMAND...
# runs COMMAND every INTERVAL seconds until it succeeds (status 0) or SECONDS have passed
# (status 1). `quiet` and `gone` shape the usual conditions.
wait_until() {
  local deadline=$((SECONDS + $1)) interval=$2
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep "$interval"
  done
}

# COMMAND, its output dropped: it answers.
quiet() { "$@" >/dev/null 2>&1; }

# COMMAND fails: what it looks for is gone.
gone() { ! "$@" >/dev/null 2>&1; }
