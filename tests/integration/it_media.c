/* SPDX-License-Identifier: MIT */
/* End to end on loopback: starts the fanout binary (argv[1]) with the repo's config (argv[2] is
 * the source dir) on free ports, then one publisher and two players of live/it-<pid> over real
 * ICE, DTLS and SRTP (tests/integration/lib/peer.c). The publisher sends ~3 s of Opus-like
 * audio and VP8-shaped video (keyframe every second); player 1 joins before the media starts,
 * player 2 about a second in. Checks: every received payload is byte-exact one that was sent
 * (found by the counter in its last 4 bytes), SSRCs are the ones the player's answer
 * announced, seq and timestamp deltas follow the sent ones exactly, each player receives >= 90%
 * of what was sent after it connected (video: from the first keyframe after that), a second
 * publisher is refused with HTTP 409 and a non-zero code, and random datagrams sent to the RTC
 * port mid-test do not stop the media. One process, alarm(60); the server is always stopped. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "itmedia.h"
#include "peer.h"
#include "testsrv.h"

#define MEDIA_MS 3000
#define DRAIN_MS 700
#define P2_JOIN_MS 1100
#define SECOND_PUB_MS 600
#define GARBAGE_MS 1600
#define GARBAGE_COUNT 300

static fo_testsrv_t g_srv;

#define die(...) fo_test_fail(__VA_ARGS__)

/* ------------------------------------------------------------------------------------------ */

static void send_garbage(int rtc_port, uint32_t pub_ssrc)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)rtc_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint32_t s = 0x12345678;
    uint8_t buf[1200];
    for (int i = 0; i < GARBAGE_COUNT; i++) {
        size_t len = 1 + it_xorshift(&s) % sizeof buf;
        for (size_t j = 0; j < len; j++) buf[j] = (uint8_t)it_xorshift(&s);
        switch (i % 4) {
        case 0: break; /* anything */
        case 1:       /* STUN-looking: cookie, plausible length */
            if (len < 20) len = 20;
            buf[0] &= 0x01;
            buf[2] = (uint8_t)((len - 20) >> 8);
            buf[3] = (uint8_t)((len - 20) & 0xfc);
            memcpy(buf + 4, "\x21\x12\xa4\x42", 4);
            len = 20 + ((len - 20) & ~(size_t)3);
            break;
        case 2: buf[0] = (uint8_t)(20 + buf[0] % 44); break; /* DTLS-looking */
        case 3:                                             /* RTP with the publisher's SSRC */
            if (len < 12) len = 12;
            buf[0] = 0x80;
            buf[1] = i & 4 ? FO_PEER_PT_VP8 : FO_PEER_PT_OPUS;
            for (int k = 0; k < 4; k++) buf[8 + k] = (uint8_t)(pub_ssrc >> (24 - 8 * k));
            break;
        }
        sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof a);
    }
    close(fd);
}

static void check_player(it_player_t *pl, int64_t garbage_ms, char *summary, size_t cap)
{
    if (!pl->connected) die("%s never connected: %s", pl->name, fo_peer_error(pl->peer));
    if (fo_peer_state(pl->peer) == FO_PEER_FAILED)
        die("%s failed: %s", pl->name, fo_peer_error(pl->peer));
    it_player_check_clean(pl);
    uint32_t ag, ae, vg, ve, agg, age, vgg, vge;
    it_window(pl, false, pl->connected_ms, &ag, &ae);
    it_window(pl, true, pl->connected_ms, &vg, &ve);
    it_window(pl, false, garbage_ms, &agg, &age);
    it_window(pl, true, garbage_ms, &vgg, &vge);
    if (ae == 0 || ve == 0) die("%s: nothing was sent after it connected", pl->name);
    if (ag * 10 < ae * 9 || vg * 10 < ve * 9)
        die("%s: received audio %u/%u, video %u/%u (< 90%%)", pl->name, ag, ae, vg, ve);
    if (agg * 10 < age * 9 || vgg * 10 < vge * 9)
        die("%s: after the garbage burst: audio %u/%u, video %u/%u (< 90%%)", pl->name, agg, age,
            vgg, vge);
    snprintf(summary, cap, "%s audio %u/%u video %u/%u (after garbage %u/%u %u/%u)", pl->name, ag,
             ae, vg, ve, agg, age, vgg, vge);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fanout binary> <source dir>\n", argv[0]);
        return 2;
    }
    /* Exact seq/timestamp continuity is checked here, so no instant start (whose fast-forward
     * squeezes the cached frames' timestamps): it_quality covers that. */
    setenv("FANOUT_RTC_INSTANT_START", "0", 1);
    fo_testsrv_start(&g_srv, "it_media", argv[1], argv[2], NULL, 60);
    fo_log_set_level(getenv("IT_DEBUG") ? FO_LOG_DEBUG : FO_LOG_WARN);
    if (fo_srtp_global_init()) die("fo_srtp_global_init");

    int rtc_port = g_srv.rtc_port;
    const char *api = g_srv.api;
    char stream[64];
    snprintf(stream, sizeof stream, "live/it-%d", (int)getpid());

    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    if (!dctx || !stun) die("DTLS context or STUN agent");
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub"};
    fo_peer_t *pub = fo_peer_new(&po);
    if (!pub) die("fo_peer_new");
    if (fo_peer_connect(pub, api, stream, 10000)) die("publisher: %s", fo_peer_error(pub));

    it_sender_t snd;
    it_sender_init(&snd, pub);
    it_player_t pls[2];
    static const char *const names[2] = {"player1", "player2"};
    for (int i = 0; i < 2; i++) {
        fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = names[i]};
        fo_peer_t *peer = fo_peer_new(&o);
        if (!peer) die("fo_peer_new");
        it_player_init(&pls[i], names[i], peer, &snd);
    }
    /* Player 1 before any media. */
    if (fo_peer_connect(pls[0].peer, api, stream, 10000))
        die("player1: %s", fo_peer_error(pls[0].peer));
    it_player_take_ssrcs(&pls[0]);

    int64_t t0 = fo_peer_now_ms();
    pls[0].connected = true;
    pls[0].connected_ms = 0;
    bool p2_signaled = false, second_pub_done = false, garbage_done = false;
    int64_t garbage_ms = GARBAGE_MS;
    int second_status = 0, second_code = 0;
    for (;;) {
        int64_t t = fo_peer_now_ms() - t0;
        if (t >= MEDIA_MS + DRAIN_MS) break;
        if (t < MEDIA_MS) it_sender_run(&snd, t);
        if (!second_pub_done && t >= SECOND_PUB_MS) {
            second_pub_done = true;
            fo_peer_opts_t o = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub2"};
            fo_peer_t *pub2 = fo_peer_new(&o);
            if (!pub2) die("fo_peer_new");
            if (fo_peer_signal(pub2, api, stream, 5000) == 0)
                die("a second publisher of %s was accepted", stream);
            second_status = fo_peer_http_status(pub2);
            second_code = fo_peer_api_code(pub2);
            if (second_status != 409 || second_code == 0)
                die("second publisher: expected HTTP 409 and a non-zero code, got %d / %d (%s)",
                    second_status, second_code, fo_peer_error(pub2));
            fo_peer_free(pub2);
        }
        if (!p2_signaled && t >= P2_JOIN_MS) {
            p2_signaled = true;
            if (fo_peer_signal(pls[1].peer, api, stream, 5000))
                die("player2: %s", fo_peer_error(pls[1].peer));
            it_player_take_ssrcs(&pls[1]);
        }
        if (!garbage_done && t >= GARBAGE_MS) {
            garbage_done = true;
            garbage_ms = t;
            send_garbage(rtc_port, fo_peer_ssrc(pub, "audio"));
        }

        fo_peer_t *peers[3] = {pub, pls[0].peer, p2_signaled ? pls[1].peer : NULL};
        struct pollfd pfd[3];
        nfds_t n = 0;
        for (int i = 0; i < 3; i++)
            if (peers[i]) pfd[n++] = (struct pollfd){.fd = fo_peer_fd(peers[i]), .events = POLLIN};
        poll(pfd, n, 2);
        for (int i = 0; i < 3; i++) {
            if (!peers[i]) continue;
            fo_peer_state_t st = fo_peer_process(peers[i]);
            if (st == FO_PEER_FAILED || st == FO_PEER_CLOSED)
                die("%s: %s", i == 0 ? "publisher" : pls[i - 1].name,
                    st == FO_PEER_CLOSED ? "closed by the server" : fo_peer_error(peers[i]));
        }
        if (p2_signaled && !pls[1].connected && fo_peer_state(pls[1].peer) == FO_PEER_CONNECTED) {
            pls[1].connected = true;
            pls[1].connected_ms = fo_peer_now_ms() - t0;
        }
    }

    char s1[256], s2[256];
    check_player(&pls[0], garbage_ms, s1, sizeof s1);
    check_player(&pls[1], garbage_ms, s2, sizeof s2);
    const fo_peer_stats_t *ps = fo_peer_stats(pub);
    uint64_t consent = ps->consent_ok;

    fo_peer_free(pls[0].peer); /* close_notify */
    fo_peer_free(pls[1].peer);
    fo_peer_free(pub);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_media: OK: sent audio %u video %u; %s; %s; second publisher HTTP %d code %d; "
           "%d garbage datagrams; publisher consent checks answered %llu; server exited 0\n",
           snd.n_audio, snd.n_video, s1, s2, second_status, second_code, GARBAGE_COUNT,
           (unsigned long long)consent);
    it_sender_free(&snd);
    for (int i = 0; i < 2; i++) it_player_free(&pls[i]);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    return 0;
}
