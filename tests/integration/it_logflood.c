/* SPDX-License-Identifier: MIT */
/* A session holder cannot flood the log or make the server answer checks without bound
 * (issue 15, item 8; argv[1] binary, argv[2] source dir). The review got ~69,000 "peer moved"
 * lines in 2 s from checks alternating between two ports, and one "SSRC changed" line per RTP
 * packet alternating two SSRCs. Here:
 *  1. a connected player's holder alternates 400 nominated checks between two addresses that
 *     both answer the server's confirmation requests (so each check moves the peer): at most a
 *     few "peer moved" lines per 10 s (loglimit.h), and at most FO_TRANSPORT_CHECKS_PER_S
 *     checks answered per second; the rest are counted (fanout_stun_requests_total{result=
 *     "over_cap"}) and the session's end line says how many;
 *  2. a publisher alternates two audio SSRCs for 400 packets: at most a few "SSRC changed"
 *     lines.
 * The old server wrote one line per check and per packet, and answered every check. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fanout/log.h"
#include "fanout/loglimit.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "fanout/transport.h"
#include "peer.h"
#include "rawice.h"
#include "testsrv.h"

#define FLOOD 400
#define MAX_LINES (2 * FO_LOGLIMIT_BURST) /* two windows at most in the test's time */

static fo_testsrv_t srv;
static fo_stun_t *stun;

static fo_peer_t *connect_ok(fo_peer_role_t role, const char *name)
{
    fo_peer_opts_t o = {.role = role, .name = name, .stun = stun};
    return fo_raw_connect(&o, srv.api, "live/flood");
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    fo_testsrv_start(&srv, "it_logflood", argv[1], argv[2], NULL, 90);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    stun = fo_stun_new();
    fo_peer_t *pub = connect_ok(FO_PEER_PUBLISH, "pub");
    fo_peer_t *player = connect_ok(FO_PEER_PLAY, "player");
    const fo_peer_answer_t *ans = fo_peer_answer(player);
    char ufrag[64], pwd[64];
    fo_raw_sdp_creds(fo_peer_offer_sdp(player), ufrag, pwd);

    /* 1. two addresses that answer as the player would, alternating nominated checks */
    int fd[2] = {fo_raw_socket("127.0.0.1"), fo_raw_socket("127.0.0.1")};
    fo_raw_answerer_t who = {.stun = stun, .ufrag = ufrag, .pwd = pwd, .reply_fd = -1};
    fo_raw_counts_t c[2] = {{0}, {0}};
    for (int i = 0; i < 2; i++) { /* confirm both first */
        fo_raw_check(fd[i], stun, srv.rtc_port, ans->ufrag, ans->pwd, true);
        fo_raw_drain(fd[i], 200, 1000, &c[i], &who);
    }
    int moved0 = fo_testsrv_log_count(&srv, "peer moved");
    long long cap0 = fo_raw_metric(srv.api, "fanout_stun_requests_total{result=\"over_cap\"}");
    int64_t t0 = fo_peer_now_ms();
    fo_raw_counts_t flood[2] = {{0}, {0}};
    for (int i = 0; i < FLOOD; i++) {
        fo_raw_check(fd[i % 2], stun, srv.rtc_port, ans->ufrag, ans->pwd, true);
        if (i % 20 == 19) {
            fo_raw_drain(fd[0], 0, 5, &flood[0], &who);
            fo_raw_drain(fd[1], 0, 5, &flood[1], &who);
        }
    }
    int64_t spent = fo_peer_now_ms() - t0;
    fo_raw_drain(fd[0], 200, 1000, &flood[0], &who);
    fo_raw_drain(fd[1], 200, 1000, &flood[1], &who);
    int answered = flood[0].stun_other + flood[1].stun_other;
    long long over = fo_raw_metric(srv.api, "fanout_stun_requests_total{result=\"over_cap\"}") - cap0;
    int moved = fo_testsrv_log_count(&srv, "peer moved") - moved0;
    /* a one-second burst plus what refills while the checks are sent */
    int allowed = FO_TRANSPORT_CHECKS_PER_S + (int)(FO_TRANSPORT_CHECKS_PER_S * (spent + 300) / 1000);
    if (cap0 < 0 || over < FLOOD - allowed || answered > allowed)
        fo_test_fail("1: %d checks in %lld ms: %d answered, %lld counted over the cap (at most %d may be "
                     "answered)", FLOOD, (long long)spent, answered, over, allowed);
    if (moved > MAX_LINES) fo_test_fail("1: %d \"peer moved\" lines for %d alternating checks", moved, FLOOD);
    printf("it_logflood: 1: %d alternating checks in %lld ms: %d answered, %lld over the cap, %d \"peer "
           "moved\" lines\n", FLOOD, (long long)spent, answered, over, moved);

    /* 2. a publisher alternating two audio SSRCs */
    int ssrc0 = fo_testsrv_log_count(&srv, "SSRC changed");
    for (int i = 0; i < FLOOD; i++) {
        uint8_t pkt[100] = {0};
        uint32_t ssrc = fo_peer_ssrc(pub, "audio") + (uint32_t)(i % 2);
        fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, (uint16_t)i, (uint32_t)i * 960u, ssrc);
        fo_peer_send_rtp(pub, pkt, sizeof pkt);
        if (i % 50 == 0) fo_peer_process(pub), fo_peer_process(player);
    }
    usleep(300 * 1000);
    fo_peer_process(pub);
    int ssrc = fo_testsrv_log_count(&srv, "SSRC changed") - ssrc0;
    if (ssrc > MAX_LINES) fo_test_fail("2: %d \"SSRC changed\" lines for %d packets", ssrc, FLOOD);
    printf("it_logflood: 2: %d packets alternating two SSRCs: %d \"SSRC changed\" lines\n", FLOOD, ssrc);

    close(fd[0]), close(fd[1]);
    fo_peer_free(player);
    fo_peer_free(pub);
    fo_stun_free(stun);
    fo_testsrv_stop_clean(&srv);
    printf("it_logflood: OK\n");
    return 0;
}
