/* SPDX-License-Identifier: MIT */
/* The pages' status answers: which path names what (status.c), when the stream list is public
 * (http.stream_list against auth.secret), and the stream states' names. The answers themselves
 * are checked against a live server by tests/integration/it_republish.c and it_takeover.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fanout/config.h"
#include "fanout/status.h"
#include "fanout/stream.h"

static void test_paths(void **state)
{
    (void)state;
    char key[200];
    assert_int_equal(fo_status_path("/rtc/v1/streams", key, sizeof key), FO_STATUS_LIST);
    assert_int_equal(fo_status_path("/rtc/v1/streams/", key, sizeof key), FO_STATUS_LIST);
    assert_int_equal(fo_status_path("/rtc/v1/info/", key, sizeof key), FO_STATUS_INFO);
    assert_int_equal(fo_status_path("/rtc/v1/info", key, sizeof key), FO_STATUS_INFO);
    assert_int_equal(fo_status_path("/rtc/v1/streams/live/cam", key, sizeof key), FO_STATUS_STREAM);
    assert_string_equal(key, "live/cam");
    assert_int_equal(fo_status_path("/rtc/v1/streams/live/cam/", key, sizeof key), FO_STATUS_STREAM);
    assert_string_equal(key, "live/cam");
    assert_int_equal(fo_status_path("/rtc/v1/streams/a/b/c", key, sizeof key), FO_STATUS_STREAM);
    assert_string_equal(key, "a/b/c");
    /* not ours: a key without an app, other paths, a key too long for the buffer */
    assert_int_equal(fo_status_path("/rtc/v1/streams/cam", key, sizeof key), FO_STATUS_NONE);
    assert_int_equal(fo_status_path("/rtc/v1/streamsx", key, sizeof key), FO_STATUS_NONE);
    assert_int_equal(fo_status_path("/rtc/v1/play/", key, sizeof key), FO_STATUS_NONE);
    assert_int_equal(fo_status_path("/rtc/v1/info/x", key, sizeof key), FO_STATUS_NONE);
    char small[8];
    assert_int_equal(fo_status_path("/rtc/v1/streams/live/camera", small, sizeof small), FO_STATUS_NONE);
}

static void test_list_public(void **state)
{
    (void)state;
    fo_config_t c;
    fo_config_defaults(&c);
    assert_true(fo_status_list_public(&c)); /* auto, no secret: anyone may play anyway */
    strcpy(c.auth_secret, "s3cret-s3cret-s3cret");
    assert_false(fo_status_list_public(&c)); /* auto with tokens: private */
    strcpy(c.stream_list, "on");
    assert_true(fo_status_list_public(&c));
    strcpy(c.stream_list, "off");
    c.auth_secret[0] = '\0';
    assert_false(fo_status_list_public(&c));
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(fo_stream_state_name(FO_STREAM_WAITING), "waiting");
    assert_string_equal(fo_stream_state_name(FO_STREAM_STARTING), "starting");
    assert_string_equal(fo_stream_state_name(FO_STREAM_LIVE), "live");
    assert_string_equal(fo_stream_state_name(FO_STREAM_STALLED), "stalled");
    assert_string_equal(fo_stream_state_name(FO_STREAM_ENDED), "ended");
    assert_int_equal(fo_stream_state(NULL, 0), FO_STREAM_WAITING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_list_public),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
