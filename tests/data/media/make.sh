#!/usr/bin/env bash
# Makes the load tool's recording once, with Debian's ffmpeg (apt-get install ffmpeg):
#   bench.h264  H.264 constrained baseline (42e01f), 640x360, 30 fps, ~400 kbps, a keyframe every
#               second, one slice per frame, Annex B, no SEI (x264's version string)
#   bench.opus  Opus in Ogg, 48 kHz stereo, 20 ms frames, ~32 kbps (a 440 Hz sine)
# Both 10 s. fanout-bench packetizes them per RFC 6184 / RFC 7587 and loops them.
# Usage: tests/data/media/make.sh   (writes next to itself)
set -euo pipefail
cd "$(dirname "$0")"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=30:duration=10 \
  -c:v libx264 -profile:v baseline -level 3.1 -pix_fmt yuv420p -preset veryfast \
  -b:v 400k -maxrate 500k -bufsize 400k -g 30 -keyint_min 30 -sc_threshold 0 -bf 0 \
  -x264-params slices=1:aud=0:repeat-headers=1 -bsf:v filter_units=remove_types=6 \
  -f h264 bench.h264
ffmpeg -hide_banner -loglevel error -y -f lavfi -i sine=frequency=440:sample_rate=48000:duration=10 \
  -ac 2 -c:a libopus -b:a 32k -frame_duration 20 -application audio -f ogg bench.opus
ls -l bench.h264 bench.opus
