/* SPDX-License-Identifier: MIT */
/* Hostile peers against a locked-down server (argv[1] binary, argv[2] source dir): tokens
 * required (auth.secret), an operator API secret, an on_play callback that refuses one stream
 * and an on_stop notification (served by a small HTTP thread here), two players per stream,
 * five sessions per client IP (loopback not exempt), 300 packets/s per peer. Sends each class
 * of bad input: wrong credentials (no/expired/foreign/garbage tokens, wrong API secret),
 * over-the-cap requests, wrong state (media before DTLS, junk after), replayed SRTP, a packet
 * flood and random bytes; checks each answer (HTTP status + JSON code), that players saw no
 * replayed or flooded copies beyond the cap, that the server counted what it dropped (its
 * counters at shutdown), and that a new publish + play still carries media. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fanout/auth.h"
#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "peer.h"
#include "testsrv.h"

#define SECRET "hostile-test-secret"

static fo_testsrv_t srv;
static fo_dtls_ctx_t *dctx;
static fo_stun_t *stun;

/* --- the operator's callback server --- */

static int hook_fd = -1, hook_port;
static volatile int hook_stop;
static int hook_on_play, hook_on_stop;
static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;

static void *hook_main(void *arg)
{
    (void)arg;
    while (!hook_stop) {
        struct pollfd p = {.fd = hook_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int c = accept(hook_fd, NULL, NULL);
        if (c < 0) continue;
        char req[8192];
        size_t n = 0;
        for (;;) { /* headers, then Content-Length bytes */
            struct pollfd q = {.fd = c, .events = POLLIN};
            if (poll(&q, 1, 1000) <= 0) break;
            ssize_t r = recv(c, req + n, sizeof req - 1 - n, 0);
            if (r <= 0) break;
            n += (size_t)r;
            req[n] = '\0';
            char *h = strstr(req, "\r\n\r\n");
            char *cl = strcasestr(req, "Content-Length:");
            if (h && cl && n - (size_t)(h + 4 - req) >= (size_t)atoi(cl + 15)) break;
        }
        req[n] = '\0';
        pthread_mutex_lock(&hook_mu);
        if (strstr(req, "\"on_play\"")) hook_on_play++;
        if (strstr(req, "\"on_stop\"")) hook_on_stop++;
        pthread_mutex_unlock(&hook_mu);
        const char *body = strstr(req, "\"stream\":\"denied\"") ? "{\"code\":403}" : "{\"code\":0}";
        char resp[256];
        int l = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
        send(c, resp, (size_t)l, MSG_NOSIGNAL);
        close(c);
    }
    return NULL;
}

static void hook_start(pthread_t *th)
{
    hook_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (hook_fd < 0 || bind(hook_fd, (struct sockaddr *)&a, sizeof a) || listen(hook_fd, 16) ||
        getsockname(hook_fd, (struct sockaddr *)&a, &l))
        fo_test_fail("hook server");
    hook_port = ntohs(a.sin_port);
    pthread_create(th, NULL, hook_main, NULL);
}

/* --- helpers --- */

static void token(fo_auth_action_t act, const char *key, int64_t ttl, char *out)
{
    if (fo_auth_make_token(SECRET, act, key, (int64_t)time(NULL) + ttl, out, 128) < 0)
        fo_test_fail("make token");
}

static fo_peer_t *new_peer(fo_peer_role_t role, const char *name)
{
    fo_peer_opts_t o = {.role = role, .dtls = dctx, .stun = stun, .name = name};
    fo_peer_t *p = fo_peer_new(&o);
    if (!p) fo_test_fail("peer");
    return p;
}

/* Signals and expects a refusal with this status and code; frees the peer. */
static void expect_refused(const char *what, fo_peer_role_t role, const char *stream, int status, int code)
{
    fo_peer_t *p = new_peer(role, "refused");
    int rc = fo_peer_signal(p, srv.api, stream, 5000);
    if (rc == 0 || fo_peer_http_status(p) != status || fo_peer_api_code(p) != code)
        fo_test_fail("%s: got rc %d HTTP %d code %d (%s), want %d / %d", what, rc,
                     fo_peer_http_status(p), fo_peer_api_code(p), fo_peer_error(p), status, code);
    fo_peer_free(p);
}

static fo_peer_t *connect_ok(fo_peer_role_t role, const char *name, const char *stream)
{
    fo_peer_t *p = new_peer(role, name);
    if (fo_peer_connect(p, srv.api, stream, 10000))
        fo_test_fail("%s on %s: %s (HTTP %d code %d)", name, stream, fo_peer_error(p),
                     fo_peer_http_status(p), fo_peer_api_code(p));
    return p;
}

static int rx[4];
static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)p, (void)pkt, (void)len;
    if (!is_rtcp) rx[(intptr_t)user]++;
}

static void pump(fo_peer_t *const *peers, size_t n, int ms)
{
    int64_t end = fo_peer_now_ms() + ms;
    do {
        struct pollfd pf[8];
        for (size_t i = 0; i < n; i++) pf[i] = (struct pollfd){.fd = fo_peer_fd(peers[i]), .events = POLLIN};
        poll(pf, (nfds_t)n, 10);
        for (size_t i = 0; i < n; i++) fo_peer_process(peers[i]);
    } while (fo_peer_now_ms() < end);
}

static uint16_t seq_no = 1;
static void send_audio(fo_peer_t *pub)
{
    uint8_t pkt[172] = {0};
    uint16_t seq = seq_no++;
    fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, seq, seq * 960u, fo_peer_ssrc(pub, "audio"));
    fo_peer_send_rtp(pub, pkt, sizeof pkt);
}

/* A counter from the server's shutdown line "counters: ... name N, ...". */
static long long log_counter(const char *name)
{
    FILE *f = fopen(srv.log_path, "r");
    char line[2048];
    long long v = -1;
    char needle[64];
    snprintf(needle, sizeof needle, " %s ", name);
    while (f && fgets(line, sizeof line, f)) {
        char *p = strstr(line, "counters:");
        if (p && (p = strstr(p, needle))) v = atoll(p + strlen(needle));
    }
    if (f) fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    pthread_t hook_th;
    hook_start(&hook_th);
    char url[128];
    setenv("FANOUT_AUTH_SECRET", SECRET, 1);
    setenv("FANOUT_AUTH_API_SECRET", "ops-secret", 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/on_play", hook_port);
    setenv("FANOUT_AUTH_ON_PLAY", url, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/on_stop", hook_port);
    setenv("FANOUT_AUTH_ON_STOP", url, 1);
    setenv("FANOUT_RTC_MAX_PLAYERS_PER_STREAM", "2", 1);
    setenv("FANOUT_RTC_MAX_SESSIONS_PER_IP", "5", 1);
    setenv("FANOUT_RTC_LIMITS_EXEMPT", "", 1);
    setenv("FANOUT_RTC_MAX_PPS", "300", 1);
    fo_testsrv_start(&srv, "it_hostile", argv[1], argv[2], NULL, 90);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    dctx = fo_dtls_ctx_new(NULL, NULL);
    stun = fo_stun_new();

    /* 1. wrong credentials: 401 / 1013, nothing created */
    char t[128], s[256];
    expect_refused("publish without a token", FO_PEER_PUBLISH, "live/h", 401, 1013);
    token(FO_AUTH_PLAY, "live/h", 60, t);
    snprintf(s, sizeof s, "live/h?token=%s", t);
    expect_refused("publish with a play token", FO_PEER_PUBLISH, s, 401, 1013);
    token(FO_AUTH_PUBLISH, "live/other", 60, t);
    snprintf(s, sizeof s, "live/h?token=%s", t);
    expect_refused("publish with another stream's token", FO_PEER_PUBLISH, s, 401, 1013);
    token(FO_AUTH_PUBLISH, "live/h", -5, t);
    snprintf(s, sizeof s, "live/h?token=%s", t);
    expect_refused("publish with an expired token", FO_PEER_PUBLISH, s, 401, 1013);
    expect_refused("publish with a garbage token", FO_PEER_PUBLISH, "live/h?token=publish.9999999999.zz", 401, 1013);

    /* 2. the operator API: its secret binds even loopback */
    char *out = NULL;
    int st = fo_peer_http_post((snprintf(url, sizeof url, "%s/api/v1/streams/", srv.api), url),
                               "application/json", "{}", &out, 3000);
    if (st != 401 || !strstr(out ? out : "", "1013")) fo_test_fail("operator API without secret: HTTP %d %s", st, out);
    free(out);

    /* 3. a valid publisher, the callback refusing a stream, the per-stream player cap */
    token(FO_AUTH_PUBLISH, "live/h", 60, t);
    snprintf(s, sizeof s, "live/h?token=%s", t);
    fo_peer_t *pub = connect_ok(FO_PEER_PUBLISH, "pub", s);
    token(FO_AUTH_PLAY, "live/denied", 60, t);
    snprintf(s, sizeof s, "live/denied?token=%s", t);
    expect_refused("play refused by on_play", FO_PEER_PLAY, s, 403, 1014);
    token(FO_AUTH_PLAY, "live/h", 60, t);
    snprintf(s, sizeof s, "live/h?token=%s", t);
    fo_peer_t *p1 = connect_ok(FO_PEER_PLAY, "p1", s), *p2 = connect_ok(FO_PEER_PLAY, "p2", s);
    expect_refused("third player (max_players_per_stream 2)", FO_PEER_PLAY, s, 503, 1008);
    fo_peer_set_recv_cb(p1, on_rx, (void *)1);
    fo_peer_set_recv_cb(p2, on_rx, (void *)2);

    /* 4. per-IP cap: 3 sessions so far, two more fit, the sixth gets 429 / 1012 */
    fo_peer_t *extra[2];
    for (int i = 0; i < 2; i++) {
        char key[32];
        snprintf(key, sizeof key, "live/x%d", i);
        token(FO_AUTH_PUBLISH, key, 60, t);
        snprintf(s, sizeof s, "%s?token=%s", key, t);
        extra[i] = new_peer(FO_PEER_PUBLISH, "extra");
        if (fo_peer_signal(extra[i], srv.api, s, 5000)) fo_test_fail("extra publisher %d: %s", i, fo_peer_error(extra[i]));
    }
    token(FO_AUTH_PUBLISH, "live/x9", 60, t);
    snprintf(s, sizeof s, "live/x9?token=%s", t);
    expect_refused("sixth session from one IP", FO_PEER_PUBLISH, s, 429, 1012);

    /* 5. wrong state: media-shaped bytes from the half-done sessions (signaled, no ICE) and
     * SRTP-shaped junk and a stray ClientHello from connected, verified addresses */
    uint8_t junk[200];
    memset(junk, 0xab, sizeof junk);
    junk[0] = 0x80, junk[1] = 111;
    for (int i = 0; i < 50; i++) fo_peer_send_raw(extra[i % 2], junk, sizeof junk);
    for (int i = 0; i < 50; i++) fo_peer_send_raw(p1, junk, sizeof junk);
    junk[0] = 22, junk[1] = 0xfe, junk[2] = 0xfd; /* DTLS record after the handshake */
    for (int i = 0; i < 20; i++) fo_peer_send_raw(p1, junk, sizeof junk);

    /* 6. replayed SRTP: players get one copy, not 51 */
    fo_peer_t *const all[] = {pub, p1, p2};
    for (int i = 0; i < 20; i++) send_audio(pub), pump(all, 3, 20);
    pump(all, 3, 200);
    if (rx[1] < 15 || rx[2] < 15) fo_test_fail("players got %d / %d of 20 packets", rx[1], rx[2]);
    size_t rl;
    const uint8_t *last = fo_peer_last_protected(pub, &rl);
    uint8_t replay[1600];
    memcpy(replay, last, rl);
    int before = rx[1];
    for (int i = 0; i < 50; i++) fo_peer_send_raw(pub, replay, rl);
    pump(all, 3, 300);
    if (rx[1] != before) fo_test_fail("replayed SRTP reached a player (%d -> %d)", before, rx[1]);

    /* 7. a flood: 3000 packets at once, 300/s allowed with a one-second burst */
    before = rx[1];
    for (int i = 0; i < 3000; i++) {
        send_audio(pub);
        if (i % 100 == 0) pump(all, 3, 0);
    }
    pump(all, 3, 500);
    int flooded = rx[1] - before;
    if (flooded > 600) fo_test_fail("a flood of 3000 packets passed %d (max_pps 300)", flooded);
    if (flooded < 100) fo_test_fail("only %d of a flood reached the player: the cap bit too hard", flooded);

    /* 8. random bytes at the port from a stranger: no answer */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.rtc_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint32_t x = 12345;
    for (int i = 0; i < 2000; i++) {
        uint8_t b[300];
        size_t len = 1 + i % sizeof b;
        for (size_t j = 0; j < len; j++) x = x * 1103515245u + 12345u, b[j] = (uint8_t)(x >> 16);
        sendto(fd, b, len, 0, (struct sockaddr *)&a, sizeof a);
    }
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, 300) > 0) fo_test_fail("the server answered a stranger's random bytes");
    close(fd);

    /* 9. ending sessions gives their IP slots back; the server still serves publish + play */
    fo_peer_free(extra[0]);
    fo_peer_free(extra[1]);
    fo_peer_free(p2);
    fo_peer_close(pub);
    pump(all, 2, 300);
    fo_peer_free(pub);
    fo_peer_free(p1);
    pump(NULL, 0, 300);
    token(FO_AUTH_PUBLISH, "live/after", 60, t);
    snprintf(s, sizeof s, "live/after?token=%s", t);
    fo_peer_t *pub2 = connect_ok(FO_PEER_PUBLISH, "pub2", s);
    token(FO_AUTH_PLAY, "live/after", 60, t);
    snprintf(s, sizeof s, "live/after?token=%s", t);
    fo_peer_t *pl2 = connect_ok(FO_PEER_PLAY, "pl2", s);
    fo_peer_set_recv_cb(pl2, on_rx, (void *)3);
    fo_peer_t *const after[] = {pub2, pl2};
    for (int i = 0; i < 30; i++) send_audio(pub2), pump(after, 2, 20);
    pump(after, 2, 200);
    if (rx[3] < 20) fo_test_fail("after the abuse a player got only %d of 30 packets", rx[3]);
    fo_peer_free(pl2);
    fo_peer_free(pub2);

    int status = fo_testsrv_stop(&srv);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fo_testsrv_dump_log(&srv);
        fo_test_fail("server did not exit cleanly (status 0x%x)", status);
    }
    long long rate = log_counter("rx_rate_dropped"), limited = log_counter("offers_limited");
    long long unknown = log_counter("rx_unknown");
    int replay_lines = fo_testsrv_log_count(&srv, "session ended: rx");
    hook_stop = 1;
    pthread_join(hook_th, NULL);
    close(hook_fd);
    if (rate < 1000 || limited < 2 || unknown < 100 || replay_lines < 4) {
        fo_testsrv_dump_log(&srv);
        fo_test_fail("counters: rx_rate_dropped %lld, offers_limited %lld, rx_unknown %lld, "
                     "session-end lines %d", rate, limited, unknown, replay_lines);
    }
    if (hook_on_play < 3 || hook_on_stop < 1)
        fo_test_fail("callbacks: on_play %d (want >= 3), on_stop %d (want >= 1)", hook_on_play, hook_on_stop);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    unlink(srv.log_path);
    printf("it_hostile: OK: 5 bad tokens 401, operator API 401, on_play refusal 403, stream cap "
           "503, per-IP cap 429, replayed SRTP x50 not forwarded, flood of 3000 passed %d, "
           "random bytes unanswered; server counted rx_rate_dropped %lld, offers_limited %lld, "
           "rx_unknown %lld; callbacks on_play %d on_stop %d; publish+play after: %d packets\n",
           flooded, rate, limited, unknown, hook_on_play, hook_on_stop, rx[3]);
    return 0;
}
