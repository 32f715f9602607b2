/* SPDX-License-Identifier: MIT */
/* The HTTP front's per-client limits (argv[1] binary, argv[2] source dir). Clients are distinct
 * loopback addresses (127.0.0.2...: the whole 127/8 reaches lo), none of them exempt (only
 * 127.0.0.1 is, as in the shipped config):
 *  1. 1,000 half-open connections from 127.0.0.2 (a request line and one header, nothing more):
 *     while they are held, another client's GET /api/v1/versions (127.0.0.3) and a publish
 *     (127.0.0.1) are answered; 127.0.0.2 holds at most http.max_conns_per_client of them, the
 *     rest are refused at once, and those it holds are cut after http.request_timeout;
 *  2. a client over the signaling rate gets 429 with Retry-After, and is answered again after it;
 *  3. a client whose requests keep failing (bad JSON) is banned: refused, then let back after
 *     http.ban_time;
 *  4. /metrics counts each of these. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fanout/log.h"
#include "fanout/srtp.h"
#include "peer.h"
#include "testsrv.h"

#define HALF_OPEN 1000
#define PER_CLIENT 16
#define REQ_TIMEOUT_S 2
#define BAN_S 3

static fo_testsrv_t srv;

static int connect_from(const char *src, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) fo_test_fail("socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) fo_test_fail("bind %s: %s", src, strerror(errno));
    struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.http_port)};
    inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
    if (connect(fd, (struct sockaddr *)&d, sizeof d) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request from `src`; returns the status (0: no answer: refused or closed), the response
 * in resp (headers and body). */
static int request_from(const char *src, const char *method, const char *path, const char *body,
                        char *resp, size_t cap, int timeout_ms)
{
    resp[0] = '\0';
    int fd = connect_from(src, false);
    if (fd < 0) return 0;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, body ? strlen(body) : 0, body ? body : "");
    send(fd, req, (size_t)n, MSG_NOSIGNAL);
    size_t len = 0;
    int64_t end = fo_peer_now_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(end - fo_peer_now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0) break;
        ssize_t r = recv(fd, resp + len, cap - 1 - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
        resp[len] = '\0';
    }
    close(fd);
    int status = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) status = 0;
    return status;
}

static uint64_t metric(const char *name_and_labels)
{
    char resp[65536];
    if (request_from("127.0.0.1", "GET", "/metrics", NULL, resp, sizeof resp, 3000) != 200)
        fo_test_fail("GET /metrics");
    char line[160];
    snprintf(line, sizeof line, "\n%s", name_and_labels); /* a sample, not its # HELP */
    const char *p = strstr(resp, line);
    if (!p) fo_test_fail("no %s in /metrics", name_and_labels);
    return strtoull(p + strlen(line), NULL, 10);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < HALF_OPEN + 200) {
        rl.rlim_cur = rl.rlim_max < HALF_OPEN + 200 ? rl.rlim_max : HALF_OPEN + 200;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* 1: a thousand half-open connections from one client do not lock the others out. */
static void half_open(void)
{
    static int fds[HALF_OPEN];
    static const char partial[] = "POST /rtc/v1/play/ HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    int opened = 0;
    for (int i = 0; i < HALF_OPEN; i++) {
        fds[i] = connect_from("127.0.0.2", true);
        if (fds[i] >= 0) opened++;
    }
    if (opened < HALF_OPEN * 9 / 10) fo_test_fail("only %d of %d connections could even start", opened, HALF_OPEN);
    /* the connects complete in the kernel's backlog; send the partial request on each */
    for (int round = 0; round < 50; round++) {
        int pending = 0;
        for (int i = 0; i < HALF_OPEN; i++) {
            if (fds[i] < 0) continue;
            if (send(fds[i], partial, sizeof partial - 1, MSG_NOSIGNAL) < 0) {
                if (errno == EAGAIN || errno == ENOTCONN) {
                    pending++;
                    continue;
                }
            }
        }
        if (!pending) break;
        usleep(20000);
    }
    int64_t t0 = fo_peer_now_ms();
    char resp[8192];
    int st = request_from("127.0.0.3", "GET", "/api/v1/versions", NULL, resp, sizeof resp, 5000);
    int64_t versions_ms = fo_peer_now_ms() - t0;
    if (st != 200) fo_test_fail("GET /api/v1/versions from 127.0.0.3 while 127.0.0.2 holds %d connections: status %d", HALF_OPEN, st);
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .name = "pub"};
    fo_peer_t *pub = fo_peer_new(&po);
    t0 = fo_peer_now_ms();
    if (!pub || fo_peer_connect(pub, srv.api, "live/front", 10000) != 0)
        fo_test_fail("publish while 127.0.0.2 holds %d connections: %s", HALF_OPEN, pub ? fo_peer_error(pub) : "peer");
    printf("it_http_front: versions answered in %lld ms, publish connected in %lld ms, with %d half-open connections\n",
           (long long)versions_ms, (long long)(fo_peer_now_ms() - t0), HALF_OPEN);
    fo_peer_free(pub);

    /* The server refused all but PER_CLIENT at once; the rest are cut at the request timeout. */
    usleep(300000);
    int alive = 0;
    for (int i = 0; i < HALF_OPEN; i++) {
        if (fds[i] < 0) continue;
        char b;
        ssize_t r = recv(fds[i], &b, 1, MSG_DONTWAIT);
        if (r < 0 && errno == EAGAIN) alive++;
    }
    if (alive > PER_CLIENT) fo_test_fail("%d connections from 127.0.0.2 still open (cap %d)", alive, PER_CLIENT);
    uint64_t refused = metric("fanout_http_refused_total{reason=\"client_connections\"} ");
    if (refused < (uint64_t)(opened - PER_CLIENT) * 9 / 10)
        fo_test_fail("only %llu connections counted as refused", (unsigned long long)refused);
    sleep(REQ_TIMEOUT_S + 1);
    int still = 0;
    for (int i = 0; i < HALF_OPEN; i++) {
        if (fds[i] < 0) continue;
        char b;
        ssize_t r = recv(fds[i], &b, 1, MSG_DONTWAIT);
        if (r < 0 && errno == EAGAIN) still++;
        close(fds[i]);
    }
    if (still) fo_test_fail("%d half-open connections survived http.request_timeout", still);
    uint64_t timeouts = metric("fanout_http_refused_total{reason=\"request_timeout\"} ");
    if (timeouts < (uint64_t)alive || timeouts == 0)
        fo_test_fail("%llu request timeouts counted, %d connections were held", (unsigned long long)timeouts, alive);
    printf("it_http_front: %d held then cut after %d s, %llu refused at once, %llu timeouts counted\n",
           alive, REQ_TIMEOUT_S, (unsigned long long)refused, (unsigned long long)timeouts);
}

/* 2: over the signaling rate -> 429 with Retry-After; answered again after it. */
static void rate_limit(void)
{
    char resp[8192];
    int limited = 0, retry = 0;
    for (int i = 0; i < 8 && !limited; i++) {
        int st = request_from("127.0.0.4", "DELETE", "/rtc/v1/whip/resource/nosuchsession", NULL, resp,
                              sizeof resp, 3000);
        if (st == 429) {
            limited = i + 1;
            const char *h = strcasestr(resp, "\r\nRetry-After:");
            if (!h) fo_test_fail("429 without Retry-After:\n%s", resp);
            retry = atoi(h + 14);
        } else if (st != 404) {
            fo_test_fail("DELETE of an unknown resource: status %d", st);
        }
    }
    if (!limited) fo_test_fail("8 signaling requests at once were not rate limited");
    if (retry < 1 || retry > 5) fo_test_fail("Retry-After: %d", retry);
    sleep((unsigned)retry);
    int st = request_from("127.0.0.4", "DELETE", "/rtc/v1/whip/resource/nosuchsession", NULL, resp, sizeof resp, 3000);
    if (st != 404) fo_test_fail("after Retry-After (%d s): status %d", retry, st);
    if (metric("fanout_http_refused_total{reason=\"rate_limited\"} ") < 1) fo_test_fail("429 not counted");
    printf("it_http_front: request %d got 429 (Retry-After: %d), answered again after it\n", limited, retry);
}

/* 3: repeated failures ban the client; the ban ends. */
static void ban(void)
{
    char resp[8192];
    int failures = 0;
    for (int i = 0; i < 3; i++) {
        int st = request_from("127.0.0.5", "POST", "/rtc/v1/play/", "{not json", resp, sizeof resp, 3000);
        if (st != 400) fo_test_fail("bad JSON answered %d", st);
        failures++;
    }
    int st = request_from("127.0.0.5", "POST", "/rtc/v1/play/", "{}", resp, sizeof resp, 3000);
    if (st != 0) fo_test_fail("a banned client was answered %d", st);
    st = request_from("127.0.0.5", "GET", "/api/v1/versions", NULL, resp, sizeof resp, 3000);
    if (st != 0) fo_test_fail("a banned client's GET was answered %d", st);
    /* others are not affected */
    if (request_from("127.0.0.6", "GET", "/api/v1/versions", NULL, resp, sizeof resp, 3000) != 200)
        fo_test_fail("another client was refused during the ban");
    if (metric("fanout_http_bans_total ") != 1) fo_test_fail("bans not counted");
    if (metric("fanout_http_refused_total{reason=\"banned\"} ") < 2) fo_test_fail("refusals during the ban not counted");
    sleep(BAN_S + 1);
    st = request_from("127.0.0.5", "GET", "/api/v1/versions", NULL, resp, sizeof resp, 3000);
    if (st != 200) fo_test_fail("after the ban: status %d", st);
    if (fo_testsrv_log_count(&srv, "client 127.0.0.5 banned for") != 1) fo_test_fail("ban not logged once");
    printf("it_http_front: banned after %d failures, refused, let back after %d s\n", failures, BAN_S);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FANOUT_BIN SRCDIR\n", argv[0]);
        return 2;
    }
    raise_fd_limit();
    char per[64], to[64];
    snprintf(per, sizeof per, "http.max_conns_per_client=%d", PER_CLIENT);
    snprintf(to, sizeof to, "http.request_timeout=%d", REQ_TIMEOUT_S);
    const char *extra[] = {"--set", per, "--set", to, "--set", "http.signal_rate=1",
                           "--set", "http.signal_burst=3", "--set", "http.ban_failures=3",
                           "--set", "http.ban_window=30", "--set", "http.ban_time=3",
                           "--set", "http.exempt=127.0.0.1", "--log-level", "info", NULL};
    fo_testsrv_start(&srv, "it_http_front", argv[1], argv[2], extra, 100);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    half_open();
    rate_limit();
    ban();
    if (fo_testsrv_log_count(&srv, "client 127.0.0.2: ") > 2)
        fo_test_fail("127.0.0.2's refusals were logged more than once a minute per kind");
    fo_srtp_global_shutdown();
    fo_testsrv_stop_clean(&srv);
    printf("it_http_front: ok\n");
    return 0;
}
