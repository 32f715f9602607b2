/* SPDX-License-Identifier: MIT */
/* Packet history ring: slot = seq & mask, so lookups are O(1) and a put overwrites whatever
 * was there 'slots' packets ago. */
#include "fanout/history.h"

#include <stdlib.h>
#include <string.h>

#include "fanout/rtp.h"

typedef struct {
    bool used;
    bool key;
    uint16_t seq;
    uint16_t len;
    uint64_t ms;
    uint8_t data[FO_HISTORY_PKT];
} slot_t;

struct fo_history {
    size_t mask;
    uint32_t max_age_ms;
    bool have_newest, have_key;
    uint16_t newest, key_seq;
    slot_t slot[];
};

fo_history_t *fo_history_new(size_t slots, uint32_t max_age_ms)
{
    size_t n = 16;
    while (n < slots) n <<= 1;
    fo_history_t *h = calloc(1, sizeof *h + n * sizeof(slot_t));
    if (!h) return NULL;
    h->mask = n - 1;
    h->max_age_ms = max_age_ms;
    return h;
}

void fo_history_free(fo_history_t *h) { free(h); }

void fo_history_clear(fo_history_t *h)
{
    for (size_t i = 0; i <= h->mask; i++) h->slot[i].used = false;
    h->have_newest = h->have_key = false;
}

void fo_history_put(fo_history_t *h, uint16_t seq, const uint8_t *pkt, size_t len, bool key,
                    uint64_t now_ms)
{
    if (len > FO_HISTORY_PKT) return;
    slot_t *s = &h->slot[seq & h->mask];
    s->used = true;
    s->key = key;
    s->seq = seq;
    s->len = (uint16_t)len;
    s->ms = now_ms;
    memcpy(s->data, pkt, len);
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
    if (!s->used || s->seq != seq || now_ms - s->ms > h->max_age_ms) return NULL;
    *len = s->len;
    return s->data;
}

bool fo_history_last_key(const fo_history_t *h, uint64_t now_ms, uint16_t *key_seq,
                         uint16_t *newest)
{
    if (!h->have_key || !h->have_newest) return false;
    /* Still held, and everything from it to the newest fits in the ring. */
    const slot_t *s = &h->slot[h->key_seq & h->mask];
    if (!s->used || s->seq != h->key_seq || !s->key || now_ms - s->ms > h->max_age_ms) return false;
    if ((size_t)(uint16_t)(h->newest - h->key_seq) > h->mask) return false;
    *key_seq = h->key_seq;
    *newest = h->newest;
    return true;
}
