/* SPDX-License-Identifier: MIT */
/* Gap tracking for NACK generation. The list is short (losses are rare) and ordered by when
 * the gap was seen, so a linear walk is cheap; only out-of-order arrivals search it. */
#include "fanout/nack.h"

#include <string.h>

#include "fanout/rtp.h"

void fo_nack_init(fo_nack_t *n)
{
    memset(n, 0, sizeof *n);
    n->rtt_ms = FO_NACK_DEFAULT_RTT;
}

static void drop_at(fo_nack_t *n, size_t i)
{
    memmove(&n->e[i], &n->e[i + 1], (n->n - i - 1) * sizeof n->e[0]);
    n->n--;
}

static void add_missing(fo_nack_t *n, uint16_t seq, uint64_t now)
{
    if (n->n == FO_NACK_MAX) { /* full: the oldest is the least likely to still help */
        drop_at(n, 0);
        n->gave_up++;
    }
    n->e[n->n++] = (fo_nack_entry_t){.seq = seq, .since_ms = now};
    n->missing++;
}

fo_nack_result_t fo_nack_on_packet(fo_nack_t *n, uint16_t seq, uint64_t now_ms)
{
    if (!n->started) {
        n->started = true;
        n->highest = seq;
        return FO_NACK_NEW;
    }
    int d = fo_seq_diff(seq, n->highest);
    if (d > FO_NACK_MAX_JUMP || d < -FO_NACK_MAX_JUMP) {
        /* The sender restarted or jumped: old gaps mean nothing any more. */
        n->n = 0;
        n->highest = seq;
        return FO_NACK_NEW;
    }
    if (d > 0) {
        /* A gap longer than the list only keeps its newest part. */
        int first = d - 1 > FO_NACK_MAX ? d - 1 - FO_NACK_MAX : 0;
        for (int i = first + 1; i < d; i++) add_missing(n, (uint16_t)(n->highest + i), now_ms);
        n->highest = seq;
        return FO_NACK_NEW;
    }
    for (size_t i = 0; i < n->n; i++) {
        if (n->e[i].seq != seq) continue;
        if (n->e[i].retries == 1) {
            /* Repaired after exactly one request: a clean RTT sample. */
            uint64_t s = now_ms - n->e[i].sent_ms;
            if (s < 5) s = 5;
            if (s > 2000) s = 2000;
            n->rtt_ms = (uint32_t)((n->rtt_ms * 7 + s) / 8);
        }
        drop_at(n, i);
        n->recovered++;
        return FO_NACK_REPAIRED;
    }
    return FO_NACK_DUPLICATE;
}

size_t fo_nack_collect(fo_nack_t *n, uint64_t now_ms, uint16_t *out, size_t max)
{
    uint64_t retry = n->rtt_ms + n->rtt_ms / 4;
    if (retry < FO_NACK_MIN_RETRY_MS) retry = FO_NACK_MIN_RETRY_MS;
    size_t k = 0;
    for (size_t i = 0; i < n->n;) {
        fo_nack_entry_t *e = &n->e[i];
        if (now_ms - e->since_ms > FO_NACK_MAX_AGE_MS || e->retries >= FO_NACK_MAX_RETRIES) {
            drop_at(n, i);
            n->gave_up++;
            continue;
        }
        if (k < max && (e->sent_ms == 0 || now_ms - e->sent_ms >= retry)) {
            out[k++] = e->seq;
            e->retries++;
            e->sent_ms = now_ms;
            n->requested++;
        }
        i++;
    }
    return k;
}
