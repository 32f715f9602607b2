/* SPDX-License-Identifier: MIT */
/* A slow ICE-TCP reader must hurt nobody. The fanout binary (argv[1], source dir argv[2]) with a
 * publisher over UDP sending ~2 Mbit/s of video (keyframes only when asked: a PLI, or every
 * 10 s) and audio, and 21 players over ICE-TCP; one of them (a 64 KiB receive buffer) stops
 * reading its socket for 5 s, then reads again. Checks: the 20 others lose nothing and every
 * payload is byte-exact; the media loop stays responsive (GET /metrics every 250 ms during the
 * stall, each under a generous second); the stalled player keeps its audio (nothing of it
 * lost), skips whole video frames (its video seq has no gap: it resumes at a keyframe), and
 * after the stall gets a keyframe the server asked the publisher for, then video again; its
 * skipped frames and dropped packets are counted in /api/v1/clients (nobody else's) and in
 * /metrics. One process, alarm(100). */
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

#define N_PLAYERS 21
#define SLOW 0 /* the stalled one */
#define MEDIA_MS 9500
#define DRAIN_MS 800
#define STALL_FROM_MS 1500
#define STALL_MS 5000
#define PROBE_EVERY_MS 250

#define die(...) fo_test_fail(__VA_ARGS__)

static fo_testsrv_t g_srv;

static char *get(const char *path, int64_t *ms)
{
    char url[256], *body = NULL;
    snprintf(url, sizeof url, "%s%s", g_srv.api, path);
    int64_t t0 = fo_peer_now_ms();
    int st = fo_peer_http_request("GET", url, NULL, NULL, NULL, &body, 5000);
    if (ms) *ms = fo_peer_now_ms() - t0;
    if (st != 200) die("GET %s: %d", path, st);
    return body;
}

static long long metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + n, name))
        if ((p == text || p[-1] == '\n') && p[n] == ' ') return atoll(p + n + 1);
    die("/metrics has no %s", name);
}

static void client_counters(const char *id, long long *dropped, long long *skipped, char *transport, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/clients/%s", id);
    char *body = get(path, NULL);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    json_t *c = json_object_get(j, "client");
    if (!c) die("GET %s: no client", path);
    *dropped = json_integer_value(json_object_get(c, "send_dropped"));
    *skipped = json_integer_value(json_object_get(c, "frames_skipped"));
    snprintf(transport, cap, "%s", json_string_value(json_object_get(c, "transport")) ?: "?");
    json_decref(j);
}

/* The first keyframe the player received among packets sent at or after from_ms. */
static bool keyframe_after(const it_player_t *pl, int64_t from_ms, int64_t *sent_ms)
{
    const it_sender_t *s = pl->snd;
    for (uint32_t i = 0; i < s->n_video; i++)
        if (s->video[i].sent_ms >= from_ms && s->video[i].keyframe && pl->video.got[i]) {
            *sent_ms = s->video[i].sent_ms;
            return true;
        }
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fanout binary> <source dir>\n", argv[0]);
        return 2;
    }
    /* exact continuity for the 20 readers: no instant start (it_media says why) */
    setenv("FANOUT_RTC_INSTANT_START", "0", 1);
    fo_testsrv_start(&g_srv, "it_tcp_slow", argv[1], argv[2], NULL, 100);
    fo_log_set_level(getenv("IT_DEBUG") ? FO_LOG_DEBUG : FO_LOG_WARN);
    if (fo_srtp_global_init()) die("fo_srtp_global_init");
    char stream[64];
    snprintf(stream, sizeof stream, "live/slow-%d", (int)getpid());
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    if (!dctx || !stun) die("DTLS context or STUN agent");

    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub"};
    fo_peer_t *pub = fo_peer_new(&po);
    if (!pub || fo_peer_connect(pub, g_srv.api, stream, 10000)) die("publisher: %s", fo_peer_error(pub));
    it_sender_t snd;
    it_sender_init(&snd, pub);
    snd.pkts_per_frame = 8; /* 30 fps x 8 x 1100 bytes: ~2.1 Mbit/s */
    snd.pkts_per_key = 12;
    snd.video_payload = 1100;
    snd.keyframe_every = 300;
    it_sender_answer_plis(&snd);

    it_player_t pl[N_PLAYERS];
    char names[N_PLAYERS][16];
    for (int i = 0; i < N_PLAYERS; i++) {
        snprintf(names[i], sizeof names[i], i == SLOW ? "slow" : "tcp%d", i);
        fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = names[i],
                            .tcp = true, .rcvbuf = i == SLOW ? 65536 : 0};
        fo_peer_t *p = fo_peer_new(&o);
        if (!p || fo_peer_connect(p, g_srv.api, stream, 10000)) die("%s: %s", names[i], fo_peer_error(p));
        it_player_init(&pl[i], names[i], p, &snd);
        it_player_take_ssrcs(&pl[i]);
        pl[i].connected = true;
        pl[i].connected_ms = 0;
    }
    pl[SLOW].skips_frames = true;

    int64_t probe_max = 0, next_probe = STALL_FROM_MS;
    int probes = 0;
    uint64_t plis_at_resume = 0;
    bool resumed = false;
    int64_t t0 = fo_peer_now_ms();
    for (;;) {
        int64_t t = fo_peer_now_ms() - t0;
        if (t >= MEDIA_MS + DRAIN_MS) break;
        if (t < MEDIA_MS) it_sender_run(&snd, t);
        bool stalled = t >= STALL_FROM_MS && t < STALL_FROM_MS + STALL_MS;
        if (!resumed && t >= STALL_FROM_MS + STALL_MS) {
            resumed = true;
            plis_at_resume = snd.plis;
        }
        if (stalled && t >= next_probe) { /* is the media loop still answering at once? */
            next_probe = t + PROBE_EVERY_MS;
            int64_t ms;
            free(get("/metrics", &ms));
            if (ms > probe_max) probe_max = ms;
            probes++;
        }
        fo_peer_t *peers[N_PLAYERS + 1] = {pub};
        const char *who[N_PLAYERS + 1] = {"pub"};
        for (int i = 0; i < N_PLAYERS; i++) {
            peers[i + 1] = i == SLOW && stalled ? NULL : pl[i].peer; /* not a byte read from its socket */
            who[i + 1] = names[i];
        }
        it_pump(peers, who, N_PLAYERS + 1, 2);
    }

    /* The 20 that read: everything, byte-exact, from their first keyframe on. */
    for (int i = 0; i < N_PLAYERS; i++) {
        it_player_check_clean(&pl[i]);
        if (i != SLOW) it_expect_lossless(&pl[i], 0, INT64_MAX, "reading all along");
    }
    /* The stalled one: all its audio; video skipped, then back from a requested keyframe. */
    const it_player_t *s = &pl[SLOW];
    uint32_t ag, ae, vg, ve;
    it_window(s, false, 0, &ag, &ae);
    it_window(s, true, 0, &vg, &ve);
    if (ag != ae) die("slow: audio %u/%u: audio must be kept under backpressure", ag, ae);
    if (vg >= ve) die("slow: video %u/%u: nothing was skipped (no backpressure?)", vg, ve);
    int64_t key_ms;
    if (!keyframe_after(s, STALL_FROM_MS + STALL_MS, &key_ms)) die("slow: no keyframe after the stall");
    if (snd.plis <= plis_at_resume) die("slow: no PLI reached the publisher after the stall");
    /* Video flows again from that keyframe (all of it here; a slower machine, a sanitizer build,
     * may skip again while the player reads its backlog). */
    uint32_t vag, vae;
    it_window(s, true, key_ms, &vag, &vae);
    if (!vae || vag * 2 < vae) die("slow: after its new keyframe (sent at %lld ms) video %u/%u", (long long)key_ms, vag, vae);
    if (probe_max > 1000) die("GET /metrics took %lld ms while a player stalled", (long long)probe_max);

    long long dropped, skipped;
    char tr[16];
    client_counters(fo_peer_session_id(s->peer), &dropped, &skipped, tr, sizeof tr);
    if (strcmp(tr, "tcp") || dropped <= 0 || skipped <= 0)
        die("slow: /api/v1/clients says transport %s, send_dropped %lld, frames_skipped %lld", tr, dropped, skipped);
    for (int i = 0; i < N_PLAYERS; i++) {
        if (i == SLOW) continue;
        long long d, k;
        client_counters(fo_peer_session_id(pl[i].peer), &d, &k, tr, sizeof tr);
        if (d || k) die("%s: send_dropped %lld, frames_skipped %lld (it kept reading)", names[i], d, k);
    }
    char *mt = get("/metrics", NULL);
    long long m_frames = metric(mt, "fanout_congestion_skipped_frames_total");
    long long m_dropped = metric(mt, "fanout_congestion_dropped_packets_total");
    free(mt);
    if (m_frames <= 0 || m_dropped <= 0) die("/metrics: congestion frames %lld, packets %lld", m_frames, m_dropped);

    for (int i = 0; i < N_PLAYERS; i++) {
        fo_peer_free(pl[i].peer);
        it_player_free(&pl[i]);
    }
    fo_peer_free(pub);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_tcp_slow: OK: sent audio %u video %u; 20 reading players lost nothing; the stalled one "
           "got audio %u/%u, video %u/%u (skipped %lld frames, %lld packets), a keyframe %lld ms after "
           "the stall ended and video %u/%u from it (PLIs at the publisher %llu); /metrics during the "
           "stall: %d probes, max %lld ms\n",
           snd.n_audio, snd.n_video, ag, ae, vg, ve, skipped, dropped,
           (long long)(key_ms - STALL_FROM_MS - STALL_MS), vag, vae, (unsigned long long)snd.plis, probes,
           (long long)probe_max);
    it_sender_free(&snd);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    return 0;
}
