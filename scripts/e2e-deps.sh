#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what the browser end-to-end tests (tests/e2e) need, only what is missing:
#   - Debian packages chromium, firefox-esr, nodejs, npm (apt-get, non-interactive), only when
#     their binaries are missing; nftables too (tests/e2e/tcp.test.js drops UDP with it, as a
#     UDP-blocking network would);
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
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)

if ((${#need[@]})); then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  echo "e2e-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # wait for another apt's dpkg lock (unattended-upgrades after boot) instead of failing
  lock=(-o DPkg::Lock::Timeout=600)
  "${sudo[@]}" apt-get "${lock[@]}" update -qq
  "${sudo[@]}" apt-get "${lock[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# node_modules is stale when package-lock.json changed after the last install
# (npm ci writes node_modules/.package-lock.json).
stamp="$e2e/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$e2e/package-lock.json" -nt "$stamp" ]; then
  echo "e2e-deps: npm ci in tests/e2e" >&2
  # npm uses its own CA list; a proxy's CA installed system-wide (corporate or sandbox TLS
  # interception) is honoured through NODE_EXTRA_CA_CERTS.
  if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  fi
  # The tests drive Debian's browsers; never download browser builds.
  npm_ci() {
    (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 \
       npm ci --no-audit --no-fund --loglevel=error "$@" >/dev/null)
  }
  err=$(mktemp)
  trap 'rm -f "$err"' EXIT
  if ! npm_ci 2>"$err"; then
    if grep -qE "SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF|CERT_UNTRUSTED" "$err"; then
      # A TLS-intercepting proxy whose CA this machine does not trust. Every package in
      # package-lock.json carries a sha512 integrity hash that npm checks on each tarball, so
      # what gets installed is exactly what was locked even without TLS verification.
      echo "e2e-deps: the npm registry's TLS certificate is not trusted here (intercepting" \
           "proxy?); retrying without TLS verification, packages still checked against the" \
           "sha512 hashes in package-lock.json" >&2
      npm_ci --strict-ssl=false
    else
      cat "$err" >&2
      exit 1
    fi
  fi
fi
