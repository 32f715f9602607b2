# SPDX-License-Identifier: MIT
# Shared by the tests/cli/it_*.sh scripts (sourced, not run): the binary and source paths from
# the arguments, a temporary directory removed at exit, ok/fail counting, free ports, starting
# and stopping a server, and the SRS API offers. Set `name` before sourcing; end with `finish`.
# shellcheck shell=bash
set -uo pipefail
bin=$(readlink -f "$1")
src=$(readlink -f "$2")
tmp=$(mktemp -d "/tmp/fo-$name.XXXXXX")
pid=
fails=0
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "$name: FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "$name: ok: $*"; }

# A port free for TCP and UDP on this machine right now.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    ss -Htanu 2>/dev/null | awk '{print $5}' | grep -qE "[:.]$p\$" || { echo "$p"; return; }
  done
  echo 0
}

# start LOG [args...]: starts the server in $tmp with stderr to LOG, waits (10 s at most) for
# "fanout ready" in LOG, or in $watch when set (a --log-file). Returns 1 and prints the log if
# it did not get ready. Each server runs under `timeout` (which passes TERM and HUP on to it),
# so none outlives a test killed by ctest's timeout.
start() {
  local log=$1
  shift
  # shellcheck disable=SC2086 # $prefix: optional words before the binary (e.g. taskset -c 0)
  (cd "$tmp" && exec timeout -s KILL 90 ${prefix:-} "$bin" "$@" 2>"$log") &
  pid=$!
  for _ in $(seq 200); do
    grep -q "fanout ready" "${watch:-$log}" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "---- $log" >&2
  cat "$log" >&2
  return 1
}

# stop: SIGTERM and wait; the exit code in $rc.
stop() {
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  pid=
}

# offer KIND BASE STREAM [QUERY]: POSTs Chrome's KIND (publish|play) offer to BASE/rtc/v1/KIND/
# (with ?QUERY); prints the answer JSON.
offer() {
  local kind=$1 base=$2 stream=$3 query=${4:+?$4}
  local sdp
  sdp=$(sed -e ':a;N;$!ba;s/\r//g;s/\n/\\r\\n/g' "$src/tests/data/sdp/chrome-$kind.sdp")
  curl -sk --max-time 5 "$base/rtc/v1/$kind/$query" \
    -d "{\"api\":\"$base/rtc/v1/$kind/\",\"streamurl\":\"webrtc://127.0.0.1/live/$stream\",\"sdp\":\"$sdp\\r\\n\"}"
}
publish() { offer publish "$@"; }

# finish: the summary line and the exit code.
finish() {
  if [ "$fails" -ne 0 ]; then echo "$name: $fails check(s) failed" >&2; exit 1; fi
  echo "$name: all checks passed"
}

