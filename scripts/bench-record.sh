#!/usr/bin/env bash
# What recording costs (issue 12): scripts/bench.sh with and without RECORD=1, alternated ROUNDS
# times so that the shared machine's drift hits both sides alike:
#   - forwarding µs per packet at N players (default 500) recording the stream or not;
#   - the recorder's own CPU for one recorded stream of KBPS (1 player, so forwarding is
#     negligible): the writer thread's CPU (its own /proc task) and the whole server's CPU
#     difference, which adds the media thread's part (the reorder cursor, one copy per packet).
# Writes the "## Recording cost" section of docs/benchmarks.md (NO_DOC=1: print only).
# Usage: scripts/bench-record.sh      env: N=500 ROUNDS=3 KBPS=1000 DURATION=12 RAMP=200
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-500} ROUNDS=${ROUNDS:-3} KBPS=${KBPS:-1000} DURATION=${DURATION:-12} RAMP=${RAMP:-200}
command -v jq >/dev/null || { echo "needs jq" >&2; exit 1; }
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
run() { # players record
  local log
  log=$(mktemp)
  RECORD=$2 NO_DOC=1 IDLE=0 DURATION=$DURATION RAMP=$RAMP KBPS=$KBPS scripts/bench.sh "$1" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
  grep '^{"players"' "$log" | jq -c --argjson rec "$2" '. + {record: $rec}' | tee -a "$rows" >&2
  rm -f "$log"
}
for ((i = 1; i <= ROUNDS; i++)); do
  for players in "$N" 1; do
    run "$players" 0
    run "$players" 1
  done
done
section=$(
  echo "## Recording cost"
  echo
  echo "scripts/bench.sh with and without recording the benchmark's stream (RECORD=1: record.enabled,"
  echo "the H.264 + Opus recording padded to ~${KBPS} kbps of video, fragmented MP4 on the local disk),"
  echo "alternated ${ROUNDS} times (A/B wall-clock CPU from /proc on a shared 2-core machine: compare"
  echo "medians). \"rec thread %\" is the recorder's writer thread alone (libavformat, the file writes);"
  echo "the media thread's part (reorder cursor, one copy into the writer's ring per packet) shows in the"
  echo "server totals."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(uname -r)"
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo ' (+ local changes)')"
  echo "- Command: \`scripts/bench-record.sh\` (N=$N ROUNDS=$ROUNDS KBPS=$KBPS DURATION=$DURATION RAMP=$RAMP)"
  echo
  echo "| players | recording | run | server CPU % | server µs/pkt | rec thread % | loss % |"
  echo "| ---: | :---: | ---: | ---: | ---: | ---: | ---: |"
  jq -rs 'to_entries | group_by(.value.players) | reverse | .[] | (map(.value) | group_by(.record) | .[] | to_entries[] |
    "| \(.value.players) | \(if .value.record == 1 then "yes" else "no" end) | \(.key + 1) | \(.value.server_cpu_pct*10|round/10) | \(if .value.us_per_pkt then (.value.us_per_pkt*100|round/100) else "–" end) | \(.value.rec_cpu_pct*100|round/100) | \(.value.loss_pct*1000|round/1000) |")' "$rows"
  echo
  jq -rs --argjson n "$N" '
    def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
    (map(select(.players == $n and .record == 0) | .us_per_pkt) | med) as $a
    | (map(select(.players == $n and .record == 1) | .us_per_pkt) | med) as $b
    | (map(select(.players == 1 and .record == 0) | .server_cpu_pct) | med) as $c
    | (map(select(.players == 1 and .record == 1) | .server_cpu_pct) | med) as $d
    | (map(select(.players == 1 and .record == 1) | .rec_cpu_pct) | med) as $w
    | "Medians: at \($n) players **\($a*100|round/100) µs/pkt without recording, \($b*100|round/100) with (\(if $a > 0 then (($b - $a) / $a * 1000 | round / 10) else "–" end) %)**. One recorded stream: the writer thread **\($w*100|round/100) % of a core**; the whole server at 1 player \($c*100|round/100) % without, \($d*100|round/100) % with (difference \((($d - $c)*100|round/100)) points, writer thread included)."' "$rows"
)
echo "$section"
if [ -z "${NO_DOC:-}" ]; then
  SECTION="$section" python3 - docs/benchmarks.md <<'PY'
import os, re, sys
path = sys.argv[1]
text = open(path).read()
new = os.environ["SECTION"].rstrip() + "\n"
m = re.search(r"^## Recording cost\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
text = text[:m.start()] + new + ("\n" if text[m.end():] else "") + text[m.end():] if m else text.rstrip() + "\n\n" + new
open(path, "w").write(text)
PY
  echo "wrote docs/benchmarks.md" >&2
fi
