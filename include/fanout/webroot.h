/* SPDX-License-Identifier: MIT */
/* Opening a static file beneath the web root (http.www) without ever leaving it: no "..", no
 * symlink anywhere below the root (not even one pointing inside), only regular files. The root
 * itself is opened as configured (it may be a symlink, e.g. for atomic deploys). Uses Linux's
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), where the kernel does the resolution; where
 * openat2 is missing (kernels before 5.6, container seccomp profiles that refuse it) the same
 * rule is checked with realpath() and O_NOFOLLOW, which leaves a window between the check and
 * the open that openat2 does not have. Pure system calls, no state; any thread. */
#ifndef FO_WEBROOT_H
#define FO_WEBROOT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    FO_WEBROOT_AUTO = 0,     /* openat2, the realpath check when the kernel refuses it */
    FO_WEBROOT_REALPATH = 1, /* the realpath check only (what AUTO falls back to; for tests) */
} fo_webroot_mode_t;

/* Opens `root` + `path` read-only. `path` is the URL path ("/a/b.html", decoded, starting with
 * '/'). Returns the descriptor (the caller closes it) with the file's size in *size, or
 * FO_ENOTFOUND for anything that is not a regular file reached beneath the root without a
 * symlink (missing files included), FO_EINVAL for a path with "..", a backslash or a control
 * byte. */
int fo_webroot_open(const char *root, const char *path, fo_webroot_mode_t mode, size_t *size);

#endif
