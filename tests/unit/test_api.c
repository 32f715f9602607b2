/* SPDX-License-Identifier: MIT */
/* API request validation: the SRS publish/play body and every way it can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/api.h"
#include "fanout/common.h"

static int parse(const char *body, fo_api_rtc_req_t *r, char *msg)
{
    int rc = fo_api_parse_rtc(body, strlen(body), r, msg, 256);
    return rc;
}

static void test_valid(void **state)
{
    (void)state;
    fo_api_rtc_req_t r;
    char msg[256];
    const char *body = "{\"api\":\"http://h:1985/rtc/v1/play/\",\"tid\":\"5f1c\","
                       "\"streamurl\":\"webrtc://h/live/livestream?eip=1.2.3.4\","
                       "\"clientip\":null,\"sdp\":\"v=0\\r\\n\"}";
    assert_int_equal(parse(body, &r, msg), 0);
    assert_string_equal(r.url.key, "live/livestream");
    assert_string_equal(r.url.query, "eip=1.2.3.4");
    assert_string_equal(r.tid, "5f1c");
    assert_string_equal(r.clientip, "");
    assert_int_equal(r.sdp_len, 5);
    assert_memory_equal(r.sdp, "v=0\r\n", 5);
    fo_api_rtc_req_free(&r);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int code;
    } cases[] = {
        {"", FO_API_BAD_JSON},
        {"garbage", FO_API_BAD_JSON},
        {"{\"streamurl\":", FO_API_BAD_JSON},
        {"[1,2]", FO_API_BAD_JSON},
        {"\"str\"", FO_API_BAD_JSON},
        {"{\"a\":1,\"a\":2}", FO_API_BAD_JSON},
        {"{\"sdp\":\"v=0\"}", FO_API_BAD_URL},
        {"{\"streamurl\":5,\"sdp\":\"v=0\"}", FO_API_BAD_URL},
        {"{\"streamurl\":\"http://h\",\"sdp\":\"v=0\"}", FO_API_BAD_URL},
        {"{\"streamurl\":\"webrtc://h/live/../x\",\"sdp\":\"v=0\"}", FO_API_BAD_URL},
        {"{\"streamurl\":\"webrtc://h/live/s\"}", FO_API_BAD_SDP},
        {"{\"streamurl\":\"webrtc://h/live/s\",\"sdp\":\"\"}", FO_API_BAD_SDP},
        {"{\"streamurl\":\"webrtc://h/live/s\",\"sdp\":{}}", FO_API_BAD_SDP},
        {"{\"streamurl\":\"webrtc://h/live/s\",\"sdp\":\"v=0\",\"tid\":7}", FO_API_BAD_JSON},
    };
    for (size_t i = 0; i < FO_ARRAY_LEN(cases); i++) {
        fo_api_rtc_req_t r;
        char msg[256] = "";
        int rc = parse(cases[i].body, &r, msg);
        if (rc != cases[i].code) fail_msg("'%s': got %d (%s), want %d", cases[i].body, rc, msg, cases[i].code);
        assert_true(strlen(msg) > 0);
        fo_api_rtc_req_free(&r);
    }
}

static void test_embedded_nul(void **state)
{
    (void)state;
    static const char body[] = "{\"streamurl\":\"webrtc://h/live/s\",\"sdp\":\"v=0\"}\0trailing";
    fo_api_rtc_req_t r;
    char msg[256];
    assert_int_equal(fo_api_parse_rtc(body, sizeof body - 1, &r, msg, sizeof msg), FO_API_BAD_JSON);
    fo_api_rtc_req_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_embedded_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
