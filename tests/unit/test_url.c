/* SPDX-License-Identifier: MIT */
/* Stream URL and query parsing: SRS-style URLs, ports, IPv6 hosts, percent-encoding, nested
 * apps, and everything that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/common.h"
#include "fanout/url.h"

static void test_srs_urls(void **state)
{
    (void)state;
    fo_url_t u;
    const char *why = NULL;
    assert_int_equal(fo_url_parse_stream("webrtc://localhost/live/livestream", &u, &why), 0);
    assert_string_equal(u.scheme, "webrtc");
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 0);
    assert_string_equal(u.app, "live");
    assert_string_equal(u.stream, "livestream");
    assert_string_equal(u.key, "live/livestream");
    assert_string_equal(u.query, "");

    assert_int_equal(fo_url_parse_stream("webrtc://192.0.2.1:1985/live/cam-1?eip=203.0.113.5&x=1", &u, &why), 0);
    assert_string_equal(u.host, "192.0.2.1");
    assert_int_equal(u.port, 1985);
    assert_string_equal(u.key, "live/cam-1");
    assert_string_equal(u.query, "eip=203.0.113.5&x=1");

    assert_int_equal(fo_url_parse_stream("webrtc://[::1]:8080/a/b/", &u, &why), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.key, "a/b");

    assert_int_equal(fo_url_parse_stream("webrtc://h/org/team/stream.v2", &u, &why), 0);
    assert_string_equal(u.app, "org/team");
    assert_string_equal(u.stream, "stream.v2");

    assert_int_equal(fo_url_parse_stream("webrtc://h/live/a%5Fb", &u, &why), 0);
    assert_string_equal(u.stream, "a_b");
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "livestream",
        "webrtc://",
        "webrtc://host",
        "webrtc://host/",
        "webrtc://host/live",
        "webrtc:///live/s",
        "webrtc://host:0/live/s",
        "webrtc://host:70000/live/s",
        "webrtc://host:12a/live/s",
        "webrtc://host/live/",
        "webrtc://host//s",
        "webrtc://host/../s",
        "webrtc://host/live/..",
        "webrtc://host/live/a b",
        "webrtc://host/live/a%2",
        "webrtc://host/live/a%zz",
        "webrtc://host/live/a%00b",
        "webrtc://host/li ve/s",
        "webrtc://[::1/live/s",
        "webrtc://ho st/live/s",
        "webrtc://host/live/%2e%2e",
    };
    for (size_t i = 0; i < FO_ARRAY_LEN(bad); i++) {
        fo_url_t u;
        const char *why = NULL;
        int rc = fo_url_parse_stream(bad[i], &u, &why);
        if (rc == 0) fail_msg("accepted '%s'", bad[i]);
        assert_non_null(why);
    }
    assert_int_not_equal(fo_url_parse_stream(NULL, &(fo_url_t){0}, NULL), 0);
}

static void test_too_long(void **state)
{
    (void)state;
    char url[4096];
    fo_url_t u;
    strcpy(url, "webrtc://h/live/");
    memset(url + strlen(url), 'a', 200);
    url[16 + 200] = '\0';
    assert_int_equal(fo_url_parse_stream(url, &u, NULL), FO_ETOOBIG);
    memset(url, 'x', sizeof url - 1);
    url[sizeof url - 1] = '\0';
    assert_int_equal(fo_url_parse_stream(url, &u, NULL), FO_ETOOBIG);
}

static void test_query(void **state)
{
    (void)state;
    char v[32];
    assert_int_equal(fo_url_query_get("a=1&eip=1.2.3.4&b", "eip", v, sizeof v), 7);
    assert_string_equal(v, "1.2.3.4");
    assert_int_equal(fo_url_query_get("a=1&eip=1.2.3.4&b", "b", v, sizeof v), 0);
    assert_string_equal(v, "");
    assert_int_equal(fo_url_query_get("a=1", "eip", v, sizeof v), FO_ENOTFOUND);
    assert_int_equal(fo_url_query_get("", "eip", v, sizeof v), FO_ENOTFOUND);
    assert_int_equal(fo_url_query_get("ei=1&eipx=2", "eip", v, sizeof v), FO_ENOTFOUND);
    assert_int_equal(fo_url_query_get("t=a%20b", "t", v, sizeof v), 3);
    assert_string_equal(v, "a b");
    assert_int_equal(fo_url_query_get("t=%4", "t", v, sizeof v), FO_EINVAL);
    assert_int_equal(fo_url_query_get("t=0123456789", "t", v, 4), FO_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srs_urls),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
