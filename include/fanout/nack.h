/* SPDX-License-Identifier: MIT */
/* Receive-side loss tracking for one incoming RTP stream (RFC 4585 generic NACK): which
 * sequence numbers are missing, when to ask for them again (retry after about one RTT, give up
 * after an age or a number of tries), and an RTT estimate from how long repairs take. Bounded:
 * a fixed array, no allocation. The caller drives it from a timer (fo_nack_collect) and feeds
 * every packet (fo_nack_on_packet). Pure: libc only. One thread. */
#ifndef FO_NACK_H
#define FO_NACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FO_NACK_MAX 256          /* missing sequence numbers tracked at once */
#define FO_NACK_MAX_AGE_MS 1000  /* a packet missing longer than this is given up */
#define FO_NACK_MAX_RETRIES 10
#define FO_NACK_MAX_JUMP 1000    /* a forward jump larger than this restarts tracking */
#define FO_NACK_MIN_RETRY_MS 20  /* never ask again sooner than this */
#define FO_NACK_DEFAULT_RTT 100

typedef struct {
    uint16_t seq;
    uint8_t retries;      /* NACKs sent for it so far */
    uint64_t since_ms;    /* when the gap was seen */
    uint64_t sent_ms;     /* last NACK for it, 0 if none yet */
} fo_nack_entry_t;

typedef struct {
    bool started;
    uint16_t highest;
    fo_nack_entry_t e[FO_NACK_MAX]; /* ascending by arrival of the gap (so by seq) */
    size_t n;
    uint32_t rtt_ms;      /* smoothed NACK -> repair time; FO_NACK_DEFAULT_RTT until measured */
    uint64_t missing;     /* gaps seen (sequence numbers) */
    uint64_t recovered;   /* of which arrived later (reordered or repaired) */
    uint64_t gave_up;     /* of which were given up (age, retries, list full) */
    uint64_t requested;   /* sequence numbers asked for (retries included) */
} fo_nack_t;

typedef enum {
    FO_NACK_NEW = 0,       /* newest so far (possibly after a gap) */
    FO_NACK_REPAIRED = 1,  /* filled a tracked gap (late or retransmitted) */
    FO_NACK_DUPLICATE = 2, /* older and not missing: already had it, or given up */
} fo_nack_result_t;

void fo_nack_init(fo_nack_t *n);
/* A packet with sequence number `seq` arrived at now_ms. */
fo_nack_result_t fo_nack_on_packet(fo_nack_t *n, uint16_t seq, uint64_t now_ms);
/* Drops entries past their age or retries, then writes (at most max) the sequence numbers due
 * for a NACK now: new gaps, and old ones whose last request is an RTT old. Returns how many. */
size_t fo_nack_collect(fo_nack_t *n, uint64_t now_ms, uint16_t *out, size_t max);

#endif
