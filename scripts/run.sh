#!/usr/bin/env bash
# Installs what is missing, builds, and runs fanout on its default config (conf/fanout.conf).
# Extra arguments go to fanout, e.g. scripts/run.sh --candidate 192.0.2.10
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "run.sh: $*" >&2; }
say "checking the Debian packages fanout needs (scripts/deps.sh)"
scripts/deps.sh
if [ -x build/fanout ]; then say "building fanout (only what changed)"
else say "building fanout into build/ (the first build takes a minute or two; quiet unless it fails)"; fi
t0=$SECONDS
scripts/build.sh build
say "built build/fanout in $((SECONDS - t0)) s; starting it (Ctrl-C stops it)"
exec build/fanout -c conf/fanout.conf "$@"
