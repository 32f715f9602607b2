/* SPDX-License-Identifier: MIT */
/* A publisher whose browser crashed (it vanishes: no close_notify, no more packets) is replaced
 * by the next publisher of its stream once it has been silent for rtc.publisher_takeover (4 s
 * here), while a live publisher cannot be replaced: a second publisher gets 409 at once; during
 * the silence it gets 409 with Retry-After (the seconds left) and the pages' status says
 * "stalled"; after it the new publisher gets 200 and the player, still on its session, gets
 * media again on its SSRCs with continuous sequence numbers. /metrics counts the replaced
 * session. argv[1] binary, argv[2] source dir. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "peer.h"
#include "synth.h"
#include "testsrv.h"

static fo_testsrv_t srv;
static int packets;
static uint16_t last_seq[2];
static int gaps, seen[2];

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)user;
    if (is_rtcp || len < 12) return;
    uint32_t ssrc = (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
    int k = ssrc == fo_peer_answer_media(p, "audio")->ssrc ? 0 : ssrc == fo_peer_answer_media(p, "video")->ssrc ? 1 : -1;
    if (k < 0) fo_test_fail("player got SSRC %08x, not one its answer announced", ssrc);
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    if (seen[k] && seq != (uint16_t)(last_seq[k] + 1)) gaps++;
    seen[k] = 1;
    last_seq[k] = seq;
    packets++;
}

/* GET path on the server; returns the body (malloc'd), the status in *st, headers in *hdrs. */
static char *get(const char *path, int *st, char **hdrs)
{
    char url[160], *body = NULL;
    snprintf(url, sizeof url, "%s%s", srv.api, path);
    *st = fo_peer_http_request("GET", url, NULL, NULL, hdrs, &body, 3000);
    return body;
}

static void expect_state(const char *want)
{
    int st;
    char *body = get("/rtc/v1/streams/live/take", &st, NULL), needle[64];
    snprintf(needle, sizeof needle, "\"state\":\"%s\"", want);
    if (st != 200 || !body || !strstr(body, needle)) fo_test_fail("status: HTTP %d %s, want %s", st, body ? body : "", want);
    free(body);
}

/* A second publisher's attempt: its HTTP status, and the Retry-After it got (0 if none). */
static int try_publish(fo_peer_t *p, int *retry_after)
{
    char url[128], *req, *body = NULL, *hdrs = NULL;
    req = fo_peer_signal_request(p, srv.api, "live/take", url, sizeof url);
    int st = fo_peer_http_request("POST", url, "application/json", req, &hdrs, &body, 5000);
    const char *ra = hdrs ? strstr(hdrs, "Retry-After: ") : NULL;
    *retry_after = ra ? atoi(ra + 13) : 0;
    if (st == 200 && fo_peer_signal_answer(p, url, st, body) != 0) fo_test_fail("answer: %s", fo_peer_error(p));
    free(req);
    free(body);
    free(hdrs);
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    setenv("FANOUT_RTC_PUBLISHER_TAKEOVER", "4", 1); /* inherited by the server */
    fo_testsrv_start(&srv, "it_takeover", argv[1], argv[2], NULL, 60);
    fo_log_set_level(FO_LOG_WARN);
    fo_synth_pair_t rig;
    fo_synth_pair_start(&rig, srv.api, "live/take", on_rx);
    fo_peer_t *pub = rig.pub, *play = rig.play;
    fo_peer_opts_t po = rig.pub_opts;
    fo_synth_publish(pub, play, 1000, 100, 1000000);
    expect_state("live");

    /* a live publisher cannot be replaced */
    po.name = "pub2";
    fo_peer_t *pub2 = fo_peer_new(&po);
    int ra, st = try_publish(pub2, &ra);
    if (st != 409 || ra) fo_test_fail("publish over a live publisher: HTTP %d, Retry-After %d (want 409, none)", st, ra);
    fo_peer_vanish(pub2);

    /* the first publisher's browser crashes: silence */
    fo_peer_vanish(pub);
    int before = packets;
    int64_t crash = fo_peer_now_ms();
    fo_synth_pump(play, 2600);
    expect_state("stalled");
    pub2 = fo_peer_new(&po);
    st = try_publish(pub2, &ra);
    if (st != 409 || ra < 1 || ra > 2) fo_test_fail("publish 2.6 s into the silence: HTTP %d, Retry-After %d (want 409, 1..2)", st, ra);
    fo_peer_vanish(pub2);
    int ra_silent = ra;
    fo_synth_pump(play, ra * 1000 + 100);

    po.name = "pub3";
    fo_peer_t *pub3 = fo_peer_new(&po);
    st = try_publish(pub3, &ra);
    int64_t replaced = fo_peer_now_ms() - crash;
    if (st != 200) fo_test_fail("publish %lld ms after the crash: HTTP %d, want 200", (long long)replaced, st);
    for (int64_t end = fo_peer_now_ms() + 10000; fo_peer_process(pub3) < FO_PEER_CONNECTED && fo_peer_now_ms() < end;)
        fo_synth_pump(play, 10);
    if (fo_peer_state(pub3) != FO_PEER_CONNECTED) fo_test_fail("pub3 did not connect: %s", fo_peer_error(pub3));
    fo_synth_publish(pub3, play, 1000, 40000, 9000000);
    int after = packets - before;
    if (after < 50) fo_test_fail("player got %d packets from the new publisher", after);
    if (gaps) fo_test_fail("player saw %d sequence gaps across the takeover", gaps);
    expect_state("live");
    char *m = get("/metrics", &st, NULL);
    if (!m || !strstr(m, "fanout_sessions_ended_total{reason=\"replaced\"} 1"))
        fo_test_fail("metrics lack replaced 1:\n%s", m ? m : "");
    free(m);
    if (fo_testsrv_log_count(&srv, "replaced by the new one") != 1) fo_test_fail("no log line for the takeover");

    fo_peer_free(pub3);
    rig.pub = NULL; /* vanished */
    fo_synth_pair_free(&rig);
    fo_testsrv_stop_clean(&srv);
    printf("it_takeover: OK: 409 over a live publisher; 409 + Retry-After %d during the silence "
           "(status stalled); the new publisher replaced the silent one %lld ms after it vanished; "
           "the player got %d packets from it, no sequence gaps; metrics replaced 1\n",
           ra_silent, (long long)replaced, after);
    return 0;
}
