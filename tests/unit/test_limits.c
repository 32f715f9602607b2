/* SPDX-License-Identifier: MIT */
/* Limits: the token bucket's rate and burst, each admission cap with its status, per-client
 * counting with connect and release, the pending share and offer rate per client, IPv6 /64
 * clients, publishers, the exempt list, and the client table's sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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
    fo_limits_offer_t o = {.play = true, .client_ip = "192.0.2.1", .now_ms = 1000};
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    o.sessions = 10;
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EFULL);
    assert_non_null(strstr(msg, "max_sessions"));
    o.sessions = 0, o.stream_players = 3;
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EFULL);
    o.play = false; /* a publisher is not a player */
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);

    assert_int_equal(fo_limits_acquire(l, "s1", "192.0.2.1", false), 0);
    assert_int_equal(fo_limits_acquire(l, "s2", "192.0.2.1", false), 0);
    assert_int_equal(fo_limits_acquire(l, "s3", "192.0.2.2", false), 0);
    assert_int_equal(fo_limits_ip_sessions(l, "192.0.2.1"), 2);
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EAGAIN);
    assert_non_null(strstr(msg, "max_sessions_per_ip"));
    o.client_ip = "192.0.2.2";
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    o.client_ip = "127.0.0.1"; /* exempt by default */
    assert_int_equal(fo_limits_acquire(l, "s4", "127.0.0.1", false), 0);
    assert_int_equal(fo_limits_acquire(l, "s5", "127.0.0.1", false), 0);
    /* five still connecting in all: the server is busy for everyone but... */
    assert_int_equal(fo_limits_pending(l), 5);
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EFULL);
    assert_non_null(strstr(msg, "max_pending"));
    fo_limits_connected(l, "s4");
    fo_limits_connected(l, "s4"); /* once */
    assert_int_equal(fo_limits_pending(l), 4);
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    o.client_ip = "192.0.2.1";
    fo_limits_release(l, "s1");
    fo_limits_release(l, "nosuch");
    assert_int_equal(fo_limits_ip_sessions(l, "192.0.2.1"), 1);
    assert_int_equal(fo_limits_pending(l), 3);
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    o.client_ip = "not an ip"; /* unknown: not counted per client, not refused */
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    assert_int_equal(fo_limits_acquire(l, "s6", "not an ip", false), 0);
    assert_int_equal(fo_limits_acquire(l, "s7", NULL, false), 0);
    assert_int_equal(fo_limits_pending(l), 5); /* but in the total */
    fo_limits_free(l); /* frees what is still held */
}

/* Issue 15, item 5: ten clients cannot lock everyone out. Each client gets a share of the
 * connecting sessions and an offer rate; others still get in. */
static void test_pending_share_and_rate(void **state)
{
    (void)state;
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    fo_limits_t *l = fo_limits_new(&cfg);
    char msg[200], id[32], ip[32];
    uint64_t now = 5000;
    /* the review: 10 addresses x 50 offers at once */
    int ok = 0, share = 0;
    for (int a = 0; a < 10; a++) {
        snprintf(ip, sizeof ip, "198.51.100.%d", a + 1);
        for (int i = 0; i < 50; i++) {
            fo_limits_offer_t o = {.play = true, .client_ip = ip, .now_ms = now};
            int rc = fo_limits_check(l, &o, msg, sizeof msg);
            if (rc == 0) {
                snprintf(id, sizeof id, "a%d-%d", a, i);
                assert_int_equal(fo_limits_acquire(l, id, ip, false), 0);
                ok++;
            } else {
                assert_int_equal(rc, FO_EAGAIN);
                assert_non_null(strstr(msg, "offer_rate_per_ip")); /* 20 < 25: the rate bites first */
            }
        }
    }
    assert_int_equal(ok, 10 * (cfg.offer_rate_per_ip < cfg.max_pending_per_ip ? cfg.offer_rate_per_ip : cfg.max_pending_per_ip));
    assert_true(fo_limits_pending(l) < (size_t)cfg.max_pending / 2);
    /* a second later the rate allows more, the share does not */
    share = 0;
    for (int i = 0; i < 50; i++) {
        fo_limits_offer_t o = {.play = true, .client_ip = "198.51.100.1", .now_ms = now + 1000};
        if (fo_limits_check(l, &o, msg, sizeof msg) == 0) {
            snprintf(id, sizeof id, "b%d", i);
            fo_limits_acquire(l, id, "198.51.100.1", false);
        } else {
            share += strstr(msg, "max_pending_per_ip") != NULL;
        }
    }
    assert_int_equal(fo_limits_ip_pending(l, "198.51.100.1"), (size_t)cfg.max_pending_per_ip);
    assert_true(share > 0);
    /* someone else gets in */
    fo_limits_offer_t o = {.play = true, .client_ip = "203.0.113.9", .now_ms = now + 1000};
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    /* connecting gives the share back */
    fo_limits_connected(l, "a0-0");
    o.client_ip = "198.51.100.1", o.now_ms = now + 2000;
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    fo_limits_free(l);
}

/* IPv6 clients are counted per /64; IPv4-mapped addresses are their IPv4 address; exemption
 * is by whole address (127.0.0.2 is a client like any other). */
static void test_clients(void **state)
{
    (void)state;
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    cfg.max_sessions_per_ip = 2;
    fo_limits_t *l = fo_limits_new(&cfg);
    char msg[200];
    assert_int_equal(fo_limits_acquire(l, "v1", "2001:db8:1:2::1", false), 0);
    assert_int_equal(fo_limits_acquire(l, "v2", "2001:db8:1:2:ffff::99", false), 0);
    assert_int_equal(fo_limits_ip_sessions(l, "2001:db8:1:2::1234"), 2);
    fo_limits_offer_t o = {.play = true, .client_ip = "2001:db8:1:2:aaaa::1", .now_ms = 1};
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EAGAIN);
    assert_non_null(strstr(msg, "/64"));
    o.client_ip = "2001:db8:1:3::1"; /* the next /64 */
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    assert_int_equal(fo_limits_acquire(l, "m1", "::ffff:192.0.2.7", false), 0);
    assert_int_equal(fo_limits_ip_sessions(l, "192.0.2.7"), 1);
    o.client_ip = "127.0.0.2";
    assert_int_equal(fo_limits_acquire(l, "x1", "127.0.0.2", false), 0);
    assert_int_equal(fo_limits_acquire(l, "x2", "127.0.0.2", false), 0);
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EAGAIN);
    o.client_ip = "::1"; /* exempt by default; its /64 is not */
    assert_int_equal(fo_limits_acquire(l, "y1", "::1", false), 0);
    assert_int_equal(fo_limits_acquire(l, "y2", "::1", false), 0);
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    o.client_ip = "::2";
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EAGAIN);
    fo_limits_free(l);
}

/* Publishers: per client and in total. */
static void test_publishers(void **state)
{
    (void)state;
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    cfg.max_publishers = 3;
    cfg.max_publishers_per_ip = 2;
    fo_limits_t *l = fo_limits_new(&cfg);
    char msg[200];
    assert_int_equal(fo_limits_acquire(l, "p1", "192.0.2.1", true), 0);
    assert_int_equal(fo_limits_acquire(l, "p2", "192.0.2.1", true), 0);
    fo_limits_offer_t o = {.play = false, .client_ip = "192.0.2.1", .now_ms = 1, .publishers = 2};
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EAGAIN);
    assert_non_null(strstr(msg, "max_publishers_per_ip"));
    o.play = true; /* players are not publishers */
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    o.play = false, o.client_ip = "192.0.2.2", o.publishers = 3;
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), FO_EFULL);
    assert_non_null(strstr(msg, "max_publishers"));
    fo_limits_release(l, "p1");
    o.client_ip = "192.0.2.1", o.publishers = 1;
    assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    fo_limits_free(l);
}

/* Distinct clients that only offer once do not grow the table without bound. */
static void test_sweep(void **state)
{
    (void)state;
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    fo_limits_t *l = fo_limits_new(&cfg);
    char msg[200], ip[64];
    for (int i = 0; i < 50000; i++) {
        snprintf(ip, sizeof ip, "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
        fo_limits_offer_t o = {.play = true, .client_ip = ip, .now_ms = (uint64_t)i}; /* 1000 a second */
        assert_int_equal(fo_limits_check(l, &o, msg, sizeof msg), 0);
    }
    assert_true(fo_limits_clients(l) < 10000);
    fo_limits_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_pending_share_and_rate),
        cmocka_unit_test(test_clients),
        cmocka_unit_test(test_publishers),
        cmocka_unit_test(test_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
