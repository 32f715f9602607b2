/* SPDX-License-Identifier: MIT */
/* Unit tests for src/wire/rtcp.c: compound parsing of captured Firefox and Chrome packets, report
 * blocks, NACK/FIR/REMB accessors, every builder (checked byte for byte against the captures
 * where one exists), NACK packing incl. the 65535→0 wrap, NTP conversion, and truncated or
 * garbage input. Parser inputs are copied into exactly-sized heap blocks so ASan sees overreads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/rtcp.h"

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    assert_non_null(q);
    if (n) memcpy(q, p, n);
    return q;
}

/* Firefox compound RR + SDES + BYE + PLI + RRR, a packet dump published with pion/rtcp's tests. */
static const uint8_t firefox_compound[] = {
    0x81, 0xc9, 0x00, 0x07,             /* RR, RC=1, len 7 */
    0x90, 0x2f, 0x9e, 0x2e,             /* sender */
    0xbc, 0x5e, 0x9a, 0x40,             /* source */
    0x00, 0x00, 0x00, 0x00,             /* fraction 0, lost 0 */
    0x00, 0x00, 0x46, 0xe1,             /* highest seq */
    0x00, 0x00, 0x01, 0x11,             /* jitter 273 */
    0x09, 0xf3, 0x64, 0x32,             /* LSR */
    0x00, 0x02, 0x4a, 0x79,             /* DLSR 150137 */
    0x81, 0xca, 0x00, 0x0c,             /* SDES, SC=1, len 12 */
    0x90, 0x2f, 0x9e, 0x2e,
    0x01, 0x26,                         /* CNAME, 38 bytes */
    0x7b, 0x39, 0x63, 0x30, 0x30, 0x65, 0x62, 0x39, 0x32, 0x2d, 0x31, 0x61, 0x66,
    0x62, 0x2d, 0x39, 0x64, 0x34, 0x39, 0x2d, 0x61, 0x34, 0x37, 0x64, 0x2d, 0x39,
    0x31, 0x66, 0x36, 0x34, 0x65, 0x65, 0x65, 0x36, 0x39, 0x66, 0x35, 0x7d,
    0x00, 0x00, 0x00, 0x00,             /* END + pad */
    0x81, 0xcb, 0x00, 0x01,             /* BYE, SC=1 */
    0x90, 0x2f, 0x9e, 0x2e,
    0x81, 0xce, 0x00, 0x02,             /* PSFB fmt 1 PLI */
    0x90, 0x2f, 0x9e, 0x2e,
    0x90, 0x2f, 0x9e, 0x2e,
    0x85, 0xcd, 0x00, 0x02,             /* RTPFB fmt 5 RRR */
    0x90, 0x2f, 0x9e, 0x2e,
    0x90, 0x2f, 0x9e, 0x2e,
};
static const char firefox_cname[] = "{9c00eb92-1afb-9d49-a47d-91f64eee69f5}";

/* Chrome compound SR + SDES + REMB (two SSRCs), as captured in the amazon-kinesis-video-streams
 * WebRTC SDK's RTCP tests. */
static const uint8_t chrome_sr_sdes_remb[] = {
    0x80, 0xc8, 0x00, 0x06,             /* SR, RC=0, len 6 */
    0xf1, 0x2d, 0x7b, 0x4b,             /* sender */
    0xe1, 0xe3, 0x20, 0x43, 0xe5, 0x3d, 0x10, 0x2b, /* NTP */
    0xbf, 0x58, 0xf7, 0xef,             /* RTP ts */
    0x00, 0x00, 0x23, 0xf3,             /* packets 9203 */
    0x00, 0x6c, 0xd3, 0x75,             /* octets 7131989 */
    0x81, 0xca, 0x00, 0x06,             /* SDES */
    0xf1, 0x2d, 0x7b, 0x4b, 0x01, 0x10,
    0x2f, 0x76, 0x6d, 0x4b, 0x51, 0x6e, 0x47, 0x6e, /* "/vmKQnGnUpO+p8dR" */
    0x55, 0x70, 0x4f, 0x2b, 0x70, 0x38, 0x64, 0x52,
    0x00, 0x00,
    0x8f, 0xce, 0x00, 0x06,             /* PSFB fmt 15 (AFB) */
    0xf1, 0x2d, 0x7b, 0x4b,
    0x00, 0x00, 0x00, 0x00,
    0x52, 0x45, 0x4d, 0x42,             /* "REMB" */
    0x02, 0x12, 0x2d, 0x97,             /* 2 SSRCs, exp 4, mantissa 0x22d97 */
    0x0c, 0xef, 0x37, 0x0d,
    0x2d, 0x07, 0x3d, 0x1d,
};
static const char chrome_cname[] = "/vmKQnGnUpO+p8dR";

/* Chrome single-SSRC REMB (same source): exp 4, mantissa 0x24673 = 149107 → 2385712 bps. */
static const uint8_t chrome_remb[] = {
    0x8f, 0xce, 0x00, 0x05, 0x61, 0x7a, 0x37, 0x43, 0x00, 0x00, 0x00, 0x00,
    0x52, 0x45, 0x4d, 0x42, 0x01, 0x12, 0x46, 0x73, 0x6c, 0x76, 0xe8, 0x55,
};

/* Generic NACK from the same source: PID 164, BLP 0. */
static const uint8_t nack_pkt[] = {
    0x81, 0xcd, 0x00, 0x03, 0x2c, 0xd1, 0xa0, 0xde,
    0x00, 0x00, 0xab, 0xe0, 0x00, 0xa4, 0x00, 0x00,
};

static int parse_exact(const uint8_t *p, size_t len, fo_rtcp_pkt_t *pkts, size_t max, size_t *n,
                       uint8_t **keep)
{
    *keep = dup_exact(p, len);
    return fo_rtcp_parse(*keep, len, pkts, max, n);
}

static void test_parse_firefox_compound(void **state)
{
    (void)state;
    fo_rtcp_pkt_t p[8];
    size_t n;
    uint8_t *b;
    assert_int_equal(parse_exact(firefox_compound, sizeof firefox_compound, p, 8, &n, &b), 0);
    assert_int_equal(n, 5);
    assert_int_equal(p[0].pt, FO_RTCP_RR);
    assert_int_equal(p[0].count, 1);
    assert_int_equal(p[0].sender_ssrc, 0x902f9e2e);
    assert_ptr_equal(p[0].raw, b);
    assert_int_equal(p[0].raw_len, 32);
    fo_rtcp_report_t r;
    assert_int_equal(fo_rtcp_report_get(&p[0], 0, &r), 0);
    assert_int_equal(r.ssrc, 0xbc5e9a40);
    assert_int_equal(r.fraction_lost, 0);
    assert_int_equal(r.cumulative_lost, 0);
    assert_int_equal(r.highest_seq, 0x46e1);
    assert_int_equal(r.jitter, 273);
    assert_int_equal(r.lsr, 0x9f36432);
    assert_int_equal(r.dlsr, 150137);
    assert_int_equal(fo_rtcp_report_get(&p[0], 1, &r), FO_EINVAL);

    assert_int_equal(p[1].pt, FO_RTCP_SDES);
    assert_int_equal(p[1].sender_ssrc, 0x902f9e2e);
    assert_int_equal(p[1].raw_len, 52);
    assert_int_equal(fo_rtcp_report_get(&p[1], 0, &r), FO_EINVAL);
    assert_int_equal(p[2].pt, FO_RTCP_BYE);
    assert_int_equal(p[2].sender_ssrc, 0x902f9e2e);
    assert_int_equal(p[3].pt, FO_RTCP_PSFB);
    assert_int_equal(p[3].count, FO_RTCP_FMT_PLI);
    assert_int_equal(p[3].sender_ssrc, 0x902f9e2e);
    assert_int_equal(p[3].media_ssrc, 0x902f9e2e);
    assert_int_equal(p[3].fci_len, 0);
    assert_int_equal(p[4].pt, FO_RTCP_RTPFB);
    assert_int_equal(p[4].count, 5);
    assert_ptr_equal(p[4].raw + p[4].raw_len, b + sizeof firefox_compound);
    uint16_t seqs[4];
    assert_int_equal(fo_rtcp_nack_seqs(&p[4], seqs, 4), 0); /* RRR is not a NACK */
    free(b);
}

static void test_parse_chrome_sr_sdes_remb(void **state)
{
    (void)state;
    fo_rtcp_pkt_t p[4];
    size_t n;
    uint8_t *b;
    assert_int_equal(parse_exact(chrome_sr_sdes_remb, sizeof chrome_sr_sdes_remb, p, 4, &n, &b),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(p[0].pt, FO_RTCP_SR);
    assert_int_equal(p[0].count, 0);
    assert_int_equal(p[0].sender_ssrc, 0xf12d7b4b);
    assert_true(p[0].ntp == 0xe1e32043e53d102bull);
    assert_int_equal(p[0].rtp_ts, 0xbf58f7ef);
    assert_int_equal(p[0].packet_count, 9203);
    assert_int_equal(p[0].octet_count, 0x6cd375);
    assert_int_equal(p[1].pt, FO_RTCP_SDES);
    assert_int_equal(p[2].pt, FO_RTCP_PSFB);
    assert_int_equal(p[2].count, FO_RTCP_FMT_AFB);
    assert_int_equal(p[2].sender_ssrc, 0xf12d7b4b);
    assert_int_equal(p[2].media_ssrc, 0);
    uint64_t bps;
    uint32_t ssrcs[4];
    size_t ns;
    assert_int_equal(fo_rtcp_remb_get(&p[2], &bps, ssrcs, 4, &ns), 0);
    assert_true(bps == (uint64_t)0x22d97 << 4);
    assert_int_equal(ns, 2);
    assert_int_equal(ssrcs[0], 0x0cef370d);
    assert_int_equal(ssrcs[1], 0x2d073d1d);
    /* Fewer slots than SSRCs: truncated list, still success. */
    assert_int_equal(fo_rtcp_remb_get(&p[2], &bps, ssrcs, 1, &ns), 0);
    assert_int_equal(ns, 1);
    assert_int_equal(fo_rtcp_remb_get(&p[2], &bps, NULL, 0, &ns), 0);
    assert_int_equal(ns, 0);
    /* Not a REMB. */
    assert_int_equal(fo_rtcp_remb_get(&p[0], &bps, ssrcs, 4, &ns), FO_EINVAL);
    free(b);
}

static void test_remb_values(void **state)
{
    (void)state;
    fo_rtcp_pkt_t p[2];
    size_t n, ns;
    uint8_t *b;
    uint64_t bps;
    uint32_t ssrc;
    assert_int_equal(parse_exact(chrome_remb, sizeof chrome_remb, p, 2, &n, &b), 0);
    assert_int_equal(fo_rtcp_remb_get(&p[0], &bps, &ssrc, 1, &ns), 0);
    assert_true(bps == 2385712);
    assert_int_equal(ssrc, 0x6c76e855);
    free(b);

    uint8_t m[sizeof chrome_remb];
    /* Num SSRC larger than the FCI holds. */
    memcpy(m, chrome_remb, sizeof m);
    m[16] = 2;
    assert_int_equal(parse_exact(m, sizeof m, p, 2, &n, &b), 0);
    assert_int_equal(fo_rtcp_remb_get(&p[0], &bps, &ssrc, 1, &ns), FO_EINVAL);
    free(b);
    /* Wrong identifier. */
    memcpy(m, chrome_remb, sizeof m);
    m[15] = 'X';
    assert_int_equal(parse_exact(m, sizeof m, p, 2, &n, &b), 0);
    assert_int_equal(fo_rtcp_remb_get(&p[0], &bps, &ssrc, 1, &ns), FO_EINVAL);
    free(b);
    /* exp 63 with a large mantissa overflows 64 bits; exp 46 with the largest mantissa fits. */
    memcpy(m, chrome_remb, sizeof m);
    m[17] = 0xff;
    assert_int_equal(parse_exact(m, sizeof m, p, 2, &n, &b), 0);
    assert_int_equal(fo_rtcp_remb_get(&p[0], &bps, &ssrc, 1, &ns), FO_EINVAL);
    free(b);
    m[17] = (uint8_t)(46 << 2 | 3);
    m[18] = m[19] = 0xff;
    assert_int_equal(parse_exact(m, sizeof m, p, 2, &n, &b), 0);
    assert_int_equal(fo_rtcp_remb_get(&p[0], &bps, &ssrc, 1, &ns), 0);
    assert_true(bps == (uint64_t)0x3ffff << 46);
    free(b);
    /* FCI cut before the bitrate. */
    memcpy(m, chrome_remb, sizeof m);
    m[3] = 3;
    assert_int_equal(parse_exact(m, 16, p, 2, &n, &b), 0);
    assert_int_equal(fo_rtcp_remb_get(&p[0], &bps, &ssrc, 1, &ns), FO_EINVAL);
    free(b);
}

static void test_nack_parse(void **state)
{
    (void)state;
    fo_rtcp_pkt_t p[2];
    size_t n;
    uint8_t *b;
    assert_int_equal(parse_exact(nack_pkt, sizeof nack_pkt, p, 2, &n, &b), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].pt, FO_RTCP_RTPFB);
    assert_int_equal(p[0].count, FO_RTCP_FMT_NACK);
    assert_int_equal(p[0].sender_ssrc, 0x2cd1a0de);
    assert_int_equal(p[0].media_ssrc, 0xabe0);
    uint16_t s[40];
    assert_int_equal(fo_rtcp_nack_seqs(&p[0], s, 40), 1);
    assert_int_equal(s[0], 164);
    free(b);

    /* Two pairs, the second's BLP reaching over the wrap: 65534 + bits 0,1,15 → 65535, 0, 14. */
    static const uint8_t two[] = {
        0x81, 0xcd, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 2,
        0x0c, 0xa8, 0x00, 0x04,             /* 3240, BLP bit 2 → 3243 */
        0xff, 0xfe, 0x80, 0x03,
    };
    assert_int_equal(parse_exact(two, sizeof two, p, 2, &n, &b), 0);
    assert_int_equal(fo_rtcp_nack_seqs(&p[0], s, 40), 6);
    static const uint16_t want[] = {3240, 3243, 65534, 65535, 0, 14};
    assert_memory_equal(s, want, sizeof want);
    /* `max` bounds the output mid-pair. */
    assert_int_equal(fo_rtcp_nack_seqs(&p[0], s, 4), 4);
    assert_int_equal(s[3], 65535);
    assert_int_equal(fo_rtcp_nack_seqs(&p[0], s, 0), 0);
    free(b);
}

/* Expands every NACK in buf and checks it names exactly the set `seqs`. */
static size_t nack_roundtrip(const uint16_t *seqs, size_t n)
{
    uint8_t buf[2048];
    int len = fo_rtcp_build_nack(buf, sizeof buf, 0x11, 0x22, seqs, n);
    assert_true(len > 12);
    fo_rtcp_pkt_t p[2];
    size_t np;
    uint8_t *b;
    assert_int_equal(parse_exact(buf, (size_t)len, p, 2, &np, &b), 0);
    assert_int_equal(np, 1);
    assert_int_equal(p[0].sender_ssrc, 0x11);
    assert_int_equal(p[0].media_ssrc, 0x22);
    static uint16_t out[65536 + 16];
    size_t no = fo_rtcp_nack_seqs(&p[0], out, FO_ARRAY_LEN(out));
    static uint8_t want[65536], got[65536];
    memset(want, 0, sizeof want);
    memset(got, 0, sizeof got);
    for (size_t i = 0; i < n; i++) want[seqs[i]] = 1;
    for (size_t i = 0; i < no; i++) {
        assert_int_equal(got[out[i]], 0); /* every sequence number exactly once */
        got[out[i]] = 1;
    }
    assert_memory_equal(want, got, sizeof want);
    size_t pairs = p[0].fci_len / 4;
    free(b);
    return pairs;
}

static void test_nack_build_roundtrip(void **state)
{
    (void)state;
    uint16_t s[600];
    s[0] = 100;
    assert_int_equal(nack_roundtrip(s, 1), 1);
    for (int i = 0; i < 17; i++) s[i] = (uint16_t)(100 + i);
    assert_int_equal(nack_roundtrip(s, 17), 1); /* PID 100 + 16 BLP bits */
    s[17] = 117;
    assert_int_equal(nack_roundtrip(s, 18), 2);
    /* Across the wrap, unsorted, with duplicates: 65530..65535, 0..10 is one window of 17. */
    uint16_t w[] = {3, 65535, 0, 65530, 10, 65533, 1, 2, 65531, 65532, 4, 5, 6, 7, 8, 9, 65534,
                    3, 65535};
    assert_int_equal(nack_roundtrip(w, FO_ARRAY_LEN(w)), 1);
    uint8_t buf[64];
    int len = fo_rtcp_build_nack(buf, sizeof buf, 1, 2, w, FO_ARRAY_LEN(w));
    assert_int_equal(len, 16);
    static const uint8_t want[] = {0x81, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2,
                                   0xff, 0xfa, 0xff, 0xff};
    assert_memory_equal(buf, want, sizeof want);
    /* Sparse: every 17th sequence number needs its own pair. */
    for (int i = 0; i < 10; i++) s[i] = (uint16_t)(65500 + 17 * i);
    assert_int_equal(nack_roundtrip(s, 10), 10);
    /* Pseudo-random subsets of a 500-wide window straddling the wrap. */
    uint32_t x = 1;
    for (int round = 0; round < 50; round++) {
        size_t n = 0;
        for (int i = 0; i < 500; i++) {
            x = x * 1103515245u + 12345u;
            if ((x >> 16) % 4 == 0) s[n++] = (uint16_t)(65300 + i);
        }
        if (n) nack_roundtrip(s, n);
    }
    /* Nothing to ask for is a caller error. */
    assert_int_equal(fo_rtcp_build_nack(buf, sizeof buf, 1, 2, s, 0), FO_EINVAL);
    /* Capacity: 3 pairs need 24 bytes. */
    uint16_t three[] = {1, 100, 200};
    assert_int_equal(fo_rtcp_build_nack(buf, 23, 1, 2, three, 3), FO_ETOOBIG);
    assert_int_equal(fo_rtcp_build_nack(buf, 24, 1, 2, three, 3), 24);
}

/* The builders reproduce the captured packets byte for byte. */
static void test_builders_match_captures(void **state)
{
    (void)state;
    uint8_t buf[256];
    fo_rtcp_report_t r = {.ssrc = 0xbc5e9a40, .fraction_lost = 0, .cumulative_lost = 0,
                          .highest_seq = 0x46e1, .jitter = 273, .lsr = 0x9f36432,
                          .dlsr = 150137};
    assert_int_equal(fo_rtcp_build_rr(buf, sizeof buf, 0x902f9e2e, &r, 1), 32);
    assert_memory_equal(buf, firefox_compound, 32);
    assert_int_equal(fo_rtcp_build_sdes_cname(buf, sizeof buf, 0x902f9e2e, firefox_cname), 52);
    assert_memory_equal(buf, firefox_compound + 32, 52);
    uint32_t ssrc = 0x902f9e2e;
    assert_int_equal(fo_rtcp_build_bye(buf, sizeof buf, &ssrc, 1), 8);
    assert_memory_equal(buf, firefox_compound + 84, 8);
    assert_int_equal(fo_rtcp_build_pli(buf, sizeof buf, ssrc, ssrc), 12);
    assert_memory_equal(buf, firefox_compound + 92, 12);

    assert_int_equal(fo_rtcp_build_sr(buf, sizeof buf, 0xf12d7b4b, 0xe1e32043e53d102bull,
                                      0xbf58f7ef, 9203, 0x6cd375, NULL, 0),
                     28);
    assert_memory_equal(buf, chrome_sr_sdes_remb, 28);
    assert_int_equal(fo_rtcp_build_sdes_cname(buf, sizeof buf, 0xf12d7b4b, chrome_cname), 28);
    assert_memory_equal(buf, chrome_sr_sdes_remb + 28, 28);
    const uint32_t ss[] = {0x0cef370d, 0x2d073d1d};
    assert_int_equal(fo_rtcp_build_remb(buf, sizeof buf, 0xf12d7b4b, 0x22d97ull << 4, ss, 2), 28);
    assert_memory_equal(buf, chrome_sr_sdes_remb + 56, 28);
    const uint32_t one = 0x6c76e855;
    assert_int_equal(fo_rtcp_build_remb(buf, sizeof buf, 0x617a3743, 2385712, &one, 1), 24);
    assert_memory_equal(buf, chrome_remb, 24);
    /* A bitrate needing rounding is rounded down. */
    assert_int_equal(fo_rtcp_build_remb(buf, sizeof buf, 1, 2385713, &one, 1), 24);
    assert_memory_equal(buf + 16, chrome_remb + 16, 4);
    uint16_t pid = 164;
    assert_int_equal(fo_rtcp_build_nack(buf, sizeof buf, 0x2cd1a0de, 0xabe0, &pid, 1), 16);
    assert_memory_equal(buf, nack_pkt, 16);
}

static void test_builders_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[512];
    fo_rtcp_report_t r[2] = {
        {.ssrc = 1, .fraction_lost = 25, .cumulative_lost = -5, .highest_seq = 0x10005,
         .jitter = 9, .lsr = 10, .dlsr = 11},
        {.ssrc = 2, .fraction_lost = 255, .cumulative_lost = 20000000, .highest_seq = 7},
    };
    size_t off = 0;
    int k = fo_rtcp_build_sr(buf, sizeof buf, 0xabc, 0x0102030405060708ull, 77, 5, 6, r, 2);
    assert_int_equal(k, 28 + 48);
    off += (size_t)k;
    k = fo_rtcp_build_sdes_cname(buf + off, sizeof buf - off, 0xabc, "x");
    assert_int_equal(k, 12);
    off += (size_t)k;
    k = fo_rtcp_build_fir(buf + off, sizeof buf - off, 0xabc, 0xdef, 42);
    assert_int_equal(k, 20);
    off += (size_t)k;
    const uint32_t bye[] = {0xabc, 0xabd};
    k = fo_rtcp_build_bye(buf + off, sizeof buf - off, bye, 2);
    assert_int_equal(k, 12);
    off += (size_t)k;
    k = fo_rtcp_build_rr(buf + off, sizeof buf - off, 0xabc, NULL, 0);
    assert_int_equal(k, 8);
    off += (size_t)k;

    fo_rtcp_pkt_t p[8];
    size_t n;
    uint8_t *b;
    assert_int_equal(parse_exact(buf, off, p, 8, &n, &b), 0);
    assert_int_equal(n, 5);
    assert_int_equal(p[0].pt, FO_RTCP_SR);
    assert_int_equal(p[0].count, 2);
    assert_true(p[0].ntp == 0x0102030405060708ull);
    assert_int_equal(p[0].rtp_ts, 77);
    assert_int_equal(p[0].packet_count, 5);
    assert_int_equal(p[0].octet_count, 6);
    fo_rtcp_report_t g;
    assert_int_equal(fo_rtcp_report_get(&p[0], 0, &g), 0);
    assert_int_equal(g.fraction_lost, 25);
    assert_int_equal(g.cumulative_lost, -5);
    assert_int_equal(g.highest_seq, 0x10005);
    assert_int_equal(g.dlsr, 11);
    assert_int_equal(fo_rtcp_report_get(&p[0], 1, &g), 0);
    assert_int_equal(g.ssrc, 2);
    assert_int_equal(g.fraction_lost, 255);
    assert_int_equal(g.cumulative_lost, 0x7fffff); /* clamped to 24 bits */
    assert_int_equal(fo_rtcp_report_get(&p[0], 2, &g), FO_EINVAL);
    assert_int_equal(p[1].pt, FO_RTCP_SDES);
    assert_int_equal(p[2].pt, FO_RTCP_PSFB);
    assert_int_equal(p[2].count, FO_RTCP_FMT_FIR);
    assert_int_equal(p[2].media_ssrc, 0); /* RFC 5104: unused in the header */
    uint32_t fs;
    uint8_t fseq;
    assert_int_equal(fo_rtcp_fir_get(&p[2], 0, &fs, &fseq), 0);
    assert_int_equal(fs, 0xdef);
    assert_int_equal(fseq, 42);
    assert_int_equal(fo_rtcp_fir_get(&p[2], 1, &fs, &fseq), FO_EINVAL);
    assert_int_equal(fo_rtcp_fir_get(&p[0], 0, &fs, &fseq), FO_EINVAL);
    assert_int_equal(p[3].pt, FO_RTCP_BYE);
    assert_int_equal(p[3].count, 2);
    assert_int_equal(p[3].sender_ssrc, 0xabc);
    assert_int_equal(p[4].pt, FO_RTCP_RR);
    assert_int_equal(p[4].count, 0);
    free(b);

    /* Too many blocks / SSRCs, too long a CNAME. */
    fo_rtcp_report_t many[32] = {{0}};
    uint32_t ssrcs[256] = {0};
    assert_int_equal(fo_rtcp_build_rr(buf, sizeof buf, 1, many, 32), FO_ETOOBIG);
    assert_int_equal(fo_rtcp_build_sr(buf, sizeof buf, 1, 0, 0, 0, 0, many, 32), FO_ETOOBIG);
    assert_int_equal(fo_rtcp_build_bye(buf, sizeof buf, ssrcs, 32), FO_ETOOBIG);
    assert_int_equal(fo_rtcp_build_remb(buf, 4096, 1, 1, ssrcs, 256), FO_ETOOBIG);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(fo_rtcp_build_sdes_cname(buf, sizeof buf, 1, longname), FO_ETOOBIG);
    /* The largest REMB bitrate encodes and decodes (rounded down). */
    k = fo_rtcp_build_remb(buf, sizeof buf, 1, UINT64_MAX, ssrcs, 0);
    assert_int_equal(k, 20);
    assert_int_equal(parse_exact(buf, (size_t)k, p, 8, &n, &b), 0);
    uint64_t bps;
    size_t ns;
    assert_int_equal(fo_rtcp_remb_get(&p[0], &bps, NULL, 0, &ns), 0);
    assert_true(bps == (uint64_t)0x3ffff << 46);
    free(b);
}

/* Every builder fails cleanly at every capacity below its size and never writes past it. */
static void test_builders_capacity(void **state)
{
    (void)state;
    fo_rtcp_report_t r = {.ssrc = 1};
    uint32_t ss[2] = {1, 2};
    uint16_t seqs[3] = {1, 50, 100};
    for (int which = 0; which < 8; which++) {
        for (size_t cap = 0;; cap++) {
            uint8_t *b = malloc(cap ? cap : 1);
            int k;
            switch (which) {
            case 0: k = fo_rtcp_build_sr(b, cap, 1, 2, 3, 4, 5, &r, 1); break;
            case 1: k = fo_rtcp_build_rr(b, cap, 1, &r, 1); break;
            case 2: k = fo_rtcp_build_sdes_cname(b, cap, 1, "abcdef"); break;
            case 3: k = fo_rtcp_build_bye(b, cap, ss, 2); break;
            case 4: k = fo_rtcp_build_pli(b, cap, 1, 2); break;
            case 5: k = fo_rtcp_build_fir(b, cap, 1, 2, 3); break;
            case 6: k = fo_rtcp_build_nack(b, cap, 1, 2, seqs, 3); break;
            default: k = fo_rtcp_build_remb(b, cap, 1, 1000000, ss, 2); break;
            }
            free(b);
            if (k > 0) {
                assert_int_equal((size_t)k, cap);
                break;
            }
            assert_int_equal(k, FO_ETOOBIG);
            assert_true(cap < 100);
        }
    }
    assert_int_equal(fo_rtcp_build_pli(NULL, 0, 1, 2), FO_ETOOBIG);
}

static void expect_parse_einval(const uint8_t *p, size_t len)
{
    fo_rtcp_pkt_t pk[4];
    size_t n = 99;
    uint8_t *b;
    assert_int_equal(parse_exact(p, len, pk, 4, &n, &b), FO_EINVAL);
    assert_int_equal(n, 0);
    free(b);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    expect_parse_einval(firefox_compound, 0);
    expect_parse_einval(firefox_compound, 3);
    /* Every cut inside the first packet. */
    for (size_t k = 0; k < 32; k++) expect_parse_einval(firefox_compound, k);
    /* Version 1 / 0. */
    uint8_t m[sizeof firefox_compound];
    memcpy(m, firefox_compound, sizeof m);
    m[0] = 0x41;
    expect_parse_einval(m, sizeof m);
    m[0] = 0x01;
    expect_parse_einval(m, sizeof m);
    /* Length beyond the buffer. */
    memcpy(m, firefox_compound, sizeof m);
    m[3] = 0xff;
    expect_parse_einval(m, sizeof m);
    /* RC claims more report blocks than the length holds. */
    memcpy(m, firefox_compound, sizeof m);
    m[0] = 0x82;
    expect_parse_einval(m, sizeof m);
    /* SR shorter than its sender info. */
    static const uint8_t short_sr[] = {0x80, 0xc8, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8};
    expect_parse_einval(short_sr, sizeof short_sr);
    /* Feedback without the media SSRC. */
    static const uint8_t short_fb[] = {0x81, 0xce, 0x00, 0x01, 1, 2, 3, 4};
    expect_parse_einval(short_fb, sizeof short_fb);
    /* BYE with SC=2 but one SSRC. */
    static const uint8_t short_bye[] = {0x82, 0xcb, 0x00, 0x01, 1, 2, 3, 4};
    expect_parse_einval(short_bye, sizeof short_bye);
    /* Padding: count 0, larger than the packet, P on an empty packet. */
    uint8_t pad[12] = {0xa1, 0xce, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 0};
    expect_parse_einval(pad, sizeof pad);
    pad[11] = 9;
    expect_parse_einval(pad, sizeof pad);
    static const uint8_t pad_empty[] = {0xa0, 0xc9, 0x00, 0x00};
    expect_parse_einval(pad_empty, sizeof pad_empty);
    /* Padding taking the feedback body below its SSRCs. */
    pad[11] = 4;
    expect_parse_einval(pad, sizeof pad);
}

static void test_parse_padding_and_prefix(void **state)
{
    (void)state;
    /* An RR with P set and 4 bytes of padding (RFC 3550 §6.4.2). */
    static const uint8_t rr_pad[] = {0xa0, 0xc9, 0x00, 0x02, 0, 0, 0, 9, 0, 0, 0, 4};
    fo_rtcp_pkt_t p[8];
    size_t n;
    uint8_t *b;
    assert_int_equal(parse_exact(rr_pad, sizeof rr_pad, p, 8, &n, &b), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].sender_ssrc, 9);
    assert_int_equal(p[0].raw_len, 12);
    free(b);
    /* A compound cut in its second packet yields the first: a valid prefix is still used. */
    assert_int_equal(parse_exact(firefox_compound, 40, p, 8, &n, &b), 0);
    assert_int_equal(n, 1);
    free(b);
    /* Garbage after a good packet: the good packet is returned. */
    uint8_t m[36];
    memcpy(m, firefox_compound, 32);
    memcpy(m + 32, "\x01\x02\x03\x04", 4);
    assert_int_equal(parse_exact(m, sizeof m, p, 8, &n, &b), 0);
    assert_int_equal(n, 1);
    free(b);
    /* More packets than slots. */
    assert_int_equal(parse_exact(firefox_compound, sizeof firefox_compound, p, 2, &n, &b),
                     FO_ETOOBIG);
    assert_int_equal(n, 2);
    assert_int_equal(p[1].pt, FO_RTCP_SDES);
    free(b);
    assert_int_equal(parse_exact(firefox_compound, sizeof firefox_compound, p, 0, &n, &b),
                     FO_ETOOBIG);
    assert_int_equal(n, 0);
    free(b);
    /* Exactly as many slots as packets is fine. */
    assert_int_equal(parse_exact(firefox_compound, sizeof firefox_compound, p, 5, &n, &b), 0);
    assert_int_equal(n, 5);
    free(b);
}

static void test_ntp(void **state)
{
    (void)state;
    assert_true(fo_ntp_from_unix_us(0) == 2208988800ull << 32);
    assert_true(fo_ntp_from_unix_us(1500000) == ((2208988801ull << 32) | 0x80000000u));
    /* 2023-11-14T22:13:20.25Z */
    assert_true(fo_ntp_from_unix_us(1700000000250000ull) ==
                ((1700000000ull + 2208988800ull) << 32 | 0x40000000u));
    /* Monotonic within a second and the fraction never reaches 2^32. */
    uint64_t prev = fo_ntp_from_unix_us(999999);
    assert_true((uint32_t)prev > 0xffffe000u);
    assert_true(fo_ntp_from_unix_us(1000000) > prev);
}

/* Deterministic garbage: mutated captures and random bytes through parse and every accessor. */
static void test_garbage(void **state)
{
    (void)state;
    const uint8_t *seeds[] = {firefox_compound, chrome_sr_sdes_remb, chrome_remb, nack_pkt};
    const size_t seed_len[] = {sizeof firefox_compound, sizeof chrome_sr_sdes_remb,
                               sizeof chrome_remb, sizeof nack_pkt};
    uint8_t tmp[256];
    uint32_t x = 7;
    for (int iter = 0; iter < 20000; iter++) {
        size_t k = (size_t)iter % 4, n = seed_len[k];
        memcpy(tmp, seeds[k], n);
        for (int m = 0; m < 3; m++) {
            x = x * 1664525u + 1013904223u;
            tmp[(x >> 8) % n] ^= (uint8_t)(x >> 24);
        }
        x = x * 1664525u + 1013904223u;
        size_t len = iter % 5 ? n : (x >> 16) % (n + 1);
        fo_rtcp_pkt_t p[8];
        size_t np;
        uint8_t *b;
        int rc = parse_exact(tmp, len, p, 8, &np, &b);
        assert_true(rc == 0 || rc == FO_EINVAL || rc == FO_ETOOBIG);
        for (size_t i = 0; i < np; i++) {
            assert_true(p[i].raw >= b && p[i].raw + p[i].raw_len <= b + len);
            fo_rtcp_report_t r;
            for (unsigned j = 0; j < 32; j++) (void)fo_rtcp_report_get(&p[i], j, &r);
            uint16_t seqs[64];
            assert_true(fo_rtcp_nack_seqs(&p[i], seqs, 64) <= 64);
            uint32_t s;
            uint8_t sn;
            for (unsigned j = 0; j < 8; j++) (void)fo_rtcp_fir_get(&p[i], j, &s, &sn);
            uint64_t bps;
            uint32_t ss[4];
            size_t nss;
            (void)fo_rtcp_remb_get(&p[i], &bps, ss, 4, &nss);
        }
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_firefox_compound),
        cmocka_unit_test(test_parse_chrome_sr_sdes_remb),
        cmocka_unit_test(test_remb_values),
        cmocka_unit_test(test_nack_parse),
        cmocka_unit_test(test_nack_build_roundtrip),
        cmocka_unit_test(test_builders_match_captures),
        cmocka_unit_test(test_builders_roundtrip),
        cmocka_unit_test(test_builders_capacity),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_padding_and_prefix),
        cmocka_unit_test(test_ntp),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
