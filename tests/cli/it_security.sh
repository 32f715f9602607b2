#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 15's HTTP-side findings, reproduced from the outside against a running server:
#  - HTTPS refuses TLS 1.0 and 1.1 (and CBC suites) and accepts 1.2 and 1.3 (openssl s_client);
# Usage: it_security.sh FANOUT_BIN SRCDIR   (registered in ctest as cli.it_security)
name=it_security
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# ---- HTTPS protocol versions (item 11) ----------------------------------------------------------
# OpenSSL 3 offers TLS 1.0/1.1 only at security level 0, so the client is told to: what is
# tested is the server's answer.
tls_handshake() { # VERSION-FLAG [openssl args...]: prints s_client's output; its status is the handshake's
  local v=$1
  shift
  timeout 10 openssl s_client -connect "127.0.0.1:$sp" "$v" -cipher 'DEFAULT:@SECLEVEL=0' "$@" </dev/null 2>&1
}
hp=$(free_port); sp=$(free_port); rp=$(free_port)
mkdir -p "$tmp/tls"
if start "$tmp/tls.log" -c "$src/conf/fanout.conf" --http-port "$hp" --https-port "$sp" --rtc-port "$rp" \
  --candidate 127.0.0.1 --www "$src/www" --set https.listen=127.0.0.1 --set http.listen=127.0.0.1 \
  --set https.cert="$tmp/tls/c.crt" --set https.key="$tmp/tls/c.key"; then
  for v in tls1 tls1_1; do
    out=$(tls_handshake "-$v") && fail "TLS: -$v handshake completed: $(grep -E 'Protocol|Cipher is' <<<"$out" | head -2)" \
      || ok "TLS: -$v refused"
  done
  for v in tls1_2:TLSv1.2 tls1_3:TLSv1.3; do
    out=$(tls_handshake "-${v%%:*}")
    grep -qE "^(New, ${v#*:}, Cipher is| *Protocol *: ${v#*:}\$)" <<<"$out" && ok "TLS: -${v%%:*} accepted" \
      || fail "TLS: -${v%%:*} not accepted: $(grep -iE 'error|alert|Protocol' <<<"$out" | head -3)"
  done
  out=$(tls_handshake -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0') \
    && fail "TLS: a CBC suite (ECDHE-ECDSA-AES128-SHA) was accepted" || ok "TLS: CBC suites refused"
  code=$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$sp/")
  [ "$code" = 200 ] && ok "TLS: curl over HTTPS gets the index" || fail "TLS: curl https: $code"
  stop
else fail "TLS: server did not start"; fi
hp=$(free_port); sp=$(free_port); rp=$(free_port)
rc=0; out=$(cd "$tmp" && timeout 20 "$bin" -c "$src/conf/fanout.conf" --http-port "$hp" --https-port "$sp" \
  --rtc-port "$rp" --set https.cert="$tmp/tls/c.crt" --set https.key="$tmp/tls/c.key" \
  --set https.priorities=NORMAL:+NOSUCH 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "https.priorities" <<<"$out" && ok "TLS: a bad https.priorities stops start-up and is named" \
  || fail "TLS: bad priorities: exit $rc: $out"

finish
