#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 15's HTTP-side findings, reproduced from the outside against a running server:
#  - HTTPS refuses TLS 1.0 and 1.1 (and CBC suites) and accepts 1.2 and 1.3 (openssl s_client);
#  - scripts/make-token.sh takes the secret from a file, the environment or stdin and puts it on
#    no program's command line (every program it runs is a logging shim), its tokens verify, and
#    the server refuses other spellings of them (upper-case hex, "+" or leading zeros);
#  - static files: a symlink in www/ (to a file or a directory outside it) is not followed;
#  - the operator API (/api/v1, /metrics) with the review's headers: another origin's page (even on
#    loopback) cannot read, preflight or DELETE, a DNS-rebinding Host is refused, no CORS headers;
#    the signaling endpoints keep CORS for any origin; http.allowed_hosts / allowed_origins; with
#    auth.api_secret the Host is not checked but a foreign Origin still is;
#  - pages carry nosniff, a Content-Security-Policy with frame-ancestors 'none', no CORS;
#  - a "%0a" in ?layer= does not forge a log line.
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

# ---- scripts/make-token.sh keeps the secret off command lines (item 15) --------------------------
# Every program the script may run is a shim that logs its command line, then runs the real one;
# PATH holds nothing else, so a program the script runs without a shim makes it fail.
secret='mt-$ecret "quoted" %s \x41 é and more than 16 bytes'
shims=$tmp/shims
mkdir -p "$shims"
for c in od tr sed cut sha256sum date cat head openssl xxd awk env base64; do
  real=$(command -v "$c") || continue
  printf '#!/bin/bash\nprintf "%%s\\0" "$0" "$@" >>%q\necho >>%q\nexec %q "$@"\n' \
    "$tmp/argv.log" "$tmp/argv.log" "$real" >"$shims/$c"
  chmod +x "$shims/$c"
done
mint() { # how (env|stdin|file) action key ttl
  local how=$1
  shift
  case $how in
    env) env -i PATH="$shims" FANOUT_AUTH_SECRET="$secret" /bin/bash "$src/scripts/make-token.sh" "$@" </dev/null ;;
    stdin) printf '%s\n' "$secret" | env -i PATH="$shims" /bin/bash "$src/scripts/make-token.sh" "$@" ;;
    file) env -i PATH="$shims" /bin/bash "$src/scripts/make-token.sh" -f "$tmp/secret.txt" "$@" </dev/null ;;
  esac
}
printf '%s\n' "$secret" >"$tmp/secret.txt"
: >"$tmp/argv.log"
for how in env stdin file; do
  tok=$(mint $how publish live/tok 600 2>"$tmp/mint.err")
  exp=$(cut -d. -f2 <<<"$tok")
  want=$(printf '%s' "publish:live/tok:$exp" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
  [ -n "$exp" ] && [ "$tok" = "publish.$exp.$want" ] && ok "make-token.sh: secret from $how, token verifies" \
    || fail "make-token.sh ($how): '$tok' (want publish.$exp.$want): $(cat "$tmp/mint.err")"
done
rc=0; out=$(env -i PATH="$shims" /bin/bash "$src/scripts/make-token.sh" "$secret" publish live/tok 60 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "no longer taken as an argument" <<<"$out" && ! grep -qF -- "$secret" <<<"$out" \
  && ok "make-token.sh: the old form (SECRET first) is refused without echoing the secret" \
  || fail "make-token.sh: old form: exit $rc: $out"
grep -c . "$tmp/argv.log" | grep -qv '^0$' && ok "make-token.sh: $(grep -c . "$tmp/argv.log") program runs logged" \
  || fail "make-token.sh: the shims logged nothing"
if grep -qaF -- "$secret" "$tmp/argv.log" || grep -qaF -- "mt-\$ecret" "$tmp/argv.log"; then
  fail "make-token.sh: the secret is on a command line: $(tr '\0' ' ' <"$tmp/argv.log" | grep -F 'mt-' | head -2)"
else ok "make-token.sh: the secret is on no program's command line"; fi
rc=0; out=$(mint env publish live/tok +60 2>&1) || rc=$?
[ "$rc" = 2 ] && ok "make-token.sh: TTL '+60' refused" || fail "make-token.sh: TTL +60: exit $rc: $out"

# The server: the minted token is accepted; other spellings of it and over-long lifetimes are not.
hp=$(free_port); rp=$(free_port)
if FANOUT_AUTH_SECRET=$secret start "$tmp/tok.log" -c "$src/conf/fanout.conf" --http-port "$hp" --rtc-port "$rp" \
  --no-https --candidate 127.0.0.1 --www "$src/www" --set http.listen=127.0.0.1; then
  base="http://127.0.0.1:$hp"
  code_of() { sed -n 's/.*"code":\([0-9]*\).*/\1/p' <<<"$1"; }
  tok=$(mint env play live/tok 600)
  exp=$(cut -d. -f2 <<<"$tok") sig=$(cut -d. -f3 <<<"$tok")
  [ "$(code_of "$(offer play "$base" tok "token=$tok")")" = 0 ] && ok "token: accepted by the server" \
    || fail "token: not accepted: $(offer play "$base" tok "token=$tok" | head -c 300)"
  for bad in "play.$exp.${sig^^}" "play.%2B$exp.$sig" "play.0$exp.$sig"; do
    ans=$(offer play "$base" tok "token=$bad")
    [ "$(code_of "$ans")" = 1013 ] && ok "token: '${bad:0:24}...' refused (401)" || fail "token '$bad': ${ans:0:300}"
  done
  long=$(mint env play live/tok 400000000 2>/dev/null)
  ans=$(offer play "$base" tok "token=$long")
  [ "$(code_of "$ans")" = 1013 ] && grep -q max_token_ttl <<<"$ans" && ok "token: a 12-year token refused (auth.max_token_ttl)" \
    || fail "token: 12-year token: ${ans:0:300}"
  stop
else fail "token: server did not start"; fi

# ---- static files do not follow symlinks out of www/ (item 13) ----------------------------------
mkdir -p "$tmp/www/sub" "$tmp/private"
cp "$src/www/"* "$tmp/www/"
echo "private key material" >"$tmp/private/secret.txt"
ln -s ../private/secret.txt "$tmp/www/leak.txt"
ln -s ../../private "$tmp/www/sub/private"
ln -s publisher.html "$tmp/www/alias.html"
hp=$(free_port); rp=$(free_port)
if start "$tmp/www.log" -c "$src/conf/fanout.conf" --http-port "$hp" --rtc-port "$rp" --no-https \
  --candidate 127.0.0.1 --www "$tmp/www" --set http.listen=127.0.0.1; then
  base="http://127.0.0.1:$hp"
  for path in /leak.txt /sub/private/secret.txt /alias.html /%2e%2e/private/secret.txt /sub/..%2fprivate/secret.txt; do
    out=$(curl -s --max-time 5 -w ' HTTP %{http_code}' --path-as-is "$base$path")
    grep -q "HTTP 404$" <<<"$out" && ! grep -q "private key" <<<"$out" && ok "static: $path not served (404)" \
      || fail "static: $path: $out"
  done
  code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$base/publisher.html")
  [ "$code" = 200 ] && ok "static: /publisher.html still served" || fail "static: /publisher.html: $code"
  stop
else fail "static: server did not start"; fi

# ---- operator API vs other sites' pages (item 3), headers (item 14), log injection (item 9) -----
status() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
headers() { curl -s --max-time 5 -D - -o /dev/null "$@" | tr -d '\r'; }
hp=$(free_port); rp=$(free_port); other=$(free_port)
if start "$tmp/ops.log" -c "$src/conf/fanout.conf" --http-port "$hp" --rtc-port "$rp" --no-https \
  --candidate 127.0.0.1 --www "$src/www" --set http.listen=127.0.0.1; then
  base="http://127.0.0.1:$hp"
  evil="http://127.0.0.1:$other"
  sid=$(publish "$base" ops | sed -n 's/.*"sessionid":"\([^"]*\)".*/\1/p')
  [ -n "$sid" ] || fail "operator: no session to kick"
  # the review's requests, from a page on another loopback origin
  h=$(headers -H "Origin: $evil" "$base/api/v1/clients")
  grep -q "^HTTP/1.1 403" <<<"$h" && ! grep -qi "^access-control" <<<"$h" \
    && ok "operator: GET /api/v1/clients from $evil: 403, no CORS headers" || fail "operator: cross-origin read: $h"
  h=$(headers -X OPTIONS -H "Origin: $evil" -H "Access-Control-Request-Method: DELETE" "$base/api/v1/clients/$sid")
  ! grep -qi "^access-control-allow" <<<"$h" && ok "operator: DELETE preflight from $evil gets no CORS permission" \
    || fail "operator: preflight: $h"
  code=$(status -X DELETE -H "Origin: $evil" "$base/api/v1/clients/$sid")
  [ "$code" = 403 ] && curl -s "$base/api/v1/clients" | grep -q "\"$sid\"" \
    && ok "operator: DELETE (kick) from $evil: 403, the session lives" || fail "operator: cross-origin kick: $code"
  code=$(status -H "Origin: $evil" "$base/metrics")
  [ "$code" = 403 ] && ok "operator: /metrics from $evil: 403" || fail "operator: cross-origin /metrics: $code"
  code=$(status -H "Sec-Fetch-Site: cross-site" "$base/metrics")
  [ "$code" = 403 ] && ok "operator: /metrics with Sec-Fetch-Site: cross-site (no Origin, e.g. <script src>): 403" \
    || fail "operator: Sec-Fetch-Site cross-site: $code"
  for path in /api/v1/clients /metrics; do
    code=$(status -H "Host: rebind.evil.example:$hp" "$base$path")
    [ "$code" = 403 ] && ok "operator: $path under Host rebind.evil.example (DNS rebinding): 403" \
      || fail "operator: rebinding Host on $path: $code"
  done
  for host in "127.0.0.1:$hp" "localhost:$hp" "[::1]:$hp"; do
    code=$(status -H "Host: $host" "$base/api/v1/versions")
    [ "$code" = 200 ] && ok "operator: Host $host answered" || fail "operator: Host $host: $code"
  done
  h=$(headers -H "Origin: $base" -H "Sec-Fetch-Site: same-origin" "$base/api/v1/streams")
  grep -q "^HTTP/1.1 200" <<<"$h" && ! grep -qi "^access-control" <<<"$h" \
    && ok "operator: same-origin request (the index page) answered, without CORS headers" || fail "operator: same origin: $h"
  h=$(headers "$base/api/v1/versions")
  grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^x-content-type-options: nosniff" <<<"$h" \
    && grep -qi "^content-security-policy: default-src 'none'; frame-ancestors 'none'" <<<"$h" \
    && ok "operator: curl answered, nosniff + deny-all CSP" || fail "operator: plain curl: $h"
  # signaling keeps CORS for any origin (SRS's players on other origins)
  h=$(headers -X OPTIONS -H "Origin: $evil" -H "Access-Control-Request-Method: POST" "$base/rtc/v1/play/")
  grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^access-control-allow-origin: \*" <<<"$h" \
    && ok "signaling: /rtc/v1/play/ preflight from another origin allowed" || fail "signaling: preflight: $h"
  h=$(headers -H "Origin: $evil" -d garbage "$base/rtc/v1/publish/")
  grep -q "^HTTP/1.1 400" <<<"$h" && grep -qi "^access-control-allow-origin: \*" <<<"$h" \
    && ok "signaling: errors readable cross-origin (ACAO *)" || fail "signaling: error CORS: $h"
  h=$(headers -X OPTIONS -H "Origin: $evil" "$base/rtc/v1/whip/")
  grep -q "^HTTP/1.1 204" <<<"$h" && grep -qi "^access-control-allow-origin: \*" <<<"$h" \
    && grep -qi "^access-control-allow-methods:.*DELETE" <<<"$h" && ok "signaling: WHIP preflight allowed" \
    || fail "signaling: WHIP preflight: $h"
  # pages (item 14)
  for page in / /publisher.html /player.html /fanout.js /style.css; do
    h=$(headers -H "Origin: $evil" "$base$page")
    if grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^x-content-type-options: nosniff" <<<"$h" \
      && grep -qi "^content-security-policy: .*default-src 'self'.*frame-ancestors 'none'" <<<"$h" \
      && ! grep -qi "^access-control" <<<"$h"; then ok "pages: $page has nosniff, CSP (frame-ancestors 'none'), no CORS"
    else fail "pages: $page headers: $h"; fi
  done
  ! grep -l "<script>\|<style>\| on[a-z]*=\"\| style=\"" "$src"/www/*.html >/dev/null \
    && ok "pages: no inline script or style (the CSP allows none)" || fail "pages: inline code in $(grep -l "<script>\|<style>\| on[a-z]*=\"\| style=\"" "$src"/www/*.html)"
  # log injection (item 9): the review's request (?layer= holds at most 15 bytes)
  offer play "$base" inj "layer=x%0aERROR%20FORGED" >/dev/null
  sleep 0.2
  if grep -q "^ERROR FORGED" "$tmp/ops.log"; then fail "log: a forged line: $(grep -n FORGED "$tmp/ops.log")"
  elif grep -q 'layer=x\\nERROR FORGED is not' "$tmp/ops.log"; then ok "log: ?layer=x%0aERROR... stays on its line, escaped"
  else fail "log: the layer line is missing: $(tail -3 "$tmp/ops.log")"; fi
  stop
else fail "operator: server did not start"; fi

# http.allowed_hosts and http.allowed_origins; with auth.api_secret the secret decides, not the Host
hp=$(free_port); rp=$(free_port)
if FANOUT_AUTH_API_SECRET=ops-secret-0123456789 start "$tmp/ops2.log" -c "$src/conf/fanout.conf" --http-port "$hp" \
  --rtc-port "$rp" --no-https --candidate 127.0.0.1 --www "$src/www" --set http.listen=127.0.0.1 \
  --set http.allowed_origins="http://dash.test:3000" --set http.allowed_hosts=media.test; then
  base="http://127.0.0.1:$hp"
  auth=(-H "Authorization: Bearer ops-secret-0123456789")
  code=$(status "${auth[@]}" -H "Host: anything.example:$hp" "$base/api/v1/versions")
  [ "$code" = 200 ] && ok "api_secret: the secret is enough under any Host" || fail "api_secret: Host: $code"
  code=$(status "${auth[@]}" -H "Origin: http://127.0.0.1:$other" "$base/api/v1/versions")
  [ "$code" = 403 ] && ok "api_secret: a foreign Origin is refused even with the secret" || fail "api_secret: Origin: $code"
  h=$(headers "${auth[@]}" -H "Origin: http://dash.test:3000" "$base/api/v1/versions")
  grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^access-control-allow-origin: http://dash.test:3000" <<<"$h" \
    && grep -qi "^vary: origin" <<<"$h" && ok "allowed_origins: a listed origin gets its CORS headers" \
    || fail "allowed_origins: $h"
  h=$(headers -X OPTIONS -H "Origin: http://dash.test:3000" -H "Access-Control-Request-Method: GET" \
    -H "Access-Control-Request-Headers: authorization" "$base/api/v1/clients")
  grep -q "^HTTP/1.1 204" <<<"$h" && grep -qi "^access-control-allow-headers: Authorization" <<<"$h" \
    && ok "allowed_origins: its preflight (Authorization) allowed" || fail "allowed_origins: preflight: $h"
  code=$(status -H "Origin: http://dash.test:3000" "$base/api/v1/versions")
  [ "$code" = 401 ] && ok "allowed_origins: still needs the secret" || fail "allowed_origins without secret: $code"
  stop
else fail "allowed_*: server did not start"; fi
hp=$(free_port); rp=$(free_port)
if start "$tmp/ops3.log" -c "$src/conf/fanout.conf" --http-port "$hp" --rtc-port "$rp" --no-https \
  --candidate 127.0.0.1 --www "$src/www" --set http.listen=127.0.0.1 --set http.allowed_hosts="media.test, box.lan"; then
  base="http://127.0.0.1:$hp"
  for host in media.test box.lan:$hp; do
    code=$(status -H "Host: $host" "$base/api/v1/versions")
    [ "$code" = 200 ] && ok "allowed_hosts: Host $host answered (loopback trust)" || fail "allowed_hosts: $host: $code"
  done
  code=$(status -H "Host: other.test" "$base/api/v1/versions")
  [ "$code" = 403 ] && ok "allowed_hosts: an unlisted name refused" || fail "allowed_hosts: other.test: $code"
  stop
else fail "allowed_hosts: server did not start"; fi

finish
