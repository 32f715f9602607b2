#!/usr/bin/env bash
# Long fuzzing session: builds the libFuzzer targets with clang + ASan/UBSan into build-fuzz/
# (or $FUZZ_BUILD), then runs each target for SECONDS seconds (default 300) on one core, seeded
# from its committed corpus (tests/fuzz/corpus/<name>/) into a scratch corpus. Crash inputs land
# in $FUZZ_WORK/crashes/ (copy them into the corpus once fixed). Prints one summary line per
# target: execs, exec/s, coverage (edges), features, corpus size, crashes.
# Usage: scripts/fuzz.sh [seconds] [target...]      e.g. scripts/fuzz.sh 600 sdp rtcp
# Afterwards `scripts/fuzz.sh --merge` adds the inputs that found new coverage to the corpora.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bdir=${FUZZ_BUILD:-build-fuzz}
work=${FUZZ_WORK:-/tmp/fanout-fuzz}
if [ "${1:-}" = "--merge" ]; then
  shift
  for t in ${@:-$(ls tests/fuzz/fuzz_*.c | sed -E 's|.*/fuzz_(.*)\.c|\1|')}; do
    [ -d "$work/$t" ] || continue
    "$bdir/tests/fuzz_$t" -merge=1 "tests/fuzz/corpus/$t" "$work/$t" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
  done
  exit 0
fi
secs=${1:-300}
shift || true
targets=${*:-$(ls tests/fuzz/fuzz_*.c | sed -E 's|.*/fuzz_(.*)\.c|\1|')}
CC=clang cmake -S . -B "$bdir" -DFO_FUZZ=ON -DFO_SANITIZE=address,undefined \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
for t in $targets; do cmake --build "$bdir" --target "fuzz_$t" -j2 >/dev/null || exit 1; done
mkdir -p "$work/crashes"
fail=0
for t in $targets; do
  mkdir -p "$work/$t"
  cp -n tests/fuzz/corpus/$t/* "$work/$t/" 2>/dev/null || true
  log="$work/$t.log"
  "$bdir/tests/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -max_len=8192 \
    -artifact_prefix="$work/crashes/$t-" "$work/$t" >"$log" 2>&1
  rc=$?
  stats=$(grep -E "^#[0-9]+" "$log" | tail -n 1)
  execs=$(grep -E "stat::number_of_executed_units" "$log" | awk '{print $2}')
  eps=$(grep -E "stat::average_exec_per_sec" "$log" | awk '{print $2}')
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$stats")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$stats")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$stats")
  crashes=$(ls "$work/crashes" 2>/dev/null | grep -c "^$t-" || true)
  printf '%-11s %6ss  execs %-10s exec/s %-7s cov %-6s ft %-6s corpus %-5s crashes %s rc %s\n' \
    "$t" "$secs" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes" "$rc"
  [ "$rc" -ne 0 ] && fail=1
done
exit $fail
