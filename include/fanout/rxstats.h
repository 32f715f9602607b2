/* SPDX-License-Identifier: MIT */
/* Reception statistics of one incoming RTP stream for receiver reports (RFC 3550 §6.4.1,
 * A.3, A.8): extended highest sequence number, cumulative and interval loss, interarrival
 * jitter, and LSR/DLSR from the sender's last SR so the sender can compute its RTT.
 * Pure: libc only, no allocation. One thread. */
#ifndef FO_RXSTATS_H
#define FO_RXSTATS_H

#include <stdbool.h>
#include <stdint.h>

#include "fanout/rtcp.h"

typedef struct {
    bool started;
    uint16_t max_seq;
    uint32_t cycles;         /* sequence wraps, << 16 */
    uint32_t base_seq;
    uint64_t received;       /* packets counted (duplicates excluded by the caller) */
    uint64_t expected_prior, received_prior;
    bool have_transit;
    int64_t transit;         /* arrival - rtp_ts of the last in-order packet, clock units */
    uint32_t jitter_q4;      /* jitter * 16 (A.8) */
    uint32_t lsr;            /* middle 32 bits of the last SR's NTP time, 0 if none */
    uint64_t lsr_ms;         /* when that SR arrived */
} fo_rxstats_t;

/* One packet: `arrival` is the arrival time in the stream's RTP clock units (any origin);
 * `in_order` false for late or retransmitted packets (counted, but left out of the jitter). */
void fo_rxstats_update(fo_rxstats_t *s, uint16_t seq, uint32_t rtp_ts, int64_t arrival,
                       bool in_order);
/* The sender's SR with NTP time `ntp` arrived at now_ms. */
void fo_rxstats_on_sr(fo_rxstats_t *s, uint64_t ntp, uint64_t now_ms);
/* Fills a report block about `ssrc` and starts a new interval for fraction_lost. */
void fo_rxstats_report(fo_rxstats_t *s, uint32_t ssrc, uint64_t now_ms, fo_rtcp_report_t *out);
/* Packets lost so far (expected - received, never negative). */
uint32_t fo_rxstats_lost(const fo_rxstats_t *s);
static inline uint32_t fo_rxstats_jitter(const fo_rxstats_t *s) { return s->jitter_q4 >> 4; }

#endif
