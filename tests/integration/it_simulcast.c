/* SPDX-License-Identifier: MIT */
/* Simulcast on loopback against the fanout binary (argv[1], source dir argv[2]): a publisher
 * offering three layers Chrome's way (a=rid + a=simulcast, rtp-stream-id extension, no a=ssrc)
 * sends VP8-shaped frames on three SSRCs, each packet naming its layer; players join with
 * ?layer=low and ?layer=high on the stream URL and one without (no bandwidth estimate: the
 * highest live layer). Half-way the high layer stops for 1.5 s, then resumes.
 * Checks, per player: everything arrives on its one SSRC with sequence numbers exactly +1 and
 * timestamps never going back, across layer switches; a switch happens only at a keyframe of
 * the new layer; the low player sees only the low layer; the high and the automatic player
 * fall to the middle layer while the high one is gone and return to it after; the answer has
 * a=simulcast:recv l;m;h and the API shows three layers and each player's switches.
 * One process, alarm(60). */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "peer.h"
#include "testsrv.h"

#define FPS 30
#define KEY_EVERY 10        /* frames: a keyframe every third of a second on every layer */
#define HIGH_OFF_MS 1500    /* the high layer stops here ... */
#define HIGH_ON_MS 3000     /* ... and resumes here */
#define MEDIA_MS 4500
#define DRAIN_MS 500
#define PAYLOAD 300

#define die(...) fo_test_fail(__VA_ARGS__)

static fo_testsrv_t g_srv;
static const char *const RIDS[3] = {"l", "m", "h"};

typedef struct {
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts0;
} layer_t;

/* One frame of `layer`: 2 packets (3 for a keyframe), each with the rid extension and, in its
 * last 4 payload bytes, layer << 28 | frame << 4 | packet index, bit 3 set on a keyframe's
 * first packet. */
static void send_frame(fo_peer_t *pub, layer_t *L, int layer, uint32_t frame)
{
    bool key = frame % KEY_EVERY == 0;
    int npk = key ? 3 : 2;
    for (int i = 0; i < npk; i++) {
        uint8_t pkt[20 + PAYLOAD];
        uint8_t *b = pkt;
        uint32_t ts = L->ts0 + frame * (90000 / FPS);
        b[0] = 0x90; /* V=2, X=1 */
        b[1] = (uint8_t)(FO_PEER_PT_VP8 | (i == npk - 1 ? 0x80 : 0));
        b[2] = (uint8_t)(L->seq >> 8);
        b[3] = (uint8_t)L->seq;
        L->seq++;
        for (int k = 0; k < 4; k++) {
            b[4 + k] = (uint8_t)(ts >> (24 - 8 * k));
            b[8 + k] = (uint8_t)(L->ssrc >> (24 - 8 * k));
        }
        /* one-byte extension block, 1 word: id 10, length 1, the rid, padding */
        b[12] = 0xbe;
        b[13] = 0xde;
        b[14] = 0;
        b[15] = 1;
        b[16] = (uint8_t)(FO_PEER_EXT_RID << 4 | 0);
        b[17] = (uint8_t)RIDS[layer][0];
        b[18] = b[19] = 0;
        uint8_t *pl = b + 20;
        memset(pl, 0x33, PAYLOAD);
        pl[0] = i == 0 ? 0x10 : 0x00;
        if (i == 0) {
            uint32_t tag = (50u << 5) | (1u << 4) | (key ? 0u : 1u);
            pl[1] = (uint8_t)tag;
            pl[2] = (uint8_t)(tag >> 8);
            pl[3] = (uint8_t)(tag >> 16);
            if (key) {
                static const uint8_t kf[] = {0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00};
                memcpy(pl + 4, kf, sizeof kf);
            }
        }
        uint32_t tag = (uint32_t)layer << 28 | frame << 4 | (uint32_t)i | (key && i == 0 ? 8u : 0u);
        pl[PAYLOAD - 4] = (uint8_t)(tag >> 24);
        pl[PAYLOAD - 3] = (uint8_t)(tag >> 16);
        pl[PAYLOAD - 2] = (uint8_t)(tag >> 8);
        pl[PAYLOAD - 1] = (uint8_t)tag;
        int r = fo_peer_send_rtp(pub, pkt, 20 + PAYLOAD);
        if (r) die("publisher: sending: %s", fo_strerror(r));
    }
}

typedef struct {
    const char *name;
    const char *query;
    fo_peer_t *peer;
    uint32_t ssrc;
    bool have;
    uint16_t last_seq;
    uint32_t last_ts;
    int layer;             /* of the last packet */
    int path[16];          /* layers in order of arrival */
    int n_path;
    uint64_t packets, per_layer[3], gaps, bad;
    char err[200];
} player_t;

static void note(player_t *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(player_t *pl, const char *fmt, ...)
{
    pl->bad++;
    if (pl->err[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl->err, sizeof pl->err, fmt, ap);
    va_end(ap);
}

static void player_rx(void *user, fo_peer_t *peer, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)peer;
    player_t *pl = user;
    fo_rtp_view_t v;
    if (is_rtcp) return;
    if (fo_rtp_parse(pkt, len, &v) || v.payload_len < PAYLOAD) {
        note(pl, "unparsable or short RTP");
        return;
    }
    if (v.pt != FO_PEER_PT_VP8) return; /* audio: none is sent */
    if (v.ssrc != pl->ssrc) note(pl, "SSRC %08x, answer said %08x", v.ssrc, pl->ssrc);
    const uint8_t *e = v.payload + PAYLOAD;
    uint32_t tag = (uint32_t)e[-4] << 24 | (uint32_t)e[-3] << 16 | (uint32_t)e[-2] << 8 | e[-1];
    int layer = (int)(tag >> 28);
    bool key_start = tag & 8;
    if (layer > 2) {
        note(pl, "bad layer tag %08x", tag);
        return;
    }
    if (pl->have) {
        if (v.seq != (uint16_t)(pl->last_seq + 1)) {
            pl->gaps++;
            note(pl, "seq %u after %u (layer %d -> %d)", v.seq, pl->last_seq, pl->layer, layer);
        }
        if ((int32_t)(v.ts - pl->last_ts) < 0) note(pl, "ts %u after %u", v.ts, pl->last_ts);
        if (layer != pl->layer && !key_start)
            note(pl, "switched %d -> %d on a packet that does not start a keyframe", pl->layer, layer);
    } else if (!key_start) {
        note(pl, "started on a packet that does not start a keyframe");
    }
    if (!pl->have || layer != pl->layer) {
        if (pl->n_path < (int)FO_ARRAY_LEN(pl->path)) pl->path[pl->n_path++] = layer;
    }
    pl->have = true;
    pl->last_seq = v.seq;
    pl->last_ts = v.ts;
    pl->layer = layer;
    pl->packets++;
    pl->per_layer[layer]++;
}

static json_t *client_json(const char *id)
{
    char url[256], *body = NULL;
    snprintf(url, sizeof url, "%s/api/v1/clients/%s", g_srv.api, id);
    if (fo_peer_http_request("GET", url, NULL, NULL, NULL, &body, 5000) != 200) die("GET %s", url);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    json_t *sc = json_incref(json_object_get(json_object_get(j, "client"), "simulcast"));
    json_decref(j);
    if (!sc) die("no simulcast object for %s", id);
    return sc;
}

static void path_str(const player_t *pl, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < pl->n_path; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? ">" : "", RIDS[pl->path[i]]);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fanout binary> <source dir>\n", argv[0]);
        return 2;
    }
    setenv("FANOUT_RTC_INSTANT_START", "0", 1);
    fo_testsrv_start(&g_srv, "it_simulcast", argv[1], argv[2], NULL, 60);
    fo_log_set_level(getenv("IT_DEBUG") ? FO_LOG_DEBUG : FO_LOG_WARN);
    if (fo_srtp_global_init()) die("fo_srtp_global_init");
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    if (!dctx || !stun) die("DTLS context or STUN agent");
    char stream[64];
    snprintf(stream, sizeof stream, "live/sim-%d", (int)getpid());

    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub", .simulcast = true};
    fo_peer_t *pub = fo_peer_new(&po);
    if (!pub || fo_peer_connect(pub, g_srv.api, stream, 10000)) die("publisher: %s", pub ? fo_peer_error(pub) : "");
    if (!strstr(fo_peer_answer_sdp(pub), "a=simulcast:recv l;m;h\r\n")) die("answer without a=simulcast:recv l;m;h");
    layer_t L[3] = {{.ssrc = 0x1111, .seq = 100, .ts0 = 1000},
                    {.ssrc = 0x2222, .seq = 30000, .ts0 = 2000000},
                    {.ssrc = 0x3333, .seq = 65500, .ts0 = 4000000000u}};

    player_t pls[3] = {{.name = "low", .query = "?layer=low"}, {.name = "high", .query = "?layer=high"},
                       {.name = "auto", .query = ""}};
    for (int i = 0; i < 3; i++) {
        char s[128];
        snprintf(s, sizeof s, "%s%s", stream, pls[i].query);
        fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = pls[i].name};
        if (!(pls[i].peer = fo_peer_new(&o))) die("fo_peer_new");
        fo_peer_set_recv_cb(pls[i].peer, player_rx, &pls[i]);
        if (fo_peer_connect(pls[i].peer, g_srv.api, s, 10000)) die("%s: %s", pls[i].name, fo_peer_error(pls[i].peer));
        pls[i].ssrc = fo_peer_answer_media(pls[i].peer, "video")->ssrc;
    }

    int64_t t0 = fo_peer_now_ms();
    uint32_t frame = 0;
    for (;;) {
        int64_t t = fo_peer_now_ms() - t0;
        if (t >= MEDIA_MS + DRAIN_MS) break;
        while (t < MEDIA_MS && (int64_t)frame * 1000 / FPS <= t) {
            bool high = t < HIGH_OFF_MS || t >= HIGH_ON_MS;
            for (int l = 0; l < 3; l++)
                if (l < 2 || high) send_frame(pub, &L[l], l, frame);
            frame++;
        }
        struct pollfd pfd[4];
        pfd[0] = (struct pollfd){.fd = fo_peer_fd(pub), .events = POLLIN};
        for (int i = 0; i < 3; i++) pfd[1 + i] = (struct pollfd){.fd = fo_peer_fd(pls[i].peer), .events = POLLIN};
        poll(pfd, 4, 2);
        if (fo_peer_process(pub) != FO_PEER_CONNECTED) die("publisher: %s", fo_peer_error(pub));
        for (int i = 0; i < 3; i++)
            if (fo_peer_process(pls[i].peer) != FO_PEER_CONNECTED) die("%s: %s", pls[i].name, fo_peer_error(pls[i].peer));
    }

    json_t *ps = client_json(fo_peer_session_id(pub));
    json_t *layers = json_object_get(ps, "layers");
    if (json_array_size(layers) != 3) die("publisher: %zu layers in the API", json_array_size(layers));
    for (int l = 0; l < 3; l++) {
        json_t *x = json_array_get(layers, (size_t)l);
        const char *rid = json_string_value(json_object_get(x, "rid"));
        if (!rid || strcmp(rid, RIDS[l]) ||
            json_integer_value(json_object_get(x, "ssrc")) != L[l].ssrc)
            die("publisher layer %d in the API: rid %s ssrc %lld", l, rid ? rid : "-",
                json_integer_value(json_object_get(x, "ssrc")));
    }
    json_decref(ps);
    char summary[3][200];
    static const char *const want_path[3] = {"l", "h>m>h", "h>m>h"};
    for (int i = 0; i < 3; i++) {
        player_t *pl = &pls[i];
        char path[64];
        path_str(pl, path, sizeof path);
        if (pl->bad) die("%s: %llu problems, first: %s", pl->name, (unsigned long long)pl->bad, pl->err);
        if (strcmp(path, want_path[i])) die("%s: layers %s, expected %s", pl->name, path, want_path[i]);
        if (pl->packets < 150) die("%s: only %llu packets", pl->name, (unsigned long long)pl->packets);
        json_t *sc = client_json(fo_peer_session_id(pl->peer));
        long long sw = json_integer_value(json_object_get(sc, "switches"));
        long long layer = json_integer_value(json_object_get(sc, "layer"));
        json_decref(sc);
        if (sw != pl->n_path - 1 || layer != pl->layer)
            die("%s: API says layer %lld after %lld switches; seen %d after %d", pl->name, layer, sw,
                pl->layer, pl->n_path - 1);
        snprintf(summary[i], sizeof summary[i], "%s: %llu packets (l %llu, m %llu, h %llu), layers %s, seq contiguous",
                 pl->name, (unsigned long long)pl->packets, (unsigned long long)pl->per_layer[0],
                 (unsigned long long)pl->per_layer[1], (unsigned long long)pl->per_layer[2], path);
    }
    for (int i = 0; i < 3; i++) fo_peer_free(pls[i].peer);
    fo_peer_free(pub);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_simulcast: OK: %u frames x 3 layers (high off %d-%d ms)\n  %s\n  %s\n  %s\n", frame,
           HIGH_OFF_MS, HIGH_ON_MS, summary[0], summary[1], summary[2]);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    return 0;
}
