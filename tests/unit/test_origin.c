/* SPDX-License-Identifier: MIT */
/* The operator surface's Host and Origin rules: IP literals and localhost pass, DNS names only
 * when listed (or "*"), malformed Hosts fail; Origin is none, the server's own (scheme by TLS,
 * authority == Host), listed, or foreign ("null", other ports, schemes, paths, userinfo);
 * Sec-Fetch-Site. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>

#include <cmocka.h>

#include "fanout/origin.h"

static void test_host(void **state)
{
    (void)state;
    static const char *const ok[] = {"", "127.0.0.1", "127.0.0.1:1985", "192.0.2.7:80", "[::1]", "[::1]:1985",
                                     "[2001:db8::1]:443", "localhost", "LOCALHOST:1985", "10.1.2.3"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!fo_origin_host_allowed(ok[i], "")) fail_msg("Host '%s' refused", ok[i]);
    static const char *const bad[] = {"rebind.evil.example", "rebind.evil.example:1985", "127.0.0.1.nip.io",
                                      "localhost.", "localhost.evil.example", "127.1", "0x7f000001",
                                      "[::1", "[evil]:1", "::1", "127.0.0.1:", "127.0.0.1:123456",
                                      "127.0.0.1:80x", "127.0.0.1 :80", ":1985", "a b", "host,localhost",
                                      "fanout.example.org"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (fo_origin_host_allowed(bad[i], "")) fail_msg("Host '%s' allowed", bad[i]);
    /* http.allowed_hosts: listed names, any case, with a port; "*" */
    assert_true(fo_origin_host_allowed("fanout.example.org:1985", "media.lan, Fanout.Example.org"));
    assert_true(fo_origin_host_allowed("media.lan", "media.lan fanout.example.org"));
    assert_false(fo_origin_host_allowed("example.org", "fanout.example.org"));
    assert_false(fo_origin_host_allowed("media", "media.lan"));
    assert_true(fo_origin_host_allowed("anything.example", "*"));
    assert_false(fo_origin_host_allowed("bad host", "*"));
}

static void test_origin(void **state)
{
    (void)state;
    const char *h = "127.0.0.1:1985";
    assert_int_equal(fo_origin_classify("", h, false, ""), FO_ORIGIN_NONE);
    assert_int_equal(fo_origin_classify(NULL, h, false, ""), FO_ORIGIN_NONE);
    assert_int_equal(fo_origin_classify("http://127.0.0.1:1985", h, false, ""), FO_ORIGIN_SAME);
    assert_int_equal(fo_origin_classify("HTTP://127.0.0.1:1985", h, false, ""), FO_ORIGIN_SAME);
    assert_int_equal(fo_origin_classify("https://127.0.0.1:1985", h, true, ""), FO_ORIGIN_SAME);
    assert_int_equal(fo_origin_classify("http://localhost:1985", "localhost:1985", false, ""), FO_ORIGIN_SAME);
    /* the review's attacker: another port on loopback */
    assert_int_equal(fo_origin_classify("http://127.0.0.1:8080", h, false, ""), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("http://localhost:1985", h, false, ""), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("https://127.0.0.1:1985", h, false, ""), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("http://127.0.0.1:1985", h, true, ""), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("null", h, false, "null"), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("http://127.0.0.1:1985/", h, false, ""), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("http://x@127.0.0.1:1985", h, false, ""), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("http://", "", false, ""), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("file://", h, false, ""), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("http://127.0.0.1:1985", NULL, false, ""), FO_ORIGIN_FOREIGN);
    /* http.allowed_origins */
    const char *allowed = "https://dash.example.org, http://127.0.0.1:3000/";
    assert_int_equal(fo_origin_classify("https://dash.example.org", h, false, allowed), FO_ORIGIN_LISTED);
    assert_int_equal(fo_origin_classify("http://127.0.0.1:3000", h, false, allowed), FO_ORIGIN_LISTED);
    assert_int_equal(fo_origin_classify("https://dash.example.org.evil", h, false, allowed), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("https://dash.example", h, false, allowed), FO_ORIGIN_FOREIGN);
    assert_int_equal(fo_origin_classify("http://dash.example.org", h, false, allowed), FO_ORIGIN_FOREIGN);
}

static void test_sec_fetch_site(void **state)
{
    (void)state;
    assert_true(fo_origin_cross_site("cross-site"));
    assert_true(fo_origin_cross_site("same-site"));
    assert_false(fo_origin_cross_site("same-origin"));
    assert_false(fo_origin_cross_site("none"));
    assert_false(fo_origin_cross_site(""));
    assert_false(fo_origin_cross_site(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_sec_fetch_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
