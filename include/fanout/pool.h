/* SPDX-License-Identifier: MIT */
/* A small pool of threads for CPU-heavy work that the media loop must not do itself (today: the
 * DTLS handshakes' public-key crypto). A job runs on any pool thread, in FIFO order; its
 * completion then runs on the loop that submitted it (fo_loop_post), so the job's object goes
 * back to its owner with a happens-before edge both ways and no lock of its own. The threads
 * run at a lower priority (nice), so that when they compete with the media and send threads
 * for a core, forwarding wins. fo_pool_new/free/submit: the owner's thread; jobs: pool threads. */
#ifndef FO_POOL_H
#define FO_POOL_H

#include <stdint.h>

#include "fanout/loop.h"

typedef struct fo_pool fo_pool_t;

/* `threads` threads (>= 1), each `nice` (0..19) below its creator's priority. NULL on failure
 * (logged). */
fo_pool_t *fo_pool_new(int threads, int nice);
/* Finishes the jobs already queued (their completions are posted, and run if the loop runs
 * again), stops and joins the threads. NULL is a no-op. */
void fo_pool_free(fo_pool_t *p);

/* Runs work(arg) on a pool thread, then done(arg) on `loop`'s thread. Neither may be NULL.
 * Returns 0 or FO_ENOMEM (nothing queued). */
int fo_pool_submit(fo_pool_t *p, fo_call_cb work, fo_call_cb done, void *arg, fo_loop_t *loop);

typedef struct {
    int threads;
    uint64_t jobs;        /* run so far */
    uint64_t queued;      /* waiting now */
    uint64_t busy_us;     /* thread CPU time spent in jobs */
} fo_pool_stats_t;
/* A snapshot (any thread). */
void fo_pool_stats(fo_pool_t *p, fo_pool_stats_t *out);

#endif
