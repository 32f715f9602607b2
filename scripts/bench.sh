#!/usr/bin/env bash
# Fan-out benchmark: a release build of fanout on loopback, fanout-bench at several player counts
# (one publisher of the H.264+Opus recording padded to $KBPS), the server's CPU time and RSS
# sampled from /proc, the per-packet floor (fanout-floor) in the same run. Writes the table to
# the "## Fan-out" section of docs/benchmarks.md (other sections are kept) and prints it.
# Not part of the test suite: numbers, not pass/fail. Every run stops by itself.
# Usage: scripts/bench.sh [player counts...]        (default: 50 100 200 500 1000)
#   env: DURATION=10 (s of media per count after ramp-up)  RAMP=200 (players/s)  KBPS=1000
#        IDLE=500 (idle players for memory per idle player; 0 skips)  NO_DOC=1 (do not write)
#        IDLE_HOLD=0 (s the idle players stay connected before RSS is sampled; players hibernate
#        their DTLS at their first receiver report, or after 30 s with --rr-ms 0: include/fanout/dtls.h)
#        FANOUT_SRTP_CRYPTO=libsrtp (the server with libsrtp's stock NSS crypto, for comparison;
#        libsrtp+nettle: libsrtp's engine over nettle, the outbound path before src/rtc/srtp_out.c)
#        SERVER_CPU=1 (pin the server to that CPU and the load tool to the other; "" does not pin)
#        PROCS=1 (fanout-bench processes sharing the players; their JSON is merged)
#        WORKERS=1 (the server's rtc.workers)  SETTLE=3 (s after the ramp before measuring)
#        TITLE="Fan-out" (the docs/benchmarks.md section written)
#        RECORD=1 (record the benchmark's stream: record.enabled with a scratch record.dir; the
#                  row adds the recorder's writer thread CPU, "rec %")
#        TCP=1 (the players connect over ICE-TCP; the publisher stays on UDP)
#        ROWS_OUT=FILE (also write each player count's row as one JSON line there; bench-tcp.sh)
#        NETNS=1 (root only: run everything in a fresh network namespace with its own loopback,
#                 where no netfilter/conntrack hooks are loaded, as on a host that exempts the
#                 media port from conntrack; the namespace is deleted at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${NETNS:-}" = 1 ] && [ -z "${FO_BENCH_IN_NETNS:-}" ]; then
  ns=fo-bench-$$
  ip netns add "$ns"
  trap 'ip netns delete "$ns" 2>/dev/null || true' EXIT
  ip -n "$ns" link set lo up
  FO_BENCH_IN_NETNS=$ns ip netns exec "$ns" "$0" "$@"
  exit
fi
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(50 100 200 500 1000)
DURATION=${DURATION:-10}
RAMP=${RAMP:-200}
KBPS=${KBPS:-1000}
IDLE=${IDLE:-500}
SERVER_CPU=${SERVER_CPU-1}
PROCS=${PROCS:-1}
WORKERS=${WORKERS:-1}
TCP=${TCP:-}
tcp_args=()
[ -n "$TCP" ] && tcp_args=(--tcp)
SETTLE=${SETTLE:-3}
IDLE_HOLD=${IDLE_HOLD:-0}
bdir=build-release
scripts/deps.sh
command -v jq >/dev/null || { echo "bench.sh needs jq (apt-get install jq)" >&2; exit 1; }
scripts/build.sh "$bdir" -DCMAKE_BUILD_TYPE=Release
bin=$bdir/fanout bench=$bdir/tools/fanout-bench floor=$bdir/tools/fanout-floor
work=$(mktemp -d)
srv_pid=""
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
tck=$(getconf CLK_TCK)
pin_srv=() pin_tool=()
if [ -n "$SERVER_CPU" ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_srv=(taskset -c "$SERVER_CPU")
  pin_tool=(taskset -c "$(( (SERVER_CPU + 1) % $(nproc) ))")
fi

free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
# utime+stime of the server in clock ticks, and its RSS in KiB.
cpu_ticks() { awk '{print $14+$15}' "/proc/$srv_pid/stat"; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$srv_pid/status"; }

rec_args=()
[ "${RECORD:-}" = 1 ] && rec_args=(--set record.enabled=true --set "record.dir=$work/rec")
# utime+stime of the recorder's writer thread (named fo-record) in clock ticks, 0 without one.
rec_ticks() {
  local t
  for t in /proc/"$srv_pid"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = fo-record ] && { awk '{print $14+$15}' "$t/stat"; return; }
  done
  echo 0
}

start_server() {
  local hp up
  hp=$(free_port SOCK_STREAM); up=$(free_port SOCK_DGRAM)
  "${pin_srv[@]}" "$bin" -c conf/fanout.conf --http-port "$hp" --rtc-port "$up" \
    --candidate 127.0.0.1 --no-https --log-level warn --set rtc.workers="$WORKERS" --set rtc.max_sessions=100000 \
    --set rtc.max_players_per_stream=100000 --set rtc.max_pending=100000 "${rec_args[@]}" \
    >"$work/server.log" 2>&1 &
  srv_pid=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null -X OPTIONS "http://127.0.0.1:$hp/rtc/v1/play/" 2>/dev/null && break
    sleep 0.1
  done
  kill -0 "$srv_pid" 2>/dev/null || { echo "fanout did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
  api="http://127.0.0.1:$hp"
}
stop_server() { kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=""; }

# Runs $PROCS fanout-bench processes sharing $1 players (the first publishes unless --no-publish
# is among the extra arguments), waits for them and merges their JSON summaries into $2.
# Distributions are merged conservatively: the largest p50/p95/max of the processes.
run_bench() {
  local n=$1 out=$2; shift 2
  local pids=() k share off=0
  for ((k = 0; k < PROCS; k++)); do
    share=$(( n / PROCS + (k < n % PROCS ? 1 : 0) ))
    local extra=()
    [ "$k" -gt 0 ] && extra=(--no-publish)
    "${pin_tool[@]}" "$bench" --api "$api" --players "$share" --name-offset "$off" "$@" "${extra[@]}" \
      >"$work/out.$k.json" 2>"$work/bench.$k.err" &
    pids+=($!)
    off=$((off + share))
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  for ((k = 0; k < PROCS; k++)); do
    [ -s "$work/out.$k.json" ] || { cat "$work/bench.$k.err" >&2; echo "fanout-bench $k printed nothing" >&2; exit 1; }
  done
  jq -s '
    def dist(f): (map(f) | {n: (map(.n) | add), p50: (map(.p50 // 0) | max), p95: (map(.p95 // 0) | max), max: (map(.max // 0) | max)});
    (map(.received.rtp) | add) as $rtp | (map(.received.lost) | add) as $lost
    | {players: (map(.players) | add), started: (map(.started) | add), connected: (map(.connected) | add),
       failed: (map(.failed) | add), with_media: (map(.with_media) | add), procs: length,
       setup_per_s: (map(.setup_per_s) | add * 10 | round / 10),
       signal_ms: dist(.signal_ms), connect_ms: dist(.connect_ms), ttfp_ms: dist(.ttfp_ms),
       ttfp_video_ms: dist(.ttfp_video_ms),
       publisher: ((map(select(.publisher.connected)) + .)[0].publisher),
       received: {rtp: $rtp, bytes: (map(.received.bytes) | add), lost: $lost,
                  loss_pct: (if $rtp + $lost > 0 then 100 * $lost / ($rtp + $lost) else 0 end)},
       cpu_s: {user: (map(.cpu_s.user) | add), sys: (map(.cpu_s.sys) | add)},
       errors: (map(.errors) | add)}' "$work"/out.*.json >"$out"
  rm -f "$work"/out.*.json
}

echo "floor probes..." >&2
floor_json=$("${pin_srv[@]}" "$floor")
floor_us=$(jq -r .floor_us <<<"$floor_json")
floor_fan_us=$(jq -r '.floor_fanout_us // -1' <<<"$floor_json")

rows=()
for n in "${counts[@]}"; do
  echo "== $n players, ${KBPS} kbps, ${DURATION} s" >&2
  start_server
  rss0=$(rss_kib)
  ramp_s=$(awk -v n="$n" -v r="$RAMP" 'BEGIN{printf "%.3f", n/r}')
  run_bench "$n" "$work/out.json" --ramp "$(awk -v r="$RAMP" -v k="$PROCS" 'BEGIN{print r / k}')" \
    --duration "$DURATION" --video-kbps "$KBPS" "${tcp_args[@]}" &
  bpid=$!
  # The steady window: from ramp-up + 3 s (handshakes done, keyframe reached) to 1 s before the
  # end, sampled here; the bench's own clock starts after the publisher connected (~0.1 s).
  t_start=$(awk -v r="$ramp_s" -v s="$SETTLE" 'BEGIN{print r + s}')
  t_len=$(awk -v d="$DURATION" -v s="$SETTLE" 'BEGIN{print (d - s - 1 > 1 ? d - s - 1 : 1)}')
  sleep "$t_start"
  c0=$(cpu_ticks); r0=$(rec_ticks); w0=$(date +%s.%N)
  sleep "$t_len"
  c1=$(cpu_ticks); r1=$(rec_ticks); w1=$(date +%s.%N); rss1=$(rss_kib)
  wait "$bpid" || true
  ctot=$(cpu_ticks)
  stop_server
  out=$(cat "$work/out.json")
  [ -n "$out" ] || { cat "$work"/bench.*.err >&2; echo "fanout-bench printed nothing" >&2; exit 1; }
  row=$(jq -c --argjson n "$n" --argjson c0 "$c0" --argjson c1 "$c1" --argjson w0 "$w0" \
    --argjson w1 "$w1" --argjson tck "$tck" --argjson rss0 "$rss0" --argjson rss1 "$rss1" \
    --argjson ctot "$ctot" --argjson floor "$floor_us" --argjson floor_fan "$floor_fan_us" \
    --argjson r0 "$r0" --argjson r1 "$r1" '
    (.publisher.rtp_audio + .publisher.rtp_video) as $pub
    | (if .publisher.media_s > 0 then $pub / .publisher.media_s else 0 end) as $pps
    | (($c1 - $c0) / $tck) as $cpu
    | ($w1 - $w0) as $win
    | ($pps * .with_media * $win * (1 - .received.loss_pct / 100)) as $fwd
    | {players: $n, connected: .connected, failed: .failed, pub_pps: $pps,
       fwd_pps: ($fwd / $win), server_cpu_pct: (100 * $cpu / $win),
       us_per_pkt: (if $fwd > 0 then $cpu * 1e6 / $fwd else null end),
       players_per_core: (if $cpu > 0 then .with_media * $win / $cpu else null end),
       loss_pct: .received.loss_pct, rss_mib: ($rss1 / 1024),
       kib_per_player: (if .connected > 0 then ($rss1 - $rss0) / .connected else null end),
       setup_per_s: .setup_per_s, ttfp_p50: .ttfp_ms.p50, ttfp_p95: .ttfp_ms.p95,
       ttfv_p50: .ttfp_video_ms.p50, server_cpu_total_s: ($ctot / $tck),
       tool_cpu_s: (.cpu_s.user + .cpu_s.sys),
       tool_us_per_pkt: (if .received.rtp > 0 then (.cpu_s.user + .cpu_s.sys) * 1e6 / .received.rtp else null end),
       pub_kbps: .publisher.kbps, floor_us: $floor, floor_fanout_us: $floor_fan,
       x_floor_fanout: (if $fwd > 0 and $floor_fan > 0 then $cpu * 1e6 / $fwd / $floor_fan else null end),
       errors: .errors}' "$work/out.json")
  echo "$row" >&2
  [ -n "${ROWS_OUT:-}" ] && jq -c --arg c "${TCP:+tcp}" '. + {carrier: (if $c == "" then "udp" else $c end)}' <<<"$row" >>"$ROWS_OUT"
  rows+=("$row")
done

idle_row="null"
if [ "$IDLE" -gt 0 ]; then
  echo "== $IDLE idle players (no publisher)" >&2
  start_server
  rss0=$(rss_kib)
  c0=$(cpu_ticks)
  run_bench "$IDLE" "$work/idle.json" --ramp "$(awk -v r="$RAMP" -v k="$PROCS" 'BEGIN{print r / k}')" \
    --duration "$((4 + IDLE_HOLD))" --no-publish &
  bpid=$!
  # all connected (and IDLE_HOLD s idle), not yet closed
  sleep "$(awk -v n="$IDLE" -v r="$RAMP" -v h="$IDLE_HOLD" 'BEGIN{print n/r + 3 + h}')"
  rss1=$(rss_kib)
  wait "$bpid" || true
  c1=$(cpu_ticks) # the server's CPU for signaling + ICE + DTLS + SRTP set-up of every session
  stop_server
  idle_row=$(jq -c --argjson rss0 "$rss0" --argjson rss1 "$rss1" --argjson n "$IDLE" \
    --argjson c0 "$c0" --argjson c1 "$c1" --argjson tck "$tck" \
    '{players: $n, connected: .connected,
      kib_per_idle_player: (if .connected > 0 then ($rss1 - $rss0) / .connected else null end),
      setup_per_s: .setup_per_s, connect_p50: .connect_ms.p50, connect_p95: .connect_ms.p95,
      server_ms_per_setup: (if .connected > 0 then ($c1 - $c0) / $tck * 1000 / .connected else null end)}' \
    "$work/idle.json")
  echo "$idle_row" >&2
fi

# The section, as Markdown.
hold_txt=""
[ "$IDLE_HOLD" != 0 ] && hold_txt=" IDLE_HOLD=$IDLE_HOLD"
cmd="scripts/bench.sh ${counts[*]}  (${FO_BENCH_IN_NETNS:+NETNS=1 }${TCP:+TCP=1 }DURATION=$DURATION RAMP=$RAMP KBPS=$KBPS IDLE=$IDLE$hold_txt SERVER_CPU=$SERVER_CPU PROCS=$PROCS WORKERS=$WORKERS SETTLE=$SETTLE${FANOUT_SRTP_CRYPTO:+ FANOUT_SRTP_CRYPTO=$FANOUT_SRTP_CRYPTO}${RECORD:+ RECORD=$RECORD})"
crypto=${FANOUT_SRTP_CRYPTO:-nettle}
title=${TITLE:-Fan-out}
[ "$crypto" != nettle ] && title="Fan-out with libsrtp's own crypto (before)"
section=$(
  echo "## $title"
  echo
  if [ "$KBPS" -gt 0 ]; then
    echo "One publisher (the H.264 baseline + Opus recording in tests/data/media, padded with filler"
    echo "NAL units to ~${KBPS} kbps of video) and N players on loopback, from ${PROCS} fanout-bench"
  else
    echo "One publisher (the H.264 baseline + Opus recording in tests/data/media at its own rate,"
    echo "~400 kbps of video) and N players on loopback, from ${PROCS} fanout-bench"
  fi
  echo "process(es)${TCP:+, the players over ICE-TCP}; a release build of fanout with rtc.workers = ${WORKERS} (SRTP crypto: ${crypto})."
  echo "Server CPU is utime+stime from /proc over the steady window (ramp-up + ${SETTLE} s to the end - 1 s);"
  echo "forwarded packets in that window are estimated as publisher packets/s × players with media"
  echo "× window × (1 − loss). Players per core = players / server cores used at that rate."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(uname -r), $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo ' (+ local changes)')"
  echo "- Command: \`$cmd\`"
  echo "- Pinning: ${pin_srv[*]:-none} for the server, ${pin_tool[*]:-none} for fanout-bench"
  [ -n "${FO_BENCH_IN_NETNS:-}" ] && echo "- Network: a fresh network namespace's loopback (NETNS=1: no netfilter/conntrack hooks)"
  echo "- Floor probes (fanout-floor, same run): \`$floor_json\`"
  echo
  echo "| players | connected | server CPU % | fwd pkt/s | **server µs/pkt** | floor µs/pkt: 1 socket / fan-out | × fan-out floor | players/core | loss % | RSS MiB | KiB/player | setups/s | first pkt p50/p95 ms | first video p50 ms | bench µs/pkt |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for r in "${rows[@]}"; do
    jq -r '"| \(.players) | \(.connected) | \(.server_cpu_pct|floor) | \(.fwd_pps|floor) | **\(if .connected < .players then "n/a: not all connected" elif .us_per_pkt then (.us_per_pkt*100|round/100) else "–" end)** | \(.floor_us*100|round/100) / \(.floor_fanout_us*100|round/100) | \(if .connected < .players or .x_floor_fanout == null then "–" else (.x_floor_fanout*100|round/100) end) | \(if .connected < .players then "–" elif .players_per_core then (.players_per_core|floor) else "–" end) | \(.loss_pct*1000|round/1000) | \(.rss_mib*10|round/10) | \(if .kib_per_player then (.kib_per_player|round) else "–" end) | \(.setup_per_s) | \(.ttfp_p50)/\(.ttfp_p95) | \(.ttfv_p50) | \(if .tool_us_per_pkt then (.tool_us_per_pkt*100|round/100) else "–" end) |"' <<<"$r"
  done
  if [ "$idle_row" != "null" ]; then
    echo
    jq -r '"Idle players (signaled, ICE+DTLS+SRTP up, no publisher): \(.players) players, \(.connected) connected, **\(.kib_per_idle_player|round) KiB RSS per idle player**, \(.setup_per_s) setups/s, connect p50/p95 \(.connect_p50)/\(.connect_p95) ms; server CPU per session set-up **\(.server_ms_per_setup*100|round/100) ms** (HTTP + SDP + ICE + DTLS handshake + SRTP), i.e. ~\(1000 / .server_ms_per_setup | floor) set-ups/s per server core."' <<<"$idle_row"
  fi
  echo
  echo "Floors: SRTP protect (nettle) plus a 1/32 share of a sendmmsg of 1210-byte datagrams, either all"
  echo "to one socket nobody waits on (\"1 socket\") or each to the next of 1000 sockets another process"
  echo "drains with epoll, so the sender also pays the receivers' wake-ups and cold socket state, as"
  echo "with real players on loopback (\"fan-out\"; sender thread CPU time)."
  echo
  echo "\"bench µs/pkt\" is the load tool's own CPU (recv + SRTP unprotect + bookkeeping, pinned to the"
  echo "other core) per packet it received; \"setups/s\" is bounded by --ramp and by the DTLS"
  echo "handshakes' CPU on both sides (signaling runs 16 requests at once per process). Rows where not"
  echo "every player connected within the run are not valid per-packet figures (players still joining"
  echo "inside the measuring window)."
)
echo "$section"
if [ -z "${NO_DOC:-}" ]; then
  doc=docs/benchmarks.md
  mkdir -p docs
  printf '%s\n' "$section" | python3 scripts/doc-section.py "$doc" "$title"
  echo "wrote $doc" >&2
fi
