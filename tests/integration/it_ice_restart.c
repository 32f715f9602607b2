/* SPDX-License-Identifier: MIT */
/* Trickle ICE and ICE restarts on WHIP/WHEP resources (RFC 9725 4.3) against the fanout binary
 * (argv[1], source dir argv[2]): a WHIP publisher over UDP, a WHEP player over UDP and one over
 * ICE-TCP. PATCH with application/trickle-ice-sdpfrag: trickled candidates with the resource's
 * ETag get 204; a stale ETag 412, a wrong Content-Type 415, a malformed fragment 400, an unknown
 * resource 404. ICE restarts (new ice-ufrag/ice-pwd, If-Match: *) get 200 with the server's new
 * credentials and a new ETag (after which the old ETag is stale): the UDP player restarts on the
 * same socket (nothing may be lost), then again from a new socket (a network change), the
 * publisher from a new socket, the TCP player over a new connection. Media continues through
 * every one of them on the same sessions, SSRCs and sequence numbers (payloads byte-exact, seq
 * and timestamp deltas exact), without a new DTLS handshake; last the UDP player moves onto
 * ICE-TCP (a UDP-blocking network; with send workers its outbound SRTP context passes from its
 * worker back to the loop). ctest runs it again with rtc.workers = 3. One process, alarm(90). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "itmedia.h"
#include "peer.h"
#include "testsrv.h"

#define MEDIA_MS 11500
#define DRAIN_MS 700
#define TRICKLE_MS 1000
#define RESTART_SAME_MS 2000
#define RESTART_MOVE_MS 3500
#define RESTART_PUB_MS 5500
#define RESTART_TCP_MS 7500
#define RESTART_CARRIER_MS 9500 /* the UDP player moves onto ICE-TCP */
#define SETTLE_MS 1000 /* after a move, media is back within this */

#define die(...) fo_test_fail(__VA_ARGS__)

static fo_testsrv_t g_srv;

static void expect_patch(fo_peer_t *p, const char *what, const char *if_match, const char *ctype,
                         const char *frag, int want)
{
    int st = fo_peer_patch(p, if_match, ctype, frag, 5000);
    if (st != want) die("PATCH %s: HTTP %d, want %d", what, st, want);
    printf("  PATCH %s: %d ok\n", what, st);
}

static void restart(fo_peer_t *p, const char *who, fo_peer_move_t move)
{
    static const char *const how[] = {"", " from a new socket", " moving to ICE-TCP", " moving to UDP"};
    char before[128];
    snprintf(before, sizeof before, "%s", fo_peer_etag(p));
    if (fo_peer_ice_restart(p, move, 5000)) die("%s: ICE restart: %s", who, fo_peer_error(p));
    if (!strcmp(before, fo_peer_etag(p))) die("%s: the ETag did not change with the ICE restart (%s)", who, before);
    printf("  %s: ICE restart%s: 200, ETag %s -> %s\n", who, how[move], before, fo_peer_etag(p));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fanout binary> <source dir>\n", argv[0]);
        return 2;
    }
    setenv("FANOUT_RTC_INSTANT_START", "0", 1);
    fo_testsrv_start(&g_srv, "it_ice_restart", argv[1], argv[2], NULL, 90);
    fo_log_set_level(getenv("IT_DEBUG") ? FO_LOG_DEBUG : FO_LOG_WARN);
    if (fo_srtp_global_init()) die("fo_srtp_global_init");
    char stream[64], url[256];
    snprintf(stream, sizeof stream, "restart-%d", (int)getpid());
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();

    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "whip"};
    fo_peer_t *pub = fo_peer_new(&po);
    snprintf(url, sizeof url, "%s/rtc/v1/whip/?app=live&stream=%s", g_srv.api, stream);
    if (!pub || fo_peer_connect_whip(pub, url, 10000)) die("WHIP: %s", fo_peer_error(pub));
    if (!fo_peer_etag(pub)[0]) die("WHIP: no ETag in the 201");
    it_sender_t snd;
    it_sender_init(&snd, pub);
    it_player_t pl[2];
    static const char *const names[2] = {"whep-udp", "whep-tcp"};
    snprintf(url, sizeof url, "%s/rtc/v1/whep/?app=live&stream=%s", g_srv.api, stream);
    for (int i = 0; i < 2; i++) {
        fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = names[i], .tcp = i == 1};
        fo_peer_t *p = fo_peer_new(&o);
        if (!p || fo_peer_connect_whip(p, url, 10000)) die("%s: %s", names[i], fo_peer_error(p));
        it_player_init(&pl[i], names[i], p, &snd);
        it_player_take_ssrcs(&pl[i]);
    }
    fo_peer_t *udp = pl[0].peer, *tcp = pl[1].peer;

    bool trickled = false, same = false, moved = false, pub_moved = false, tcp_moved = false, carrier = false;
    int64_t t0 = fo_peer_now_ms();
    for (;;) {
        int64_t t = fo_peer_now_ms() - t0;
        if (t >= MEDIA_MS + DRAIN_MS) break;
        if (t < MEDIA_MS) it_sender_run(&snd, t);
        if (!trickled && t >= TRICKLE_MS) {
            trickled = true;
            expect_patch(udp, "trickle with the ETag", fo_peer_etag(udp), NULL, NULL, 204);
            expect_patch(udp, "trickle without If-Match", NULL, NULL, NULL, 204);
            expect_patch(udp, "trickle with a stale ETag", "\"notthisone\"", NULL, NULL, 412);
            expect_patch(udp, "trickle as application/sdp", fo_peer_etag(udp), "application/sdp", NULL, 415);
            expect_patch(udp, "a malformed fragment", fo_peer_etag(udp), NULL, "a=candidate:x y\r\n", 400);
            expect_patch(udp, "an ICE restart without ice-pwd", "*", NULL, "a=ice-ufrag:abcdefgh\r\n", 400);
        }
        if (!same && t >= RESTART_SAME_MS) {
            same = true;
            char old[128];
            snprintf(old, sizeof old, "%s", fo_peer_etag(udp));
            restart(udp, names[0], FO_PEER_STAY);
            expect_patch(udp, "trickle with the ETag from before the restart", old, NULL, NULL, 412);
            expect_patch(udp, "trickle with the new ETag", fo_peer_etag(udp), NULL, NULL, 204);
        }
        if (!moved && t >= RESTART_MOVE_MS) {
            moved = true;
            restart(udp, names[0], FO_PEER_NEW_SOCKET);
        }
        if (!pub_moved && t >= RESTART_PUB_MS) {
            pub_moved = true;
            restart(pub, "whip", FO_PEER_NEW_SOCKET);
        }
        if (!tcp_moved && t >= RESTART_TCP_MS) {
            tcp_moved = true;
            restart(tcp, names[1], FO_PEER_NEW_SOCKET);
        }
        if (!carrier && t >= RESTART_CARRIER_MS) {
            carrier = true;
            restart(udp, names[0], FO_PEER_TO_TCP);
        }
        fo_peer_t *peers[3] = {pub, udp, tcp};
        static const char *const who[3] = {"whip", "whep-udp", "whep-tcp"};
        it_pump(peers, who, 3, 2);
    }

    for (int i = 0; i < 2; i++) it_player_check_clean(&pl[i]); /* same SSRCs, exact seq/ts deltas */
    /* nothing lost through the restart on the same path */
    it_expect_lossless(&pl[0], 0, RESTART_MOVE_MS - 100, "through an ICE restart on the same socket");
    /* back after each move */
    it_expect_lossless(&pl[0], RESTART_MOVE_MS + SETTLE_MS, RESTART_PUB_MS - 100, "after moving to a new socket");
    for (int i = 0; i < 2; i++)
        it_expect_lossless(&pl[i], RESTART_PUB_MS + SETTLE_MS, RESTART_TCP_MS - 100, "after the publisher moved");
    it_expect_lossless(&pl[1], RESTART_TCP_MS + SETTLE_MS, MEDIA_MS, "after a new ICE-TCP connection");
    it_expect_lossless(&pl[0], RESTART_TCP_MS + SETTLE_MS, RESTART_CARRIER_MS - 100, "before moving to ICE-TCP");
    it_expect_lossless(&pl[0], RESTART_CARRIER_MS + SETTLE_MS, MEDIA_MS, "after moving from UDP to ICE-TCP");
    /* the same three sessions, one DTLS handshake each, five restarts */
    int handshakes = fo_testsrv_log_count(&g_srv, "connected (DTLS-SRTP)");
    int restarts = fo_testsrv_log_count(&g_srv, "ICE restart: ufrag");
    if (handshakes != 3 || restarts != 5) die("%d DTLS handshakes (want 3), %d ICE restarts (want 5)", handshakes, restarts);
    if (fo_testsrv_log_count(&g_srv, "peer moved to tcp") < 1) die("the server did not follow the UDP player onto ICE-TCP");
    const char *workers = getenv("FANOUT_RTC_WORKERS");
    if (workers && atoi(workers) > 2 && fo_testsrv_log_count(&g_srv, "outbound SRTP back from send worker") != 1)
        die("with %s send workers the player's outbound SRTP did not come back from its worker", workers);
    if (fo_testsrv_log_count(&g_srv, "session ended") != 0) die("a session ended during the restarts");

    uint32_t ag, ae, vg, ve;
    it_window(&pl[0], false, 0, &ag, &ae);
    it_window(&pl[0], true, 0, &vg, &ve);
    for (int i = 0; i < 2; i++) {
        fo_peer_free(pl[i].peer);
        it_player_free(&pl[i]);
    }
    fo_peer_free(pub);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_ice_restart: OK: trickle 204/412/415/400; 5 ICE restarts (same socket, new socket, publisher, "
           "ICE-TCP, UDP to ICE-TCP) on the same sessions with one DTLS handshake each; the first player got "
           "audio %u/%u video %u/%u, continuous; server exited 0\n", ag, ae, vg, ve);
    it_sender_free(&snd);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    return 0;
}
