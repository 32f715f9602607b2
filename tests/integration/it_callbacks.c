/* SPDX-License-Identifier: MIT */
/* A slow on_play callback must not stall the media loop (issue 14), and callbacks come after
 * every check (issue 15 item 2). argv[1] binary, argv[2] source dir. The operator's callback
 * server runs in this process (a thread per connection): it answers after 800 ms when the
 * body says "slow" (the request's param slow=1, or a stream named ...slow), never when
 * hang=1, drops the connection when drop=1, refuses stream "deny", and allows everything
 * else at once.
 *  1. A publisher streams audio (every 10 ms) to 10 players while 20 play requests wait for
 *     the slow callback at once: every player's largest inter-packet gap stays under 50 ms,
 *     /api/v1/versions answers in under 50 ms meanwhile (see step1_no_stall for a busy
 *     machine), and all 20 get their answers after ~0.8 s (one after another that was 16 s).
 *  2. 20 junk requests (bad SDP, no usable codec, a busy stream, bad JSON), 5 at a time, make
 *     no callback at all and are answered at once; a good one's callback body carries the
 *     session id the answer then gives, and the request's param; WHEP as well.
 *  3. A client that closes its connection while its callback is pending leaves no session.
 *  4. Beyond auth.hook_max_in_flight: 503, code 1008. A callback that never answers, or
 *     drops the connection: refused, 503 code 1014 (fail closed), within the timeout.
 *  5. SIGTERM while a request waits for its callback: the server exits 0 at once (under ASan:
 *     nothing leaked) and the waiting client gets 503.
 * With IT_CALLBACKS_MEASURE=1 only step 1 runs, printing its numbers without judging them
 * (to measure a build from before the change: docs/benchmarks.md); IT_CALLBACKS_STEPS=234
 * runs only the steps listed. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "peer.h"
#include "testsrv.h"

#define PLAYERS 10
#define WAITING 20
#define HOOK_DELAY_MS 800
#define CAP 22
#define SEND_EVERY_MS 10
#define MAX_BODIES 256

static fo_testsrv_t srv;
static fo_dtls_ctx_t *dctx;
static fo_stun_t *stun;
static bool measure_only;

/* --- the operator's callback server --- */

static int hook_fd = -1, hook_port;
static atomic_int hook_stop, hook_threads, hook_calls;
static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;
static char *hook_bodies[MAX_BODIES];

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to ms, returning early when the peer closed or the test ends. */
static void hang(int fd, int ms)
{
    for (int t = 0; t < ms && !atomic_load(&hook_stop); t += 50) {
        struct pollfd p = {.fd = fd, .events = POLLRDHUP};
        if (poll(&p, 1, 50) > 0) return;
    }
}

/* One request on fd; false when the connection ends. */
static bool hook_serve(int fd, char *req, size_t cap)
{
    size_t n = 0;
    char *eoh = NULL;
    while (!eoh) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (atomic_load(&hook_stop) || poll(&p, 1, 100) < 0) return false;
        if (!p.revents) continue;
        ssize_t r = recv(fd, req + n, cap - 1 - n, 0);
        if (r <= 0) return false;
        n += (size_t)r;
        req[n] = '\0';
        eoh = strstr(req, "\r\n\r\n");
    }
    const char *cl = strcasestr(req, "\r\nContent-Length:");
    size_t want = (size_t)(eoh + 4 - req) + (cl ? (size_t)atoi(cl + 17) : 0);
    while (n < want && n < cap - 1) {
        ssize_t r = recv(fd, req + n, cap - 1 - n, 0);
        if (r <= 0) return false;
        n += (size_t)r;
    }
    req[n] = '\0';
    const char *body = eoh + 4;
    int i = atomic_fetch_add(&hook_calls, 1);
    pthread_mutex_lock(&hook_mu);
    if (i < MAX_BODIES) hook_bodies[i] = strdup(body);
    pthread_mutex_unlock(&hook_mu);
    const char *answer = "{\"code\":0}";
    if (strstr(body, "drop=1")) return false;
    if (strstr(body, "hang=1")) hang(fd, 10000);
    if (strstr(body, "slow")) sleep_ms(HOOK_DELAY_MS);
    if (strstr(body, "\"stream\":\"deny\"")) answer = "{\"code\":403}";
    char resp[256];
    int len = snprintf(resp, sizeof resp,
                       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       strlen(answer), answer);
    return send(fd, resp, (size_t)len, MSG_NOSIGNAL) == len;
}

static void *hook_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *req = malloc(65536);
    while (req && hook_serve(fd, req, 65536)) {
    }
    free(req);
    close(fd);
    atomic_fetch_sub(&hook_threads, 1);
    return NULL;
}

static void *hook_accept(void *arg)
{
    (void)arg;
    while (!atomic_load(&hook_stop)) {
        struct pollfd p = {.fd = hook_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int c = accept(hook_fd, NULL, NULL);
        if (c < 0) continue;
        atomic_fetch_add(&hook_threads, 1);
        pthread_t th;
        if (pthread_create(&th, NULL, hook_conn, (void *)(intptr_t)c) != 0) {
            close(c);
            atomic_fetch_sub(&hook_threads, 1);
            continue;
        }
        pthread_detach(th);
    }
    return NULL;
}

static pthread_t hook_start(void)
{
    hook_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (hook_fd < 0 || bind(hook_fd, (struct sockaddr *)&a, sizeof a) || listen(hook_fd, 128) ||
        getsockname(hook_fd, (struct sockaddr *)&a, &l))
        fo_test_fail("hook server");
    hook_port = ntohs(a.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, hook_accept, NULL);
    return th;
}

/* The body of callback number i (a copy; the caller frees). */
static char *hook_body(int i)
{
    pthread_mutex_lock(&hook_mu);
    char *b = i < MAX_BODIES && hook_bodies[i] ? strdup(hook_bodies[i]) : NULL;
    pthread_mutex_unlock(&hook_mu);
    return b;
}

/* --- requests from threads --- */

typedef struct {
    char url[512];
    const char *method, *ctype;
    char *body;
    int timeout_ms;
    int status;
    char *resp, *headers;
    int64_t t0, elapsed_ms;
    pthread_t th;
} call_t;

static void *call_main(void *arg)
{
    call_t *c = arg;
    c->t0 = fo_peer_now_ms();
    c->status = fo_peer_http_request(c->method ? c->method : "POST", c->url, c->ctype ? c->ctype : "application/json",
                                     c->body, &c->headers, &c->resp, c->timeout_ms);
    c->elapsed_ms = fo_peer_now_ms() - c->t0;
    return NULL;
}

static void call_start(call_t *c) { pthread_create(&c->th, NULL, call_main, c); }
static void call_join(call_t *c) { pthread_join(c->th, NULL); }
static void call_free(call_t *c)
{
    free(c->body);
    free(c->resp);
    free(c->headers);
}

/* A JSON field of an answer: the integer "code" or a string. */
static int json_code(const char *body)
{
    json_t *j = json_loads(body ? body : "", 0, NULL);
    int code = json_is_object(j) ? (int)json_integer_value(json_object_get(j, "code")) : -1;
    json_decref(j);
    return code;
}

static void json_str(const char *body, const char *name, char *out, size_t cap)
{
    json_t *j = json_loads(body ? body : "", 0, NULL);
    const char *v = json_string_value(json_object_get(j, name));
    snprintf(out, cap, "%s", v ? v : "");
    json_decref(j);
}

/* A play request body for `stream` (with its query) from a fresh play peer's offer. */
static char *play_body(const char *stream, char *url, size_t cap)
{
    fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = "waiting"};
    fo_peer_t *p = fo_peer_new(&o);
    char *body = p ? fo_peer_signal_request(p, srv.api, stream, url, cap) : NULL;
    if (!body) fo_test_fail("play request body");
    fo_peer_free(p);
    return body;
}

/* /api/v1/versions, timed, from a thread while step 1 runs. */
static atomic_int probe_stop;
static int64_t probe_worst_ms, probe_n;
static void *probe_main(void *arg)
{
    (void)arg;
    char url[128];
    snprintf(url, sizeof url, "%s/api/v1/versions", srv.api);
    while (!atomic_load(&probe_stop)) {
        char *out = NULL;
        int64_t t0 = fo_peer_now_ms();
        int st = fo_peer_http_request("GET", url, NULL, NULL, NULL, &out, 30000);
        int64_t dt = fo_peer_now_ms() - t0;
        free(out);
        if (st == 200) {
            if (dt > probe_worst_ms) probe_worst_ms = dt;
            probe_n++;
        }
        sleep_ms(20);
    }
    return NULL;
}

/* --- media: the publisher sends an audio packet every 10 ms; players time what arrives --- */

typedef struct {
    int64_t last_rx, last_sent_at, worst_gap;
    int64_t worst_raw;
    int rx;
} rxstat_t;

static rxstat_t rxs[PLAYERS];
static int64_t sent_at[65536];
static uint16_t next_seq = 1;
static bool gaps_on;

/* The gap the server added: arrival gap minus the part of it the sender caused by sending
 * late (this thread both sends and receives, and the machine is shared). */
static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)p;
    if (is_rtcp || len < 12) return;
    rxstat_t *r = user;
    int64_t now = fo_peer_now_ms(), sent = sent_at[(uint16_t)(pkt[2] << 8 | pkt[3])];
    if (gaps_on && r->last_rx) {
        int64_t raw = now - r->last_rx, late = sent - r->last_sent_at - SEND_EVERY_MS;
        int64_t gap = raw - (late > 0 ? late : 0);
        if (gap > r->worst_gap) r->worst_gap = gap;
        if (raw > r->worst_raw) r->worst_raw = raw;
    }
    r->last_rx = now;
    r->last_sent_at = sent;
    r->rx++;
}

static fo_peer_t *pub, *players[PLAYERS];
static int64_t next_send;

/* Sends on time and services every peer, for ms (or until *done). */
static void pump(int ms, atomic_int *done)
{
    int64_t end = fo_peer_now_ms() + ms;
    fo_peer_t *all[PLAYERS + 1] = {pub};
    memcpy(all + 1, players, sizeof players);
    while (fo_peer_now_ms() < end && !(done && atomic_load(done))) {
        int64_t now = fo_peer_now_ms();
        if (!next_send) next_send = now;
        while (now >= next_send) {
            uint8_t pkt[172] = {0};
            uint16_t seq = next_seq++;
            fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, seq, seq * 480u, fo_peer_ssrc(pub, "audio"));
            sent_at[seq] = fo_peer_now_ms();
            fo_peer_send_rtp(pub, pkt, sizeof pkt);
            next_send += SEND_EVERY_MS;
        }
        struct pollfd pf[PLAYERS + 1];
        for (int i = 0; i <= PLAYERS; i++) pf[i] = (struct pollfd){.fd = fo_peer_fd(all[i]), .events = POLLIN};
        int wait = (int)(next_send - fo_peer_now_ms());
        poll(pf, PLAYERS + 1, wait > 0 ? wait : 0);
        for (int i = 0; i <= PLAYERS; i++) fo_peer_process(all[i]);
    }
}

static fo_peer_t *connect_peer(fo_peer_role_t role, const char *name, const char *stream)
{
    fo_peer_opts_t o = {.role = role, .dtls = dctx, .stun = stun, .name = name};
    fo_peer_t *p = fo_peer_new(&o);
    if (!p || fo_peer_connect(p, srv.api, stream, 15000))
        fo_test_fail("%s: %s (HTTP %d)", name, p ? fo_peer_error(p) : "no peer", p ? fo_peer_http_status(p) : 0);
    return p;
}

/* --- the steps --- */

static atomic_int step1_done;
static call_t waiting[WAITING];

static void *waiter_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < WAITING; i++) call_join(&waiting[i]);
    atomic_store(&step1_done, 1);
    return NULL;
}

/* One attempt of step 1; its numbers in *out. */
typedef struct {
    int ok;
    int64_t first, last, all_ms, gap, raw_gap, calm_gap, probe_worst, probes;
} step1_t;

static void step1_attempt(const char *stream, step1_t *out)
{
    char s[256]; /* the name alone says slow to builds that send no param (before issue 15.2) */
    snprintf(s, sizeof s, "%sslow?slow=1", stream);
    for (int i = 0; i < WAITING; i++) {
        waiting[i] = (call_t){.timeout_ms = 30000};
        waiting[i].body = play_body(s, waiting[i].url, sizeof waiting[i].url);
    }
    /* the same measure over a second of media alone, for comparison (the machine is shared) */
    *out = (step1_t){.first = 1 << 30};
    pump(300, NULL);
    for (int i = 0; i < PLAYERS; i++) rxs[i].worst_gap = rxs[i].worst_raw = 0;
    gaps_on = true;
    pump(1000, NULL);
    gaps_on = false;
    for (int i = 0; i < PLAYERS; i++) {
        if (rxs[i].worst_gap > out->calm_gap) out->calm_gap = rxs[i].worst_gap;
        rxs[i].worst_gap = rxs[i].worst_raw = 0;
    }
    gaps_on = true;
    pthread_t probe, waiter;
    probe_worst_ms = probe_n = 0;
    atomic_store(&probe_stop, 0);
    atomic_store(&step1_done, 0);
    pthread_create(&probe, NULL, probe_main, NULL);
    int64_t t0 = fo_peer_now_ms();
    for (int i = 0; i < WAITING; i++) call_start(&waiting[i]);
    pthread_create(&waiter, NULL, waiter_main, NULL);
    pump(40000, &step1_done);
    out->all_ms = fo_peer_now_ms() - t0;
    pump(200, NULL);
    gaps_on = false;
    atomic_store(&probe_stop, 1);
    pthread_join(probe, NULL);
    pthread_join(waiter, NULL);
    out->probe_worst = probe_worst_ms;
    out->probes = probe_n;
    for (int i = 0; i < PLAYERS; i++) {
        if (rxs[i].worst_gap > out->gap) out->gap = rxs[i].worst_gap;
        if (rxs[i].worst_raw > out->raw_gap) out->raw_gap = rxs[i].worst_raw;
    }
    for (int i = 0; i < WAITING; i++) {
        call_t *c = &waiting[i];
        if (c->status == 200 && json_code(c->resp) == 0) out->ok++;
        if (c->elapsed_ms < out->first) out->first = c->elapsed_ms;
        if (c->elapsed_ms > out->last) out->last = c->elapsed_ms;
        call_free(c);
    }
    printf("it_callbacks: %d play requests waiting %d ms for on_play while 1 publisher streams to %d "
           "players: %d answered 200 in %lld..%lld ms (all after %lld ms); players' largest gap %lld ms "
           "(arrival gap %lld ms; %lld ms with media alone); /api/v1/versions worst %lld ms over %lld probes\n",
           WAITING, HOOK_DELAY_MS, PLAYERS, out->ok, (long long)out->first, (long long)out->last,
           (long long)out->all_ms, (long long)out->gap, (long long)out->raw_gap, (long long)out->calm_gap,
           (long long)out->probe_worst, (long long)out->probes);
}

/* The answers must come together after ~0.8 s, every time. The 50 ms bounds on the
 * players' gaps and /api/v1/versions hold on a quiet machine; on a busy shared one (ASan,
 * other builds: load 20 on 2 cores) any process waits tens of ms for a CPU now and then, with
 * media alone too. So: the 50 ms bounds in the best of three attempts; failing that, a busy
 * machine is reported and the generous bound applies: under 400 ms, half of one callback (a
 * loop that waits for the callbacks stalls 800 ms per callback, 16 s for these 20). The
 * numbers go to docs/benchmarks.md from IT_CALLBACKS_MEASURE runs. */
#define STRICT_MS 50
#define GENEROUS_MS 400
static void step1_no_stall(const char *stream)
{
    step1_t a, best = {.gap = 1 << 30, .probe_worst = 1 << 30};
    for (int attempt = 1; attempt <= 3; attempt++) {
        step1_attempt(stream, &a);
        if (measure_only) return;
        if (a.ok != WAITING) fo_test_fail("only %d of %d waiting play requests got 200", a.ok, WAITING);
        if (a.first < HOOK_DELAY_MS - 50 || a.last > 3000)
            fo_test_fail("answers after %lld..%lld ms: want ~%d ms each, together", (long long)a.first,
                         (long long)a.last, HOOK_DELAY_MS);
        if (a.probes < 5) fo_test_fail("/api/v1/versions answered only %lld times", (long long)a.probes);
        if (a.gap < STRICT_MS && a.probe_worst < STRICT_MS) return;
        if ((a.gap > a.probe_worst ? a.gap : a.probe_worst) < (best.gap > best.probe_worst ? best.gap : best.probe_worst))
            best = a;
    }
    if (best.gap >= GENEROUS_MS || best.probe_worst >= GENEROUS_MS)
        fo_test_fail("the loop stalled: players' largest gap %lld ms, /api/v1/versions %lld ms at best "
                     "in three attempts", (long long)best.gap, (long long)best.probe_worst);
    printf("it_callbacks: NOTE: a busy machine: the %d ms bounds were missed in three attempts (best: "
           "gap %lld ms, versions %lld ms); under the %d ms bound\n", STRICT_MS, (long long)best.gap,
           (long long)best.probe_worst, GENEROUS_MS);
}

/* Junk never reaches the callback; a good request's callback gets the server's id and param. */
static void step2_checks_first(const char *stream)
{
    static const char garbage_sdp[] = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video x";
    static const char no_codec_sdp[] =
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 99\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:abcd\r\n"
        "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 "
        "F1:21:52:6C:17:43:F5:56:74:30:84:71:51:17:33:33:C6:D7:47:87:26:0F:2D:52:41:17:E2:6A:55:2C:D8:74\r\n"
        "a=setup:actpass\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:99 speex/8000\r\n";
    int before = atomic_load(&hook_calls);
    call_t junk[20];
    for (int i = 0; i < 20; i++) {
        junk[i] = (call_t){.timeout_ms = 10000};
        const char *path = i < 16 ? "/rtc/v1/play/" : "/rtc/v1/publish/";
        snprintf(junk[i].url, sizeof junk[i].url, "%s%s", srv.api, path);
        char surl[256];
        snprintf(surl, sizeof surl, "webrtc://127.0.0.1/%s?slow=1", stream);
        json_t *j = NULL;
        if (i < 8) j = json_pack("{s:s, s:s}", "streamurl", surl, "sdp", garbage_sdp);
        else if (i < 12) j = json_pack("{s:s, s:s}", "streamurl", surl, "sdp", no_codec_sdp);
        else if (i < 16) j = json_pack("{s:s, s:i}", "streamurl", surl, "sdp", 7);
        else { /* a second publisher: the stream is busy */
            fo_peer_opts_t o = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "busy"};
            fo_peer_t *p = fo_peer_new(&o);
            j = json_pack("{s:s, s:s}", "streamurl", surl, "sdp", fo_peer_offer_sdp(p));
            fo_peer_free(p);
        }
        junk[i].body = json_dumps(j, 0);
        json_decref(j);
    }
    int worst = 0;
    for (int b = 0; b < 20; b += 5) { /* 5 at a time */
        for (int i = b; i < b + 5; i++) call_start(&junk[i]);
        for (int i = b; i < b + 5; i++) {
            call_join(&junk[i]);
            int want = i < 16 ? 400 : 409;
            if (junk[i].status != want || json_code(junk[i].resp) == 0)
                fo_test_fail("junk request %d: HTTP %d %s (want %d)", i, junk[i].status, junk[i].resp, want);
            if (junk[i].elapsed_ms > worst) worst = (int)junk[i].elapsed_ms;
            call_free(&junk[i]);
        }
    }
    int calls = atomic_load(&hook_calls) - before;
    if (calls != 0) fo_test_fail("20 junk requests made %d callbacks (want 0)", calls);

    /* a good one: the callback body names the session the answer gives, and the param */
    call_t good = {.timeout_ms = 10000};
    char s[256];
    snprintf(s, sizeof s, "%s?slow=1&k=v", stream);
    good.body = play_body(s, good.url, sizeof good.url);
    int n = atomic_load(&hook_calls);
    call_start(&good);
    call_join(&good);
    char sid[64];
    json_str(good.resp, "sessionid", sid, sizeof sid);
    char *hb = hook_body(n);
    char want_id[96];
    snprintf(want_id, sizeof want_id, "\"client_id\":\"%s\"", sid);
    if (good.status != 200 || !sid[0] || !hb || !strstr(hb, want_id) || !strstr(hb, "\"param\":\"?slow=1&k=v\""))
        fo_test_fail("good play: HTTP %d session '%s'; callback body %s", good.status, sid, hb ? hb : "(none)");
    free(hb);
    call_free(&good);

    /* WHEP through the same path: 201 after the callback, resource id = client_id */
    call_t whep = {.timeout_ms = 10000, .ctype = "application/sdp"};
    snprintf(whep.url, sizeof whep.url, "%s/rtc/v1/whep/?app=live&stream=%s&slow=1", srv.api, strchr(stream, '/') + 1);
    fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = "whep"};
    fo_peer_t *p = fo_peer_new(&o);
    whep.body = strdup(fo_peer_offer_sdp(p));
    fo_peer_free(p);
    n = atomic_load(&hook_calls);
    call_start(&whep);
    call_join(&whep);
    char *loc = whep.headers ? strcasestr(whep.headers, "\nLocation: ") : NULL;
    char res_id[64] = "";
    if (loc) sscanf(loc + 11, "/rtc/v1/resource/%63[^\r\n]", res_id);
    hb = hook_body(n);
    snprintf(want_id, sizeof want_id, "\"client_id\":\"%s\"", res_id);
    if (whep.status != 201 || !res_id[0] || !hb || !strstr(hb, want_id) || whep.elapsed_ms < HOOK_DELAY_MS - 50)
        fo_test_fail("WHEP: HTTP %d after %lld ms, resource '%s'; callback body %s", whep.status,
                     (long long)whep.elapsed_ms, res_id, hb ? hb : "(none)");
    free(hb);
    call_free(&whep);
    printf("it_callbacks: 20 junk requests: 0 callbacks, answered within %d ms; the callback body "
           "carries the session id and the param (SRS API and WHEP)\n", worst);
}

static int sessions_now(void)
{
    char url[128], *out = NULL;
    snprintf(url, sizeof url, "%s/api/v1/clients?count=1", srv.api);
    if (fo_peer_http_request("GET", url, NULL, NULL, NULL, &out, 5000) != 200) fo_test_fail("clients: %s", out);
    json_t *j = json_loads(out, 0, NULL);
    int n = (int)json_integer_value(json_object_get(j, "total"));
    json_decref(j);
    free(out);
    return n;
}

/* A client that hangs up while its callback runs leaves nothing behind. */
static void step3_client_leaves(const char *stream)
{
    char s[256], url[512];
    snprintf(s, sizeof s, "%s?slow=1", stream);
    char *body = play_body(s, url, sizeof url);
    int before = sessions_now(), calls = atomic_load(&hook_calls);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.http_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) fo_test_fail("connect");
    char head[256];
    int hl = snprintf(head, sizeof head, "POST /rtc/v1/play/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n", strlen(body));
    send(fd, head, (size_t)hl, MSG_NOSIGNAL);
    send(fd, body, strlen(body), MSG_NOSIGNAL);
    free(body);
    for (int i = 0; i < 50 && atomic_load(&hook_calls) == calls; i++) sleep_ms(10);
    if (atomic_load(&hook_calls) == calls) fo_test_fail("the callback was not asked");
    close(fd);
    sleep_ms(HOOK_DELAY_MS + 500);
    int after = sessions_now();
    if (after != before) fo_test_fail("a client that left while its callback ran left %d session(s)", after - before);
    if (fo_testsrv_log_count(&srv, "the client left while its callback ran") < 1)
        fo_test_fail("the server did not notice the client leaving");
    printf("it_callbacks: a client that left while its callback ran: no session (%d before and after)\n", before);
}

/* The cap on callbacks waiting, and callbacks that never answer or drop the connection. */
static void step4_cap_and_failures(const char *stream)
{
    char s[256];
    snprintf(s, sizeof s, "%s?slow=1", stream);
    call_t many[CAP + 8];
    for (int i = 0; i < CAP + 8; i++) {
        many[i] = (call_t){.timeout_ms = 10000};
        many[i].body = play_body(s, many[i].url, sizeof many[i].url);
    }
    for (int i = 0; i < CAP + 8; i++) call_start(&many[i]);
    int ok = 0, busy = 0;
    for (int i = 0; i < CAP + 8; i++) {
        call_join(&many[i]);
        if (many[i].status == 200) ok++;
        else if (many[i].status == 503 && json_code(many[i].resp) == 1008 && strstr(many[i].resp, "hook_max_in_flight"))
            busy++;
        else fo_test_fail("request %d beside the cap: HTTP %d %s", i, many[i].status, many[i].resp);
        call_free(&many[i]);
    }
    if (ok != CAP || busy != 8) fo_test_fail("cap %d: %d allowed, %d busy (want %d and 8)", CAP, ok, busy, CAP);

    const char *bad[] = {"hang=1", "drop=1"};
    for (int i = 0; i < 2; i++) {
        call_t c = {.timeout_ms = 10000};
        snprintf(s, sizeof s, "%s?%s", stream, bad[i]);
        c.body = play_body(s, c.url, sizeof c.url);
        call_start(&c);
        call_join(&c);
        if (c.status != 503 || json_code(c.resp) != 1014 || c.elapsed_ms > 4000)
            fo_test_fail("callback %s: HTTP %d after %lld ms: %s (want 503, code 1014)", bad[i], c.status,
                         (long long)c.elapsed_ms, c.resp);
        call_free(&c);
    }
    call_t deny = {.timeout_ms = 10000};
    deny.body = play_body("live/deny", deny.url, sizeof deny.url);
    call_start(&deny);
    call_join(&deny);
    if (deny.status != 403 || json_code(deny.resp) != 1014) fo_test_fail("deny: HTTP %d %s", deny.status, deny.resp);
    call_free(&deny);
    printf("it_callbacks: cap %d: %d allowed, 8 got 503/1008; a callback that never answers or drops the "
           "connection: 503/1014; a refusal: 403/1014\n", CAP, ok);
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    measure_only = getenv("IT_CALLBACKS_MEASURE") != NULL;
    pthread_t hook_th = hook_start();
    char url[128], cap[16];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/on_play", hook_port);
    setenv("FANOUT_AUTH_ON_PLAY", url, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/on_publish", hook_port);
    setenv("FANOUT_AUTH_ON_PUBLISH", url, 1);
    setenv("FANOUT_AUTH_HOOK_TIMEOUT_MS", "1500", 1);
    snprintf(cap, sizeof cap, "%d", CAP);
    setenv("FANOUT_AUTH_HOOK_MAX_IN_FLIGHT", cap, 1);
    setenv("FANOUT_RTC_WORKERS", "1", 1);
    setenv("FANOUT_LOG_LEVEL", "info", 1);
    fo_testsrv_start(&srv, "it_callbacks", argv[1], argv[2], NULL, measure_only ? 110 : 100);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    dctx = fo_dtls_ctx_new(NULL, NULL);
    stun = fo_stun_new();
    char stream[64];
    snprintf(stream, sizeof stream, "live/cb%d", (int)getpid());
    pub = connect_peer(FO_PEER_PUBLISH, "pub", stream);
    for (int i = 0; i < PLAYERS; i++) {
        players[i] = connect_peer(FO_PEER_PLAY, "player", stream);
        fo_peer_set_recv_cb(players[i], on_rx, &rxs[i]);
    }
    const char *steps = measure_only ? "1" : getenv("IT_CALLBACKS_STEPS") ? getenv("IT_CALLBACKS_STEPS") : "1234";
    if (strchr(steps, '1')) {
        step1_no_stall(stream);
        for (int i = 0; i < PLAYERS && !measure_only; i++)
            if (rxs[i].rx < 100) fo_test_fail("player %d received only %d packets", i, rxs[i].rx);
    }
    if (strchr(steps, '2')) step2_checks_first(stream);
    if (strchr(steps, '3')) step3_client_leaves(stream);
    if (strchr(steps, '4')) step4_cap_and_failures(stream);
    for (int i = 0; i < PLAYERS; i++) fo_peer_free(players[i]);
    fo_peer_free(pub);
    /* 5. stop while a request waits for its callback */
    call_t last = {.timeout_ms = 10000};
    char s5[256];
    snprintf(s5, sizeof s5, "%s?hang=1", stream);
    last.body = play_body(s5, last.url, sizeof last.url);
    int calls = atomic_load(&hook_calls);
    call_start(&last);
    for (int i = 0; i < 100 && atomic_load(&hook_calls) == calls; i++) sleep_ms(10);
    int64_t t_stop = fo_peer_now_ms();
    fo_testsrv_stop_clean(&srv);
    call_join(&last);
    if (fo_peer_now_ms() - t_stop > 3000 || last.status != 503)
        fo_test_fail("stopping with a request waiting: took %lld ms, the request got HTTP %d",
                     (long long)(fo_peer_now_ms() - t_stop), last.status);
    printf("it_callbacks: SIGTERM with a request waiting for its callback: exit 0 in %lld ms, the request "
           "got %d\n", (long long)(fo_peer_now_ms() - t_stop), last.status);
    call_free(&last);
    atomic_store(&hook_stop, 1);
    pthread_join(hook_th, NULL);
    for (int i = 0; i < 100 && atomic_load(&hook_threads) > 0; i++) sleep_ms(20);
    close(hook_fd);
    for (int i = 0; i < MAX_BODIES; i++) free(hook_bodies[i]);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    printf("it_callbacks: OK\n");
    return 0;
}
