/* SPDX-License-Identifier: MIT */
/* Static files beneath the web root (see webroot.h). */
#include "fanout/webroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fanout/common.h"

/* The request path's shape: '/'-rooted, no "..", no backslash, no control byte. */
static bool path_ok(const char *path)
{
    if (path[0] != '/' || strstr(path, "..") || strchr(path, '\\')) return false;
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return false;
    return true;
}

/* openat2 beneath the root: 0 with the descriptor in *fd, or the errno. */
static int open_beneath(const char *root, const char *rel, int *fd)
{
#ifdef SYS_openat2
    int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return errno;
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    *fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof how);
    int e = *fd < 0 ? errno : 0;
    close(dfd);
    return e;
#else
    (void)root, (void)rel, (void)fd;
    return ENOSYS;
#endif
}

/* The fallback: the file's real path must be the root's real path + rel exactly (so no
 * component of rel was a symlink or a "."), then it is opened without following a last symlink
 * (a rename between the check and the open is the window openat2 does not have). 0 with the
 * descriptor in *fd, or an errno. */
static int open_checked(const char *root, const char *rel, int *fd)
{
    char real_root[PATH_MAX], want[PATH_MAX], real[PATH_MAX];
    if (!realpath(root, real_root)) return errno;
    size_t n = strlen(real_root);
    memcpy(want, real_root, n + 1);
    if (want[n - 1] != '/') want[n++] = '/';
    for (const char *p = rel; *p; p++) { /* repeated slashes collapsed, as realpath writes them */
        if (*p == '/' && want[n - 1] == '/') continue;
        if (n + 1 >= sizeof want) return ENAMETOOLONG;
        want[n++] = *p;
    }
    want[n] = '\0';
    if (!realpath(want, real)) return errno;
    if (strcmp(real, want) != 0) return ELOOP; /* a symlink (or a "." component) on the way */
    *fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    return *fd < 0 ? errno : 0;
}

int fo_webroot_open(const char *root, const char *path, fo_webroot_mode_t mode, size_t *size)
{
    if (!path_ok(path)) return FO_EINVAL;
    const char *rel = path;
    while (*rel == '/') rel++;
    if (!*rel) return FO_ENOTFOUND;
    int fd = -1, e = ENOSYS;
    if (mode == FO_WEBROOT_AUTO) e = open_beneath(root, rel, &fd);
    /* ENOSYS: no openat2 in this kernel; EPERM: a seccomp filter (older container runtimes)
     * refuses the unknown system call */
    if (e == ENOSYS || e == EPERM) e = open_checked(root, rel, &fd);
    struct stat st;
    if (e == 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) e = EISDIR;
    if (e != 0) {
        if (fd >= 0) close(fd);
        return FO_ENOTFOUND;
    }
    *size = (size_t)st.st_size;
    return fd;
}
