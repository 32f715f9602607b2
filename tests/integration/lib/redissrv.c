/* SPDX-License-Identifier: MIT */
/* redis-server child process for tests (see redissrv.h). */
#include "redissrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (void *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* Reads until a line end or the deadline; returns bytes read or -1. */
static int read_line(int fd, char *out, size_t cap, int timeout_ms)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) return -1;
        ssize_t k = read(fd, out + n, 1);
        if (k <= 0) return -1;
        n++;
        if (out[n - 1] == '\n') break;
    }
    out[n] = '\0';
    return (int)n;
}

int fo_redissrv_cmd(const fo_redissrv_t *s, const char *cmd, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char buf[512];
    if (s->password[0]) {
        int n = snprintf(buf, sizeof buf, "AUTH %s\r\n", s->password);
        if (write(fd, buf, (size_t)n) != n || read_line(fd, buf, sizeof buf, 2000) < 0) {
            close(fd);
            return -1;
        }
    }
    int n = snprintf(buf, sizeof buf, "%s\r\n", cmd);
    int rc = write(fd, buf, (size_t)n) == n && read_line(fd, out, cap, 2000) > 0 ? 0 : -1;
    close(fd);
    return rc;
}

int fo_redissrv_start(fo_redissrv_t *s, int port, const char *password)
{
    if (port <= 0) {
        memset(s, 0, sizeof *s);
        port = free_port();
        if (port < 0) return -1;
        snprintf(s->dir, sizeof s->dir, "/tmp/fo-redis-XXXXXX");
        if (!mkdtemp(s->dir)) return -1;
    }
    s->port = port;
    snprintf(s->password, sizeof s->password, "%s", password ? password : "");
    if (s->password[0])
        snprintf(s->url, sizeof s->url, "redis://:%s@127.0.0.1:%d", s->password, port);
    else
        snprintf(s->url, sizeof s->url, "redis://127.0.0.1:%d", port);
    char ps[16], log[200];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(log, sizeof log, "%s/redis.log", s->dir);
    pid_t parent = getpid();
    s->pid = fork();
    if (s->pid < 0) return -1;
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        const char *argv[32] = {"redis-server", "--port", ps, "--bind", "127.0.0.1", "--dir", s->dir,
                                "--save", "", "--appendonly", "no", "--daemonize", "no",
                                "--logfile", log, "--protected-mode", "no"};
        int n = 17;
        if (s->password[0]) {
            argv[n++] = "--requirepass";
            argv[n++] = s->password;
        }
        argv[n] = NULL;
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        char out[64];
        if (fo_redissrv_cmd(s, "PING", out, sizeof out) == 0 && strncmp(out, "+PONG", 5) == 0) return 0;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    fo_redissrv_kill(s);
    return -1;
}

static void wait_gone(fo_redissrv_t *s, int sig)
{
    if (s->pid <= 0) return;
    kill(s->pid, SIGCONT);
    kill(s->pid, sig);
    for (int i = 0; i < 500; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        usleep(10000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

void fo_redissrv_stop(fo_redissrv_t *s, bool keep_dir)
{
    wait_gone(s, SIGTERM);
    if (!keep_dir && s->dir[0]) {
        char path[256];
        snprintf(path, sizeof path, "%s/redis.log", s->dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/dump.rdb", s->dir);
        unlink(path);
        rmdir(s->dir);
        s->dir[0] = '\0';
    }
}

void fo_redissrv_kill(fo_redissrv_t *s) { wait_gone(s, SIGKILL); }
void fo_redissrv_pause(fo_redissrv_t *s) { if (s->pid > 0) kill(s->pid, SIGSTOP); }
void fo_redissrv_resume(fo_redissrv_t *s) { if (s->pid > 0) kill(s->pid, SIGCONT); }
