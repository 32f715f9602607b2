#!/usr/bin/env bash
# Mints a publish/play token for fanout's auth.secret (see include/fanout/auth.h):
#   <action>.<expiry>.<hex HMAC-SHA256(secret, "<action>:<app/stream>:<expiry>")>
# Usage: scripts/make-token.sh SECRET publish|play APP/STREAM [TTL_SECONDS (default 3600)]
# Use it as webrtc://host/app/stream?token=TOKEN, ?token= on the API URL, or
# "Authorization: Bearer TOKEN" (WHIP/WHEP).
set -euo pipefail
if [ $# -lt 3 ] || { [ "$2" != publish ] && [ "$2" != play ]; }; then
  sed -n '2,6p' "$0" >&2
  exit 2
fi
secret=$1 action=$2 key=$3 ttl=${4:-3600}
expiry=$(( $(date +%s) + ttl ))
sig=$(printf '%s' "$action:$key:$expiry" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
echo "$action.$expiry.$sig"
