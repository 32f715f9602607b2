#!/usr/bin/env bash
# Mints a publish/play token for fanout's auth.secret (see include/fanout/auth.h):
#   <action>.<expiry>.<hex HMAC-SHA256(secret, "<action>:<app/stream>:<expiry>")>
# Usage: scripts/make-token.sh [-f SECRET_FILE] publish|play APP/STREAM [TTL_SECONDS (default 3600)]
# The secret is read from SECRET_FILE (its first line), else $FANOUT_AUTH_SECRET, else standard
# input (its first line; asked for without echo on a terminal). Never give it as an argument:
# every user of the machine can read a command line (ps). The HMAC is computed here by bash and
# sha256sum, so no other program's command line carries it either.
# TTL: seconds, at most the server's auth.max_token_ttl (366 days by default).
# Use the token as webrtc://host/app/stream?token=TOKEN, ?token= on the API URL, or
# "Authorization: Bearer TOKEN" (WHIP/WHEP).
set -euo pipefail
usage() {
  sed -n '2,11p' "$0" >&2
  exit 2
}
file=
while getopts f:h opt; do
  case $opt in
    f) file=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -ge 3 ] && [ "$1" != publish ] && [ "$1" != play ] && { [ "$2" = publish ] || [ "$2" = play ]; }; then
  echo "make-token.sh: the secret is no longer taken as an argument (ps shows arguments to everyone):" >&2
  echo "  FANOUT_AUTH_SECRET=... $0 $2 $3 ${4:-}" >&2
  echo "  or: $0 -f FILE $2 $3 ${4:-}   or the secret on standard input" >&2
  exit 2
fi
[ $# -ge 2 ] && [ $# -le 3 ] || usage
action=$1 key=$2 ttl=${3:-3600}
[ "$action" = publish ] || [ "$action" = play ] || usage
if ! [[ $ttl =~ ^[1-9][0-9]{0,9}$ ]]; then
  echo "make-token.sh: TTL must be a number of seconds, got '$ttl'" >&2
  exit 2
fi

secret=
if [ -n "$file" ]; then
  IFS= read -r secret <"$file" || true
elif [ -n "${FANOUT_AUTH_SECRET:-}" ]; then
  secret=$FANOUT_AUTH_SECRET
elif [ -t 0 ]; then
  IFS= read -rs -p "auth.secret: " secret || true
  echo >&2
else
  IFS= read -r secret || true
fi
if [ -z "$secret" ]; then
  echo "make-token.sh: no secret (give -f FILE, FANOUT_AUTH_SECRET, or the secret on standard input)" >&2
  exit 2
fi

# Bytes on stdin as lower-case hex.
hex() { od -An -v -tx1 | tr -d ' \n'; }
# "\xNN" escapes for printf %b from lower-case hex on stdin.
esc() { sed 's/../\\x&/g'; }

# HMAC-SHA256 (RFC 2104) with builtins, od and sha256sum: the key only ever travels through
# pipes from bash's builtin printf.
khex=$(printf '%s' "$secret" | hex)
if [ ${#khex} -gt 128 ]; then khex=$(printf '%s' "$secret" | sha256sum | cut -c1-64); fi
ipad= opad=
for ((i = 0; i < 64; i++)); do
  b=0
  if [ $((2 * i)) -lt ${#khex} ]; then b=$((16#${khex:2*i:2})); fi
  printf -v ipad '%s\\x%02x' "$ipad" $((b ^ 0x36))
  printf -v opad '%s\\x%02x' "$opad" $((b ^ 0x5c))
done
unset secret khex FANOUT_AUTH_SECRET
expiry=$(($(date +%s) + ttl))
msg="$action:$key:$expiry"
inner=$({ printf '%b' "$ipad"; printf '%s' "$msg"; } | sha256sum | cut -c1-64)
sig=$({ printf '%b' "$opad"; printf '%b' "$(printf '%s' "$inner" | esc)"; } | sha256sum | cut -c1-64)
echo "$action.$expiry.$sig"
