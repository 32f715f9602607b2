/* SPDX-License-Identifier: MIT */
/* One stream, many machines (issue 10), on loopback: Debian's redis-server on a free port in a
 * temporary directory (no persistence, a password) and three fanout nodes A, B, C sharing it
 * (heartbeat 1 s, ttl 3 s, node tokens signed with cluster.secret). Checked, in order:
 *  1. a C publisher on A, players on B and C: byte-exact payloads on the SSRCs their answers
 *     announced, continuous sequence numbers, sender reports; with one relay per node, C pulls
 *     from B, not from A (a tree);
 *  2. a player on B before anyone publishes live/late; the publisher then comes to C: the
 *     player starts (an event wakes B, no polling);
 *  3. a second publisher of live/main on B: 409 with a non-zero code;
 *  4. A killed (SIGKILL): the players on B and C keep their sessions; the publisher comes back
 *     on C (once A's claim expired): both resume on the same SSRCs with continuous sequence
 *     numbers and forward timestamps, without renegotiating;
 *  5. Redis restarted empty: every node is registered again and C's claim is back within a
 *     couple of heartbeats, and media never stopped;
 *  6. B killed: its registry entries expire and C ends the relay session it served B;
 *  7. a node D whose Redis is down from the start: it serves its own publisher's stream to a
 *     local player, answers a play of a stream it does not have with 503 and a code, and
 *     /metrics says fanout_cluster_redis_up 0; when that Redis starts, D connects (1) and
 *     claims its stream there.
 * Every process stops by itself (C and D exit 0 on SIGTERM; the test's alarm kills the rest).
 * argv[1] the fanout binary, argv[2] the source dir. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "mediagen.h"
#include "peer.h"
#include "redissrv.h"
#include "testsrv.h"

static fo_testsrv_t A, B, C, D;
static fo_redissrv_t redis, redis2;
static fo_peer_t *peers[16];
static size_t n_peers;
static fo_mediagen_t gen;
static fo_dtls_ctx_t *dctx;
static fo_stun_t *stun;

static void cleanup(void)
{
    fo_redissrv_stop(&redis, false);
    fo_redissrv_stop(&redis2, false);
}

#define fail(...) (cleanup(), fo_test_fail(__VA_ARGS__))

static void run(int ms)
{
    int64_t end = fo_peer_now_ms() + ms;
    while (fo_peer_now_ms() < end) {
        struct pollfd pf[16];
        for (size_t i = 0; i < n_peers; i++) pf[i] = (struct pollfd){.fd = fo_peer_fd(peers[i]), .events = POLLIN};
        poll(pf, n_peers, 5);
        for (size_t i = 0; i < n_peers; i++) fo_peer_process(peers[i]);
        if (gen.pub && fo_peer_state(gen.pub) == FO_PEER_CONNECTED) fo_mediagen_tick(&gen);
    }
}

static fo_peer_t *peer(fo_peer_role_t role, const char *name)
{
    fo_peer_opts_t o = {.role = role, .dtls = dctx, .stun = stun, .name = name};
    fo_peer_t *p = fo_peer_new(&o);
    if (!p || n_peers == 16) fail("peer %s", name);
    peers[n_peers++] = p;
    return p;
}

static void forget(fo_peer_t *p)
{
    for (size_t i = 0; i < n_peers; i++)
        if (peers[i] == p) peers[i] = peers[--n_peers];
}

static void wait_connected(fo_peer_t *p, const char *what, int ms)
{
    for (int64_t end = fo_peer_now_ms() + ms; fo_peer_state(p) != FO_PEER_CONNECTED;) {
        if (fo_peer_now_ms() > end || fo_peer_state(p) == FO_PEER_FAILED)
            fail("%s did not connect: %s", what, fo_peer_error(p));
        run(10);
    }
}

static void play(fo_peer_t *p, const fo_testsrv_t *srv, const char *stream)
{
    if (fo_peer_signal(p, srv->api, stream, 5000) != 0) fail("play %s on %s: %s", stream, srv->name, fo_peer_error(p));
    wait_connected(p, srv->name, 5000);
}

/* Publishes `stream` on `srv`, retrying while the old claim holds (409) for up to `ms`. */
static fo_peer_t *publish(const fo_testsrv_t *srv, const char *stream, int ms)
{
    int64_t end = fo_peer_now_ms() + ms;
    for (;;) {
        fo_peer_t *p = peer(FO_PEER_PUBLISH, "pub");
        if (fo_peer_signal(p, srv->api, stream, 5000) == 0) {
            wait_connected(p, "publisher", 5000);
            return p;
        }
        int st = fo_peer_http_status(p);
        forget(p);
        fo_peer_free(p);
        if (st != 409 || fo_peer_now_ms() > end) fail("publish %s on %s: HTTP %d", stream, srv->name, st);
        run(250);
    }
}

static bool got(const fo_mediacheck_t *c, uint64_t audio, uint64_t video)
{
    return c->t[0].packets >= audio && c->t[1].packets >= video;
}

static void check(const char *what, const fo_mediacheck_t *c)
{
    if (!fo_mediacheck_ok(c)) fail("%s: %s", what, c->first_error);
    if (c->t[0].gaps || c->t[1].gaps || c->t[0].backwards || c->t[1].backwards)
        fail("%s: sequence gaps %llu/%llu, timestamps backwards %llu/%llu", what, (unsigned long long)c->t[0].gaps,
             (unsigned long long)c->t[1].gaps, (unsigned long long)c->t[0].backwards,
             (unsigned long long)c->t[1].backwards);
    printf("  %s: %llu audio, %llu video packets byte-exact, continuous, %llu SRs\n", what,
           (unsigned long long)c->t[0].packets, (unsigned long long)c->t[1].packets, (unsigned long long)c->srs);
}

/* Runs until `c` got `audio`/`video` more packets than now, or fails after ms. */
static void expect_media(const char *what, const fo_mediacheck_t *c, uint64_t audio, uint64_t video, int ms)
{
    uint64_t a0 = c->t[0].packets, v0 = c->t[1].packets;
    int64_t end = fo_peer_now_ms() + ms;
    while (!got(c, a0 + audio, v0 + video)) {
        if (fo_peer_now_ms() > end)
            fail("%s: %llu audio, %llu video packets in %d ms (wanted %llu, %llu)", what,
                 (unsigned long long)(c->t[0].packets - a0), (unsigned long long)(c->t[1].packets - v0), ms,
                 (unsigned long long)audio, (unsigned long long)video);
        run(10);
    }
}

static int http_get(const fo_testsrv_t *srv, const char *path, char **body)
{
    char url[300];
    snprintf(url, sizeof url, "%s%s", srv->api, path);
    *body = NULL;
    return fo_peer_http_request("GET", url, NULL, NULL, NULL, body, 3000);
}

/* Runs until GET path on srv contains (or, want false, lacks) needle. */
static void wait_body(const fo_testsrv_t *srv, const char *path, const char *needle, bool want, int ms, const char *what)
{
    int64_t end = fo_peer_now_ms() + ms;
    for (;;) {
        char *body = NULL;
        int st = http_get(srv, path, &body);
        bool has = st == 200 && body && strstr(body, needle);
        free(body);
        if (has == want) return;
        if (fo_peer_now_ms() > end) fail("%s: %s on %s %s '%s' after %d ms", what, path, srv->name,
                                         want ? "lacks" : "still has", needle, ms);
        run(100);
    }
}

static void redis_wait(const char *cmd, const char *want, int ms, const char *what)
{
    int64_t end = fo_peer_now_ms() + ms;
    char out[128] = "";
    while (fo_peer_now_ms() < end) {
        if (fo_redissrv_cmd(&redis, cmd, out, sizeof out) == 0 && strncmp(out, want, strlen(want)) == 0) return;
        run(50);
    }
    fail("%s: Redis says %s to %s", what, out, cmd);
}

static void start_node(fo_testsrv_t *s, const char *name, const char *id, const char *bin, const char *src,
                       const char *redis_url)
{
    static char sets[4][8][300];
    static int k;
    char(*v)[300] = sets[k++];
    snprintf(v[0], 300, "cluster.redis=%s", redis_url);
    snprintf(v[1], 300, "cluster.node_id=%s", id);
    snprintf(v[2], 300, "cluster.heartbeat=1");
    snprintf(v[3], 300, "cluster.ttl=3");
    snprintf(v[4], 300, "cluster.secret=node-secret");
    snprintf(v[5], 300, "rtc.publisher_grace=30");
    snprintf(v[6], 300, "cluster.relay_linger=2");
    snprintf(v[7], 300, "cluster.relays_per_node=1"); /* a tree with three nodes */
    const char *extra[20];
    int n = 0;
    for (int i = 0; i < 8; i++) {
        extra[n++] = "--set";
        extra[n++] = v[i];
    }
    extra[n] = NULL;
    fo_testsrv_start(s, name, bin, src, extra, 110);
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    fo_log_set_level(FO_LOG_WARN);
    if (fo_redissrv_start(&redis, 0, "r3dis-pw") != 0) fo_test_fail("cannot start redis-server");
    if (fo_srtp_global_init()) fail("srtp init");
    dctx = fo_dtls_ctx_new(NULL, NULL);
    stun = fo_stun_new();
    start_node(&A, "it_cluster-A", "node-a", argv[1], argv[2], redis.url);
    start_node(&B, "it_cluster-B", "node-b", argv[1], argv[2], redis.url);
    start_node(&C, "it_cluster-C", "node-c", argv[1], argv[2], redis.url);
    redis_wait("ZCARD fanout:nodes", ":3", 5000, "three nodes registered");

    /* 1. publisher on A, players on B and C */
    fo_peer_t *pub = publish(&A, "live/main", 3000);
    fo_mediagen_init(&gen, pub, 15);
    fo_peer_t *pb = peer(FO_PEER_PLAY, "play-B"), *pc = peer(FO_PEER_PLAY, "play-C");
    fo_mediacheck_t cb, cc;
    fo_mediacheck_init(&cb, pb);
    fo_mediacheck_init(&cc, pc);
    int64_t t0 = fo_peer_now_ms();
    play(pb, &B, "live/main");
    expect_media("B live/main", &cb, 1, 2, 3000);
    printf("  first media on B %lld ms after its play request (a cold pull)\n", (long long)(fo_peer_now_ms() - t0));
    play(pc, &C, "live/main");
    expect_media("B live/main", &cb, 100, 150, 5000);
    expect_media("C live/main", &cc, 100, 150, 5000);
    check("1. B live/main (pulled from A)", &cb);
    check("1. C live/main (pulled)", &cc);
    /* one relay per node: A serves B, B serves C (a tree, not a star) */
    wait_body(&C, "/api/v1/cluster", "\"parent\":\"node-b\",\"depth\":2", true, 2000, "1. C pulls from B");
    wait_body(&B, "/api/v1/cluster", "\"parent\":\"node-a\",\"depth\":1", true, 2000, "1. B pulls from A");
    printf("  1. tree: A -> B -> C (relays_per_node 1)\n");
    uint32_t ssrc_b[2] = {cb.t[0].ssrc, cb.t[1].ssrc}, ssrc_c[2] = {cc.t[0].ssrc, cc.t[1].ssrc};

    /* 2. a player before the publisher, on another node than the publisher */
    fo_peer_t *pl = peer(FO_PEER_PLAY, "play-late");
    fo_mediacheck_t cl;
    fo_mediacheck_init(&cl, pl);
    play(pl, &B, "live/late");
    run(1500); /* nobody publishes it yet */
    if (cl.t[0].packets || cl.t[1].packets) fail("2. media for a stream nobody publishes");
    fo_mediagen_t gen2;
    fo_peer_t *pub2 = publish(&C, "live/late", 3000);
    fo_mediagen_init(&gen2, pub2, 15);
    t0 = fo_peer_now_ms();
    while (!got(&cl, 10, 10)) {
        if (fo_peer_now_ms() - t0 > 5000) fail("2. the waiting player on B got nothing after the publish on C");
        fo_mediagen_tick(&gen2);
        run(10);
    }
    printf("  2. the waiting player on B started %lld ms after the publisher on C connected\n",
           (long long)(fo_peer_now_ms() - t0));
    check("2. B live/late", &cl);
    forget(pub2);
    fo_peer_free(pub2);

    /* 3. a second publisher of live/main, on B: 409 */
    fo_peer_t *dup = peer(FO_PEER_PUBLISH, "dup");
    if (fo_peer_signal(dup, B.api, "live/main", 5000) == 0 || fo_peer_http_status(dup) != 409 || !fo_peer_api_code(dup))
        fail("3. a second publisher on B got HTTP %d code %d, not 409", fo_peer_http_status(dup), fo_peer_api_code(dup));
    printf("  3. a second publisher of live/main on B: HTTP 409, code %d\n", fo_peer_api_code(dup));
    forget(dup);
    fo_peer_free(dup);

    /* 4. the origin dies; the publisher comes back on C */
    kill(A.pid, SIGKILL);
    waitpid(A.pid, NULL, 0);
    A.pid = -1;
    int64_t killed = fo_peer_now_ms();
    forget(pub);
    fo_peer_vanish(pub);
    gen.pub = NULL;
    run(1000);
    pub = publish(&C, "live/main", 15000);
    printf("  4. publisher back on C %lld ms after A was killed (A's claim had to expire)\n",
           (long long)(fo_peer_now_ms() - killed));
    fo_mediagen_switch(&gen, pub);
    expect_media("4. B live/main after the failover", &cb, 50, 60, 15000);
    expect_media("4. C live/main after the failover", &cc, 50, 60, 5000);
    printf("  4. players resumed %lld ms after A was killed\n", (long long)(fo_peer_now_ms() - killed));
    if (fo_peer_state(pb) != FO_PEER_CONNECTED || fo_peer_state(pc) != FO_PEER_CONNECTED)
        fail("4. a player lost its session");
    if (cb.t[0].ssrc != ssrc_b[0] || cb.t[1].ssrc != ssrc_b[1] || cc.t[0].ssrc != ssrc_c[0] || cc.t[1].ssrc != ssrc_c[1])
        fail("4. SSRCs changed");
    check("4. B live/main across the failover", &cb);
    check("4. C live/main across the failover", &cc);

    /* 5. Redis restarted empty */
    int port = redis.port;
    fo_redissrv_kill(&redis);
    run(500);
    if (fo_redissrv_start(&redis, port, "r3dis-pw") != 0) fail("cannot restart redis-server");
    int64_t back = fo_peer_now_ms();
    redis_wait("ZCARD fanout:nodes", ":2", 6000, "5. B and C registered again");
    redis_wait("EXISTS fanout:stream:live/main", ":1", 3000, "5. C's claim back");
    printf("  5. nodes and claim back %lld ms after Redis restarted empty\n", (long long)(fo_peer_now_ms() - back));
    expect_media("5. B live/main after the Redis restart", &cb, 20, 20, 3000);
    check("5. B live/main", &cb);

    /* 6. B killed: C ends the relay it served B once B's entries expire */
    wait_body(&C, "/api/v1/cluster", "\"node\":\"node-b\"", true, 3000, "6. C serves B");
    kill(B.pid, SIGKILL);
    waitpid(B.pid, NULL, 0);
    B.pid = -1;
    forget(pb);
    fo_peer_vanish(pb);
    wait_body(&C, "/api/v1/cluster", "\"node\":\"node-b\"", false, 8000, "6. C's relay for B ended");
    printf("  6. C ended the relay it served the killed B\n");

    /* 7. Redis down from the start */
    if (fo_redissrv_start(&redis2, 0, NULL) != 0) fail("cannot start a second redis-server");
    int port2 = redis2.port;
    fo_redissrv_stop(&redis2, true);
    start_node(&D, "it_cluster-D", "node-d", argv[1], argv[2], redis2.url);
    fo_peer_t *pd = publish(&D, "live/d", 3000);
    fo_mediagen_t gen3;
    fo_mediagen_init(&gen3, pd, 15);
    fo_peer_t *ld = peer(FO_PEER_PLAY, "play-D");
    fo_mediacheck_t cd;
    fo_mediacheck_init(&cd, ld);
    play(ld, &D, "live/d");
    t0 = fo_peer_now_ms();
    while (!got(&cd, 30, 30)) {
        if (fo_peer_now_ms() - t0 > 5000) fail("7. D's local player got nothing with Redis down");
        fo_mediagen_tick(&gen3);
        run(10);
    }
    check("7. D live/d (Redis down)", &cd);
    fo_peer_t *rd = peer(FO_PEER_PLAY, "remote-D");
    if (fo_peer_signal(rd, D.api, "live/elsewhere", 3000) == 0 || fo_peer_http_status(rd) != 503 || !fo_peer_api_code(rd))
        fail("7. a remote play on D with Redis down got HTTP %d code %d", fo_peer_http_status(rd), fo_peer_api_code(rd));
    forget(rd);
    fo_peer_free(rd);
    wait_body(&D, "/metrics", "fanout_cluster_redis_up 0", true, 1000, "7. metrics say Redis is down");
    if (fo_redissrv_start(&redis2, port2, NULL) != 0) fail("cannot start the second redis-server");
    for (int64_t end = fo_peer_now_ms() + 8000;;) {
        fo_mediagen_tick(&gen3);
        char *body = NULL;
        int st = http_get(&D, "/metrics", &body);
        bool up = st == 200 && body && strstr(body, "fanout_cluster_redis_up 1");
        free(body);
        if (up) break;
        if (fo_peer_now_ms() > end) fail("7. D did not connect to Redis once it started");
        run(100);
    }
    char out[64];
    for (int64_t end = fo_peer_now_ms() + 3000;; run(50)) {
        fo_mediagen_tick(&gen3);
        if (fo_redissrv_cmd(&redis2, "EXISTS fanout:stream:live/d", out, sizeof out) == 0 && strncmp(out, ":1", 2) == 0)
            break;
        if (fo_peer_now_ms() > end) fail("7. D did not claim live/d once Redis was up");
    }
    printf("  7. D served its stream with Redis down (remote play 503), then joined when Redis came up\n");

    while (n_peers) {
        fo_peer_t *p = peers[0];
        forget(p);
        fo_peer_free(p);
    }
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    fo_testsrv_stop_clean(&C);
    fo_testsrv_stop_clean(&D);
    cleanup();
    printf("it_cluster: OK\n");
    return 0;
}
