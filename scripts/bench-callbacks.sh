#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Slow-callback benchmark (issue 14): 20 play requests whose on_play callback answers in 800 ms,
# sent at once while a publisher streams audio every 10 ms to 10 players (step 1 of
# tests/integration/it_callbacks.c, IT_CALLBACKS_MEASURE=1). Prints, per run, when the 20
# answers came, the players' largest inter-packet gap and the slowest /api/v1/versions, and
# writes the "## Slow callbacks" section of docs/benchmarks.md.
# Usage: scripts/bench-callbacks.sh [RUNS]   (default 5)
#   BEFORE=<git rev>  also measure that revision's server (built in a temp dir), runs alternated
#   NO_DOC=1          print only
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
bins=("after|$PWD/build/fanout|$PWD")
tmp=
if [ -n "${BEFORE:-}" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  git archive "$BEFORE" | tar -x -C "$tmp"
  (cd "$tmp" && scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFO_TESTS=OFF >/dev/null)
  bins=("before|$tmp/build/fanout|$tmp" "${bins[@]}")
fi
rows=()
for ((i = 1; i <= runs; i++)); do
  for b in "${bins[@]}"; do
    IFS='|' read -r label bin src <<<"$b"
    line=$(IT_CALLBACKS_MEASURE=1 ./build/tests/it_callbacks "$bin" "$src" 2>&1 | grep -E '^it_callbacks: [0-9]+ play requests' || true)
    load=$(cut -d' ' -f1 /proc/loadavg)
    [ -n "$line" ] || { echo "run $i ($label): no result" >&2; continue; }
    # "... 20 answered 200 in A..B ms (all after C ms); players' largest gap G ms (arrival gap R ms;
    #  M ms with media alone); /api/v1/versions worst V ms over N probes"
    row=$(sed -E 's/.* ([0-9]+) answered 200 in ([0-9]+)\.\.([0-9]+) ms \(all after ([0-9]+) ms\); players. largest gap ([0-9]+) ms \(arrival gap [0-9]+ ms; ([0-9]+) ms with media alone\); \/api\/v1\/versions worst ([0-9]+) ms over ([0-9]+) probes/| '"$label"' | \1 | \2 | \3 | \5 | \6 | \7 |/' <<<"$line")
    rows+=("$row $load |")
    echo "run $i: $row $load |" >&2
  done
done
section=$(
  echo "## Slow callbacks"
  echo
  echo "20 play requests whose on_play callback answers after 800 ms, sent at once while one"
  echo "publisher streams audio (a packet every 10 ms) to 10 players, all on loopback; release build,"
  echo "rtc.workers = 1. \"gap\": the largest time between two packets at any player, less the part"
  echo "the sender caused by sending late (the test sends and receives on one thread); \"alone\": the"
  echo "same over the second of media before the requests. \"versions\": the slowest"
  echo "GET /api/v1/versions asked every 20 ms meanwhile. Wall-clock on a shared 2-core machine: the"
  echo "load average is in the last column."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- Commit: $(git rev-parse --short HEAD)${BEFORE:+ (before: $(git rev-parse --short "$BEFORE"))}"
  echo "- Command: \`scripts/bench-callbacks.sh $runs\`${BEFORE:+ with BEFORE=$BEFORE}"
  echo
  echo "| build | answered | first answer ms | last answer ms | players' largest gap ms | gap with media alone ms | versions worst ms | load |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${rows[@]}"
)
echo "$section"
if [ -z "${NO_DOC:-}" ]; then
  printf '%s\n' "$section" | python3 scripts/doc-section.py docs/benchmarks.md "Slow callbacks"
  echo "wrote docs/benchmarks.md" >&2
fi
