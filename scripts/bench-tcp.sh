#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What an ICE-TCP player costs next to a UDP player: scripts/bench.sh at each player count with
# the players over UDP, then over ICE-TCP (fanout-bench --tcp; the publisher on UDP in both),
# alternated ROUNDS times so that the shared machine's noise falls on both alike. Writes the
# medians (server µs per forwarded packet, loss, and the TCP/UDP ratio; every round listed) to
# the "## ICE-TCP players next to UDP players" section of docs/benchmarks.md and prints it.
# With CALLGRIND=1 it counts instead of timing: the server runs under callgrind (instrumented
# only over a steady window, callgrind_control -i on/off) with a few players (default 10; the
# simulated CPU is ~50x slower), and the section gets user-space instructions per forwarded
# packet for UDP and ICE-TCP players, repeatable whatever else the machine runs (the kernel's
# share, the send system calls, is not in it: the timed runs have that).
# Not part of the test suite. Every run stops by itself.
# Usage: scripts/bench-tcp.sh [player counts...]     (default: 100 500; CALLGRIND=1: 10)
#   env: ROUNDS=3, CALLGRIND=1 (WINDOW=10 s counted), and bench.sh's own (DURATION, RAMP, KBPS,
#        WORKERS, SERVER_CPU, NETNS, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
ROUNDS=${ROUNDS:-3}
if [ -n "${CALLGRIND:-}" ]; then
  [ ${#counts[@]} -eq 0 ] && counts=(10)
  exec scripts/bench-tcp-callgrind.sh "${counts[@]}"
fi
[ ${#counts[@]} -eq 0 ] && counts=(100 500)
export DURATION=${DURATION:-10} RAMP=${RAMP:-100} KBPS=${KBPS:-1000} WORKERS=${WORKERS:-1} IDLE=0
command -v jq >/dev/null || { echo "bench-tcp.sh needs jq (apt-get install jq)" >&2; exit 1; }
rows=$(mktemp)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
trap 'rm -f "$rows"' EXIT
for ((r = 1; r <= ROUNDS; r++)); do
  for carrier in udp tcp; do
    echo "== round $r/$ROUNDS: players over $carrier" >&2
    NO_DOC=1 ROWS_OUT="$rows" TCP=$([ "$carrier" = tcp ] && echo 1 || true) \
      scripts/bench.sh "${counts[@]}" >/dev/null
  done
done

section=$(
  echo "## ICE-TCP players next to UDP players"
  echo
  echo "The same load as \"Fan-out\" (one publisher over UDP, the H.264 + Opus recording padded to"
  echo "~${KBPS} kbps of video; a release build with rtc.workers = ${WORKERS}), with the players over UDP or"
  echo "over ICE-TCP (fanout-bench --tcp: RFC 6544 active to the server's passive candidate, RFC"
  echo "4571 framing). Runs alternated UDP, TCP, UDP, TCP... (${ROUNDS} rounds) on the shared machine;"
  echo "the table gives the median of the rounds, every round's value follows in brackets. Server"
  echo "µs/pkt is the server's utime+stime over the steady window per forwarded packet (bench.sh);"
  echo "loss is sequence gaps at the players."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(uname -r); load average at the start $load0, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo ' (+ local changes)')"
  echo "- Command: \`scripts/bench-tcp.sh ${counts[*]}  (ROUNDS=$ROUNDS DURATION=$DURATION RAMP=$RAMP KBPS=$KBPS WORKERS=$WORKERS)\`"
  echo
  echo "| players | carrier | connected | server CPU % | **server µs/pkt** | TCP ÷ UDP | loss % | RSS MiB |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  jq -rs --argjson counts "$(printf '%s\n' "${counts[@]}" | jq -s .)" '
    def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
    def r2: if . == null then "–" else (. * 100 | round / 100) end;
    . as $all
    | [ $counts[] as $n
        | ($all | map(select(.players == $n))) as $rs
        | ($rs | map(select(.carrier == "udp")) | map(.us_per_pkt) | med) as $udp
        | ("udp", "tcp") as $c
        | ($rs | map(select(.carrier == $c))) as $x
        | ($x | map(.us_per_pkt)) as $us
        | ($us | med) as $m
        | "| \($n) | \($c) | \($x | map(.connected) | min) | \($x | map(.server_cpu_pct) | med | floor) | **\($m | r2)** (\($us | map(r2 | tostring) | join(", "))) | \(if $c == "tcp" and $udp != null and $m != null then ($m / $udp | r2) else "" end) | \($x | map(.loss_pct) | med | . * 1000 | round / 1000) | \($x | map(.rss_mib) | med | . * 10 | round / 10) |" ]
    | .[]' "$rows"
  echo
  echo "Raw rows (JSON, one per run):"
  echo
  echo '```'
  cat "$rows"
  echo '```'
)
echo "$section"
if [ -z "${NO_DOC:-}" ]; then
  printf "%s\n" "$section" | python3 scripts/doc-section.py docs/benchmarks.md "ICE-TCP players next to UDP players"
  echo "wrote docs/benchmarks.md" >&2
fi
