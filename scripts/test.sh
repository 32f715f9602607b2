#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. unit tests, fuzz-corpus replays and loopback integration tests (ctest), built with
#      AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included);
#   2. the unit tests again under ThreadSanitizer (the loop's cross-thread post queue is the
#      threaded code; test_loop hammers it from several threads), and the media, load-tool and
#      ICE-restart integration tests with two and three send threads (docs/workers.md: rings,
#      release slots, a context handed back to the loop), and two recordings (the recorder's
#      ring and writer thread, src/media/record_writer.c);
#   3. end-to-end tests in real browsers (Debian's chromium via playwright-core, firefox-esr
#      via puppeteer-core) against the release build.
# Ends with one line "total: N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/deps.sh --test || exit 1
scripts/e2e-deps.sh || exit 1
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo || exit 1
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DFO_SANITIZE=address,undefined || exit 1
scripts/build.sh build-tsan -DCMAKE_BUILD_TYPE=Debug -DFO_SANITIZE=thread || exit 1

passed=0
failed=0
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Runs ctest with the given arguments and adds its counts to passed/failed.
run_ctest() {
  local log line total nfail
  log=$(mktemp)
  ctest --output-on-failure -j"$(nproc)" "$@" 2>&1 | tee "$log"
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -n 1)
  if [ -n "$line" ]; then
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    nfail=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
    passed=$((passed + total - nfail))
    failed=$((failed + nfail))
  else
    failed=$((failed + 1))
  fi
  rm -f "$log"
}

echo "== unit, fuzz replay and integration tests (ASan+UBSan) =="
run_ctest --test-dir build-asan

echo "== unit tests (TSan) =="
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_ctest --test-dir build-tsan -L unit
echo "== send workers: it_media (rtc.workers = 2), it_bench and it_ice_restart (rtc.workers = 3) and the recorder's writer thread under TSan =="
FANOUT_RTC_WORKERS=2 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_ctest --test-dir build-tsan -R 'integration\.(it_media|it_bench_workers3|it_ice_restart_workers3|it_record_h264|it_record_loss)$'

echo "== end-to-end browser tests =="
# One node process per test file (node 18, Debian's, has no --test-concurrency); TAP output so
# the counts can be read the same way on every node version.
# tests/netem: loss repair under 5% loss + 40 ms RTT (a user-space lossy relay on loopback).
for f in tests/e2e/*.test.js tests/netem/*.test.js; do
  e2e_log=$(mktemp)
  (cd "$(dirname "$f")" && FANOUT_BIN="$root/build/fanout" node --test --test-reporter=tap "$(basename "$f")" 2>&1) | tee "$e2e_log"
  p=$(grep -E "^# pass [0-9]+" "$e2e_log" | awk '{print $3}')
  f_=$(grep -E "^# fail [0-9]+" "$e2e_log" | awk '{print $3}')
  if [ -n "$p" ] && [ -n "$f_" ]; then
    passed=$((passed + p))
    failed=$((failed + f_))
  else
    echo "no test counts from $f" >&2
    failed=$((failed + 1))
  fi
  rm -f "$e2e_log"
done

echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
