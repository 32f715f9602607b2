/* SPDX-License-Identifier: MIT */
/* Unit tests for src/wire/nack.c (gap detection, retry timing, give-up, bounds, RTT estimate) and
 * the NACK bytes fanout emits for them (fo_rtcp_build_nack), plus src/wire/rxstats.c's report block
 * (loss, fraction, extended seq over a wrap, LSR/DLSR). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fanout/nack.h"
#include "fanout/rtcp.h"
#include "fanout/rxstats.h"

static void test_gap_then_nack_bytes(void **state)
{
    (void)state;
    fo_nack_t n;
    fo_nack_init(&n);
    uint64_t t = 1000;
    for (uint16_t s = 65530; s != 2; s++) /* across the wrap */
        if (s != 65534 && s != 0 && s != 1) assert_int_equal(fo_nack_on_packet(&n, s, t), FO_NACK_NEW);
    assert_int_equal(fo_nack_on_packet(&n, 2, t), FO_NACK_NEW);
    uint16_t out[16];
    size_t k = fo_nack_collect(&n, t + 25, out, 16);
    assert_int_equal(k, 3);
    assert_int_equal(out[0], 65534);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 1);
    /* The bytes on the wire: RTPFB fmt 1, PID 65534, BLP bits 1 and 2 (seq 0 = PID+2, 1 = PID+3). */
    uint8_t buf[64];
    int len = fo_rtcp_build_nack(buf, sizeof buf, 0x11111111, 0x22222222, out, k);
    static const uint8_t want[] = {0x81, 205, 0x00, 0x03, 0x11, 0x11, 0x11, 0x11,
                                   0x22, 0x22, 0x22, 0x22, 0xff, 0xfe, 0x00, 0x06};
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    /* Not again before an RTT (default 100 ms, +25%) */
    assert_int_equal(fo_nack_collect(&n, t + 60, out, 16), 0);
    assert_int_equal(fo_nack_collect(&n, t + 25 + 126, out, 16), 3);
    /* A repair after the first NACK would sample the RTT; here it is the second. */
    assert_int_equal(fo_nack_on_packet(&n, 0, t + 200), FO_NACK_REPAIRED);
    assert_int_equal(fo_nack_on_packet(&n, 0, t + 201), FO_NACK_DUPLICATE);
    assert_int_equal(fo_nack_on_packet(&n, 65533, t + 201), FO_NACK_DUPLICATE);
    assert_int_equal(n.missing, 3);
    assert_int_equal(n.recovered, 1);
}

static void test_rtt_and_give_up(void **state)
{
    (void)state;
    fo_nack_t n;
    fo_nack_init(&n);
    fo_nack_on_packet(&n, 10, 1000);
    fo_nack_on_packet(&n, 12, 1000);
    uint16_t out[4];
    assert_int_equal(fo_nack_collect(&n, 1010, out, 4), 1);
    assert_int_equal(fo_nack_on_packet(&n, 11, 1050), FO_NACK_REPAIRED); /* 40 ms sample */
    assert_true(n.rtt_ms < FO_NACK_DEFAULT_RTT);
    assert_int_equal(n.rtt_ms, (100 * 7 + 40) / 8);
    /* Give up by age */
    fo_nack_on_packet(&n, 14, 2000);
    assert_int_equal(fo_nack_collect(&n, 2000 + FO_NACK_MAX_AGE_MS + 1, out, 4), 0);
    assert_int_equal(n.n, 0);
    assert_int_equal(n.gave_up, 1);
    /* Bounded: a huge gap keeps only the newest FO_NACK_MAX; a jump restarts */
    fo_nack_on_packet(&n, 14 + 600, 3000);
    assert_int_equal(n.n, FO_NACK_MAX);
    assert_int_equal(n.e[FO_NACK_MAX - 1].seq, 14 + 599);
    fo_nack_on_packet(&n, 30000, 3001);
    assert_int_equal(n.n, 0);
}

static void test_retries_capped(void **state)
{
    (void)state;
    fo_nack_t n;
    fo_nack_init(&n);
    fo_nack_on_packet(&n, 1, 0 + 1);
    fo_nack_on_packet(&n, 3, 1);
    uint16_t out[4];
    int sent = 0;
    for (uint64_t t = 2; t < 990; t += 5) sent += (int)fo_nack_collect(&n, t, out, 4);
    assert_int_equal(sent, 8); /* 125 ms apart (RTT 100 + 25%) within the 1 s give-up age */
}

static void test_rxstats_report(void **state)
{
    (void)state;
    fo_rxstats_t s;
    memset(&s, 0, sizeof s);
    /* 65530..65535, 0..9 with 3 and 7 missing: 16 expected, 14 received */
    uint16_t seq = 65530;
    for (int i = 0; i < 16; i++, seq++) {
        if (seq == 3 || seq == 7) continue;
        fo_rxstats_update(&s, seq, (uint32_t)i * 3000, (int64_t)i * 3000 + (i % 2) * 90, true);
    }
    fo_rxstats_on_sr(&s, 0x0123456789abcdefull, 5000);
    fo_rtcp_report_t r;
    fo_rxstats_report(&s, 0xabcd, 5500, &r);
    assert_int_equal(r.ssrc, 0xabcd);
    assert_int_equal(r.cumulative_lost, 2);
    assert_int_equal(r.fraction_lost, 2 * 256 / 16);
    assert_int_equal(r.highest_seq, 0x10000 + 9);
    assert_int_equal(r.lsr, 0x456789ab);
    assert_int_equal(r.dlsr, 32768); /* 0.5 s */
    assert_true(r.jitter > 0);
    /* next interval: nothing new, nothing lost */
    fo_rxstats_report(&s, 0xabcd, 6000, &r);
    assert_int_equal(r.fraction_lost, 0);
    uint8_t buf[64];
    assert_int_equal(fo_rtcp_build_rr(buf, sizeof buf, 1, &r, 1), 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gap_then_nack_bytes),
        cmocka_unit_test(test_rtt_and_give_up),
        cmocka_unit_test(test_retries_capped),
        cmocka_unit_test(test_rxstats_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
