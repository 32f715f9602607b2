/* SPDX-License-Identifier: MIT */
/* The operator's relays, three servers and no Redis: A has a publisher (C test peer) of
 * live/src; B pulls it over WHEP from A (relay.pull in its config) and pushes it over WHIP to C
 * as live/pushed (relay.push); C also pulls live/src from A as live/api through the operator API
 * (POST /api/v1/relays), which lists it connected and DELETE removes. Players on B (live/src),
 * on C (live/pushed, two relays away from the publisher) and on C (live/api) must receive
 * byte-exact payloads on their announced SSRCs with continuous sequence numbers. Every server
 * exits 0. argv[1] the fanout binary, argv[2] the source dir. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "mediagen.h"
#include "peer.h"
#include "testsrv.h"

static fo_testsrv_t A, B, C;
static fo_peer_t *peers[8];
static size_t n_peers;
static fo_mediagen_t gen;

/* Services every peer and sends the publisher's media for `ms`. */
static void run(int ms)
{
    int64_t end = fo_peer_now_ms() + ms;
    while (fo_peer_now_ms() < end) {
        struct pollfd pf[8];
        for (size_t i = 0; i < n_peers; i++) pf[i] = (struct pollfd){.fd = fo_peer_fd(peers[i]), .events = POLLIN};
        poll(pf, n_peers, 5);
        for (size_t i = 0; i < n_peers; i++) fo_peer_process(peers[i]);
        if (gen.pub && fo_mediagen_tick(&gen) != 0) fo_test_fail("publisher cannot send");
    }
}

static fo_peer_t *peer(fo_peer_role_t role, const char *name, fo_dtls_ctx_t *d, fo_stun_t *s)
{
    fo_peer_opts_t o = {.role = role, .dtls = d, .stun = s, .name = name};
    fo_peer_t *p = fo_peer_new(&o);
    if (!p) fo_test_fail("peer %s", name);
    peers[n_peers++] = p;
    return p;
}

static void connect_play(fo_peer_t *p, const fo_testsrv_t *srv, const char *stream)
{
    if (fo_peer_signal(p, srv->api, stream, 5000) != 0) fo_test_fail("play %s on %s: %s", stream, srv->name, fo_peer_error(p));
    for (int64_t end = fo_peer_now_ms() + 5000; fo_peer_state(p) != FO_PEER_CONNECTED;) {
        if (fo_peer_now_ms() > end || fo_peer_state(p) == FO_PEER_FAILED)
            fo_test_fail("player of %s on %s did not connect: %s", stream, srv->name, fo_peer_error(p));
        run(10);
    }
}

static void check(const char *what, const fo_mediacheck_t *c, uint64_t min_audio, uint64_t min_video)
{
    if (!fo_mediacheck_ok(c)) fo_test_fail("%s: %s", what, c->first_error);
    if (c->t[0].packets < min_audio || c->t[1].packets < min_video)
        fo_test_fail("%s: only %llu audio / %llu video packets", what, (unsigned long long)c->t[0].packets,
                     (unsigned long long)c->t[1].packets);
    if (c->srs < 2) fo_test_fail("%s: %llu sender reports (A/V sync needs them)", what, (unsigned long long)c->srs);
    if (c->t[0].gaps || c->t[1].gaps || c->t[0].backwards || c->t[1].backwards)
        fo_test_fail("%s: sequence gaps %llu/%llu, timestamps backwards %llu/%llu", what,
                     (unsigned long long)c->t[0].gaps, (unsigned long long)c->t[1].gaps,
                     (unsigned long long)c->t[0].backwards, (unsigned long long)c->t[1].backwards);
    printf("  %s: %llu audio, %llu video packets byte-exact, no gaps, %llu SRs\n", what,
           (unsigned long long)c->t[0].packets, (unsigned long long)c->t[1].packets, (unsigned long long)c->srs);
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    fo_log_set_level(FO_LOG_WARN);
    fo_testsrv_start(&A, "it_relay-A", argv[1], argv[2], NULL, 90);
    fo_testsrv_start(&C, "it_relay-C", argv[1], argv[2], NULL, 90);
    char pull[300], push[300];
    snprintf(pull, sizeof pull, "relay.pull=live/src=%s/rtc/v1/whep/?app=live&stream=src", A.api);
    snprintf(push, sizeof push, "relay.push=live/src=%s/rtc/v1/whip/?app=live&stream=pushed", C.api);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    fo_peer_t *pub = peer(FO_PEER_PUBLISH, "pub", dctx, stun);
    if (fo_peer_connect(pub, A.api, "live/src", 10000)) fo_test_fail("publish on A: %s", fo_peer_error(pub));
    fo_mediagen_init(&gen, pub, 15);
    run(300);
    const char *bx[] = {"--set", pull, "--set", push, NULL};
    fo_testsrv_start(&B, "it_relay-B", argv[1], argv[2], bx, 90);

    fo_peer_t *pb = peer(FO_PEER_PLAY, "play-B", dctx, stun), *pc = peer(FO_PEER_PLAY, "play-C", dctx, stun);
    fo_mediacheck_t cb, cc, ca;
    fo_mediacheck_init(&cb, pb);
    fo_mediacheck_init(&cc, pc);
    int64_t t0 = fo_peer_now_ms();
    connect_play(pb, &B, "live/src");
    printf("  player on B connected %lld ms after B started pulling\n", (long long)(fo_peer_now_ms() - t0));
    connect_play(pc, &C, "live/pushed");
    run(4000); /* 3 s of media were too few on a loaded machine (C got 99 audio packets) */
    check("B live/src (pulled from A)", &cb, 100, 120);
    check("C live/pushed (pulled by B, pushed to C)", &cc, 100, 120);

    /* the operator API: a pull added at run time, listed, removed */
    char url[200], body[400], *resp = NULL;
    snprintf(url, sizeof url, "%s/api/v1/relays", C.api);
    snprintf(body, sizeof body, "{\"type\":\"pull\",\"stream\":\"live/api\",\"url\":\"%s/rtc/v1/whep/?app=live&stream=src\"}", A.api);
    int st = fo_peer_http_post(url, "application/json", body, &resp, 3000);
    if (st != 201 || !resp || !strstr(resp, "\"id\"")) fo_test_fail("POST /api/v1/relays: %d %s", st, resp ? resp : "");
    char id[32] = "";
    const char *ip = strstr(resp, "\"id\":\"");
    if (ip) sscanf(ip + 6, "%16[0-9a-f]", id);
    free(resp);
    fo_peer_t *pa = peer(FO_PEER_PLAY, "play-C-api", dctx, stun);
    fo_mediacheck_init(&ca, pa);
    connect_play(pa, &C, "live/api");
    run(2000);
    check("C live/api (API pull from A)", &ca, 60, 80);
    resp = NULL;
    st = fo_peer_http_request("GET", url, NULL, NULL, NULL, &resp, 3000);
    if (st != 200 || !resp || !strstr(resp, "\"state\":\"connected\"") || !strstr(resp, id))
        fo_test_fail("GET /api/v1/relays: %d %s", st, resp ? resp : "");
    free(resp);
    /* bad requests are refused with a reason */
    resp = NULL;
    st = fo_peer_http_post(url, "application/json", "{\"type\":\"pull\",\"stream\":\"../x\",\"url\":\"ftp://x\"}", &resp, 3000);
    if (st != 400) fo_test_fail("a bad relay was not refused: %d %s", st, resp ? resp : "");
    free(resp);
    char del[260];
    snprintf(del, sizeof del, "%s/%s", url, id);
    resp = NULL;
    st = fo_peer_http_request("DELETE", del, NULL, NULL, NULL, &resp, 3000);
    if (st != 200) fo_test_fail("DELETE %s: %d", del, st);
    free(resp);

    for (size_t i = 0; i < n_peers; i++) fo_peer_free(peers[i]);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    fo_testsrv_stop_clean(&B);
    fo_testsrv_stop_clean(&C);
    fo_testsrv_stop_clean(&A);
    printf("it_relay: OK\n");
    return 0;
}
