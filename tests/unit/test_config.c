/* SPDX-License-Identifier: MIT */
/* Configuration: defaults, the shipped conf/fanout.conf, environment overrides, and broken
 * files reported with file, line and reason. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fanout/common.h"
#include "fanout/config.h"

static char tmp_path[64];

static const char *write_tmp(const char *text)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/fo-test-conf-%d.conf", (int)getpid());
    FILE *f = fopen(tmp_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return tmp_path;
}

static void test_defaults_and_shipped_file(void **state)
{
    (void)state;
    fo_config_t c, d;
    char err[256];
    fo_config_defaults(&d);
    assert_int_equal(d.http_port, 1985);
    assert_int_equal(d.rtc_port, 8000);
    assert_string_equal(d.candidate, "*");
    fo_config_defaults(&c);
    /* the shipped file states the defaults: loading it changes nothing */
    assert_int_equal(fo_config_load_file(&c, FO_TEST_DATA "/../../conf/fanout.conf", err, sizeof err), 0);
    assert_memory_equal(&c, &d, sizeof c);
    fo_codec_t codecs[8];
    assert_int_equal(fo_config_video_codecs(&c, codecs, 8), 4);
    assert_int_equal(codecs[0], FO_CODEC_VP8);
    assert_int_equal(codecs[1], FO_CODEC_H264);
}

static void test_file_values(void **state)
{
    (void)state;
    fo_config_t c;
    char err[256];
    fo_config_defaults(&c);
    const char *p = write_tmp("[http]\nport = 2000\n; comment\n[rtc]\ncandidate = 192.0.2.1 198.51.100.2\n"
                              "video_codecs = h264, vp8\n[log]\nlevel = debug\n");
    assert_int_equal(fo_config_load_file(&c, p, err, sizeof err), 0);
    assert_int_equal(c.http_port, 2000);
    assert_string_equal(c.candidate, "192.0.2.1 198.51.100.2");
    assert_string_equal(c.log_level, "debug");
    fo_codec_t codecs[8];
    assert_int_equal(fo_config_video_codecs(&c, codecs, 8), 2);
    assert_int_equal(codecs[0], FO_CODEC_H264);
    unlink(p);
}

static void test_broken_files(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[http]\nport = 99999\n", ":2: http.port: '99999' is not an integer in 1..65535"},
        {"[http]\nport = 12x\n", ":2: http.port"},
        {"[http]\n\nbogus = 1\n", ":3: unknown setting http.bogus"},
        {"[nosuch]\nport = 1\n", ":2: unknown setting nosuch.port"},
        {"[rtc]\nthis line has no equals sign\n", ":2: syntax error"},
        {"[log]\n; c\nlevel = loud\n", ":3: log.level: 'loud' is not one of"},
        {"[rtc]\nvideo_codecs = VP8 MPEG2\n", ":2: rtc.video_codecs"},
        {"[https]\nenabled = maybe\n", ":2: https.enabled: 'maybe' is not true or false"},
        {"[rtc]\nworkers = 0\n", ":2: rtc.workers: '0' is not an integer in 1..64 or auto"},
        {"[rtc]\nworkers = many\n", ":2: rtc.workers: 'many' is not an integer in 1..64 or auto"},
        {"[cluster]\nredis = http://x\n", ":2: cluster.redis: Redis URL must start with redis://"},
        {"[cluster]\nredis = redis://h:0\n", ":2: cluster.redis: bad port"},
        {"[cluster]\nnode_id = a b\n", ":2: cluster.node_id"},
        {"[cluster]\napi_url = http://h/\n", ":2: cluster.api_url"},
        {"[relay]\npull = live/a\n", ":2: relay.pull: each item is app/stream=URL"},
        {"[relay]\npush = live/a=ftp://x\n", ":2: relay.push: the URL must be"},
        /* a broken section header is the error, not the key under it (issue 16) */
        {"[http]\nport = 1985\n[rtc\nport = 8000\n", ":3: syntax error"},
        {"port = 8000\n", ":1: 'port' is outside any [section]"},
        {"[http]\nstream_list = public\n", ":2: http.stream_list: 'public' is not auto, on or off"},
        {"[rtc]\npublisher_takeover = -1\n", ":2: rtc.publisher_takeover: '-1' is not an integer in 0..3600"},
    };
    for (size_t i = 0; i < FO_ARRAY_LEN(cases); i++) {
        fo_config_t c;
        char err[256] = "";
        fo_config_defaults(&c);
        const char *p = write_tmp(cases[i].text);
        assert_int_not_equal(fo_config_load_file(&c, p, err, sizeof err), 0);
        if (!strstr(err, cases[i].want) || strncmp(err, p, strlen(p)) != 0)
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
        unlink(p);
    }
    fo_config_t c;
    char err[256];
    assert_int_not_equal(fo_config_load_file(&c, "/nonexistent/fanout.conf", err, sizeof err), 0);
    assert_non_null(strstr(err, "/nonexistent/fanout.conf"));
}

static void test_pages_settings(void **state)
{
    (void)state;
    fo_config_t c;
    char err[256];
    fo_config_defaults(&c);
    assert_string_equal(c.stream_list, "auto");
    assert_int_equal(c.publisher_takeover, 5);
    for (const char *const *v = (const char *const[]){"on", "off", "auto", NULL}; *v; v++) {
        char a[64];
        snprintf(a, sizeof a, "http.stream_list=%s", *v);
        assert_int_equal(fo_config_set_assignment(&c, a, err, sizeof err), 0);
        assert_string_equal(c.stream_list, *v);
    }
    assert_int_equal(fo_config_set_assignment(&c, "rtc.publisher_takeover=0", err, sizeof err), 0);
    assert_int_equal(c.publisher_takeover, 0);
}

static void test_workers(void **state)
{
    (void)state;
    fo_config_t c;
    char err[256];
    fo_config_defaults(&c);
    /* default "auto": one per CPU this process may run on */
    assert_int_equal(c.workers, 0);
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    int cpus = CPU_COUNT(&set);
    assert_int_equal(fo_config_workers(&c), cpus > FO_CONFIG_MAX_WORKERS ? FO_CONFIG_MAX_WORKERS : cpus);
    assert_int_equal(fo_config_set_assignment(&c, "rtc.workers=3", err, sizeof err), 0);
    assert_int_equal(fo_config_workers(&c), 3);
    assert_int_equal(fo_config_set_assignment(&c, "rtc.workers=AUTO", err, sizeof err), 0);
    assert_int_equal(c.workers, 0);
    /* "auto" is only a word for rtc.workers */
    assert_int_not_equal(fo_config_set_assignment(&c, "rtc.port=auto", err, sizeof err), 0);
    assert_null(strstr(err, "or auto"));
}

static void test_env(void **state)
{
    (void)state;
    fo_config_t c;
    char err[256];
    fo_config_defaults(&c);
    setenv("CANDIDATE", "203.0.113.9", 1);
    setenv("FANOUT_RTC_PORT", "9000", 1);
    assert_int_equal(fo_config_apply_env(&c, err, sizeof err), 0);
    assert_string_equal(c.candidate, "203.0.113.9");
    assert_int_equal(c.rtc_port, 9000);
    setenv("FANOUT_HTTP_PORT", "nope", 1);
    assert_int_not_equal(fo_config_apply_env(&c, err, sizeof err), 0);
    assert_non_null(strstr(err, "FANOUT_HTTP_PORT"));
    unsetenv("FANOUT_HTTP_PORT");
    unsetenv("FANOUT_RTC_PORT");
    unsetenv("CANDIDATE");
}

static void test_https_and_set(void **state)
{
    (void)state;
    fo_config_t c;
    char err[256];
    fo_config_defaults(&c);
    assert_int_equal(c.https_enabled, 1);
    assert_int_equal(c.https_port, 1990);
    assert_int_equal(fo_config_set_assignment(&c, "https.enabled=off", err, sizeof err), 0);
    assert_int_equal(c.https_enabled, 0);
    assert_int_equal(fo_config_set_assignment(&c, "https.cert=/a=b.pem", err, sizeof err), 0);
    assert_string_equal(c.https_cert, "/a=b.pem");
    assert_int_not_equal(fo_config_set_assignment(&c, "https-port=1", err, sizeof err), 0);
    assert_int_not_equal(fo_config_set_assignment(&c, "https.nope=1", err, sizeof err), 0);
    assert_non_null(strstr(err, "unknown setting https.nope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_shipped_file),
        cmocka_unit_test(test_file_values),
        cmocka_unit_test(test_broken_files),
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_pages_settings),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_https_and_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
