/* SPDX-License-Identifier: MIT */
/* Server child process handling for the integration tests (see testsrv.h). */
#include "testsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every server started by this process, for the alarm handler and fo_test_fail (the cluster
 * tests run several). */
static fo_testsrv_t *g_srvs[8];
static size_t g_n;

static void stop_all(void)
{
    for (size_t i = 0; i < g_n; i++) {
        if (g_srvs[i]->pid <= 0) continue;
        fo_testsrv_stop(g_srvs[i]);
        fo_testsrv_dump_log(g_srvs[i]);
    }
}

void fo_testsrv_dump_log(const fo_testsrv_t *s)
{
    int fd = open(s->log_path, O_RDONLY);
    if (fd < 0) return;
    static const char hdr[] = "---- fanout stderr ----\n";
    (void)!write(2, hdr, sizeof hdr - 1);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) (void)!write(2, buf, (size_t)n);
    static const char ftr[] = "---- end of fanout stderr ----\n";
    (void)!write(2, ftr, sizeof ftr - 1);
    close(fd);
}

int fo_testsrv_stop(fo_testsrv_t *s)
{
    if (!s || s->pid <= 0) return -1;
    int status = -1;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = -1;
            return status;
        }
        usleep(10000);
    }
    static const char msg[] = "server ignored SIGTERM for 5 s, killing it\n";
    (void)!write(2, msg, sizeof msg - 1);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = -1;
    return status;
}

void fo_test_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: FAIL: ", g_n ? g_srvs[0]->name : "test");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    stop_all();
    exit(1);
}

void fo_testsrv_stop_clean(fo_testsrv_t *s)
{
    int status = fo_testsrv_stop(s);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: FAIL: server did not exit cleanly (%s %d)\n", s->name,
                WIFEXITED(status) ? "exit code" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        fo_testsrv_dump_log(s);
        exit(1);
    }
    unlink(s->log_path);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: test timed out\n";
    (void)!write(2, msg, sizeof msg - 1);
    stop_all();
    _exit(1);
}

int fo_test_free_port(int type)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (void *)&a, &l))
        fo_test_fail("free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

int fo_test_free_port_both(void)
{
    for (int i = 0; i < 100; i++) {
        int port = fo_test_free_port(SOCK_DGRAM);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0) close(fd);
        if (ok) return port;
    }
    fo_test_fail("no port free for both UDP and TCP");
}

int fo_testsrv_log_count(const fo_testsrv_t *s, const char *needle)
{
    FILE *f = fopen(s->log_path, "r");
    char line[2048];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, needle)) n++;
    if (f) fclose(f);
    return n;
}

void fo_testsrv_start(fo_testsrv_t *s, const char *name, const char *bin, const char *srcdir,
                      const char *const *extra, int timeout_s)
{
    memset(s, 0, sizeof *s);
    s->pid = -1;
    snprintf(s->name, sizeof s->name, "%s", name);
    bool known = false;
    for (size_t i = 0; i < g_n; i++) known |= g_srvs[i] == s;
    if (!known && g_n < sizeof g_srvs / sizeof g_srvs[0]) g_srvs[g_n++] = s;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    unsigned left = alarm(0); /* the first server's alarm stands for the whole test */
    alarm(left ? left : (unsigned)timeout_s);
    s->http_port = fo_test_free_port(SOCK_STREAM);
    s->rtc_port = fo_test_free_port_both(); /* ICE-TCP takes the same number (rtc.tcp_port auto) */
    snprintf(s->api, sizeof s->api, "http://127.0.0.1:%d", s->http_port);
    char conf[512], hp[16], rp[16], www[512];
    snprintf(conf, sizeof conf, "%s/conf/fanout.conf", srcdir);
    snprintf(www, sizeof www, "%s/www", srcdir);
    snprintf(hp, sizeof hp, "%d", s->http_port);
    snprintf(rp, sizeof rp, "%d", s->rtc_port);
    snprintf(s->log_path, sizeof s->log_path, "/tmp/%s-%d-%p.log", name, (int)getpid(), (void *)s);
    int log = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log < 0) fo_test_fail("cannot create %s", s->log_path);
    const char *argv[40] = {bin, "-c", conf, "--http-port", hp, "--rtc-port", rp, "--candidate",
                            "127.0.0.1", "--log-level", "debug", "--www", www,
                            /* HTTPS has a fixed port and writes a certificate next to the
                             * config: off unless a test turns it on in `extra` */
                            "--no-https"};
    size_t argc = 14;
    for (size_t i = 0; extra && extra[i] && argc < 39; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    s->pid = fork();
    if (s->pid < 0) fo_test_fail("fork: %s", strerror(errno));
    if (s->pid == 0) {
        dup2(log, 1);
        dup2(log, 2);
        execv(bin, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(log);
    for (int i = 0; i < 1000; i++) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = -1;
            fo_test_fail("server exited during start-up (status 0x%x)", status);
        }
        if (fo_testsrv_log_count(s, "fanout ready") > 0) return;
        usleep(10000);
    }
    fo_test_fail("no \"fanout ready\" from the server within 10 s");
}
