/* SPDX-License-Identifier: MIT */
/* Unit tests for src/media/bwe.c: a player's send-side estimate from TWCC feedback built by our own
 * receive side (src/wire/twcc.c). A clean 800 kbps link lets it grow; 30% loss or a growing queue
 * brings it below the delivery rate; a REMB caps it; malformed feedback is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fanout/bwe.h"
#include "fanout/common.h"
#include "fanout/rtcp.h"
#include "fanout/twcc.h"

static fo_bwe_t bwe;
static fo_twcc_t rx;

/* Sends 1000-byte packets every 10 ms (800 kbps) for `ms`, from *t; packet i is lost when
 * lose(i), and arrives 5 ms + extra_us(i) after it was sent. Feedback every 100 ms. */
static void run(uint16_t *seq, uint64_t *t, uint64_t ms, int lose_every, int64_t queue_growth_us)
{
    uint64_t end = *t + ms;
    int64_t extra = 0;
    for (; *t < end; *t += 10) {
        fo_bwe_on_send(&bwe, *seq, 1000, *t);
        if (!(lose_every && *seq % lose_every == 0))
            fo_twcc_on_packet(&rx, *seq, (int64_t)*t * 1000 + 5000 + extra);
        extra += queue_growth_us;
        (*seq)++;
        if (*t % 100 == 90) {
            uint8_t buf[1500];
            int n;
            while ((n = fo_twcc_build(&rx, 1, 2, buf, sizeof buf)) > 0) {
                fo_rtcp_pkt_t p;
                size_t np;
                assert_int_equal(fo_rtcp_parse(buf, (size_t)n, &p, 1, &np), 0);
                assert_int_equal(fo_bwe_on_feedback(&bwe, p.fci, p.fci_len, *t + 5), 0);
            }
        }
    }
}

static void test_grow_then_loss(void **state)
{
    (void)state;
    uint16_t seq = 65000; /* wraps */
    uint64_t t = 1000;
    fo_bwe_init(&bwe, t);
    fo_twcc_init(&rx);
    assert_int_equal(fo_bwe_estimate(&bwe, t), FO_BWE_START_BPS);
    run(&seq, &t, 2000, 0, 0);
    uint64_t grown = fo_bwe_estimate(&bwe, t);
    assert_true(grown > FO_BWE_START_BPS * 14 / 10);
    assert_true(bwe.delivery_bps > 700000 && bwe.delivery_bps < 900000);
    assert_int_equal(bwe.loss_permille, 0);
    assert_true(bwe.queue_ms < 5);
    /* No probing: growth stays within reach of what was delivered. */
    run(&seq, &t, 5000, 0, 0);
    assert_true(fo_bwe_estimate(&bwe, t) <= bwe.delivery_bps * 2 + FO_BWE_HEADROOM_BPS);
    assert_true(fo_bwe_estimate(&bwe, t) >= 2000000);
    /* 33% loss: at most 85% of what got through (~530 kbps). */
    run(&seq, &t, 1000, 3, 0);
    assert_true(bwe.loss_permille > 250 && bwe.loss_permille < 400);
    assert_true(fo_bwe_estimate(&bwe, t) <= 600000);
    assert_true(bwe.decreases > 0);
}

static void test_queue_growth(void **state)
{
    (void)state;
    uint16_t seq = 1;
    uint64_t t = 50;
    fo_bwe_init(&bwe, t);
    fo_twcc_init(&rx);
    run(&seq, &t, 1000, 0, 0);
    /* Each packet waits 1 ms longer than the one before: a queue building at 100 ms/s. */
    run(&seq, &t, 1000, 0, 1000);
    assert_true(bwe.queue_ms > 60);
    assert_true(fo_bwe_estimate(&bwe, t) < 800000);
}

static void test_remb_and_garbage(void **state)
{
    (void)state;
    fo_bwe_init(&bwe, 0);
    fo_bwe_on_remb(&bwe, 3000000, 10);
    /* No TWCC feedback yet: the REMB is the estimate. */
    assert_int_equal(fo_bwe_estimate(&bwe, 20), 3000000);
    fo_bwe_on_remb(&bwe, 400000, 30);
    assert_int_equal(fo_bwe_estimate(&bwe, 40), 400000);
    assert_int_equal(fo_bwe_estimate(&bwe, 30 + FO_BWE_REMB_TTL_MS + 1), FO_BWE_START_BPS);
    static const uint8_t bad[] = {0, 1, 0, 200, 0, 0, 0, 0, 0x20};
    assert_int_equal(fo_bwe_on_feedback(&bwe, bad, sizeof bad, 50), FO_EINVAL);
    assert_int_equal(fo_bwe_on_feedback(&bwe, bad, 3, 50), FO_EINVAL);
}

/* A feedback claiming 2048 packet statuses (one run-length chunk of small deltas). */
static size_t big_feedback(uint8_t *fci)
{
    memset(fci, 0, 8 + 2 + 2048);
    fci[2] = 2048 >> 8;
    fci[3] = 2048 & 0xff;
    uint16_t chunk = (uint16_t)(1u << 13 | 2048); /* run of symbol 1 */
    fci[8] = (uint8_t)(chunk >> 8);
    fci[9] = (uint8_t)chunk;
    return 8 + 2 + 2048;
}

/* The work TWCC feedback may cause per second is capped (issue 15, item 10): feedback claiming
 * more statuses than the budget holds is dropped unread and counted; the budget refills. */
static void test_feedback_budget(void **state)
{
    (void)state;
    static uint8_t fci[8 + 2 + 2048];
    size_t len = big_feedback(fci);
    uint64_t t = 50000;
    fo_bwe_init(&bwe, t);
    int read = 0, dropped = 0;
    for (int i = 0; i < 1000; i++) {
        int rc = fo_bwe_on_feedback(&bwe, fci, len, t);
        if (rc == 0) read++;
        else if (rc == FO_EAGAIN) dropped++;
    }
    assert_int_equal(read, FO_BWE_STATUSES_PER_S / 2048);
    assert_int_equal(dropped, 1000 - read);
    assert_int_equal(bwe.feedbacks, (uint64_t)read);
    assert_int_equal(bwe.feedbacks_limited, (uint64_t)dropped);
    /* half a second later, half a second's worth more */
    assert_int_equal(fo_bwe_on_feedback(&bwe, fci, len, t + 500), 0);
    /* a real player's feedback (a few hundred statuses every 50 ms) always fits */
    fo_bwe_init(&bwe, t);
    fci[3] = 200;
    fci[2] = 0;
    fci[8] = (uint8_t)((1u << 13 | 200) >> 8);
    fci[9] = (uint8_t)(1u << 13 | 200);
    for (int i = 0; i < 200; i++) assert_int_equal(fo_bwe_on_feedback(&bwe, fci, 8 + 2 + 200, t + (uint64_t)i * 50), 0);
    assert_int_equal(bwe.feedbacks_limited, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_then_loss),
        cmocka_unit_test(test_queue_growth),
        cmocka_unit_test(test_remb_and_garbage),
        cmocka_unit_test(test_feedback_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
