/* SPDX-License-Identifier: MIT */
/* For unit tests that drive real I/O on an fo_loop: run the loop until a condition holds or a
 * timeout passes (checked every 5 ms). Header-only; one loop per test program (loop_until_loop). */
#ifndef FO_TEST_LOOP_UNTIL_H
#define FO_TEST_LOOP_UNTIL_H

#include <stdbool.h>

#include "fanout/loop.h"

static fo_loop_t *loop_until_loop;
static bool (*loop_until_pred)(void);
static uint64_t loop_until_deadline;

static void loop_until_poll_cb(fo_timer_t *t)
{
    if (loop_until_pred() || fo_loop_now(loop_until_loop) >= loop_until_deadline) {
        fo_loop_stop(loop_until_loop);
        return;
    }
    fo_timer_start(loop_until_loop, t, 5);
}

/* Runs loop_until_loop until pred() or timeout_ms; returns pred(). */
static inline bool run_until(bool (*pred)(void), int timeout_ms)
{
    fo_timer_t t;
    fo_timer_init(&t, loop_until_poll_cb, NULL);
    loop_until_pred = pred;
    loop_until_deadline = fo_loop_update_time(loop_until_loop) + (uint64_t)timeout_ms;
    fo_timer_start(loop_until_loop, &t, 0);
    fo_loop_clear_stop(loop_until_loop);
    fo_loop_run(loop_until_loop);
    fo_timer_stop(loop_until_loop, &t);
    return pred();
}

static bool loop_until_never(void) { return false; }

/* Runs the loop for ms milliseconds. */
static inline void run_for(int ms) { run_until(loop_until_never, ms); }

#endif
