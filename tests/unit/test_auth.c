/* SPDX-License-Identifier: MIT */
/* Auth: tokens agree with scripts/make-token.sh (an openssl-computed vector), are bound to the
 * action, the stream and the secret, expire, and survive tampering; one spelling per token (no
 * upper-case hex, no sign or leading zero in the expiry); a maximum lifetime; short secrets warned
 * about; token lookup order; the operator API gate with and without a secret; everything off by
 * default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fanout/auth.h"
#include "fanout/common.h"
#include "fanout/log.h"

#define SIG "8aea5134e0ebfdfff6d5bc07c102c3a1b4a5388711e2b4db18a9044327191fce"

static void test_token(void **state)
{
    (void)state;
    char tok[128];
    assert_int_equal(fo_auth_make_token("k", FO_AUTH_PUBLISH, "live/cam", 2000000000, tok, sizeof tok),
                     (int)strlen("publish.2000000000." SIG));
    assert_string_equal(tok, "publish.2000000000." SIG);
    const char *why = NULL;
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", tok, 1999999999, 0, &why), 0);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PLAY, "live/cam", tok, 0, 0, &why), FO_EAUTH);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/other", tok, 0, 0, &why), FO_EAUTH);
    assert_int_equal(fo_auth_token_verify("k2", FO_AUTH_PUBLISH, "live/cam", tok, 0, 0, &why), FO_EAUTH);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", tok, 2000000001, 0, &why), FO_EAUTH);
    assert_string_equal(why, "token expired");
    /* an extended expiry with the old signature fails */
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", "publish.2000000009." SIG, 0, 0, &why), FO_EAUTH);
    static const char *const bad[] = {"", "publish", "publish.", "publish..", "publish.x." SIG,
                                      "publish.2000000000.", "publish.2000000000." SIG "0",
                                      "publish.-5." SIG, "play.2000000000." SIG};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", bad[i], 0, 0, &why), FO_EAUTH);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", NULL, 0, 0, &why), FO_EAUTH);
}

/* One spelling per token (issue 15 item 15): the signature in lower-case hex only, the expiry in
 * plain digits only; anything else is malformed even when its MAC would verify. */
static void test_token_strict(void **state)
{
    (void)state;
    const char *why = NULL;
    char t[160];
    /* upper-case hex */
    strcpy(t, "publish.2000000000." SIG);
    for (char *p = t + strlen("publish.2000000000."); *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", t, 0, 0, &why), FO_EAUTH);
    assert_non_null(strstr(why, "malformed"));
    /* bytes that OR 0x20 turns into digits ('\x10' | 0x20 == '0') */
    strcpy(t, "publish.2000000000." SIG);
    for (char *p = t + strlen("publish.2000000000."); *p; p++)
        if (*p >= '0' && *p <= '9') *p = (char)(*p - 0x20);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", t, 0, 0, &why), FO_EAUTH);
    /* expiries the old strtoll parse read as 2000000000, and other spellings */
    static const char *const exp[] = {"+2000000000", "02000000000", " 2000000000", "2000000000 ", "2e9",
                                      "0x77359400", "-2000000000", "0", "1234567890123456789"};
    for (size_t i = 0; i < sizeof exp / sizeof *exp; i++) {
        snprintf(t, sizeof t, "publish.%s.%s", exp[i], SIG);
        assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", t, 0, 0, &why), FO_EAUTH);
    }
    /* the token as written passes */
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PUBLISH, "live/cam", "publish.2000000000." SIG, 0, 0, &why), 0);
}

/* auth.max_token_ttl: a correctly signed token that expires too far ahead is refused. */
static void test_token_max_ttl(void **state)
{
    (void)state;
    const char *why = NULL;
    char tok[128];
    const int64_t now = 1800000000, ttl = 31622400;
    assert_true(fo_auth_make_token("k", FO_AUTH_PLAY, "live/cam", now + ttl, tok, sizeof tok) > 0);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PLAY, "live/cam", tok, now, ttl, &why), 0);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PLAY, "live/cam", tok, now - 1, ttl, &why), FO_EAUTH);
    assert_non_null(strstr(why, "max_token_ttl"));
    /* the review's token for the year 33658 */
    assert_true(fo_auth_make_token("k", FO_AUTH_PLAY, "live/cam", 999999999999LL, tok, sizeof tok) > 0);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PLAY, "live/cam", tok, now, ttl, &why), FO_EAUTH);
    assert_int_equal(fo_auth_token_verify("k", FO_AUTH_PLAY, "live/cam", tok, now, 0, &why), 0);
    /* through the gate: the configured maximum (366 days by default) */
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    assert_int_equal(cfg.max_token_ttl, ttl);
    strcpy(cfg.auth_secret, "k");
    fo_auth_t *a = fo_auth_new(&cfg);
    assert_int_equal(fo_auth_check(a, FO_AUTH_PLAY, "live/cam", tok, now, &why), FO_EAUTH);
    cfg.max_token_ttl = 315360000;
    assert_int_equal(fo_auth_check(a, FO_AUTH_PLAY, "live/cam", tok, 999999999999LL - 315360000, &why), 0);
    fo_auth_free(a);
}

/* Secrets shorter than 16 bytes are warned about at start; 16 bytes and more, or none, are not. */
static void test_short_secret_warning(void **state)
{
    (void)state;
    char path[] = "/tmp/fo-test-auth-log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fo_log_open(path), 0);
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    strcpy(cfg.auth_secret, "short");
    strcpy(cfg.api_secret, "0123456789abcdef");
    fo_auth_free(fo_auth_new(&cfg));
    strcpy(cfg.auth_secret, "");
    strcpy(cfg.api_secret, "fifteen-bytes!!");
    fo_auth_free(fo_auth_new(&cfg));
    assert_int_equal(fo_log_open(NULL), 0);
    char text[4096] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(path);
    assert_non_null(strstr(text, "WARN  auth.secret is 5 bytes: use at least 16 random bytes"));
    assert_non_null(strstr(text, "WARN  auth.api_secret is 15 bytes"));
    assert_null(strstr(text, "is 16 bytes"));
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
    assert_int_equal(fo_auth_check(a, FO_AUTH_PUBLISH, "live/cam", "publish.2000000000." SIG, 1999999000, &why), 0);
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
        cmocka_unit_test(test_token_strict),
        cmocka_unit_test(test_token_max_ttl),
        cmocka_unit_test(test_short_secret_warning),
        cmocka_unit_test(test_find_token),
        cmocka_unit_test(test_gates),
        cmocka_unit_test(test_notify_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
