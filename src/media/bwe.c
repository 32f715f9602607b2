/* SPDX-License-Identifier: MIT */
/* Send-side estimate from TWCC feedback (see bwe.h for the rules). Feedback packets arrive every
 * 50-100 ms from Chrome; they are folded into a window that is judged every FO_BWE_UPDATE_MS. */
#include "fanout/bwe.h"

#include <string.h>

#include "fanout/common.h"
#include "fanout/twcc.h"

#define MAX_PER_FEEDBACK 2048
#define MIN_DELAY_MEMORY_MS 10000

void fo_bwe_init(fo_bwe_t *b, uint64_t now_ms)
{
    memset(b, 0, sizeof *b);
    b->estimate_bps = FO_BWE_START_BPS;
    b->last_update_ms = now_ms;
    b->status_budget = FO_BWE_STATUSES_PER_S;
    b->budget_ms = now_ms;
}

void fo_bwe_on_send(fo_bwe_t *b, uint16_t seq, size_t size, uint64_t now_ms)
{
    fo_bwe_pkt_t *p = &b->ring[seq & (FO_BWE_RING - 1)];
    p->seq = seq;
    p->size = size > 0xffff ? 0xffff : (uint16_t)size;
    p->send_ms = (uint32_t)now_ms ? (uint32_t)now_ms : 1;
}

static void judge(fo_bwe_t *b, uint64_t now_ms)
{
    uint32_t n = b->win_acked + b->win_lost;
    if (n < 4) return; /* too little to say anything: wait for more */
    int64_t span = b->win_last_arrival_us - b->win_first_arrival_us;
    if (span < 20000) span = 20000;
    b->delivery_bps = b->win_bytes * 8 * 1000000 / (uint64_t)span;
    b->loss_permille = b->win_lost * 1000 / n;
    int64_t q = b->win_delay_n ? b->win_delay_sum_us / b->win_delay_n - b->min_delay_us : 0;
    b->queue_ms = q > 0 ? (uint32_t)(q / 1000) : 0;
    if (b->loss_permille > 100 || b->queue_ms > 60) {
        uint64_t target = b->delivery_bps * 85 / 100;
        if (target < b->estimate_bps) {
            b->estimate_bps = target;
            b->decreases++;
        }
    } else if (b->loss_permille < 20 && b->queue_ms < 20) {
        /* Without probing, growth is not evidence: keep within reach of what was delivered,
         * so a player moves up one simulcast layer at a time and a wrong step costs little. */
        uint64_t next = b->estimate_bps * 105 / 100 + FO_BWE_STEP_BPS, reach = b->delivery_bps * 2 + FO_BWE_HEADROOM_BPS;
        if (next > reach) next = reach > b->estimate_bps ? reach : b->estimate_bps;
        if (next > b->estimate_bps) b->increases++;
        b->estimate_bps = next;
    }
    if (b->estimate_bps < FO_BWE_MIN_BPS) b->estimate_bps = FO_BWE_MIN_BPS;
    if (b->estimate_bps > FO_BWE_MAX_BPS) b->estimate_bps = FO_BWE_MAX_BPS;
    b->win_bytes = 0;
    b->win_acked = b->win_lost = 0;
    b->win_delay_sum_us = 0;
    b->win_delay_n = 0;
    b->win_first_arrival_us = b->win_last_arrival_us = 0;
    b->last_update_ms = now_ms;
}

int fo_bwe_on_feedback(fo_bwe_t *b, const uint8_t *fci, size_t len, uint64_t now_ms)
{
    uint16_t base, count;
    int32_t ref;
    uint8_t fbc;
    static bool rx[MAX_PER_FEEDBACK]; /* loop thread only: not on the stack (10 KB) */
    static int32_t delta[MAX_PER_FEEDBACK];
    /* What reading it costs is what it claims to cover: pay for that before reading it. */
    int claimed = fo_twcc_count(fci, len);
    if (claimed < 0) return FO_EINVAL;
    b->status_budget += (int64_t)(now_ms - b->budget_ms) * FO_BWE_STATUSES_PER_S / 1000;
    if (b->status_budget > FO_BWE_STATUSES_PER_S) b->status_budget = FO_BWE_STATUSES_PER_S;
    b->budget_ms = now_ms;
    if (b->status_budget < claimed) {
        b->feedbacks_limited++;
        return FO_EAGAIN;
    }
    b->status_budget -= claimed;
    if (fo_twcc_parse(fci, len, &base, &count, &ref, &fbc, rx, delta, MAX_PER_FEEDBACK) != 0)
        return FO_EINVAL;
    b->feedbacks++;
    b->have_feedback = true;
    int64_t arrival = (int64_t)ref * 64000;
    for (uint16_t i = 0; i < count; i++) {
        uint16_t seq = (uint16_t)(base + i);
        fo_bwe_pkt_t *p = &b->ring[seq & (FO_BWE_RING - 1)];
        bool known = p->send_ms && p->seq == seq;
        if (!rx[i]) {
            if (known) b->win_lost++;
            continue;
        }
        arrival += delta[i];
        if (!known) continue;
        b->win_acked++;
        b->win_bytes += p->size;
        if (!b->win_first_arrival_us || arrival < b->win_first_arrival_us) b->win_first_arrival_us = arrival;
        if (arrival > b->win_last_arrival_us) b->win_last_arrival_us = arrival;
        /* arrival - send: the clocks differ by an unknown constant, so only its growth over
         * the smallest recent value means anything (queuing). */
        int64_t d = arrival - (int64_t)p->send_ms * 1000;
        if (!b->min_delay_ms || d < b->min_delay_us || now_ms - b->min_delay_ms > MIN_DELAY_MEMORY_MS) {
            b->min_delay_us = d;
            b->min_delay_ms = now_ms;
        }
        b->win_delay_sum_us += d;
        b->win_delay_n++;
        p->send_ms = 0; /* counted once even if reported again */
    }
    if (now_ms - b->last_update_ms >= FO_BWE_UPDATE_MS) judge(b, now_ms);
    return 0;
}

void fo_bwe_on_remb(fo_bwe_t *b, uint64_t bps, uint64_t now_ms)
{
    b->remb_bps = bps;
    b->remb_ms = now_ms;
}

uint64_t fo_bwe_estimate(const fo_bwe_t *b, uint64_t now_ms)
{
    uint64_t e = b->estimate_bps;
    bool remb = b->remb_ms && now_ms - b->remb_ms < FO_BWE_REMB_TTL_MS;
    /* Without TWCC feedback the REMB is all we know; with it, the REMB is a ceiling. */
    if (remb && (!b->have_feedback || b->remb_bps < e)) e = b->remb_bps;
    return e;
}
