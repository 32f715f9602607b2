/* SPDX-License-Identifier: MIT */
/* RFC 3550 reception statistics, after the appendix's reference code. */
#include "fanout/rxstats.h"

#include "fanout/rtp.h"

void fo_rxstats_update(fo_rxstats_t *s, uint16_t seq, uint32_t rtp_ts, int64_t arrival,
                       bool in_order)
{
    if (!s->started) {
        s->started = true;
        s->max_seq = seq;
        s->base_seq = seq;
        s->cycles = 0;
    } else if (fo_seq_diff(seq, s->max_seq) > 0) {
        if (seq < s->max_seq) s->cycles += 1u << 16;
        s->max_seq = seq;
    }
    s->received++;
    if (!in_order) return;
    int64_t transit = arrival - (int64_t)rtp_ts;
    if (s->have_transit) {
        /* rtp_ts wraps: compare transits modulo 2^32. */
        int32_t d = (int32_t)(uint32_t)(transit - s->transit);
        uint32_t ad = d < 0 ? (uint32_t)-(int64_t)d : (uint32_t)d;
        s->jitter_q4 += ad - ((s->jitter_q4 + 8) >> 4);
    }
    s->transit = transit;
    s->have_transit = true;
}

void fo_rxstats_on_sr(fo_rxstats_t *s, uint64_t ntp, uint64_t now_ms)
{
    s->lsr = (uint32_t)(ntp >> 16);
    s->lsr_ms = now_ms;
}

static uint64_t expected(const fo_rxstats_t *s)
{
    return (uint64_t)(s->cycles + s->max_seq) - s->base_seq + 1;
}

uint32_t fo_rxstats_lost(const fo_rxstats_t *s)
{
    if (!s->started) return 0;
    uint64_t e = expected(s);
    return e > s->received ? (uint32_t)(e - s->received) : 0;
}

void fo_rxstats_report(fo_rxstats_t *s, uint32_t ssrc, uint64_t now_ms, fo_rtcp_report_t *out)
{
    *out = (fo_rtcp_report_t){.ssrc = ssrc};
    if (!s->started) return;
    uint64_t e = expected(s);
    int64_t lost = (int64_t)e - (int64_t)s->received;
    if (lost > 0x7fffff) lost = 0x7fffff;
    if (lost < -0x800000) lost = -0x800000;
    uint64_t e_int = e - s->expected_prior;
    int64_t r_int = (int64_t)(s->received - s->received_prior);
    s->expected_prior = e;
    s->received_prior = s->received;
    int64_t l_int = (int64_t)e_int - r_int;
    out->fraction_lost = e_int && l_int > 0 ? (uint8_t)((l_int << 8) / (int64_t)e_int) : 0;
    out->cumulative_lost = (int32_t)lost;
    out->highest_seq = s->cycles + s->max_seq;
    out->jitter = s->jitter_q4 >> 4;
    if (s->lsr) {
        out->lsr = s->lsr;
        out->dlsr = (uint32_t)((now_ms - s->lsr_ms) * 65536 / 1000); /* 1/65536 s units */
    }
}
