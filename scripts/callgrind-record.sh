#!/usr/bin/env bash
# Instruction counts (valgrind --tool=callgrind: repeatable on a shared machine) of what
# recording adds: the release server (rtc.workers = 1: all media work on the media thread) with
# PLAYERS players of the benchmark stream (~KBPS kbps, fanout-bench), profiled for 20 s once
# everyone is connected, with and without record.enabled. Prints per thread: instructions per
# forwarded packet (media thread), the recorder's tap per publisher packet (fo_rec_on_rtp,
# inclusive), and the writer thread's instructions per second. Not a test; stops by itself.
# Usage: scripts/callgrind-record.sh [PLAYERS]      (default 10; env KBPS=1000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
KBPS=${KBPS:-1000}
scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
profile() { # record(0|1) dir
  local rec=$1 out=$2 hp up pid bp args=()
  mkdir -p "$out"
  hp=$(free_port SOCK_STREAM); up=$(free_port SOCK_DGRAM)
  [ "$rec" = 1 ] && args=(--set record.enabled=true --set "record.dir=$out/rec")
  valgrind --tool=callgrind --separate-threads=yes --instr-atstart=no --callgrind-out-file="$out/cg" \
    build-release/fanout -c conf/fanout.conf --http-port "$hp" --rtc-port "$up" --candidate 127.0.0.1 --no-https \
    --log-level info --set rtc.workers=1 --set rtc.pending_timeout=120 --set rtc.consent_timeout=120 "${args[@]}" \
    >"$out/srv.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do grep -q "fanout ready" "$out/srv.log" && break; sleep 0.5; done
  build-release/tools/fanout-bench --api "http://127.0.0.1:$hp" --players "$n" --ramp 2 --duration 45 \
    --video-kbps "$KBPS" >"$out/bench.json" 2>"$out/bench.err" &
  bp=$!
  for _ in $(seq 240); do grep -q "$n/$n started, $n connected" "$out/bench.err" 2>/dev/null && break; sleep 0.5; done
  callgrind_control -i on "$pid" >/dev/null; sleep 3
  callgrind_control -z "$pid" >/dev/null; sleep 20
  callgrind_control -d "$pid" >/dev/null; callgrind_control -i off "$pid" >/dev/null
  wait "$bp" || true
  kill "$pid"; wait "$pid" || true
}
incl() { callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null | awk -v f="$2" '$0 ~ ":"f" " {gsub(",", "", $1); print $1; exit}'; }
# calls to function $2 in profile $1 (names are given once, then referred to by "(id)")
calls() {
  awk -v f="$2" '
    /^c?fn=\([0-9]+\) / { id = $1; sub(/^c?fn=/, "", id); name[id] = substr($0, index($0, " ") + 1) }
    /^cfn=/ { id = $1; sub(/^cfn=/, "", id); c = (name[id] == f) }
    /^calls=/ && c { split($0, a, "[= ]"); s += a[2] }
    END { print s + 0 }' "$1"
}
total() { awk '/^totals:/ {print $2}' "$1"; }
profile 0 "$work/a"
profile 1 "$work/b"
for side in a b; do
  m="$work/$side/cg.1-01"
  fwd=$(calls "$m" fo_transport_commit_rtp)
  echo "recording $( [ $side = b ] && echo on || echo off ): media thread $(total "$m") instructions for $fwd forwarded packets = $(( $(total "$m") / (fwd > 0 ? fwd : 1) )) per packet"
done
m="$work/b/cg.1-01" w="$work/b/cg.1-02"
tap=$(incl "$m" fo_rec_on_rtp) taps=$(calls "$m" fo_rec_on_rtp)
echo "tap (fo_rec_on_rtp, inclusive): $tap instructions for $taps publisher packets = $(( tap / (taps > 0 ? taps : 1) )) per packet"
echo "writer thread: $(total "$w") instructions in 20 s = $(( $(total "$w") / 20 )) per second"
