/* SPDX-License-Identifier: MIT */
/* Unit tests for src/wire/layer.c, the simulcast layer switcher: first choice by the estimate,
 * immediate step down, step up only after the estimate covers the next layer for a while and
 * not right after a step down, layers that stop, forced choices, no estimate, names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fanout/layer.h"

static const uint64_t BPS[3] = {150000, 500000, 1500000};
static const bool ALL[3] = {true, true, true};

static void test_first_choice(void **state)
{
    (void)state;
    fo_layer_sw_t s;
    fo_layer_init(&s, -1);
    assert_int_equal(s.target, -1);
    assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, -1, 1000000, 0), 1);
    assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, -1, 5000000, 0), 2);
    assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, -1, 100000, 0), 0); /* nothing fits */
    assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, -1, 0, 0), 2);      /* no estimate */
    /* Layers not measured yet (0 bps) fit any estimate. */
    static const uint64_t none[3] = {0, 0, 0};
    assert_int_equal(fo_layer_choose(&s, 3, none, ALL, -1, 100000, 0), 2);
}

static void test_down_then_up(void **state)
{
    (void)state;
    fo_layer_sw_t s;
    fo_layer_init(&s, -1);
    uint64_t t = 1000;
    assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, -1, 3000000, t), 2);
    /* The estimate collapses: straight down to what fits. */
    t += 200;
    assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, 2, 400000, t), 0);
    assert_int_equal(s.downs, 1);
    /* It recovers at once, but the back-off holds the player down... */
    for (int i = 0; i < 20; i++) {
        t += 200;
        assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, 0, 3000000, t), 0);
    }
    /* ... then the hold time passes and it goes up one layer at a time. */
    int got = 0;
    for (int i = 0; i < 30 && got == 0; i++) {
        t += 200;
        got = fo_layer_choose(&s, 3, BPS, ALL, 0, 3000000, t);
    }
    assert_int_equal(got, 1);
    assert_true(t - 1200 >= FO_LAYER_BACKOFF_MS);
    uint64_t up1 = t;
    for (int i = 0; i < 30 && got == 1; i++) {
        t += 200;
        got = fo_layer_choose(&s, 3, BPS, ALL, 1, 3000000, t);
    }
    assert_int_equal(got, 2);
    assert_true(t - up1 >= FO_LAYER_UP_HOLD_MS);
    assert_int_equal(s.ups, 2);
}

static void test_up_needs_margin_and_steady(void **state)
{
    (void)state;
    fo_layer_sw_t s;
    fo_layer_init(&s, -1);
    uint64_t t = 0;
    assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, -1, 600000, t), 1);
    /* 1.6 Mbps covers the high layer with 10% margin but not 15%: stay. */
    for (int i = 0; i < 40; i++) assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, 1, 1700000, t += 200), 1);
    /* Covered, but interrupted before the hold time: the clock restarts. */
    for (int i = 0; i < 5; i++) assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, 1, 2000000, t += 200), 1);
    assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, 1, 1700000, t += 200), 1);
    for (int i = 0; i < 5; i++) assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, 1, 2000000, t += 200), 1);
    assert_int_equal(s.ups, 0);
}

static void test_layers_stop_and_forced(void **state)
{
    (void)state;
    fo_layer_sw_t s;
    fo_layer_init(&s, -1);
    static const bool no_high[3] = {true, true, false};
    static const bool only_high[3] = {false, false, true};
    static const bool none[3] = {false, false, false};
    assert_int_equal(fo_layer_choose(&s, 3, BPS, no_high, 2, 5000000, 0), 1);
    assert_int_equal(fo_layer_choose(&s, 3, BPS, only_high, 0, 100000, 0), 2);
    assert_int_equal(fo_layer_choose(&s, 3, BPS, none, 0, 100000, 0), -1);
    assert_int_equal(fo_layer_choose(&s, 2, BPS, ALL, -1, 5000000, 0), 1); /* two layers */
    fo_layer_init(&s, 0);
    assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, 2, 9000000, 0), 0);
    assert_int_equal(fo_layer_choose(&s, 3, BPS, only_high, 2, 9000000, 0), 2);
    fo_layer_init(&s, 2);
    assert_int_equal(fo_layer_choose(&s, 3, BPS, ALL, -1, 10000, 0), 2);
    assert_int_equal(fo_layer_choose(&s, 3, BPS, no_high, -1, 10000, 0), 1);
    assert_int_equal(fo_layer_choose(&s, 1, BPS, ALL, -1, 10000, 0), 0);
    fo_layer_init(&s, 7);
    assert_int_equal(s.forced, -1);
}

static void test_parse(void **state)
{
    (void)state;
    assert_int_equal(fo_layer_parse("low"), 0);
    assert_int_equal(fo_layer_parse("mid"), 1);
    assert_int_equal(fo_layer_parse("high"), 2);
    assert_int_equal(fo_layer_parse("0"), 0);
    assert_int_equal(fo_layer_parse("2"), 2);
    assert_int_equal(fo_layer_parse("3"), -1);
    assert_int_equal(fo_layer_parse("HIGH"), -1);
    assert_int_equal(fo_layer_parse(""), -1);
    assert_int_equal(fo_layer_parse(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_choice),
        cmocka_unit_test(test_down_then_up),
        cmocka_unit_test(test_up_needs_margin_and_steady),
        cmocka_unit_test(test_layers_stop_and_forced),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
