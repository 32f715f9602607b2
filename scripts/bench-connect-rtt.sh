#!/usr/bin/env bash
# Connect time over a delayed path (issue 15, item 7: the server confirms a peer's address with
# a Binding request of its own before DTLS; this shows what that costs). fanout-bench's C peers
# reach the server through tests/netem/lossy-relay.js (user space: this kernel has no netem),
# which delays every datagram DELAY ms each way; the answer's candidate points at the relay
# (?eip= in the stream URL). Prints connect_ms (answer -> SRTP ready) for each binary given,
# alternating, ROUNDS times. Not part of the test suite. Every run stops by itself.
# Usage: scripts/bench-connect-rtt.sh [fanout-binary[:config]...]
#   env: DELAY=100 (ms each way)  PLAYERS=20  ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
DELAY=${DELAY:-100} PLAYERS=${PLAYERS:-20} ROUNDS=${ROUNDS:-3}
bdir=build-release
scripts/build.sh "$bdir" -DCMAKE_BUILD_TYPE=Release
bins=("$@")
[ ${#bins[@]} -eq 0 ] && bins=("$bdir/fanout")
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }

run_one() { # binary[:config]
  local bin=${1%%:*} conf=conf/fanout.conf hp up rp
  [ "$bin" != "$1" ] && conf=${1#*:}
  hp=$(free_port SOCK_STREAM); up=$(free_port SOCK_DGRAM)
  "$bin" -c "$conf" --http-port "$hp" --rtc-port "$up" --candidate 127.0.0.1 --no-https \
    --log-level warn --set rtc.workers=1 >"$work/server.log" 2>&1 &
  pids=($!)
  for _ in $(seq 100); do
    curl -fsS -o /dev/null -X OPTIONS "http://127.0.0.1:$hp/rtc/v1/play/" 2>/dev/null && break
    sleep 0.1
  done
  node -e '
    const { LossyRelay } = require(process.argv[1]);
    new LossyRelay({ target: { host: "127.0.0.1", port: +process.argv[2] }, delayMs: +process.argv[3] })
      .start().then((r) => { console.log(r.port); setTimeout(() => process.exit(0), 120000); });
  ' "$PWD/tests/netem/lossy-relay.js" "$up" "$DELAY" >"$work/relay.port" &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$work/relay.port" ] && break; sleep 0.1; done
  rp=$(cat "$work/relay.port")
  "$bdir/tools/fanout-bench" --api "http://127.0.0.1:$hp" --stream "bench/rtt?eip=127.0.0.1:$rp" \
    --players "$PLAYERS" --ramp 10 --duration 2 2>/dev/null | jq -c '.connect_ms'
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$work/relay.port"
}

echo "connect_ms of $PLAYERS players through a relay adding ${DELAY} ms each way"
for r in $(seq "$ROUNDS"); do
  for b in "${bins[@]}"; do echo "$b: $(run_one "$b")"; done
done
