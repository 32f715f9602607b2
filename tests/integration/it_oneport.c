/* SPDX-License-Identifier: MIT */
/* One TCP port for everything (rtc.tcp_on_https): the fanout binary (argv[1], source dir
 * argv[2]) with UDP media off, rtc.tcp_port off and HTTPS on a free port P, which also takes
 * ICE-TCP. Checks: answers carry TCP candidates only, all on P; a publisher and two players
 * over ICE-TCP to P get every packet byte-exact; meanwhile HTTPS on the same port serves the
 * pages and the API (libcurl, certificate not verified: it is self-signed), and a cleartext
 * HTTP request on it is closed; /metrics counts the TLS connections handed to HTTPS. One
 * process, alarm(90). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "itmedia.h"
#include "peer.h"
#include "testsrv.h"

#define MEDIA_MS 3000
#define DRAIN_MS 600
#define HTTPS_EVERY_MS 200

#define die(...) fo_test_fail(__VA_ARGS__)

static fo_testsrv_t g_srv;

typedef struct {
    char *buf;
    size_t len;
} sink_t;

static size_t sink_cb(char *p, size_t sz, size_t n, void *user)
{
    sink_t *s = user;
    char *nb = realloc(s->buf, s->len + sz * n + 1);
    if (!nb) return 0;
    s->buf = nb;
    memcpy(s->buf + s->len, p, sz * n);
    s->len += sz * n;
    s->buf[s->len] = '\0';
    return sz * n;
}

/* An HTTPS request to the one port; returns the status, the body in *body (caller frees). */
static long https(int port, const char *path, const char *post, char **body)
{
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    sink_t s = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (post) curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) die("HTTPS %s: %s", path, curl_easy_strerror(rc));
    *body = s.buf ? s.buf : strdup("");
    return status;
}

static void https_round(int port, int *n)
{
    char *b;
    long st = https(port, "/publisher.html", NULL, &b);
    if (st != 200 || !strstr(b, "<html")) die("HTTPS GET /publisher.html on the one port: %ld", st);
    free(b);
    st = https(port, "/rtc/v1/play/", "garbage", &b);
    if (st != 400 || !strstr(b, "\"code\":1001")) die("HTTPS POST /rtc/v1/play/ garbage: %ld %s", st, b);
    free(b);
    *n += 2;
}

/* Cleartext HTTP on the HTTPS port is neither TLS nor ICE-TCP: the server closes it. */
static void cleartext_refused(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect to the one port");
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0) die("send");
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[64];
    if (poll(&p, 1, 3000) != 1 || recv(fd, buf, sizeof buf, 0) > 0) die("cleartext HTTP on the HTTPS port was not closed");
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fanout binary> <source dir>\n", argv[0]);
        return 2;
    }
    setenv("FANOUT_RTC_INSTANT_START", "0", 1);
    int port = fo_test_free_port(SOCK_STREAM);
    char ps[16], cert[128], key[128];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(cert, sizeof cert, "https.cert=/tmp/it_oneport-%d.crt", (int)getpid());
    snprintf(key, sizeof key, "https.key=/tmp/it_oneport-%d.key", (int)getpid());
    const char *extra[] = {"--set", "https.enabled=true", "--https-port", ps, "--set", cert, "--set", key,
                           "--set", "rtc.tcp_on_https=true", "--set", "rtc.tcp_port=0", "--set", "rtc.udp=false",
                           NULL};
    fo_testsrv_start(&g_srv, "it_oneport", argv[1], argv[2], extra, 90);
    fo_log_set_level(getenv("IT_DEBUG") ? FO_LOG_DEBUG : FO_LOG_WARN);
    if (fo_srtp_global_init() || curl_global_init(CURL_GLOBAL_DEFAULT)) die("global init");
    char stream[64];
    snprintf(stream, sizeof stream, "live/oneport-%d", (int)getpid());
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();

    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub", .tcp = true,
                         .tcp_port = (uint16_t)port};
    fo_peer_t *pub = fo_peer_new(&po);
    if (!pub || fo_peer_connect(pub, g_srv.api, stream, 10000)) die("publisher over the one port: %s", fo_peer_error(pub));
    const fo_peer_answer_t *a = fo_peer_answer(pub);
    const char *sdp = fo_peer_answer_sdp(pub);
    if (a->n_udp != 0 || a->n_tcp == 0) die("answer: %u UDP and %u TCP candidates, want TCP only", a->n_udp, a->n_tcp);
    for (const char *l = strstr(sdp, "a=candidate:"); l; l = strstr(l + 1, "a=candidate:")) {
        unsigned cport;
        if (sscanf(l, "a=candidate:%*s %*s tcp %*u %*s %u typ host tcptype passive", &cport) != 1 || (int)cport != port)
            die("candidate not a passive TCP one on port %d: %.100s", port, l);
    }

    it_sender_t snd;
    it_sender_init(&snd, pub);
    it_player_t pl[2];
    static const char *const names[2] = {"play1", "play2"};
    for (int i = 0; i < 2; i++) {
        fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = names[i], .tcp = true,
                            .tcp_port = (uint16_t)port};
        fo_peer_t *p = fo_peer_new(&o);
        if (!p || fo_peer_connect(p, g_srv.api, stream, 10000)) die("%s: %s", names[i], fo_peer_error(p));
        it_player_init(&pl[i], names[i], p, &snd);
        it_player_take_ssrcs(&pl[i]);
    }

    int https_requests = 0;
    int64_t next_https = 0;
    int64_t t0 = fo_peer_now_ms();
    for (;;) {
        int64_t t = fo_peer_now_ms() - t0;
        if (t >= MEDIA_MS + DRAIN_MS) break;
        if (t < MEDIA_MS) it_sender_run(&snd, t);
        if (t < MEDIA_MS && t >= next_https) {
            next_https = t + HTTPS_EVERY_MS;
            https_round(port, &https_requests);
        }
        fo_peer_t *peers[3] = {pub, pl[0].peer, pl[1].peer};
        static const char *const who[3] = {"pub", "play1", "play2"};
        it_pump(peers, who, 3, 2);
    }
    cleartext_refused(port);
    char summary[256] = "";
    for (int i = 0; i < 2; i++) {
        it_player_check_clean(&pl[i]);
        it_expect_lossless(&pl[i], 0, INT64_MAX, "over the one port");
        uint32_t ag, ae, vg, ve;
        it_window(&pl[i], false, 0, &ag, &ae);
        it_window(&pl[i], true, 0, &vg, &ve);
        snprintf(summary + strlen(summary), sizeof summary - strlen(summary), "%s%s a %u/%u v %u/%u", i ? ", " : "",
                 names[i], ag, ae, vg, ve);
    }
    char *m;
    if (https(port, "/metrics", NULL, &m) != 200) die("HTTPS /metrics");
    static const char name[] = "\nfanout_tcp_tls_handed_over_total ";
    const char *h = strstr(m, name);
    long long handed = h ? atoll(h + sizeof name - 1) : -1;
    free(m);
    if (handed < https_requests) die("fanout_tcp_tls_handed_over_total %lld < %d HTTPS requests", handed, https_requests);

    for (int i = 0; i < 2; i++) {
        fo_peer_free(pl[i].peer);
        it_player_free(&pl[i]);
    }
    fo_peer_free(pub);
    fo_testsrv_stop_clean(&g_srv);
    unlink(cert + 11);
    unlink(key + 10);
    printf("it_oneport: OK: port %d: ICE-TCP publisher and players (%s) and %d HTTPS requests on it; "
           "cleartext HTTP closed; %lld TLS connections handed over; server exited 0\n",
           port, summary, https_requests, handed);
    it_sender_free(&snd);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    curl_global_cleanup();
    return 0;
}
