#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 15's HTTP-side findings, reproduced from the outside against a running server:
#  - HTTPS refuses TLS 1.0 and 1.1 (and CBC suites) and accepts 1.2 and 1.3 (openssl s_client);
#  - scripts/make-token.sh takes the secret from a file, the environment or stdin and puts it on
#    no program's command line (every program it runs is a logging shim), its tokens verify, and
#    the server refuses other spellings of them (upper-case hex, "+" or leading zeros);
#  - static files: a symlink in www/ (to a file or a directory outside it) is not followed;
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

finish
