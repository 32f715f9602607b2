/* SPDX-License-Identifier: MIT */
/* A stream's recent packets of one track, for answering players' NACKs and for starting new
 * players at the latest keyframe: an index of slots by sequence number over a ring of bytes,
 * shared by every player of the stream. Entries are plaintext RTP as the publisher sent it (each
 * player's rewrite happens on the way out). Bounded twice: at most `slots` packets and at most
 * `budget` bytes of them (the oldest are overwritten), so a publisher's history costs what its
 * packets weigh, up to the budget, not a packet count times the largest packet (issue 15,
 * item 6). Sized in time too: an entry older than max_age counts as absent. The byte ring is
 * allocated at once but touched only as packets arrive. Loop thread only. */
#ifndef FO_HISTORY_H
#define FO_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FO_HISTORY_PKT 1500 /* largest packet kept; larger ones are not stored */

typedef struct fo_history fo_history_t;

/* slots: rounded up to a power of two; budget: bytes of packets held (at least
 * FO_HISTORY_PKT). NULL on allocation failure. */
fo_history_t *fo_history_new(size_t slots, size_t budget, uint32_t max_age_ms);
void fo_history_free(fo_history_t *h);
/* Forgets everything (the source changed). */
void fo_history_clear(fo_history_t *h);
/* Copies the packet in; `key` marks the first packet of a keyframe. */
void fo_history_put(fo_history_t *h, uint16_t seq, const uint8_t *pkt, size_t len, bool key,
                    uint64_t now_ms);
/* The packet with `seq` if held and not older than max_age; NULL otherwise. Valid until the
 * next put. */
const uint8_t *fo_history_get(const fo_history_t *h, uint16_t seq, uint64_t now_ms, size_t *len);
/* The latest keyframe start still held and the newest sequence number, for instant start.
 * False when none is held. */
bool fo_history_last_key(const fo_history_t *h, uint64_t now_ms, uint16_t *key_seq,
                         uint16_t *newest);

/* Memory: `allocated` bytes reserved (index + byte ring, whether touched yet or not) and
 * `held` bytes of packets it can still return. */
typedef struct {
    size_t allocated, held;
} fo_history_mem_t;
void fo_history_mem(const fo_history_t *h, fo_history_mem_t *out);

#endif
