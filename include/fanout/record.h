/* SPDX-License-Identifier: MIT */
/* Recording streams to files (issue 12). A recording is a consumer of a stream's publisher like
 * a player without a socket. On the media thread (record_tap.c) it reads the publisher's packets
 * in sequence order through the stream's history, waits a bounded time for a missing one (NACK
 * repair), then skips to the next keyframe, and queues what it keeps into one bounded ring
 * (no allocation per packet; a full ring drops and counts, it never waits). One writer thread
 * (record_writer.c) rebuilds frames (depack.c), maps RTP time to media time with the
 * publisher's RTCP SRs, muxes (record_mux.c: fragmented MP4 or WebM) into files named from the
 * path template under record.dir, rotates them by duration and size, and reports every closed
 * file (log, API, on_record callback). A disk that fails stops that recording with the reason;
 * streaming never notices. This module (record.c) owns the writer thread and every recording's
 * state: which streams record (config patterns, API), their status for /api/v1 and /metrics.
 * Loop thread only, except where a function says otherwise. */
#ifndef FO_RECORD_H
#define FO_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/config.h"
#include "fanout/loop.h"
#include "fanout/rtp.h"
#include "fanout/stream.h"

typedef struct fo_record fo_record_t;

#define FO_RECORD_FILES_SHOWN 16 /* closed files a recording lists (the newest) */

/* cfg and loop must outlive it. The writer thread starts with the first recording. NULL on
 * allocation failure. */
fo_record_t *fo_record_new(fo_loop_t *loop, const fo_config_t *cfg);
/* Stops every recording (their files are finished), joins the writer, delivers the last
 * on_record notifications, frees. Call after the streams are gone. NULL is a no-op. */
void fo_record_free(fo_record_t *r);

/* The on_record callback's transport: called on the loop thread with the configured URL and a
 * JSON body the callee takes over (free()). Until then notifications are only logged. */
typedef void (*fo_record_notify_cb)(void *user, const char *url, char *body);
void fo_record_set_notify(fo_record_t *r, fo_record_notify_cb cb, void *user);

/* --- from the stream module --- */

/* The stream's publisher is connected: starts recording when record.enabled and its key matches
 * record.streams, or when the API asked for it (fo_record_start before a publisher came back). */
void fo_record_publisher_ready(fo_record_t *r, fo_stream_t *st);
/* The stream's publisher left or the stream is being freed: its recording finishes its file. */
void fo_record_publisher_gone(fo_record_t *r, fo_stream_t *st);

/* Per recorded stream (the stream keeps the pointer; record_tap.c). A publisher packet of
 * `kind`/`layer`, already in the stream's history; `key` as fo_rtp_is_keyframe. */
void fo_rec_on_rtp(fo_rec_t *rec, unsigned kind, int layer, const fo_rtp_view_t *v, bool key,
                   uint64_t now_ms);
/* A publisher SR (NTP time, RTP time) for `kind`/`layer`: the media clock of that track. */
void fo_rec_on_sr(fo_rec_t *rec, unsigned kind, int layer, uint64_t ntp, uint32_t rtp_ts,
                  uint64_t now_ms);
/* Every publisher feedback tick (25 ms): gives up on repairs that took too long. */
void fo_rec_tick(fo_rec_t *rec, uint64_t now_ms);

/* --- operator API --- */

/* Starts recording stream `st` now, or when its publisher is next connected. Returns 0, FO_EBUSY
 * (already recording or armed) or FO_ECODEC (its codecs cannot be recorded), with a static
 * reason in *why. */
int fo_record_start(fo_record_t *r, fo_stream_t *st, const char **why);
/* Stops recording stream `st` (its file is finished) or disarms it. Returns 0 or FO_ENOTFOUND. */
int fo_record_stop(fo_record_t *r, fo_stream_t *st);

typedef struct {
    char path[512];              /* relative to record.dir */
    uint64_t bytes;
    uint64_t duration_ms;
    uint64_t start_unix_ms;
    uint64_t frames[2];          /* [FO_KIND_AUDIO], [FO_KIND_VIDEO] written */
} fo_record_file_t;

typedef struct {
    const char *state;           /* "off", "armed" (waits for the publisher), "starting" (for a
                                    keyframe), "recording", "stopping", "stopped", "failed" (static) */
    char error[256];             /* why it failed ("" otherwise) */
    char file[512];              /* the file being written ("" if none) */
    uint64_t bytes;              /* of every file of this recording */
    uint64_t frames[2];
    uint64_t dropped_queue;      /* packets dropped because the writer was behind */
    uint64_t gaps;               /* packets given up (repair waited too long) */
    uint64_t frames_skipped;     /* frames not written (broken, or waiting for a keyframe) */
    uint64_t files_total;        /* files closed */
    fo_record_file_t files[FO_RECORD_FILES_SHOWN]; /* the newest closed files, oldest first */
    size_t n_files;
} fo_record_status_t;

/* The newest recording of `key` (state "off" when there is none). Returns false for "off". */
bool fo_record_status(fo_record_t *r, const char *key, fo_record_status_t *out);

typedef struct {
    uint64_t active;             /* recordings starting or recording */
    uint64_t started, failed;    /* totals */
    uint64_t files, bytes;       /* closed files, bytes written */
    uint64_t dropped_queue, gaps, frames_skipped;
    uint64_t queue_bytes, queue_capacity; /* the ring now */
} fo_record_stats_t;
void fo_record_stats(fo_record_t *r, fo_record_stats_t *out);

/* --- pure helpers (any thread; unit-tested) --- */

/* Expands path template `tmpl` for stream `key` ("app/stream") at unix time `unix_ms` and
 * segment number `seq`, then appends "." ext. Variables: [app] [stream] [timestamp] (ms since
 * 1970) [2006] [01] [02] [15] [04] [05] [999] (UTC year, month, day, hour, minute, second,
 * millisecond) [seq]. The stream's name never controls where the file goes: every character of
 * [app] and [stream] outside A-Z a-z 0-9 _ - . becomes '_', a leading '.' becomes '_', and the
 * result must be a relative path without "." or ".." segments. Returns the length, or
 * FO_EINVAL (template unusable) / FO_ETOOBIG. */
int fo_record_path(const char *tmpl, const char *key, uint64_t unix_ms, unsigned seq,
                   const char *ext, char *out, size_t cap);
/* Whether `key` matches one of the space-separated glob patterns (fnmatch; "" matches all). */
bool fo_record_matches(const char *patterns, const char *key);

#endif
