#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/bench-tcp.sh's CALLGRIND=1 mode: user-space instructions per forwarded packet of a
# release fanout (rtc.workers = 1) under callgrind, with N players over UDP and then over
# ICE-TCP (fanout-bench; the publisher on UDP, the recording at its own rate), alternated ROUNDS
# times. Instrumentation is on only for WINDOW seconds once every player is connected; packets
# forwarded in that window come from the server's /metrics (UDP datagrams + TCP frames out).
# Writes the "## ICE-TCP players next to UDP players: instructions" section of
# docs/benchmarks.md (NO_DOC=1: print only). Every run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(10)
ROUNDS=${ROUNDS:-3}
WINDOW=${WINDOW:-10}
scripts/deps.sh
scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release
bin=build-release/fanout bench=build-release/tools/fanout-bench
work=$(mktemp -d)
srv_pid=""
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1]; u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1",p)); print(p)'; }
# UDP datagrams + ICE-TCP frames the server sent so far.
sent() {
  curl -fsS "$api/metrics" | awk '/^fanout_udp_packets_total\{direction="out"\}/{u=$2} /^fanout_tcp_frames_total\{direction="out"\}/{t=$2} END{print u+t}'
}
rows=()
for ((r = 1; r <= ROUNDS; r++)); do
  for n in "${counts[@]}"; do
    for carrier in udp tcp; do
      echo "== round $r/$ROUNDS: $n players over $carrier" >&2
      hp=$(free_port); up=$(free_port)
      valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.out" \
        "$bin" -c conf/fanout.conf --http-port "$hp" --rtc-port "$up" --candidate 127.0.0.1 --no-https \
        --log-level warn --set rtc.workers=1 --set rtc.pending_timeout=120 >"$work/server.log" 2>&1 &
      srv_pid=$!
      api="http://127.0.0.1:$hp"
      for _ in $(seq 300); do curl -fsS -o /dev/null -X OPTIONS "$api/rtc/v1/play/" 2>/dev/null && break; sleep 0.2; done
      settle=$(( n + 8 ))
      extra=()
      [ "$carrier" = tcp ] && extra=(--tcp)
      "$bench" --api "$api" --players "$n" --ramp 1 --duration $((settle + WINDOW + 5)) "${extra[@]}" \
        >"$work/bench.json" 2>"$work/bench.err" &
      bpid=$!
      sleep "$((settle + n))"
      p0=$(sent)
      callgrind_control -i on "$srv_pid" >/dev/null
      sleep "$WINDOW"
      callgrind_control -i off "$srv_pid" >/dev/null
      p1=$(sent)
      callgrind_control -d "$srv_pid" >/dev/null
      wait "$bpid" || true
      kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=""
      ir=$(cat "$work"/cg.out* | awk '/^(summary|totals):/{s+=$2} END{print s}')
      conn=$(jq .connected "$work/bench.json")
      row=$(jq -nc --arg c "$carrier" --argjson n "$n" --argjson conn "$conn" --argjson ir "$ir" \
        --argjson p "$((p1 - p0))" '{players: $n, carrier: $c, connected: $conn, ir: $ir, packets: $p,
          ir_per_pkt: (if $p > 0 then $ir / $p else null end)}')
      echo "$row" >&2
      rows+=("$row")
      rm -f "$work"/cg.out*
    done
  done
done
section=$(
  echo "## ICE-TCP players next to UDP players: instructions"
  echo
  echo "User-space instructions (callgrind's Ir) of the server per packet it forwarded, over a"
  echo "${WINDOW} s window once every player was connected: a release build, rtc.workers = 1, one"
  echo "publisher over UDP (the recording at its own rate), N players over UDP or over ICE-TCP,"
  echo "alternated (${ROUNDS} rounds; median, every round in brackets). Counts, not times: the other"
  echo "engineers' load on the machine does not change them. The kernel's share (sendmmsg of"
  echo "datagrams vs one sendmsg of a connection's queue per batch) is not counted here; the timed section"
  echo "\"ICE-TCP players next to UDP players\" has it. With few players the publisher's own packets"
  echo "(receive, unprotect, feedback) are shared by few forwards, so the absolute figure is higher"
  echo "than with hundreds; the ratio is the point. Windows shorter than ~30 s, or more players than"
  echo "the instrumented server keeps up with, spread the rounds (10 s at 20 players: ±20 %)."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ); commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo ' (+ local changes)')"
  echo "- Command: \`CALLGRIND=1 scripts/bench-tcp.sh ${counts[*]}  (ROUNDS=$ROUNDS WINDOW=$WINDOW)\`"
  echo
  echo "| players | carrier | connected | packets in window | **Ir per forwarded packet** | TCP ÷ UDP |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${rows[@]}" | jq -rs '
    def med: sort | .[(length - 1) / 2 | floor];
    group_by(.players)[] as $rs
    | ($rs | map(select(.carrier == "udp")) | map(.ir_per_pkt) | med) as $udp
    | ("udp", "tcp") as $c
    | ($rs | map(select(.carrier == $c))) as $x
    | ($x | map(.ir_per_pkt) | med) as $m
    | "| \($x[0].players) | \($c) | \($x | map(.connected) | min) | \($x | map(.packets) | med) | **\($m | round)** (\($x | map(.ir_per_pkt | round | tostring) | join(", "))) | \(if $c == "tcp" then ($m / $udp * 100 | round / 100) else "" end) |"'
)
echo "$section"
if [ -z "${NO_DOC:-}" ]; then
  printf "%s\n" "$section" | python3 scripts/doc-section.py docs/benchmarks.md "ICE-TCP players next to UDP players: instructions"
  echo "wrote docs/benchmarks.md" >&2
fi
