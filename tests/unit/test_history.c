/* SPDX-License-Identifier: MIT */
/* fo_history: bounded by packets and by bytes (issue 15, item 6). Big packets overwrite the
 * oldest once the byte budget is used, small ones once the slots are; overwritten and old
 * packets are absent; a packet never straddles the ring's end; the keyframe lookup; what the
 * memory report says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/history.h"

static size_t fill(uint8_t *pkt, uint16_t seq, size_t len)
{
    memset(pkt, (int)(seq & 0xff), len);
    pkt[0] = 0x80;
    pkt[2] = (uint8_t)(seq >> 8), pkt[3] = (uint8_t)seq;
    return len;
}

static void check(const fo_history_t *h, uint16_t seq, size_t len, uint64_t now)
{
    size_t got = 0;
    const uint8_t *p = fo_history_get(h, seq, now, &got);
    assert_non_null(p);
    assert_int_equal(got, len);
    assert_int_equal(p[2] << 8 | p[3], seq);
    assert_int_equal(p[len - 1], seq & 0xff);
}

static void test_byte_budget(void **state)
{
    (void)state;
    fo_history_t *h = fo_history_new(1024, 10000, 1000);
    uint8_t pkt[1500];
    for (uint16_t s = 0; s < 30; s++) fo_history_put(h, s, pkt, fill(pkt, s, 1000), false, 100);
    /* 10,000 bytes hold 10 of them (the ring's tail may waste up to one packet) */
    size_t held = 0, len;
    for (uint16_t s = 0; s < 30; s++) held += fo_history_get(h, s, 100, &len) != NULL;
    assert_true(held >= 9 && held <= 10);
    check(h, 29, 1000, 100);
    assert_null(fo_history_get(h, 15, 100, &len));
    fo_history_mem_t m;
    fo_history_mem(h, &m);
    assert_int_equal(m.held, 10000);
    assert_true(m.allocated >= 10000 && m.allocated < 10000 + 1024 * 40 + 256);
    /* sizes that do not divide the budget: every packet returned is whole */
    for (uint16_t s = 100; s < 400; s++) fo_history_put(h, s, pkt, fill(pkt, s, 300 + s % 700), false, 200);
    for (uint16_t s = 100; s < 400; s++)
        if (fo_history_get(h, s, 200, &len)) check(h, s, 300 + s % 700, 200);
    check(h, 399, 300 + 399 % 700, 200);
    fo_history_free(h);
}

static void test_slots_and_age(void **state)
{
    (void)state;
    fo_history_t *h = fo_history_new(100, 1 << 20, 1000); /* 128 slots */
    uint8_t pkt[64];
    size_t len;
    for (uint16_t s = 0; s < 300; s++) fo_history_put(h, s, pkt, fill(pkt, s, 20), s == 250, 5000);
    assert_null(fo_history_get(h, 100, 5000, &len)); /* its slot was reused */
    check(h, 299, 20, 5000);
    uint16_t key, newest;
    assert_true(fo_history_last_key(h, 5000, &key, &newest));
    assert_int_equal(key, 250);
    assert_int_equal(newest, 299);
    assert_null(fo_history_get(h, 299, 6001, &len)); /* too old */
    assert_false(fo_history_last_key(h, 6001, &key, &newest));
    fo_history_mem_t m;
    fo_history_mem(h, &m);
    assert_int_equal(m.held, 300 * 20);
    fo_history_clear(h);
    assert_null(fo_history_get(h, 299, 5000, &len));
    assert_false(fo_history_last_key(h, 5000, &key, &newest));
    /* a keyframe whose bytes were overwritten is not offered for instant start */
    fo_history_t *small = fo_history_new(1024, 4000, 1000);
    uint8_t big[1500];
    fo_history_put(small, 1, big, fill(big, 1, 1000), true, 10);
    for (uint16_t s = 2; s < 10; s++) fo_history_put(small, s, big, fill(big, s, 1000), false, 10);
    assert_false(fo_history_last_key(small, 10, &key, &newest));
    /* too big for the budget or for a slot: not stored */
    fo_history_put(small, 20, big, 1500, false, 10);
    assert_non_null(fo_history_get(small, 20, 10, &len));
    fo_history_free(small);
    fo_history_t *tiny = fo_history_new(16, 10, 1000); /* at least FO_HISTORY_PKT */
    fo_history_put(tiny, 1, big, fill(big, 1, FO_HISTORY_PKT), false, 10);
    check(tiny, 1, FO_HISTORY_PKT, 10);
    fo_history_free(tiny);
    fo_history_free(NULL);
    fo_history_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_byte_budget), cmocka_unit_test(test_slots_and_age)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
