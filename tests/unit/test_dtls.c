/* SPDX-License-Identifier: MIT */
/* fo_dtls: a server and a client session in one process, wired by in-memory datagram queues
 * that a test can drop from; timers are driven by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"

#define QMAX 64

typedef struct {
    uint8_t buf[2048];
    size_t len;
} dgram_t;

typedef struct peer {
    fo_dtls_t *d;
    dgram_t q[QMAX]; /* what this peer sent, not yet delivered */
    int n;
    int sent;     /* datagrams sent in total */
    int timer_ms; /* last value given to timer_cb (-1 cancelled) */
    int timer_calls;
    int done_rc; /* times fo_dtls_input returned 0 and completed the handshake */
    int last_rc; /* last non-FO_EAGAIN return of fo_dtls_input */
} peer_t;

static void send_cb(void *user, const uint8_t *buf, size_t len)
{
    peer_t *p = user;
    assert_true(len <= sizeof p->q[0].buf);
    assert_true(len <= 1200); /* the MTU we set */
    assert_true(p->n < QMAX);
    memcpy(p->q[p->n].buf, buf, len);
    p->q[p->n].len = len;
    p->n++;
    p->sent++;
}

static void timer_cb(void *user, int ms)
{
    peer_t *p = user;
    p->timer_ms = ms;
    p->timer_calls++;
}

/* Delivers everything `from` has queued to `to`. Returns the number delivered. */
static int deliver(peer_t *from, peer_t *to)
{
    int n = from->n;
    for (int i = 0; i < n; i++) {
        bool was_done = fo_dtls_is_done(to->d);
        int rc = fo_dtls_input(to->d, from->q[i].buf, from->q[i].len);
        if (rc == 0 && !was_done) to->done_rc++;
        if (rc != FO_EAGAIN) to->last_rc = rc;
    }
    from->n = 0;
    return n;
}

static void pump(peer_t *a, peer_t *b)
{
    for (int rounds = 0; rounds < 20 && (a->n || b->n); rounds++) {
        deliver(a, b);
        deliver(b, a);
    }
}

typedef struct {
    fo_dtls_ctx_t *sctx, *cctx;
    peer_t srv, cli;
} pair_t;

static void pair_init(pair_t *t, fo_dtls_ctx_t *sctx, fo_dtls_ctx_t *cctx, const char *srv_sees,
                      const char *cli_sees)
{
    memset(&t->srv, 0, sizeof t->srv);
    memset(&t->cli, 0, sizeof t->cli);
    t->srv.timer_ms = t->cli.timer_ms = -1;
    t->srv.last_rc = t->cli.last_rc = 1;
    fo_dtls_io_t sio = {.send_cb = send_cb, .timer_cb = timer_cb, .user = &t->srv},
                 cio = {.send_cb = send_cb, .timer_cb = timer_cb, .user = &t->cli};
    t->srv.d = fo_dtls_new(sctx, FO_DTLS_SERVER, &sio, "sha-256",
                           srv_sees ? srv_sees : fo_dtls_ctx_fingerprint(cctx));
    t->cli.d = fo_dtls_new(cctx, FO_DTLS_CLIENT, &cio, "sha-256",
                           cli_sees ? cli_sees : fo_dtls_ctx_fingerprint(sctx));
    assert_non_null(t->srv.d);
    assert_non_null(t->cli.d);
}

static void pair_free(pair_t *t)
{
    fo_dtls_free(t->srv.d);
    fo_dtls_free(t->cli.d);
}

static int setup(void **state)
{
    pair_t *t = calloc(1, sizeof *t);
    t->sctx = fo_dtls_ctx_new(NULL, NULL);
    t->cctx = fo_dtls_ctx_new(NULL, NULL);
    if (!t->sctx || !t->cctx) return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    pair_t *t = *state;
    fo_dtls_ctx_free(t->sctx);
    fo_dtls_ctx_free(t->cctx);
    free(t);
    return 0;
}

static void assert_keys_crosswise(pair_t *t)
{
    fo_srtp_keys_t sk, ck;
    static const uint8_t zero[FO_SRTP_MASTER_LEN];
    assert_int_equal(fo_dtls_srtp_keys(t->srv.d, &sk), 0);
    assert_int_equal(fo_dtls_srtp_keys(t->cli.d, &ck), 0);
    assert_memory_equal(sk.local, ck.remote, FO_SRTP_MASTER_LEN);
    assert_memory_equal(sk.remote, ck.local, FO_SRTP_MASTER_LEN);
    assert_memory_not_equal(sk.local, sk.remote, FO_SRTP_MASTER_LEN);
    assert_memory_not_equal(sk.local, zero, FO_SRTP_MASTER_LEN);
    assert_memory_not_equal(sk.remote, zero, FO_SRTP_MASTER_LEN);
}

static void test_fingerprint_format(void **state)
{
    pair_t *t = *state;
    const char *fp = fo_dtls_ctx_fingerprint(t->sctx);
    assert_int_equal(strlen(fp), 95);
    for (int i = 0; i < 95; i++) {
        if (i % 3 == 2)
            assert_int_equal(fp[i], ':');
        else
            assert_non_null(strchr("0123456789ABCDEF", fp[i]));
    }
    assert_string_not_equal(fp, fo_dtls_ctx_fingerprint(t->cctx));
}

static void test_handshake(void **state)
{
    pair_t *t = *state;
    /* Lowercase on one side: SDP fingerprints compare case-insensitively. */
    char lower[96];
    snprintf(lower, sizeof lower, "%s", fo_dtls_ctx_fingerprint(t->sctx));
    for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
    pair_init(t, t->sctx, t->cctx, NULL, lower);

    fo_srtp_keys_t k;
    assert_int_equal(fo_dtls_srtp_keys(t->srv.d, &k), FO_EAGAIN);
    assert_int_equal(fo_dtls_start(t->srv.d), 0); /* server: no-op */
    assert_int_equal(t->srv.n, 0);
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    assert_int_equal(t->cli.n, 1);    /* ClientHello */
    assert_true(t->cli.timer_ms > 0); /* and its retransmission timer */
    pump(&t->cli, &t->srv);

    assert_true(fo_dtls_is_done(t->srv.d));
    assert_true(fo_dtls_is_done(t->cli.d));
    assert_int_equal(t->srv.done_rc, 1); /* 0 returned exactly once */
    assert_int_equal(t->cli.done_rc, 1);
    assert_int_equal(t->srv.last_rc, 0);
    assert_int_equal(t->cli.last_rc, 0);
    /* nothing left to retransmit: the timer is the hibernation deadline now */
    assert_in_range(t->cli.timer_ms, 25000, 30000);
    assert_in_range(t->srv.timer_ms, 25000, 30000);
    assert_false(fo_dtls_is_hibernated(t->srv.d));
    assert_keys_crosswise(t);
    assert_int_equal(fo_dtls_timeout(t->cli.d), 0);
    pair_free(t);
}

/* The ECDHE group in the server's ServerKeyExchange (RFC 8422 5.4: curve_type 3 = named_curve,
 * then the 2-byte group), found in the server's first flight; -1 when absent. */
static int ske_group(const peer_t *srv)
{
    for (int i = 0; i < srv->n; i++) {
        const uint8_t *b = srv->q[i].buf;
        size_t len = srv->q[i].len;
        for (size_t off = 0; off + 13 <= len;) { /* DTLS records */
            size_t rlen = (size_t)b[off + 11] << 8 | b[off + 12], body = off + 13;
            if (body + rlen > len) break;
            for (size_t h = body; b[off] == 22 && h + 12 + 3 <= body + rlen;) { /* handshake msgs */
                size_t flen = (size_t)b[h + 9] << 16 | (size_t)b[h + 10] << 8 | b[h + 11];
                if (b[h] == 12 && b[h + 12] == 3) return b[h + 13] << 8 | b[h + 14];
                h += 12 + flen;
            }
            off = body + rlen;
        }
    }
    return -1;
}

static void test_ecdhe_group(void **state)
{
    pair_t *t = *state;
    pair_init(t, t->sctx, t->cctx, NULL, NULL);
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    deliver(&t->cli, &t->srv); /* ClientHello -> the server's first flight */
    /* x25519 (29), not mbedtls 2.28's default first choice secp521r1 (25): ~3x cheaper */
    assert_int_equal(ske_group(&t->srv), 29);
    pump(&t->srv, &t->cli);
    assert_true(fo_dtls_is_done(t->srv.d));
    pair_free(t);
}

static void test_fingerprint_mismatch(void **state)
{
    pair_t *t = *state;
    /* The client expects someone else: it refuses the server's certificate. */
    pair_init(t, t->sctx, t->cctx, NULL, fo_dtls_ctx_fingerprint(t->cctx));
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    pump(&t->cli, &t->srv);
    assert_int_equal(t->cli.last_rc, FO_EAUTH);
    assert_false(fo_dtls_is_done(t->cli.d));
    assert_false(fo_dtls_is_done(t->srv.d));
    fo_srtp_keys_t k;
    assert_int_equal(fo_dtls_srtp_keys(t->cli.d, &k), FO_EAGAIN);
    /* Sticky: later input gets the same answer. */
    uint8_t rec[13] = {22, 0xfe, 0xfd};
    assert_int_equal(fo_dtls_input(t->cli.d, rec, sizeof rec), FO_EAUTH);
    pair_free(t);

    /* The server expects someone else: it refuses the client's certificate. */
    pair_init(t, t->sctx, t->cctx, fo_dtls_ctx_fingerprint(t->sctx), NULL);
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    pump(&t->cli, &t->srv);
    assert_int_equal(t->srv.last_rc, FO_EAUTH);
    assert_false(fo_dtls_is_done(t->srv.d));
    assert_false(fo_dtls_is_done(t->cli.d));
    pair_free(t);
}

static void test_fingerprint_unusable(void **state)
{
    pair_t *t = *state;
    static const char *const algs[] = {"md5", "sha-256", NULL};
    static const char *const fps[] = {"AB:CD", "AB:CD", NULL};
    for (size_t i = 0; i < 3; i++) {
        memset(&t->cli, 0, sizeof t->cli);
        memset(&t->srv, 0, sizeof t->srv);
        fo_dtls_io_t sio = {.send_cb = send_cb, .timer_cb = timer_cb, .user = &t->srv},
                 cio = {.send_cb = send_cb, .timer_cb = timer_cb, .user = &t->cli};
        t->srv.d =
            fo_dtls_new(t->sctx, FO_DTLS_SERVER, &sio, "sha-256", fo_dtls_ctx_fingerprint(t->cctx));
        t->cli.d = fo_dtls_new(t->cctx, FO_DTLS_CLIENT, &cio, algs[i], fps[i]);
        assert_non_null(t->cli.d);
        assert_int_equal(fo_dtls_start(t->cli.d), 0);
        pump(&t->cli, &t->srv);
        assert_int_equal(t->cli.last_rc, FO_EAUTH);
        pair_free(t);
    }
}

static void feed_garbage(peer_t *p)
{
    uint8_t buf[1500] = {0};
    unsigned seed = 12345;
    /* Too short, wrong first byte, DTLS-looking header with random body, huge. */
    assert_int_equal(fo_dtls_input(p->d, buf, 0), FO_EINVAL);
    buf[0] = 22;
    assert_int_equal(fo_dtls_input(p->d, buf, 5), FO_EINVAL);
    for (int i = 0; i < 200; i++) {
        size_t len = (size_t)(rand_r(&seed) % sizeof buf);
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)rand_r(&seed);
        if (i & 1 && len >= 13) {
            buf[0] = (uint8_t)(20 + i % 4);
            buf[1] = 0xfe;
            buf[2] = 0xfd;
        }
        int rc = fo_dtls_input(p->d, buf, len);
        assert_true(rc < 0 || (rc == 0 && fo_dtls_is_done(p->d)));
    }
}

static void test_garbage(void **state)
{
    pair_t *t = *state;
    pair_init(t, t->sctx, t->cctx, NULL, NULL);
    feed_garbage(&t->srv); /* before anything */
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    deliver(&t->cli, &t->srv);
    feed_garbage(&t->cli); /* mid-handshake */
    feed_garbage(&t->srv);
    t->srv.last_rc = t->cli.last_rc = 1;
    pump(&t->cli, &t->srv);
    assert_true(fo_dtls_is_done(t->srv.d));
    assert_true(fo_dtls_is_done(t->cli.d));
    feed_garbage(&t->srv); /* after */
    feed_garbage(&t->cli);
    assert_keys_crosswise(t);
    pair_free(t);
}

static void wait_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L + 2000000L};
    nanosleep(&ts, NULL);
}

static void test_retransmit(void **state)
{
    pair_t *t = *state;
    pair_init(t, t->sctx, t->cctx, NULL, NULL);

    /* The ClientHello is lost. */
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    assert_int_equal(t->cli.n, 1);
    int armed = t->cli.timer_ms;
    assert_in_range(armed, 1, 1000);
    t->cli.n = 0;

    /* Too early: nothing is sent, and the timer is re-armed for the rest. */
    int calls = t->cli.timer_calls;
    assert_int_equal(fo_dtls_timeout(t->cli.d), FO_EAGAIN);
    assert_int_equal(t->cli.n, 0);
    assert_int_equal(t->cli.timer_calls, calls + 1);
    assert_in_range(t->cli.timer_ms, 1, armed);

    wait_ms(armed);
    assert_int_equal(fo_dtls_timeout(t->cli.d), FO_EAGAIN);
    assert_int_equal(t->cli.n, 1);        /* ClientHello again */
    assert_true(t->cli.timer_ms > armed); /* backed off */

    /* Now the server's last flight (ChangeCipherSpec + Finished) is lost. */
    int rounds = 0;
    while (!fo_dtls_is_done(t->srv.d) && rounds++ < 10) {
        deliver(&t->cli, &t->srv);
        if (!fo_dtls_is_done(t->srv.d)) deliver(&t->srv, &t->cli);
    }
    assert_true(fo_dtls_is_done(t->srv.d));
    assert_true(t->srv.n > 0);
    t->srv.n = 0;
    assert_false(fo_dtls_is_done(t->cli.d));
    assert_true(t->cli.timer_ms > 0);

    /* The client resends its flight; the server, done already, resends its own. */
    wait_ms(t->cli.timer_ms);
    assert_int_equal(fo_dtls_timeout(t->cli.d), FO_EAGAIN);
    assert_true(t->cli.n > 0);
    t->srv.last_rc = t->cli.last_rc = 1;
    pump(&t->cli, &t->srv);
    assert_true(fo_dtls_is_done(t->cli.d));
    assert_int_equal(t->cli.done_rc, 1);
    assert_int_equal(t->srv.done_rc, 1);
    assert_keys_crosswise(t);
    pair_free(t);
}

static void test_close_notify(void **state)
{
    pair_t *t = *state;
    pair_init(t, t->sctx, t->cctx, NULL, NULL);
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    pump(&t->cli, &t->srv);
    assert_true(fo_dtls_is_done(t->cli.d));

    fo_dtls_close(t->cli.d);
    assert_int_equal(t->cli.n, 1);
    assert_int_equal(fo_dtls_input(t->srv.d, t->cli.q[0].buf, t->cli.q[0].len), FO_ECLOSED);
    assert_int_equal(fo_dtls_input(t->srv.d, t->cli.q[0].buf, t->cli.q[0].len), FO_ECLOSED);
    t->cli.n = 0;

    /* The other way round, server closing. */
    pair_free(t);
    pair_init(t, t->sctx, t->cctx, NULL, NULL);
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    pump(&t->cli, &t->srv);
    fo_dtls_close(t->srv.d);
    assert_int_equal(t->srv.n, 1);
    assert_int_equal(fo_dtls_input(t->cli.d, t->srv.q[0].buf, t->srv.q[0].len), FO_ECLOSED);

    /* Closing during the handshake sends nothing and cancels the timer. */
    pair_free(t);
    pair_init(t, t->sctx, t->cctx, NULL, NULL);
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    t->cli.n = 0;
    fo_dtls_close(t->cli.d);
    assert_int_equal(t->cli.n, 0);
    assert_int_equal(t->cli.timer_ms, -1);
    pair_free(t);
}

/* A completed pair, the server (and the client, if asked) hibernated. */
static void hibernated_pair(pair_t *t, bool client_too)
{
    pair_init(t, t->sctx, t->cctx, NULL, NULL);
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    pump(&t->cli, &t->srv);
    assert_true(fo_dtls_is_done(t->srv.d));
    assert_true(fo_dtls_is_done(t->cli.d));
    fo_dtls_peer_done(t->srv.d);
    assert_true(fo_dtls_is_hibernated(t->srv.d));
    assert_int_equal(t->srv.timer_ms, -1); /* nothing left to wait for */
    if (client_too) {
        fo_dtls_peer_done(t->cli.d);
        assert_true(fo_dtls_is_hibernated(t->cli.d));
    }
    assert_int_equal(t->srv.n + t->cli.n, 0); /* hibernating sends nothing */
}

static void test_hibernate(void **state)
{
    pair_t *t = *state;
    hibernated_pair(t, false);
    fo_dtls_peer_done(t->srv.d); /* idempotent */
    assert_true(fo_dtls_is_done(t->srv.d));
    assert_keys_crosswise(t); /* the keys outlive the context */
    assert_int_equal(fo_dtls_timeout(t->srv.d), 0);
    feed_garbage(&t->srv);
    assert_true(fo_dtls_is_done(t->srv.d));

    /* The pre-made close_notify (AES-128-GCM: 13 + 8 + 2 + 16 bytes) is one mbedtls accepts. */
    fo_dtls_close(t->srv.d);
    assert_int_equal(t->srv.n, 1);
    assert_int_equal(t->srv.q[0].len, 39);
    assert_int_equal(fo_dtls_input(t->cli.d, t->srv.q[0].buf, t->srv.q[0].len), FO_ECLOSED);
    pair_free(t);

    /* Before completion it is a no-op. */
    pair_init(t, t->sctx, t->cctx, NULL, NULL);
    fo_dtls_peer_done(t->srv.d);
    assert_false(fo_dtls_is_hibernated(t->srv.d));
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    pump(&t->cli, &t->srv);
    assert_true(fo_dtls_is_done(t->srv.d));
    assert_false(fo_dtls_is_hibernated(t->srv.d));
    pair_free(t);
}

static void test_hibernate_timer(void **state)
{
    pair_t *t = *state;
    fo_dtls_ctx_set_hibernate_ms(t->sctx, 50);
    pair_init(t, t->sctx, t->cctx, NULL, NULL);
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    pump(&t->cli, &t->srv);
    fo_dtls_ctx_set_hibernate_ms(t->sctx, 30000); /* read when a handshake completes */
    assert_true(fo_dtls_is_done(t->srv.d));
    assert_in_range(t->srv.timer_ms, 0, 50);
    /* Early: re-armed for the rest, still awake. */
    assert_int_equal(fo_dtls_timeout(t->srv.d), 0);
    assert_false(fo_dtls_is_hibernated(t->srv.d));
    assert_in_range(t->srv.timer_ms, 0, 50);
    wait_ms(50);
    assert_int_equal(fo_dtls_timeout(t->srv.d), 0);
    assert_true(fo_dtls_is_hibernated(t->srv.d));
    assert_int_equal(t->srv.timer_ms, -1);
    /* The client's close_notify still ends it. */
    fo_dtls_close(t->cli.d);
    assert_int_equal(t->cli.n, 1);
    assert_int_equal(fo_dtls_input(t->srv.d, t->cli.q[0].buf, t->cli.q[0].len), FO_ECLOSED);
    pair_free(t);
}

static void test_hibernated_peer_alert(void **state)
{
    pair_t *t = *state;
    hibernated_pair(t, false);
    fo_dtls_close(t->cli.d); /* mbedtls's own close_notify, encrypted */
    assert_int_equal(t->cli.n, 1);
    dgram_t cn = t->cli.q[0];
    t->cli.n = 0;

    /* Forged: any bit flipped, anywhere; truncated; unharmed afterwards. */
    dgram_t bad;
    for (size_t i = 0; i < cn.len; i++)
        for (int b = 0; b < 8; b += 3) {
            bad = cn;
            bad.buf[i] ^= (uint8_t)(1u << b);
            int rc = fo_dtls_input(t->srv.d, bad.buf, bad.len);
            assert_true(rc == 0 || rc == FO_EINVAL);
        }
    for (size_t n = 0; n < cn.len; n++) {
        int rc = fo_dtls_input(t->srv.d, cn.buf, n);
        assert_true(rc == 0 || rc == FO_EINVAL);
    }
    assert_true(fo_dtls_is_done(t->srv.d));

    /* Behind a forged record in the same datagram, the real one counts. */
    bad = cn;
    bad.buf[cn.len - 1] ^= 1;
    memcpy(bad.buf + cn.len, cn.buf, cn.len);
    bad.len = 2 * cn.len;
    assert_int_equal(fo_dtls_input(t->srv.d, bad.buf, bad.len), FO_ECLOSED);
    assert_int_equal(fo_dtls_input(t->srv.d, cn.buf, cn.len), FO_ECLOSED);
    pair_free(t);

    /* The plain case, and a replay into a fresh session (other keys) does nothing. */
    hibernated_pair(t, false);
    assert_int_equal(fo_dtls_input(t->srv.d, cn.buf, cn.len), 0);
    fo_dtls_close(t->cli.d);
    assert_int_equal(fo_dtls_input(t->srv.d, t->cli.q[0].buf, t->cli.q[0].len), FO_ECLOSED);
    pair_free(t);
}

static void test_hibernated_both(void **state)
{
    pair_t *t = *state;
    /* The client hibernates too (it keeps the server's write key): either close works. */
    hibernated_pair(t, true);
    fo_dtls_close(t->srv.d);
    assert_int_equal(fo_dtls_input(t->cli.d, t->srv.q[0].buf, t->srv.q[0].len), FO_ECLOSED);
    pair_free(t);

    hibernated_pair(t, true);
    feed_garbage(&t->cli);
    fo_dtls_close(t->cli.d);
    assert_int_equal(t->cli.n, 1);
    assert_int_equal(fo_dtls_input(t->srv.d, t->cli.q[0].buf, t->cli.q[0].len), FO_ECLOSED);
    /* What the server had kept from the handshake does not matter any more. */
    fo_dtls_close(t->srv.d); /* already closed by the peer: sends nothing */
    assert_int_equal(t->srv.n, 0);
    pair_free(t);
}

static void test_pem_roundtrip(void **state)
{
    pair_t *t = *state;
    char dir[] = "/tmp/fo_test_dtls_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cert[64], key[64], other[64];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(other, sizeof other, "%s/other.pem", dir);

    assert_int_equal(fo_dtls_ctx_write_pem(t->sctx, cert, key), 0);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 077, 0); /* the key is private */

    fo_dtls_ctx_t *loaded = fo_dtls_ctx_new(cert, key);
    assert_non_null(loaded);
    assert_string_equal(fo_dtls_ctx_fingerprint(loaded), fo_dtls_ctx_fingerprint(t->sctx));

    /* A loaded context serves a handshake that expects the original's fingerprint. */
    pair_init(t, loaded, t->cctx, NULL, fo_dtls_ctx_fingerprint(t->sctx));
    assert_int_equal(fo_dtls_start(t->cli.d), 0);
    pump(&t->cli, &t->srv);
    assert_true(fo_dtls_is_done(t->srv.d));
    assert_true(fo_dtls_is_done(t->cli.d));
    assert_keys_crosswise(t);
    pair_free(t);

    /* Failures: missing file, key of another certificate, half a pair. */
    assert_null(fo_dtls_ctx_new(other, key));
    assert_int_equal(fo_dtls_ctx_write_pem(t->cctx, other, other), 0); /* other = cctx's key */
    assert_null(fo_dtls_ctx_new(cert, other));
    assert_null(fo_dtls_ctx_new(cert, NULL));

    fo_dtls_ctx_free(loaded);
    unlink(cert);
    unlink(key);
    unlink(other);
    rmdir(dir);
}

int main(void)
{
    fo_log_set_level(FO_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_format),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_ecdhe_group),
        cmocka_unit_test(test_fingerprint_mismatch),
        cmocka_unit_test(test_fingerprint_unusable),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_retransmit),
        cmocka_unit_test(test_close_notify),
        cmocka_unit_test(test_hibernate),
        cmocka_unit_test(test_hibernate_timer),
        cmocka_unit_test(test_hibernated_peer_alert),
        cmocka_unit_test(test_hibernated_both),
        cmocka_unit_test(test_pem_roundtrip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
