/* SPDX-License-Identifier: MIT */
/* Static files beneath the web root, with openat2 and with the realpath fallback alike: regular
 * files below the root open (a root that is itself a symlink too); a symlink anywhere below the
 * root (to a file outside, to a directory outside, even to a file inside), "..", backslashes,
 * control bytes, directories and missing files do not. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fanout/common.h"
#include "fanout/webroot.h"

static char base[64], root[128], root_link[128];

static void put(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void link_at(const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/fo-test-www.XXXXXX");
    assert_non_null(mkdtemp(base));
    char p[256];
    snprintf(root, sizeof root, "%s/www", base);
    snprintf(root_link, sizeof root_link, "%s/current", base);
    assert_int_equal(mkdir(root, 0755), 0);
    snprintf(p, sizeof p, "%s/sub", root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/outside", base);
    assert_int_equal(mkdir(p, 0755), 0);
    put("www/index.html", "<html>index</html>");
    put("www/sub/a.css", "body{}");
    put("secret.txt", "the secret");
    put("outside/key.pem", "another secret");
    link_at("../secret.txt", "www/out.txt");       /* relative, out of the root */
    link_at("/etc/passwd", "www/passwd");          /* absolute */
    link_at("../outside", "www/dir");              /* a directory out of the root */
    link_at("index.html", "www/alias.html");       /* inside, but a symlink all the same */
    link_at("../index.html", "www/sub/up.html");
    link_at("www", "current");                     /* the root itself may be a symlink */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd);
}

static void expect_file(const char *r, const char *path, fo_webroot_mode_t mode, const char *text)
{
    size_t size = 0;
    int fd = fo_webroot_open(r, path, mode, &size);
    if (fd < 0) fail_msg("%s%s (mode %d): %d, want the file", r, path, (int)mode, fd);
    char buf[64] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    assert_int_equal(n, (ssize_t)strlen(text));
    assert_int_equal(size, strlen(text));
    assert_string_equal(buf, text);
}

static void expect_refused(const char *path, fo_webroot_mode_t mode, int want)
{
    size_t size = 0;
    int fd = fo_webroot_open(root, path, mode, &size);
    if (fd >= 0) close(fd);
    if (fd != want) fail_msg("%s (mode %d): %d, want %d", path, (int)mode, fd, want);
}

static void check_mode(fo_webroot_mode_t m)
{
    expect_file(root, "/index.html", m, "<html>index</html>");
    expect_file(root, "/sub/a.css", m, "body{}");
    expect_file(root, "//sub//a.css", m, "body{}");
    expect_file(root_link, "/index.html", m, "<html>index</html>");
    expect_refused("/out.txt", m, FO_ENOTFOUND);
    expect_refused("/passwd", m, FO_ENOTFOUND);
    expect_refused("/dir/key.pem", m, FO_ENOTFOUND);
    expect_refused("/alias.html", m, FO_ENOTFOUND);
    expect_refused("/sub/up.html", m, FO_ENOTFOUND);
    expect_refused("/sub", m, FO_ENOTFOUND);
    expect_refused("/", m, FO_ENOTFOUND);
    expect_refused("/missing.html", m, FO_ENOTFOUND);
    expect_refused("/../secret.txt", m, FO_EINVAL);
    expect_refused("/sub/../../secret.txt", m, FO_EINVAL);
    expect_refused("/sub\\..\\index.html", m, FO_EINVAL);
    expect_refused("/index.html\n", m, FO_EINVAL);
    expect_refused("index.html", m, FO_EINVAL);
}

static void test_openat2(void **state)
{
    (void)state;
    check_mode(FO_WEBROOT_AUTO);
}

static void test_realpath_fallback(void **state)
{
    (void)state;
    check_mode(FO_WEBROOT_REALPATH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openat2),
        cmocka_unit_test(test_realpath_fallback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
