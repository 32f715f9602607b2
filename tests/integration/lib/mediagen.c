/* SPDX-License-Identifier: MIT */
/* Synthetic media and its checker (see mediagen.h). */
#include "mediagen.h"

#include <stdio.h>
#include <string.h>

#include "fanout/rtcp.h"
#include "fanout/rtp.h"

#define AUDIO_PAYLOAD 160
#define VIDEO_PAYLOAD 900
#define FPS 30

static void fill(uint8_t *p, size_t from, size_t len, int kind, uint32_t counter)
{
    uint32_t s = (uint32_t)(kind + 1) * 2654435761u + counter + 1;
    for (size_t i = from; i + 4 < len; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        p[i] = (uint8_t)s;
    }
    p[len - 4] = (uint8_t)(counter >> 24);
    p[len - 3] = (uint8_t)(counter >> 16);
    p[len - 2] = (uint8_t)(counter >> 8);
    p[len - 1] = (uint8_t)counter;
}

size_t fo_mediagen_vp8_start(uint8_t *pl, bool first, bool key)
{
    size_t off = 0;
    pl[off++] = first ? 0x10 : 0x00;
    if (first) {
        /* first_part_size 100, show_frame 1, version 0, P = !key */
        uint32_t tag = (100u << 5) | (1u << 4) | (key ? 0u : 1u);
        pl[off++] = (uint8_t)tag;
        pl[off++] = (uint8_t)(tag >> 8);
        pl[off++] = (uint8_t)(tag >> 16);
        if (key) {
            static const uint8_t kf[] = {0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
            memcpy(pl + off, kf, sizeof kf);
            off += sizeof kf;
        }
    }
    return off;
}

/* The video payload of packet `counter`, `first` of its frame, of a keyframe or not. */
static size_t video_payload(uint8_t *pl, uint32_t counter, bool first, bool key)
{
    size_t off = fo_mediagen_vp8_start(pl, first, key);
    fill(pl, off, VIDEO_PAYLOAD, 1, counter);
    return VIDEO_PAYLOAD;
}

void fo_mediagen_init(fo_mediagen_t *g, fo_peer_t *pub, int key_every)
{
    memset(g, 0, sizeof *g);
    g->pub = pub;
    g->key_every = key_every > 0 ? key_every : 15;
    g->t0 = fo_peer_now_ms();
    g->a_seq = 1000;
    g->v_seq = 5000;
    g->a_ts = 100000;
    g->v_ts = 900000;
}

void fo_mediagen_switch(fo_mediagen_t *g, fo_peer_t *pub)
{
    g->pub = pub;
    g->a_seq = (uint16_t)(g->a_seq + 7777);
    g->v_seq = (uint16_t)(g->v_seq + 3333);
    g->a_ts += 123456789u;
    g->v_ts += 987654321u;
    g->frame = (g->frame / (uint32_t)g->key_every + 1) * (uint32_t)g->key_every; /* a keyframe next */
}

int fo_mediagen_tick(fo_mediagen_t *g)
{
    int64_t t = fo_peer_now_ms() - g->t0;
    uint8_t pkt[12 + VIDEO_PAYLOAD + 16];
    /* audio: one packet per 20 ms of elapsed time */
    while ((int64_t)g->audio_n * 20 <= t) {
        size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, g->a_seq++, g->a_ts, fo_peer_ssrc(g->pub, "audio"));
        g->a_ts += 960;
        fill(pkt + h, 0, AUDIO_PAYLOAD, 0, g->audio_n++);
        int r = fo_peer_send_rtp(g->pub, pkt, h + AUDIO_PAYLOAD);
        if (r) return r;
    }
    /* video: frames at 30 fps, two packets each */
    while ((int64_t)(g->video_n / 2) * 1000 / FPS <= t) {
        bool key = g->frame % (uint32_t)g->key_every == 0;
        for (int i = 0; i < 2; i++) {
            size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_VP8, i == 1, g->v_seq++, g->v_ts, fo_peer_ssrc(g->pub, "video"));
            size_t n = video_payload(pkt + h, g->video_n++, i == 0, key);
            int r = fo_peer_send_rtp(g->pub, pkt, h + n);
            if (r) return r;
        }
        g->v_ts += 90000 / FPS;
        g->frame++;
    }
    while ((int64_t)g->srs_sent * 250 <= t) { /* audio and video in turn: each every 500 ms */
        bool video = g->srs_sent++ % 2;
        uint8_t sr[64];
        uint64_t ntp = ((uint64_t)(t / 1000) + 2208988800ull) << 32 | (uint64_t)(t % 1000) * 4294967ull;
        int n = fo_rtcp_build_sr(sr, sizeof sr, fo_peer_ssrc(g->pub, video ? "video" : "audio"), ntp,
                                 video ? g->v_ts : g->a_ts, video ? g->video_n : g->audio_n, 0, NULL, 0);
        if (n > 0) fo_peer_send_rtcp(g->pub, sr, (size_t)n);
    }
    return 0;
}

static void note(fo_mediacheck_t *c, const char *what, uint32_t a, uint32_t b)
{
    if (!c->first_error[0]) snprintf(c->first_error, sizeof c->first_error, "%s (%u, %u)", what, a, b);
}

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    fo_mediacheck_t *c = user;
    if (is_rtcp) {
        c->rtcp++;
        if (len >= 2 && pkt[1] == 200) c->srs++;
        return;
    }
    fo_rtp_view_t v;
    if (fo_rtp_parse(pkt, len, &v) != 0) {
        c->bad_payload++;
        note(c, "unparsable RTP", (uint32_t)len, 0);
        return;
    }
    const fo_peer_media_t *am = fo_peer_answer_media(p, "audio"), *vm = fo_peer_answer_media(p, "video");
    int k = am && v.ssrc == am->ssrc ? 0 : vm && v.ssrc == vm->ssrc ? 1 : -1;
    if (k < 0) {
        c->bad_ssrc++;
        note(c, "SSRC not in the answer", v.ssrc, 0);
        return;
    }
    if (v.payload_len < 8) {
        c->bad_payload++;
        note(c, "short payload", (uint32_t)v.payload_len, (uint32_t)k);
        return;
    }
    const uint8_t *e = v.payload + v.payload_len - 4;
    uint32_t counter = (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
    uint8_t want[VIDEO_PAYLOAD];
    size_t wl;
    if (k == 0) {
        fill(want, 0, AUDIO_PAYLOAD, 0, counter);
        wl = AUDIO_PAYLOAD;
    } else {
        /* first packet of a frame iff its counter is even; a keyframe iff its descriptor says */
        bool first = counter % 2 == 0;
        bool key = first && v.payload_len > 4 && !(v.payload[1] & 1);
        wl = video_payload(want, counter, first, key);
    }
    if (v.payload_len != wl || memcmp(v.payload, want, wl) != 0) {
        c->bad_payload++;
        note(c, k ? "video payload differs" : "audio payload differs", counter, (uint32_t)v.payload_len);
        return;
    }
    fo_mediacheck_track_t *t = &c->t[k];
    t->ssrc = v.ssrc;
    if (t->have) {
        int16_t d = (int16_t)(v.seq - t->last_seq);
        if (d <= 0) {
            t->dups++;
            return; /* a retransmission or duplicate */
        }
        if (d != 1) t->gaps++;
        if ((int32_t)(v.ts - t->last_ts) < 0) t->backwards++;
    }
    t->have = true;
    t->last_seq = v.seq;
    t->last_ts = v.ts;
    t->packets++;
}

void fo_mediacheck_init(fo_mediacheck_t *c, fo_peer_t *player)
{
    memset(c, 0, sizeof *c);
    c->peer = player;
    fo_peer_set_recv_cb(player, on_rx, c);
}

bool fo_mediacheck_ok(const fo_mediacheck_t *c) { return !c->bad_payload && !c->bad_ssrc; }
