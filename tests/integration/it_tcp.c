/* SPDX-License-Identifier: MIT */
/* ICE-TCP on loopback (RFC 6544 passive candidates, RFC 4571 framing): the fanout binary
 * (argv[1]) with the repo's config (source dir argv[2]); a publisher over ICE-TCP and players
 * over ICE-TCP and UDP, with byte-exact payloads and exact seq/timestamp continuity; the
 * answer lists every UDP candidate before the TCP ones, which have lower priorities. While
 * media flows, hostile input on the TCP port: a connection closed in the middle of a frame,
 * unframed garbage, an oversized frame, media before any ICE check, and on a live player's own
 * connection oversized and garbage frames and then a close mid-frame; and 1,000 half-open
 * connections (connected, silent), over rtc.tcp_max_pending: the oldest are closed with one
 * clear warning while a new ICE-TCP player still joins and plays, the HTTP API answers and no
 * other player loses a packet. The server's counters (/metrics, /api/v1/clients) must show
 * all of it, and it must exit 0 (no leaks under ASan). One process, alarm(100). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "fanout/tcpframe.h"
#include "itmedia.h"
#include "peer.h"
#include "testsrv.h"

#define MEDIA_MS 6000
#define DRAIN_MS 700
#define P2_JOIN_MS 1000
#define HOSTILE_MS 2000
#define FLOOD_MS 3000
#define FLOOD_N 1000
#define FLOOD_CAP 200
#define FLOOD_END_MS 4500
#define VANISH_MS 2500

#define die(...) fo_test_fail(__VA_ARGS__)

static fo_testsrv_t g_srv;

/* A TCP connection to the server's ICE-TCP port (blocking connect, then non-blocking). */
static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect: %s", strerror(errno));
    return fd;
}

static void send_all(int fd, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0) return; /* the server may close first: fine */
        b += w;
        n -= (size_t)w;
    }
}

/* Whether the server closed fd within ms (reads and discards). */
static bool closed_by_server(int fd, int ms)
{
    int64_t end = fo_peer_now_ms() + ms;
    uint8_t buf[512];
    while (fo_peer_now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return true;
    }
    return false;
}

typedef struct {
    int fd[4];
    const char *what[4];
} hostile_t;

/* Raw connections that must each be closed by the server (checked later, so that media keeps
 * flowing meanwhile): mid-frame close is the client's side, the rest the server's. */
static void hostile_start(hostile_t *h, int port)
{
    uint32_t rnd = 0x9e3779b9;
    uint8_t buf[70000];
    /* 1. a frame header that promises 1000 bytes, 10 of them, then our close */
    int fd = tcp_connect(port);
    fo_tcpframe_header(buf, 1000);
    memset(buf + 2, 0x01, 10);
    send_all(fd, buf, 12);
    close(fd);
    /* 2. unframed garbage */
    h->fd[0] = tcp_connect(port);
    h->what[0] = "garbage";
    for (size_t i = 0; i < 3000; i++) buf[i] = (uint8_t)((rnd = rnd * 1103515245u + 12345u) >> 16);
    buf[0] = 0x00;
    buf[1] = 0x30; /* a 48-byte first frame that is no STUN message */
    send_all(h->fd[0], buf, 3000);
    /* 3. an oversized frame (skipped), then media before any check */
    h->fd[1] = tcp_connect(port);
    h->what[1] = "oversized, then media before a check";
    fo_tcpframe_header(buf, 65535);
    memset(buf + 2, 0x80, 65535);
    fo_tcpframe_header(buf + 65537, 100);
    memset(buf + 65539, 0x80, 100);
    send_all(h->fd[1], buf, 65639);
    /* 4. a framed STUN binding request with credentials nobody has */
    h->fd[2] = tcp_connect(port);
    h->what[2] = "a STUN request for an unknown ufrag";
    fo_stun_t *stun = fo_stun_new();
    int n = fo_stun_build_request(stun, buf + 2, 512, "nobody:here", "nopasswordatall12345678", 1, 2, true);
    fo_stun_free(stun);
    if (n <= 0) die("building a STUN request");
    fo_tcpframe_header(buf, (size_t)n);
    send_all(h->fd[2], buf, (size_t)n + 2);
    h->fd[3] = -1;
}

static void hostile_check(hostile_t *h)
{
    for (int i = 0; i < 4 && h->fd[i] >= 0; i++) {
        if (!closed_by_server(h->fd[i], 3000)) die("the server kept a connection that sent %s", h->what[i]);
        close(h->fd[i]);
    }
}

/* Connections that connect and say nothing. */
static int *flood_open(int port, int n)
{
    int *fds = malloc((size_t)n * sizeof *fds);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fds[i] < 0) die("socket %d: %s", i, strerror(errno));
        if (connect(fds[i], (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
            die("connect %d: %s", i, strerror(errno));
    }
    return fds;
}

static long long metric(const char *text, const char *name)
{
    const char *p = text;
    size_t n = strlen(name);
    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ') return atoll(p + n + 1);
        p += n;
    }
    die("/metrics has no %s", name);
}

static char *get(const char *path)
{
    char url[256], *body = NULL;
    snprintf(url, sizeof url, "%s%s", g_srv.api, path);
    int st = fo_peer_http_request("GET", url, NULL, NULL, NULL, &body, 5000);
    if (st != 200) die("GET %s: %d", path, st);
    return body;
}

/* UDP candidates first, TCP ones (tcptype passive) after them with lower priorities. */
static void check_candidates(const char *sdp, int port)
{
    unsigned long min_udp = ~0ul, max_tcp = 0;
    bool tcp_seen = false, udp_after_tcp = false;
    int n_tcp = 0;
    for (const char *l = strstr(sdp, "a=candidate:"); l; l = strstr(l + 1, "a=candidate:")) {
        const char *m = strstr(sdp, "\nm=");
        while (m && m < l) { /* per m-section */
            const char *next = strstr(m + 1, "\nm=");
            if (!next || next > l) break;
            m = next;
        }
        static const char *section;
        if (m != section) {
            section = m;
            tcp_seen = false;
        }
        char line[256], proto[8], ip[64];
        unsigned long prio;
        unsigned cport;
        snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\r\n"), l);
        if (sscanf(line, "a=candidate:%*s %*s %7s %lu %63s %u typ host", proto, &prio, ip, &cport) != 4)
            die("candidate line: %s", line);
        if (!strcmp(proto, "udp")) {
            if (tcp_seen) udp_after_tcp = true;
            if (prio < min_udp) min_udp = prio;
        } else if (!strcmp(proto, "tcp")) {
            tcp_seen = true;
            if (!strstr(line, " tcptype passive")) die("TCP candidate without tcptype passive: %s", line);
            if ((int)cport != port) die("TCP candidate on port %u, expected %d", cport, port);
            if (prio > max_tcp) max_tcp = prio;
            n_tcp++;
        }
    }
    if (!n_tcp || udp_after_tcp || max_tcp >= min_udp)
        die("candidates: %d TCP, a UDP one after TCP: %d, highest TCP priority %lu, lowest UDP %lu",
            n_tcp, udp_after_tcp, max_tcp, min_udp);
}

/* The /api/v1/clients entry of a session. */
static json_t *client_json(const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/clients/%s", id);
    char *body = get(path);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    json_t *c = j ? json_object_get(j, "client") : NULL;
    if (!c) die("GET %s: no client", path);
    json_incref(c);
    json_decref(j);
    return c;
}

typedef struct {
    it_player_t pl;
    bool tcp, signaled;
    int64_t join_ms;
} member_t;

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fanout binary> <source dir>\n", argv[0]);
        return 2;
    }
    /* exact seq/timestamp continuity is checked: no instant start (it_media says why) */
    setenv("FANOUT_RTC_INSTANT_START", "0", 1);
    char cap[64];
    snprintf(cap, sizeof cap, "rtc.tcp_max_pending=%d", FLOOD_CAP);
    const char *extra[] = {"--set", cap, NULL};
    fo_testsrv_start(&g_srv, "it_tcp", argv[1], argv[2], extra, 100);
    fo_log_set_level(getenv("IT_DEBUG") ? FO_LOG_DEBUG : FO_LOG_WARN);
    if (fo_srtp_global_init()) die("fo_srtp_global_init");
    int port = g_srv.rtc_port;
    char stream[64];
    snprintf(stream, sizeof stream, "live/tcp-%d", (int)getpid());
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    if (!dctx || !stun) die("DTLS context or STUN agent");

    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub", .tcp = true};
    fo_peer_t *pub = fo_peer_new(&po);
    if (!pub || fo_peer_connect(pub, g_srv.api, stream, 10000)) die("publisher over TCP: %s", fo_peer_error(pub));
    check_candidates(fo_peer_answer_sdp(pub), port);
    const fo_peer_answer_t *pa = fo_peer_answer(pub);
    if (pa->n_udp == 0 || pa->n_tcp != pa->n_udp) die("answer: %u UDP and %u TCP candidates", pa->n_udp, pa->n_tcp);

    it_sender_t snd;
    it_sender_init(&snd, pub);
    /* tcp1 and udp before the media; tcp2 a second in; vanisher plays, then breaks its
     * connection mid-frame; late joins during the flood */
    enum { TCP1, UDP1, TCP2, VANISH, LATE, N };
    static const char *const names[N] = {"tcp1", "udp1", "tcp2", "vanisher", "late"};
    static const bool over_tcp[N] = {true, false, true, true, true};
    static const int64_t join[N] = {-1, -1, P2_JOIN_MS, -1, FLOOD_MS + 50};
    member_t m[N];
    for (int i = 0; i < N; i++) {
        fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = names[i], .tcp = over_tcp[i]};
        fo_peer_t *p = fo_peer_new(&o);
        if (!p) die("fo_peer_new");
        it_player_init(&m[i].pl, names[i], p, &snd);
        m[i].tcp = over_tcp[i];
        m[i].join_ms = join[i];
        m[i].signaled = false;
        if (join[i] < 0) {
            if (fo_peer_connect(p, g_srv.api, stream, 10000)) die("%s: %s", names[i], fo_peer_error(p));
            it_player_take_ssrcs(&m[i].pl);
            m[i].signaled = m[i].pl.connected = true;
            m[i].pl.connected_ms = 0;
        }
    }

    hostile_t hostile = {.fd = {-1, -1, -1, -1}};
    int *flood = NULL;
    bool hostile_done = false, vanished = false, flood_done = false, flood_closed = false;
    int64_t api_ms_max = 0;
    int64_t t0 = fo_peer_now_ms();
    for (;;) {
        int64_t t = fo_peer_now_ms() - t0;
        if (t >= MEDIA_MS + DRAIN_MS) break;
        if (t < MEDIA_MS) it_sender_run(&snd, t);
        for (int i = 0; i < N; i++)
            if (!m[i].signaled && t >= m[i].join_ms) {
                m[i].signaled = true;
                if (fo_peer_signal(m[i].pl.peer, g_srv.api, stream, 5000))
                    die("%s: %s", names[i], fo_peer_error(m[i].pl.peer));
                it_player_take_ssrcs(&m[i].pl);
            }
        if (!hostile_done && t >= HOSTILE_MS) {
            hostile_done = true;
            hostile_start(&hostile, port);
            /* on a live player's own connection: an oversized frame, garbage datagrams, a
             * DTLS-looking one; none may disturb its media */
            uint8_t junk[3000];
            memset(junk, 0x90, sizeof junk);
            fo_peer_send_raw(m[TCP2].pl.peer, junk, sizeof junk); /* framed: 3000 > the server's max */
            for (int k = 0; k < 20; k++) {
                junk[0] = (uint8_t)(64 + k); /* neither STUN, DTLS nor RTP */
                fo_peer_send_raw(m[TCP2].pl.peer, junk, 100 + (size_t)k);
            }
            junk[0] = 23; /* DTLS application data from nowhere */
            fo_peer_send_raw(m[TCP2].pl.peer, junk, 200);
        }
        if (!vanished && t >= VANISH_MS) {
            vanished = true;
            /* half a frame on its connection, then gone (reset) */
            uint8_t half[60] = {0x01, 0x00};
            send_all(fo_peer_fd(m[VANISH].pl.peer), half, sizeof half);
            fo_peer_vanish(m[VANISH].pl.peer);
            m[VANISH].pl.peer = NULL;
        }
        if (!flood_done && t >= FLOOD_MS) {
            flood_done = true;
            flood = flood_open(port, FLOOD_N);
        }
        if (flood_done && !flood_closed && t >= FLOOD_END_MS) {
            flood_closed = true;
            int64_t a0 = fo_peer_now_ms();
            char *mt = get("/metrics");
            api_ms_max = fo_peer_now_ms() - a0;
            long long pending = metric(mt, "fanout_tcp_connections{state=\"pending\"}");
            if (pending > FLOOD_CAP) die("%lld TCP connections pending, over the cap of %d", pending, FLOOD_CAP);
            free(mt);
            for (int i = 0; i < FLOOD_N; i++) close(flood[i]);
            free(flood);
        }

        fo_peer_t *peers[N + 1] = {pub};
        const char *who[N + 1] = {"pub"};
        for (int i = 0; i < N; i++) {
            peers[i + 1] = m[i].signaled ? m[i].pl.peer : NULL;
            who[i + 1] = names[i];
        }
        it_pump(peers, who, N + 1, 2);
        for (int i = 0; i < N; i++)
            if (m[i].signaled && m[i].pl.peer && !m[i].pl.connected && fo_peer_state(m[i].pl.peer) == FO_PEER_CONNECTED) {
                m[i].pl.connected = true;
                m[i].pl.connected_ms = fo_peer_now_ms() - t0;
            }
    }
    hostile_check(&hostile);

    /* Every payload byte-exact; TCP players lose nothing from their first keyframe on. */
    char summary[1024] = "";
    for (int i = 0; i < N; i++) {
        if (i == VANISH) continue;
        it_player_t *pl = &m[i].pl;
        if (!pl->connected) die("%s never connected: %s", pl->name, fo_peer_error(pl->peer));
        it_player_check_clean(pl);
        uint32_t ag, ae, vg, ve;
        it_window(pl, false, pl->connected_ms, &ag, &ae);
        it_window(pl, true, pl->connected_ms, &vg, &ve);
        if (!ae || !ve) die("%s: nothing sent after it connected", pl->name);
        if (m[i].tcp) it_expect_lossless(pl, pl->connected_ms, INT64_MAX, "over ICE-TCP");
        else if (ag * 10 < ae * 9 || vg * 10 < ve * 9) die("%s: audio %u/%u, video %u/%u", pl->name, ag, ae, vg, ve);
        snprintf(summary + strlen(summary), sizeof summary - strlen(summary), "%s%s %s a %u/%u v %u/%u",
                 i ? "; " : "", pl->name, m[i].tcp ? "tcp" : "udp", ag, ae, vg, ve);
    }

    for (int i = 0; i < N; i++) {
        if (i == VANISH) continue;
        json_t *c = client_json(fo_peer_session_id(m[i].pl.peer));
        const char *tr = json_string_value(json_object_get(c, "transport"));
        if (!tr || strcmp(tr, m[i].tcp ? "tcp" : "udp") != 0) die("%s: transport \"%s\"", names[i], tr ? tr : "?");
        if (json_integer_value(json_object_get(c, "send_dropped")) != 0)
            die("%s: send_dropped %lld", names[i], (long long)json_integer_value(json_object_get(c, "send_dropped")));
        json_decref(c);
    }
    char *mt = get("/metrics");
    long long oversized = metric(mt, "fanout_dropped_packets_total{reason=\"tcp_oversized\"}");
    long long evicted = metric(mt, "fanout_tcp_closed_total{reason=\"evicted\"}");
    long long tcp_sessions = metric(mt, "fanout_tcp_sessions");
    long long in_frames = metric(mt, "fanout_tcp_frames_total{direction=\"in\"}");
    free(mt);
    if (oversized < 2) die("tcp_oversized %lld, expected >= 2 (a raw connection's and the player's)", oversized);
    if (evicted < FLOOD_N - FLOOD_CAP) die("%lld half-open connections evicted, expected >= %d", evicted, FLOOD_N - FLOOD_CAP);
    if (tcp_sessions < 4) die("fanout_tcp_sessions %lld, expected >= 4", tcp_sessions);
    int warned = fo_testsrv_log_count(&g_srv, "waiting for their first ICE check (rtc.tcp_max_pending)");
    if (warned < 1 || warned > 3) die("the pending-cap warning was logged %d times (want 1, rate-limited)", warned);
    if (fo_testsrv_log_count(&g_srv, "peer closed in the middle of a frame") < 1)
        die("no \"peer closed in the middle of a frame\" for the raw connection closed mid-frame");
    if (fo_testsrv_log_count(&g_srv, "ICE-TCP connection closed: it was the path in use") != 1)
        die("the vanished player's connection: not closed and dropped as its session's path");
    if (api_ms_max > 2000) die("GET /metrics took %lld ms during the flood", (long long)api_ms_max);

    for (int i = 0; i < N; i++) {
        fo_peer_free(m[i].pl.peer);
        it_player_free(&m[i].pl);
    }
    fo_peer_free(pub);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_tcp: OK: sent audio %u video %u over ICE-TCP; %s; hostile connections closed; "
           "%d half-open connections: %lld evicted, /metrics in %lld ms; %lld frames in; server exited 0\n",
           snd.n_audio, snd.n_video, summary, FLOOD_N, evicted, (long long)api_ms_max, in_frames);
    it_sender_free(&snd);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    return 0;
}
