/* SPDX-License-Identifier: MIT */
/* Event loop: timer ordering, re-arming and stopping, deferred calls, cross-thread posts, and
 * descriptor callbacks. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "fanout/loop.h"

static fo_loop_t *loop;
static int order[64], n_order;

static void record_cb(fo_timer_t *t)
{
    order[n_order++] = (int)(intptr_t)t->user;
}

static void stop_cb(fo_timer_t *t) { fo_loop_stop(t->user); }

static void test_timer_order(void **state)
{
    (void)state;
    loop = fo_loop_new();
    assert_non_null(loop);
    fo_timer_t t[20], stop;
    n_order = 0;
    /* armed out of order; 5 and 7 stopped; 3 re-armed later */
    static const int delays[20] = {9, 3, 14, 1, 7, 2, 12, 5, 18, 4, 16, 6, 11, 8, 13, 10, 17, 15, 19, 0};
    for (int i = 0; i < 20; i++) {
        fo_timer_init(&t[i], record_cb, (void *)(intptr_t)delays[i]);
        fo_timer_start(loop, &t[i], (uint64_t)delays[i] * 3);
    }
    fo_timer_stop(loop, &t[4]);  /* delay 7 */
    fo_timer_stop(loop, &t[7]);  /* delay 5 */
    fo_timer_stop(loop, &t[7]);  /* twice is fine */
    fo_timer_start(loop, &t[1], 100); /* delay 3 moves to the end */
    assert_false(fo_timer_active(&t[4]));
    assert_true(fo_timer_active(&t[1]));
    fo_timer_init(&stop, stop_cb, loop);
    fo_timer_start(loop, &stop, 150);
    assert_int_equal(fo_loop_run(loop), 0);
    assert_int_equal(n_order, 18);
    for (int i = 1; i < n_order - 1; i++) assert_true(order[i - 1] < order[i]);
    assert_int_equal(order[n_order - 1], 3);
    fo_loop_free(loop);
}

static int deferred;
static void defer_cb(void *arg) { deferred += (int)(intptr_t)arg; }
static void defer_from_timer(fo_timer_t *t)
{
    fo_loop_defer(t->user, defer_cb, (void *)(intptr_t)5);
    assert_int_equal(deferred, 0); /* not yet: after the callbacks */
    fo_loop_stop(t->user);
}

static void test_defer(void **state)
{
    (void)state;
    loop = fo_loop_new();
    fo_timer_t t;
    deferred = 0;
    fo_timer_init(&t, defer_from_timer, loop);
    fo_timer_start(loop, &t, 1);
    fo_loop_run(loop);
    assert_int_equal(deferred, 5);
    fo_loop_free(loop);
}

static int posted;
static void post_cb(void *arg)
{
    posted++;
    if (posted == 100) fo_loop_stop(arg);
}

static void *poster(void *arg)
{
    for (int i = 0; i < 100; i++) fo_loop_post(arg, post_cb, arg);
    return NULL;
}

static void test_post_from_thread(void **state)
{
    (void)state;
    loop = fo_loop_new();
    posted = 0;
    pthread_t th;
    pthread_create(&th, NULL, poster, loop);
    fo_loop_run(loop);
    pthread_join(th, NULL);
    assert_int_equal(posted, 100);
    fo_loop_free(loop);
}

/* Several threads post at once while the loop runs timers: the post queue's locking and the
 * eventfd wake-up are what TSan checks here (scripts/test.sh runs the unit tests under TSan). */
#define N_POSTERS 4
#define N_POSTS 2000
static int many_posted;
static void many_post_cb(void *arg)
{
    if (++many_posted == N_POSTERS * N_POSTS) fo_loop_stop(arg);
}

static void *many_poster(void *arg)
{
    for (int i = 0; i < N_POSTS; i++) fo_loop_post(arg, many_post_cb, arg);
    return NULL;
}

static void tick_cb(fo_timer_t *t)
{
    fo_timer_start(loop, t, 1);
}

static void test_post_many_threads(void **state)
{
    (void)state;
    loop = fo_loop_new();
    many_posted = 0;
    fo_timer_t t;
    fo_timer_init(&t, tick_cb, NULL);
    fo_timer_start(loop, &t, 1);
    pthread_t th[N_POSTERS];
    for (int i = 0; i < N_POSTERS; i++) pthread_create(&th[i], NULL, many_poster, loop);
    fo_loop_run(loop);
    for (int i = 0; i < N_POSTERS; i++) pthread_join(th[i], NULL);
    fo_timer_stop(loop, &t);
    assert_int_equal(many_posted, N_POSTERS * N_POSTS);
    fo_loop_free(loop);
}

static int reads;
static void pipe_cb(fo_io_t *io, uint32_t events)
{
    char c;
    assert_true(events & EPOLLIN);
    assert_int_equal(read(io->fd, &c, 1), 1);
    reads++;
    fo_loop_stop(io->user);
}

static void test_io(void **state)
{
    (void)state;
    loop = fo_loop_new();
    int p[2];
    assert_int_equal(pipe(p), 0);
    fo_io_t io = {.fd = p[0], .cb = pipe_cb, .user = loop};
    assert_int_equal(fo_loop_io_add(loop, &io, EPOLLIN), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    reads = 0;
    fo_loop_run(loop);
    assert_int_equal(reads, 1);
    fo_loop_io_del(loop, &io);
    close(p[0]);
    close(p[1]);
    fo_loop_free(loop);
}

/* Two readable pipes in one epoll batch: whichever callback runs first unregisters and frees
 * the other's io, whose already-read event must then not be delivered (ASan would see it). */
static fo_io_t *pair_io[2];
static int pair_calls;
static void pair_cb(fo_io_t *io, uint32_t events)
{
    (void)events;
    pair_calls++;
    int other = io == pair_io[0] ? 1 : 0;
    fo_loop_io_del(loop, pair_io[other]);
    free(pair_io[other]);
    pair_io[other] = NULL;
    fo_loop_stop(loop);
}

static void test_io_del_in_batch(void **state)
{
    (void)state;
    loop = fo_loop_new();
    int p[2][2];
    pair_calls = 0;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pipe(p[i]), 0);
        pair_io[i] = calloc(1, sizeof *pair_io[i]);
        *pair_io[i] = (fo_io_t){.fd = p[i][0], .cb = pair_cb};
        assert_int_equal(fo_loop_io_add(loop, pair_io[i], EPOLLIN), 0);
        assert_int_equal(write(p[i][1], "x", 1), 1);
    }
    fo_loop_run(loop);
    assert_int_equal(pair_calls, 1);
    for (int i = 0; i < 2; i++) {
        if (pair_io[i]) fo_loop_io_del(loop, pair_io[i]);
        free(pair_io[i]);
        close(p[i][0]);
        close(p[i][1]);
    }
    fo_loop_free(loop);
}

/* A timer that re-arms itself with 0 ms from its own callback does not keep the loop from its
 * descriptors: a readable pipe is served while it spins. */
static int spins;
static void spin_cb(fo_timer_t *t)
{
    spins++;
    fo_timer_start(loop, t, 0);
}

static void test_timer_fairness(void **state)
{
    (void)state;
    loop = fo_loop_new();
    int p[2];
    assert_int_equal(pipe(p), 0);
    fo_io_t io = {.fd = p[0], .cb = pipe_cb, .user = loop};
    assert_int_equal(fo_loop_io_add(loop, &io, EPOLLIN), 0);
    fo_timer_t spin;
    fo_timer_init(&spin, spin_cb, NULL);
    fo_timer_start(loop, &spin, 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    reads = spins = 0;
    fo_loop_run(loop); /* pipe_cb stops the loop */
    assert_int_equal(reads, 1);
    assert_true(spins >= 1 && spins < 10);
    fo_timer_stop(loop, &spin);
    fo_loop_io_del(loop, &io);
    close(p[0]);
    close(p[1]);
    fo_loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_defer),
        cmocka_unit_test(test_post_from_thread),
        cmocka_unit_test(test_post_many_threads),
        cmocka_unit_test(test_io),
        cmocka_unit_test(test_io_del_in_batch),
        cmocka_unit_test(test_timer_fairness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
