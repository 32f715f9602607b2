/* SPDX-License-Identifier: MIT */
/* HTTPS certificate files: a stale "<key>.tmp" left in the directory (a symlink to another file,
 * or a world-readable file) neither receives the new private key nor decides its mode; the key
 * is a regular file of mode 0600 and the certificate 0644 whatever the umask; a second call keeps
 * the pair. */
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

#include "fanout/tls_cert.h"

static char dir[64];

static void path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

static void write_file(const char *p, const char *text, mode_t mode)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void read_file(const char *p, char *out, size_t cap)
{
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_stale_tmp(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fo-test-tls.XXXXXX");
    assert_non_null(mkdtemp(dir));
    char cert[128], key[128], victim[128], key_tmp[128], cert_tmp[128], text[256];
    path(cert, sizeof cert, "https.crt");
    path(key, sizeof key, "https.key");
    path(victim, sizeof victim, "victim");
    path(key_tmp, sizeof key_tmp, "https.key.tmp");
    path(cert_tmp, sizeof cert_tmp, "https.crt.tmp");
    write_file(victim, "victim's data\n", 0644);
    assert_int_equal(symlink(victim, key_tmp), 0); /* the key would have gone there */
    write_file(cert_tmp, "stale\n", 0666);
    mode_t old = umask(0);
    char err[256] = "";
    int rc = fo_tls_cert_ensure(cert, key, NULL, 0, err, sizeof err);
    umask(old);
    if (rc != 0) fail_msg("fo_tls_cert_ensure: %s", err);

    read_file(victim, text, sizeof text);
    assert_string_equal(text, "victim's data\n");
    struct stat st;
    assert_int_equal(lstat(key, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(lstat(cert, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0644);
    read_file(key, text, sizeof text);
    assert_non_null(strstr(text, "PRIVATE KEY"));
    /* what was there is left alone */
    assert_int_equal(lstat(key_tmp, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    read_file(cert_tmp, text, sizeof text);
    assert_string_equal(text, "stale\n");
    rm_dir();
}

static void test_umask(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fo-test-tls.XXXXXX");
    assert_non_null(mkdtemp(dir));
    char cert[128], key[128];
    path(cert, sizeof cert, "c.pem");
    path(key, sizeof key, "k.pem");
    mode_t old = umask(0077);
    char err[256] = "";
    assert_int_equal(fo_tls_cert_ensure(cert, key, NULL, 0, err, sizeof err), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(cert, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    ino_t ino = st.st_ino;
    /* the pair is kept on the next start, and no temporary file is left */
    assert_int_equal(fo_tls_cert_ensure(cert, key, NULL, 0, err, sizeof err), 0);
    assert_int_equal(stat(cert, &st), 0);
    assert_int_equal(st.st_ino, ino);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls '%s' | grep tmp)\"", dir);
    assert_int_equal(system(cmd), 0);
    rm_dir();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_tmp),
        cmocka_unit_test(test_umask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
