#!/usr/bin/env bash
# Installs what is missing, builds, and runs fanout on its default config (conf/fanout.conf).
# Extra arguments go to fanout, e.g. scripts/run.sh --candidate 192.0.2.10
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
exec build/fanout -c conf/fanout.conf "$@"
