/* SPDX-License-Identifier: MIT */
/* epoll + timer min-heap + eventfd post queue + deferred calls. The heap and queues grow by
 * doubling and never shrink; nothing here allocates per event once warmed up. */
#include "fanout/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"

typedef struct {
    fo_call_cb fn;
    void *arg;
} call_t;

typedef struct {
    call_t *items;
    size_t n, cap;
} callq_t;

struct fo_loop {
    int epfd;
    fo_io_t wake;          /* eventfd for posts and stop */
    volatile int stopping;
    uint64_t now;
    fo_timer_t **heap;
    size_t heap_n, heap_cap;
    pthread_mutex_t post_mu;
    callq_t posted;        /* guarded by post_mu */
    callq_t deferred;      /* loop thread only */
    /* The events of the current epoll_wait, while their callbacks run: fo_loop_io_del clears
     * the not-yet-run ones of the descriptor it removes, so a callback may free another io. */
    struct epoll_event *batch;
    int batch_n, batch_i;
    uint64_t timer_pass;   /* run_timers calls so far */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int callq_push(callq_t *q, fo_call_cb fn, void *arg)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        call_t *items = realloc(q->items, cap * sizeof *items);
        if (!items) return FO_ENOMEM;
        q->items = items;
        q->cap = cap;
    }
    q->items[q->n++] = (call_t){fn, arg};
    return 0;
}

static void run_posted(fo_loop_t *loop)
{
    /* Swap the queue out under the lock, run outside it. */
    pthread_mutex_lock(&loop->post_mu);
    callq_t q = loop->posted;
    loop->posted = (callq_t){0};
    pthread_mutex_unlock(&loop->post_mu);
    for (size_t i = 0; i < q.n; i++) q.items[i].fn(q.items[i].arg);
    free(q.items);
}

static void wake_cb(fo_io_t *io, uint32_t events)
{
    uint64_t v;
    ssize_t r = read(io->fd, &v, sizeof v);
    (void)r;
    (void)events;
    run_posted(io->user);
}

fo_loop_t *fo_loop_new(void)
{
    fo_loop_t *loop = calloc(1, sizeof *loop);
    if (!loop) return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epfd < 0 || efd < 0) goto fail;
    pthread_mutex_init(&loop->post_mu, NULL);
    loop->wake = (fo_io_t){.fd = efd, .cb = wake_cb, .user = loop};
    if (fo_loop_io_add(loop, &loop->wake, EPOLLIN) != 0) goto fail;
    loop->now = mono_ms();
    return loop;
fail:
    if (loop->epfd >= 0) close(loop->epfd);
    if (efd >= 0) close(efd);
    free(loop);
    return NULL;
}

void fo_loop_free(fo_loop_t *loop)
{
    if (!loop) return;
    close(loop->wake.fd);
    close(loop->epfd);
    pthread_mutex_destroy(&loop->post_mu);
    free(loop->posted.items);
    free(loop->deferred.items);
    free(loop->heap);
    free(loop);
}

int fo_loop_io_add(fo_loop_t *loop, fo_io_t *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) == 0 ? 0 : FO_ESYS;
}

int fo_loop_io_mod(fo_loop_t *loop, fo_io_t *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) == 0 ? 0 : FO_ESYS;
}

void fo_loop_io_del(fo_loop_t *loop, fo_io_t *io)
{
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    for (int i = loop->batch_i + 1; i < loop->batch_n; i++)
        if (loop->batch[i].data.ptr == io) loop->batch[i].data.ptr = NULL;
}

uint64_t fo_loop_now(const fo_loop_t *loop) { return loop->now; }
uint64_t fo_loop_update_time(fo_loop_t *loop) { return loop->now = mono_ms(); }

/* --- timer heap (1-based slots stored in the timer so removal is O(log n)) --- */

static void heap_set(fo_loop_t *loop, size_t i, fo_timer_t *t)
{
    loop->heap[i] = t;
    t->slot = i + 1;
}

static void heap_up(fo_loop_t *loop, size_t i)
{
    fo_timer_t *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->due_ms <= t->due_ms) break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(fo_loop_t *loop, size_t i)
{
    fo_timer_t *t = loop->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t best = t->due_ms;
        if (l < loop->heap_n && loop->heap[l]->due_ms < best) m = l, best = loop->heap[l]->due_ms;
        if (r < loop->heap_n && loop->heap[r]->due_ms < best) m = r;
        if (m == i) break;
        heap_set(loop, i, loop->heap[m]);
        i = m;
    }
    heap_set(loop, i, t);
}

void fo_timer_init(fo_timer_t *t, fo_timer_cb cb, void *user)
{
    *t = (fo_timer_t){.cb = cb, .user = user};
}

void fo_timer_stop(fo_loop_t *loop, fo_timer_t *t)
{
    if (!t->slot) return;
    size_t i = t->slot - 1;
    t->slot = 0;
    fo_timer_t *last = loop->heap[--loop->heap_n];
    if (i == loop->heap_n) return;
    heap_set(loop, i, last);
    if (i > 0 && loop->heap[(i - 1) / 2]->due_ms > last->due_ms) heap_up(loop, i);
    else heap_down(loop, i);
}

int fo_timer_start(fo_loop_t *loop, fo_timer_t *t, uint64_t ms)
{
    fo_timer_stop(loop, t);
    if (loop->heap_n == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 256;
        fo_timer_t **heap = realloc(loop->heap, cap * sizeof *heap);
        if (!heap) return FO_ENOMEM;
        loop->heap = heap;
        loop->heap_cap = cap;
    }
    t->due_ms = loop->now + ms;
    t->pass = loop->timer_pass;
    loop->heap[loop->heap_n] = t;
    heap_up(loop, loop->heap_n++);
    return 0;
}

/* Runs the timers due now, but none armed by this pass's own callbacks: one that re-arms
 * itself with 0 ms (MHD asking to be run again at once) would otherwise keep the loop here,
 * away from epoll, for as long as it does. Those wait for the next iteration. */
static void run_timers(fo_loop_t *loop)
{
    uint64_t pass = ++loop->timer_pass;
    while (loop->heap_n > 0 && loop->heap[0]->due_ms <= loop->now && loop->heap[0]->pass != pass) {
        fo_timer_t *t = loop->heap[0];
        fo_timer_stop(loop, t);
        t->cb(t);
    }
}

int fo_loop_post(fo_loop_t *loop, fo_call_cb fn, void *arg)
{
    pthread_mutex_lock(&loop->post_mu);
    int rc = callq_push(&loop->posted, fn, arg);
    pthread_mutex_unlock(&loop->post_mu);
    uint64_t one = 1;
    ssize_t w = write(loop->wake.fd, &one, sizeof one);
    (void)w;
    return rc;
}

int fo_loop_defer(fo_loop_t *loop, fo_call_cb fn, void *arg)
{
    return callq_push(&loop->deferred, fn, arg);
}

static void run_deferred(fo_loop_t *loop)
{
    /* Deferred calls may defer more; run until the queue is empty. */
    for (size_t i = 0; i < loop->deferred.n; i++) {
        call_t c = loop->deferred.items[i];
        c.fn(c.arg);
    }
    loop->deferred.n = 0;
}

void fo_loop_run_pending(fo_loop_t *loop)
{
    run_posted(loop);
    run_deferred(loop);
}

void fo_loop_stop(fo_loop_t *loop)
{
    loop->stopping = 1;
    uint64_t one = 1;
    ssize_t w = write(loop->wake.fd, &one, sizeof one);
    (void)w;
}

int fo_loop_run(fo_loop_t *loop)
{
    struct epoll_event evs[64];
    while (!loop->stopping) {
        fo_loop_update_time(loop);
        int timeout = -1;
        if (loop->deferred.n) timeout = 0;
        else if (loop->heap_n) {
            uint64_t due = loop->heap[0]->due_ms;
            timeout = due <= loop->now ? 0 : (int)(due - loop->now > 60000 ? 60000 : due - loop->now);
        }
        int n = epoll_wait(loop->epfd, evs, (int)FO_ARRAY_LEN(evs), timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            FO_LOG(FO_LOG_ERROR, NULL, "epoll_wait: %s", strerror(errno));
            return FO_ESYS;
        }
        fo_loop_update_time(loop);
        loop->batch = evs;
        loop->batch_n = n;
        for (loop->batch_i = 0; loop->batch_i < n; loop->batch_i++) {
            fo_io_t *io = evs[loop->batch_i].data.ptr;
            if (io) io->cb(io, evs[loop->batch_i].events);
        }
        loop->batch_n = 0;
        run_timers(loop);
        run_deferred(loop);
    }
    run_deferred(loop);
    return 0;
}

void fo_loop_clear_stop(fo_loop_t *loop) { loop->stopping = 0; }
