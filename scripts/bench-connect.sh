#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Connect time in Chromium (issue 13): scripts/bench-connect.js runs RUNS rounds of a publisher
# page and a player page against a fresh fanout each (tests/e2e/lib/connect.js: from the
# signaling POST to ICE+DTLS connected, the player's first decoded frame, and the server's own
# steps from its debug log); BASE=REV also builds that revision in a temporary worktree and
# alternates with it round by round. Writes "## Connect time in Chromium" to docs/benchmarks.md
# (NO_DOC=1: print only). Numbers, not pass/fail.
# Usage: RUNS=5 [BASE=REV] [SERVER_ARGS='--set ...'] scripts/bench-connect.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
BASE=${BASE:-}
scripts/e2e-deps.sh >/dev/null
command -v jq >/dev/null || { echo "bench-connect.sh needs jq" >&2; exit 1; }
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
work=$(mktemp -d) base_wt=""
cleanup() { [ -n "$base_wt" ] && git worktree remove --force "$base_wt" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
head_rev=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo '+')
bins="fanout $head_rev=$PWD/build/fanout"
if [ -n "$BASE" ]; then
  base_wt="$work/base"
  git worktree add --detach "$base_wt" "$BASE" >/dev/null 2>&1
  echo "building $BASE (before)..." >&2
  (cd "$base_wt" && scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  bins="fanout $(git rev-parse --short "$BASE") (before)=$base_wt/build/fanout,fanout $head_rev (after)=$PWD/build/fanout"
fi
RUNS=$RUNS FANOUT_BINS=$bins node scripts/bench-connect.js >"$work/runs.jsonl"
[ -s "$work/runs.jsonl" ] || { echo "no measurement" >&2; exit 1; }
section=$(
  echo "## Connect time in Chromium"
  echo
  echo "Headless Chromium ($(chromium --version 2>/dev/null | head -1)), fake camera, loopback; per round a"
  echo "fresh server, a publisher page, then a player page of its stream (tests/e2e/lib/connect.js)."
  echo "Browser columns: from the page's signaling POST (www/fanout.js's log) to \"pc connected\" and,"
  echo "for the player, to its first decoded frame. Server columns: ms after the server created the"
  echo "session (its answer) until the first ICE check, the first check of a second candidate pair"
  echo "(Chromium checks our 127.0.0.1 candidate from its LAN address and from loopback), the"
  echo "ClientHello, the client's second flight and \"connected\" (its debug log; a82a2c7 and older"
  echo "log neither DTLS datagrams nor every check); \"checks\" = ICE checks before the ClientHello."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ); machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; machine load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "- Command: \`${BASE:+BASE=$BASE }RUNS=$RUNS scripts/bench-connect.sh\`"
  echo
  echo "| server | role | runs | **connect ms** p50 (min–max) | first frame ms p50 | server: 1st check / 2nd pair / ClientHello / 2nd flight / connected ms (p50) | checks |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
  jq -rs '
    def p50(f): (map(f) | map(select(. != null)) | sort) as $v | if ($v|length) == 0 then "–" else $v[(($v|length) - 1) / 2 | floor] end;
    def lo(f): (map(f) | map(select(. != null)) | min // "–");
    def hi(f): (map(f) | map(select(. != null)) | max // "–");
    group_by(.server)[] as $g
    | ["publisher", "player"][] as $role
    | ($g | map(.[$role])) as $r
    | $r | "| \($g[0].server) | \($role) | \(length) | **\(p50(.connect_ms))** (\(lo(.connect_ms))–\(hi(.connect_ms))) | \(if $role == "player" then p50(.first_frame_ms) else "–" end) | \(p50(.steps.first_check_ms)) / \(p50(.steps.second_pair_ms)) / \(p50(.steps.client_hello_ms)) / \(p50(.steps.client_flight_ms)) / \(p50(.steps.connected_ms)) | \(p50(.steps.checks_before_hello)) |"' "$work/runs.jsonl"
)
echo "$section"
if [ -z "${NO_DOC:-}" ]; then
  printf '%s\n' "$section" | scripts/doc-section.py docs/benchmarks.md "Connect time in Chromium"
  echo "wrote docs/benchmarks.md" >&2
fi
