/* SPDX-License-Identifier: MIT */
/* A publisher leaves and another comes back on the same stream while a player stays: the player
 * gets an RTCP BYE for both its sources when the publisher leaves (RFC 3550 6.6), keeps its
 * session, its SSRCs and a continuous sequence-number space (the next packet after the gap is
 * last+1), its timestamps move forward, and video resumes at the new publisher's first keyframe.
 * The pages' status answer follows: live, ended (players waiting), live again. Then the second
 * publisher leaves for good and, after rtc.publisher_grace, the server ends the player with DTLS
 * close_notify, and the stream is gone ("waiting"). argv[1] binary, argv[2] source dir. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"
#include "peer.h"
#include "synth.h"
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
static int byes;          /* BYEs naming the player's two sources */

static void on_rtcp(fo_peer_t *p, const uint8_t *pkt, size_t len)
{
    fo_rtcp_pkt_t pkts[8];
    size_t n = 0;
    if (fo_rtcp_parse(pkt, len, pkts, 8, &n) != 0) return;
    for (size_t i = 0; i < n; i++) {
        if (pkts[i].pt != FO_RTCP_BYE) continue;
        if (pkts[i].count != 2 || pkts[i].sender_ssrc != fo_peer_answer_media(p, "audio")->ssrc)
            fo_test_fail("BYE names %u source(s), first %08x", pkts[i].count, pkts[i].sender_ssrc);
        byes++;
    }
}

/* GET /rtc/v1/streams/live/again; fails unless its "state" is `want`. */
static void expect_state(const char *want)
{
    char url[128], *body = NULL, needle[64];
    snprintf(url, sizeof url, "%s/rtc/v1/streams/live/again", srv.api);
    int st = fo_peer_http_request("GET", url, NULL, NULL, NULL, &body, 3000);
    snprintf(needle, sizeof needle, "\"state\":\"%s\"", want);
    if (st != 200 || !body || !strstr(body, needle)) fo_test_fail("status: HTTP %d %s, want state %s", st, body ? body : "", want);
    free(body);
}

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)user;
    if (is_rtcp) on_rtcp(p, pkt, len);
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

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    setenv("FANOUT_RTC_PUBLISHER_GRACE", "2", 1); /* inherited by the server */
    fo_testsrv_start(&srv, "it_republish", argv[1], argv[2], NULL, 60);
    fo_log_set_level(FO_LOG_WARN);
    fo_synth_pair_t rig;
    fo_synth_pair_start(&rig, srv.api, "live/again", on_rx);
    fo_peer_t *pub = rig.pub, *play = rig.play;
    fo_peer_opts_t po = rig.pub_opts;
    fo_synth_publish(pub, play, 1000, 100, 1000000);
    int a1 = rx[0].packets, v1 = rx[1].packets;
    uint32_t assrc = rx[0].ssrc = fo_peer_answer_media(play, "audio")->ssrc;
    expect_state("live");
    if (byes) fo_test_fail("BYE while the publisher is live");
    fo_peer_free(pub); /* close_notify: the publisher is gone */
    fo_synth_pump(play, 300);
    if (byes != 1) fo_test_fail("player got %d BYE(s) after the publisher left, want 1", byes);
    expect_state("ended");

    po.name = "pub2";
    pub = fo_peer_new(&po);
    if (fo_peer_connect(pub, srv.api, "live/again", 10000)) fo_test_fail("pub2 (republish): %s", fo_peer_error(pub));
    fo_synth_publish(pub, play, 1000, 50000, 7777777);
    int a2 = rx[0].packets - a1, v2 = rx[1].packets - v1;
    if (a1 < 35 || a2 < 35) fo_test_fail("audio before/after republish: %d / %d packets", a1, a2);
    if (v1 < 15 || v2 < 15) fo_test_fail("video before/after republish: %d / %d packets", v1, v2);
    if (rx[0].gaps || rx[1].gaps) fo_test_fail("sequence gaps seen by the player: audio %d video %d", rx[0].gaps, rx[1].gaps);
    if (rx[0].backwards || rx[1].backwards) fo_test_fail("timestamps went backwards: audio %d video %d", rx[0].backwards, rx[1].backwards);
    if (fo_peer_answer_media(play, "audio")->ssrc != assrc) fo_test_fail("answer changed?");
    expect_state("live");

    /* the publisher leaves for good: after the 2 s grace the player is ended with close_notify */
    fo_peer_free(pub);
    int64_t t0 = fo_peer_now_ms();
    fo_synth_pump(play, 6000);
    int64_t waited = fo_peer_now_ms() - t0;
    if (fo_peer_state(play) != FO_PEER_CLOSED)
        fo_test_fail("player still %d after the publisher left for good", fo_peer_state(play));
    if (byes != 2) fo_test_fail("player got %d BYE(s) in all, want 2", byes);
    expect_state("waiting");
    rig.pub = NULL; /* freed above */
    fo_synth_pair_free(&rig);
    fo_testsrv_stop_clean(&srv);
    printf("it_republish: OK: player got a BYE each time the publisher left and kept its session "
           "across a republish: audio %d+%d, video %d+%d packets, no sequence gaps, timestamps "
           "monotonic; status live/ended/live/waiting; ended by close_notify %lld ms after the "
           "publisher left for good (grace 2 s); server exited 0\n",
           a1, a2, v1, v2, (long long)waited);
    return 0;
}
