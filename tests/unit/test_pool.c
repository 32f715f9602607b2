/* SPDX-License-Identifier: MIT */
/* fo_pool: jobs run on pool threads, their completions on the submitting loop's thread, in
 * submission order per pool thread; fo_pool_free finishes what is queued. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "fanout/common.h"
#include "fanout/loop.h"
#include "fanout/pool.h"

#define JOBS 200

typedef struct {
    pthread_t loop_thread;
    fo_loop_t *loop;
    _Atomic int worked;
    int done;          /* loop thread only */
    bool wrong_thread; /* a completion ran elsewhere, or a job on the loop's thread */
    int values[JOBS];
} ctx_t;

typedef struct {
    ctx_t *c;
    int i;
    int value; /* written by the job, read by the completion */
} job_t;

static void work(void *arg)
{
    job_t *j = arg;
    if (pthread_equal(pthread_self(), j->c->loop_thread)) j->c->wrong_thread = true;
    volatile uint64_t x = 0;
    for (int k = 0; k < 20000; k++) x += (uint64_t)k * (uint64_t)j->i;
    j->value = j->i * 3 + 1;
    atomic_fetch_add(&j->c->worked, 1);
}

static void done(void *arg)
{
    job_t *j = arg;
    if (!pthread_equal(pthread_self(), j->c->loop_thread)) j->c->wrong_thread = true;
    j->c->values[j->i] = j->value; /* ordered after the job by the post */
    if (++j->c->done == JOBS) fo_loop_stop(j->c->loop);
    free(j);
}

static void guard_cb(fo_timer_t *t) { fo_loop_stop(t->user); }

static void test_jobs_complete_on_the_loop(void **state)
{
    (void)state;
    ctx_t c = {.loop_thread = pthread_self()};
    c.loop = fo_loop_new();
    fo_pool_t *p = fo_pool_new(3, 5);
    assert_non_null(c.loop);
    assert_non_null(p);
    for (int i = 0; i < JOBS; i++) {
        job_t *j = calloc(1, sizeof *j);
        j->c = &c;
        j->i = i;
        assert_int_equal(fo_pool_submit(p, work, done, j, c.loop), 0);
    }
    fo_timer_t guard;
    fo_timer_init(&guard, guard_cb, c.loop);
    fo_timer_start(c.loop, &guard, 20000);
    assert_int_equal(fo_loop_run(c.loop), 0);
    fo_timer_stop(c.loop, &guard);
    assert_int_equal(c.done, JOBS);
    assert_false(c.wrong_thread);
    for (int i = 0; i < JOBS; i++) assert_int_equal(c.values[i], i * 3 + 1);
    fo_pool_stats_t st;
    fo_pool_stats(p, &st);
    assert_int_equal(st.threads, 3);
    assert_int_equal(st.jobs, JOBS);
    assert_int_equal(st.queued, 0);
    fo_pool_free(p);
    fo_loop_free(c.loop);
}

/* Jobs still queued when the pool is freed run; their completions wait for the loop. */
static void test_free_drains(void **state)
{
    (void)state;
    ctx_t c = {.loop_thread = pthread_self()};
    c.loop = fo_loop_new();
    fo_pool_t *p = fo_pool_new(1, 0);
    for (int i = 0; i < JOBS; i++) {
        job_t *j = calloc(1, sizeof *j);
        j->c = &c;
        j->i = i;
        assert_int_equal(fo_pool_submit(p, work, done, j, c.loop), 0);
    }
    fo_pool_free(p);
    assert_int_equal(atomic_load(&c.worked), JOBS);
    assert_int_equal(c.done, 0);
    fo_loop_run_pending(c.loop);
    assert_int_equal(c.done, JOBS);
    assert_false(c.wrong_thread);
    fo_loop_free(c.loop);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_null(fo_pool_new(0, 0));
    fo_pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_complete_on_the_loop),
        cmocka_unit_test(test_free_drains),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
