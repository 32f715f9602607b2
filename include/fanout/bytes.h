/* SPDX-License-Identifier: MIT */
/* The bounds-checked byte reader every pure parser (rtp, rtcp) goes through: network byte
 * order, never reads outside [p, p+len). A failed read sets `bad`, parks the cursor at the end
 * and returns zeros, so parsers check `bad` once where it matters instead of after every field.
 * Invariant: pos <= len. Header-only; no state beyond the caller's fo_rd_t. */
#ifndef FO_BYTES_H
#define FO_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad;
} fo_rd_t;

static inline fo_rd_t fo_rd_init(const uint8_t *p, size_t len) { return (fo_rd_t){p, len, 0, false}; }
static inline size_t fo_rd_left(const fo_rd_t *r) { return r->len - r->pos; }

static inline bool fo_rd_need(fo_rd_t *r, size_t n)
{
    if (r->len - r->pos < n) {
        r->pos = r->len;
        r->bad = true;
        return false;
    }
    return true;
}

static inline uint8_t fo_rd_u8(fo_rd_t *r) { return fo_rd_need(r, 1) ? r->p[r->pos++] : 0; }

static inline uint16_t fo_rd_u16(fo_rd_t *r)
{
    if (!fo_rd_need(r, 2)) return 0;
    uint16_t v = (uint16_t)(r->p[r->pos] << 8 | r->p[r->pos + 1]);
    r->pos += 2;
    return v;
}

static inline uint32_t fo_rd_u24(fo_rd_t *r)
{
    if (!fo_rd_need(r, 3)) return 0;
    const uint8_t *q = r->p + r->pos;
    r->pos += 3;
    return (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2];
}

static inline uint32_t fo_rd_u32(fo_rd_t *r)
{
    if (!fo_rd_need(r, 4)) return 0;
    const uint8_t *q = r->p + r->pos;
    r->pos += 4;
    return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

static inline uint64_t fo_rd_u64(fo_rd_t *r)
{
    uint64_t hi = fo_rd_u32(r);
    return hi << 32 | fo_rd_u32(r);
}

/* Returns a pointer to the next n bytes and steps over them, or NULL (and `bad`). */
static inline const uint8_t *fo_rd_take(fo_rd_t *r, size_t n)
{
    if (!fo_rd_need(r, n)) return NULL;
    const uint8_t *q = r->p + r->pos;
    r->pos += n;
    return q;
}

#endif
