/* SPDX-License-Identifier: MIT */
/* Synthetic media for integration tests: a publisher peer sending Opus-sized audio every 20 ms
 * and one-packet VP8 frames every 50 ms (a keyframe every 20th), while the peers of a player
 * are serviced. Blocking loops on the calling thread. */
#ifndef FO_TEST_SYNTH_H
#define FO_TEST_SYNTH_H

#include <stdint.h>

#include "fanout/dtls.h"
#include "fanout/stun.h"
#include "peer.h"

/* Publishes from `pub` for `ms` milliseconds with sequence numbers from seq0 and timestamps
 * from ts0 (two publishers should differ), servicing `play` (may be NULL); fails the test if
 * the player loses its session. */
void fo_synth_publish(fo_peer_t *pub, fo_peer_t *play, int ms, uint16_t seq0, uint32_t ts0);

/* A player and then a publisher of one stream, both connected (the test fails otherwise), with
 * the DTLS context and STUN agent they share. pub_opts makes more publishers (change its name). */
typedef struct {
    fo_dtls_ctx_t *dtls;
    fo_stun_t *stun;
    fo_peer_opts_t pub_opts;
    fo_peer_t *pub, *play;
} fo_synth_pair_t;

/* Initialises SRTP, connects the player (its packets to on_rx) then the publisher "pub1". */
void fo_synth_pair_start(fo_synth_pair_t *r, const char *api, const char *stream, fo_peer_recv_cb on_rx);
/* Frees the peers still set (close_notify), the STUN agent and the DTLS context. */
void fo_synth_pair_free(fo_synth_pair_t *r);

/* Services `p` (receives, answers timers) for `ms` milliseconds or until it is no longer
 * connected. */
void fo_synth_pump(fo_peer_t *p, int ms);

#endif
