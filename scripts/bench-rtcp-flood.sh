#!/usr/bin/env bash
# RTCP flood benchmark (issue 15, item 10): the server's CPU (rtc.workers = 1: the media thread)
# while one player sends NACK floods (255 packets each, all in the history) or TWCC feedback
# claiming 2048 packets, against the same media without a flood. Runs each server binary given
# (default: a release build of this tree) ROUNDS times per kind, alternating binaries, and prints
# a table of the median CPU % per binary and kind. Not part of the test suite: numbers, not
# pass/fail. Every run stops by itself.
# Usage: scripts/bench-rtcp-flood.sh [fanout-binary...]
#   env: RATE=4000 (RTCP packets/s, under rtc.max_pps 5000)  SECONDS_=5  PPS=300 (video)  ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-4000} SECS=${SECONDS_:-5} PPS=${PPS:-300} ROUNDS=${ROUNDS:-3}
bdir=build-release
scripts/build.sh "$bdir" -DCMAKE_BUILD_TYPE=Release
bins=("$@")
[ ${#bins[@]} -eq 0 ] && bins=("$bdir/fanout")
flood=$bdir/tools/fanout-flood
work=$(mktemp -d)
srv_pid=""
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }

run_one() { # binary kind -> prints cpu %
  local hp up
  hp=$(free_port SOCK_STREAM); up=$(free_port SOCK_DGRAM)
  "$1" -c conf/fanout.conf --http-port "$hp" --rtc-port "$up" --candidate 127.0.0.1 --no-https \
    --log-level warn --set rtc.workers=1 >"$work/server.log" 2>&1 &
  srv_pid=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null -X OPTIONS "http://127.0.0.1:$hp/rtc/v1/play/" 2>/dev/null && break
    sleep 0.1
  done
  "$flood" --api "http://127.0.0.1:$hp" --kind "$2" --rate "$RATE" --seconds "$SECS" --pps "$PPS" \
    --pid "$srv_pid" | python3 -c 'import json,sys; print(json.load(sys.stdin)["server_cpu_pct"])'
  kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=""
}

declare -A res
for kind in none nack twcc; do
  for r in $(seq "$ROUNDS"); do
    for b in "${bins[@]}"; do
      res["$b/$kind"]+="$(run_one "$b" "$kind") "
    done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "RTCP flood: $RATE packets/s for ${SECS}s, video $PPS packets/s; server CPU % (median of $ROUNDS; all runs)"
echo "| server | no flood | NACK flood | TWCC flood |"
echo "| --- | ---: | ---: | ---: |"
for b in "${bins[@]}"; do
  line="| \`$b\`"
  for kind in none nack twcc; do
    line+=" | $(echo "${res[$b/$kind]}" | median) (${res[$b/$kind]% })"
  done
  echo "$line |"
done
