#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Media-quality benchmark: builds the release binary, makes a noisy test video, runs
# scripts/bench-media.js (publisher bitrate after 10 s, time to first frame over JOINS joins
# with instant start on/off, A/V offset, each with and without 5% loss + 40 ms RTT) and writes
# the "## Media quality" section of docs/benchmarks.md. Takes ~3-4 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/e2e-deps.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
video=/tmp/fanout-bench-noise.y4m
if [ ! -s "$video" ] && command -v ffmpeg >/dev/null; then
  ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=640x480:rate=30,noise=alls=30:allf=t" \
    -t 4 -pix_fmt yuv420p "$video"
fi
[ -s "$video" ] && export VIDEO="$video"
# Simulcast needs a picture big enough for three layers.
video720=/tmp/fanout-simulcast-720p.y4m
if [ ! -s "$video720" ] && command -v ffmpeg >/dev/null; then
  ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=1280x720:rate=15,noise=alls=20:allf=t" \
    -t 2 -pix_fmt yuv420p "$video720"
fi
[ -s "$video720" ] && export VIDEO720="$video720"
FANOUT_BIN="$PWD/build/fanout" node scripts/bench-media.js
