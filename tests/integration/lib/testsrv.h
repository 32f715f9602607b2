/* SPDX-License-Identifier: MIT */
/* The fanout server as a child process for integration tests: free ports, start with the
 * repo's config on loopback, wait for "fanout ready", stop with SIGTERM (checking that it exits
 * 0, which under ASan also means no leaks), dump its log on failure, and a test-wide alarm.
 * A test may run several servers (each its own fo_testsrv_t); failures stop them all. */
#ifndef FO_TESTSRV_H
#define FO_TESTSRV_H

#include <sys/types.h>

typedef struct {
    pid_t pid;
    int http_port;
    int rtc_port;          /* UDP, and ICE-TCP by default (rtc.tcp_port = auto) */
    char api[64];          /* "http://127.0.0.1:<http_port>" */
    char log_path[256];
    char name[32];         /* the test's name, for messages */
} fo_testsrv_t;

/* A free loopback port for SOCK_STREAM or SOCK_DGRAM. */
int fo_test_free_port(int type);
/* A port free for both (the server's UDP port, which ICE-TCP shares by default). */
int fo_test_free_port_both(void);

/* Starts `bin` with `srcdir`/conf/fanout.conf on free ports, candidate 127.0.0.1, log level
 * debug, HTTPS off (--no-https; `extra` may turn it on with --set https.enabled=true), plus extra flags (NULL-terminated, may be NULL). Arms alarm(timeout_s) that stops the
 * server and fails the test. Fails the test (exit 1) if it does not become ready in 10 s. */
void fo_testsrv_start(fo_testsrv_t *s, const char *name, const char *bin, const char *srcdir,
                      const char *const *extra, int timeout_s);

/* SIGTERM, wait up to 5 s, then SIGKILL. Returns the wait status, or -1. Async-signal-safe. */
int fo_testsrv_stop(fo_testsrv_t *s);
/* Stops the server and fails unless it exited with status 0; removes the log on success. */
void fo_testsrv_stop_clean(fo_testsrv_t *s);

void fo_testsrv_dump_log(const fo_testsrv_t *s);
/* Counts lines of the server log containing `needle`. */
int fo_testsrv_log_count(const fo_testsrv_t *s, const char *needle);

/* Prints "<name>: FAIL: ...", stops the server, dumps its log and exits 1. */
void fo_test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
