/* SPDX-License-Identifier: MIT */
/* The recorder's container writer, the one adapter over FFmpeg's libavformat (and libavcodec's
 * parsers and extract_extradata bitstream filter, for a keyframe's parameter sets and picture
 * size). Fragmented MP4 (empty moov, a fragment about every second) for H.264, VP9 and AV1 with
 * Opus; WebM (a cluster about every second) for VP8 with Opus and for audio alone. Frames go in
 * as the depacketizer rebuilt them: nothing is transcoded. Output goes to a descriptor the caller
 * opened through a large AVIO buffer flushed whole after each packet, so a fragment reaches the
 * file in one write() and a file cut by a crash ends at a fragment boundary.
 * Writer thread only: one fo_mux_t per open file, never shared. */
#ifndef FO_RECORD_MUX_H
#define FO_RECORD_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/media.h"

typedef struct fo_mux fo_mux_t;

typedef struct {
    fo_codec_t video;          /* VP8, VP9, H.264, AV1, or FO_CODEC_NONE */
    fo_codec_t audio;          /* Opus or FO_CODEC_NONE */
    int channels;              /* Opus channels (1 or 2) */
    const uint8_t *key_frame;  /* the file's first video frame, a keyframe: its parameter sets */
    size_t key_len;            /* (H.264 SPS/PPS, AV1 sequence header) and size describe the track */
} fo_mux_params_t;

/* "mp4" or "webm": the container used for `video` (FO_CODEC_NONE: audio only). Static. */
const char *fo_mux_ext(fo_codec_t video);

/* Starts a file on `fd` (opened for writing, seekable; the mux does not close it). Returns 0, or
 * FO_ERR/FO_ENOMEM/FO_ESYS with a reason in err. */
int fo_mux_open(fo_mux_t **out, int fd, const fo_mux_params_t *p, char *err, size_t cap);
/* Writes one frame; pts in the track's clock (90 kHz video, 48 kHz audio), strictly increasing
 * per track. Returns 0, or FO_ESYS (the file cannot be written: errno in fo_mux_errno) / FO_ERR
 * with a reason in err. */
int fo_mux_write(fo_mux_t *m, fo_kind_t kind, const uint8_t *data, size_t len, int64_t pts,
                 bool key, char *err, size_t cap);
/* True when keyframe `frame` carries parameter sets other than the file's (an H.264 SPS/PPS or
 * AV1 sequence header change, e.g. a new resolution): such a frame starts a new file. */
bool fo_mux_new_config(const fo_mux_t *m, const uint8_t *frame, size_t len);
/* Writes the trailer and frees `m` (NULL is a no-op). Returns 0 or an error as fo_mux_write. */
int fo_mux_close(fo_mux_t *m, char *err, size_t cap);
/* Bytes written to the file so far. */
uint64_t fo_mux_bytes(const fo_mux_t *m);
/* errno of the first failed write (0 if none). */
int fo_mux_errno(const fo_mux_t *m);
/* The video track's picture size (0 when unknown). */
void fo_mux_size(const fo_mux_t *m, int *width, int *height);

#endif
