/* SPDX-License-Identifier: MIT */
/* Packet history: slot = seq & mask for O(1) lookups; each slot points into a byte ring where
 * packets are written one after another (a packet that would straddle the end starts again at
 * 0). Positions are absolute byte counts, so a slot's bytes are intact while fewer than `cap`
 * bytes were written after them: an overwritten packet is absent, with no bookkeeping at
 * overwrite time. */
#include "fanout/history.h"

#include <stdlib.h>
#include <string.h>

#include "fanout/rtp.h"

typedef struct {
    uint64_t pos;  /* absolute byte position of its first byte */
    uint64_t ms;
    uint16_t seq;
    uint16_t len;
    bool used;
    bool key;
} slot_t;

struct fo_history {
    size_t mask;
    size_t cap;          /* bytes in ring */
    uint64_t written;    /* absolute position of the next byte */
    uint32_t max_age_ms;
    bool have_newest, have_key;
    uint16_t newest, key_seq;
    uint8_t *ring;
    slot_t slot[];
};

fo_history_t *fo_history_new(size_t slots, size_t budget, uint32_t max_age_ms)
{
    size_t n = 16;
    while (n < slots) n <<= 1;
    if (budget < FO_HISTORY_PKT) budget = FO_HISTORY_PKT;
    fo_history_t *h = calloc(1, sizeof *h + n * sizeof(slot_t));
    if (!h) return NULL;
    /* malloc, not calloc: pages become resident only as packets are written */
    if (!(h->ring = malloc(budget))) {
        free(h);
        return NULL;
    }
    h->mask = n - 1;
    h->cap = budget;
    h->max_age_ms = max_age_ms;
    return h;
}

void fo_history_free(fo_history_t *h)
{
    if (!h) return;
    free(h->ring);
    free(h);
}

void fo_history_clear(fo_history_t *h)
{
    for (size_t i = 0; i <= h->mask; i++) h->slot[i].used = false;
    h->have_newest = h->have_key = false;
}

static bool intact(const fo_history_t *h, const slot_t *s)
{
    return h->written - s->pos <= h->cap;
}

void fo_history_put(fo_history_t *h, uint16_t seq, const uint8_t *pkt, size_t len, bool key,
                    uint64_t now_ms)
{
    if (len > FO_HISTORY_PKT || len > h->cap) return;
    size_t off = (size_t)(h->written % h->cap);
    if (off + len > h->cap) { /* keep packets contiguous: skip the tail */
        h->written += h->cap - off;
        off = 0;
    }
    slot_t *s = &h->slot[seq & h->mask];
    s->used = true;
    s->key = key;
    s->seq = seq;
    s->len = (uint16_t)len;
    s->ms = now_ms;
    s->pos = h->written;
    memcpy(h->ring + off, pkt, len);
    h->written += len;
    if (!h->have_newest || fo_seq_diff(seq, h->newest) > 0) {
        h->newest = seq;
        h->have_newest = true;
    }
    if (key && (!h->have_key || fo_seq_diff(seq, h->key_seq) > 0)) {
        h->key_seq = seq;
        h->have_key = true;
    }
}

const uint8_t *fo_history_get(const fo_history_t *h, uint16_t seq, uint64_t now_ms, size_t *len)
{
    const slot_t *s = &h->slot[seq & h->mask];
    if (!s->used || s->seq != seq || now_ms - s->ms > h->max_age_ms || !intact(h, s)) return NULL;
    *len = s->len;
    return h->ring + s->pos % h->cap;
}

bool fo_history_last_key(const fo_history_t *h, uint64_t now_ms, uint16_t *key_seq,
                         uint16_t *newest)
{
    if (!h->have_key || !h->have_newest) return false;
    /* Still held, and everything from it to the newest fits in the index. */
    const slot_t *s = &h->slot[h->key_seq & h->mask];
    if (!s->used || s->seq != h->key_seq || !s->key || now_ms - s->ms > h->max_age_ms || !intact(h, s))
        return false;
    if ((size_t)(uint16_t)(h->newest - h->key_seq) > h->mask) return false;
    *key_seq = h->key_seq;
    *newest = h->newest;
    return true;
}

void fo_history_mem(const fo_history_t *h, fo_history_mem_t *out)
{
    out->allocated = sizeof *h + (h->mask + 1) * sizeof(slot_t) + h->cap;
    out->held = (size_t)(h->written < h->cap ? h->written : h->cap);
}
