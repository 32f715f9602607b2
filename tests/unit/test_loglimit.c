/* SPDX-License-Identifier: MIT */
/* fo_loglimit: a burst per window, the rest held back and counted, the count handed to the
 * next line let through; limiters are independent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fanout/loglimit.h"

static void test_burst_then_count(void **state)
{
    (void)state;
    fo_loglimit_t l = {0}, other = {0};
    uint32_t n = 99;
    uint64_t t = 1000;
    for (int i = 0; i < FO_LOGLIMIT_BURST; i++) {
        assert_true(fo_loglimit_allow(&l, t + (uint64_t)i, &n));
        assert_int_equal(n, 0);
    }
    for (int i = 0; i < 1000; i++) assert_false(fo_loglimit_allow(&l, t + 10 + (uint64_t)i, &n));
    assert_true(fo_loglimit_allow(&other, t + 20, &n)); /* another session's lines still go */
    assert_false(fo_loglimit_allow(&l, t + FO_LOGLIMIT_WINDOW_MS - 1, &n));
    assert_true(fo_loglimit_allow(&l, t + FO_LOGLIMIT_WINDOW_MS, &n));
    assert_int_equal(n, 1001);
    assert_true(fo_loglimit_allow(&l, t + FO_LOGLIMIT_WINDOW_MS + 1, &n));
    assert_int_equal(n, 0);
}

/* A clock starting at 0 and a limiter used once in a long while. */
static void test_quiet(void **state)
{
    (void)state;
    fo_loglimit_t l = {0};
    uint32_t n;
    for (uint64_t t = 0; t < 100 * FO_LOGLIMIT_WINDOW_MS; t += FO_LOGLIMIT_WINDOW_MS / 2) {
        assert_true(fo_loglimit_allow(&l, t, &n));
        assert_int_equal(n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_burst_then_count), cmocka_unit_test(test_quiet)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
