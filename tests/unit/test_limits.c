/* SPDX-License-Identifier: MIT */
/* Limits: the token bucket's rate and burst, each admission cap with its status, per-IP counting
 * with release, and the exempt list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/common.h"
#include "fanout/limits.h"

static void test_rate(void **state)
{
    (void)state;
    fo_rate_t r = {0};
    int ok = 0;
    for (int i = 0; i < 200; i++) ok += fo_rate_allow(&r, 1000, 100);
    assert_int_equal(ok, 100); /* one second of burst */
    ok = 0;
    for (int i = 0; i < 200; i++) ok += fo_rate_allow(&r, 1100, 100);
    assert_int_equal(ok, 10); /* 100 ms later: 10 more */
    /* steady 1 packet / 10 ms at 100 pps: all pass */
    ok = 0;
    for (int i = 0; i < 100; i++) ok += fo_rate_allow(&r, 1110 + (uint64_t)i * 10, 100);
    assert_int_equal(ok, 100);
    /* a long gap refills at most one second's worth */
    ok = 0;
    for (int i = 0; i < 500; i++) ok += fo_rate_allow(&r, 100000, 100);
    assert_int_equal(ok, 100);
    fo_rate_t off = {0};
    for (int i = 0; i < 1000; i++) assert_true(fo_rate_allow(&off, 5, 0));
}

static void test_caps(void **state)
{
    (void)state;
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    cfg.max_sessions = 10;
    cfg.max_pending = 5;
    cfg.max_players_per_stream = 3;
    cfg.max_sessions_per_ip = 2;
    fo_limits_t *l = fo_limits_new(&cfg);
    char msg[200];
    fo_limits_offer_t o = {.play = true, .client_ip = "192.0.2.1"};
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    o.sessions = 10;
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EFULL);
    assert_non_null(strstr(msg, "max_sessions"));
    o.sessions = 0, o.pending = 5;
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EFULL);
    o.pending = 0, o.stream_players = 3;
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EFULL);
    o.play = false; /* a publisher is not a player */
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);

    assert_int_equal(fo_limits_acquire(l, "s1", "192.0.2.1"), 0);
    assert_int_equal(fo_limits_acquire(l, "s2", "192.0.2.1"), 0);
    assert_int_equal(fo_limits_acquire(l, "s3", "192.0.2.2"), 0);
    assert_int_equal(fo_limits_ip_sessions(l, "192.0.2.1"), 2);
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EAGAIN);
    o.client_ip = "192.0.2.2";
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    o.client_ip = "127.0.0.1"; /* exempt by default */
    assert_int_equal(fo_limits_acquire(l, "s4", "127.0.0.1"), 0);
    assert_int_equal(fo_limits_acquire(l, "s5", "127.0.0.1"), 0);
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    o.client_ip = "192.0.2.1";
    fo_limits_release(l, "s1");
    fo_limits_release(l, "nosuch");
    assert_int_equal(fo_limits_ip_sessions(l, "192.0.2.1"), 1);
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    o.client_ip = "not an ip"; /* unknown: not counted, not refused */
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    assert_int_equal(fo_limits_acquire(l, "s6", "not an ip"), 0);
    fo_limits_free(l); /* frees what is still held */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
