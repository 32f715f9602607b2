/* SPDX-License-Identifier: MIT */
/* Transport-wide congestion control feedback, receive side
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01): records the arrival time of every
 * packet by its transport-wide sequence number and builds RTPFB fmt 15 feedback packets that
 * the sender's bandwidth estimator (Chrome's GoogCC) needs to raise its bitrate. Fixed-size
 * window, no allocation. Pure: libc only; the caller supplies clock readings. One thread. */
#ifndef FO_TWCC_H
#define FO_TWCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FO_TWCC_WINDOW 2048        /* sequence numbers held between feedbacks (power of 2) */
#define FO_TWCC_MAX_PER_FEEDBACK 400

typedef struct {
    bool started;
    int64_t next;                  /* first extended sequence number not yet reported */
    int64_t max;                   /* highest extended sequence number received */
    int64_t seq[FO_TWCC_WINDOW];   /* which extended seq the slot holds (-1 = none) */
    int64_t arrival_us[FO_TWCC_WINDOW];
    uint8_t fb_count;
    uint64_t packets, feedbacks;
} fo_twcc_t;

void fo_twcc_init(fo_twcc_t *t);
/* A packet carrying transport-wide sequence number `seq` arrived at arrival_us (monotonic). */
void fo_twcc_on_packet(fo_twcc_t *t, uint16_t seq, int64_t arrival_us);
/* Builds one feedback packet for what is unreported (at most FO_TWCC_MAX_PER_FEEDBACK
 * sequence numbers) into buf[0..cap). Returns its length, 0 when nothing is pending (call again
 * until 0 to flush a backlog), or FO_ETOOBIG. */
int fo_twcc_build(fo_twcc_t *t, uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *buf,
                  size_t cap);

/* The packet status count a feedback FCI claims to cover (its header), or FO_EINVAL when the
 * FCI is too short to have one. Reads 4 bytes. */
int fo_twcc_count(const uint8_t *fci, size_t len);

/* Parses one feedback (FCI of an RTPFB fmt 15) back into per-packet receive status for tests
 * and diagnostics: for i in 0..*count-1, received[i] and delta_us[i] (arrival relative to the
 * reference time for the first received packet, then to the previous received one).
 * Returns 0 or FO_EINVAL. */
int fo_twcc_parse(const uint8_t *fci, size_t len, uint16_t *base_seq, uint16_t *count,
                  int32_t *ref_time_64ms, uint8_t *fb_count, bool *received, int32_t *delta_us,
                  size_t max);

#endif
