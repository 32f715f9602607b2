/* SPDX-License-Identifier: MIT */
/* Unit tests for src/wire/twcc.c: the feedback bytes for a synthesized arrival pattern (loss, small
 * and large deltas, reordering, sequence wrap), parsed back with fo_twcc_parse and
 * fo_rtcp_parse; backlog split over several feedbacks; and src/wire/history.c + src/media/rtx.c (history
 * ring lookups and age, RTX wrap/unwrap round trip). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fanout/history.h"
#include "fanout/rtcp.h"
#include "fanout/rtx.h"
#include "fanout/twcc.h"

static fo_twcc_t tw;

static void test_feedback_bytes(void **state)
{
    (void)state;
    fo_twcc_init(&tw);
    int64_t t0 = 64000 * 100 + 1000; /* ref time 100, first delta 1 ms */
    fo_twcc_on_packet(&tw, 65534, t0);
    fo_twcc_on_packet(&tw, 65535, t0 + 250);
    /* 0 lost */
    fo_twcc_on_packet(&tw, 2, t0 + 100000);  /* large delta: 99.75 ms */
    fo_twcc_on_packet(&tw, 1, t0 + 90000);   /* reordered: negative delta */
    uint8_t buf[256];
    int n = fo_twcc_build(&tw, 0x01020304, 0x05060708, buf, sizeof buf);
    assert_true(n > 0 && n % 4 == 0);
    static const uint8_t head[] = {0xaf, 205, 0x00, 0x06, 1, 2, 3, 4, 5, 6, 7, 8,
                                   0xff, 0xfe, 0x00, 0x05, 0x00, 0x00, 100, 0x00};
    assert_memory_equal(buf, head, sizeof head);
    /* chunk: 2-bit vector: 1 (1 ms), 1 (0.25 ms), 0, 2 (-? no: seq1 comes first) */
    fo_rtcp_pkt_t p;
    size_t np;
    assert_int_equal(fo_rtcp_parse(buf, (size_t)n, &p, 1, &np), 0);
    assert_int_equal(p.pt, FO_RTCP_RTPFB);
    assert_int_equal(p.count, FO_RTCP_FMT_TWCC);
    uint16_t base, count;
    int32_t ref;
    uint8_t fbc;
    bool rx[16];
    int32_t d[16];
    assert_int_equal(fo_twcc_parse(p.fci, p.fci_len, &base, &count, &ref, &fbc, rx, d, 16), 0);
    assert_int_equal(base, 65534);
    assert_int_equal(count, 5);
    assert_int_equal(ref, 100);
    assert_int_equal(fbc, 0);
    bool want_rx[] = {true, true, false, true, true};
    int32_t want_d[] = {1000, 250, 0, 90000 - 250, 10000};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rx[i], want_rx[i]);
        assert_int_equal(d[i], want_d[i]);
    }
    /* nothing pending; a late packet of the reported range is ignored */
    assert_int_equal(fo_twcc_build(&tw, 1, 2, buf, sizeof buf), 0);
    fo_twcc_on_packet(&tw, 0, t0 + 200000);
    assert_int_equal(fo_twcc_build(&tw, 1, 2, buf, sizeof buf), 0);
    fo_twcc_on_packet(&tw, 3, t0 + 101000);
    n = fo_twcc_build(&tw, 1, 2, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(buf[19], 1); /* feedback packet count */
}

static void test_backlog_split(void **state)
{
    (void)state;
    fo_twcc_init(&tw);
    for (int i = 0; i < 1000; i++) fo_twcc_on_packet(&tw, (uint16_t)i, 1000000 + i * 1000);
    uint8_t buf[1200];
    int total = 0, packets = 0, n;
    while ((n = fo_twcc_build(&tw, 1, 2, buf, sizeof buf)) > 0) {
        total += (buf[14] << 8) | buf[15];
        packets++;
    }
    assert_int_equal(n, 0);
    assert_int_equal(total, 1000);
    assert_int_equal(packets, (1000 + FO_TWCC_MAX_PER_FEEDBACK - 1) / FO_TWCC_MAX_PER_FEEDBACK);
}

static size_t make_rtp(uint8_t *b, uint16_t seq, uint8_t fill)
{
    memset(b, 0, 12);
    b[0] = 0x80;
    b[1] = 96;
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
    b[7] = 0x10; /* ts */
    b[11] = 0x42; /* ssrc */
    memset(b + 12, fill, 100);
    return 112;
}

static void test_history_and_rtx(void **state)
{
    (void)state;
    fo_history_t *h = fo_history_new(100, 1 << 20, 1000); /* rounds up to 128 */
    assert_non_null(h);
    uint8_t pkt[200];
    for (uint16_t s = 0; s < 300; s++) {
        size_t n = make_rtp(pkt, s, (uint8_t)s);
        fo_history_put(h, s, pkt, n, s == 250, 5000 + s);
    }
    size_t len;
    assert_null(fo_history_get(h, 100, 5300, &len));           /* overwritten */
    const uint8_t *got = fo_history_get(h, 299, 5300, &len);
    assert_non_null(got);
    assert_int_equal(len, 112);
    assert_int_equal(got[12], (uint8_t)299);
    assert_null(fo_history_get(h, 299, 5299 + 1001, &len));     /* too old */
    uint16_t key, newest;
    assert_true(fo_history_last_key(h, 5300, &key, &newest));
    assert_int_equal(key, 250);
    assert_int_equal(newest, 299);
    /* RTX round trip */
    got = fo_history_get(h, 299, 5300, &len);
    fo_rtp_view_t v;
    assert_int_equal(fo_rtp_parse(got, len, &v), 0);
    uint8_t rtx[300], back[300];
    fo_rtp_rewrite_t rw = {.ssrc = 0x77, .pt = 97, .seq = 5, .ts = 0x1234};
    int n = fo_rtx_wrap(&v, &rw, 299, rtx, sizeof rtx);
    assert_int_equal(n, 114);
    assert_int_equal(rtx[1], 97);
    assert_int_equal(rtx[3], 5);
    assert_int_equal(rtx[12], 299 >> 8);
    assert_int_equal(rtx[13], 299 & 0xff);
    fo_rtp_view_t r;
    assert_int_equal(fo_rtp_parse(rtx, (size_t)n, &r), 0);
    uint16_t osn;
    n = fo_rtx_unwrap(&r, 0x42, 96, NULL, back, sizeof back, &osn);
    assert_int_equal(osn, 299);
    assert_int_equal(n, 112);
    assert_int_equal(back[3], 299 & 0xff);
    assert_memory_equal(back + 12, got + 12, 100);
    fo_history_clear(h);
    assert_false(fo_history_last_key(h, 5300, &key, &newest));
    fo_history_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feedback_bytes),
        cmocka_unit_test(test_backlog_split),
        cmocka_unit_test(test_history_and_rtx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
