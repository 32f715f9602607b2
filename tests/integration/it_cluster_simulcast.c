/* SPDX-License-Identifier: MIT */
/* Simulcast layers across a relay: redis-server and nodes A and B. A simulcast publisher (three
 * layers Chrome's way: a=rid l/m/h, a=simulcast:send, rtp-stream-id in every packet) on A;
 * players on B with ?layer=low and ?layer=high. B pulls the stream with a=simulcast:recv, so A
 * sends every layer on its own SSRC with its rid, and B's players each get the layer they
 * asked for: the low one only layer l's packets, the high one only layer h's (after its first
 * keyframe), both with continuous sequence numbers; B's /api/v1/streams shows three layers for
 * the pulled stream. argv[1] the fanout binary, argv[2] the source dir. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "peer.h"
#include "redissrv.h"
#include "testsrv.h"

#define FPS 30
#define KEY_EVERY 15
#define PAYLOAD 400

static fo_testsrv_t A, B;
static fo_redissrv_t redis;
static const char rids[3] = {'l', 'm', 'h'};

#define fail(...) (fo_redissrv_stop(&redis, false), fo_test_fail(__VA_ARGS__))

typedef struct {
    uint32_t ssrc;
    uint16_t seq;
} src_layer_t;

/* A frame of `layer`: two packets, the rid extension on each, layer and frame in the last
 * payload bytes; a VP8 keyframe header on the first packet of every KEY_EVERY-th frame. */
static void frame(fo_peer_t *pub, src_layer_t *L, int layer, uint32_t f)
{
    bool key = f % KEY_EVERY == 0;
    for (int i = 0; i < 2; i++) {
        uint8_t pkt[16 + 4 + PAYLOAD];
        size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_VP8, i == 1, L->seq++, 1000u + f * (90000 / FPS), L->ssrc);
        pkt[0] |= 0x10; /* X: one word of one-byte extensions */
        static const uint8_t ext_hdr[4] = {0xbe, 0xde, 0, 1};
        memcpy(pkt + h, ext_hdr, 4);
        pkt[h + 4] = (uint8_t)(FO_PEER_EXT_RID << 4);
        pkt[h + 5] = (uint8_t)rids[layer];
        pkt[h + 6] = pkt[h + 7] = 0;
        uint8_t *pl = pkt + h + 8;
        memset(pl, 0x5a, PAYLOAD);
        pl[0] = i == 0 ? 0x10 : 0;
        if (i == 0) {
            uint32_t tag = (50u << 5) | (1u << 4) | (key ? 0u : 1u);
            pl[1] = (uint8_t)tag, pl[2] = (uint8_t)(tag >> 8), pl[3] = (uint8_t)(tag >> 16);
            if (key) memcpy(pl + 4, (const uint8_t[]){0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}, 7);
        }
        pl[PAYLOAD - 2] = (uint8_t)layer;
        pl[PAYLOAD - 1] = (uint8_t)f;
        fo_peer_send_rtp(pub, pkt, h + 8 + PAYLOAD);
    }
}

typedef struct {
    fo_peer_t *peer;
    uint64_t per_layer[3], gaps, packets;
    bool have;
    uint16_t last;
} rx_t;

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool rtcp)
{
    rx_t *r = user;
    fo_rtp_view_t v;
    const fo_peer_media_t *vm = fo_peer_answer_media(p, "video");
    if (rtcp || fo_rtp_parse(pkt, len, &v) != 0 || !vm || v.ssrc != vm->ssrc || v.payload_len != PAYLOAD) return;
    int layer = v.payload[PAYLOAD - 2];
    if (layer >= 0 && layer < 3) r->per_layer[layer]++;
    if (r->have && (uint16_t)(r->last + 1) != v.seq) r->gaps++;
    r->have = true;
    r->last = v.seq;
    r->packets++;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    fo_log_set_level(FO_LOG_WARN);
    if (fo_redissrv_start(&redis, 0, NULL) != 0) fo_test_fail("cannot start redis-server");
    char set[2][300];
    snprintf(set[0], sizeof set[0], "cluster.redis=%s", redis.url);
    const char *ea[] = {"--set", set[0], "--set", "cluster.node_id=node-a", "--set", "cluster.heartbeat=1", NULL};
    const char *eb[] = {"--set", set[0], "--set", "cluster.node_id=node-b", "--set", "cluster.heartbeat=1", NULL};
    fo_testsrv_start(&A, "it_cluster_simulcast-A", argv[1], argv[2], ea, 60);
    fo_testsrv_start(&B, "it_cluster_simulcast-B", argv[1], argv[2], eb, 60);
    if (fo_srtp_global_init()) fail("srtp");
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub", .simulcast = true};
    fo_peer_t *pub = fo_peer_new(&po);
    for (int i = 0; i < 40 && fo_peer_connect(pub, A.api, "live/sim", 10000) != 0; i++) { /* B may not be registered yet: harmless */
        if (fo_peer_http_status(pub) != 409) fail("publish on A: %s", fo_peer_error(pub));
    }
    src_layer_t L[3] = {{.ssrc = 0x1111}, {.ssrc = 0x2222}, {.ssrc = 0x3333}};
    rx_t rx[2] = {0};
    static const char *const q[2] = {"live/sim?layer=low", "live/sim?layer=high"};
    fo_peer_t *pl[2];
    for (int k = 0; k < 2; k++) {
        fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = k ? "high" : "low"};
        pl[k] = fo_peer_new(&o);
        rx[k].peer = pl[k];
        fo_peer_set_recv_cb(pl[k], on_rx, &rx[k]);
        if (fo_peer_signal(pl[k], B.api, q[k], 5000) != 0) fail("play %s on B: %s", q[k], fo_peer_error(pl[k]));
    }
    int64_t t0 = fo_peer_now_ms();
    uint32_t f = 0;
    while (fo_peer_now_ms() - t0 < 5000) {
        while ((int64_t)f * 1000 / FPS <= fo_peer_now_ms() - t0) {
            for (int l = 0; l < 3; l++) frame(pub, &L[l], l, f);
            f++;
        }
        struct pollfd pf[3] = {{.fd = fo_peer_fd(pub), .events = POLLIN}, {.fd = fo_peer_fd(pl[0]), .events = POLLIN},
                               {.fd = fo_peer_fd(pl[1]), .events = POLLIN}};
        poll(pf, 3, 5);
        fo_peer_process(pub);
        fo_peer_process(pl[0]);
        fo_peer_process(pl[1]);
    }
    printf("  low player: layers l/m/h %llu/%llu/%llu, gaps %llu\n", (unsigned long long)rx[0].per_layer[0],
           (unsigned long long)rx[0].per_layer[1], (unsigned long long)rx[0].per_layer[2], (unsigned long long)rx[0].gaps);
    printf("  high player: layers l/m/h %llu/%llu/%llu, gaps %llu\n", (unsigned long long)rx[1].per_layer[0],
           (unsigned long long)rx[1].per_layer[1], (unsigned long long)rx[1].per_layer[2], (unsigned long long)rx[1].gaps);
    if (rx[0].per_layer[0] < 100 || rx[0].per_layer[1] || rx[0].per_layer[2]) fail("the low player did not get layer l only");
    if (rx[1].per_layer[2] < 100 || rx[1].per_layer[0] + rx[1].per_layer[1] > rx[1].per_layer[2] / 4)
        fail("the high player did not get layer h");
    if (rx[0].gaps || rx[1].gaps) fail("sequence gaps");
    char *body = NULL, url[200];
    snprintf(url, sizeof url, "%s/api/v1/streams/live/sim", B.api);
    if (fo_peer_http_request("GET", url, NULL, NULL, NULL, &body, 3000) != 200 || !body || !strstr(body, "\"rid\":\"2\""))
        fail("B's stream does not show the pulled layers: %s", body ? body : "");
    free(body);
    fo_peer_free(pl[0]);
    fo_peer_free(pl[1]);
    fo_peer_free(pub);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    fo_testsrv_stop_clean(&B);
    fo_testsrv_stop_clean(&A);
    fo_redissrv_stop(&redis, false);
    printf("it_cluster_simulcast: OK\n");
    return 0;
}
