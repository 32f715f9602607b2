/* SPDX-License-Identifier: MIT */
/* Auth: tokens agree with scripts/make-token.sh (an openssl-computed vector), are bound to the
 * action, the stream and the secret, expire, and survive tampering; token lookup order; the
 * operator API gate with and without a secret; everything off by default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/auth.h"
#include "fanout/common.h"

#define SIG "8aea5134e0ebfdfff6d5bc07c102c3a1b4a5388711e2b4db18a9044327191fce"

static void test_token(void **state)
{
    (void)state;
    char tok[128];
    assert_int_equal(fo_auth_make_token("k", FO_AUTH_PUBLISH, "live/cam", 2000000000, tok, sizeof tok),
                     (int)strlen("publish.2000000000." SIG));
    assert_string_equal(tok, "publish.2000000000." SIG);
    const char *why = NULL;
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", tok, 1999999999, &why), 0);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PLAY, "live/cam", tok, 0, &why), FO_EAUTH);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/other", tok, 0, &why), FO_EAUTH);
    assert_int_equal(fo_auth_token_verify("k2", FO_AUTH_PUBLISH, "live/cam", tok, 0, &why), FO_EAUTH);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", tok, 2000000001, &why), FO_EAUTH);
    assert_string_equal(why, "token expired");
    /* an extended expiry with the old signature fails */
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", "publish.2000000009." SIG, 0, &why), FO_EAUTH);
    static const char *const bad[] = {"", "publish", "publish.", "publish..", "publish.x." SIG,
                                      "publish.2000000000.", "publish.2000000000." SIG "0",
                                      "publish.-5." SIG, "play.2000000000." SIG};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", bad[i], 0, &why), FO_EAUTH);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", NULL, 0, &why), FO_EAUTH);
    /* upper-case hex is the same signature */
    char upper[128];
    strcpy(upper, tok);
    for (char *p = upper + strlen("publish.2000000000."); *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", upper, 0, &why), 0);
}

static void test_find_token(void **state)
{
    (void)state;
    char t[64];
    fo_auth_find_token("a=1&token=s1", "token=a1", "Bearer b1", t, sizeof t);
    assert_string_equal(t, "s1");
    fo_auth_find_token("a=1", "token=a1", "Bearer b1", t, sizeof t);
    assert_string_equal(t, "a1");
    fo_auth_find_token("", "", "Bearer  b1", t, sizeof t);
    assert_string_equal(t, "b1");
    fo_auth_find_token("", "", "Basic xyz", t, sizeof t);
    assert_string_equal(t, "");
}

static void test_gates(void **state)
{
    (void)state;
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    fo_auth_t *a = fo_auth_new(&cfg);
    const char *why;
    /* defaults: publish/play open, operator API loopback only */
    assert_int_equal(fo_auth_check(a, FO_AUTH_PLAY, "live/x", NULL, 0, &why), 0);
    assert_int_equal(fo_auth_api_check(a, "127.0.0.1", "", ""), 0);
    assert_int_equal(fo_auth_api_check(a, "::1", "", ""), 0);
    assert_int_equal(fo_auth_api_check(a, "192.0.2.7", "", ""), FO_EAUTH);
    char msg[128];
    assert_int_equal(fo_auth_hook_admit(a, FO_AUTH_PUBLISH, "live/x", "1.2.3.4", "t", msg, sizeof msg), 0);
    fo_auth_free(a);

    strcpy(cfg.auth_secret, "k");
    strcpy(cfg.api_secret, "opsecret");
    a = fo_auth_new(&cfg);
    assert_int_equal(fo_auth_check(a, FO_AUTH_PUBLISH, "live/cam", NULL, 0, &why), FO_EAUTH);
    assert_int_equal(fo_auth_check(a, FO_AUTH_PUBLISH, "live/cam", "publish.2000000000." SIG, 1000, &why), 0);
    assert_int_equal(fo_auth_api_check(a, "127.0.0.1", "", ""), FO_EAUTH); /* a secret binds loopback too */
    assert_int_equal(fo_auth_api_check(a, "192.0.2.7", "Bearer opsecret", ""), 0);
    assert_int_equal(fo_auth_api_check(a, "192.0.2.7", "", "secret=opsecret"), 0);
    assert_int_equal(fo_auth_api_check(a, "192.0.2.7", "Bearer opsecre", ""), FO_EAUTH);
    assert_int_equal(fo_auth_api_check(a, "192.0.2.7", "Bearer opsecrets", ""), FO_EAUTH);
    fo_auth_stats_t st;
    fo_auth_stats(a, &st);
    assert_int_equal(st.token_ok, 1);
    assert_int_equal(st.token_refused, 1);
    assert_int_equal(st.api_refused, 3);
    fo_auth_free(a);
}

/* The notification worker thread (run under TSan by scripts/test.sh): notifications to a closed
 * port fail fast and are counted; freeing drains the queue and joins the thread. */
static void test_notify_worker(void **state)
{
    (void)state;
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    strcpy(cfg.on_stop, "http://127.0.0.1:1/on_stop");
    strcpy(cfg.on_unpublish, "http://127.0.0.1:1/on_unpublish");
    cfg.hook_timeout_ms = 200;
    fo_auth_t *a = fo_auth_new(&cfg);
    assert_non_null(a);
    for (int i = 0; i < 20; i++)
        fo_auth_hook_ended(a, i % 2 ? FO_AUTH_PLAY : FO_AUTH_PUBLISH, "live/x", "id");
    fo_auth_stats_t st;
    fo_auth_stats(a, &st);
    assert_true(st.notify_failed + st.notify_sent <= 20);
    /* an admission callback that cannot be reached refuses (fail closed) */
    strcpy(cfg.on_play, "http://127.0.0.1:1/on_play");
    char msg[128];
    assert_int_equal(fo_auth_hook_admit(a, FO_AUTH_PLAY, "live/x", "1.2.3.4", "t", msg, sizeof msg), FO_ERR);
    fo_auth_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_find_token),
        cmocka_unit_test(test_gates),
        cmocka_unit_test(test_notify_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
