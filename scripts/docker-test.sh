#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Docker image and checks it the way users run it: starts a container with CANDIDATE
# and port overrides from the environment, then checks that it runs as the non-root user, that
# the API answers over HTTP and HTTPS (with CANDIDATE in the answer SDP), that the self-signed
# HTTPS certificate was written to /var/lib/fanout, the HEALTHCHECK (which podman keeps only in
# docker-format images: the build uses --format docker), the pages' stream list, that a bad
# setting exits 2, and that `stop` (SIGTERM) ends it with exit code 0.
# Not part of scripts/test.sh: slow (a full image build) and needs podman or docker.
#
# Usage: scripts/docker-test.sh [--no-build]
#   ENGINE=podman|docker   (default: podman when installed, else docker)
#   ENGINE_ARGS='--runtime runc'   global engine flags (default for podman: --runtime runc)
#   RUN_ARGS="$PODMAN_ULIMITS"     extra build/run flags, e.g. the ulimits podman-setup prints
#   IMAGE=localhost/fanout
# The container uses the host network (CANDIDATE=127.0.0.1) on random free ports.
set -uo pipefail
cd "$(dirname "$0")/.."
engine=${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
if [ "$engine" = podman ]; then eargs=${ENGINE_ARGS---runtime runc}; else eargs=${ENGINE_ARGS-}; fi
image=${IMAGE:-localhost/fanout}
run_args=${RUN_ARGS:-}
# podman without systemd logs an error for every container with a HEALTHCHECK (it cannot
# schedule the periodic runs; `podman healthcheck run` still works): filtered out.
E() { "$engine" $eargs "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
fails=0
ok() { echo "docker-test: ok: $*"; }
fail() { echo "docker-test: FAIL: $*" >&2; fails=$((fails + 1)); }
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    ss -Htanu 2>/dev/null | awk '{print $5}' | grep -qE "[:.]$p\$" || { echo "$p"; return; }
  done
}

if [ "${1:-}" != --no-build ]; then
  fmt=()
  [ "$engine" = podman ] && fmt=(--format docker) # OCI images drop HEALTHCHECK
  echo "docker-test: $engine build ${fmt[*]} -t $image ."
  E build "${fmt[@]}" --network host $run_args -t "$image" . || { echo "docker-test: FAIL: build" >&2; exit 1; }
fi

hp=$(free_port); sp=$(free_port); rp=$(free_port)
name=fanout-test-$$
cid=$(E run -d --name "$name" --network host $run_args -e CANDIDATE=127.0.0.1 \
  -e FANOUT_HTTP_PORT="$hp" -e FANOUT_HTTPS_PORT="$sp" -e FANOUT_RTC_PORT="$rp" "$image") \
  || { echo "docker-test: FAIL: run" >&2; exit 1; }
trap 'E rm -f "$name" >/dev/null 2>&1' EXIT
echo "docker-test: container $name (http $hp, https $sp, udp $rp)"
for _ in $(seq 100); do E logs "$name" 2>&1 | grep -q "fanout ready" && break; sleep 0.1; done
E logs "$name" 2>&1 | sed 's/^/  | /'
E logs "$name" 2>&1 | grep -q "fanout ready: http 0.0.0.0:$hp, https 0.0.0.0:$sp, rtc udp 0.0.0.0:$rp" \
  && ok "ready on the configured ports" || fail "not ready"

uid=$(E exec "$name" sh -c 'awk "/^Uid:/{print \$2}" /proc/1/status')
user=$(E exec "$name" id -un)
[ "$uid" = 1985 ] && [ "$user" = fanout ] && ok "runs as $user (uid $uid), not root" || fail "runs as uid '$uid' ($user)"

sdp=$(sed -e ':a;N;$!ba;s/\r//g;s/\n/\\r\\n/g' tests/data/sdp/chrome-publish.sdp)
body="{\"streamurl\":\"webrtc://127.0.0.1/live/docker\",\"sdp\":\"$sdp\\r\\n\"}"
ans=$(curl -s --max-time 5 "http://127.0.0.1:$hp/rtc/v1/publish/" -d "$body")
grep -q '"code":0' <<<"$ans" && grep -q "127.0.0.1 $rp typ host" <<<"$ans" \
  && ok "HTTP API: publish answered, candidate 127.0.0.1:$rp from CANDIDATE" || fail "HTTP API: ${ans:0:300}"
page=$(curl -sk --max-time 5 "https://127.0.0.1:$sp/publisher.html")
grep -qi "<html" <<<"$page" && ok "HTTPS: publisher page" || fail "HTTPS: no page"
ans=$(curl -sk --max-time 5 "https://127.0.0.1:$sp/rtc/v1/publish/" -d garbage)
grep -q '"code":1001' <<<"$ans" && ok "HTTPS: API answers ($ans)" || fail "HTTPS API: $ans"
files=$(E exec "$name" ls -ln /var/lib/fanout)
grep -q "1985 1985 .* https.crt" <<<"$files" && grep -q "^-rw------- .* 1985 1985 .* https.key" <<<"$files" \
  && ok "HTTPS certificate generated in /var/lib/fanout (key 0600)" || fail "certificate files: $files"

# HEALTHCHECK: the image's own command (GET /api/v1/versions from inside the container).
if [ "$engine" = podman ]; then
  E healthcheck run "$name" >/dev/null 2>&1; hrc=$?
else
  for _ in $(seq 30); do
    st=$(E inspect --format '{{.State.Health.Status}}' "$name"); [ "$st" != starting ] && break; sleep 1
  done
  [ "$st" = healthy ]; hrc=$?
fi
hcmd=$(E image inspect --format '{{json .Config.Healthcheck.Test}}' "$image" 2>/dev/null)
if [ "$hrc" = 0 ] && [ -n "$hcmd" ] && [ "$hcmd" != null ]; then
  ok "HEALTHCHECK healthy ($hcmd)"
else
  fail "HEALTHCHECK: status $hrc, command '$hcmd' (an OCI-format image has none: build with --format docker)"
fi
ans=$(curl -s --max-time 5 "http://127.0.0.1:$hp/rtc/v1/streams/")
grep -q '"code":0' <<<"$ans" && ok "the pages' stream list answers ($ans)" || fail "stream list: $ans"

rc=0; out=$(E run --rm --network host $run_args -e FANOUT_HTTP_PORT=x "$image" 2>&1) || rc=$?
[ "$rc" = 2 ] && ok "bad setting: exit 2 ($out)" || fail "bad setting: exit $rc ($out)"
# the whole output first: grep -q would close the pipe early and podman fails on the broken pipe
help=$(E run --rm $run_args "$image" --help 2>&1)
grep -q "FANOUT_HTTPS_PORT" <<<"$help" && grep -q "workers.*auto" <<<"$help" && ok "--help (lists FANOUT_HTTPS_PORT, workers auto)" \
  || fail "--help: ${help:0:300}"

E stop -t 10 "$name" >/dev/null
code=$(E inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] && E logs "$name" 2>&1 | grep -q "signal 15: ending sessions" \
  && ok "stop (SIGTERM): sessions ended, exit code 0" || fail "stop: exit code $code"

if [ "$fails" -ne 0 ]; then echo "docker-test: $fails check(s) failed" >&2; exit 1; fi
echo "docker-test: all checks passed"
