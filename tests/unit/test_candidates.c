/* SPDX-License-Identifier: MIT */
/* rtc.candidate expanded (candidates.c): literals kept in order without duplicates, "*" gives
 * this machine's IPv4 addresses with loopback last, a name resolves when allowed ("localhost")
 * and is refused with the reason otherwise, an empty spec gives 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fanout/candidates.h"
#include "fanout/common.h"

static char out[8][FO_CANDIDATE_LEN];

static void test_literals(void **state)
{
    (void)state;
    size_t n;
    char err[200] = "";
    assert_int_equal(fo_candidates_expand("192.0.2.1, 198.51.100.2\t192.0.2.1 ::1", 0, out, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(out[0], "192.0.2.1");
    assert_string_equal(out[1], "198.51.100.2");
    assert_string_equal(out[2], "::1");
    assert_int_equal(fo_candidates_expand("", 0, out, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0], "127.0.0.1");
    assert_int_equal(fo_candidates_expand("192.0.2.1 192.0.2.2 192.0.2.3", 0, out, 2, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
}

static void test_interfaces(void **state)
{
    (void)state;
    size_t n;
    assert_int_equal(fo_candidates_expand("*", 0, out, 8, &n, NULL, 0), 0);
    assert_true(n >= 1);
    assert_string_equal(out[n - 1], "127.0.0.1"); /* loopback last */
    for (size_t i = 0; i < n; i++) assert_true(fo_candidates_is_ip(out[i]));
}

static void test_names(void **state)
{
    (void)state;
    size_t n;
    char err[200] = "";
    assert_int_equal(fo_candidates_expand("localhost", 1, out, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0], "127.0.0.1");
    assert_int_equal(fo_candidates_expand("localhost", 0, out, 8, &n, err, sizeof err), FO_EINVAL);
    assert_non_null(strstr(err, "'localhost' is not an IP address"));
    assert_int_equal(fo_candidates_expand("192.0.2.1 not-an-ip.invalid", 1, out, 8, &n, err, sizeof err), FO_EINVAL);
    assert_non_null(strstr(err, "rtc.candidate: 'not-an-ip.invalid' is not an IP address and does not resolve"));
    assert_false(fo_candidates_is_ip("1.2.3"));
    assert_false(fo_candidates_is_ip("example.org"));
    assert_true(fo_candidates_is_ip("2001:db8::1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_interfaces),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
