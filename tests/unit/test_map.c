/* SPDX-License-Identifier: MIT */
/* Hash map: put/get/replace/delete across growth, binary keys, key length limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/common.h"
#include "fanout/map.h"

static void test_many(void **state)
{
    (void)state;
    fo_map_t *m = fo_map_new();
    char key[32];
    for (intptr_t i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%ld", (long)i);
        assert_int_equal(fo_map_put(m, key, strlen(key), (void *)(i + 1)), 0);
    }
    assert_int_equal(fo_map_size(m), 5000);
    for (intptr_t i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%ld", (long)i);
        assert_ptr_equal(fo_map_get(m, key, strlen(key)), (void *)(i + 1));
    }
    for (intptr_t i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof key, "k%ld", (long)i);
        assert_ptr_equal(fo_map_del(m, key, strlen(key)), (void *)(i + 1));
    }
    assert_int_equal(fo_map_size(m), 2500);
    assert_null(fo_map_get(m, "k0", 2));
    assert_ptr_equal(fo_map_get(m, "k1", 2), (void *)2);
    assert_int_equal(fo_map_put(m, "k1", 2, (void *)99), 0);
    assert_ptr_equal(fo_map_get(m, "k1", 2), (void *)99);
    assert_int_equal(fo_map_size(m), 2500);
    void *vals[3000];
    assert_int_equal(fo_map_values(m, vals, 3000), 2500);
    fo_map_free(m);
}

static void test_binary_and_limits(void **state)
{
    (void)state;
    fo_map_t *m = fo_map_new();
    uint8_t a[7] = {4, 0, 1, 127, 0, 0, 1}, b[7] = {4, 0, 2, 127, 0, 0, 1};
    assert_int_equal(fo_map_put(m, a, sizeof a, (void *)1), 0);
    assert_null(fo_map_get(m, b, sizeof b));
    assert_null(fo_map_get(m, a, 6));
    uint8_t big[FO_MAP_KEY_MAX + 1] = {0};
    assert_int_equal(fo_map_put(m, big, sizeof big, (void *)1), FO_ETOOBIG);
    assert_null(fo_map_get(m, big, sizeof big));
    assert_null(fo_map_del(m, b, sizeof b));
    fo_map_free(m);
    fo_map_free(NULL);
}

/* An owning map frees its values with itself (the sanitizer stages would report a leak). */
static void test_owning(void **state)
{
    (void)state;
    fo_map_t *m = fo_map_new();
    for (int i = 0; i < 100; i++) {
        int *v = malloc(sizeof *v);
        assert_non_null(v);
        *v = i;
        assert_int_equal(fo_map_put(m, &i, sizeof i, v), 0);
    }
    int k = 42;
    assert_int_equal(*(int *)fo_map_get(m, &k, sizeof k), 42);
    fo_map_free_owning(m);
    fo_map_free_owning(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_binary_and_limits),
        cmocka_unit_test(test_owning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
