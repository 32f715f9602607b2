/* SPDX-License-Identifier: MIT */
/* libFuzzer target for src/wire/rtp.c: parse, every extension id, rewrite into a fixed buffer with
 * several extension maps (identity, drop all, remap beyond 14, a map taken from the input), a
 * re-parse of every rewrite, and keyframe detection for every codec. Properties that must hold
 * abort, so the fuzzer reports logic errors as well as memory errors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/rtp.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

/* `max_id` bounds the ids the output can carry (the map's largest value): the element-by-element
 * check costs max_id lookups, which is what limits executions per second. */
static void rewrite_check(const fo_rtp_view_t *v, const uint8_t *map, unsigned max_id, size_t cap)
{
    static uint8_t out[2048];
    fo_rtp_rewrite_t rw = {.ssrc = 0x01020304, .pt = 111, .seq = 65535, .ts = 7, .ext_map = map};
    if (cap > sizeof out) cap = sizeof out;
    int n = fo_rtp_rewrite(v, &rw, out, cap);
    if (n == FO_ETOOBIG) return;
    CHECK(n >= FO_RTP_MIN_HEADER && (size_t)n <= cap);
    fo_rtp_view_t o;
    CHECK(fo_rtp_parse(out, (size_t)n, &o) == 0);
    CHECK(o.ssrc == rw.ssrc && o.pt == rw.pt && o.seq == rw.seq && o.ts == rw.ts);
    CHECK(o.marker == v->marker && o.csrc_count == v->csrc_count);
    CHECK(o.payload_len == v->payload_len && o.padding_len == v->padding_len);
    CHECK(memcmp(o.payload, v->payload, v->payload_len + v->padding_len) == 0);
    CHECK(o.ext == NULL || o.ext_profile == 0xBEDE || o.ext_profile == 0x1000);
    if (!map) CHECK(o.ext == NULL);
    /* Every element the output has came from the input under the map. */
    for (unsigned id = 1; id <= max_id && map; id++) {
        const uint8_t *d, *sd;
        size_t dn, sn;
        if (fo_rtp_ext_find(&o, (uint8_t)id, &d, &dn) != 0) continue;
        int found = 0;
        for (unsigned s = 1; s < 256 && !found; s++)
            if (map[s] == id && fo_rtp_ext_find(v, (uint8_t)s, &sd, &sn) == 0 && sn == dn &&
                memcmp(sd, d, dn) == 0)
                found = 1;
        CHECK(found);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int c = FO_CODEC_NONE; c <= FO_CODEC_OTHER; c++)
        (void)fo_rtp_is_keyframe((fo_codec_t)c, data, size);
    (void)fo_rtp_is_rtcp(data, size);

    fo_rtp_view_t v;
    if (fo_rtp_parse(data, size, &v) != 0) return 0;
    CHECK(v.buf == data && v.len == size);
    CHECK(v.payload >= data && v.payload + v.payload_len + v.padding_len == data + size);
    CHECK(v.ext == NULL || (v.ext >= data && v.ext + v.ext_len <= v.payload));
    for (unsigned id = 0; id < 256; id++) {
        const uint8_t *d;
        size_t n;
        if (fo_rtp_ext_find(&v, (uint8_t)id, &d, &n) == 0)
            CHECK(v.ext && d >= v.ext && d + n <= v.ext + v.ext_len);
    }
    for (int c = FO_CODEC_NONE; c <= FO_CODEC_OTHER; c++)
        (void)fo_rtp_is_keyframe((fo_codec_t)c, v.payload, v.payload_len);

    static uint8_t identity[256], zero[256], high[256], from_input[256];
    for (int i = 0; i < 256; i++) {
        identity[i] = (uint8_t)i;
        high[i] = (uint8_t)(i ? 255 - i : 0);
        from_input[i] = data[(size_t)i % size] & 0x1f;
    }
    size_t cap = size + 64;
    if (size > 0) cap = (size_t)data[size / 2] * 8;
    rewrite_check(&v, identity, 20, 2048);
    rewrite_check(&v, NULL, 0, 2048);
    rewrite_check(&v, zero, 0, 2048);
    rewrite_check(&v, high, 8, 2048);
    rewrite_check(&v, from_input, 31, 2048);
    rewrite_check(&v, identity, 0, cap);
    return 0;
}
