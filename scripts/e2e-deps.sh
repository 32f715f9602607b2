#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what the browser end-to-end tests (tests/e2e) need, only what is missing:
#   - Debian packages chromium, firefox-esr, nodejs, npm (apt-get, non-interactive), only when
#     their binaries are missing;
#   - tests/e2e/node_modules via `npm ci`, only when missing or older than package-lock.json.
# Idempotent and quiet when everything is there. Needs root (or sudo) for apt-get.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
e2e="$here/tests/e2e"

need=()
command -v chromium    >/dev/null 2>&1 || need+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
command -v node        >/dev/null 2>&1 || need+=(nodejs)
command -v npm         >/dev/null 2>&1 || need+=(npm)

if ((${#need[@]})); then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  echo "e2e-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# node_modules is stale when package-lock.json changed after the last install
# (npm ci writes node_modules/.package-lock.json).
stamp="$e2e/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$e2e/package-lock.json" -nt "$stamp" ]; then
  echo "e2e-deps: npm ci in tests/e2e" >&2
  # The tests drive Debian's browsers; never download browser builds.
  (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 \
     npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
