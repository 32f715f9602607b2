/* SPDX-License-Identifier: MIT */
/* Unit tests for src/wire/depack.c: H.264 single NAL units, STAP-A and FU-A into Annex B (and the
 * committed recording's NAL units through the load tool's packetizer, back byte for byte); VP8
 * descriptors; VP9 single-layer frames and a two-layer superframe; AV1 aggregation (W and
 * length fields, an OBU fragmented over packets, temporal delimiters dropped, size fields
 * added); Opus; every way a frame breaks (lost fragment, continuation without start, overflow,
 * malformed). Inputs are exactly-sized heap copies so ASan catches reads past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/depack.h"

static uint8_t g_buf[1 << 20];

static int add(fo_depack_t *d, const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    assert_non_null(q);
    if (n) memcpy(q, p, n);
    int rc = fo_depack_add(d, q, n);
    free(q);
    return rc;
}

#define ADD(d, ...)                                                                                \
    do {                                                                                           \
        static const uint8_t pkt_[] = {__VA_ARGS__};                                               \
        assert_int_equal(add(d, pkt_, sizeof pkt_), 0);                                            \
    } while (0)

static void test_h264_single_stap_fua(void **state)
{
    (void)state;
    fo_depack_t d;
    fo_depack_frame_t f;
    assert_int_equal(fo_depack_init(&d, FO_CODEC_H264, g_buf, sizeof g_buf), 0);
    fo_depack_begin(&d);
    ADD(&d, 0x18, 0x00, 0x03, 0x67, 0x42, 0x1f, 0x00, 0x02, 0x68, 0xce); /* STAP-A: SPS, PPS */
    ADD(&d, 0x7c, 0x85, 0xaa, 0xbb);                                   /* FU-A start, IDR */
    ADD(&d, 0x7c, 0x05, 0xcc);                                         /* middle */
    ADD(&d, 0x7c, 0x45, 0xdd);                                         /* end */
    ADD(&d, 0x06, 0x05, 0x01);                                         /* single NAL (SEI) */
    assert_int_equal(fo_depack_end(&d, &f), 0);
    static const uint8_t want[] = {0, 0, 0, 1, 0x67, 0x42, 0x1f, 0, 0, 0, 1, 0x68, 0xce,
                                   0, 0, 0, 1, 0x65, 0xaa, 0xbb, 0xcc, 0xdd,
                                   0, 0, 0, 1, 0x06, 0x05, 0x01};
    assert_int_equal(f.len, sizeof want);
    assert_memory_equal(f.data, want, sizeof want);
    assert_true(f.key);

    /* A P frame in one NAL unit: not a keyframe. */
    fo_depack_begin(&d);
    ADD(&d, 0x41, 0x9a, 0x01);
    assert_int_equal(fo_depack_end(&d, &f), 0);
    assert_false(f.key);
    assert_int_equal(f.len, 7);
}

static void test_h264_broken(void **state)
{
    (void)state;
    fo_depack_t d;
    fo_depack_frame_t f;
    fo_depack_init(&d, FO_CODEC_H264, g_buf, sizeof g_buf);
    /* FU-A middle without its start */
    fo_depack_begin(&d);
    static const uint8_t mid[] = {0x7c, 0x05, 0xcc};
    assert_int_equal(add(&d, mid, sizeof mid), FO_EINVAL);
    assert_int_equal(fo_depack_end(&d, &f), FO_EINVAL);
    /* FU-A that never ends */
    fo_depack_begin(&d);
    ADD(&d, 0x7c, 0x85, 0xaa);
    assert_int_equal(fo_depack_end(&d, &f), FO_EINVAL);
    /* a lost packet reported by the caller */
    fo_depack_begin(&d);
    ADD(&d, 0x65, 0x01);
    fo_depack_lost(&d);
    assert_int_equal(fo_depack_end(&d, &f), FO_EINVAL);
    /* STAP-A whose unit overruns the packet; STAP-B; forbidden bit; empty */
    static const uint8_t bad_stap[] = {0x18, 0x00, 0x05, 0x67};
    static const uint8_t stapb[] = {0x19, 0x00, 0x00, 0x00, 0x01, 0x67};
    static const uint8_t forbidden[] = {0xe5, 0x00};
    const uint8_t *bad[] = {bad_stap, stapb, forbidden};
    size_t lens[] = {sizeof bad_stap, sizeof stapb, sizeof forbidden};
    for (int i = 0; i < 3; i++) {
        fo_depack_begin(&d);
        assert_int_equal(add(&d, bad[i], lens[i]), FO_EINVAL);
        static const uint8_t later[] = {0x41, 0x01};
        assert_int_equal(add(&d, later, sizeof later), FO_EINVAL); /* the frame is broken */
        assert_int_equal(fo_depack_end(&d, &f), FO_EINVAL);
    }
    fo_depack_begin(&d);
    assert_int_equal(fo_depack_end(&d, &f), FO_EINVAL); /* nothing added */
    /* overflow: a 16-byte buffer */
    uint8_t small[16];
    fo_depack_init(&d, FO_CODEC_H264, small, sizeof small);
    fo_depack_begin(&d);
    static const uint8_t big[20] = {0x65};
    assert_int_equal(add(&d, big, sizeof big), FO_ETOOBIG);
    assert_int_equal(fo_depack_end(&d, &f), FO_EINVAL);
}

/* The committed recording's access units, FU-A-fragmented at 1188 bytes as the load tool does,
 * come back as the same NAL units. */
static void fua_split(const uint8_t *nal, size_t len, fo_depack_t *d)
{
    if (len <= 1188) {
        assert_int_equal(add(d, nal, len), 0);
        return;
    }
    uint8_t pkt[1188];
    for (size_t off = 1; off < len;) {
        size_t n = len - off < 1186 ? len - off : 1186;
        pkt[0] = (uint8_t)((nal[0] & 0xe0) | 28);
        pkt[1] = (uint8_t)((off == 1 ? 0x80 : 0) | (off + n == len ? 0x40 : 0) | (nal[0] & 0x1f));
        memcpy(pkt + 2, nal + off, n);
        assert_int_equal(add(d, pkt, n + 2), 0);
        off += n;
    }
}

static void test_h264_recording(void **state)
{
    (void)state;
    FILE *fp = fopen(FO_TEST_DATA "/media/bench.h264", "rb");
    assert_non_null(fp);
    static uint8_t file[600000];
    size_t n = fread(file, 1, sizeof file, fp);
    fclose(fp);
    assert_true(n > 1000);
    fo_depack_t d;
    fo_depack_frame_t f;
    fo_depack_init(&d, FO_CODEC_H264, g_buf, sizeof g_buf);
    /* NAL units between 3-byte start codes; one access unit = up to the slice (make.sh) */
    size_t start = 0, frames = 0, keys = 0, nals = 0, bytes = 0;
    bool in = false;
    fo_depack_begin(&d);
    for (size_t i = 0; i + 3 <= n + 3; i++) {
        bool sc = i + 3 <= n && file[i] == 0 && file[i + 1] == 0 && file[i + 2] == 1;
        if (!sc && i < n) continue;
        if (in) {
            size_t end = i;
            while (end > start && file[end - 1] == 0) end--;
            fua_split(file + start, end - start, &d);
            nals++;
            bytes += 4 + end - start;
            uint8_t type = file[start] & 0x1f;
            if (type == 1 || type == 5) {
                assert_int_equal(fo_depack_end(&d, &f), 0);
                assert_int_equal(f.len, bytes);
                assert_int_equal(f.key, type == 5);
                frames++;
                keys += f.key;
                bytes = 0;
                fo_depack_begin(&d);
            }
        }
        if (i >= n) break;
        start = i + 3;
        in = true;
        i += 2;
    }
    assert_int_equal(frames, 300); /* 10 s at 30 fps */
    assert_int_equal(keys, 10);
    assert_true(nals > frames);
}

static void test_vp8(void **state)
{
    (void)state;
    fo_depack_t d;
    fo_depack_frame_t f;
    fo_depack_init(&d, FO_CODEC_VP8, g_buf, sizeof g_buf);
    fo_depack_begin(&d);
    ADD(&d, 0x90, 0xe0, 0x92, 0x34, 0x07, 0x40, /* X S | I L T | pic 15 bits | TL0 | TID */
        0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a);  /* key frame tag + start code */
    ADD(&d, 0x80, 0x80, 0x12, 0xaa, 0xbb);      /* X, not S | I | pic 7 bits */
    ADD(&d, 0x00, 0xcc);                        /* no X */
    assert_int_equal(fo_depack_end(&d, &f), 0);
    static const uint8_t want[] = {0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0xaa, 0xbb, 0xcc};
    assert_int_equal(f.len, sizeof want);
    assert_memory_equal(f.data, want, sizeof want);
    assert_true(f.key);
    /* inter frame */
    fo_depack_begin(&d);
    ADD(&d, 0x10, 0x51, 0x01);
    assert_int_equal(fo_depack_end(&d, &f), 0);
    assert_false(f.key);
    /* first packet without S: the frame's start is missing */
    fo_depack_begin(&d);
    static const uint8_t nos[] = {0x00, 0x51};
    assert_int_equal(add(&d, nos, sizeof nos), FO_EINVAL);
    assert_int_equal(fo_depack_end(&d, &f), FO_EINVAL);
    /* descriptor only, truncated extension */
    static const uint8_t trunc[][3] = {{0x10}, {0x90, 0x80}, {0x90, 0x80, 0x80}};
    size_t tl[] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        fo_depack_begin(&d);
        assert_int_equal(add(&d, trunc[i], tl[i]), FO_EINVAL);
    }
}

static void test_vp9(void **state)
{
    (void)state;
    fo_depack_t d;
    fo_depack_frame_t f;
    fo_depack_init(&d, FO_CODEC_VP9, g_buf, sizeof g_buf);
    /* one layer, two packets: I (15-bit id), B | E split, SS with resolutions on the first */
    fo_depack_begin(&d);
    ADD(&d, 0x8a, 0x81, 0x02,                      /* I B V | M pic */
        0x18, 0x02, 0x80, 0x01, 0xe0, 0x01, 0x00, /* SS: N_S=0 Y G | 640x480 | N_G=0 */
        0x82, 0x49);
    ADD(&d, 0x84, 0x02, 0x33); /* I E | 7-bit pic */
    assert_int_equal(fo_depack_end(&d, &f), 0);
    static const uint8_t want1[] = {0x82, 0x49, 0x33};
    assert_int_equal(f.len, sizeof want1);
    assert_memory_equal(f.data, want1, sizeof want1);
    assert_true(f.key);
    /* two spatial layers in one picture: a superframe index follows */
    fo_depack_begin(&d);
    ADD(&d, 0x2c, 0x00, 0x05, 0x11, 0x22);       /* L B E | SID 0 | TL0 | frame 1 */
    ADD(&d, 0x2c, 0x03, 0x05, 0x33, 0x44, 0x55); /* L B E | SID 1 D=1 | TL0 | frame 2 */
    assert_int_equal(fo_depack_end(&d, &f), 0);
    static const uint8_t want2[] = {0x11, 0x22, 0x33, 0x44, 0x55, 0xc1, 0x02, 0x03, 0xc1};
    assert_int_equal(f.len, sizeof want2);
    assert_memory_equal(f.data, want2, sizeof want2);
    assert_true(f.key);
    /* inter frame (P), flexible mode with two P_DIFFs */
    fo_depack_begin(&d);
    ADD(&d, 0x5c, 0x03, 0x04, 0x99); /* P F B E | P_DIFF N | P_DIFF */
    assert_int_equal(fo_depack_end(&d, &f), 0);
    assert_false(f.key);
    assert_int_equal(f.len, 1);
    /* a continuation without B, a frame without E */
    fo_depack_begin(&d);
    static const uint8_t cont[] = {0x04, 0x01};
    assert_int_equal(add(&d, cont, sizeof cont), FO_EINVAL);
    fo_depack_begin(&d);
    ADD(&d, 0x08, 0x01);
    assert_int_equal(fo_depack_end(&d, &f), FO_EINVAL);
}

static void test_av1(void **state)
{
    (void)state;
    fo_depack_t d;
    fo_depack_frame_t f;
    fo_depack_init(&d, FO_CODEC_AV1, g_buf, sizeof g_buf);
    fo_depack_begin(&d);
    /* N, W=0: TD (dropped), sequence header (3 bytes payload), then a frame OBU whose last
     * element continues (Y) */
    ADD(&d, 0x48,               /* Y, N, W=0 */
        0x01, 0x10,             /* len 1: temporal delimiter */
        0x04, 0x08, 0x01, 0x02, 0x03, /* len 4: seq header, payload 01 02 03 */
        0x03, 0x30, 0xaa, 0xbb);      /* len 3: frame OBU start */
    ADD(&d, 0x90, 0xcc, 0xdd); /* Z, W=1: the end of the frame OBU */
    assert_int_equal(fo_depack_end(&d, &f), 0);
    static const uint8_t want[] = {0x08 | 0x02, 0x03, 0x01, 0x02, 0x03,
                                   0x30 | 0x02, 0x04, 0xaa, 0xbb, 0xcc, 0xdd};
    assert_int_equal(f.len, sizeof want);
    assert_memory_equal(f.data, want, sizeof want);
    assert_true(f.key);
    /* an OBU that already has its size field (and trailing bytes after it are cut) */
    fo_depack_begin(&d);
    ADD(&d, 0x10, 0x32, 0x02, 0xaa, 0xbb, 0xee);
    assert_int_equal(fo_depack_end(&d, &f), 0);
    static const uint8_t want2[] = {0x32, 0x02, 0xaa, 0xbb};
    assert_int_equal(f.len, sizeof want2);
    assert_memory_equal(f.data, want2, sizeof want2);
    assert_false(f.key);
    /* a continuation (Z) as the frame's first packet; an unfinished OBU; a length past the end */
    fo_depack_begin(&d);
    static const uint8_t z[] = {0x90, 0x01};
    assert_int_equal(add(&d, z, sizeof z), FO_EINVAL);
    fo_depack_begin(&d);
    ADD(&d, 0x50, 0x30, 0x01);
    assert_int_equal(fo_depack_end(&d, &f), FO_EINVAL);
    fo_depack_begin(&d);
    static const uint8_t over[] = {0x00, 0x09, 0x30};
    assert_int_equal(add(&d, over, sizeof over), FO_EINVAL);
    /* a 300-byte OBU needs a two-byte size field */
    uint8_t big[302] = {0x10, 0x30};
    for (int i = 2; i < 302; i++) big[i] = (uint8_t)i;
    fo_depack_begin(&d);
    assert_int_equal(add(&d, big, sizeof big), 0);
    assert_int_equal(fo_depack_end(&d, &f), 0);
    assert_int_equal(f.len, 1 + 2 + 300);
    uint64_t v;
    assert_int_equal(fo_leb128_read(f.data + 1, 2, &v), 2);
    assert_int_equal(v, 300);
    assert_memory_equal(f.data + 3, big + 2, 300);
}

static void test_opus_and_leb(void **state)
{
    (void)state;
    fo_depack_t d;
    fo_depack_frame_t f;
    assert_int_equal(fo_depack_init(&d, FO_CODEC_RTX, g_buf, sizeof g_buf), FO_EINVAL);
    fo_depack_init(&d, FO_CODEC_OPUS, g_buf, sizeof g_buf);
    fo_depack_begin(&d);
    ADD(&d, 0xfc, 0xff, 0xfe);
    assert_int_equal(fo_depack_end(&d, &f), 0);
    assert_int_equal(f.len, 3);
    assert_true(f.key);
    uint8_t b[8];
    uint64_t v;
    uint64_t vals[] = {0, 1, 127, 128, 16383, 16384, 0xffffffffu};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        size_t n = fo_leb128_write(b, vals[i]);
        assert_int_equal(fo_leb128_read(b, n, &v), n);
        assert_int_equal(v, vals[i]);
        assert_int_equal(fo_leb128_read(b, n - 1, &v), 0); /* truncated */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h264_single_stap_fua),
        cmocka_unit_test(test_h264_broken),
        cmocka_unit_test(test_h264_recording),
        cmocka_unit_test(test_vp8),
        cmocka_unit_test(test_vp9),
        cmocka_unit_test(test_av1),
        cmocka_unit_test(test_opus_and_leb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
