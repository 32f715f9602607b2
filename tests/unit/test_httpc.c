/* SPDX-License-Identifier: MIT */
/* Outbound HTTP on the loop against a small HTTP/1.1 server in this process (a thread per
 * connection, keep-alive): methods, request headers and bodies, the response's status,
 * headers and body; connection reuse; parallel slow requests while a loop timer keeps
 * ticking; per-request timeouts; cancellation (callbacks never run), also from another
 * request's callback; caps on request and response bodies and on requests in flight; bad
 * input refused; unreachable hosts and dropped connections; freeing with requests in flight. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* --- the test server --- */

static int srv_fd = -1, srv_port;
static atomic_int srv_stop, srv_conns, srv_threads;
static pthread_t srv_th;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const char *extra, const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, len,
                     extra ? extra : "");
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

static void header_value(const char *req, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    char needle[64];
    snprintf(needle, sizeof needle, "\r\n%s:", name);
    const char *p = strcasestr(req, needle);
    if (!p) return;
    p += strlen(needle);
    while (*p == ' ') p++;
    size_t n = strcspn(p, "\r\n");
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* One request on fd: false when the connection should end. */
#define REQ_MAX (1 << 17)
static bool serve_one(int fd, char *req)
{
    size_t n = 0;
    char *eoh = NULL;
    while (!eoh) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (atomic_load(&srv_stop) || poll(&p, 1, 100) < 0) return false;
        if (!p.revents) continue;
        ssize_t r = recv(fd, req + n, REQ_MAX - 1 - n, 0);
        if (r <= 0) return false;
        n += (size_t)r;
        req[n] = '\0';
        eoh = strstr(req, "\r\n\r\n");
    }
    char cl[32];
    header_value(req, "Content-Length", cl, sizeof cl);
    size_t body_off = (size_t)(eoh + 4 - req), want = body_off + (size_t)atoi(cl);
    while (n < want && n < REQ_MAX - 1) {
        ssize_t r = recv(fd, req + n, REQ_MAX - 1 - n, 0);
        if (r <= 0) return false;
        n += (size_t)r;
    }
    req[n] = '\0';
    char method[16] = "", path[256] = "";
    sscanf(req, "%15s %255s", method, path);
    if (strncmp(path, "/echo", 5) == 0) {
        char ct[128], auth[128], out[4096];
        header_value(req, "Content-Type", ct, sizeof ct);
        header_value(req, "Authorization", auth, sizeof auth);
        int len = snprintf(out, sizeof out, "%s %s\n%s\n%s\n%s", method, path, ct, auth, req + body_off);
        respond(fd, 201, "Location: /res/42\r\nETag: \"e1\"\r\nContent-Type: text/plain\r\nX-Test: yes\r\n", out,
                (size_t)len);
    } else if (strncmp(path, "/slow?ms=", 9) == 0) {
        sleep_ms(atoi(path + 9));
        respond(fd, 200, NULL, "slow", 4);
    } else if (strncmp(path, "/big?n=", 7) == 0) {
        size_t len = (size_t)atoi(path + 7);
        char *b = malloc(len);
        memset(b, 'x', len);
        respond(fd, 200, NULL, b, len);
        free(b);
    } else if (strcmp(path, "/close") == 0) {
        return false;
    } else {
        respond(fd, 404, NULL, "no", 2);
    }
    return true;
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *req = malloc(REQ_MAX);
    while (req && serve_one(fd, req)) {
    }
    free(req);
    close(fd);
    atomic_fetch_sub(&srv_threads, 1);
    return NULL;
}

static void *accept_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&srv_stop)) {
        struct pollfd p = {.fd = srv_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0) continue;
        atomic_fetch_add(&srv_conns, 1);
        atomic_fetch_add(&srv_threads, 1);
        pthread_t th;
        if (pthread_create(&th, NULL, conn_main, (void *)(intptr_t)c) != 0) {
            close(c);
            atomic_fetch_sub(&srv_threads, 1);
            continue;
        }
        pthread_detach(th);
    }
    return NULL;
}

static int setup_server(void **state)
{
    (void)state;
    srv_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&a, sizeof a) || listen(srv_fd, 64) ||
        getsockname(srv_fd, (struct sockaddr *)&a, &l))
        return -1;
    srv_port = ntohs(a.sin_port);
    atomic_store(&srv_stop, 0);
    return pthread_create(&srv_th, NULL, accept_main, NULL);
}

static int teardown_server(void **state)
{
    (void)state;
    atomic_store(&srv_stop, 1);
    pthread_join(srv_th, NULL);
    for (int i = 0; i < 200 && atomic_load(&srv_threads) > 0; i++) sleep_ms(10);
    close(srv_fd);
    return 0;
}

/* --- helpers --- */

static fo_loop_t *loop;
static fo_httpc_t *cli;

typedef struct {
    int calls, err, status;
    char body[4096], location[256], location_url[256], etag[64], ctype[64], xtest[16];
    uint64_t elapsed_ms;
    int stop_after; /* fo_loop_stop when this many results arrived in all */
} result_t;

static int results;

static void done_cb(void *user, const fo_httpc_resp_t *r)
{
    result_t *res = user;
    res->calls++;
    res->err = r->err;
    res->status = r->status;
    snprintf(res->body, sizeof res->body, "%s", r->err ? r->error : r->body);
    snprintf(res->location, sizeof res->location, "%s", r->location);
    snprintf(res->location_url, sizeof res->location_url, "%s", r->location_url);
    snprintf(res->etag, sizeof res->etag, "%s", r->etag);
    snprintf(res->ctype, sizeof res->ctype, "%s", r->content_type);
    fo_httpc_header(r, "x-test", res->xtest, sizeof res->xtest);
    res->elapsed_ms = r->elapsed_ms;
    if (++results == res->stop_after) fo_loop_stop(loop);
}

static void fail_cb(fo_timer_t *t)
{
    (void)t;
    fail_msg("the loop ran too long: a callback did not come");
}

/* Runs the loop until fo_loop_stop, failing after max_ms. */
static void run(int max_ms)
{
    fo_timer_t guard;
    fo_timer_init(&guard, fail_cb, NULL);
    fo_timer_start(loop, &guard, (uint64_t)max_ms);
    fo_loop_clear_stop(loop);
    fo_loop_run(loop);
    fo_timer_stop(loop, &guard);
}

static char url_buf[8][256];
static const char *url(int slot, const char *path)
{
    snprintf(url_buf[slot], sizeof url_buf[slot], "http://127.0.0.1:%d%s", srv_port, path);
    return url_buf[slot];
}

static void start(const fo_httpc_opts_t *o)
{
    loop = fo_loop_new();
    cli = fo_httpc_new(loop, o);
    assert_non_null(cli);
    results = 0;
}

static void finish(void)
{
    fo_httpc_free(cli);
    fo_loop_free(loop);
}

/* --- tests --- */

static void test_methods_and_headers(void **state)
{
    (void)state;
    start(NULL);
    result_t post = {.stop_after = 4}, del = {.stop_after = 4}, patch = {.stop_after = 4}, get = {.stop_after = 4};
    fo_httpc_request_t rq = {.url = url(0, "/echo"), .content_type = "application/sdp",
                             .headers = "Authorization: Bearer t0k\r\n", .body = "v=0\r\n", .body_len = 5};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &post, NULL), 0);
    rq = (fo_httpc_request_t){.method = "DELETE", .url = url(1, "/echo/r1")};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &del, NULL), 0);
    rq = (fo_httpc_request_t){.method = "PATCH", .url = url(2, "/echo"), .content_type = "application/trickle-ice-sdpfrag",
                              .body = "a=x", .body_len = 3};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &patch, NULL), 0);
    rq = (fo_httpc_request_t){.url = url(3, "/echo?q=1")};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &get, NULL), 0);
    run(5000);
    assert_int_equal(post.calls, 1);
    assert_int_equal(post.err, 0);
    assert_int_equal(post.status, 201);
    assert_string_equal(post.body, "POST /echo\napplication/sdp\nBearer t0k\nv=0\r\n");
    assert_string_equal(post.location, "/res/42");
    snprintf(url_buf[7], sizeof url_buf[7], "http://127.0.0.1:%d/res/42", srv_port);
    assert_string_equal(post.location_url, url_buf[7]);
    assert_string_equal(post.etag, "\"e1\"");
    assert_string_equal(post.ctype, "text/plain");
    assert_string_equal(post.xtest, "yes");
    assert_string_equal(del.body, "DELETE /echo/r1\n\n\n");
    assert_string_equal(patch.body, "PATCH /echo\napplication/trickle-ice-sdpfrag\n\na=x");
    assert_string_equal(get.body, "GET /echo?q=1\n\n\n");
    finish();
}

/* Each callback sends the next request: five in a row share one connection. */
static int chain_left;
static result_t chain_res;
static void chain_cb(void *user, const fo_httpc_resp_t *r)
{
    (void)user;
    assert_int_equal(r->status, 201);
    if (--chain_left == 0) {
        fo_loop_stop(loop);
        return;
    }
    fo_httpc_request_t rq = {.url = url(0, "/echo")};
    assert_int_equal(fo_httpc_send(cli, &rq, chain_cb, NULL, NULL), 0);
}

static void test_reuse(void **state)
{
    (void)state;
    start(NULL);
    int before = atomic_load(&srv_conns);
    chain_left = 5;
    fo_httpc_request_t rq = {.url = url(0, "/echo")};
    assert_int_equal(fo_httpc_send(cli, &rq, chain_cb, &chain_res, NULL), 0);
    run(5000);
    assert_int_equal(chain_left, 0);
    assert_int_equal(atomic_load(&srv_conns) - before, 1);
    finish();
}

/* Ten requests that each take 1 s complete together (one after another: 10 s), and a 5 ms
 * loop timer keeps ticking meanwhile (a blocking request would stop it for 1 s): nothing
 * blocks the loop. The bounds are generous: the machine is shared. */
static uint64_t tick_last, tick_gap;
static double tick_cpu, tick_gap_cpu; /* this thread's CPU ms: at the last tick, in the largest gap */
static int ticks;
static void tick_cb(fo_timer_t *t)
{
    uint64_t now = fo_loop_update_time(loop);
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    double cpu = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
    if (tick_last && now - tick_last > tick_gap) tick_gap = now - tick_last, tick_gap_cpu = cpu - tick_cpu;
    tick_cpu = cpu;
    tick_last = now;
    ticks++;
    fo_timer_start(loop, t, 5);
}

static void test_parallel_no_block(void **state)
{
    (void)state;
    start(NULL);
    result_t res[10];
    for (int i = 0; i < 10; i++) {
        res[i] = (result_t){.stop_after = 10};
        fo_httpc_request_t rq = {.url = url(0, "/slow?ms=1000")};
        assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &res[i], NULL), 0);
    }
    fo_timer_t tick;
    fo_timer_init(&tick, tick_cb, NULL);
    tick_last = tick_gap = 0;
    ticks = 0;
    fo_timer_start(loop, &tick, 5);
    uint64_t t0 = fo_loop_update_time(loop);
    run(8000);
    uint64_t took = fo_loop_update_time(loop) - t0;
    fo_timer_stop(loop, &tick);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(res[i].status, 200);
        assert_true(res[i].elapsed_ms >= 900);
    }
    printf("10 x 1000 ms in parallel: %llu ms, %d ticks, largest tick gap %llu ms\n",
           (unsigned long long)took, ticks, (unsigned long long)tick_gap);
    assert_true(took < 5000);
    assert_true(tick_gap < 700);
    fo_httpc_stats_t st;
    fo_httpc_stats(cli, &st);
    assert_int_equal(st.answered, 10);
    assert_int_equal(st.in_flight, 0);
    finish();
}

static void test_timeout(void **state)
{
    (void)state;
    start(NULL);
    result_t res = {.stop_after = 1};
    fo_httpc_request_t rq = {.url = url(0, "/slow?ms=3000"), .timeout_ms = 200};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &res, NULL), 0);
    run(2500);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.err, FO_ETIMEDOUT);
    assert_int_equal(res.status, 0);
    assert_true(res.elapsed_ms >= 150 && res.elapsed_ms < 1500);
    fo_httpc_stats_t st;
    fo_httpc_stats(cli, &st);
    assert_int_equal(st.failed, 1);
    finish();
}

/* Cancelled requests never call back: one cancelled right away, one cancelled from another
 * request's callback. */
static fo_httpc_req_t *victim;
static void cancel_other_cb(void *user, const fo_httpc_resp_t *r)
{
    done_cb(user, r);
    fo_httpc_cancel(victim);
    victim = NULL;
}

static void test_cancel(void **state)
{
    (void)state;
    start(NULL);
    result_t a = {.stop_after = 99}, b = {.stop_after = 2}, c = {.stop_after = 2}, d = {.stop_after = 99};
    fo_httpc_req_t *ha;
    fo_httpc_request_t rq = {.url = url(0, "/slow?ms=200")};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &a, &ha), 0);
    fo_httpc_cancel(ha);
    rq.url = url(1, "/slow?ms=400");
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &b, NULL), 0);
    rq.url = url(2, "/echo");
    assert_int_equal(fo_httpc_send(cli, &rq, cancel_other_cb, &c, NULL), 0);
    rq.url = url(3, "/slow?ms=300");
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &d, &victim), 0);
    run(5000);
    assert_int_equal(a.calls, 0);
    assert_int_equal(d.calls, 0);
    assert_int_equal(b.calls, 1);
    assert_int_equal(c.calls, 1);
    fo_httpc_stats_t st;
    fo_httpc_stats(cli, &st);
    assert_int_equal(st.cancelled, 2);
    assert_int_equal(st.in_flight, 0);
    finish();
}

static void test_limits_and_bad_input(void **state)
{
    (void)state;
    fo_httpc_opts_t o = {.max_in_flight = 2, .max_request_body = 100};
    start(&o);
    result_t big = {.stop_after = 2}, ok = {.stop_after = 2}, never = {0};
    fo_httpc_request_t rq = {.url = url(0, "/big?n=100000"), .max_response = 1000};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &big, NULL), 0);
    rq = (fo_httpc_request_t){.url = url(1, "/big?n=1000"), .max_response = 1000};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &ok, NULL), 0);
    rq = (fo_httpc_request_t){.url = url(2, "/echo")};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &never, NULL), FO_EFULL);
    run(5000);
    assert_int_equal(big.err, FO_ETOOBIG);
    assert_int_equal(ok.err, 0);
    assert_int_equal(strlen(ok.body), 1000);

    char body[101] = {0};
    rq = (fo_httpc_request_t){.url = url(2, "/echo"), .body = body, .body_len = sizeof body};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &never, NULL), FO_ETOOBIG);
    static const char *const bad_urls[] = {"ftp://127.0.0.1/", "file:///etc/passwd", "127.0.0.1/x", "http://a b/",
                                           "http://x/\r\nX: y"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
        rq = (fo_httpc_request_t){.url = bad_urls[i]};
        assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &never, NULL), FO_EINVAL);
    }
    static const char *const bad_headers[] = {"NoColon\r\n", ": v\r\n", "Bad Name: v\r\n", "X: a\x01b\r\n"};
    for (size_t i = 0; i < sizeof bad_headers / sizeof *bad_headers; i++) {
        rq = (fo_httpc_request_t){.url = url(2, "/echo"), .headers = bad_headers[i]};
        assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &never, NULL), FO_EINVAL);
    }
    rq = (fo_httpc_request_t){.url = url(2, "/echo"), .method = "get"};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &never, NULL), FO_EINVAL);
    rq = (fo_httpc_request_t){.url = url(2, "/echo"), .content_type = "a\r\nX-Injected: 1"};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &never, NULL), FO_EINVAL);
    assert_int_equal(never.calls, 0);
    finish();
}

static void test_failures(void **state)
{
    (void)state;
    start(NULL);
    /* a port nobody listens on: bind one, note it, close it */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
    close(s);
    char closed[64];
    snprintf(closed, sizeof closed, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    result_t refused = {.stop_after = 2}, dropped = {.stop_after = 2};
    fo_httpc_request_t rq = {.url = closed, .timeout_ms = 3000};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &refused, NULL), 0);
    rq = (fo_httpc_request_t){.url = url(0, "/close"), .timeout_ms = 3000};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &dropped, NULL), 0);
    run(5000);
    assert_int_equal(refused.err, FO_EUNREACH);
    assert_true(refused.elapsed_ms < 1000);
    assert_int_equal(dropped.err, FO_ECLOSED);
    finish();
}

/* Freeing the client with requests in flight cancels them: no callback, no leak (ASan). */
static void stop_cb(fo_timer_t *t) { fo_loop_stop(t->user); }

static void test_free_in_flight(void **state)
{
    (void)state;
    start(NULL);
    result_t never = {0};
    fo_httpc_request_t rq = {.url = url(0, "/slow?ms=300")};
    for (int i = 0; i < 3; i++) assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &never, NULL), 0);
    fo_timer_t stop; /* let the connections open and the requests go out, then free */
    fo_timer_init(&stop, stop_cb, loop);
    fo_timer_start(loop, &stop, 50);
    run(2000);
    finish();
    assert_int_equal(never.calls, 0);
}

/* HTTPS to our own TLS server (a self-signed certificate for 127.0.0.1): refused without
 * trusting it (FO_ECRYPTO), answered with ca_file pointing at it. */
static bool tls_handler(void *user, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    (void)user;
    resp->status = 200;
    resp->body = strdup(req->tls ? "over tls" : "plain");
    resp->body_len = strlen(resp->body);
    return true;
}

static void test_https(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_httpc.XXXXXX", cert[64], key[64], err[256], u[128];
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    assert_int_equal(fo_tls_cert_ensure(cert, key, NULL, 0, err, sizeof err), 0);
    start(NULL);
    fo_http_t *h = fo_http_new_tls(loop, "127.0.0.1", 0, "/nonexistent", 4096, cert, key, FO_CONFIG_TLS_PRIORITIES, tls_handler, NULL, NULL);
    assert_non_null(h);
    snprintf(u, sizeof u, "https://127.0.0.1:%d/x", fo_http_port(h));
    result_t untrusted = {.stop_after = 2}, trusted = {.stop_after = 1};
    /* trusted alone first, with a 5 ms ticker: how long a new TLS connection holds the loop */
    fo_httpc_request_t rq = {.url = u, .ca_file = cert};
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &trusted, NULL), 0);
    fo_timer_t tick;
    fo_timer_init(&tick, tick_cb, NULL);
    tick_gap = 0;
    tick_last = fo_loop_update_time(loop);
    fo_timer_start(loop, &tick, 5);
    run(30000);
    uint64_t gap_own = tick_gap;
    double cpu_own = tick_gap_cpu;
    tick_gap = 0;
    tick_last = fo_loop_update_time(loop);
    rq.ca_file = NULL; /* the system's trust: the server's certificate is not in it */
    assert_int_equal(fo_httpc_send(cli, &rq, done_cb, &untrusted, NULL), 0);
    run(30000);
    fo_timer_stop(loop, &tick);
    printf("https: a new TLS connection held the loop for at most %llu ms (%.1f ms of CPU) with ca_file, "
           "%llu ms (%.1f ms of CPU) with the system's certificates; the handshake included\n",
           (unsigned long long)gap_own, cpu_own, (unsigned long long)tick_gap, tick_gap_cpu);
    assert_int_equal(untrusted.err, FO_ECRYPTO);
    assert_int_equal(trusted.err, 0);
    assert_int_equal(trusted.status, 200);
    assert_string_equal(trusted.body, "over tls");
    fo_http_free(h);
    finish();
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_methods_and_headers),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_parallel_no_block),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_limits_and_bad_input),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_free_in_flight),
        cmocka_unit_test(test_https),
    };
    return cmocka_run_group_tests(tests, setup_server, teardown_server);
}
