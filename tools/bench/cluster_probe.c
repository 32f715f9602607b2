/* SPDX-License-Identifier: MIT */
/* fanout-cluster-probe: the two cluster timings scripts/bench-cluster.sh reports, measured with
 * the C test peer (tests/integration/lib) and its synthetic media (mediagen: every payload
 * carries a counter). A publisher on the origin sends throughout.
 *  - delay: one player on the origin, one on an edge (which pulls the stream from the origin);
 *    for each video packet both receive, the edge's arrival time minus the origin's: the extra
 *    one-way delay of going through the edge, for the same packet, on one clock;
 *  - cold: N times, a player asks the edge for the stream when the edge does not pull it
 *    (relay_linger has passed since the last player left): the time from the play request to
 *    its first video packet (a keyframe: the first frame), which includes the edge's whole pull
 *    (HTTP to the origin, ICE, DTLS, first keyframe).
 * Prints one JSON object. Usage:
 *   fanout-cluster-probe --origin URL --edge URL [--stream app/s] [--seconds S] [--cold N]
 *                        [--gap-ms MS] */
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "mediagen.h"
#include "peer.h"

#define MAX_COUNTER 65536

static fo_peer_t *peers[4];
static size_t n_peers;
static fo_mediagen_t gen;
static int64_t *arrive[2]; /* [0] origin player, [1] edge player: arrival ms per video counter */
static int64_t first_video_ms;

static void run(int ms)
{
    int64_t end = fo_peer_now_ms() + ms;
    while (fo_peer_now_ms() < end) {
        struct pollfd pf[4];
        for (size_t i = 0; i < n_peers; i++) pf[i] = (struct pollfd){.fd = fo_peer_fd(peers[i]), .events = POLLIN};
        poll(pf, n_peers, 1);
        for (size_t i = 0; i < n_peers; i++) fo_peer_process(peers[i]);
        if (gen.pub) fo_mediagen_tick(&gen);
    }
}

static void remove_peer(fo_peer_t *p)
{
    for (size_t i = 0; i < n_peers; i++)
        if (peers[i] == p) peers[i] = peers[--n_peers];
    fo_peer_free(p);
}

/* The video counter in a received RTP packet (its last 4 payload bytes), -1 for audio/RTCP. */
static long video_counter(fo_peer_t *p, const uint8_t *pkt, size_t len, bool rtcp)
{
    fo_rtp_view_t v;
    const fo_peer_media_t *vm = fo_peer_answer_media(p, "video");
    if (rtcp || fo_rtp_parse(pkt, len, &v) != 0 || !vm || v.ssrc != vm->ssrc || v.payload_len < 4) return -1;
    const uint8_t *e = v.payload + v.payload_len - 4;
    return (long)((uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3]);
}

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool rtcp)
{
    int which = (int)(intptr_t)user;
    long c = video_counter(p, pkt, len, rtcp);
    if (c < 0) return;
    if (which == 2) { /* cold player */
        if (!first_video_ms) first_video_ms = fo_peer_now_ms();
        return;
    }
    if (c < MAX_COUNTER && !arrive[which][c]) arrive[which][c] = fo_peer_now_ms();
}

static fo_peer_t *player(const char *api, const char *stream, int which, fo_dtls_ctx_t *d, fo_stun_t *s)
{
    fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = d, .stun = s, .name = "probe-play"};
    fo_peer_t *p = fo_peer_new(&o);
    if (!p) return NULL;
    fo_peer_set_recv_cb(p, on_rx, (void *)(intptr_t)which);
    if (fo_peer_signal(p, api, stream, 5000) != 0) {
        fprintf(stderr, "play on %s: %s\n", api, fo_peer_error(p));
        fo_peer_free(p);
        return NULL;
    }
    peers[n_peers++] = p;
    return p;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_dist(const char *name, int64_t *v, size_t n, bool last)
{
    qsort(v, n, sizeof *v, cmp_i64);
    if (!n) {
        printf("\"%s\": {\"n\": 0}%s", name, last ? "" : ", ");
        return;
    }
    printf("\"%s\": {\"n\": %zu, \"min\": %lld, \"p50\": %lld, \"p95\": %lld, \"max\": %lld}%s", name, n,
           (long long)v[0], (long long)v[n / 2], (long long)v[n * 95 / 100], (long long)v[n - 1], last ? "" : ", ");
}

int main(int argc, char **argv)
{
    const char *origin = NULL, *edge = NULL, *stream = "live/probe";
    int seconds = 10, cold = 5, gap_ms = 3000;
    static const struct option opts[] = {{"origin", required_argument, 0, 'o'}, {"edge", required_argument, 0, 'e'},
                                         {"stream", required_argument, 0, 's'}, {"seconds", required_argument, 0, 't'},
                                         {"cold", required_argument, 0, 'c'},   {"gap-ms", required_argument, 0, 'g'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'o': origin = optarg; break;
        case 'e': edge = optarg; break;
        case 's': stream = optarg; break;
        case 't': seconds = atoi(optarg); break;
        case 'c': cold = atoi(optarg); break;
        case 'g': gap_ms = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: fanout-cluster-probe --origin URL --edge URL [--stream app/s] [--seconds S] "
                            "[--cold N] [--gap-ms MS]\n");
            return 2;
        }
    }
    if (!origin || !edge) {
        fprintf(stderr, "--origin and --edge are needed\n");
        return 2;
    }
    fo_log_set_level(FO_LOG_ERROR);
    if (fo_srtp_global_init()) return 1;
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    arrive[0] = calloc(MAX_COUNTER, sizeof *arrive[0]);
    arrive[1] = calloc(MAX_COUNTER, sizeof *arrive[1]);
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "probe-pub"};
    fo_peer_t *pub = fo_peer_new(&po);
    if (!dctx || !stun || !arrive[0] || !arrive[1] || !pub || fo_peer_connect(pub, origin, stream, 10000) != 0) {
        fprintf(stderr, "publish on %s: %s\n", origin, pub ? fo_peer_error(pub) : "no peer");
        return 1;
    }
    peers[n_peers++] = pub;
    fo_mediagen_init(&gen, pub, 30); /* a keyframe a second */

    /* cold pulls first, while the edge does not have the stream */
    int64_t coldv[64];
    size_t nc = 0;
    for (int i = 0; i < cold && i < 64; i++) {
        run(gap_ms);
        first_video_ms = 0;
        int64_t t0 = fo_peer_now_ms();
        fo_peer_t *p = player(edge, stream, 2, dctx, stun);
        if (!p) return 1;
        while (!first_video_ms && fo_peer_now_ms() - t0 < 10000) run(1);
        if (first_video_ms) coldv[nc++] = first_video_ms - t0;
        remove_peer(p);
    }

    /* the delay through the edge: both players receive the same packets */
    run(gap_ms);
    fo_peer_t *po_ = player(origin, stream, 0, dctx, stun), *pe = player(edge, stream, 1, dctx, stun);
    if (!po_ || !pe) return 1;
    run(2000); /* connected and past the first keyframe */
    uint32_t from = gen.video_n;
    run(seconds * 1000);
    uint32_t to = gen.video_n;
    int64_t *d = calloc(to - from + 1, sizeof *d);
    size_t nd = 0, only_origin = 0, only_edge = 0;
    for (uint32_t c = from; c < to && c < MAX_COUNTER; c++) {
        if (arrive[0][c] && arrive[1][c]) d[nd++] = arrive[1][c] - arrive[0][c];
        else if (arrive[0][c]) only_origin++;
        else if (arrive[1][c]) only_edge++;
    }
    printf("{");
    print_dist("cold_first_frame_ms", coldv, nc, false);
    print_dist("edge_extra_delay_ms", d, nd, false);
    printf("\"video_packets\": %u, \"missing_on_edge\": %zu, \"missing_on_origin\": %zu}\n", to - from,
           only_origin, only_edge);
    free(d);
    gen.pub = NULL;
    while (n_peers) remove_peer(peers[0]);
    free(arrive[0]);
    free(arrive[1]);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    return 0;
}
