#!/usr/bin/env bash
# Makes the VP8 clip the recording tests publish (next to make.sh's H.264 one), with Debian's
# ffmpeg and libvpx (apt-get install ffmpeg):
#   vp8.ivf  VP8, 320x240, 30 fps, ~150 kbps, a keyframe every second, 4 s, in IVF (a 32-byte
#            file header, then per frame a 12-byte header: size, timestamp; little-endian)
# The audio is bench.opus (make.sh). it_record packetizes it per RFC 7741.
# Usage: tests/data/media/make-vp8.sh   (writes next to itself)
set -euo pipefail
cd "$(dirname "$0")"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=320x240:rate=30:duration=4 \
  -c:v libvpx -b:v 150k -g 30 -keyint_min 30 -auto-alt-ref 0 -lag-in-frames 0 -deadline realtime \
  -cpu-used 8 -pix_fmt yuv420p -f ivf vp8.ivf
ls -l vp8.ivf
