#!/usr/bin/env bash
# Configures and builds fanout into build/ (or $1, with extra CMake args after it).
# Warnings are errors. Quiet on success; prints the compiler output on failure.
# Usage: scripts/build.sh [build-dir [cmake args...]]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { cmake -S . -B "$dir" -DFO_WERROR=ON "$@" && cmake --build "$dir" -j"$(nproc)"; } >"$log" 2>&1; then
  cat "$log"
  echo "build failed ($dir)" >&2
  exit 1
fi
