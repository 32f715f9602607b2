#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What a person reads when the server starts, and what it refuses (issue 16): the start-up
# lines name the pages at http://localhost, an https:// publisher page for other machines with
# a note that the certificate is self-signed, and no plain-http publisher page at a non-loopback
# address (a camera does not work there); every URL printed answers. The DTLS fingerprint is
# printed once; the send threads are worded once. rtc.candidate host names resolve at start-up
# ("localhost" -> 127.0.0.1) and one that does not resolve stops the server with exit 2 and the
# reason; a host name in ?eip= is a 400. A broken "[rtc" header is reported as the syntax error.
# Usage: it_startup.sh FANOUT_BIN SRCDIR   (registered in ctest as cli.it_startup)
set -uo pipefail
name=it_startup
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
conf=(-c "$src/conf/fanout.conf" --www "$src/www")

# ---- a name that does not resolve: exit 2 with the reason -------------------------------------
rc=0; out=$("$bin" -c "$src/conf/fanout.conf" --candidate not-an-ip 2>&1 >/dev/null) || rc=$?
[ "$rc" = 2 ] && grep -q "rtc.candidate: 'not-an-ip' is not an IP address and does not resolve" <<<"$out" \
  && ok "--candidate not-an-ip: exit 2, '$out'" || fail "--candidate not-an-ip: exit $rc, '$out'"
rc=0; out=$(CANDIDATE="192.0.2.1 nowhere.invalid" "$bin" -c "$src/conf/fanout.conf" 2>&1 >/dev/null) || rc=$?
[ "$rc" = 2 ] && grep -q "'nowhere.invalid'" <<<"$out" && ok "CANDIDATE with a bad name: exit 2" \
  || fail "CANDIDATE bad name: exit $rc, '$out'"

# ---- a config line "[rtc" is the syntax error, not "unknown setting .port" --------------------
printf '[http]\nport = 1985\n[rtc\nport = 8000\n' >"$tmp/bad.conf"
rc=0; out=$("$bin" -c "$tmp/bad.conf" 2>&1 >/dev/null) || rc=$?
[ "$rc" = 2 ] && grep -qF "$tmp/bad.conf:3: syntax error" <<<"$out" && ok "'[rtc' header: '$out'" \
  || fail "'[rtc' header: exit $rc, '$out'"

# ---- a name that resolves: its address is the candidate ---------------------------------------
hp=$(free_port); rp=$(free_port)
if start "$tmp/name.log" "${conf[@]}" --http-port "$hp" --rtc-port "$rp" --no-https --candidate localhost; then
  grep -q "rtc.candidate 'localhost' resolved to 127.0.0.1" "$tmp/name.log" && grep -q "ICE candidate 127.0.0.1 udp $rp" "$tmp/name.log" \
    && ok "--candidate localhost: resolved to 127.0.0.1" || fail "--candidate localhost: $(cat "$tmp/name.log")"
  sdp=$(sed -e ':a;N;$!ba;s/\r//g;s/\n/\\r\\n/g' "$src/tests/data/sdp/chrome-publish.sdp")
  ans=$(curl -s --max-time 5 "http://127.0.0.1:$hp/rtc/v1/publish/" -d "{\"streamurl\":\"webrtc://localhost/live/n\",\"sdp\":\"$sdp\\r\\n\"}")
  grep -q '"code":0' <<<"$ans" && grep -q "127.0.0.1 $rp typ host" <<<"$ans" && grep -q '"pid":"[0-9]*"' <<<"$ans" \
    && ok "publish answered with candidate 127.0.0.1 (pid a string)" || fail "publish: ${ans:0:300}"
  code=$(curl -s -o "$tmp/eip" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$hp/rtc/v1/publish/?eip=cam.example" \
    -d "{\"streamurl\":\"webrtc://localhost/live/e\",\"sdp\":\"$sdp\\r\\n\"}")
  [ "$code" = 400 ] && grep -q "candidate override 'cam.example' is not an IP address" "$tmp/eip" \
    && ok "?eip=cam.example: 400 $(cat "$tmp/eip")" || fail "?eip name: $code $(cat "$tmp/eip")"
  stop
else fail "--candidate localhost: did not start"; fi

# ---- the start-up lines, with HTTPS and this machine's addresses -------------------------------
hp=$(free_port); sp=$(free_port); rp=$(free_port)
mkdir -p "$tmp/tls"
if start "$tmp/lines.log" "${conf[@]}" --http-port "$hp" --https-port "$sp" --rtc-port "$rp" \
  --set https.cert="$tmp/tls/c.pem" --set https.key="$tmp/tls/k.pem"; then
  sed 's/^[^ ]* [A-Z]* *//' "$tmp/lines.log" | sed 's/^/  | /'
  grep -q "pages on this machine: http://localhost:$hp/" "$tmp/lines.log" && ok "a localhost URL" || fail "no localhost URL"
  bad=$(grep -oE "http://[^ ]+/publisher\.html" "$tmp/lines.log" | grep -vE "^http://(localhost|127\.[0-9.]+|\[::1\])[:/]")
  [ -z "$bad" ] && ok "no plain-http publisher page at a non-loopback address" || fail "plain-http publisher URL: $bad"
  [ "$(grep -c "sha-256" "$tmp/lines.log")" = 1 ] && ok "the DTLS fingerprint once" || fail "fingerprint lines: $(grep -c sha-256 "$tmp/lines.log")"
  grep -q "send workers besides" "$tmp/lines.log" && fail "old worker wording" || ok "send threads worded once"
  # every URL printed answers (the publisher page over https with the generated certificate)
  for u in $(grep -oE "https?://[^ ]+" "$tmp/lines.log"); do
    u=${u%%)*}
    code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 --resolve "localhost:$hp:127.0.0.1" "$u")
    [ "$code" = 200 ] && ok "printed URL answers: $u" || fail "printed URL $u: HTTP $code"
  done
  if grep -q "ICE candidate 127.0.0.1" "$tmp/lines.log" && [ "$(grep -c "ICE candidate" "$tmp/lines.log")" -gt 1 ]; then
    grep -qE "publish from other machines: https://[0-9.]+:$sp/publisher.html \(self-signed certificate" "$tmp/lines.log" \
      && ok "https publisher page for other machines, certificate note" || fail "no https publisher line"
  fi
  stop
else fail "start-up lines: did not start"; fi

# ---- without HTTPS: say that publishing from elsewhere needs it -------------------------------
hp=$(free_port); rp=$(free_port)
if start "$tmp/nohttps.log" "${conf[@]}" --http-port "$hp" --rtc-port "$rp" --no-https --candidate "192.0.2.77 127.0.0.1"; then
  grep -q "publish from other machines: needs HTTPS (https.enabled = false)" "$tmp/nohttps.log" \
    && grep -q "play from other machines: http://192.0.2.77:$hp/player.html" "$tmp/nohttps.log" \
    && ! grep -qE "http://192.0.2.77[^ ]*/publisher.html" "$tmp/nohttps.log" \
    && ok "no HTTPS: says publishing from elsewhere needs it, plays over http" || fail "no HTTPS: $(cat "$tmp/nohttps.log")"
  stop
else fail "no https: did not start"; fi

finish
