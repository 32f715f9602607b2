#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Session set-up benchmark (issue 13): what a crowd arriving at once costs the server.
#   1. Set-up CPU and connect time: PLAYERS idle players (no publisher) join at RAMP/s through
#      fanout-bench; the server's utime+stime per connected session (HTTP + SDP + ICE + DTLS +
#      SRTP), connect p50/p95 (offer sent -> DTLS-SRTP up at the player) and failures. fanout
#      is pinned to one core (SERVER_CPU), the load tool to the other. With --api, the same load
#      against another server speaking the SRS API (e.g. SRS 7: --api http://127.0.0.1:1985):
#      its CPU is read from /proc/PID (--pid, else the process listening on the API port).
#   2. CALLGRIND=N: the server under valgrind's callgrind, N set-ups at 0.25/s, minus an idle run:
#      instructions per set-up, in total and by step (repeatable on a busy machine).
#   3. JOIN_STORM=1: WATCH players watch a stream (the H.264+Opus recording at its own rate)
#      while JOIN more join it at JOIN_RAMP/s; the watchers' largest inter-arrival gap (kernel
#      timestamps), largest forwarding delay (publisher's send -> arrival) and loss from the
#      storm's start to the end (fanout-bench --gaps), and the joiners' connect times.
#   4. FLOOD=1: junk on the media port while 50 players watch: fanout-junk's valid-looking STUN
#      for unknown ufrags, then DTLS ClientHellos from an unchecked address, FLOOD_RATE/s for
#      FLOOD_S s each: server CPU per junk datagram, answers, the watchers' gaps and loss.
# BASE=REV also builds that revision (a temporary git worktree) and alternates every run
# between it ("before") and the working tree ("after"); the load tool is always this tree's,
# so both servers see the same load. RUNS=K repeats each (default 2).
# Writes the "## Set-up" sections of docs/benchmarks.md (NO_DOC=1: print only). Numbers, not
# pass/fail; every run stops by itself.
# Usage: scripts/bench-setup.sh [--api URL [--pid PID] [--name NAME]]
#   env: PLAYERS=300 RAMP=60 RUNS=2 BASE= SERVER_CPU=1 CALLGRIND=0 JOIN_STORM=0 WATCH=300
#        JOIN=600 JOIN_RAMP=200 JOIN_STREAM=same|other WORKERS=1 FLOOD=0 FLOOD_RATE=100000 FLOOD_S=3 NO_DOC=
#        SERVER_ARGS='--set rtc.handshake_nice=0' (more flags for every fanout started)
#        BENCH_NICE=-10 (root: server and load tool ahead of the other work on a shared machine)
set -euo pipefail
cd "$(dirname "$0")/.."
other_api="" other_pid="" other_name="other server"
while [ $# -gt 0 ]; do
  case "$1" in
    --api) other_api=$2; shift 2 ;;
    --pid) other_pid=$2; shift 2 ;;
    --name) other_name=$2; shift 2 ;;
    *) echo "usage: $0 [--api URL [--pid PID] [--name NAME]]" >&2; exit 2 ;;
  esac
done
PLAYERS=${PLAYERS:-300}
RAMP=${RAMP:-60}
RUNS=${RUNS:-2}
BASE=${BASE:-}
SERVER_CPU=${SERVER_CPU-1}
CALLGRIND=${CALLGRIND:-0}
JOIN_STORM=${JOIN_STORM:-0}
WATCH=${WATCH:-300}
JOIN=${JOIN:-600}
JOIN_RAMP=${JOIN_RAMP:-200}
JOIN_STREAM=${JOIN_STREAM:-same}
WORKERS=${WORKERS:-1}
FLOOD=${FLOOD:-0}
FLOOD_RATE=${FLOOD_RATE:-100000}
FLOOD_S=${FLOOD_S:-3}
bdir=build-release
scripts/deps.sh >/dev/null
command -v jq >/dev/null || { echo "bench-setup.sh needs jq" >&2; exit 1; }
scripts/build.sh "$bdir" -DCMAKE_BUILD_TYPE=Release
bench=$bdir/tools/fanout-bench flood=$bdir/tools/fanout-junk
work=$(mktemp -d)
srv_pid="" base_wt=""
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "$base_wt" ] && git worktree remove --force "$base_wt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
tck=$(getconf CLK_TCK)
pin_srv=() pin_tool=()
if [ -n "$SERVER_CPU" ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_srv=(taskset -c "$SERVER_CPU")
  pin_tool=(taskset -c "$(( (SERVER_CPU + 1) % $(nproc) ))")
fi
# BENCH_NICE=-10 (root): the server and the load tool ahead of other work on a shared machine,
# as on a dedicated host (the handshake threads keep their offset below the server's).
if [ -n "${BENCH_NICE:-}" ]; then
  pin_srv=(nice -n "$BENCH_NICE" "${pin_srv[@]}")
  pin_tool=(nice -n "$BENCH_NICE" "${pin_tool[@]}")
fi

# Servers under test: label and binary.
labels=("after") bins=("$bdir/fanout")
if [ -n "$BASE" ]; then
  base_wt="$work/base"
  git worktree add --detach "$base_wt" "$BASE" >/dev/null 2>&1
  echo "building $BASE (before)..." >&2
  (cd "$base_wt" && scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release)
  labels=("before" "after") bins=("$base_wt/build-release/fanout" "$bdir/fanout")
fi
head_rev=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo '+')
rev_of() { [ "$1" = before ] && git rev-parse --short "$BASE" || echo "$head_rev"; }

free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
play_connected() { curl -s "$api/metrics" | awk '/^fanout_sessions\{kind="play",state="connected"\}/{print $2; f=1} END{if(!f) print 0}'; }
udp_in() { curl -s "$api/metrics" | awk '/^fanout_udp_packets_total\{direction="in"\}/{print $2}'; }

# start_server BIN [wrapper...]: fanout on free ports, loopback candidate, caps out of the way.
start_server() {
  local bin=$1; shift
  local hp up conf=conf/fanout.conf
  [ -n "$base_wt" ] && [ "${bin#"$base_wt"}" != "$bin" ] && conf=$base_wt/conf/fanout.conf
  hp=$(free_port SOCK_STREAM); up=$(free_port SOCK_DGRAM)
  "$@" "$bin" -c "$conf" --http-port "$hp" --rtc-port "$up" --candidate 127.0.0.1 \
    --no-https --log-level "${LOG_LEVEL:-warn}" --set rtc.workers="$WORKERS" --set rtc.max_sessions=100000 \
    --set rtc.max_players_per_stream=100000 --set rtc.max_pending=100000 \
    --set rtc.max_sessions_per_ip=100000 ${SERVER_ARGS:-} >"$work/server.log" 2>&1 &
  srv_pid=$!
  for _ in $(seq 600); do
    curl -fsS -o /dev/null -X OPTIONS "http://127.0.0.1:$hp/rtc/v1/play/" 2>/dev/null && break
    sleep 0.1
  done
  kill -0 "$srv_pid" 2>/dev/null || { echo "fanout did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
  api="http://127.0.0.1:$hp" rtc_port=$up
}
stop_server() { kill "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; srv_pid=""; }

# setup_run API PID -> JSON row: idle players join; the server's CPU over the whole run.
setup_run() {
  local a=$1 pid=$2 c0 c1
  c0=$(cpu_ticks "$pid")
  "${pin_tool[@]}" "$bench" --api "$a" --stream "live/setup$RANDOM" --players "$PLAYERS" --ramp "$RAMP" \
    --duration 4 --no-publish --rr-ms 0 >"$work/out.json" 2>"$work/bench.err" || true
  c1=$(cpu_ticks "$pid")
  [ -s "$work/out.json" ] || { cat "$work/bench.err" >&2; echo "fanout-bench printed nothing" >&2; exit 1; }
  jq -c --argjson c0 "$c0" --argjson c1 "$c1" --argjson tck "$tck" '
    {players, connected, failed, setup_per_s, connect: .connect_ms, signal: .signal_ms,
     ms_per_setup: (if .connected > 0 then ($c1 - $c0) / $tck * 1000 / .connected else null end)}' \
    "$work/out.json"
}

rows=()
for ((run = 1; run <= RUNS && PLAYERS > 0; run++)); do
  for i in "${!labels[@]}"; do
    echo "== set-up: fanout ${labels[$i]}, run $run: $PLAYERS players at $RAMP/s" >&2
    start_server "${bins[$i]}" "${pin_srv[@]}"
    row=$(setup_run "$api" "$srv_pid")
    stop_server
    row=$(jq -c --arg s "fanout $(rev_of "${labels[$i]}")${BASE:+ (${labels[$i]})}" --argjson r "$run" '. + {server: $s, run: $r}' <<<"$row")
    echo "$row" >&2
    rows+=("$row")
  done
  if [ -n "$other_api" ]; then
    port=$(sed -E 's#^[a-z]+://[^:/]+:?([0-9]*).*#\1#' <<<"$other_api"); port=${port:-80}
    pid=${other_pid:-$(ss -Htlnp "sport = :$port" | sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -1)}
    [ -n "$pid" ] || { echo "cannot find the process of $other_api: pass --pid" >&2; exit 1; }
    echo "== set-up: $other_name (pid $pid), run $run" >&2
    row=$(setup_run "$other_api" "$pid")
    row=$(jq -c --arg s "$other_name" --argjson r "$run" '. + {server: $s, run: $r}' <<<"$row")
    echo "$row" >&2
    rows+=("$row")
  fi
done

# --- callgrind: instructions per set-up, by step ------------------------------------------
cg_rows=()
# BIN N -> callgrind file; $work/cg.n: the sessions the server saw connect (its log), which
# under valgrind's slowness can be more than the tool saw in time.
cg_one() {
  local bin=$1 n=$2 out=$work/cg.$RANDOM
  LOG_LEVEL=info start_server "$bin" valgrind --tool=callgrind --callgrind-out-file="$out"
  if [ "$n" -gt 0 ]; then
    "$bench" --api "$api" --players "$n" --ramp 0.25 --duration 20 --no-publish --rr-ms 0 \
      >"$work/cg.json" 2>/dev/null || true
  fi
  stop_server
  grep -c "connected (DTLS-SRTP)" "$work/server.log" >"$work/cg.n" || true
  echo "$out"
}
# Inclusive instructions of the functions that make up a set-up, and how often each was called
# (from the raw file's calls= lines): {"total": Ir, "<step>": [Ir, calls], ...}.
cg_split() {
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null | python3 -c '
import re, sys, json, collections
want = {"http": "MHD_run", "offer": "fo_router_offer_from", "stun": "fo_stun_answer",
        "dtls": "mbedtls_ssl_handshake", "ecdhe_keygen": "mbedtls_ecdh_make_params",
        "ecdhe_secret": "mbedtls_ecdh_calc_secret", "ecdsa_sign": "mbedtls_pk_sign",
        "ecdsa_verify": "mbedtls_pk_verify", "x509_parse": "mbedtls_x509_crt_parse_der",
        "srtp": "fo_srtp_new"}
out = {"total": 0}
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)", line)
    if not m: continue
    n, name = int(m.group(1).replace(",", "")), m.group(2)
    if name == "PROGRAM TOTALS": out["total"] = n
    for k, w in want.items():
        if k not in out and re.search(r"(^|[:/ ])" + re.escape(w) + r"( |$)", name): out[k] = [n, 0]
names, calls, cfn = {}, collections.Counter(), None
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"^c?fn=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(2): names[m.group(1)] = m.group(2).strip()
        cfn = m.group(1) if line.startswith("cfn=") else None
        continue
    m = re.match(r"^calls=(\d+)", line)
    if m and cfn: calls[names.get(cfn, "")] += int(m.group(1))
for k, w in want.items():
    c = sum(v for name, v in calls.items() if name == w or name.endswith(":" + w) or name.endswith(" " + w))
    if k in out: out[k][1] = c
    else: out[k] = [0, c]
print(json.dumps(out))' "$1"
}
if [ "$CALLGRIND" -gt 0 ]; then
  command -v valgrind >/dev/null || { echo "CALLGRIND needs valgrind" >&2; exit 1; }
  for i in "${!labels[@]}"; do
    echo "== callgrind: fanout ${labels[$i]}, idle, then $CALLGRIND set-ups" >&2
    f0=$(cg_one "${bins[$i]}" 0)
    f1=$(cg_one "${bins[$i]}" "$CALLGRIND")
    conn=$(cat "$work/cg.n")
    # per set-up: the total over the sessions the server connected; per step: the step's
    # inclusive cost over its calls (the idle run's subtracted), robust to a session that
    # valgrind's slowness made time out half way
    row=$(jq -cn --argjson a "$(cg_split "$f0")" --argjson b "$(cg_split "$f1")" --argjson n "$conn" \
      --arg s "fanout $(rev_of "${labels[$i]}")${BASE:+ (${labels[$i]})}" '
      {server: $s, connected: $n, total: ((($b.total - $a.total) / (if $n > 0 then $n else 1 end)) | round)}
      + ($b | del(.total) | with_entries(.value as $v | .value = {calls: ($v[1] - ($a[.key][1] // 0)),
          per_call: (if ($v[1] - ($a[.key][1] // 0)) > 0 then (($v[0] - ($a[.key][0] // 0)) / ($v[1] - ($a[.key][1] // 0)) | round) else 0 end)}))')
    echo "$row" >&2
    cg_rows+=("$row")
  done
fi

# --- join storm -------------------------------------------------------------------------------
js_rows=()
if [ "$JOIN_STORM" = 1 ]; then
  wramp=100
  for ((run = 1; run <= RUNS; run++)); do
    for i in "${!labels[@]}"; do
      echo "== join storm: fanout ${labels[$i]}, run $run: $WATCH watching, $JOIN joining at $JOIN_RAMP/s" >&2
      start_server "${bins[$i]}" "${pin_srv[@]}"
      # watchers first, all connected (the server says so), then the window opens and the
      # crowd joins; the watchers stop a second after the joiners are done
      "${pin_tool[@]}" "$bench" --api "$api" --stream live/storm --players "$WATCH" --ramp "$wramp" \
        --duration 600 --gaps --window-from -1 >"$work/watch.json" 2>"$work/watch.err" &
      wpid=$!
      for _ in $(seq 600); do
        [ "$(play_connected)" -ge "$WATCH" ] && break
        sleep 0.1
      done
      sleep 1
      kill -USR1 "$wpid"
      c0=$(cpu_ticks "$srv_pid")
      jstream=live/storm
      [ "$JOIN_STREAM" = other ] && jstream=live/crowd
      "${pin_tool[@]}" "$bench" --api "$api" --stream "$jstream" --players "$JOIN" --ramp "$JOIN_RAMP" \
        --duration 5 --no-publish --name-offset "$WATCH" >"$work/join.json" 2>"$work/join.err" || true
      c1=$(cpu_ticks "$srv_pid")
      sleep 1
      kill -TERM "$wpid" 2>/dev/null || true
      wait "$wpid" || true
      stop_server
      for f in watch join; do
        [ -s "$work/$f.json" ] || { cat "$work/$f.err" >&2; echo "fanout-bench ($f) printed nothing" >&2; exit 1; }
      done
      row=$(jq -cn --slurpfile w "$work/watch.json" --slurpfile j "$work/join.json" \
        --arg s "fanout $(rev_of "${labels[$i]}")${BASE:+ (${labels[$i]})}" --argjson r "$run" \
        --argjson c0 "$c0" --argjson c1 "$c1" --argjson tck "$tck" '
        {server: $s, run: $r, watchers: $w[0].window.connected_at_open, window_s: $w[0].window.s,
         gap: $w[0].window.max_gap_us, delay: $w[0].window.max_delay_us,
         loss_pct: $w[0].window.loss_pct, lost: $w[0].window.lost,
         joined: $j[0].connected, join_failed: $j[0].failed, join_connect: $j[0].connect_ms,
         storm_cpu_s: (($c1 - $c0) / $tck)}')
      echo "$row" >&2
      js_rows+=("$row")
    done
  done
fi

# --- junk on the media port ----------------------------------------------------------------------
fl_rows=()
if [ "$FLOOD" = 1 ]; then
  for ((run = 1; run <= RUNS; run++)); do
    for i in "${!labels[@]}"; do
      echo "== junk: fanout ${labels[$i]}, run $run: $FLOOD_RATE/s for $FLOOD_S s each of STUN and DTLS" >&2
      start_server "${bins[$i]}" "${pin_srv[@]}"
      dur=$(awk -v s="$FLOOD_S" 'BEGIN{print 3 * s + 30}')
      "${pin_tool[@]}" "$bench" --api "$api" --stream live/junk --players 50 --ramp 100 --duration "$dur" \
        --gaps --window-from 0 >"$work/watch.json" 2>/dev/null &
      wpid=$!
      for _ in $(seq 600); do
        [ "$(play_connected)" -ge 50 ] && break
        sleep 0.1
      done
      sleep 1
      c0=$(cpu_ticks "$srv_pid"); r0=$(udp_in); sleep "$FLOOD_S"; c1=$(cpu_ticks "$srv_pid"); r1=$(udp_in)
      quiet_cpu=$((c1 - c0)) quiet_rx=$((r1 - r0))
      row=$(jq -cn --arg s "fanout $(rev_of "${labels[$i]}")${BASE:+ (${labels[$i]})}" --argjson r "$run" \
        '{server: $s, run: $r}')
      for kind in stun dtls; do
        c0=$(cpu_ticks "$srv_pid"); r0=$(udp_in)
        "${pin_tool[@]}" "$flood" --target "127.0.0.1:$rtc_port" --kind "$kind" --rate "$FLOOD_RATE" \
          --seconds "$FLOOD_S" --sources 64 --src 127.0.0.9 >"$work/flood.json" 2>/dev/null || true
        c1=$(cpu_ticks "$srv_pid"); r1=$(udp_in)
        row=$(jq -c --arg k "$kind" --argjson c "$((c1 - c0))" --argjson rx "$((r1 - r0))" --argjson qc "$quiet_cpu" \
          --argjson qr "$quiet_rx" --argjson tck "$tck" --slurpfile f "$work/flood.json" '
          . + {($k): {sent: $f[0].sent, replies: $f[0].replies, junk_rx: ($rx - $qr),
                      us_per_junk: (if $rx - $qr > 0 then (($c - $qc) / $tck * 1e6 / ($rx - $qr)) else null end)}}' <<<"$row")
      done
      kill -TERM "$wpid" 2>/dev/null || true
      wait "$wpid" || true
      stop_server
      row=$(jq -c --slurpfile w "$work/watch.json" '. + {gap: $w[0].window.max_gap_us, delay: $w[0].window.max_delay_us,
        loss_pct: $w[0].window.loss_pct, watchers: $w[0].connected}' <<<"$row")
      echo "$row" >&2
      fl_rows+=("$row")
    done
  done
fi

# --- the sections -----------------------------------------------------------------------------
machine="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(uname -r)"
section=$(
  echo "## Set-up CPU and connect time"
  echo
  echo "$PLAYERS idle players (signaled, ICE + DTLS + SRTP, no publisher) join at $RAMP/s from one"
  echo "fanout-bench process; server CPU is its utime+stime over the run divided by the sessions that"
  echo "connected (HTTP + SDP + ICE + DTLS + SRTP set-up, nothing else runs); connect = offer sent to"
  echo "DTLS-SRTP up at the player. Release build, rtc.workers = $WORKERS."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ); machine: $machine"
  echo "- Command: \`${BASE:+BASE=$BASE }${BENCH_NICE:+BENCH_NICE=$BENCH_NICE }$([ "$CALLGRIND" -gt 0 ] && echo "CALLGRIND=$CALLGRIND ")PLAYERS=$PLAYERS RAMP=$RAMP RUNS=$RUNS scripts/bench-setup.sh${other_api:+ --api $other_api}\`"
  echo "- Pinning: ${pin_srv[*]:-none} for fanout, ${pin_tool[*]:-none} for fanout-bench; machine load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo
  echo "| server | run | connected | failed | setups/s | **server CPU ms / set-up** | connect p50 / p95 / max ms | signal p50 ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for r in "${rows[@]}"; do
    jq -r '"| \(.server) | \(.run) | \(.connected)/\(.players) | \(.failed) | \(.setup_per_s) | **\(if .ms_per_setup then (.ms_per_setup*100|round/100) else "–" end)** | \(.connect.p50 // "–") / \(.connect.p95 // "–") / \(.connect.max // "–") | \(.signal.p50 // "–") |"' <<<"$r"
  done
  if [ ${#cg_rows[@]} -gt 0 ]; then
    echo
    echo "Instructions (valgrind --tool=callgrind, thousands; $CALLGRIND set-ups at 0.25/s minus an idle"
    echo "run). Total: per session the server logged as connected. Steps: inclusive cost per call"
    echo "(calls in brackets): http = libmicrohttpd's MHD_run and all it calls (the offer included, per"
    echo "wake-up), offer = SDP and session, ICE = one STUN check, dtls = one mbedtls_ssl_handshake call"
    echo "(a flight; the ECC columns are inside it), SRTP = the contexts from the keys."
    echo
    echo "| server | **total / set-up** | http | offer | ICE check | dtls flight | ECDHE keygen | ECDHE secret | ECDSA sign | ECDSA verify | x509 parse | SRTP |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for r in "${cg_rows[@]}"; do
      jq -r 'def k(x): "\(x.per_call / 1000 | round) (\(x.calls))"; "| \(.server) | **\(.total / 1000 | round)** (\(.connected)) | \(k(.http)) | \(k(.offer)) | \(k(.stun)) | \(k(.dtls)) | \(k(.ecdhe_keygen)) | \(k(.ecdhe_secret)) | \(k(.ecdsa_sign)) | \(k(.ecdsa_verify)) | \(k(.x509_parse)) | \(k(.srtp)) |"' <<<"$r"
    done
  fi
)
js_section=""
if [ ${#js_rows[@]} -gt 0 ]; then
  js_section=$(
    echo "## Set-up: join storm ($JOIN_STREAM stream)"
    echo
    echo "$WATCH players watch the H.264+Opus recording (one fanout-bench process, which also"
    echo "publishes) while $JOIN more join $([ "$JOIN_STREAM" = other ] && echo "another stream (no publisher: their set-up alone)" || echo "the same stream (each gets the cached GOP at once: instant start)") at $JOIN_RAMP/s (a second process). Over the"
    echo "window from the storm's start to the end (~$(awk -v j="$JOIN" -v r="$JOIN_RAMP" 'BEGIN{print j/r + 5}') s), per watcher: the largest gap"
    echo "between two arrivals (kernel receive timestamps, so the tool's own scheduling does not"
    echo "count; the recording sends audio every 20 ms, so ~21 ms is the floor) and the largest"
    echo "forwarding delay (publisher's send to the watcher's arrival, matched by payload); the table"
    echo "gives their median / p95 / max over the watchers. Release build, rtc.workers = $WORKERS."
    echo
    echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ); machine: $machine"
    echo "- Command: \`${BASE:+BASE=$BASE }${BENCH_NICE:+BENCH_NICE=$BENCH_NICE }JOIN_STORM=1 WATCH=$WATCH JOIN=$JOIN JOIN_RAMP=$JOIN_RAMP JOIN_STREAM=$JOIN_STREAM RUNS=$RUNS PLAYERS=0 scripts/bench-setup.sh\`"
    echo "- Pinning: ${pin_srv[*]:-none} for fanout, ${pin_tool[*]:-none} for both fanout-bench processes; machine load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo
    echo "| server | run | watchers | **largest gap ms** p50 / p95 / max | **largest delay ms** p50 / p95 / max | watchers' loss % | joined | joiners' connect p50 / p95 ms | server CPU s in the storm |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for r in "${js_rows[@]}"; do
      jq -r 'def ms(x): ((x // 0) / 1000 | . * 10 | round / 10); "| \(.server) | \(.run) | \(.watchers) | **\(ms(.gap.p50)) / \(ms(.gap.p95)) / \(ms(.gap.max))** | **\(ms(.delay.p50)) / \(ms(.delay.p95)) / \(ms(.delay.max))** | \(.loss_pct*1000|round/1000) (\(.lost)) | \(.joined) (\(.join_failed) failed) | \(.join_connect.p50 // "–") / \(.join_connect.p95 // "–") | \(.storm_cpu_s*100|round/100) |"' <<<"$r"
    done
  )
fi
fl_section=""
if [ ${#fl_rows[@]} -gt 0 ]; then
  fl_section=$(
    echo "## Set-up: junk on the media port"
    echo
    echo "50 players watch the recording (fanout-bench --gaps) while fanout-junk sends, from 64 ports of"
    echo "127.0.0.9, $FLOOD_RATE/s for $FLOOD_S s of valid-looking STUN binding requests for unknown ufrags, then as"
    echo "many real DTLS ClientHellos (an address that passed no ICE check). Server CPU per junk datagram ="
    echo "(its utime+stime during the flood - during as long a quiet window) / (datagrams it received"
    echo "- those of the quiet window); the kernel's receive is included. Release build, server pinned."
    echo
    echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ); machine: $machine"
    echo "- Command: \`${BASE:+BASE=$BASE }${BENCH_NICE:+BENCH_NICE=$BENCH_NICE }FLOOD=1 FLOOD_RATE=$FLOOD_RATE FLOOD_S=$FLOOD_S RUNS=$RUNS PLAYERS=0 scripts/bench-setup.sh\`"
    echo "- Pinning: ${pin_srv[*]:-none} for fanout, ${pin_tool[*]:-none} for fanout-bench and fanout-junk; machine load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo
    echo "| server | run | **µs per STUN junk** (received) | **µs per DTLS junk** (received) | answers | watchers' largest gap ms p50 / max | largest delay ms p50 / max | loss % |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for r in "${fl_rows[@]}"; do
      jq -r 'def ms(x): ((x // 0) / 1000 | . * 10 | round / 10); def us(x): (if x.us_per_junk then (x.us_per_junk * 100 | round / 100) else "–" end);
        "| \(.server) | \(.run) | **\(us(.stun))** (\(.stun.junk_rx)) | **\(us(.dtls))** (\(.dtls.junk_rx)) | \(.stun.replies + .dtls.replies) | \(ms(.gap.p50)) / \(ms(.gap.max)) | \(ms(.delay.p50)) / \(ms(.delay.max)) | \(.loss_pct*1000|round/1000) |"' <<<"$r"
    done
  )
fi
[ $((${#rows[@]} + ${#cg_rows[@]})) -gt 0 ] && echo "$section"
[ -n "$js_section" ] && echo && echo "$js_section"
[ -n "$fl_section" ] && echo && echo "$fl_section"
if [ -z "${NO_DOC:-}" ]; then
  doc=docs/benchmarks.md
  write() { printf '%s\n' "$1" | scripts/doc-section.py "$doc" "$2"; }
  [ $((${#rows[@]} + ${#cg_rows[@]})) -gt 0 ] && write "$section" "Set-up CPU and connect time"
  [ -n "$js_section" ] && write "$js_section" "Set-up: join storm ($JOIN_STREAM stream)"
  [ -n "$fl_section" ] && write "$fl_section" "Set-up: junk on the media port"
  echo "wrote $doc" >&2
fi
