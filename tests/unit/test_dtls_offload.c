/* SPDX-License-Identifier: MIT */
/* fo_dtls with a handshake pool: server sessions offloaded to two pool threads (their io on a
 * real loop), clients inline, wired by in-memory queues a 1 ms timer pumps. Checks that the
 * handshakes complete with the same keys, that the outcome arrives through result_cb on the
 * loop's thread, and that freeing or closing a session while its job runs is safe (ASan, TSan). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/loop.h"
#include "fanout/pool.h"

#define PAIRS 6
#define QMAX 64

typedef struct {
    uint8_t buf[1500];
    size_t len;
} dgram_t;

typedef struct {
    fo_dtls_t *d;
    dgram_t q[QMAX];
    int n;
    int sent;
    int results, last_result; /* result_cb calls (server), the last code */
    int completed;            /* handshake completions seen (client: fo_dtls_input == 0) */
} side_t;

typedef struct {
    side_t srv, cli;
} pair_t;

typedef struct {
    fo_loop_t *loop;
    fo_pool_t *pool;
    fo_dtls_ctx_t *sctx, *cctx;
    pair_t p[PAIRS];
    int n;
    fo_timer_t pump;
    int ticks;
    pthread_t loop_thread;
    bool off_thread; /* an io callback ran off the loop's thread */
} t_t;

static t_t *g;

static void send_cb(void *user, const uint8_t *buf, size_t len)
{
    side_t *s = user;
    if (!pthread_equal(pthread_self(), g->loop_thread)) g->off_thread = true;
    if (s->n == QMAX || len > sizeof s->q[0].buf) return;
    memcpy(s->q[s->n].buf, buf, len);
    s->q[s->n++].len = len;
    s->sent++;
}

static void timer_cb(void *user, int ms)
{
    (void)user, (void)ms;
    if (!pthread_equal(pthread_self(), g->loop_thread)) g->off_thread = true;
}

static void result_cb(void *user, int rc)
{
    side_t *s = user;
    if (!pthread_equal(pthread_self(), g->loop_thread)) g->off_thread = true;
    s->results++;
    s->last_result = rc;
    if (rc == 0) s->completed++;
}

static bool all_done(void)
{
    for (int i = 0; i < g->n; i++)
        if (g->p[i].srv.d && (!g->p[i].srv.completed || !g->p[i].cli.completed)) return false;
    return true;
}

/* Every ms: what each side queued goes to the other; stop when every live pair is done. */
static void pump_cb(fo_timer_t *t)
{
    (void)t;
    for (int i = 0; i < g->n; i++) {
        pair_t *p = &g->p[i];
        for (int k = 0; k < p->cli.n; k++)
            if (p->srv.d) fo_dtls_input(p->srv.d, p->cli.q[k].buf, p->cli.q[k].len);
        p->cli.n = 0;
        for (int k = 0; k < p->srv.n; k++) {
            bool was = fo_dtls_is_done(p->cli.d);
            if (fo_dtls_input(p->cli.d, p->srv.q[k].buf, p->srv.q[k].len) == 0 && !was)
                p->cli.completed++;
        }
        p->srv.n = 0;
    }
    if ((all_done() && g->ticks > 0) || ++g->ticks > 20000) {
        fo_loop_stop(g->loop);
        return;
    }
    fo_timer_start(g->loop, &g->pump, 1);
}

static void run_until_done(void)
{
    g->ticks = 0;
    fo_timer_start(g->loop, &g->pump, 1);
    assert_int_equal(fo_loop_run(g->loop), 0);
}

static void pair_new(pair_t *p, const char *srv_sees)
{
    memset(p, 0, sizeof *p);
    fo_dtls_io_t sio = {.send_cb = send_cb, .timer_cb = timer_cb, .user = &p->srv,
                        .result_cb = result_cb, .loop = g->loop};
    fo_dtls_io_t cio = {.send_cb = send_cb, .timer_cb = timer_cb, .user = &p->cli};
    p->srv.d = fo_dtls_new(g->sctx, FO_DTLS_SERVER, &sio, "sha-256",
                           srv_sees ? srv_sees : fo_dtls_ctx_fingerprint(g->cctx));
    p->cli.d = fo_dtls_new(g->cctx, FO_DTLS_CLIENT, &cio, "sha-256", fo_dtls_ctx_fingerprint(g->sctx));
    assert_non_null(p->srv.d);
    assert_non_null(p->cli.d);
    assert_int_equal(fo_dtls_start(p->cli.d), 0);
}

static int setup(void **state)
{
    g = calloc(1, sizeof *g);
    g->loop_thread = pthread_self();
    g->loop = fo_loop_new();
    g->pool = fo_pool_new(2, 0);
    g->sctx = fo_dtls_ctx_new(NULL, NULL);
    g->cctx = fo_dtls_ctx_new(NULL, NULL);
    if (!g->loop || !g->pool || !g->sctx || !g->cctx) return -1;
    fo_dtls_ctx_set_pool(g->sctx, g->pool);
    fo_timer_init(&g->pump, pump_cb, NULL);
    *state = g;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < g->n; i++) {
        fo_dtls_free(g->p[i].srv.d);
        fo_dtls_free(g->p[i].cli.d);
    }
    fo_timer_stop(g->loop, &g->pump);
    fo_pool_free(g->pool);
    fo_loop_run_pending(g->loop); /* completions of jobs that outlived their session */
    fo_dtls_ctx_free(g->sctx);
    fo_dtls_ctx_free(g->cctx);
    fo_loop_free(g->loop);
    free(g);
    return 0;
}

static void test_offloaded_handshakes(void **state)
{
    (void)state;
    g->n = PAIRS;
    for (int i = 0; i < PAIRS; i++) pair_new(&g->p[i], NULL);
    run_until_done();
    assert_false(g->off_thread);
    for (int i = 0; i < PAIRS; i++) {
        pair_t *p = &g->p[i];
        assert_int_equal(p->srv.completed, 1);
        assert_int_equal(p->cli.completed, 1);
        assert_int_equal(p->srv.last_result, 0);
        fo_srtp_keys_t sk, ck;
        assert_int_equal(fo_dtls_srtp_keys(p->srv.d, &sk), 0);
        assert_int_equal(fo_dtls_srtp_keys(p->cli.d, &ck), 0);
        assert_memory_equal(sk.local, ck.remote, FO_SRTP_MASTER_LEN);
        assert_memory_equal(sk.remote, ck.local, FO_SRTP_MASTER_LEN);
        /* After the handshake the session is the owner's again: close_notify is synchronous. */
        fo_dtls_close(p->cli.d);
        int before = p->srv.results;
        for (int k = 0; k < p->cli.n; k++)
            assert_int_equal(fo_dtls_input(p->srv.d, p->cli.q[k].buf, p->cli.q[k].len), FO_ECLOSED);
        assert_true(p->cli.n > 0);
        p->cli.n = 0;
        assert_int_equal(p->srv.results, before);
    }
}

/* The owner frees a session whose job is running; the job's completion frees it. */
static void test_free_while_in_job(void **state)
{
    (void)state;
    g->n = 2;
    pair_new(&g->p[0], NULL);
    pair_new(&g->p[1], NULL);
    pair_t *p = &g->p[0];
    assert_true(p->cli.n > 0); /* the ClientHello */
    for (int k = 0; k < p->cli.n; k++)
        assert_int_equal(fo_dtls_input(p->srv.d, p->cli.q[k].buf, p->cli.q[k].len), FO_EAGAIN);
    p->cli.n = 0;
    fo_dtls_free(p->srv.d); /* its job is queued or running */
    p->srv.d = NULL;
    run_until_done(); /* the other pair completes meanwhile */
    assert_int_equal(g->p[1].srv.completed, 1);
    assert_int_equal(p->srv.results, 0);
    assert_int_equal(p->srv.sent, 0);
}

/* Closing during the job: nothing of the job is sent or reported afterwards. */
static void test_close_while_in_job(void **state)
{
    (void)state;
    g->n = 2;
    pair_new(&g->p[0], NULL);
    pair_new(&g->p[1], NULL);
    pair_t *p = &g->p[0];
    for (int k = 0; k < p->cli.n; k++) fo_dtls_input(p->srv.d, p->cli.q[k].buf, p->cli.q[k].len);
    p->cli.n = 0;
    fo_dtls_close(p->srv.d);
    fo_dtls_t *keep = p->srv.d;
    p->srv.d = NULL; /* out of the pump */
    run_until_done();
    assert_int_equal(p->srv.results, 0);
    assert_int_equal(p->srv.sent, 0);
    uint8_t junk[13] = {22, 0xfe, 0xfd};
    assert_int_equal(fo_dtls_input(keep, junk, sizeof junk), FO_ECLOSED);
    p->srv.d = keep;
}

/* A wrong fingerprint is reported through result_cb, once. */
static void test_mismatch_reported(void **state)
{
    (void)state;
    g->n = 1;
    pair_new(&g->p[0],
             "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
    g->ticks = 0;
    fo_timer_start(g->loop, &g->pump, 1);
    /* stops at the tick limit or when the failure came (checked below) */
    while (g->p[0].srv.last_result != FO_EAUTH && g->ticks < 5000) {
        fo_loop_run(g->loop);
        if (g->p[0].srv.last_result != FO_EAUTH) fo_timer_start(g->loop, &g->pump, 1);
    }
    assert_int_equal(g->p[0].srv.last_result, FO_EAUTH);
    assert_int_equal(g->p[0].srv.completed, 0);
    assert_false(g->off_thread);
}

int main(void)
{
    fo_log_set_level(FO_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offloaded_handshakes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_while_in_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_while_in_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mismatch_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
