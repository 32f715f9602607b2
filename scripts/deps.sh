#!/usr/bin/env bash
# Installs the Debian 12 packages fanout needs to build and test, when they are missing.
# Idempotent and quiet when everything is there. Usage: scripts/deps.sh [--test]
#   (default: build and run; --test adds what the test suite needs)
set -euo pipefail
pkgs=(build-essential cmake pkg-config libsrtp2-dev libmbedtls-dev libmicrohttpd-dev
      libjansson-dev libnice-dev libinih-dev nettle-dev libcurl4-gnutls-dev libavformat-dev libhiredis-dev)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(libcmocka-dev clang libclang-rt-14-dev curl iproute2 procps gdb openssl ffmpeg python3 redis-server)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Another apt (unattended-upgrades after boot, a parallel install) may hold the dpkg lock: wait
# for it for up to 10 minutes instead of failing at once.
lock=(-o DPkg::Lock::Timeout=600)
$sudo apt-get "${lock[@]}" update -qq
$sudo apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
