/* SPDX-License-Identifier: MIT */
/* Synthetic media for multi-node tests: a source that sends Opus-shaped audio (20 ms) and
 * VP8-shaped video (30 fps, two packets a frame, a keyframe every `key_every` frames) through a
 * publishing test peer, with payloads that are a pure function of (kind, counter) and carry the
 * counter in their last 4 bytes; and a checker per player that regenerates each received payload
 * from its counter and compares it byte for byte, checks the SSRC against the player's answer,
 * and counts sequence gaps and backward timestamps. The source can move to another publisher
 * (a republish on another node) and keeps counting. Sender reports go out every 500 ms per track
 * so that players can check they get them (A/V sync through relays). */
#ifndef FO_TEST_MEDIAGEN_H
#define FO_TEST_MEDIAGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "peer.h"

typedef struct {
    fo_peer_t *pub;
    int key_every;            /* frames between keyframes (default 15) */
    int64_t t0;               /* start (fo_peer_now_ms) */
    uint32_t audio_n, video_n; /* packets sent so far = next counters */
    uint32_t frame;
    uint16_t a_seq, v_seq;
    uint32_t a_ts, v_ts;
    uint32_t srs_sent;         /* sender reports: one per track every 500 ms */
} fo_mediagen_t;

/* Writes the start of a VP8 RTP payload at pl: the payload descriptor (S set on the frame's
 * first packet) and, on that first packet, the frame header of a keyframe (with its start code)
 * or an interframe. Returns its length (1, 4 or 11 bytes). */
size_t fo_mediagen_vp8_start(uint8_t *pl, bool first, bool key);
/* Starts counting now, sending through `pub`. */
void fo_mediagen_init(fo_mediagen_t *g, fo_peer_t *pub, int key_every);
/* Sends what is due by now. Returns 0 or the send error. */
int fo_mediagen_tick(fo_mediagen_t *g);
/* Continues on another publisher (new SSRCs; seq and timestamps jump as a new sender's would);
 * the next video frame is a keyframe. */
void fo_mediagen_switch(fo_mediagen_t *g, fo_peer_t *pub);

typedef struct {
    uint32_t ssrc;
    bool have;
    uint16_t last_seq;
    uint32_t last_ts;
    uint64_t packets, gaps, backwards, dups;
} fo_mediacheck_track_t;

typedef struct {
    fo_peer_t *peer;
    fo_mediacheck_track_t t[2];   /* [0] audio, [1] video */
    uint64_t bad_payload, bad_ssrc, rtcp, srs;
    char first_error[200];
} fo_mediacheck_t;

/* Installs the checker as `player`'s receive callback. */
void fo_mediacheck_init(fo_mediacheck_t *c, fo_peer_t *player);
/* Whether everything received so far was right (no bad payload, no unknown SSRC). */
bool fo_mediacheck_ok(const fo_mediacheck_t *c);

#endif
