#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The server as users start it, driven from the shell: a config file, environment overrides,
# flags (and their precedence), --help/--version, broken configurations (exit 2 with
# "file:line: reason"), HTTPS (curl -k, the generated certificate kept across restarts), SIGHUP
# reopening the log file and SIGTERM exiting 0.
# Usage: it_config.sh FANOUT_BIN SRCDIR   (registered in ctest as cli.it_config)
name=it_config
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# ---- --version and --help ------------------------------------------------------------------
out=$("$bin" --version) && [[ $out =~ ^fanout\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && ok "--version: $out" \
  || fail "--version printed '$out'"
help=$("$bin" --help) || fail "--help exit code"
missing=""
section=""
while IFS= read -r line; do
  if [[ $line =~ ^\[([a-z_]+)\] ]]; then section=${BASH_REMATCH[1]}; fi
  if [[ $line =~ ^([a-z_]+)\ = ]]; then
    key=${BASH_REMATCH[1]}
    env="FANOUT_${section^^}_${key^^}"
    grep -q "^$key = " <<<"$help" && grep -q "$env" <<<"$help" || missing+=" $section.$key"
  fi
done <"$src/conf/fanout.conf"
[ -z "$missing" ] && ok "--help lists every setting of conf/fanout.conf with its variable" \
  || fail "--help lacks:$missing"
for flag in --config --http-port --https-port --no-https --rtc-port --candidate --www --log-level --log-file --set; do
  grep -q -- "$flag" <<<"$help" || fail "--help lacks $flag"
done

# ---- a config file ---------------------------------------------------------------------------
hp=$(free_port); sp=$(free_port); rp=$(free_port)
cat >"$tmp/a.conf" <<CONF
; test configuration
[http]
listen = 127.0.0.1
port = $hp
www = $src/www
[https]
listen = 127.0.0.1
port = $sp
cert = $tmp/tls/https.crt
key = $tmp/tls/https.key
[rtc]
listen = 127.0.0.1
port = $rp
candidate = 192.0.2.33
[log]
level = debug
CONF
mkdir -p "$tmp/tls"
if start "$tmp/a.log" -c "$tmp/a.conf"; then
  grep -q "fanout ready: http 127.0.0.1:$hp, https 127.0.0.1:$sp, rtc udp 127.0.0.1:$rp" "$tmp/a.log" \
    && grep -q "ICE candidate 192.0.2.33 udp $rp" "$tmp/a.log" && grep -q " DEBUG " "$tmp/a.log" \
    && ok "config file: ports, candidate and log level as configured" \
    || { fail "config file: announced addresses"; cat "$tmp/a.log" >&2; }
  ans=$(publish "http://127.0.0.1:$hp" cfgfile)
  grep -q "192.0.2.33 $rp typ host" <<<"$ans" && ok "config file: answer candidate 192.0.2.33:$rp" \
    || fail "config file: answer lacks candidate: ${ans:0:300}"
  # HTTPS: the same pages and API
  page=$(curl -sk --max-time 5 "https://127.0.0.1:$sp/publisher.html")
  grep -qi "<html" <<<"$page" && ok "https: publisher page served" || fail "https: no page"
  ans=$(publish "https://127.0.0.1:$sp" cfghttps)
  grep -q '"code":0' <<<"$ans" && grep -q "192.0.2.33 $rp typ host" <<<"$ans" \
    && ok "https: publish API answers" || fail "https: publish API: ${ans:0:300}"
  err=$(curl -sk --max-time 5 "https://127.0.0.1:$sp/rtc/v1/publish/" -d garbage)
  grep -q '"code":1001' <<<"$err" && ok "https: API errors as over http" || fail "https: bad JSON answer '$err'"
  subj=$(openssl x509 -in "$tmp/tls/https.crt" -noout -subject -ext subjectAltName 2>/dev/null)
  grep -q "192.0.2.33" <<<"$subj" && grep -q "localhost" <<<"$subj" \
    && ok "https: generated certificate names localhost and the candidate" || fail "https: certificate: $subj"
  [ "$(stat -c %a "$tmp/tls/https.key")" = 600 ] && ok "https: key is mode 600" || fail "https: key mode"
  # curl without -k must refuse the self-signed certificate, and accept it as its own CA
  curl -s --max-time 5 -o /dev/null "https://127.0.0.1:$sp/" && fail "https: unverified cert accepted"
  curl -s --max-time 5 --cacert "$tmp/tls/https.crt" -o /dev/null "https://localhost:$sp/" \
    && ok "https: certificate verifies for https://localhost" || fail "https: --cacert localhost"
  fp1=$(openssl x509 -in "$tmp/tls/https.crt" -noout -fingerprint -sha256)
  stop
  [ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"
  if start "$tmp/a2.log" -c "$tmp/a.conf"; then
    fp2=$(openssl x509 -in "$tmp/tls/https.crt" -noout -fingerprint -sha256)
    [ "$fp1" = "$fp2" ] && ! grep -q "generated a self-signed" "$tmp/a2.log" \
      && ok "https: certificate kept across restarts" || fail "https: certificate changed on restart"
    stop
  else fail "config file: restart"; fi
else
  fail "config file: did not start"
fi

# ---- environment, and flags over environment -------------------------------------------------
hp=$(free_port); rp=$(free_port)
if FANOUT_HTTP_PORT=$hp FANOUT_RTC_PORT=$rp FANOUT_HTTPS_ENABLED=false CANDIDATE=198.51.100.7 \
  FANOUT_HTTP_WWW="$src/www" FANOUT_RTC_PORTT=9 FANOUT_SRTP_CRYPTO=nettle \
  start "$tmp/b.log" -c "$src/conf/fanout.conf"; then
  grep -q "fanout ready: http 0.0.0.0:$hp, rtc udp 0.0.0.0:$rp" "$tmp/b.log" \
    && ok "env: FANOUT_HTTP_PORT, FANOUT_RTC_PORT, FANOUT_HTTPS_ENABLED" || fail "env: ports: $(grep ready "$tmp/b.log")"
  grep -q "WARN  environment FANOUT_RTC_PORTT is not a setting and is ignored (did you mean FANOUT_RTC_PORT?)" "$tmp/b.log" \
    && ok "env: a misspelt FANOUT_RTC_PORTT is warned about, with a suggestion" \
    || fail "env: no warning for FANOUT_RTC_PORTT: $(grep -i environment "$tmp/b.log")"
  [ "$(grep -c "WARN  environment" "$tmp/b.log")" = 1 ] && ok "env: known variables are not warned about" \
    || fail "env: warnings: $(grep "WARN  environment" "$tmp/b.log")"
  ans=$(publish "http://127.0.0.1:$hp" envcand)
  grep -q "198.51.100.7 $rp typ host" <<<"$ans" && ok "env: CANDIDATE in the answer SDP" \
    || fail "env: answer lacks CANDIDATE: ${ans:0:300}"
  stop
else fail "env: did not start"; fi
hp2=$(free_port); rp=$(free_port)
if FANOUT_HTTP_PORT=1 CANDIDATE=198.51.100.7 start "$tmp/c.log" -c "$src/conf/fanout.conf" \
  --http-port "$hp2" --rtc-port "$rp" --candidate 203.0.113.5 --no-https --www "$src/www" \
  --set rtc.max_sessions=7 --log-level warn --set log.level=info; then
  grep -q "fanout ready: http 0.0.0.0:$hp2, rtc udp" "$tmp/c.log" && grep -q "ICE candidate 203.0.113.5 " "$tmp/c.log" \
    && ok "flags override the environment" || fail "flags: $(cat "$tmp/c.log")"
  grep -q "INFO" "$tmp/c.log" && ok "flags apply in order (--set log.level=info after --log-level warn)" \
    || fail "flags: order"
  stop
else fail "flags: did not start"; fi

# ---- rtc.workers = auto follows the CPUs the process may use (taskset, cpusets) ---------------
hp=$(free_port); rp=$(free_port)
if prefix="taskset -c 0" start "$tmp/w.log" -c "$src/conf/fanout.conf" --http-port "$hp" --rtc-port "$rp" --no-https \
  --www "$src/www"; then
  grep -q "fanout ready: .*, 1 send thread (rtc.workers = auto: one per CPU)" "$tmp/w.log" \
    && ok "workers = auto under taskset -c 0: 1 send thread" || fail "workers auto: $(grep ready "$tmp/w.log")"
  stop
else fail "workers auto: did not start"; fi
hp=$(free_port); rp=$(free_port)
if start "$tmp/w3.log" -c "$src/conf/fanout.conf" --http-port "$hp" --rtc-port "$rp" --no-https \
  --www "$src/www" --set rtc.workers=3; then
  grep -q "fanout ready: .*, 3 send threads\$" "$tmp/w3.log" && ok "workers = 3: 3 send threads" \
    || fail "workers 3: $(grep ready "$tmp/w3.log")"
  stop
else fail "workers 3: did not start"; fi

# ---- broken configurations: exit 2, "file:line: reason" ---------------------------------------
broken() { # name, file text, expected message part (after the path)
  local f="$tmp/$1.conf"
  printf '%b' "$2" >"$f"
  local rc=0
  out=$("$bin" -c "$f" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" = 2 ] && grep -qF "$f$3" <<<"$out"; then ok "broken $1: exit 2, '$out'"
  else fail "broken $1: exit $rc, '$out' (want '$f$3')"; fi
}
broken bad-value '[http]\nport = 70000\n' ":2: http.port: '70000' is not an integer in 1..65535"
broken unknown-key '[rtc]\n; comment\nportt = 8000\n' ":3: unknown setting rtc.portt"
broken unknown-section '[htp]\nport = 1\n' ":2: unknown setting htp.port"
broken syntax '[http]\nport = 1985\n[rtc\n' ":3: syntax error"
broken bad-level '[log]\nlevel = loud\n' ":2: log.level: 'loud' is not one of"
broken bad-bool '[https]\nenabled = sometimes\n' ":2: https.enabled: 'sometimes' is not true or false"
broken bad-workers '[rtc]\nworkers = 0\n' ":2: rtc.workers: '0' is not an integer in 1..64 or auto"
rc=0; out=$("$bin" -c "$tmp/nonexistent.conf" 2>&1 >/dev/null) || rc=$?
[ "$rc" = 2 ] && grep -qF "$tmp/nonexistent.conf: No such file" <<<"$out" && ok "missing file: exit 2, '$out'" \
  || fail "missing file: exit $rc, '$out'"
rc=0; out=$(FANOUT_RTC_PORT=x "$bin" -c "$src/conf/fanout.conf" 2>&1 >/dev/null) || rc=$?
[ "$rc" = 2 ] && grep -q "FANOUT_RTC_PORT" <<<"$out" && ok "bad env value: exit 2, '$out'" || fail "bad env: $rc '$out'"
rc=0; out=$("$bin" -c "$src/conf/fanout.conf" --set rtc.nope=1 2>&1 >/dev/null) || rc=$?
[ "$rc" = 2 ] && grep -q "unknown setting rtc.nope" <<<"$out" && ok "bad --set: exit 2" || fail "bad --set: $rc '$out'"
rc=0; out=$("$bin" --bogus 2>&1 >/dev/null) || rc=$?
[ "$rc" = 2 ] && ok "unknown flag: exit 2" || fail "unknown flag: exit $rc"
# HTTPS with a certificate but no key: start-up fails and says why
touch "$tmp/only.crt"
rc=0; out=$("$bin" -c "$src/conf/fanout.conf" --http-port "$(free_port)" --rtc-port "$(free_port)" \
  --https-port "$(free_port)" --set https.cert="$tmp/only.crt" --set https.key="$tmp/none.key" 2>&1) || rc=$?
[ "$rc" != 0 ] && grep -q "only.crt exists but .*none.key does not" <<<"$out" && ok "https: cert without key refused" \
  || fail "https: cert without key: exit $rc '$out'"

# ---- log file and SIGHUP ----------------------------------------------------------------------
hp=$(free_port); rp=$(free_port)
if watch="$tmp/fanout.log" start "$tmp/d.stderr" -c "$src/conf/fanout.conf" --http-port "$hp" --rtc-port "$rp" --no-https \
  --candidate 127.0.0.1 --www "$src/www" --log-file "$tmp/fanout.log" --log-level debug; then
  [ ! -s "$tmp/d.stderr" ] && ok "log file: nothing on stderr" || fail "log file: stderr has $(cat "$tmp/d.stderr")"
  mv "$tmp/fanout.log" "$tmp/fanout.log.1"
  kill -HUP "$pid"
  for _ in $(seq 100); do [ -s "$tmp/fanout.log" ] && break; sleep 0.05; done
  publish "http://127.0.0.1:$hp" afterhup >/dev/null
  sleep 0.2
  if grep -q "log reopened" "$tmp/fanout.log" && grep -q "live/afterhup" "$tmp/fanout.log" \
    && ! grep -q "log reopened" "$tmp/fanout.log.1" && grep -q "fanout ready" "$tmp/fanout.log.1"; then
    ok "SIGHUP: new lines go to the new log file, old lines stay in the moved one"
  else
    fail "SIGHUP: new=$(cat "$tmp/fanout.log" 2>&1) old=$(tail -3 "$tmp/fanout.log.1")"
  fi
  stop
  [ "$rc" = 0 ] && grep -q "stopped" "$tmp/fanout.log" && ok "SIGTERM after SIGHUP: exit 0, logged" \
    || fail "SIGTERM after SIGHUP: exit $rc"
else fail "log file: did not start"; fi

finish
