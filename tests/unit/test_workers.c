/* SPDX-License-Identifier: MIT */
/* fo_workers (docs/workers.md): packets queued for two send threads arrive SRTP-protected with
 * the right context, none lost on the way through the rings (the producer outruns the workers,
 * so the full-ring wait is exercised), release slots free the contexts after their packets
 * (leaks and use-after-free show under ASan, races under TSan), round-robin assignment. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "fanout/workers.h"

#define N_PKTS 6000
#define PAYLOAD 100

typedef struct {
    int fd;
    fo_srtp_t *in[2]; /* unprotects what context [k] protected */
    int received, bad;
} rx_t;

static void keys(fo_srtp_keys_t *tx, fo_srtp_keys_t *rx, int seed)
{
    for (int i = 0; i < FO_SRTP_MASTER_LEN; i++) {
        tx->local[i] = (uint8_t)(i * 7 + seed);
        tx->remote[i] = (uint8_t)(i * 13 + seed);
    }
    memcpy(rx->local, tx->remote, FO_SRTP_MASTER_LEN);
    memcpy(rx->remote, tx->local, FO_SRTP_MASTER_LEN);
}

static int udp_socket(fo_addr_t *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
    int sz = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    socklen_t l = sizeof bound->u.in;
    getsockname(fd, &bound->u.sa, &l);
    bound->len = l;
    return fd;
}

/* Receives until N_PKTS arrived or 2 s pass without any. */
static void *rx_main(void *arg)
{
    rx_t *r = arg;
    uint8_t buf[2048];
    while (r->received + r->bad < N_PKTS) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0) break;
        ssize_t n = recv(r->fd, buf, sizeof buf, 0);
        if (n < 12) continue;
        size_t len = (size_t)n;
        int k = buf[11] == 0x22; /* SSRC 0x...11 or 0x...22 */
        if (fo_srtp_unprotect(r->in[k], buf, &len) == 0 && len == 12 + PAYLOAD &&
            buf[12] == (uint8_t)k)
            r->received++;
        else
            r->bad++;
    }
    return NULL;
}

static void test_send_and_release(void **state)
{
    (void)state;
    assert_int_equal(fo_srtp_global_init(), 0);
    fo_addr_t src = {0}, dst = {0};
    int tx_fd = udp_socket(&src), rx_fd = udp_socket(&dst);
    assert_true(tx_fd >= 0 && rx_fd >= 0);
    fo_workers_t *w = fo_workers_new(3, tx_fd);
    assert_non_null(w);

    fo_srtp_keys_t kt[2], kr[2];
    fo_srtp_t *out[2];
    rx_t r = {.fd = rx_fd};
    for (int k = 0; k < 2; k++) {
        keys(&kt[k], &kr[k], k + 1);
        out[k] = fo_srtp_new(&kt[k]);
        r.in[k] = fo_srtp_new(&kr[k]);
        assert_true(out[k] && r.in[k]);
    }
    pthread_t rx;
    assert_int_equal(pthread_create(&rx, NULL, rx_main, &r), 0);

    uint16_t seq[2] = {0, 0};
    for (int i = 0; i < N_PKTS; i++) {
        int k = i & 1; /* context k belongs to worker k + 1 */
        size_t cap;
        uint8_t *b = fo_workers_slot(w, (unsigned)k + 1, &cap);
        assert_true(cap >= 12 + PAYLOAD + FO_SRTP_MAX_TRAILER);
        memset(b, 0, 12 + PAYLOAD);
        fo_rtp_write_header(b, 96, false, seq[k]++, 0, k ? 0x22 : 0x11);
        b[12] = (uint8_t)k;
        /* a full ring makes fo_workers_slot wait (yielding) for room first; only a worker
         * stalled for long makes it drop, counted in tx_dropped */
        int rc = fo_workers_commit(w, (unsigned)k + 1, 12 + PAYLOAD, false, out[k], &dst);
        assert_true(rc == 0 || rc == FO_EAGAIN);
        if (i % 500 == 499) fo_workers_flush(w);
    }
    /* the contexts go back behind their packets; the workers free them */
    fo_workers_release(w, 1, out[0]);
    fo_workers_release(w, 2, out[1]);
    fo_workers_flush(w);
    pthread_join(rx, NULL);

    /* The receiver may stop before the workers have counted their last batch (the counters
     * are relaxed snapshots): wait, bounded, until every packet is accounted for. */
    fo_workers_stats_t st;
    for (int i = 0; i < 500; i++) {
        fo_workers_stats(w, &st);
        if (st.tx_packets + st.tx_dropped >= N_PKTS) break;
        usleep(10000);
    }
    assert_int_equal(st.protect_errors, 0);
    assert_int_equal(st.tx_packets + st.tx_dropped, N_PKTS);
    assert_int_equal(r.bad, 0);
    /* loopback drops only if the receiver's buffer overflows: allow a little */
    assert_true(st.tx_packets >= N_PKTS / 2);
    assert_true((uint64_t)r.received >= st.tx_packets * 95 / 100);
    fo_workers_free(w);
    for (int k = 0; k < 2; k++) fo_srtp_free(r.in[k]);
    close(tx_fd);
    close(rx_fd);
    fo_srtp_global_shutdown();
}

static void test_assign(void **state)
{
    (void)state;
    assert_null(fo_workers_new(1, -1)); /* one = the loop alone */
    fo_workers_t *w = fo_workers_new(3, -1);
    assert_non_null(w);
    unsigned got[6];
    for (int i = 0; i < 6; i++) got[i] = fo_workers_assign(w);
    unsigned want[6] = {0, 1, 2, 0, 1, 2};
    assert_memory_equal(got, want, sizeof want);
    fo_workers_free(w); /* idle threads stop and join */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_and_release),
        cmocka_unit_test(test_assign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
