/* SPDX-License-Identifier: MIT */
/* The event loop: epoll for descriptors, a min-heap of caller-owned timers, a cross-thread post
 * queue (eventfd) and deferred calls run at a safe point after each iteration (where objects
 * are freed, never inside their own callbacks). No globals: one loop per thread.
 * Everything but fo_loop_post and fo_loop_stop must be called on the loop's own thread. */
#ifndef FO_LOOP_H
#define FO_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fo_loop fo_loop_t;

/* A registered descriptor. Caller-owned; must stay alive until fo_loop_io_del. */
typedef struct fo_io fo_io_t;
typedef void (*fo_io_cb)(fo_io_t *io, uint32_t events);
struct fo_io {
    int fd;
    fo_io_cb cb;
    void *user;
};

/* A timer. Caller-owned and intrusive; zero-initialise (or fo_timer_init) before use. */
typedef struct fo_timer fo_timer_t;
typedef void (*fo_timer_cb)(fo_timer_t *t);
struct fo_timer {
    uint64_t due_ms;
    size_t slot;       /* index in the heap + 1; 0 when not armed */
    uint64_t pass;     /* the loop's timer pass it was armed in (loop.c) */
    fo_timer_cb cb;
    void *user;
};

typedef void (*fo_call_cb)(void *arg);

fo_loop_t *fo_loop_new(void);
/* Frees the loop; registered descriptors are not closed. Pending posts are dropped. */
void fo_loop_free(fo_loop_t *loop);

/* Runs until fo_loop_stop. Returns 0, or FO_ESYS if epoll failed. The stop stays requested:
 * a later call runs one iteration (fuzz targets run deferred calls so) unless
 * fo_loop_clear_stop withdrew it. */
int fo_loop_run(fo_loop_t *loop);
/* Runs the posted and deferred calls waiting now, once (loop thread, outside fo_loop_run: at
 * shutdown, for completions that threads posted after the loop stopped). */
void fo_loop_run_pending(fo_loop_t *loop);
/* Asks the loop to return after the current iteration. Any thread, async-signal-unsafe. */
void fo_loop_stop(fo_loop_t *loop);
/* Withdraws a stop request, so fo_loop_run runs until the next fo_loop_stop (tests that run
 * one loop in steps). Loop thread, outside fo_loop_run. */
void fo_loop_clear_stop(fo_loop_t *loop);

/* epoll registration (EPOLLIN/EPOLLOUT...). Return 0 or FO_ESYS. */
int fo_loop_io_add(fo_loop_t *loop, fo_io_t *io, uint32_t events);
int fo_loop_io_mod(fo_loop_t *loop, fo_io_t *io, uint32_t events);
/* Unregisters `io`. Its callback is never called again, not even for events already read in
 * this iteration, so it may be freed at once (also from another io's callback). */
void fo_loop_io_del(fo_loop_t *loop, fo_io_t *io);

/* Milliseconds of CLOCK_MONOTONIC, cached once per iteration. */
uint64_t fo_loop_now(const fo_loop_t *loop);
/* Refreshes and returns the cached time. */
uint64_t fo_loop_update_time(fo_loop_t *loop);

void fo_timer_init(fo_timer_t *t, fo_timer_cb cb, void *user);
/* (Re)arms `t` to fire once after `ms`. A timer armed from a timer callback fires in a later
 * iteration, after the descriptors had their turn, even with ms 0: timers cannot starve I/O.
 * Returns 0 or FO_ENOMEM. */
int fo_timer_start(fo_loop_t *loop, fo_timer_t *t, uint64_t ms);
/* Disarms `t`; a no-op when not armed. */
void fo_timer_stop(fo_loop_t *loop, fo_timer_t *t);
static inline bool fo_timer_active(const fo_timer_t *t) { return t->slot != 0; }

/* Runs fn(arg) on the loop's thread soon. Any thread. Returns 0 or FO_ENOMEM. */
int fo_loop_post(fo_loop_t *loop, fo_call_cb fn, void *arg);
/* Runs fn(arg) after the current iteration's callbacks (the safe point to free objects).
 * Loop thread only. Returns 0 or FO_ENOMEM. */
int fo_loop_defer(fo_loop_t *loop, fo_call_cb fn, void *arg);

#endif
