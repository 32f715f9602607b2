/* SPDX-License-Identifier: MIT */
/* A publisher leaves and another comes back on the same stream while a player stays: the player
 * keeps its session, its SSRCs and a continuous sequence-number space (the next packet after the
 * gap is last+1), its timestamps move forward, and video resumes at the new publisher's first
 * keyframe. Then the second publisher leaves for good and, after rtc.publisher_grace, the server
 * ends the player with DTLS close_notify. argv[1] binary, argv[2] source dir. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "peer.h"
#include "testsrv.h"

static fo_testsrv_t srv;

typedef struct {
    uint32_t ssrc;
    bool have;
    uint16_t last_seq;
    uint32_t last_ts;
    int packets, gaps, backwards;
} track_rx_t;

static track_rx_t rx[2]; /* 0 audio, 1 video */

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)user;
    if (is_rtcp || len < 12) return;
    uint32_t ssrc = (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
    int k = ssrc == fo_peer_answer_media(p, "audio")->ssrc ? 0 : ssrc == fo_peer_answer_media(p, "video")->ssrc ? 1 : -1;
    if (k < 0) fo_test_fail("player got SSRC %08x, not one its answer announced", ssrc);
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    uint32_t ts = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];
    track_rx_t *t = &rx[k];
    if (t->have) {
        if (seq != (uint16_t)(t->last_seq + 1)) t->gaps++;
        if ((int32_t)(ts - t->last_ts) < 0) t->backwards++;
    }
    t->have = true;
    t->last_seq = seq;
    t->last_ts = ts;
    t->packets++;
}

/* ~1 s of audio every 20 ms and video every 50 ms (one packet a frame, a keyframe first), with
 * the given starting seq/ts so the two publishers differ. */
static void publish_for(fo_peer_t *pub, fo_peer_t *play, int ms, uint16_t seq0, uint32_t ts0)
{
    uint8_t pkt[400];
    int64_t t0 = fo_peer_now_ms();
    int na = 0, nv = 0;
    for (;;) {
        int64_t t = fo_peer_now_ms() - t0;
        if (t >= ms) break;
        while (na * 20 <= t) {
            size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, (uint16_t)(seq0 + na), ts0 + (uint32_t)na * 960, fo_peer_ssrc(pub, "audio"));
            memset(pkt + h, 0x55, 100);
            fo_peer_send_rtp(pub, pkt, h + 100);
            na++;
        }
        while (nv * 50 <= t) {
            size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_VP8, false, (uint16_t)(seq0 + nv), ts0 + (uint32_t)nv * 4500, fo_peer_ssrc(pub, "video"));
            uint8_t *pl = pkt + h;
            bool key = nv % 20 == 0;
            uint32_t tag = (100u << 5) | (1u << 4) | (key ? 0u : 1u);
            pl[0] = 0x10, pl[1] = (uint8_t)tag, pl[2] = (uint8_t)(tag >> 8), pl[3] = (uint8_t)(tag >> 16);
            static const uint8_t kf[] = {0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
            memcpy(pl + 4, kf, sizeof kf);
            memset(pl + 11, 0x66, 200);
            pkt[1] |= 0x80; /* marker: one packet per frame */
            fo_peer_send_rtp(pub, pkt, h + 211);
            nv++;
        }
        struct pollfd pf[2] = {{.fd = fo_peer_fd(pub), .events = POLLIN}, {.fd = fo_peer_fd(play), .events = POLLIN}};
        poll(pf, 2, 5);
        fo_peer_process(pub);
        if (fo_peer_process(play) != FO_PEER_CONNECTED) fo_test_fail("player lost its session: %s", fo_peer_error(play));
    }
}

static void pump(fo_peer_t *play, int ms)
{
    int64_t end = fo_peer_now_ms() + ms;
    while (fo_peer_now_ms() < end) {
        struct pollfd pf = {.fd = fo_peer_fd(play), .events = POLLIN};
        poll(&pf, 1, 10);
        if (fo_peer_process(play) != FO_PEER_CONNECTED) return;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    setenv("FANOUT_RTC_PUBLISHER_GRACE", "2", 1); /* inherited by the server */
    fo_testsrv_start(&srv, "it_republish", argv[1], argv[2], NULL, 60);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub1"};
    fo_peer_opts_t lo = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = "play"};
    fo_peer_t *pub = fo_peer_new(&po), *play = fo_peer_new(&lo);
    fo_peer_set_recv_cb(play, on_rx, NULL);
    if (fo_peer_connect(play, srv.api, "live/again", 10000)) fo_test_fail("play: %s", fo_peer_error(play));
    if (fo_peer_connect(pub, srv.api, "live/again", 10000)) fo_test_fail("pub1: %s", fo_peer_error(pub));
    publish_for(pub, play, 1000, 100, 1000000);
    int a1 = rx[0].packets, v1 = rx[1].packets;
    uint32_t assrc = rx[0].ssrc = fo_peer_answer_media(play, "audio")->ssrc;
    fo_peer_free(pub); /* close_notify: the publisher is gone */
    pump(play, 300);

    po.name = "pub2";
    pub = fo_peer_new(&po);
    if (fo_peer_connect(pub, srv.api, "live/again", 10000)) fo_test_fail("pub2 (republish): %s", fo_peer_error(pub));
    publish_for(pub, play, 1000, 50000, 7777777);
    int a2 = rx[0].packets - a1, v2 = rx[1].packets - v1;
    if (a1 < 35 || a2 < 35) fo_test_fail("audio before/after republish: %d / %d packets", a1, a2);
    if (v1 < 15 || v2 < 15) fo_test_fail("video before/after republish: %d / %d packets", v1, v2);
    if (rx[0].gaps || rx[1].gaps) fo_test_fail("sequence gaps seen by the player: audio %d video %d", rx[0].gaps, rx[1].gaps);
    if (rx[0].backwards || rx[1].backwards) fo_test_fail("timestamps went backwards: audio %d video %d", rx[0].backwards, rx[1].backwards);
    if (fo_peer_answer_media(play, "audio")->ssrc != assrc) fo_test_fail("answer changed?");

    /* the publisher leaves for good: after the 2 s grace the player is ended with close_notify */
    fo_peer_free(pub);
    int64_t t0 = fo_peer_now_ms();
    pump(play, 6000);
    int64_t waited = fo_peer_now_ms() - t0;
    if (fo_peer_state(play) != FO_PEER_CLOSED)
        fo_test_fail("player still %d after the publisher left for good", fo_peer_state(play));
    fo_peer_free(play);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    fo_testsrv_stop_clean(&srv);
    printf("it_republish: OK: player kept its session across a republish: audio %d+%d, video %d+%d "
           "packets, no sequence gaps, timestamps monotonic; ended by close_notify %lld ms after "
           "the publisher left for good (grace 2 s); server exited 0\n",
           a1, a2, v1, v2, (long long)waited);
    return 0;
}
