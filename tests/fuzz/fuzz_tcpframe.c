/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the RFC 4571 deframer (src/wire/tcpframe.c). The first bytes of the input
 * choose the maximum frame length and the sizes of the reads; the rest is the TCP byte stream.
 * It is fed read by read the way src/net/tcp.c does (what the deframer leaves is kept in front of
 * the next read) and must give exactly the frames a single pass over the whole stream gives,
 * each within the maximum, with the kept bytes always under one frame's worth. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/tcpframe.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

#define MAX_FRAMES 4096

typedef struct {
    uint32_t hash[MAX_FRAMES];
    uint32_t len[MAX_FRAMES];
    size_t n;
    size_t max;
} seen_t;

static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static int record_cb(void *user, uint8_t *frame, size_t len)
{
    seen_t *s = user;
    CHECK(len >= 1 && len <= s->max);
    if (s->n < MAX_FRAMES) {
        s->hash[s->n] = fnv(frame, len);
        s->len[s->n] = (uint32_t)len;
    }
    s->n++;
    frame[0] ^= 0xff; /* callers decrypt in place: writing must not disturb the deframer */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    size_t max = ((size_t)data[0] << 8 | data[1]) % 2100 + 1;
    uint8_t seed = data[2];
    data += 3;
    size -= 3;

    static uint8_t whole[1 << 17];
    if (size > sizeof whole) size = sizeof whole;
    static seen_t once, chunked;
    memset(&once, 0, sizeof once);
    memset(&chunked, 0, sizeof chunked);
    once.max = chunked.max = max;

    fo_tcpframe_t a;
    fo_tcpframe_init(&a, max);
    memcpy(whole, data, size);
    size_t used = fo_tcpframe_each(&a, whole, size, record_cb, &once);
    CHECK(used <= size && size - used < FO_TCPFRAME_HDR + max);

    fo_tcpframe_t b;
    fo_tcpframe_init(&b, max);
    static uint8_t buf[(1 << 17) + 4096];
    size_t kept = 0, pos = 0;
    uint32_t r = seed * 2654435761u + 1;
    while (pos < size) {
        r = r * 1103515245u + 12345u;
        size_t k = (r >> 16) % 700 + 1;
        if (k > size - pos) k = size - pos;
        memcpy(buf + kept, data + pos, k);
        pos += k;
        size_t len = kept + k;
        size_t u = fo_tcpframe_each(&b, buf, len, record_cb, &chunked);
        CHECK(u <= len);
        kept = len - u;
        CHECK(kept < FO_TCPFRAME_HDR + max);
        memmove(buf, buf + u, kept);
    }
    CHECK(once.n == chunked.n);
    for (size_t i = 0; i < once.n && i < MAX_FRAMES; i++)
        CHECK(once.hash[i] == chunked.hash[i] && once.len[i] == chunked.len[i]);
    CHECK(a.frames == b.frames && a.oversized == b.oversized && a.empty == b.empty);
    CHECK(kept == size - used);
    return 0;
}
