/* SPDX-License-Identifier: MIT */
/* Media for the integration tests: a publisher's audio and VP8-shaped video whose payloads are
 * pseudo-random bytes ending in a per-track packet counter (so every received payload can be
 * matched byte for byte with what was sent), and the receiving side's checks: the SSRCs the
 * answer announced, exact payloads, seq and timestamp deltas equal to the sent ones (or, for a
 * player that skips frames under backpressure, seq without gaps), duplicates, and how much of
 * what was sent in a window arrived. One thread; fails the test through fo_test_fail. */
#ifndef FO_IT_MEDIA_H
#define FO_IT_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer.h"

#define IT_MAX_AUDIO 8192
#define IT_MAX_VIDEO 32768

typedef struct {
    uint8_t *payload;
    size_t len;
    uint32_t ts;     /* RTP timestamp as sent */
    int64_t sent_ms; /* time relative to media start */
    bool keyframe;   /* first packet of a keyframe */
} it_sent_t;

typedef struct {
    fo_peer_t *pub;
    /* shape (it_sender_init's defaults: 20 ms audio of 160 bytes; 30 fps video, 2 packets a
     * frame, 4 a keyframe, a keyframe a second, 1000-byte packets) */
    int audio_ms, audio_payload, fps, pkts_per_frame, pkts_per_key, keyframe_every, video_payload;
    uint16_t a_seq, v_seq;
    uint32_t a_ts0, v_ts0;
    uint32_t frame; /* next video frame */
    bool key_pending; /* the next frame is a keyframe (a PLI asked for one) */
    uint64_t plis;    /* PLIs received (it_sender_answer_plis) */
    uint32_t n_audio, n_video;
    it_sent_t *audio, *video; /* IT_MAX_AUDIO / IT_MAX_VIDEO entries */
} it_sender_t;

/* The payloads' pseudo-random generator (xorshift32), for tests that make their own noise. */
uint32_t it_xorshift(uint32_t *s);

void it_sender_init(it_sender_t *s, fo_peer_t *pub);
/* Makes the publisher answer PLIs with a keyframe (its receive callback). */
void it_sender_answer_plis(it_sender_t *s);
/* Sends every audio packet and video frame due at `t` ms after media start. */
void it_sender_run(it_sender_t *s, int64_t t);
void it_sender_free(it_sender_t *s);

typedef struct {
    uint32_t ssrc;
    bool have_prev;
    uint16_t prev_seq;
    uint32_t prev_ts, prev_counter;
    uint8_t *got; /* per counter: received count */
} it_track_rx_t;

typedef struct {
    const char *name;
    fo_peer_t *peer;
    const it_sender_t *snd;
    bool skips_frames;    /* video may skip whole frames: seq must still have no gap */
    int64_t connected_ms; /* relative to media start; may be negative */
    bool connected;
    it_track_rx_t audio, video;
    uint64_t rtx, rtcp, bad_ssrc, bad_pt, bad_payload, bad_seq, bad_ts, dup, malformed;
    uint64_t keyframes;   /* first packets of keyframes received */
    char first_error[256];
} it_player_t;

/* Sets up `pl` (its receive callback on `peer`). */
void it_player_init(it_player_t *pl, const char *name, fo_peer_t *peer, const it_sender_t *snd);
void it_player_free(it_player_t *pl);
/* The answer's SSRCs are what the player must receive on (fails the test without them). */
void it_player_take_ssrcs(it_player_t *pl);
/* Fails the test on any bad packet seen so far. */
void it_player_check_clean(const it_player_t *pl);
/* Received/expected packets sent at or after from_ms (video: from the first keyframe then). */
void it_window(const it_player_t *pl, bool video, int64_t from_ms, uint32_t *got, uint32_t *exp);
/* Fails the test unless the player got every packet sent in [from_ms, to_ms) (video: from the
 * first keyframe in it), and something was sent then; `why` says when, for the message. */
void it_expect_lossless(const it_player_t *pl, int64_t from_ms, int64_t to_ms, const char *why);

/* Polls the n peers (POLLIN, and POLLOUT while an ICE-TCP one has bytes waiting; NULL entries
 * are skipped) for up to ms, then runs fo_peer_process on each; fails the test naming names[i]
 * when one failed or was closed by the server. */
void it_pump(fo_peer_t *const *peers, const char *const *names, size_t n, int ms);

/* The same for packets sent in [from_ms, to_ms). */
void it_window_range(const it_player_t *pl, bool video, int64_t from_ms, int64_t to_ms, uint32_t *got,
                     uint32_t *exp);

#endif
