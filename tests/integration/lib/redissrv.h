/* SPDX-License-Identifier: MIT */
/* Debian's redis-server as a child process for tests: a free loopback port, a temporary
 * directory, no persistence (--save '' --appendonly no), an optional password; started and
 * checked ready (PING answered), stopped, killed, paused and resumed. The child dies with the
 * test process (PR_SET_PDEATHSIG), so a failing test leaves no Redis behind. */
#ifndef FO_TEST_REDISSRV_H
#define FO_TEST_REDISSRV_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int port;
    char password[64];
    char dir[128];        /* temporary directory (removed by fo_redissrv_stop) */
    char url[256];        /* "redis://:password@127.0.0.1:port" (or without the password) */
} fo_redissrv_t;

/* Starts redis-server on `port` (0: a free one; the same port again to restart it), with
 * `password` (NULL/"" for none). Returns 0 once it answers PING, or -1 (it is stopped then). */
int fo_redissrv_start(fo_redissrv_t *s, int port, const char *password);
/* SIGTERM and wait (SIGKILL after 5 s). Idempotent. keep_dir: leave the directory for a
 * restart on the same port. */
void fo_redissrv_stop(fo_redissrv_t *s, bool keep_dir);
/* SIGKILL and wait. */
void fo_redissrv_kill(fo_redissrv_t *s);
/* SIGSTOP / SIGCONT: a hung server that keeps its connections open. */
void fo_redissrv_pause(fo_redissrv_t *s);
void fo_redissrv_resume(fo_redissrv_t *s);
/* Sends one inline command over a new connection (AUTH first when there is a password) and
 * copies the reply's first line into out. Returns 0 or -1. Blocking, for test checks only. */
int fo_redissrv_cmd(const fo_redissrv_t *s, const char *cmd, char *out, size_t cap);

#endif
