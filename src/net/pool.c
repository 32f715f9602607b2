/* SPDX-License-Identifier: MIT */
/* Job pool: one mutex-protected FIFO (a ring that doubles), N threads waiting on a condition
 * variable. A job is three pointers; the pool never touches what they point to. */
#include "fanout/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"

#define POOL_MAX_THREADS 64

typedef struct {
    fo_call_cb work, done;
    void *arg;
    fo_loop_t *loop;
} job_t;

struct fo_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *ring;
    size_t cap, head, n; /* ring[head .. head + n) mod cap */
    bool stop;
    int nice;
    uint64_t jobs, busy_us;
    pthread_t threads[POOL_MAX_THREADS];
    int n_threads;
};

static uint64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *pool_main(void *arg)
{
    fo_pool_t *p = arg;
    /* Linux applies nice per thread; this one starts with its creator's: lower it from there. */
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int base = getpriority(PRIO_PROCESS, tid);
    if (p->nice > 0 && errno == 0 &&
        setpriority(PRIO_PROCESS, tid, base + p->nice > 19 ? 19 : base + p->nice) != 0)
        FO_LOG(FO_LOG_DEBUG, "pool", "cannot lower a pool thread's priority");
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->n == 0) pthread_cond_wait(&p->cv, &p->mu);
        if (p->n == 0) break; /* stopping, and the queue is drained */
        job_t j = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->n--;
        pthread_mutex_unlock(&p->mu);
        uint64_t t0 = thread_cpu_us();
        j.work(j.arg);
        uint64_t spent = thread_cpu_us() - t0;
        pthread_mutex_lock(&p->mu);
        p->jobs++; /* counted before the completion can be seen */
        p->busy_us += spent;
        pthread_mutex_unlock(&p->mu);
        if (fo_loop_post(j.loop, j.done, j.arg) != 0)
            FO_LOG(FO_LOG_ERROR, "pool", "cannot post a job's completion (out of memory)");
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

fo_pool_t *fo_pool_new(int threads, int nice)
{
    if (threads < 1) return NULL;
    if (threads > POOL_MAX_THREADS) threads = POOL_MAX_THREADS;
    fo_pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->nice = nice < 0 ? 0 : nice > 19 ? 19 : nice;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
            FO_LOG(FO_LOG_ERROR, "pool", "cannot start thread %d of %d", i + 1, threads);
            fo_pool_free(p);
            return NULL;
        }
        p->n_threads++;
    }
    return p;
}

void fo_pool_free(fo_pool_t *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->ring);
    free(p);
}

int fo_pool_submit(fo_pool_t *p, fo_call_cb work, fo_call_cb done, void *arg, fo_loop_t *loop)
{
    pthread_mutex_lock(&p->mu);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        job_t *ring = malloc(cap * sizeof *ring);
        if (!ring) {
            pthread_mutex_unlock(&p->mu);
            return FO_ENOMEM;
        }
        for (size_t i = 0; i < p->n; i++) ring[i] = p->ring[(p->head + i) % p->cap];
        free(p->ring);
        p->ring = ring;
        p->cap = cap;
        p->head = 0;
    }
    p->ring[(p->head + p->n) % p->cap] = (job_t){work, done, arg, loop};
    p->n++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void fo_pool_stats(fo_pool_t *p, fo_pool_stats_t *out)
{
    pthread_mutex_lock(&p->mu);
    *out = (fo_pool_stats_t){.threads = p->n_threads, .jobs = p->jobs, .queued = p->n,
                             .busy_us = p->busy_us};
    pthread_mutex_unlock(&p->mu);
}
