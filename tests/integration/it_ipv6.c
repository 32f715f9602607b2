/* SPDX-License-Identifier: MIT */
/* IPv6 on ::1: the fanout binary (argv[1], source dir argv[2]) listening dual-stack ("::", the
 * default) with rtc.candidate = ::1. Signaling over http://[::1]:port; a publisher over UDP and
 * players over UDP and ICE-TCP, all over IPv6, with byte-exact payloads (the ICE-TCP player
 * loses nothing); the answer's candidates are IPv6 (c=IN IP6), and /api/v1/clients shows the
 * peers' IPv6 addresses. (Every other integration test reaches the same dual-stack sockets over
 * IPv4, as IPv4-mapped addresses the server unmaps.) One process, alarm(60). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "itmedia.h"
#include "peer.h"
#include "testsrv.h"

#define MEDIA_MS 2500
#define DRAIN_MS 600

#define die(...) fo_test_fail(__VA_ARGS__)

static fo_testsrv_t g_srv;

static char g_api6[64];

static void check_remote(const char *id, const char *who)
{
    char url[160], *body = NULL;
    snprintf(url, sizeof url, "%s/api/v1/clients/%s", g_api6, id);
    if (fo_peer_http_request("GET", url, NULL, NULL, NULL, &body, 5000) != 200) die("GET %s", url);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    const char *remote = json_string_value(json_object_get(json_object_get(j, "client"), "remote"));
    if (!remote || strncmp(remote, "[::1]:", 6) != 0) die("%s: remote %s, expected [::1]:port", who, remote ? remote : "?");
    json_decref(j);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fanout binary> <source dir>\n", argv[0]);
        return 2;
    }
    setenv("FANOUT_RTC_INSTANT_START", "0", 1);
    const char *extra[] = {"--candidate", "::1", NULL};
    fo_testsrv_start(&g_srv, "it_ipv6", argv[1], argv[2], extra, 60);
    fo_log_set_level(getenv("IT_DEBUG") ? FO_LOG_DEBUG : FO_LOG_WARN);
    if (fo_srtp_global_init()) die("fo_srtp_global_init");
    snprintf(g_api6, sizeof g_api6, "http://[::1]:%d", g_srv.http_port);
    char stream[64];
    snprintf(stream, sizeof stream, "live/v6-%d", (int)getpid());
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();

    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub"};
    fo_peer_t *pub = fo_peer_new(&po);
    if (!pub || fo_peer_connect(pub, g_api6, stream, 10000)) die("publisher over IPv6: %s", fo_peer_error(pub));
    const fo_peer_answer_t *a = fo_peer_answer(pub);
    if (strcmp(a->cand_ip, "::1") != 0 || !strstr(fo_peer_answer_sdp(pub), "c=IN IP6 ::") || a->n_tcp == 0)
        die("answer: candidate %s, %u TCP candidates:\n%s", a->cand_ip, a->n_tcp, fo_peer_answer_sdp(pub));

    it_sender_t snd;
    it_sender_init(&snd, pub);
    it_player_t pl[2];
    static const char *const names[2] = {"udp6", "tcp6"};
    for (int i = 0; i < 2; i++) {
        fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = names[i], .tcp = i == 1};
        fo_peer_t *p = fo_peer_new(&o);
        if (!p || fo_peer_connect(p, g_api6, stream, 10000)) die("%s: %s", names[i], fo_peer_error(p));
        it_player_init(&pl[i], names[i], p, &snd);
        it_player_take_ssrcs(&pl[i]);
    }
    int64_t t0 = fo_peer_now_ms();
    for (;;) {
        int64_t t = fo_peer_now_ms() - t0;
        if (t >= MEDIA_MS + DRAIN_MS) break;
        if (t < MEDIA_MS) it_sender_run(&snd, t);
        fo_peer_t *peers[3] = {pub, pl[0].peer, pl[1].peer};
        static const char *const who[3] = {"pub", "udp6", "tcp6"};
        it_pump(peers, who, 3, 2);
    }
    char summary[256] = "";
    for (int i = 0; i < 2; i++) {
        it_player_check_clean(&pl[i]);
        if (i == 1) it_expect_lossless(&pl[i], 0, INT64_MAX, "over ICE-TCP");
        uint32_t ag, ae, vg, ve;
        it_window(&pl[i], false, 0, &ag, &ae);
        it_window(&pl[i], true, 0, &vg, &ve);
        if (!ae || !ve || ag * 10 < ae * 9 || vg * 10 < ve * 9) die("%s: audio %u/%u, video %u/%u", names[i], ag, ae, vg, ve);
        snprintf(summary + strlen(summary), sizeof summary - strlen(summary), "%s%s a %u/%u v %u/%u", i ? ", " : "",
                 names[i], ag, ae, vg, ve);
        check_remote(fo_peer_session_id(pl[i].peer), names[i]);
    }
    check_remote(fo_peer_session_id(pub), "pub");
    for (int i = 0; i < 2; i++) {
        fo_peer_free(pl[i].peer);
        it_player_free(&pl[i]);
    }
    fo_peer_free(pub);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_ipv6: OK: signaling on %s, publisher over UDP/IPv6, players %s; server exited 0\n", g_api6, summary);
    it_sender_free(&snd);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    return 0;
}
