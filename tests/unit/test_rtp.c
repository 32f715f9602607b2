/* SPDX-License-Identifier: MIT */
/* Unit tests for src/wire/rtp.c: parse, extension lookup, per-player rewrite (remap, one-byte and
 * two-byte forms, drop, padding, CSRCs), keyframe detection for VP8/VP9/H.264/AV1, and
 * truncated/garbage input. Inputs that parsers read are copied into exactly-sized heap blocks so
 * ASan catches any read past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/rtp.h"

/* An exactly-sized heap copy (ASan red zones right after the last byte). */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    assert_non_null(q);
    if (n) memcpy(q, p, n);
    return q;
}

/* VP8 key frame as Chrome sends it, hand-assembled from RFC 3550 / 8285 / 7741 layouts:
 * V=2 X=1, PT 96, one-byte extensions abs-send-time (id 2), transport-cc (id 3), mid (id 4). */
static const uint8_t vp8_key_pkt[] = {
    0x90, 0x60, 0x12, 0x34,             /* V=2 P=0 X=1 CC=0, M=0 PT=96, seq 0x1234 */
    0x5b, 0x4a, 0x3c, 0x2d,             /* timestamp */
    0x11, 0x22, 0x33, 0x44,             /* SSRC */
    0xbe, 0xde, 0x00, 0x03,             /* one-byte extensions, 3 words */
    0x22, 0xaa, 0xbb, 0xcc,             /* id 2 len 3: abs-send-time */
    0x31, 0x01, 0x02,                   /* id 3 len 2: transport-wide seq 0x0102 */
    0x40, 0x30,                         /* id 4 len 1: mid "0" */
    0x00, 0x00, 0x00,                   /* padding to the word */
    0x90, 0xc0, 0x92, 0x34, 0x07,       /* VP8: X S PID=0 | I L | M pic 0x1234 | TL0PICIDX 7 */
    0x50, 0x01, 0x00,                   /* frame tag: P=0 key frame, show_frame */
    0x9d, 0x01, 0x2a,                   /* start code */
    0x80, 0x02, 0xe0, 0x01,             /* 640x480 */
    0xde, 0xad, 0xbe, 0xef,             /* partition data */
};
#define VP8_KEY_PAYLOAD_OFF 28

static void test_parse_chrome_vp8(void **state)
{
    (void)state;
    uint8_t *b = dup_exact(vp8_key_pkt, sizeof vp8_key_pkt);
    fo_rtp_view_t v;
    assert_int_equal(fo_rtp_parse(b, sizeof vp8_key_pkt, &v), 0);
    assert_int_equal(v.marker, 0);
    assert_int_equal(v.pt, 96);
    assert_int_equal(v.seq, 0x1234);
    assert_int_equal(v.ts, 0x5b4a3c2d);
    assert_int_equal(v.ssrc, 0x11223344);
    assert_int_equal(v.csrc_count, 0);
    assert_int_equal(v.ext_profile, 0xBEDE);
    assert_int_equal(v.ext_len, 12);
    assert_ptr_equal(v.ext, b + 16);
    assert_ptr_equal(v.payload, b + VP8_KEY_PAYLOAD_OFF);
    assert_int_equal(v.payload_len, sizeof vp8_key_pkt - VP8_KEY_PAYLOAD_OFF);
    assert_int_equal(v.padding_len, 0);
    assert_ptr_equal(v.buf, b);
    assert_int_equal(v.len, sizeof vp8_key_pkt);

    const uint8_t *d;
    size_t n;
    assert_int_equal(fo_rtp_ext_find(&v, 2, &d, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(d, "\xaa\xbb\xcc", 3);
    assert_int_equal(fo_rtp_ext_find(&v, 3, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(d[0] << 8 | d[1], 0x0102);
    assert_int_equal(fo_rtp_ext_find(&v, 4, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(d[0], '0');
    assert_int_equal(fo_rtp_ext_find(&v, 5, &d, &n), FO_ENOTFOUND);
    assert_int_equal(fo_rtp_ext_find(&v, 0, &d, &n), FO_ENOTFOUND);
    assert_int_equal(fo_rtp_ext_find(&v, 15, &d, &n), FO_ENOTFOUND);
    assert_true(fo_rtp_is_keyframe(FO_CODEC_VP8, v.payload, v.payload_len));
    free(b);
}

/* CC=2, marker, P=1 with 4 padding bytes, no extension. */
static const uint8_t csrc_pad_pkt[] = {
    0xa2, 0xef, 0xff, 0xff,             /* V=2 P=1 X=0 CC=2, M=1 PT=111, seq 65535 */
    0x00, 0x00, 0x03, 0xc0,             /* timestamp 960 */
    0xca, 0xfe, 0xba, 0xbe,             /* SSRC */
    0x01, 0x02, 0x03, 0x04,             /* CSRC 1 */
    0x05, 0x06, 0x07, 0x08,             /* CSRC 2 */
    0x78, 0x0b, 0xe4, 0xc1, 0x36,       /* Opus payload */
    0x00, 0x00, 0x00, 0x04,             /* padding, count 4 */
};

static void test_parse_csrc_padding(void **state)
{
    (void)state;
    uint8_t *b = dup_exact(csrc_pad_pkt, sizeof csrc_pad_pkt);
    fo_rtp_view_t v;
    assert_int_equal(fo_rtp_parse(b, sizeof csrc_pad_pkt, &v), 0);
    assert_int_equal(v.marker, 1);
    assert_int_equal(v.pt, 111);
    assert_int_equal(v.seq, 65535);
    assert_int_equal(v.csrc_count, 2);
    assert_int_equal(v.ext_profile, 0);
    assert_null(v.ext);
    assert_int_equal(v.ext_len, 0);
    assert_ptr_equal(v.payload, b + 20);
    assert_int_equal(v.payload_len, 5);
    assert_int_equal(v.padding_len, 4);
    const uint8_t *d;
    size_t n;
    assert_int_equal(fo_rtp_ext_find(&v, 1, &d, &n), FO_ENOTFOUND);
    free(b);
}

/* Two-byte extension block (RFC 8285 §4.3) with a zero-length element, padding bytes between
 * elements and an element longer than 16 bytes. */
static const uint8_t two_byte_pkt[] = {
    0x90, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0x10, 0x00, 0x00, 0x08,             /* two-byte form, 8 words = 32 bytes */
    0x05, 0x00,                         /* id 5, len 0 */
    0x00, 0x00,                         /* padding */
    0x07, 0x02, 0x11, 0x22,             /* id 7, len 2 */
    0x00,                               /* padding */
    0xc8, 0x14,                         /* id 200, len 20 */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
    0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14,
    0x00,                               /* padding to the word */
    0xab, 0xcd,                         /* payload */
};

static void test_parse_two_byte(void **state)
{
    (void)state;
    uint8_t *b = dup_exact(two_byte_pkt, sizeof two_byte_pkt);
    fo_rtp_view_t v;
    assert_int_equal(fo_rtp_parse(b, sizeof two_byte_pkt, &v), 0);
    assert_int_equal(v.ext_profile, 0x1000);
    assert_int_equal(v.ext_len, 32);
    assert_int_equal(v.payload_len, 2);
    const uint8_t *d;
    size_t n;
    assert_int_equal(fo_rtp_ext_find(&v, 5, &d, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(fo_rtp_ext_find(&v, 7, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(d[1], 0x22);
    assert_int_equal(fo_rtp_ext_find(&v, 200, &d, &n), 0);
    assert_int_equal(n, 20);
    assert_int_equal(d[19], 0x14);
    assert_int_equal(fo_rtp_ext_find(&v, 6, &d, &n), FO_ENOTFOUND);
    free(b);
}

static void expect_einval(const uint8_t *p, size_t n)
{
    uint8_t *b = dup_exact(p, n);
    fo_rtp_view_t v;
    assert_int_equal(fo_rtp_parse(b, n, &v), FO_EINVAL);
    free(b);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    /* Version 1. */
    uint8_t v1[12] = {0x40, 0x60};
    expect_einval(v1, sizeof v1);
    /* Version 0 / 3. */
    v1[0] = 0x00;
    expect_einval(v1, sizeof v1);
    v1[0] = 0xc0;
    expect_einval(v1, sizeof v1);
    /* Shorter than the fixed header. */
    expect_einval(vp8_key_pkt, 11);
    expect_einval(vp8_key_pkt, 0);
    /* CSRC count larger than the packet. */
    uint8_t cc[16] = {0x8f, 0x60};
    expect_einval(cc, sizeof cc);
    /* Extension header cut, extension length overrunning. */
    expect_einval(vp8_key_pkt, 14);
    expect_einval(vp8_key_pkt, 27);
    uint8_t ext_over[20];
    memcpy(ext_over, vp8_key_pkt, sizeof ext_over);
    ext_over[15] = 0xff;
    expect_einval(ext_over, sizeof ext_over);
    /* Padding count 0, larger than the body, or P set on a bare header. */
    uint8_t pad[16] = {0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9, 9, 0};
    expect_einval(pad, sizeof pad);
    pad[15] = 5;
    expect_einval(pad, sizeof pad);
    expect_einval(pad, 12);
    /* Padding equal to the whole body is a valid padding-only probe packet. */
    pad[15] = 4;
    fo_rtp_view_t v;
    uint8_t *b = dup_exact(pad, sizeof pad);
    assert_int_equal(fo_rtp_parse(b, sizeof pad, &v), 0);
    assert_int_equal(v.payload_len, 0);
    assert_int_equal(v.padding_len, 4);
    free(b);
}

/* Every prefix of each sample parses to EINVAL or to a view that stays inside the prefix. */
static void test_parse_every_prefix(void **state)
{
    (void)state;
    const struct { const uint8_t *p; size_t n; size_t min_ok; } s[] = {
        {vp8_key_pkt, sizeof vp8_key_pkt, 28},
        {csrc_pad_pkt, sizeof csrc_pad_pkt, 0 /* last byte is the pad count */},
        {two_byte_pkt, sizeof two_byte_pkt, 48},
    };
    for (size_t k = 0; k < FO_ARRAY_LEN(s); k++) {
        for (size_t n = 0; n <= s[k].n; n++) {
            uint8_t *b = dup_exact(s[k].p, n);
            fo_rtp_view_t v;
            int rc = fo_rtp_parse(b, n, &v);
            if (s[k].min_ok && n >= s[k].min_ok) assert_int_equal(rc, 0);
            if (s[k].min_ok && n < s[k].min_ok) assert_int_equal(rc, FO_EINVAL);
            if (rc == 0) {
                assert_true(v.payload >= b && v.payload + v.payload_len + v.padding_len == b + n);
                const uint8_t *d;
                size_t dn;
                for (unsigned id = 0; id < 256; id++)
                    if (fo_rtp_ext_find(&v, (uint8_t)id, &d, &dn) == 0)
                        assert_true(d >= b && d + dn <= b + n);
            }
            free(b);
        }
    }
    /* The padded sample is only valid whole (4 pad) or cut so the last byte reads as a count. */
    fo_rtp_view_t v;
    assert_int_equal(fo_rtp_parse(csrc_pad_pkt, sizeof csrc_pad_pkt, &v), 0);
    assert_int_equal(fo_rtp_parse(csrc_pad_pkt, sizeof csrc_pad_pkt - 1, &v), FO_EINVAL);
}

static uint8_t identity_map[256];

static int setup_maps(void **state)
{
    (void)state;
    for (int i = 0; i < 256; i++) identity_map[i] = (uint8_t)i;
    return 0;
}

static void parse_ok(const uint8_t *p, size_t n, fo_rtp_view_t *v)
{
    assert_int_equal(fo_rtp_parse(p, n, v), 0);
}

static void test_rewrite_identity_roundtrip(void **state)
{
    (void)state;
    fo_rtp_view_t in, out;
    parse_ok(vp8_key_pkt, sizeof vp8_key_pkt, &in);
    fo_rtp_rewrite_t rw = {.ssrc = 0xdeadbeef, .pt = 102, .seq = 7, .ts = 0x01020304,
                           .ext_map = identity_map};
    uint8_t buf[1500];
    int n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    assert_int_equal(n, (int)sizeof vp8_key_pkt);
    parse_ok(buf, (size_t)n, &out);
    assert_int_equal(out.ssrc, 0xdeadbeef);
    assert_int_equal(out.pt, 102);
    assert_int_equal(out.seq, 7);
    assert_int_equal(out.ts, 0x01020304);
    assert_int_equal(out.marker, in.marker);
    assert_int_equal(out.ext_profile, 0xBEDE);
    /* Same elements in the same order, same padding: the extension block is byte-identical. */
    assert_int_equal(out.ext_len, in.ext_len);
    assert_memory_equal(out.ext, in.ext, in.ext_len);
    assert_int_equal(out.payload_len, in.payload_len);
    assert_memory_equal(out.payload, in.payload, in.payload_len);
    /* Writing the original values back reproduces the original packet exactly. */
    fo_rtp_rewrite_t back = {.ssrc = in.ssrc, .pt = in.pt, .seq = in.seq, .ts = in.ts,
                             .ext_map = identity_map};
    uint8_t again[1500];
    assert_int_equal(fo_rtp_rewrite(&out, &back, again, sizeof again), (int)sizeof vp8_key_pkt);
    assert_memory_equal(again, vp8_key_pkt, sizeof vp8_key_pkt);
}

static void test_rewrite_csrc_padding_marker(void **state)
{
    (void)state;
    fo_rtp_view_t in, out;
    parse_ok(csrc_pad_pkt, sizeof csrc_pad_pkt, &in);
    fo_rtp_rewrite_t rw = {.ssrc = 1, .pt = 109, .seq = 0, .ts = 42, .ext_map = identity_map};
    uint8_t buf[64];
    int n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    assert_int_equal(n, (int)sizeof csrc_pad_pkt);
    assert_int_equal(buf[0], 0xa2); /* V=2, P kept, X clear, CC=2 */
    assert_int_equal(buf[1], 0x80 | 109);
    assert_memory_equal(buf + 12, csrc_pad_pkt + 12, 8); /* CSRCs */
    assert_memory_equal(buf + 20, csrc_pad_pkt + 20, 9); /* payload + padding */
    parse_ok(buf, (size_t)n, &out);
    assert_int_equal(out.csrc_count, 2);
    assert_int_equal(out.padding_len, 4);
    assert_int_equal(out.payload_len, 5);
    assert_int_equal(out.marker, 1);
}

/* Sender id 2 becomes receiver id 20 (> 14): the output switches to the two-byte form; id 3
 * becomes 1 and id 4 is dropped. */
static void test_rewrite_remap_to_two_byte(void **state)
{
    (void)state;
    uint8_t map[256] = {0};
    map[2] = 20;
    map[3] = 1;
    fo_rtp_view_t in, out;
    parse_ok(vp8_key_pkt, sizeof vp8_key_pkt, &in);
    fo_rtp_rewrite_t rw = {.ssrc = 5, .pt = 96, .seq = 9, .ts = 9, .ext_map = map};
    uint8_t buf[1500];
    int n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    assert_true(n > 0);
    parse_ok(buf, (size_t)n, &out);
    assert_int_equal(out.ext_profile, 0x1000);
    /* (2+3) + (2+2) = 9 bytes of elements, padded to 12. */
    assert_int_equal(out.ext_len, 12);
    static const uint8_t want[12] = {20, 3, 0xaa, 0xbb, 0xcc, 1, 2, 0x01, 0x02, 0, 0, 0};
    assert_memory_equal(out.ext, want, 12);
    const uint8_t *d;
    size_t dn;
    assert_int_equal(fo_rtp_ext_find(&out, 20, &d, &dn), 0);
    assert_int_equal(dn, 3);
    assert_int_equal(fo_rtp_ext_find(&out, 1, &d, &dn), 0);
    assert_int_equal(dn, 2);
    assert_int_equal(fo_rtp_ext_find(&out, 4, &d, &dn), FO_ENOTFOUND);
    assert_int_equal(fo_rtp_ext_find(&out, 2, &d, &dn), FO_ENOTFOUND);
    assert_int_equal(out.payload_len, in.payload_len);
    assert_memory_equal(out.payload, in.payload, in.payload_len);
}

/* tw_id adds the player's own transport-wide sequence number after the kept elements, in the
 * one-byte form when it fits, else two-byte; with no map it is the only element. */
static void test_rewrite_adds_transport_seq(void **state)
{
    (void)state;
    uint8_t map[256] = {0};
    map[3] = 1;
    fo_rtp_view_t in, out;
    parse_ok(vp8_key_pkt, sizeof vp8_key_pkt, &in);
    uint8_t buf[1500];
    const uint8_t *d;
    size_t dn;
    fo_rtp_rewrite_t rw = {.ssrc = 5, .pt = 96, .seq = 9, .ts = 9, .ext_map = map, .tw_id = 7,
                           .tw_seq = 0xabcd};
    int n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    assert_true(n > 0);
    parse_ok(buf, (size_t)n, &out);
    assert_int_equal(out.ext_profile, 0xBEDE);
    static const uint8_t want1[8] = {0x11, 0x01, 0x02, 0x71, 0xab, 0xcd, 0, 0};
    assert_int_equal(out.ext_len, 8);
    assert_memory_equal(out.ext, want1, 8);
    assert_int_equal(out.payload_len, in.payload_len);
    assert_memory_equal(out.payload, in.payload, in.payload_len);

    rw.tw_id = 20;
    n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    parse_ok(buf, (size_t)n, &out);
    assert_int_equal(out.ext_profile, 0x1000);
    assert_int_equal(fo_rtp_ext_find(&out, 20, &d, &dn), 0);
    assert_int_equal(dn, 2);
    assert_int_equal(d[0] << 8 | d[1], 0xabcd);
    assert_int_equal(fo_rtp_ext_find(&out, 1, &d, &dn), 0);
    assert_int_equal(dn, 2);

    rw.ext_map = NULL;
    rw.tw_id = 3;
    rw.tw_seq = 1;
    n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    parse_ok(buf, (size_t)n, &out);
    static const uint8_t want3[4] = {0x31, 0x00, 0x01, 0};
    assert_int_equal(out.ext_len, 4);
    assert_memory_equal(out.ext, want3, 4);
    assert_memory_equal(out.payload, in.payload, in.payload_len);
}

/* A relay's layers: an rtp-stream-id element after the transport-wide one, one-byte or two-byte. */
static void test_rewrite_adds_rid(void **state)
{
    (void)state;
    fo_rtp_view_t in, out;
    parse_ok(vp8_key_pkt, sizeof vp8_key_pkt, &in);
    uint8_t buf[1500];
    const uint8_t *d;
    size_t dn;
    fo_rtp_rewrite_t rw = {.ssrc = 5, .pt = 96, .seq = 9, .ts = 9, .tw_id = 2, .tw_seq = 0x0102,
                           .rid_id = 10, .rid = "h", .rid_len = 1};
    int n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    parse_ok(buf, (size_t)n, &out);
    static const uint8_t want[8] = {0x21, 0x01, 0x02, 0xa0, 'h', 0, 0, 0};
    assert_int_equal(out.ext_len, 8);
    assert_memory_equal(out.ext, want, 8);
    assert_memory_equal(out.payload, in.payload, in.payload_len);
    rw.rid_id = 30; /* two-byte form */
    rw.rid = "layer-16-chars-x";
    rw.rid_len = 16;
    n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    parse_ok(buf, (size_t)n, &out);
    assert_int_equal(fo_rtp_ext_find(&out, 30, &d, &dn), 0);
    assert_int_equal(dn, 16);
    assert_memory_equal(d, "layer-16-chars-x", 16);
    assert_int_equal(fo_rtp_ext_find(&out, 2, &d, &dn), 0);
    rw.rid_len = 17; /* not a rid: no element */
    n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    parse_ok(buf, (size_t)n, &out);
    assert_int_equal(fo_rtp_ext_find(&out, 30, &d, &dn), FO_ENOTFOUND);
}

/* A two-byte input whose kept elements all fit goes out in the one-byte form; the padding bytes
 * between input elements disappear. */
static void test_rewrite_two_byte_to_one_byte(void **state)
{
    (void)state;
    uint8_t map[256] = {0};
    map[7] = 3;
    fo_rtp_view_t in, out;
    parse_ok(two_byte_pkt, sizeof two_byte_pkt, &in);
    fo_rtp_rewrite_t rw = {.ssrc = 5, .pt = 96, .seq = 9, .ts = 9, .ext_map = map};
    uint8_t buf[256];
    int n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    assert_int_equal(n, 12 + 4 + 4 + 2);
    parse_ok(buf, (size_t)n, &out);
    assert_int_equal(out.ext_profile, 0xBEDE);
    static const uint8_t want[4] = {0x31, 0x11, 0x22, 0x00};
    assert_memory_equal(out.ext, want, 4);
    /* Keeping the zero-length element forces two-byte form. */
    map[5] = 4;
    n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    parse_ok(buf, (size_t)n, &out);
    assert_int_equal(out.ext_profile, 0x1000);
    const uint8_t *d;
    size_t dn;
    assert_int_equal(fo_rtp_ext_find(&out, 4, &d, &dn), 0);
    assert_int_equal(dn, 0);
    /* So does a 20-byte element even with a small id. */
    map[5] = 0;
    map[200] = 9;
    n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    parse_ok(buf, (size_t)n, &out);
    assert_int_equal(out.ext_profile, 0x1000);
    assert_int_equal(fo_rtp_ext_find(&out, 9, &d, &dn), 0);
    assert_int_equal(dn, 20);
    assert_int_equal(d[0], 1);
    assert_int_equal(fo_rtp_ext_find(&out, 3, &d, &dn), 0);
    assert_int_equal(dn, 2);
}

static void test_rewrite_drop_all(void **state)
{
    (void)state;
    uint8_t none[256] = {0};
    const uint8_t *maps[] = {NULL, none};
    for (size_t k = 0; k < 2; k++) {
        fo_rtp_view_t in, out;
        parse_ok(vp8_key_pkt, sizeof vp8_key_pkt, &in);
        fo_rtp_rewrite_t rw = {.ssrc = 5, .pt = 97, .seq = 9, .ts = 9, .ext_map = maps[k]};
        uint8_t buf[256];
        int n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
        assert_int_equal(n, 12 + (int)in.payload_len);
        assert_int_equal(buf[0] & 0x10, 0); /* X cleared */
        parse_ok(buf, (size_t)n, &out);
        assert_null(out.ext);
        assert_int_equal(out.ext_profile, 0);
        assert_memory_equal(out.payload, in.payload, in.payload_len);
        assert_true(fo_rtp_is_keyframe(FO_CODEC_VP8, out.payload, out.payload_len));
    }
}

/* A packet from pion's RTP tests: extension profile 0x0001 (not RFC 8285) is always dropped. */
static void test_rewrite_foreign_profile(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {0x90, 0xe0, 0x69, 0x8f, 0xd9, 0xc2, 0x93, 0xda, 0x1c,
                                  0x64, 0x27, 0x82, 0x00, 0x01, 0x00, 0x01, 0xff, 0xff,
                                  0xff, 0xff, 0x98, 0x36, 0xbe, 0x88, 0x9e};
    fo_rtp_view_t in, out;
    parse_ok(pkt, sizeof pkt, &in);
    assert_int_equal(in.ext_profile, 1);
    assert_int_equal(in.ext_len, 4);
    assert_int_equal(in.payload_len, 5);
    assert_int_equal(in.marker, 1);
    assert_int_equal(in.pt, 96);
    const uint8_t *d;
    size_t dn;
    assert_int_equal(fo_rtp_ext_find(&in, 1, &d, &dn), FO_ENOTFOUND);
    fo_rtp_rewrite_t rw = {.ssrc = 5, .pt = 96, .seq = 1, .ts = 1, .ext_map = identity_map};
    uint8_t buf[64];
    int n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    assert_int_equal(n, 17);
    parse_ok(buf, (size_t)n, &out);
    assert_null(out.ext);
    assert_memory_equal(out.payload, pkt + 20, 5);
}

/* One-byte padding bytes inside a block and the reserved id 15 ending the walk. */
static void test_ext_one_byte_padding_and_id15(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {
        0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
        0xbe, 0xde, 0x00, 0x02,
        0x00, 0x00, 0x10, 0x55,             /* pad pad, id 1 len 1 */
        0xf3, 0x20, 0x99, 0x00,             /* id 15: stop; id 2 after it is never seen */
        0x01,
    };
    fo_rtp_view_t in, out;
    parse_ok(pkt, sizeof pkt, &in);
    const uint8_t *d;
    size_t dn;
    assert_int_equal(fo_rtp_ext_find(&in, 1, &d, &dn), 0);
    assert_int_equal(d[0], 0x55);
    assert_int_equal(fo_rtp_ext_find(&in, 2, &d, &dn), FO_ENOTFOUND);
    fo_rtp_rewrite_t rw = {.ssrc = 5, .pt = 96, .seq = 1, .ts = 1, .ext_map = identity_map};
    uint8_t buf[64];
    int n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    assert_int_equal(n, 12 + 4 + 4 + 1);
    parse_ok(buf, (size_t)n, &out);
    static const uint8_t want[4] = {0x10, 0x55, 0, 0};
    assert_memory_equal(out.ext, want, 4);
    /* An element running past the block: what precedes it is kept, the rest dropped. */
    uint8_t bad[sizeof pkt];
    memcpy(bad, pkt, sizeof pkt);
    bad[20] = 0x3f; /* id 3, len 16: overruns */
    parse_ok(bad, sizeof bad, &in);
    assert_int_equal(fo_rtp_ext_find(&in, 3, &d, &dn), FO_ENOTFOUND);
    n = fo_rtp_rewrite(&in, &rw, buf, sizeof buf);
    parse_ok(buf, (size_t)n, &out);
    assert_memory_equal(out.ext, want, 4);
}

static void test_rewrite_capacity(void **state)
{
    (void)state;
    fo_rtp_view_t in;
    parse_ok(vp8_key_pkt, sizeof vp8_key_pkt, &in);
    fo_rtp_rewrite_t rw = {.ssrc = 5, .pt = 96, .seq = 9, .ts = 9, .ext_map = identity_map};
    for (size_t cap = 0; cap < sizeof vp8_key_pkt; cap++) {
        uint8_t *b = malloc(cap ? cap : 1);
        assert_int_equal(fo_rtp_rewrite(&in, &rw, b, cap), FO_ETOOBIG);
        free(b);
    }
    uint8_t *b = malloc(sizeof vp8_key_pkt);
    assert_int_equal(fo_rtp_rewrite(&in, &rw, b, sizeof vp8_key_pkt), (int)sizeof vp8_key_pkt);
    free(b);
}

static void test_set_seq_ssrc(void **state)
{
    (void)state;
    uint8_t b[sizeof vp8_key_pkt];
    memcpy(b, vp8_key_pkt, sizeof b);
    fo_rtp_set_seq(b, 0xfffe);
    fo_rtp_set_ssrc(b, 0xa1b2c3d4);
    fo_rtp_view_t v;
    parse_ok(b, sizeof b, &v);
    assert_int_equal(v.seq, 0xfffe);
    assert_int_equal(v.ssrc, 0xa1b2c3d4);
    assert_memory_equal(b + 12, vp8_key_pkt + 12, sizeof b - 12);
}

static void test_seq_diff(void **state)
{
    (void)state;
    assert_int_equal(fo_seq_diff(1, 65535), 2);
    assert_int_equal(fo_seq_diff(65535, 1), -2);
    assert_int_equal(fo_seq_diff(100, 100), 0);
}

/* Keyframe detection must say false for every strict prefix of a positive sample, and must not
 * read past the end of any of them. */
static void expect_key(fo_codec_t c, const uint8_t *p, size_t n, bool want)
{
    uint8_t *b = dup_exact(p, n);
    assert_int_equal(fo_rtp_is_keyframe(c, b, n), want);
    free(b);
}

static void expect_key_prefixes_false(fo_codec_t c, const uint8_t *p, size_t n, size_t min)
{
    for (size_t k = 0; k < min; k++) expect_key(c, p, k, false);
    expect_key(c, p, n, true);
}

static void test_keyframe_vp8(void **state)
{
    (void)state;
    const uint8_t *key = vp8_key_pkt + VP8_KEY_PAYLOAD_OFF;
    size_t n = sizeof vp8_key_pkt - VP8_KEY_PAYLOAD_OFF;
    expect_key_prefixes_false(FO_CODEC_VP8, key, n, 15); /* 5 descriptor + 10 key header */
    /* Minimal descriptor (no X): S=1 PID=0. */
    static const uint8_t bare[] = {0x10, 0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a,
                                   0x80, 0x02, 0xe0, 0x01};
    expect_key(FO_CODEC_VP8, bare, sizeof bare, true);
    /* 7-bit PictureID and T/K byte: X S | I T K | pic 0x05 | TID/Y/KEYIDX. */
    static const uint8_t tk[] = {0x90, 0xb0, 0x05, 0x40, 0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a,
                                 0x80, 0x02, 0xe0, 0x01};
    expect_key_prefixes_false(FO_CODEC_VP8, tk, sizeof tk, sizeof tk);
    /* Delta frame: P=1. */
    uint8_t d[sizeof bare];
    memcpy(d, bare, sizeof d);
    d[1] = 0x51;
    expect_key(FO_CODEC_VP8, d, sizeof d, false);
    /* Not the start of a partition (S=0), or partition 1 (PID=1). */
    memcpy(d, bare, sizeof d);
    d[0] = 0x00;
    expect_key(FO_CODEC_VP8, d, sizeof d, false);
    d[0] = 0x11;
    expect_key(FO_CODEC_VP8, d, sizeof d, false);
    /* Key frame tag without the start code is not trusted. */
    memcpy(d, bare, sizeof d);
    d[4] = 0x00;
    expect_key(FO_CODEC_VP8, d, sizeof d, false);
    /* Other codecs never claim a VP8 key frame. */
    expect_key(FO_CODEC_OPUS, bare, sizeof bare, false);
    expect_key(FO_CODEC_NONE, bare, sizeof bare, false);
}

static void test_keyframe_h264(void **state)
{
    (void)state;
    static const uint8_t idr[] = {0x65, 0x88, 0x84, 0x00};
    static const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1f};
    static const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};
    static const uint8_t slice[] = {0x41, 0x9a, 0x02, 0x03};
    expect_key(FO_CODEC_H264, idr, sizeof idr, true);
    expect_key(FO_CODEC_H264, idr, 1, true);
    expect_key(FO_CODEC_H264, sps, sizeof sps, true);
    expect_key(FO_CODEC_H264, pps, sizeof pps, false);
    expect_key(FO_CODEC_H264, slice, sizeof slice, false);
    expect_key(FO_CODEC_H264, idr, 0, false);
    /* STAP-A of SPS + PPS as Chrome sends ahead of an IDR (RFC 6184 §5.7.1). */
    static const uint8_t stap[] = {
        0x78,                                           /* STAP-A, NRI 3 */
        0x00, 0x0a, 0x67, 0x42, 0xc0, 0x1f, 0x8c, 0x8d, 0x40, 0x50, 0x1e, 0xd0, /* SPS */
        0x00, 0x04, 0x68, 0xce, 0x3c, 0x80,             /* PPS */
    };
    expect_key_prefixes_false(FO_CODEC_H264, stap, sizeof stap, 13);
    expect_key(FO_CODEC_H264, stap, 13, true); /* SPS alone is a complete STAP-A */
    expect_key(FO_CODEC_H264, stap, 14, false); /* a stray byte after a unit is malformed */
    expect_key(FO_CODEC_H264, stap, 17, false);
    /* STAP-A with PPS then IDR: the IDR counts even when not first. */
    static const uint8_t stap2[] = {0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x03, 0x65, 0x88, 0x84};
    expect_key_prefixes_false(FO_CODEC_H264, stap2, sizeof stap2, sizeof stap2);
    /* STAP-A without a key NAL, with a zero-length unit, or with a size past the end. */
    static const uint8_t stap_pps[] = {0x78, 0x00, 0x02, 0x68, 0xce};
    expect_key(FO_CODEC_H264, stap_pps, sizeof stap_pps, false);
    static const uint8_t stap_zero[] = {0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x00};
    expect_key(FO_CODEC_H264, stap_zero, sizeof stap_zero, false);
    static const uint8_t stap_over[] = {0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x09, 0x65};
    expect_key(FO_CODEC_H264, stap_over, sizeof stap_over, false);
    /* FU-A (RFC 6184 §5.8): indicator 0x7c, header S|E|R|type. */
    static const uint8_t fu_start_idr[] = {0x7c, 0x85, 0xb8, 0x00};
    static const uint8_t fu_mid_idr[] = {0x7c, 0x05, 0xb8, 0x00};
    static const uint8_t fu_start_p[] = {0x5c, 0x81, 0x9a, 0x00};
    expect_key_prefixes_false(FO_CODEC_H264, fu_start_idr, sizeof fu_start_idr, 2);
    expect_key(FO_CODEC_H264, fu_mid_idr, sizeof fu_mid_idr, false);
    expect_key(FO_CODEC_H264, fu_start_p, sizeof fu_start_p, false);
    /* STAP-B / MTAP / FU-B (interleaved mode) are not ours. */
    static const uint8_t fub[] = {0x7d, 0x85, 0x00, 0x00};
    expect_key(FO_CODEC_H264, fub, sizeof fub, false);
}

static void test_keyframe_vp9(void **state)
{
    (void)state;
    /* Non-flexible key frame as libwebrtc sends it (RFC 9628 §4.2):
     * I P L F B E V Z = 1 0 1 0 1 0 1 0, 15-bit picture id, layer byte, TL0PICIDX, then a
     * scalability structure with one 640x480 layer and a one-entry picture group. */
    static const uint8_t key[] = {
        0xaa,                   /* I L B V */
        0x80, 0x01,             /* M=1, picture id 1 */
        0x00,                   /* TID 0, U 0, SID 0, D 0 */
        0x00,                   /* TL0PICIDX */
        0x18,                   /* SS: N_S=0, Y=1, G=1 */
        0x02, 0x80, 0x01, 0xe0, /* 640x480 */
        0x01,                   /* N_G = 1 */
        0x04, 0x01,             /* T=0 U=0 R=1, P_DIFF 1 */
        0x82, 0x49, 0x83, 0x42, /* VP9 uncompressed header */
    };
    expect_key_prefixes_false(FO_CODEC_VP9, key, sizeof key, 14);
    /* Inter-predicted (P=1) or not the start of a frame (B=0). */
    uint8_t d[sizeof key];
    memcpy(d, key, sizeof d);
    d[0] = 0xea;
    expect_key(FO_CODEC_VP9, d, sizeof d, false);
    d[0] = 0xa2;
    expect_key(FO_CODEC_VP9, d, sizeof d, false);
    /* Spatial layer 1 of a key picture predicted from layer 0 (D=1) cannot start decoding. */
    memcpy(d, key, sizeof d);
    d[3] = 0x03;
    expect_key(FO_CODEC_VP9, d, sizeof d, false);
    /* Flexible mode key frame: I L F B, no TL0PICIDX; minimal I/F only. */
    static const uint8_t flex_key[] = {0xb8, 0x05, 0x00, 0x82, 0x49};
    expect_key_prefixes_false(FO_CODEC_VP9, flex_key, sizeof flex_key, 4);
    static const uint8_t min_key[] = {0x08, 0x82};
    expect_key_prefixes_false(FO_CODEC_VP9, min_key, sizeof min_key, 2);
    /* Flexible delta frame with two P_DIFFs (N chains them). */
    static const uint8_t flex_delta[] = {0xd8, 0x05, 0x03, 0x02, 0x82};
    expect_key(FO_CODEC_VP9, flex_delta, sizeof flex_delta, false);
    /* Descriptor only, no VP9 payload. */
    expect_key(FO_CODEC_VP9, key, 13, false);
    /* SS with N_G claiming more entries than present. */
    static const uint8_t ss_over[] = {0x0a, 0x08, 0x05, 0x04};
    expect_key(FO_CODEC_VP9, ss_over, sizeof ss_over, false);
}

static void test_keyframe_av1(void **state)
{
    (void)state;
    /* Aggregation header Z Y W W N - - -: N=1, W=1, then a sequence header OBU. */
    static const uint8_t key[] = {0x18, 0x0a, 0x0b, 0x00, 0x00, 0x00};
    expect_key_prefixes_false(FO_CODEC_AV1, key, sizeof key, 2);
    static const uint8_t delta[] = {0x10, 0x32, 0x00};
    expect_key(FO_CODEC_AV1, delta, sizeof delta, false);
    static const uint8_t cont[] = {0x88, 0x00, 0x00}; /* Z=1 with N=1: contradictory */
    expect_key(FO_CODEC_AV1, cont, sizeof cont, false);
    expect_key(FO_CODEC_AV1, key, 1, false);
}

/* Deterministic garbage: mutated samples and random bytes through every entry point. */
static void test_garbage(void **state)
{
    (void)state;
    uint32_t x = 0x12345678;
    const uint8_t *seeds[] = {vp8_key_pkt, csrc_pad_pkt, two_byte_pkt};
    const size_t seed_len[] = {sizeof vp8_key_pkt, sizeof csrc_pad_pkt, sizeof two_byte_pkt};
    uint8_t tmp[128], out[256];
    for (int iter = 0; iter < 20000; iter++) {
        size_t k = (size_t)iter % 3, n = seed_len[k];
        memcpy(tmp, seeds[k], n);
        for (int m = 0; m < 4; m++) {
            x = x * 1664525u + 1013904223u;
            tmp[(x >> 8) % n] ^= (uint8_t)(x >> 24);
        }
        x = x * 1664525u + 1013904223u;
        size_t len = (x >> 16) % (n + 1);
        if (iter % 7 == 0) len = n;
        uint8_t *b = dup_exact(tmp, len);
        fo_rtp_view_t v;
        if (fo_rtp_parse(b, len, &v) == 0) {
            assert_true(v.payload + v.payload_len + v.padding_len == b + len);
            const uint8_t *d;
            size_t dn;
            for (unsigned id = 1; id < 256; id++)
                if (fo_rtp_ext_find(&v, (uint8_t)id, &d, &dn) == 0)
                    assert_true(d >= b && d + dn <= b + len);
            fo_rtp_rewrite_t rw = {.ssrc = 1, .pt = 1, .seq = 1, .ts = 1,
                                   .ext_map = identity_map};
            int w = fo_rtp_rewrite(&v, &rw, out, sizeof out);
            if (w > 0) {
                fo_rtp_view_t o;
                assert_int_equal(fo_rtp_parse(out, (size_t)w, &o), 0);
                assert_int_equal(o.payload_len, v.payload_len);
            }
        }
        for (int c = FO_CODEC_NONE; c <= FO_CODEC_OTHER; c++)
            (void)fo_rtp_is_keyframe((fo_codec_t)c, b, len);
        free(b);
    }
}

static void test_write_header(void **state)
{
    (void)state;
    uint8_t b[12 + 3] = {0};
    assert_int_equal(fo_rtp_write_header(b, 96, true, 65535, 0x89abcdefu, 0x01020304u), 12);
    b[12] = 1, b[13] = 2, b[14] = 3;
    fo_rtp_view_t v;
    assert_int_equal(fo_rtp_parse(b, sizeof b, &v), 0);
    assert_int_equal(v.pt, 96);
    assert_int_equal(v.marker, 1);
    assert_int_equal(v.seq, 65535);
    assert_int_equal(v.ts, 0x89abcdefu);
    assert_int_equal(v.ssrc, 0x01020304u);
    assert_int_equal(v.payload_len, 3);
    assert_int_equal(fo_rtp_write_header(b, 111, false, 1, 2, 3), 12);
    assert_int_equal(b[1], 111);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_chrome_vp8),
        cmocka_unit_test(test_write_header),
        cmocka_unit_test(test_parse_csrc_padding),
        cmocka_unit_test(test_parse_two_byte),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_every_prefix),
        cmocka_unit_test(test_rewrite_identity_roundtrip),
        cmocka_unit_test(test_rewrite_csrc_padding_marker),
        cmocka_unit_test(test_rewrite_remap_to_two_byte),
        cmocka_unit_test(test_rewrite_two_byte_to_one_byte),
        cmocka_unit_test(test_rewrite_drop_all),
        cmocka_unit_test(test_rewrite_adds_rid),
        cmocka_unit_test(test_rewrite_foreign_profile),
        cmocka_unit_test(test_ext_one_byte_padding_and_id15),
        cmocka_unit_test(test_rewrite_capacity),
        cmocka_unit_test(test_set_seq_ssrc),
        cmocka_unit_test(test_seq_diff),
        cmocka_unit_test(test_keyframe_vp8),
        cmocka_unit_test(test_keyframe_h264),
        cmocka_unit_test(test_keyframe_vp9),
        cmocka_unit_test(test_keyframe_av1),
        cmocka_unit_test(test_rewrite_adds_transport_seq),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, setup_maps, NULL);
}
