/* SPDX-License-Identifier: MIT */
/* fo_clients: exemptions (IPv4, IPv6, IPv4-mapped), the per-client connection cap, the signaling
 * rate and its Retry-After, bans and their end, IPv6 clients grouped by /64, and the counters.
 * The clock is the loop's cached time, advanced with fo_loop_update_time after sleeping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fanout/clients.h"
#include "fanout/common.h"
#include "fanout/config.h"
#include "fanout/log.h"
#include "fanout/loop.h"

static fo_config_t cfg;
static fo_loop_t *loop;

static struct sockaddr_storage v4(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    inet_pton(AF_INET, ip, &a->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static int setup(void **state)
{
    (void)state;
    fo_config_defaults(&cfg);
    fo_log_set_level(FO_LOG_ERROR);
    loop = fo_loop_new();
    return loop ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fo_loop_free(loop);
    return 0;
}

static void test_exempt(void **state)
{
    (void)state;
    snprintf(cfg.http_exempt, sizeof cfg.http_exempt, "127.0.0.1 ::1 ::ffff:10.0.0.9");
    cfg.http_signal_rate = 1;
    cfg.http_signal_burst = 1;
    cfg.http_max_conns_per_client = 1;
    fo_clients_t *c = fo_clients_new(loop, &cfg);
    struct sockaddr_storage lo4 = v4("127.0.0.1"), lo6 = v6("::1"), mapped = v6("::ffff:127.0.0.1"),
                            ten = v4("10.0.0.9"), other = v4("127.0.0.2");
    int retry;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(fo_clients_request(c, SA(lo4), true, &retry), 0);
        assert_int_equal(fo_clients_request(c, SA(lo6), true, &retry), 0);
        assert_int_equal(fo_clients_request(c, SA(mapped), true, &retry), 0);
        assert_int_equal(fo_clients_request(c, SA(ten), true, &retry), 0);
        assert_int_equal(fo_clients_accept(c, SA(lo4)), 0);
        fo_clients_opened(c, SA(lo4));
    }
    assert_int_equal(fo_clients_request(c, SA(other), true, &retry), 0);
    assert_int_equal(fo_clients_request(c, SA(other), true, &retry), FO_EAGAIN);
    fo_clients_stats_t st;
    fo_clients_stats(c, &st);
    assert_int_equal(st.clients, 1); /* only 127.0.0.2 is tracked */
    fo_clients_free(c);
}

static void test_connection_cap(void **state)
{
    (void)state;
    cfg.http_max_conns_per_client = 3;
    snprintf(cfg.http_exempt, sizeof cfg.http_exempt, "::1");
    fo_clients_t *c = fo_clients_new(loop, &cfg);
    struct sockaddr_storage a = v4("192.0.2.7"), b = v4("192.0.2.8");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fo_clients_accept(c, SA(a)), 0);
        fo_clients_opened(c, SA(a));
    }
    assert_int_equal(fo_clients_accept(c, SA(a)), FO_EBUSY);
    assert_int_equal(fo_clients_accept(c, SA(b)), 0); /* another client is not affected */
    fo_clients_closed(c, SA(a));
    assert_int_equal(fo_clients_accept(c, SA(a)), 0);
    fo_clients_stats_t st;
    fo_clients_stats(c, &st);
    assert_int_equal(st.conns_refused, 1);
    fo_clients_free(c);
}

static void test_rate_and_retry_after(void **state)
{
    (void)state;
    cfg.http_signal_rate = 2;
    cfg.http_signal_burst = 3;
    snprintf(cfg.http_exempt, sizeof cfg.http_exempt, "::1");
    fo_clients_t *c = fo_clients_new(loop, &cfg);
    struct sockaddr_storage a = v4("198.51.100.1");
    int retry = 0;
    fo_loop_update_time(loop);
    for (int i = 0; i < 3; i++) assert_int_equal(fo_clients_request(c, SA(a), true, &retry), 0);
    assert_int_equal(fo_clients_request(c, SA(a), true, &retry), FO_EAGAIN);
    assert_int_equal(retry, 1);
    /* not signaling: no rate */
    assert_int_equal(fo_clients_request(c, SA(a), false, &retry), 0);
    usleep(600000); /* 2/s: one token after 0.5 s */
    fo_loop_update_time(loop);
    assert_int_equal(fo_clients_request(c, SA(a), true, &retry), 0);
    assert_int_equal(fo_clients_request(c, SA(a), true, &retry), FO_EAGAIN);
    fo_clients_stats_t st;
    fo_clients_stats(c, &st);
    assert_int_equal(st.rate_limited, 2);
    assert_true(fo_clients_is_signaling("POST", "/rtc/v1/play/"));
    assert_true(fo_clients_is_signaling("DELETE", "/rtc/v1/whip/resource/x"));
    assert_false(fo_clients_is_signaling("GET", "/rtc/v1/play/"));
    assert_false(fo_clients_is_signaling("POST", "/api/v1/clients/x"));
    fo_clients_free(c);
}

static void test_ban(void **state)
{
    (void)state;
    cfg.http_ban_failures = 3;
    cfg.http_ban_window = 10;
    cfg.http_ban_time = 1;
    snprintf(cfg.http_exempt, sizeof cfg.http_exempt, "::1");
    fo_clients_t *c = fo_clients_new(loop, &cfg);
    struct sockaddr_storage a = v4("203.0.113.5");
    fo_loop_update_time(loop);
    fo_clients_answered(c, SA(a), 404); /* not a failure */
    fo_clients_answered(c, SA(a), 429);
    fo_clients_answered(c, SA(a), 400);
    fo_clients_answered(c, SA(a), 401);
    assert_false(fo_clients_banned(c, SA(a)));
    fo_clients_answered(c, SA(a), 413);
    assert_true(fo_clients_banned(c, SA(a)));
    assert_int_equal(fo_clients_accept(c, SA(a)), FO_EDENIED);
    int retry = 0;
    assert_int_equal(fo_clients_request(c, SA(a), false, &retry), FO_EDENIED);
    assert_int_equal(retry, 1);
    usleep(1100000);
    fo_loop_update_time(loop);
    assert_false(fo_clients_banned(c, SA(a)));
    assert_int_equal(fo_clients_accept(c, SA(a)), 0);
    fo_clients_stats_t st;
    fo_clients_stats(c, &st);
    assert_int_equal(st.bans, 1);
    assert_int_equal(st.banned_refused, 2);
    fo_clients_free(c);
}

/* IPv6 clients are /64s: two addresses of one /64 share a connection cap; another /64 not. */
static void test_ipv6_prefix(void **state)
{
    (void)state;
    cfg.http_max_conns_per_client = 2;
    snprintf(cfg.http_exempt, sizeof cfg.http_exempt, "127.0.0.1");
    fo_clients_t *c = fo_clients_new(loop, &cfg);
    struct sockaddr_storage a = v6("2001:db8:1:2::1"), b = v6("2001:db8:1:2:ffff::9"),
                            other = v6("2001:db8:1:3::1");
    assert_int_equal(fo_clients_accept(c, SA(a)), 0);
    fo_clients_opened(c, SA(a));
    assert_int_equal(fo_clients_accept(c, SA(b)), 0);
    fo_clients_opened(c, SA(b));
    assert_int_equal(fo_clients_accept(c, SA(a)), FO_EBUSY);
    assert_int_equal(fo_clients_accept(c, SA(b)), FO_EBUSY);
    assert_int_equal(fo_clients_accept(c, SA(other)), 0);
    fo_clients_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exempt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_and_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ban, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_prefix, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
