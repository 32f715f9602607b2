#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the README's transcripts (the console blocks marked <!-- transcript: NAME -->) against a
# fresh build/fanout and compares; --update rewrites the stale ones in README.md. Needs node
# (scripts/e2e-deps.sh) and python3 and curl (the transcripts use them). See the README's
# "README transcripts" and tests/e2e/lib/readme.js.
#   scripts/readme-transcripts.sh [--update]      FANOUT_BIN=path overrides build/fanout
set -euo pipefail
cd "$(dirname "$0")/.."
exec node tests/e2e/lib/readme.js "$@"
