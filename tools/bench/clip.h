/* SPDX-License-Identifier: MIT */
/* The load tool's recording: an H.264 Annex B file split into access units and NAL units, an
 * Ogg Opus file split into packets, and their RTP packetization (RFC 6184 single NAL unit and
 * FU-A packets, RFC 7587 one Opus packet per RTP packet). Loaded once; read-only afterwards, so
 * any thread may packetize from it. */
#ifndef FO_BENCH_CLIP_H
#define FO_BENCH_CLIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t off, len; /* into clip.h264, without the start code */
} bench_nal_t;

typedef struct {
    size_t first_nal, n_nal; /* into clip.nals */
    size_t bytes;            /* NAL bytes of the access unit */
    bool key;                /* contains an IDR slice */
} bench_frame_t;

typedef struct {
    size_t off, len;  /* into clip.opus */
    uint32_t samples; /* at 48 kHz, from the TOC byte */
} bench_audio_t;

typedef struct {
    uint8_t *h264, *opus;
    bench_nal_t *nals;
    size_t n_nals;
    bench_frame_t *frames;
    size_t n_frames;
    bench_audio_t *audio;
    size_t n_audio;
    int fps;
} bench_clip_t;

/* Loads dir/bench.h264 and dir/bench.opus (tests/data/media, made by make.sh). The video must
 * start with an IDR access unit. Returns 0, or -1 with a message in err. */
int bench_clip_load(bench_clip_t *c, const char *dir, int fps, char *err, size_t errcap);
void bench_clip_free(bench_clip_t *c);
/* Video bits per second of the clip as recorded. */
double bench_clip_video_bps(const bench_clip_t *c);

/* RTP packets (header by fo_rtp_write_header, include/fanout/rtp.h) are at most BENCH_RTP_MAX. */
#define BENCH_RTP_PAYLOAD 1188 /* 1200-byte datagrams before SRTP, like browsers */
#define BENCH_RTP_MAX (12 + BENCH_RTP_PAYLOAD)

/* Calls emit(user, payload, len, last) for each RTP payload of NAL unit `nal` (a single NAL
 * unit packet when it fits, else FU-A fragments); `last` is true for the NAL's final one. */
typedef void (*bench_emit_cb)(void *user, const uint8_t *payload, size_t len, bool last);
void bench_h264_packetize(const uint8_t *nal, size_t len, bench_emit_cb emit, void *user);

#endif
