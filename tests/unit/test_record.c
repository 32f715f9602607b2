/* SPDX-License-Identifier: MIT */
/* Unit tests for the recorder's pure parts: the path template (every variable, hostile stream
 * keys that must stay inside record.dir, templates that are refused), the stream patterns, the
 * [record] settings (a bad path template is refused when set), and the API's JSON of a
 * recording's state. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/admin.h"
#include "fanout/common.h"
#include "fanout/config.h"
#include "fanout/record.h"

/* 2026-12-02T04:05:06.789Z */
#define T0 1796184306789ull

static void test_path_variables(void **state)
{
    (void)state;
    char out[512];
    int n = fo_record_path("[app]/[stream]/[2006]-[01]-[02]T[15][04][05].[999]-[timestamp]-[seq]",
                           "live/cam1", T0, 7, "mp4", out, sizeof out);
    assert_true(n > 0);
    assert_string_equal(out, "live/cam1/2026-12-02T040506.789-1796184306789-7.mp4");
    assert_int_equal(n, (int)strlen(out));
    /* an app of several segments stays several directories */
    assert_true(fo_record_path("[app]/[stream]", "class/room/a", T0, 0, "webm", out, sizeof out) > 0);
    assert_string_equal(out, "class/room/a.webm");
    /* too small a buffer */
    assert_int_equal(fo_record_path("[app]/[stream]", "live/cam1", T0, 0, "mp4", out, 8), FO_ETOOBIG);
}

static void test_path_hostile_keys(void **state)
{
    (void)state;
    static const struct {
        const char *key, *want;
    } cases[] = {
        {"live/..", "live/_..mp4"},
        {"../../etc/passwd", "_./_./etc/passwd.mp4"},
        {"/abs/x", "_abs/x.mp4"},
        {"live/.hidden", "live/_hidden.mp4"},
        {"a//b/c", "a/_b/c.mp4"},
        {"live/x y;rm -rf", "live/x_y_rm_-rf.mp4"},
        {"live/\xc3\xa9t\xc3\xa9", "live/__t__.mp4"},
        {"nodir", "nodir.mp4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[512];
        int n = fo_record_path("[app]/[stream]", cases[i].key, T0, 0, "mp4", out, sizeof out);
        if (strcmp(cases[i].key, "nodir") == 0) {
            /* no app: "[app]/" leaves an empty first segment, which is refused */
            assert_int_equal(n, FO_EINVAL);
            continue;
        }
        assert_true(n > 0);
        assert_string_equal(out, cases[i].want);
        assert_true(out[0] != '/');
        assert_null(strstr(out, "/../"));
        assert_true(strncmp(out, "../", 3) != 0);
    }
}

static void test_path_bad_templates(void **state)
{
    (void)state;
    char out[512];
    const char *bad[] = {"/var/rec/[stream]", "../[stream]", "[app]/../[stream]", "[app]//[stream]",
                         "./[stream]", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fo_record_path(bad[i], "live/x", T0, 0, "mp4", out, sizeof out), FO_EINVAL);
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    char err[256];
    assert_int_equal(fo_config_set(&cfg, "record", "path", "../x/[stream]", err, sizeof err), FO_EINVAL);
    assert_non_null(strstr(err, "record.path"));
    assert_int_equal(fo_config_set(&cfg, "record", "path", "[2006]/[stream]", err, sizeof err), 0);
    assert_int_equal(fo_config_set(&cfg, "record", "segment_s", "-1", err, sizeof err), FO_EINVAL);
    assert_int_equal(fo_config_set(&cfg, "record", "enabled", "yes", err, sizeof err), 0);
    assert_int_equal(cfg.record_enabled, 1);
}

static void test_patterns(void **state)
{
    (void)state;
    assert_true(fo_record_matches("", "live/a"));
    assert_true(fo_record_matches("*", "live/a"));
    assert_true(fo_record_matches("class/* live/cam?", "live/cam1"));
    assert_false(fo_record_matches("class/* live/cam?", "live/cam10"));
    assert_true(fo_record_matches("class/*", "class/math"));
    assert_false(fo_record_matches("class/*", "live/math"));
}

static void test_state_json(void **state)
{
    (void)state;
    fo_record_status_t rs = {.state = "recording", .bytes = 1234, .files_total = 1, .n_files = 1};
    snprintf(rs.file, sizeof rs.file, "live/a/2.mp4");
    rs.frames[1] = 30;
    rs.files[0] = (fo_record_file_t){.bytes = 1000, .duration_ms = 1000, .start_unix_ms = T0,
                                     .frames = {50, 30}};
    snprintf(rs.files[0].path, sizeof rs.files[0].path, "live/a/1.mp4");
    json_t *j = fo_admin_record_json(&rs);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "recording");
    assert_string_equal(json_string_value(json_object_get(j, "file")), "live/a/2.mp4");
    assert_null(json_object_get(j, "error"));
    json_t *f = json_array_get(json_object_get(j, "files"), 0);
    assert_string_equal(json_string_value(json_object_get(f, "path")), "live/a/1.mp4");
    assert_int_equal(json_integer_value(json_object_get(f, "video_frames")), 30);
    json_decref(j);
    fo_record_status_t bad = {.state = "failed"};
    snprintf(bad.error, sizeof bad.error, "cannot open record.dir /x: Not a directory");
    j = fo_admin_record_json(&bad);
    assert_string_equal(json_string_value(json_object_get(j, "error")), bad.error);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_variables),   cmocka_unit_test(test_path_hostile_keys),
        cmocka_unit_test(test_path_bad_templates), cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_state_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
