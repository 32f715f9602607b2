/* SPDX-License-Identifier: MIT */
/* Log writer: a value with a newline (the review's "?layer=%0a... ERROR FORGED") stays on its
 * line, escaped; control bytes, backslashes, malformed UTF-8, C1 controls, line separators and
 * bidi controls are escaped; well-formed UTF-8 passes; escapes are never cut in half; the
 * context is escaped too; an over-long message is one truncated line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fanout/log.h"

static char *esc(const char *in, size_t n, size_t cap)
{
    static char out[512];
    assert_true(cap <= sizeof out);
    size_t len = fo_log_escape(in, n, out, cap);
    assert_int_equal(len, strlen(out));
    assert_true(len < cap);
    return out;
}

static void test_escape(void **state)
{
    (void)state;
    assert_string_equal(esc("plain text 1.2", 14, 64), "plain text 1.2");
    assert_string_equal(esc("a\nb\rc\td", 7, 64), "a\\nb\\rc\\td");
    assert_string_equal(esc("\x01\x1b[31m\x7f", 7, 64), "\\x01\\x1b[31m\\x7f");
    assert_string_equal(esc("C:\\x0a", 6, 64), "C:\\\\x0a"); /* a literal backslash cannot pose as an escape */
    assert_string_equal(esc("nul\0here", 8, 64), "nul\\x00here");
    /* UTF-8: well-formed passes; malformed, overlong, surrogate, truncated are bytes */
    assert_string_equal(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xa5", 14, 64), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xa5");
    assert_string_equal(esc("\xff\xc3", 2, 64), "\\xff\\xc3");
    assert_string_equal(esc("\xc0\xaf", 2, 64), "\\xc0\\xaf");         /* overlong '/' */
    assert_string_equal(esc("\xed\xa0\x80", 3, 64), "\\xed\\xa0\\x80"); /* a surrogate */
    assert_string_equal(esc("\xf4\x90\x80\x80", 4, 64), "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
    /* NEL (U+0085), LINE SEPARATOR (U+2028), RIGHT-TO-LEFT OVERRIDE (U+202E), isolates */
    assert_string_equal(esc("a\xc2\x85" "b", 4, 64), "a\\xc2\\x85b");
    assert_string_equal(esc("\xe2\x80\xa8", 3, 64), "\\xe2\\x80\\xa8");
    assert_string_equal(esc("\xe2\x80\xae" "gpj.exe", 10, 64), "\\xe2\\x80\\xaegpj.exe");
    assert_string_equal(esc("\xe2\x81\xa6", 3, 64), "\\xe2\\x81\\xa6");
    /* the output stops before an escape or a character that does not fit */
    assert_string_equal(esc("ab\ncd", 5, 4), "ab");
    assert_string_equal(esc("ab\ncd", 5, 5), "ab\\n");
    assert_string_equal(esc("ab\ncd", 5, 6), "ab\\nc");
    assert_string_equal(esc("a\xe2\x82\xac", 4, 4), "a");
    assert_string_equal(esc("abc", 3, 1), "");
}

/* Reads the whole log file. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[16384];
    *len = fread(buf, 1, sizeof buf - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += s[i] == '\n';
    return n;
}

static void test_write_forgery(void **state)
{
    (void)state;
    char path[] = "/tmp/fo-test-log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fo_log_open(path), 0);
    /* what api.c logs for ?layer=x%0a2026-01-01T00:00:00.000Z ERROR FORGED: MHD decodes the %0a */
    const char *layer = "x\n2026-01-01T00:00:00.000Z ERROR FORGED by a client";
    fo_log_write(FO_LOG_INFO, "sess1", "layer=%s is not low, mid, high or 0..2: automatic", layer);
    fo_log_write(FO_LOG_INFO, "live/\r\nERROR [x] ctx", "stream %s", "ok");
    char big[6000];
    memset(big, '\n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fo_log_write(FO_LOG_WARN, NULL, "%s", big);
    assert_int_equal(fo_log_open(NULL), 0);
    size_t len;
    char *text = slurp(path, &len);
    unlink(path);
    assert_int_equal(count_lines(text, len), 3);
    assert_non_null(strstr(text, " INFO  [sess1] layer=x\\n2026-01-01T00:00:00.000Z ERROR FORGED by a client is not low"));
    assert_non_null(strstr(text, " INFO  [live/\\r\\nERROR [x] ctx] stream ok\n"));
    for (char *line = text; *line; line = strchr(line, '\n') + 1) /* no line is the forged one */
        assert_true(strncmp(line, "2026-01-01T00:00:00.000Z", 24) != 0);
    char *third = strstr(text, " WARN  ");
    assert_non_null(third);
    assert_true(strlen(third) < 4096);
    assert_true(strlen(third) > 4000); /* truncated at the line limit, not at the message limit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_write_forgery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
