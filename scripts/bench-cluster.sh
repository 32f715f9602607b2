#!/usr/bin/env bash
# Cluster benchmark (issue 10): Debian's redis-server and release builds of fanout on loopback,
# one origin and two edges sharing it. Numbers, not pass/fail; writes the "## Cluster" section
# of docs/benchmarks.md (other sections are kept) and prints it. Every process stops by itself.
#  1. fan-out through edges: fanout-bench publishes to the origin (with ORIGIN_PLAYERS players
#     there) and PLAYERS players are split over the two edges, which pull the stream from the
#     origin; per node: CPU % and µs per forwarded packet (utime+stime from /proc over the steady
#     window; forwarded packets = publisher packets/s × its players (+ relays) × window);
#  2. the same players on one node without a cluster: the single-node µs/pkt to compare with;
#  3. the origin's cost per edge relay: the origin's CPU with the publisher and one player, then
#     with RELAYS more local players, then instead with RELAYS relays pulling the stream from the
#     edges (operator API pulls, each a WHEP session on the origin like a cluster pull): the
#     CPU a relay adds over the CPU a player adds;
#  4. fanout-cluster-probe: a cold pull's first frame on an edge (play request to first video
#     packet, the edge pulling from scratch) and the extra one-way delay of an edge player over
#     an origin player for the same packet.
# Usage: scripts/bench-cluster.sh        env: PLAYERS=200 ORIGIN_PLAYERS=2 RELAYS=20 DURATION=15
#        RAMP=100 KBPS=1000 SETTLE=3 COLD=5 SERVER_CPU=1 (servers pinned there, the tools elsewhere;
#        "" none)
#        NO_DOC=1 (print only)  KEEP=1 (keep the servers' logs)
set -euo pipefail
cd "$(dirname "$0")/.."
PLAYERS=${PLAYERS:-200}
ORIGIN_PLAYERS=${ORIGIN_PLAYERS:-2}
RELAYS=${RELAYS:-20}
DURATION=${DURATION:-15}
RAMP=${RAMP:-100}
KBPS=${KBPS:-1000}
SETTLE=${SETTLE:-3}
COLD=${COLD:-5}
SERVER_CPU=${SERVER_CPU-1}
bdir=build-release
scripts/deps.sh
command -v jq >/dev/null || { echo "bench-cluster.sh needs jq (apt-get install jq)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "bench-cluster.sh needs redis-server (scripts/deps.sh --test)" >&2; exit 1; }
scripts/build.sh "$bdir" -DCMAKE_BUILD_TYPE=Release
bin=$bdir/fanout bench=$bdir/tools/fanout-bench probe=$bdir/tools/fanout-cluster-probe
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
tck=$(getconf CLK_TCK)
pin_srv=() pin_tool=()
if [ -n "$SERVER_CPU" ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_srv=(taskset -c "$SERVER_CPU")
  pin_tool=(taskset -c "$(( (SERVER_CPU + 1) % $(nproc) ))")
fi
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

rport=$(free_port SOCK_STREAM)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --daemonize no \
  --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done

# start_node NAME [cluster]: a release server; sets ${NAME}_pid and ${NAME}_api
start_node() {
  local name=$1 hp up extra=()
  hp=$(free_port SOCK_STREAM); up=$(free_port SOCK_DGRAM)
  [ "${2:-}" = cluster ] && extra=(--set "cluster.redis=redis://127.0.0.1:$rport" --set "cluster.node_id=$name"
    --set cluster.heartbeat=1 --set cluster.relay_linger=1 --set cluster.secret=bench)
  "${pin_srv[@]}" "$bin" -c conf/fanout.conf --http-port "$hp" --rtc-port "$up" --candidate 127.0.0.1 --no-https \
    --log-level warn --set rtc.workers=1 --set rtc.max_sessions=100000 --set rtc.max_players_per_stream=100000 \
    --set rtc.max_pending=100000 "${extra[@]}" >"$work/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$hp/api/v1/versions" 2>/dev/null && break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log" >&2; exit 1; }
  printf -v "${name}_pid" '%s' "$pid"
  printf -v "${name}_api" '%s' "http://127.0.0.1:$hp"
}
stop_node() { local pid=$1; kill "$pid"; wait "$pid" 2>/dev/null || true; }

# bench API PLAYERS STREAM [extra...] > file (in the background; returns its pid in $bpid)
bench_bg() {
  local api=$1 n=$2 stream=$3 out=$4; shift 4
  "${pin_tool[@]}" "$bench" --api "$api" --players "$n" --stream "$stream" --ramp "$RAMP" --duration "$DURATION" \
    --video-kbps "$KBPS" "$@" >"$out" 2>"$out.err" &
  bpid=$!
}

# measure PIDS...: prints the steady window's length, then each pid's CPU seconds over it
measure() {
  local t0 c0=() c1=() i
  sleep "$(awk -v n="$PLAYERS" -v r="$RAMP" -v s="$SETTLE" 'BEGIN{print n/r/2 + s}')"
  for p in "$@"; do c0+=("$(ticks "$p")"); done
  t0=$(date +%s.%N)
  sleep "$(awk -v d="$DURATION" -v s="$SETTLE" -v n="$PLAYERS" -v r="$RAMP" 'BEGIN{w = d - s - 1; print (w > 1 ? w : 1)}')"
  for p in "$@"; do c1+=("$(ticks "$p")"); done
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f ", b - a}'
  for i in "${!c0[@]}"; do awk -v a="${c0[$i]}" -v b="${c1[$i]}" -v t="$tck" 'BEGIN{printf "%.3f ", (b-a)/t}'; done
  echo
}
pub_pps() { jq '(.publisher.rtp_audio + .publisher.rtp_video) / .publisher.media_s' "$1"; }

echo "== 1. $PLAYERS players over two edges, $ORIGIN_PLAYERS on the origin" >&2
start_node origin cluster; start_node edge1 cluster; start_node edge2 cluster
sleep 2 # registered, heartbeats read
half=$((PLAYERS / 2))
bench_bg "$origin_api" "$ORIGIN_PLAYERS" live/c1 "$work/o.json"; b0=$bpid
sleep 1
bench_bg "$edge1_api" "$half" live/c1 "$work/e1.json" --no-publish; b1=$bpid
bench_bg "$edge2_api" "$((PLAYERS - half))" live/c1 "$work/e2.json" --no-publish; b2=$bpid
read -r win co ce1 ce2 < <(measure "$origin_pid" "$edge1_pid" "$edge2_pid")
wait "$b0" "$b1" "$b2" || true
pps=$(pub_pps "$work/o.json")
edges_row=$(jq -nc --argjson co "$co" --argjson c1 "$ce1" --argjson c2 "$ce2" --argjson win "$win" --argjson pps "$pps" \
  --argjson op "$ORIGIN_PLAYERS" --slurpfile e1 "$work/e1.json" --slurpfile e2 "$work/e2.json" '
  ($e1[0].with_media) as $n1 | ($e2[0].with_media) as $n2
  | {pps: $pps, win: $win,
     origin: {cpu_pct: (100*$co/$win), fwd: ($pps*($op+2)), us: ($co*1e6/($pps*($op+2)*$win))},
     edge1: {players: $n1, cpu_pct: (100*$c1/$win), us: (if $n1 > 0 then $c1*1e6/($pps*$n1*$win) else null end),
             loss: $e1[0].received.loss_pct, ttfv: $e1[0].ttfp_video_ms.p50},
     edge2: {players: $n2, cpu_pct: (100*$c2/$win), us: (if $n2 > 0 then $c2*1e6/($pps*$n2*$win) else null end),
             loss: $e2[0].received.loss_pct, ttfv: $e2[0].ttfp_video_ms.p50}}')
echo "$edges_row" >&2

echo "== 4. fanout-cluster-probe (cold pulls, extra delay)" >&2
probe_json=$("${pin_tool[@]}" "$probe" --origin "$origin_api" --edge "$edge1_api" --stream live/probe \
  --seconds "$DURATION" --cold "$COLD" --gap-ms 2500)
echo "$probe_json" >&2

echo "== 3. the origin's cost per relay" >&2
# relay_phase EXTRA_PLAYERS RELAYS: the origin's CPU (cores) with a fresh stream, its publisher and
# 1 + EXTRA_PLAYERS players (fanout-bench), and RELAYS operator pulls of it on the edges
relay_phase() {
  local stream=live/r$RANDOM i ids=()
  bench_bg "$origin_api" "$((1 + $1))" "$stream" "$work/r.json"; local bo=$bpid
  sleep 1
  for ((i = 0; i < $2; i++)); do
    local e=$edge1_api
    [ $((i % 2)) = 1 ] && e=$edge2_api
    ids+=("$e/api/v1/relays/$(curl -fsS -X POST "$e/api/v1/relays" -H 'Content-Type: application/json' \
      -d "{\"type\":\"pull\",\"stream\":\"live/pull$i\",\"url\":\"$origin_api/rtc/v1/whep/?app=live&stream=${stream#live/}\"}" |
      jq -r .relay.id)")
  done
  local w c
  read -r w c < <(PLAYERS=$((1 + $1)) measure "$origin_pid")
  echo "  relay phase +$1 players +$2 relays: $c s CPU in $w s" >&2
  wait "$bo" || true
  for i in "${ids[@]}"; do curl -fsS -o /dev/null -X DELETE "$i" || true; done
  awk -v c="$c" -v w="$w" 'BEGIN{printf "%.5f", c / w}'
}
r_base=$(relay_phase 0 0); r_players=$(relay_phase "$RELAYS" 0); r_relays=$(relay_phase 0 "$RELAYS")
relay_row=$(jq -nc --argjson b "$r_base" --argjson p "$r_players" --argjson r "$r_relays" --argjson n "$RELAYS" \
  '{base: $b, players: $p, relays: $r, n: $n, per_player: (($p-$b)/$n), per_relay: (($r-$b)/$n),
    ratio: (if $p > $b then ($r-$b)/($p-$b) else null end)}')
echo "$relay_row" >&2
stop_node "$edge1_pid"; stop_node "$edge2_pid"; stop_node "$origin_pid"

echo "== 2. the same players on one node" >&2
start_node single
bench_bg "$single_api" "$((PLAYERS + ORIGIN_PLAYERS))" live/c1 "$work/s.json"; b0=$bpid
read -r win cs < <(measure "$single_pid")
wait "$b0" || true
spps=$(pub_pps "$work/s.json")
single_row=$(jq -nc --argjson c "$cs" --argjson win "$win" --argjson pps "$spps" --slurpfile s "$work/s.json" \
  '{players: $s[0].with_media, cpu_pct: (100*$c/$win), us: ($c*1e6/($pps*$s[0].with_media*$win)), loss: $s[0].received.loss_pct}')
echo "$single_row" >&2
stop_node "$single_pid"

cmd="scripts/bench-cluster.sh (PLAYERS=$PLAYERS ORIGIN_PLAYERS=$ORIGIN_PLAYERS RELAYS=$RELAYS DURATION=$DURATION RAMP=$RAMP KBPS=$KBPS SETTLE=$SETTLE COLD=$COLD SERVER_CPU=$SERVER_CPU)"
section=$(
  echo "## Cluster"
  echo
  echo "One origin and two edges (release builds, rtc.workers = 1, pinned to one core together) sharing"
  echo "Debian's redis-server on loopback; fanout-bench publishes the H.264 + Opus recording padded to"
  echo "~${KBPS} kbps to the origin. CPU is utime+stime from /proc over the steady window; forwarded"
  echo "packets = publisher packets/s × the node's receivers (players, and for the origin its two edge"
  echo "relays) × window. Wall-clock CPU on a shared 2-core machine: noisy, read the ratios."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(uname -r); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo ' (+ local changes)')"
  echo "- Command: \`$cmd\`"
  echo
  echo "| node | receivers | CPU % | **µs/pkt** | loss % | first video p50 ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  jq -r --argjson op "$ORIGIN_PLAYERS" '"| origin | \(.origin.fwd / .pps | round) (\($op) players + 2 relays) | \(.origin.cpu_pct*10|round/10) | **\(.origin.us*100|round/100)** | – | – |",
         "| edge 1 | \(.edge1.players) players | \(.edge1.cpu_pct*10|round/10) | **\(.edge1.us*100|round/100)** | \(.edge1.loss*1000|round/1000) | \(.edge1.ttfv) |",
         "| edge 2 | \(.edge2.players) players | \(.edge2.cpu_pct*10|round/10) | **\(.edge2.us*100|round/100)** | \(.edge2.loss*1000|round/1000) | \(.edge2.ttfv) |"' <<<"$edges_row"
  jq -r '"| one node, no cluster | \(.players) players | \(.cpu_pct*10|round/10) | **\(.us*100|round/100)** | \(.loss*1000|round/1000) | – |"' <<<"$single_row"
  echo
  jq -r --argjson e "$edges_row" '"- Edge µs/pkt over one node'"'"'s: **\(((($e.edge1.us + $e.edge2.us) / 2) / .us * 100 | round))%** (target: within 110%)."' <<<"$single_row"
  jq -r '"- The origin'"'"'s CPU (cores): publisher + 1 player \(.base*1000|round/1000); + \(.n) local players \(.players*1000|round/1000); + \(.n) edge relays instead \(.relays*1000|round/1000): **one relay costs the origin \(if .ratio then (.ratio*100|round/100) else "n/a" end) players** (target: ~1.2 at most)."' <<<"$relay_row"
  jq -r '"- A cold pull'"'"'s first frame on an edge (play request to the first video packet, the edge pulling from scratch; \(.cold_first_frame_ms.n) runs): **p50 \(.cold_first_frame_ms.p50) ms**, max \(.cold_first_frame_ms.max) ms (target: 300 ms)."' <<<"$probe_json"
  jq -r '"- Extra one-way delay of an edge player over an origin player for the same packet (\(.edge_extra_delay_ms.n) video packets): **p50 \(.edge_extra_delay_ms.p50) ms**, p95 \(.edge_extra_delay_ms.p95) ms, max \(.edge_extra_delay_ms.max) ms (target: 5 ms p50); lost on the edge only: \(.missing_on_edge)."' <<<"$probe_json"
  echo
  echo "The first frame is keyframe-bound: the probe's publisher sends a keyframe every second and"
  echo "does not answer PLI, and its play requests come 2.5 s apart, so all land at the same phase of"
  echo "that second. Had the edge passed on the origin's cached keyframe (instant start), the first"
  echo "frame would come with the pull itself (tens of ms); a p50 at a fixed fraction of a second, all"
  echo "runs alike, means the player waited for the publisher's next keyframe instead."
)
echo "$section"
if [ -z "${NO_DOC:-}" ]; then
  scripts/doc-section.py docs/benchmarks.md "Cluster" <<<"$section"
  echo "wrote docs/benchmarks.md" >&2
fi
