/* SPDX-License-Identifier: MIT */
/* Unit tests for src/wire/sdpfrag.c: fragments as Chrome's WHIP clients, the RFC 9725 examples and
 * GStreamer send them (trickle and restart), what is refused and why, and the restart answer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fanout/common.h"
#include "fanout/sdpfrag.h"

static void test_trickle(void **state)
{
    (void)state;
    static const char frag[] = "a=ice-options:trickle ice2\r\n"
                               "a=group:BUNDLE 0 1\r\n"
                               "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
                               "a=mid:0\r\n"
                               "a=ice-ufrag:EsAw\r\n"
                               "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
                               "a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n"
                               "a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n"
                               "a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 ufrag EsAw network-id 1\r\n"
                               "a=candidate:2154773085 1 udp 1686052607 192.0.2.1 61764 typ srflx raddr 10.0.0.1 rport 61764\r\n"
                               "a=end-of-candidates\r\n";
    fo_sdpfrag_t f;
    const char *why = "x";
    assert_int_equal(fo_sdpfrag_parse(frag, strlen(frag), &f, &why), 0);
    assert_null(why);
    assert_string_equal(f.ice_ufrag, "EsAw");
    assert_string_equal(f.ice_pwd, "P2uYro0UCOQ4zxjKXaWCBui1");
    assert_string_equal(f.mid, "0");
    assert_int_equal(f.n_media, 1);
    assert_int_equal(f.n_candidates, 4);
    assert_true(f.end_of_candidates);
}

static void test_restart_lf_and_session_level(void **state)
{
    (void)state;
    static const char frag[] = "a=ice-ufrag:ZZy2\na=ice-pwd:4bZ0RkVvr7NQEyZxyMfJ9+/V\n";
    fo_sdpfrag_t f;
    assert_int_equal(fo_sdpfrag_parse(frag, strlen(frag), &f, NULL), 0);
    assert_string_equal(f.ice_ufrag, "ZZy2");
    assert_int_equal(f.n_candidates, 0);
    assert_false(f.end_of_candidates);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *frag, *why;
    } bad[] = {
        {"", "empty fragment"},
        {"\r\n\r\n", "empty fragment"},
        {"hello\r\n", "not a <type>=<value> line"},
        {"a=ice-ufrag:ab\r\n", "bad ice-ufrag"},                /* under 4 */
        {"a=ice-ufrag:abc$\r\n", "bad ice-ufrag"},              /* not ice-chars */
        {"a=ice-pwd:short\r\n", "bad ice-pwd"},                 /* under 22 */
        {"a=ice-ufrag:abcd\r\nm=audio 9 X 1\r\na=ice-ufrag:efgh\r\n", "conflicting ICE credentials in one fragment"},
        {"a=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\na=candidate:1 1 udp\r\n", "bad candidate"},
        {"a=candidate:1 0 udp 1 1.2.3.4 5 typ host\r\n", "bad candidate"},     /* component 0 */
        {"a=candidate:1 1 udp 1 1.2.3.4 70000 typ host\r\n", "bad candidate"}, /* port */
        {"a=candidate:1 1 udp 1 1.2.3.4 5 typ bogus\r\n", "bad candidate"},
        {"a=candidate:1 1 udp 99999999999 1.2.3.4 5 typ host\r\n", "bad candidate"},
        {"m=audio\r\n", "bad m= line"},
        {"a=end-of-candidates\r\na=x\x01y\r\n", "control character in line"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fo_sdpfrag_t f;
        const char *why = NULL;
        assert_int_equal(fo_sdpfrag_parse(bad[i].frag, strlen(bad[i].frag), &f, &why), FO_EINVAL);
        assert_non_null(why);
        assert_string_equal(why, bad[i].why);
    }
    static char big[FO_SDPFRAG_MAX_LEN + 2];
    memset(big, 'a', sizeof big);
    fo_sdpfrag_t f;
    assert_int_equal(fo_sdpfrag_parse(big, sizeof big, &f, NULL), FO_ETOOBIG);
}

static void test_build_restart(void **state)
{
    (void)state;
    char out[256];
    int n = fo_sdpfrag_build_restart(out, sizeof out, "abcd1234", "0123456789abcdefghijklmn");
    assert_true(n > 0);
    assert_string_equal(out, "a=ice-lite\r\na=ice-ufrag:abcd1234\r\na=ice-pwd:0123456789abcdefghijklmn\r\n");
    fo_sdpfrag_t f;
    assert_int_equal(fo_sdpfrag_parse(out, (size_t)n, &f, NULL), 0); /* what we write, we read */
    assert_string_equal(f.ice_ufrag, "abcd1234");
    assert_int_equal(fo_sdpfrag_build_restart(out, 20, "abcd1234", "0123456789abcdefghijklmn"), FO_ETOOBIG);
    assert_int_equal(fo_sdpfrag_build_restart(out, sizeof out, "ab cd", "0123456789abcdefghijklmn"), FO_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trickle),
        cmocka_unit_test(test_restart_lf_and_session_level),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_build_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
