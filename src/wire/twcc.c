/* SPDX-License-Identifier: MIT */
/* TWCC feedback. Encoding kept simple and always valid: status vector chunks of seven 2-bit
 * symbols (0 not received, 1 small delta, 2 large delta), receive deltas in 250 us ticks
 * (1 byte for 0..255, else 2 bytes signed), padding with the P bit as libwebrtc writes it.
 * Deltas are accumulated in ticks so rounding never drifts. */
#include "fanout/twcc.h"

#include <string.h>

#include "fanout/common.h"

#define MASK (FO_TWCC_WINDOW - 1)

void fo_twcc_init(fo_twcc_t *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < FO_TWCC_WINDOW; i++) t->seq[i] = -1;
}

void fo_twcc_on_packet(fo_twcc_t *t, uint16_t seq, int64_t arrival_us)
{
    int64_t ext;
    if (!t->started) {
        t->started = true;
        ext = seq;
        t->next = t->max = ext;
    } else {
        ext = t->max + (int16_t)(uint16_t)(seq - (uint16_t)t->max);
        if (ext < t->next) return; /* already reported (or a duplicate): too late */
        if (ext > t->max) t->max = ext;
        if (t->max - t->next >= FO_TWCC_WINDOW) t->next = t->max - FO_TWCC_WINDOW + 1;
    }
    t->seq[ext & MASK] = ext;
    t->arrival_us[ext & MASK] = arrival_us;
    t->packets++;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

int fo_twcc_build(fo_twcc_t *t, uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *buf,
                  size_t cap)
{
    if (!t->started || t->next > t->max) return 0;
    /* The first received packet sets the reference time; skip leading lost ones only if the
     * feedback would otherwise have no received packet at all (cannot happen: max was received). */
    int64_t first = t->next;
    while (first <= t->max && t->seq[first & MASK] != first) first++;
    if (first > t->max) {
        t->next = t->max + 1;
        return 0;
    }
    int64_t ref_ticks64 = t->arrival_us[first & MASK] / 64000; /* 64 ms units */
    int64_t prev_ticks = ref_ticks64 * 256;                    /* in 250 us */
    uint8_t sym[FO_TWCC_MAX_PER_FEEDBACK];
    uint8_t deltas[FO_TWCC_MAX_PER_FEEDBACK * 2];
    size_t n = 0, dlen = 0;
    for (int64_t e = t->next; e <= t->max && n < FO_TWCC_MAX_PER_FEEDBACK; e++) {
        if (t->seq[e & MASK] != e) {
            sym[n++] = 0;
            continue;
        }
        int64_t ticks = t->arrival_us[e & MASK] / 250;
        int64_t d = ticks - prev_ticks;
        if (d >= 0 && d <= 255) {
            sym[n++] = 1;
            deltas[dlen++] = (uint8_t)d;
        } else if (d >= INT16_MIN && d <= INT16_MAX) {
            sym[n++] = 2;
            put16(deltas + dlen, (uint16_t)(int16_t)d);
            dlen += 2;
        } else {
            break; /* does not fit: this one starts the next feedback */
        }
        prev_ticks = ticks;
    }
    if (n == 0) return 0;
    size_t chunks = (n + 6) / 7;
    size_t body = 20 + chunks * 2 + dlen;
    size_t pad = (4 - body % 4) % 4;
    size_t total = body + pad;
    if (total > cap) return FO_ETOOBIG;
    buf[0] = (uint8_t)(0x80 | (pad ? 0x20 : 0) | 15);
    buf[1] = 205;
    put16(buf + 2, (uint32_t)(total / 4 - 1));
    put32(buf + 4, sender_ssrc);
    put32(buf + 8, media_ssrc);
    put16(buf + 12, (uint16_t)t->next);
    put16(buf + 14, (uint16_t)n);
    put32(buf + 16, ((uint32_t)ref_ticks64 & 0xffffff) << 8 | t->fb_count);
    uint8_t *w = buf + 20;
    for (size_t c = 0; c < chunks; c++) {
        uint32_t v = 0xc000; /* status vector, 2-bit symbols */
        for (size_t k = 0; k < 7; k++) {
            size_t i = c * 7 + k;
            v |= (uint32_t)(i < n ? sym[i] : 0) << (12 - 2 * k);
        }
        put16(w, v);
        w += 2;
    }
    memcpy(w, deltas, dlen);
    w += dlen;
    memset(w, 0, pad);
    if (pad) w[pad - 1] = (uint8_t)pad;
    t->next += (int64_t)n;
    t->fb_count++;
    t->feedbacks++;
    return (int)total;
}

int fo_twcc_count(const uint8_t *fci, size_t len)
{
    if (len < 8) return FO_EINVAL;
    return fci[2] << 8 | fci[3];
}

int fo_twcc_parse(const uint8_t *fci, size_t len, uint16_t *base_seq, uint16_t *count,
                  int32_t *ref_time_64ms, uint8_t *fb_count, bool *received, int32_t *delta_us,
                  size_t max)
{
    int claimed = fo_twcc_count(fci, len);
    if (claimed < 0) return FO_EINVAL;
    *base_seq = (uint16_t)(fci[0] << 8 | fci[1]);
    *count = (uint16_t)claimed;
    uint32_t rt = (uint32_t)fci[4] << 16 | (uint32_t)fci[5] << 8 | fci[6];
    *ref_time_64ms = (int32_t)(rt << 8) >> 8;
    *fb_count = fci[7];
    if (*count > max) return FO_EINVAL;
    uint8_t sym[65536 / 8]; /* only the first *count are used; bounded by max anyway */
    size_t n = 0, off = 8;
    uint8_t *s = max <= sizeof sym ? sym : NULL;
    if (!s) return FO_EINVAL;
    while (n < *count) {
        if (off + 2 > len) return FO_EINVAL;
        uint16_t c = (uint16_t)(fci[off] << 8 | fci[off + 1]);
        off += 2;
        if (!(c & 0x8000)) { /* run length */
            uint8_t st = (c >> 13) & 3;
            for (size_t k = 0; k < (c & 0x1fff) && n < *count; k++) s[n++] = st;
        } else if (!(c & 0x4000)) { /* 14 x 1 bit */
            for (int k = 13; k >= 0 && n < *count; k--) s[n++] = (c >> k) & 1;
        } else { /* 7 x 2 bits */
            for (int k = 6; k >= 0 && n < *count; k--) s[n++] = (c >> (2 * k)) & 3;
        }
    }
    for (size_t i = 0; i < n; i++) {
        received[i] = s[i] != 0;
        delta_us[i] = 0;
        if (s[i] == 1) {
            if (off + 1 > len) return FO_EINVAL;
            delta_us[i] = fci[off++] * 250;
        } else if (s[i] >= 2) {
            if (off + 2 > len) return FO_EINVAL;
            delta_us[i] = (int16_t)(fci[off] << 8 | fci[off + 1]) * 250;
            off += 2;
        }
    }
    return 0;
}
