/* SPDX-License-Identifier: MIT */
/* Send workers (docs/workers.md). Each worker thread owns one SPSC ring of send slots fed by
 * the loop thread: the loop writes a rewritten plaintext packet into a slot; the worker
 * protects it in place with the transport's outbound SRTP context (which only this worker
 * uses) and sends its batch with sendmmsg on the shared socket. A release slot hands a
 * context over to be freed once everything queued before it is done. No lock, no malloc per
 * packet; the loop only blocks (briefly, yielding) when a ring is full. */
#include "fanout/workers.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"

#define RING 2048u            /* slots per worker (power of two) */
#define PUBLISH_EVERY 32u     /* commits between publications inside one loop iteration */
#define FULL_YIELDS 2000      /* sched_yield rounds waiting on a full ring before dropping */

enum { SLOT_RTP = 0, SLOT_RTCP = 1, SLOT_RELEASE = 2 };

typedef struct {
    fo_srtp_t *srtp;
    fo_addr_t to;
    uint32_t len;
    uint8_t kind;
    uint8_t buf[FO_UDP_BUF];
} slot_t;

typedef struct {
    /* loop thread only */
    alignas(64) uint32_t head_local; /* next slot to fill */
    uint32_t published;              /* last head stored */
    uint32_t tail_cache;             /* last tail seen */
    /* shared */
    alignas(64) _Atomic uint32_t head;
    alignas(64) _Atomic uint32_t tail;
    alignas(64) _Atomic int sleeping;
    _Atomic int stop;
    _Atomic uint64_t tx_packets, tx_bytes, tx_dropped, protect_errors;
    /* set up once */
    int efd, fd;
    pthread_t thread;
    bool started;
    slot_t *slots;
    /* worker thread only */
    alignas(64) struct mmsghdr msg[FO_UDP_BATCH];
    struct iovec iov[FO_UDP_BATCH];
    uint8_t ctl[FO_UDP_BATCH][FO_UDP_CTL_LEN];
} worker_t;

struct fo_workers {
    int n;            /* including the loop */
    unsigned next;
    worker_t *w;      /* n - 1 threads; worker k is w[k - 1] */
    bool scratch_out; /* the last fo_workers_slot returned the scratch buffer */
    uint64_t dropped_full;
    uint8_t scratch[FO_UDP_BUF];
};

static void send_batch(worker_t *q, int m)
{
    uint64_t bytes = 0;
    size_t sent = fo_udp_sendmmsg(q->fd, q->msg, (size_t)m, &bytes);
    atomic_fetch_add_explicit(&q->tx_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&q->tx_packets, (uint64_t)sent, memory_order_relaxed);
    atomic_fetch_add_explicit(&q->tx_dropped, (uint64_t)m - sent, memory_order_relaxed);
}

/* Protects and sends slots [tail, tail + n); frees released contexts. */
static void work(worker_t *q, uint32_t tail, uint32_t n)
{
    int m = 0;
    for (uint32_t i = 0; i < n; i++) {
        slot_t *s = &q->slots[(tail + i) & (RING - 1)];
        if (s->kind == SLOT_RELEASE) {
            fo_srtp_free(s->srtp);
            continue;
        }
        size_t len = s->len;
        int rc = s->kind == SLOT_RTCP ? fo_srtp_protect_rtcp(s->srtp, s->buf, &len, FO_UDP_BUF)
                                      : fo_srtp_protect(s->srtp, s->buf, &len, FO_UDP_BUF);
        if (rc != 0) {
            atomic_fetch_add_explicit(&q->protect_errors, 1, memory_order_relaxed);
            continue;
        }
        q->iov[m] = (struct iovec){s->buf, len};
        q->msg[m].msg_hdr = (struct msghdr){.msg_name = &s->to.u,
                                            .msg_namelen = s->to.len,
                                            .msg_iov = &q->iov[m],
                                            .msg_iovlen = 1};
        fo_udp_set_source(&q->msg[m].msg_hdr, &s->to, q->ctl[m]);
        m++;
    }
    if (m) send_batch(q, m);
}

static void *worker_main(void *arg)
{
    worker_t *q = arg;
    uint32_t tail = 0;
    for (;;) {
        uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
        if (head == tail) {
            if (atomic_load(&q->stop)) {
                /* stop is stored after the last publication: look once more */
                if (atomic_load(&q->head) == tail) break;
                continue;
            }
            /* Dekker with the producer (seq_cst both sides): either it sees `sleeping` and
             * writes the eventfd, or we see its new head here. */
            atomic_store(&q->sleeping, 1);
            if (atomic_load(&q->head) == tail && !atomic_load(&q->stop)) {
                uint64_t v;
                if (read(q->efd, &v, sizeof v) < 0 && errno != EINTR) { /* retried by the loop */ }
            }
            atomic_store(&q->sleeping, 0);
            continue;
        }
        uint32_t n = head - tail;
        if (n > FO_UDP_BATCH) n = FO_UDP_BATCH;
        work(q, tail, n);
        tail += n;
        atomic_store_explicit(&q->tail, tail, memory_order_release);
    }
    return NULL;
}

static void publish(worker_t *q)
{
    if (q->published == q->head_local) return;
    q->published = q->head_local;
    atomic_store(&q->head, q->head_local);
    if (atomic_load(&q->sleeping)) {
        uint64_t one = 1;
        if (write(q->efd, &one, sizeof one) < 0) { /* counter full: the worker is awake */ }
    }
}

/* Room for one more slot in q; publishes and yields while full, up to FULL_YIELDS rounds
 * (wait = true: until there is room). */
static bool room(worker_t *q, bool wait)
{
    if (q->head_local - q->tail_cache < RING) return true;
    q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
    for (int i = 0; q->head_local - q->tail_cache >= RING; i++) {
        if (!wait && i == FULL_YIELDS) return false;
        publish(q);
        sched_yield();
        q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
    }
    return true;
}

fo_workers_t *fo_workers_new(int n, int fd)
{
    if (n <= 1) return NULL;
    fo_workers_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->n = n;
    w->w = calloc((size_t)n - 1, sizeof *w->w);
    if (!w->w) goto fail;
    for (int k = 0; k < n - 1; k++) {
        worker_t *q = &w->w[k];
        q->fd = fd;
        q->efd = eventfd(0, EFD_CLOEXEC);
        q->slots = calloc(RING, sizeof *q->slots);
        if (q->efd < 0 || !q->slots) goto fail;
        if (pthread_create(&q->thread, NULL, worker_main, q) != 0) goto fail;
        q->started = true;
    }
    FO_LOG(FO_LOG_DEBUG, NULL, "send threads: the media thread and %d worker%s", n - 1, n == 2 ? "" : "s");
    return w;
fail:
    FO_LOG(FO_LOG_ERROR, NULL, "cannot start %d send workers", n - 1);
    fo_workers_free(w);
    return NULL;
}

void fo_workers_free(fo_workers_t *w)
{
    if (!w) return;
    for (int k = 0; w->w && k < w->n - 1; k++) {
        worker_t *q = &w->w[k];
        if (q->started) {
            publish(q);
            atomic_store(&q->stop, 1);
            uint64_t one = 1;
            if (write(q->efd, &one, sizeof one) < 0) { /* it is awake */ }
            pthread_join(q->thread, NULL);
        }
        if (q->efd > 0) close(q->efd);
        free(q->slots);
    }
    free(w->w);
    free(w);
}

unsigned fo_workers_assign(fo_workers_t *w)
{
    unsigned k = w->next;
    w->next = (w->next + 1) % (unsigned)w->n;
    return k;
}

uint8_t *fo_workers_slot(fo_workers_t *w, unsigned k, size_t *cap)
{
    worker_t *q = &w->w[k - 1];
    *cap = FO_UDP_BUF;
    w->scratch_out = !room(q, false);
    return w->scratch_out ? w->scratch : q->slots[q->head_local & (RING - 1)].buf;
}

int fo_workers_commit(fo_workers_t *w, unsigned k, size_t len, bool rtcp, fo_srtp_t *srtp,
                      const fo_addr_t *to)
{
    worker_t *q = &w->w[k - 1];
    if (w->scratch_out) {
        w->scratch_out = false;
        w->dropped_full++;
        return FO_EAGAIN;
    }
    slot_t *s = &q->slots[q->head_local & (RING - 1)];
    s->srtp = srtp;
    s->to = *to;
    s->len = (uint32_t)len;
    s->kind = rtcp ? SLOT_RTCP : SLOT_RTP;
    q->head_local++;
    if (q->head_local - q->published >= PUBLISH_EVERY) publish(q);
    return 0;
}

void fo_workers_release(fo_workers_t *w, unsigned k, fo_srtp_t *srtp)
{
    worker_t *q = &w->w[k - 1];
    room(q, true); /* must not be lost: the worker drains on its own */
    slot_t *s = &q->slots[q->head_local & (RING - 1)];
    s->srtp = srtp;
    s->kind = SLOT_RELEASE;
    s->len = 0;
    q->head_local++;
    publish(q);
}

void fo_workers_fence(fo_workers_t *w, unsigned k)
{
    worker_t *q = &w->w[k - 1];
    publish(q);
    /* acquire: the worker's protects of those slots happen before our next use of the context */
    while (atomic_load_explicit(&q->tail, memory_order_acquire) != q->head_local) {
        publish(q);
        sched_yield();
    }
    q->tail_cache = q->head_local;
}

void fo_workers_flush(fo_workers_t *w)
{
    for (int k = 0; k < w->n - 1; k++) publish(&w->w[k]);
}

void fo_workers_stats(const fo_workers_t *w, fo_workers_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!w) return;
    out->tx_dropped = w->dropped_full;
    for (int k = 0; k < w->n - 1; k++) {
        worker_t *q = &w->w[k];
        out->tx_packets += atomic_load_explicit(&q->tx_packets, memory_order_relaxed);
        out->tx_bytes += atomic_load_explicit(&q->tx_bytes, memory_order_relaxed);
        out->tx_dropped += atomic_load_explicit(&q->tx_dropped, memory_order_relaxed);
        out->protect_errors += atomic_load_explicit(&q->protect_errors, memory_order_relaxed);
    }
}
