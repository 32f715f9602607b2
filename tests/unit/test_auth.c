/* SPDX-License-Identifier: MIT */
/* Auth: tokens agree with scripts/make-token.sh (an openssl-computed vector), are bound to the
 * action, the stream and the secret, expire, and survive tampering; one spelling per token (no
 * upper-case hex, no sign or leading zero in the expiry); a maximum lifetime; short secrets warned
 * about; token lookup order; the
 * operator API gate with and without a secret; everything off by default. The callbacks,
 * against a callback server on the same loop (our own http server, answering later through
 * fo_http_defer): SRS's body with the server's id and the request's param; allow, refuse,
 * non-2xx, unreachable and timeout verdicts, all asynchronous; the cap on callbacks in flight;
 * cancellation; the latency histogram; end notifications queued, a few in flight at once, and
 * dropped and counted past the queue. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fanout/auth.h"
#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/http.h"
#include "fanout/httpc.h"
#include "fanout/loop.h"

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
    fo_auth_t *a = fo_auth_new(&cfg, NULL);
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
    fo_auth_free(fo_auth_new(&cfg, NULL));
    strcpy(cfg.auth_secret, "");
    strcpy(cfg.api_secret, "fifteen-bytes!!");
    fo_auth_free(fo_auth_new(&cfg, NULL));
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
    fo_auth_t *a = fo_auth_new(&cfg, NULL);
    const char *why;
    /* defaults: publish/play open, operator API loopback only */
    assert_int_equal(fo_auth_check(a, FO_AUTH_PLAY, "live/x", NULL, 0, &why), 0);
    assert_int_equal(fo_auth_api_check(a, "127.0.0.1", "", ""), 0);
    assert_int_equal(fo_auth_api_check(a, "::1", "", ""), 0);
    assert_int_equal(fo_auth_api_check(a, "192.0.2.7", "", ""), FO_EAUTH);
    assert_false(fo_auth_hook_configured(a, FO_AUTH_PUBLISH));
    fo_auth_hook_t *h;
    fo_auth_hook_req_t q = {.action = FO_AUTH_PUBLISH, .stream_key = "live/x"};
    assert_int_equal(fo_auth_hook_ask(a, &q, NULL, NULL, &h), FO_ENOTFOUND);
    fo_auth_free(a);

    strcpy(cfg.auth_secret, "k");
    strcpy(cfg.api_secret, "opsecret");
    a = fo_auth_new(&cfg, NULL);
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

/* --- the callbacks, against a callback server on the same loop --- */

static fo_loop_t *loop;
static fo_http_t *hook_srv;
static fo_httpc_t *cli;
static char last_body[2048];
static int hook_calls, notify_calls, notify_now, notify_most;

typedef struct {
    fo_http_defer_t *d;
    fo_timer_t t;
    int status;
    const char *body;
    bool notify;
} slow_t;

static void reply(fo_http_defer_t *d, int status, const char *body)
{
    fo_http_resp_t r = {.status = status};
    r.body = strdup(body);
    r.body_len = strlen(body);
    fo_http_defer_answer(d, &r);
}

static void slow_fire(fo_timer_t *t)
{
    slow_t *s = t->user;
    if (s->notify) notify_now--;
    reply(s->d, s->status, s->body);
    free(s);
}

static void slow_end(void *user, fo_http_defer_t *d, fo_http_defer_end_t why)
{
    (void)d, (void)why;
    slow_t *s = user;
    if (s->notify) notify_now--;
    fo_timer_stop(loop, &s->t);
    free(s);
}

/* /on_play and /on_publish answer by stream name: "deny" {"code":403}, "e500" HTTP 500,
 * "slow" after 1 s; else {"code":0} after 50 ms. /on_stop counts and answers after 30 ms. */
static bool hook_handler(void *user, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    (void)user, (void)resp;
    slow_t *s = calloc(1, sizeof *s);
    s->status = 200;
    s->body = "{\"code\":0}";
    int ms = 50;
    if (strcmp(req->path, "/on_stop") == 0) {
        s->notify = true;
        notify_calls++;
        if (++notify_now > notify_most) notify_most = notify_now;
        ms = 30;
    } else {
        hook_calls++;
        snprintf(last_body, sizeof last_body, "%s", req->body);
        if (strstr(req->body, "\"stream\":\"deny\"")) s->body = "{\"code\":403}";
        if (strstr(req->body, "\"stream\":\"e500\"")) s->status = 500;
        if (strstr(req->body, "\"stream\":\"slow\"")) ms = 1000;
    }
    s->d = fo_http_defer(req, 5000, slow_end, s);
    fo_timer_init(&s->t, slow_fire, s);
    fo_timer_start(loop, &s->t, (uint64_t)ms);
    return true;
}

static int verdicts, last_verdict, waiting_for;
static void verdict_cb(void *user, int verdict, const char *msg)
{
    (void)msg;
    *(int *)user = verdict;
    last_verdict = verdict;
    if (++verdicts == waiting_for) fo_loop_stop(loop);
}

static void guard_cb(fo_timer_t *t)
{
    (void)t;
    fail_msg("no verdict in time");
}

static void run_until(int n, int max_ms)
{
    waiting_for = n;
    fo_timer_t guard;
    fo_timer_init(&guard, guard_cb, NULL);
    fo_timer_start(loop, &guard, (uint64_t)max_ms);
    fo_loop_clear_stop(loop);
    fo_loop_run(loop);
    fo_timer_stop(loop, &guard);
}

static void hooks_config(fo_config_t *cfg)
{
    fo_config_defaults(cfg);
    int port = fo_http_port(hook_srv);
    snprintf(cfg->on_play, sizeof cfg->on_play, "http://127.0.0.1:%d/on_play", port);
    snprintf(cfg->on_stop, sizeof cfg->on_stop, "http://127.0.0.1:%d/on_stop", port);
    /* on_publish: a port nobody listens on */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    snprintf(cfg->on_publish, sizeof cfg->on_publish, "http://127.0.0.1:%d/on_publish", ntohs(a.sin_port));
    cfg->hook_timeout_ms = 300;
    cfg->hook_max_in_flight = 3;
}

static int hooks_setup(void **state)
{
    (void)state;
    loop = fo_loop_new();
    hook_srv = fo_http_new(loop, "127.0.0.1", 0, "/nonexistent", 65536, hook_handler, NULL, NULL);
    cli = fo_httpc_new(loop, NULL);
    hook_calls = notify_calls = notify_now = notify_most = verdicts = 0;
    return loop && hook_srv && cli ? 0 : -1;
}

static int hooks_teardown(void **state)
{
    (void)state;
    fo_httpc_free(cli);
    fo_http_free(hook_srv);
    fo_loop_free(loop);
    return 0;
}

static fo_auth_hook_req_t play(const char *key)
{
    return (fo_auth_hook_req_t){.action = FO_AUTH_PLAY, .stream_key = key, .client_ip = "192.0.2.9",
                                .client_id = "srvmade0123456789", .param = "?token=abc&x=1"};
}

static void test_hook_verdicts(void **state)
{
    (void)state;
    fo_config_t cfg;
    hooks_config(&cfg);
    fo_auth_t *a = fo_auth_new(&cfg, cli);
    assert_true(fo_auth_hook_configured(a, FO_AUTH_PLAY));
    int ok = 1, deny = 1, e500 = 1, down = 1, slow = 1;
    fo_auth_hook_t *h;
    fo_auth_hook_req_t q = play("live/ok");
    assert_int_equal(fo_auth_hook_ask(a, &q, verdict_cb, &ok, &h), 0);
    assert_int_equal(ok, 1); /* never inside the call */
    q = play("live/deny");
    assert_int_equal(fo_auth_hook_ask(a, &q, verdict_cb, &deny, &h), 0);
    q = play("live/e500");
    assert_int_equal(fo_auth_hook_ask(a, &q, verdict_cb, &e500, &h), 0);
    /* the cap: three in flight */
    q = play("live/x");
    assert_int_equal(fo_auth_hook_ask(a, &q, verdict_cb, &down, &h), FO_EFULL);
    run_until(3, 3000);
    assert_int_equal(ok, 0);
    assert_int_equal(deny, FO_EAUTH);
    assert_int_equal(e500, FO_EAUTH);
    assert_non_null(strstr(last_body, "\"action\":\"on_play\""));
    assert_non_null(strstr(last_body, "\"client_id\":\"srvmade0123456789\""));
    assert_non_null(strstr(last_body, "\"param\":\"?token=abc&x=1\""));
    assert_non_null(strstr(last_body, "\"ip\":\"192.0.2.9\""));
    assert_non_null(strstr(last_body, "\"app\":\"live\""));
    /* unreachable and too slow: refused (503), fail closed */
    q = play("live/slow");
    assert_int_equal(fo_auth_hook_ask(a, &q, verdict_cb, &slow, &h), 0);
    q = (fo_auth_hook_req_t){.action = FO_AUTH_PUBLISH, .stream_key = "live/p"};
    assert_int_equal(fo_auth_hook_ask(a, &q, verdict_cb, &down, &h), 0);
    verdicts = 0;
    run_until(2, 3000);
    assert_int_equal(down, FO_EUNREACH);
    assert_int_equal(slow, FO_EUNREACH);
    fo_auth_stats_t st;
    fo_auth_stats(a, &st);
    assert_int_equal(st.hook_allowed[FO_AUTH_PLAY], 1);
    assert_int_equal(st.hook_refused[FO_AUTH_PLAY], 2);
    assert_int_equal(st.hook_timeout[FO_AUTH_PLAY], 1);
    assert_int_equal(st.hook_failed[FO_AUTH_PUBLISH], 1);
    assert_int_equal(st.hook_busy[FO_AUTH_PLAY], 1);
    assert_int_equal(st.hook_in_flight, 0);
    uint64_t n = 0;
    for (int i = 0; i <= FO_AUTH_HOOK_BUCKETS; i++) n += st.hook_latency[FO_AUTH_PLAY][i];
    assert_int_equal(n, 4);
    /* the slow one took its 300 ms timeout: in the 0.5 s bucket (bounds 0.25 < t <= 0.5) */
    assert_int_equal(st.hook_latency[FO_AUTH_PLAY][6], 1);
    assert_true(st.hook_latency_ms_sum[FO_AUTH_PLAY] >= 300);
    fo_auth_free(a);
}

/* A cancelled callback never reports; freeing auth cancels what is left. */
static void test_hook_cancel(void **state)
{
    (void)state;
    fo_config_t cfg;
    hooks_config(&cfg);
    cfg.hook_timeout_ms = 2000;
    fo_auth_t *a = fo_auth_new(&cfg, cli);
    int v1 = 1, v2 = 1, v3 = 1;
    fo_auth_hook_t *h1, *h2, *h3;
    fo_auth_hook_req_t q = play("live/slow");
    assert_int_equal(fo_auth_hook_ask(a, &q, verdict_cb, &v1, &h1), 0);
    assert_int_equal(fo_auth_hook_ask(a, &q, verdict_cb, &v2, &h2), 0);
    q = play("live/ok");
    assert_int_equal(fo_auth_hook_ask(a, &q, verdict_cb, &v3, &h3), 0);
    fo_auth_hook_cancel(h1);
    run_until(1, 3000); /* live/ok */
    assert_int_equal(v3, 0);
    fo_auth_free(a); /* h2 still in flight */
    assert_int_equal(v1, 1);
    assert_int_equal(v2, 1);
}

static void stop_cb(fo_timer_t *t) { fo_loop_stop(t->user); }

/* End notifications: all delivered, never more than a few at once; past the queue dropped. */
static void test_notifications(void **state)
{
    (void)state;
    fo_config_t cfg;
    hooks_config(&cfg);
    fo_auth_t *a = fo_auth_new(&cfg, cli);
    for (int i = 0; i < 20; i++) fo_auth_hook_ended(a, FO_AUTH_PLAY, "live/x", "id");
    assert_int_equal(fo_auth_notify_pending(a), 20);
    fo_timer_t t;
    fo_timer_init(&t, stop_cb, loop);
    for (int i = 0; i < 100 && fo_auth_notify_pending(a); i++) {
        fo_timer_start(loop, &t, 20);
        fo_loop_clear_stop(loop);
        fo_loop_run(loop);
    }
    fo_auth_stats_t st;
    fo_auth_stats(a, &st);
    assert_int_equal(st.notify_sent, 20);
    assert_int_equal(notify_calls, 20);
    assert_true(notify_most <= 8);
    /* past the queue (1024 waiting) they are dropped and counted */
    for (int i = 0; i < 1100; i++) fo_auth_hook_ended(a, FO_AUTH_PLAY, "live/x", "id");
    fo_auth_stats(a, &st);
    assert_int_equal(st.notify_dropped, 1100 - 1024 - 8);
    assert_int_equal(fo_auth_notify_pending(a), 1024 + 8);
    fo_auth_free(a); /* drops the rest: no leak */
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
        cmocka_unit_test_setup_teardown(test_hook_verdicts, hooks_setup, hooks_teardown),
        cmocka_unit_test_setup_teardown(test_hook_cancel, hooks_setup, hooks_teardown),
        cmocka_unit_test_setup_teardown(test_notifications, hooks_setup, hooks_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
