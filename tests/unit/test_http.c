/* SPDX-License-Identifier: MIT */
/* The HTTP server on our loop. A silent TCP client on the HTTPS server neither freezes the
 * loop nor keeps MHD spinning (it did both: MHD_USE_TURBO with TLS said "run me again" for as
 * long as the client stayed silent, and the 0 ms timer re-armed inside the timer pass). The
 * deferred answers, on one loop with the outbound client (httpc) as the HTTP client: twenty requests answered 300 ms later all arrive together while an ordinary
 * request is answered at once; an answer given inside the handler; the timeout (default 504,
 * or the owner's own answer); a client that leaves while its request waits (the owner hears
 * CLOSED, fo_http_defer_client_gone sees it, nothing is left behind); stopping the server
 * with a request waiting (SHUTDOWN, no MHD panic, no leak). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fanout/config.h"
#include "fanout/common.h"
#include "fanout/http.h"
#include "fanout/httpc.h"
#include "fanout/loop.h"
#include "fanout/tls_cert.h"

static fo_loop_t *loop;
static fo_http_t *srv;
static fo_httpc_t *cli;

/* --- the server side: a handler that defers --- */

typedef struct {
    fo_http_defer_t *d;
    fo_timer_t timer;
    char body[64];
} later_t;

static int ended[3];          /* owner callbacks by fo_http_defer_end_t */
static fo_http_defer_t *held; /* /hold: answered by nobody but the test */
static bool answer_on_timeout;

static void text(fo_http_resp_t *resp, int status, const char *body)
{
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain");
    resp->body = strdup(body);
    resp->body_len = strlen(body);
}

static void later_fire(fo_timer_t *t)
{
    later_t *l = t->user;
    fo_http_resp_t r = {0};
    text(&r, 200, l->body);
    fo_http_defer_answer(l->d, &r);
    assert_null(r.body);
    free(l);
}

static void later_end(void *user, fo_http_defer_t *d, fo_http_defer_end_t why)
{
    (void)d;
    ended[why]++;
    later_t *l = user;
    if (l) {
        fo_timer_stop(loop, &l->timer);
        free(l);
    }
}

static void hold_end(void *user, fo_http_defer_t *d, fo_http_defer_end_t why)
{
    (void)user;
    ended[why]++;
    if (why == FO_HTTP_DEFER_TIMEOUT && answer_on_timeout) {
        fo_http_resp_t r = {0};
        text(&r, 503, "owner says busy");
        fo_http_defer_answer(d, &r);
    }
    if (d == held) held = NULL;
}

static bool handler(void *user, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    (void)user;
    if (strcmp(req->path, "/later") == 0) {
        later_t *l = calloc(1, sizeof *l);
        snprintf(l->body, sizeof l->body, "later %s", req->query);
        l->d = fo_http_defer(req, 5000, later_end, l);
        assert_non_null(l->d);
        assert_null(fo_http_defer(req, 5000, later_end, l)); /* once per request */
        fo_timer_init(&l->timer, later_fire, l);
        fo_timer_start(loop, &l->timer, 300);
        return true;
    }
    if (strcmp(req->path, "/inside") == 0) {
        fo_http_defer_t *d = fo_http_defer(req, 5000, hold_end, NULL);
        fo_http_resp_t r = {0};
        text(&r, 202, "answered inside");
        fo_http_defer_answer(d, &r);
        return true;
    }
    if (strcmp(req->path, "/hold") == 0) {
        held = fo_http_defer(req, strcmp(req->query, "short") == 0 ? 100 : 10000, hold_end, NULL);
        assert_non_null(held);
        return true;
    }
    text(resp, 200, "now");
    return true;
}

/* --- the client side --- */

typedef struct {
    int status, calls;
    char body[128];
    uint64_t at_ms;
} got_t;

static int pending_replies;
static uint64_t t0;

static void got_cb(void *user, const fo_httpc_resp_t *r)
{
    got_t *g = user;
    g->calls++;
    g->status = r->status;
    snprintf(g->body, sizeof g->body, "%s", r->err ? r->error : r->body);
    g->at_ms = fo_loop_update_time(loop) - t0;
    if (--pending_replies == 0) fo_loop_stop(loop);
}

static void get(const char *path, got_t *g)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", fo_http_port(srv), path);
    fo_httpc_request_t rq = {.url = url, .timeout_ms = 5000};
    assert_int_equal(fo_httpc_send(cli, &rq, got_cb, g, NULL), 0);
    pending_replies++;
}

static void guard_cb(fo_timer_t *t)
{
    (void)t;
    fail_msg("no answer in time");
}
static void stop_cb(fo_timer_t *t) { fo_loop_stop(t->user); }

static void run(int max_ms)
{
    fo_timer_t guard;
    fo_timer_init(&guard, guard_cb, NULL);
    fo_timer_start(loop, &guard, (uint64_t)max_ms);
    fo_loop_clear_stop(loop);
    fo_loop_run(loop);
    fo_timer_stop(loop, &guard);
}

static void run_for(int ms)
{
    fo_timer_t t;
    fo_timer_init(&t, stop_cb, loop);
    fo_timer_start(loop, &t, (uint64_t)ms);
    fo_loop_clear_stop(loop);
    fo_loop_run(loop);
    fo_timer_stop(loop, &t); /* the loop may have stopped for another reason */
}

/* Runs the loop until n requests wait deferred (or fails after 5 s: a loaded machine is slow). */
static void wait_deferred(size_t n)
{
    for (int i = 0; i < 250 && fo_http_deferred(srv) < n; i++) run_for(20);
    assert_int_equal(fo_http_deferred(srv), n);
}

static int setup(void **state)
{
    (void)state;
    loop = fo_loop_new();
    srv = fo_http_new(loop, "127.0.0.1", 0, "/nonexistent", 65536, handler, NULL, NULL);
    cli = fo_httpc_new(loop, NULL);
    memset(ended, 0, sizeof ended);
    pending_replies = 0;
    answer_on_timeout = false;
    t0 = fo_loop_update_time(loop);
    return srv && cli ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fo_httpc_free(cli);
    fo_http_free(srv);
    fo_loop_free(loop);
    return 0;
}

/* --- tests --- */

static void test_many_deferred(void **state)
{
    (void)state;
    got_t later[20], now = {0};
    for (int i = 0; i < 20; i++) {
        char path[32];
        snprintf(path, sizeof path, "/later?i=%d", i);
        later[i] = (got_t){0};
        get(path, &later[i]);
    }
    wait_deferred(20);
    uint64_t asked = fo_loop_update_time(loop) - t0;
    get("/now", &now);
    run(5000);
    if (now.status != 200) fail_msg("/now: %d %s", now.status, now.body);
    printf("an ordinary request beside 20 deferred ones: answered after %llu ms; the deferred "
           "ones between %llu and %llu ms\n", (unsigned long long)(now.at_ms - asked),
           (unsigned long long)later[0].at_ms, (unsigned long long)later[19].at_ms);
    assert_true(now.at_ms - asked < 1000); /* generous: the machine is shared */
    for (int i = 0; i < 20; i++) {
        char want[32];
        snprintf(want, sizeof want, "later i=%d", i);
        assert_int_equal(later[i].status, 200);
        assert_string_equal(later[i].body, want);
        assert_true(later[i].at_ms >= 280 && later[i].at_ms < 3000);
    }
    assert_int_equal(fo_http_deferred(srv), 0);
    assert_int_equal(ended[0] + ended[1] + ended[2], 0);
}

static void test_answer_inside_handler(void **state)
{
    (void)state;
    got_t g = {0};
    get("/inside", &g);
    run(5000);
    assert_int_equal(g.status, 202);
    assert_string_equal(g.body, "answered inside");
    assert_int_equal(fo_http_deferred(srv), 0);
}

static void test_timeout(void **state)
{
    (void)state;
    got_t plain = {0}, own = {0};
    get("/hold?short", &plain);
    run(5000);
    assert_int_equal(plain.status, 504);
    answer_on_timeout = true;
    get("/hold?short", &own);
    run(5000);
    assert_int_equal(own.status, 503);
    assert_string_equal(own.body, "owner says busy");
    assert_int_equal(ended[FO_HTTP_DEFER_TIMEOUT], 2);
    assert_int_equal(fo_http_deferred(srv), 0);
}

static void test_client_leaves(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fo_http_port(srv)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    const char req[] = "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send(s, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    wait_deferred(1);
    assert_non_null(held);
    assert_false(fo_http_defer_client_gone(held));
    close(s);
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    assert_true(fo_http_defer_client_gone(held)); /* before the loop saw the hang-up */
    run_for(100);
    assert_null(held);
    assert_int_equal(ended[FO_HTTP_DEFER_CLOSED], 1);
    assert_int_equal(fo_http_deferred(srv), 0);
    /* the server goes on */
    got_t g = {0};
    get("/now", &g);
    run(5000);
    assert_int_equal(g.status, 200);
}

static void test_shutdown_with_waiting(void **state)
{
    (void)state;
    got_t g = {0}, l = {0};
    get("/hold", &g);
    get("/later", &l);
    wait_deferred(2);
    fo_http_free(srv);
    srv = NULL;
    assert_int_equal(ended[FO_HTTP_DEFER_SHUTDOWN], 2);
    assert_null(held);
    run(5000); /* the client hears the connection end */
    assert_int_equal(g.calls, 1);
    assert_int_equal(l.calls, 1);
}

static void test_silent_tls_client(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_http.XXXXXX", cert[64], key[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    assert_int_equal(fo_tls_cert_ensure(cert, key, NULL, 0, err, sizeof err), 0);
    fo_http_t *tls = fo_http_new_tls(loop, "127.0.0.1", 0, "/nonexistent", 4096, cert, key, FO_CONFIG_TLS_PRIORITIES, handler, NULL, NULL);
    assert_non_null(tls);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fo_http_port(tls)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    run_for(100); /* accepted; the handshake waits for a ClientHello that never comes */
    uint64_t runs = fo_http_runs(tls);
    got_t g = {0};
    get("/now", &g); /* on the plain server, meanwhile */
    run(3000);
    assert_int_equal(g.status, 200);
    run_for(400);
    uint64_t spun = fo_http_runs(tls) - runs;
    printf("a silent TLS client: the HTTPS daemon ran %llu times in ~0.5 s\n", (unsigned long long)spun);
    assert_true(spun < 50);
    close(s);
    fo_http_free(tls);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_deferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_inside_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_with_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_tls_client, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
