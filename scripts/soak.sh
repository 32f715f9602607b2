#!/usr/bin/env bash
# The long soak (docs/soak.md): tests/soak/soak.c against the release build (descriptor and
# memory figures without sanitizer noise) and against the ASan+UBSan build (leaks: the server
# must exit 0 under LeakSanitizer). ctest runs a short version (soak.short, 250 sessions).
# Usage: scripts/soak.sh [sessions (default 3000)] [batch (default 16)]
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-3000}
batch=${2:-16}
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo || exit 1
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DFO_SANITIZE=address,undefined || exit 1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rc=0
for b in build build-asan; do
  echo "== $b: $n sessions, batches of $batch =="
  start=$(date +%s)
  if "$b/tests/soak" "$b/fanout" "$PWD" "$n" "$batch" 2>&1 | grep -E "^soak: [0-9]+ sessions in|FAIL|ERROR: (Leak|Address)Sanitizer" ; then :; fi
  [ "${PIPESTATUS[0]}" -ne 0 ] && rc=1
  echo "($b: $(( $(date +%s) - start )) s wall)"
done
exit $rc
