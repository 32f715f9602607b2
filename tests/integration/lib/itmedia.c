/* SPDX-License-Identifier: MIT */
/* Test media sender and receiver checks (see itmedia.h). */
#include "itmedia.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"
#include "mediagen.h"
#include "testsrv.h"

uint32_t it_xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Pseudo-random bytes, then the counter in the last 4 bytes (big endian). */
static void fill_payload(uint8_t *p, size_t from, size_t len, uint32_t seed, uint32_t counter)
{
    uint32_t s = seed * 2654435761u + counter + 1;
    for (size_t i = from; i + 4 < len; i++) p[i] = (uint8_t)it_xorshift(&s);
    p[len - 4] = (uint8_t)(counter >> 24);
    p[len - 3] = (uint8_t)(counter >> 16);
    p[len - 2] = (uint8_t)(counter >> 8);
    p[len - 1] = (uint8_t)counter;
}

void it_sender_init(it_sender_t *s, fo_peer_t *pub)
{
    *s = (it_sender_t){.pub = pub, .audio_ms = 20, .audio_payload = 160, .fps = 30,
                       .pkts_per_frame = 2, .pkts_per_key = 4, .keyframe_every = 30,
                       .video_payload = 1000, .a_seq = 1000, .v_seq = 60000, .a_ts0 = 12345,
                       .v_ts0 = 4000000000u};
    s->audio = calloc(IT_MAX_AUDIO, sizeof *s->audio);
    s->video = calloc(IT_MAX_VIDEO, sizeof *s->video);
    if (!s->audio || !s->video) fo_test_fail("out of memory");
}

void it_sender_free(it_sender_t *s)
{
    for (uint32_t i = 0; i < s->n_audio; i++) free(s->audio[i].payload);
    for (uint32_t i = 0; i < s->n_video; i++) free(s->video[i].payload);
    free(s->audio);
    free(s->video);
}

static void record(it_sent_t *e, const uint8_t *payload, size_t len, uint32_t ts, int64_t t, bool key)
{
    e->payload = malloc(len);
    if (!e->payload) fo_test_fail("out of memory");
    memcpy(e->payload, payload, len);
    e->len = len;
    e->ts = ts;
    e->sent_ms = t;
    e->keyframe = key;
}

static void send_audio(it_sender_t *s, int64_t t)
{
    if (s->n_audio >= IT_MAX_AUDIO) return;
    uint32_t c = s->n_audio;
    uint8_t pkt[12 + 1400];
    size_t len = (size_t)s->audio_payload;
    uint32_t ts = s->a_ts0 + c * 960;
    size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, s->a_seq++, ts, fo_peer_ssrc(s->pub, "audio"));
    fill_payload(pkt + h, 0, len, 1, c);
    record(&s->audio[s->n_audio++], pkt + h, len, ts, t, false);
    int r = fo_peer_send_rtp(s->pub, pkt, h + len);
    if (r) fo_test_fail("publisher: sending audio: %s", fo_strerror(r));
}

/* One frame: VP8 payload descriptor (S bit on the first packet, PID 0), on the first packet the
 * VP8 payload header (3-byte frame tag, P bit = 0 for keyframes, then the keyframe start code and
 * 640x480), pseudo-random data, the packet counter at the end; marker on the last packet. */
static void send_video_frame(it_sender_t *s, int64_t t)
{
    bool key = s->frame % (uint32_t)s->keyframe_every == 0 || s->key_pending;
    s->key_pending = false;
    int npk = key ? s->pkts_per_key : s->pkts_per_frame;
    uint32_t ts = s->v_ts0 + s->frame * (90000u / (uint32_t)s->fps);
    size_t len = (size_t)s->video_payload;
    for (int i = 0; i < npk && s->n_video < IT_MAX_VIDEO; i++) {
        uint32_t c = s->n_video;
        uint8_t pkt[12 + 1400];
        size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_VP8, i == npk - 1, s->v_seq++, ts,
                                       fo_peer_ssrc(s->pub, "video"));
        uint8_t *pl = pkt + h;
        size_t off = fo_mediagen_vp8_start(pl, i == 0, key);
        fill_payload(pl, off, len, 2, c);
        record(&s->video[s->n_video++], pl, len, ts, t, key && i == 0);
        int r = fo_peer_send_rtp(s->pub, pkt, h + len);
        if (r) fo_test_fail("publisher: sending video: %s", fo_strerror(r));
    }
    s->frame++;
}

static void pub_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)p;
    it_sender_t *s = user;
    fo_rtcp_pkt_t pk[16];
    size_t n = 0;
    if (!is_rtcp || fo_rtcp_parse(pkt, len, pk, FO_ARRAY_LEN(pk), &n) < 0) return;
    for (size_t i = 0; i < n; i++)
        if (pk[i].pt == FO_RTCP_PSFB && pk[i].count == FO_RTCP_FMT_PLI) {
            s->plis++;
            s->key_pending = true;
        }
}

void it_sender_answer_plis(it_sender_t *s) { fo_peer_set_recv_cb(s->pub, pub_rx, s); }

void it_sender_run(it_sender_t *s, int64_t t)
{
    while ((int64_t)s->n_audio * s->audio_ms <= t && s->n_audio < IT_MAX_AUDIO) send_audio(s, t);
    while ((int64_t)s->frame * 1000 / s->fps <= t && s->n_video < IT_MAX_VIDEO) send_video_frame(s, t);
}

static void note(it_player_t *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(it_player_t *pl, const char *fmt, ...)
{
    if (pl->first_error[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl->first_error, sizeof pl->first_error, fmt, ap);
    va_end(ap);
}

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)p;
    it_player_t *pl = user;
    if (is_rtcp) {
        pl->rtcp++;
        return;
    }
    fo_rtp_view_t v;
    if (fo_rtp_parse(pkt, len, &v) != 0 || v.payload_len < 4) {
        pl->malformed++;
        return;
    }
    it_track_rx_t *tr;
    const it_sent_t *sent;
    uint32_t n_sent;
    if (v.pt == FO_PEER_PT_OPUS) {
        tr = &pl->audio, sent = pl->snd->audio, n_sent = pl->snd->n_audio;
    } else if (v.pt == FO_PEER_PT_VP8) {
        tr = &pl->video, sent = pl->snd->video, n_sent = pl->snd->n_video;
    } else if (v.pt == FO_PEER_PT_RTX) {
        pl->rtx++; /* retransmissions: not asked for, not counted */
        return;
    } else {
        pl->bad_pt++;
        note(pl, "unexpected payload type %u", v.pt);
        return;
    }
    if (v.ssrc != tr->ssrc) {
        pl->bad_ssrc++;
        note(pl, "PT %u on SSRC %u, the answer said %u", v.pt, v.ssrc, tr->ssrc);
    }
    const uint8_t *pay = v.payload;
    size_t plen = v.payload_len;
    uint32_t c = (uint32_t)pay[plen - 4] << 24 | (uint32_t)pay[plen - 3] << 16 |
                 (uint32_t)pay[plen - 2] << 8 | pay[plen - 1];
    if (c >= n_sent || sent[c].len != plen || memcmp(sent[c].payload, pay, plen)) {
        pl->bad_payload++;
        note(pl, "PT %u: payload of %zu bytes (counter %u) matches nothing sent", v.pt, plen, c);
        return;
    }
    if (tr->got[c]++) {
        pl->dup++;
        return;
    }
    if (sent[c].keyframe) pl->keyframes++;
    bool skipping = pl->skips_frames && tr == &pl->video;
    if (tr->have_prev) {
        /* Rewritten or not, seq and ts move exactly as the publisher's did; a player that
         * skipped frames sees seq without a gap and timestamps that only move forward. */
        uint16_t want = skipping ? 1 : (uint16_t)(c - tr->prev_counter);
        if ((uint16_t)(v.seq - tr->prev_seq) != want) {
            pl->bad_seq++;
            note(pl, "PT %u: seq %u after %u, but counters %u after %u", v.pt, v.seq, tr->prev_seq, c,
                 tr->prev_counter);
        }
        bool ts_ok = skipping ? (int32_t)(v.ts - tr->prev_ts) >= 0
                              : v.ts - tr->prev_ts == sent[c].ts - sent[tr->prev_counter].ts;
        if (!ts_ok) {
            pl->bad_ts++;
            note(pl, "PT %u: ts delta %u from counter %u to %u (sent %lld ms), sent delta %u", v.pt,
                 v.ts - tr->prev_ts, tr->prev_counter, c, (long long)sent[c].sent_ms,
                 sent[c].ts - sent[tr->prev_counter].ts);
        }
    }
    tr->have_prev = true;
    tr->prev_seq = v.seq;
    tr->prev_ts = v.ts;
    tr->prev_counter = c;
}

void it_player_init(it_player_t *pl, const char *name, fo_peer_t *peer, const it_sender_t *snd)
{
    *pl = (it_player_t){.name = name, .peer = peer, .snd = snd};
    pl->audio.got = calloc(IT_MAX_AUDIO, 1);
    pl->video.got = calloc(IT_MAX_VIDEO, 1);
    if (!pl->audio.got || !pl->video.got) fo_test_fail("out of memory");
    fo_peer_set_recv_cb(peer, on_rx, pl);
}

void it_player_free(it_player_t *pl)
{
    free(pl->audio.got);
    free(pl->video.got);
}

void it_player_take_ssrcs(it_player_t *pl)
{
    const fo_peer_media_t *a = fo_peer_answer_media(pl->peer, "audio");
    const fo_peer_media_t *v = fo_peer_answer_media(pl->peer, "video");
    if (!a || !v || !a->ssrc || !v->ssrc)
        fo_test_fail("%s: the answer lacks a=ssrc for audio or video:\n%s", pl->name,
                     fo_peer_answer_sdp(pl->peer));
    pl->audio.ssrc = a->ssrc;
    pl->video.ssrc = v->ssrc;
}

void it_player_check_clean(const it_player_t *pl)
{
    if (pl->bad_ssrc || pl->bad_pt || pl->bad_payload || pl->bad_seq || pl->bad_ts || pl->malformed)
        fo_test_fail("%s: bad ssrc %llu, pt %llu, payload %llu, seq %llu, ts %llu, malformed %llu; "
                     "first: %s",
                     pl->name, (unsigned long long)pl->bad_ssrc, (unsigned long long)pl->bad_pt,
                     (unsigned long long)pl->bad_payload, (unsigned long long)pl->bad_seq,
                     (unsigned long long)pl->bad_ts, (unsigned long long)pl->malformed, pl->first_error);
}

void it_window(const it_player_t *pl, bool video, int64_t from_ms, uint32_t *got, uint32_t *exp)
{
    it_window_range(pl, video, from_ms, INT64_MAX, got, exp);
}

void it_window_range(const it_player_t *pl, bool video, int64_t from_ms, int64_t to_ms, uint32_t *got,
                     uint32_t *exp)
{
    const it_sent_t *s = video ? pl->snd->video : pl->snd->audio;
    uint32_t n = video ? pl->snd->n_video : pl->snd->n_audio;
    const it_track_rx_t *tr = video ? &pl->video : &pl->audio;
    uint32_t i = 0;
    while (i < n && s[i].sent_ms < from_ms) i++;
    if (video)
        while (i < n && !s[i].keyframe) i++;
    *got = *exp = 0;
    for (; i < n && s[i].sent_ms < to_ms; i++) {
        (*exp)++;
        if (tr->got[i]) (*got)++;
    }
}

void it_expect_lossless(const it_player_t *pl, int64_t from_ms, int64_t to_ms, const char *why)
{
    uint32_t ag, ae, vg, ve;
    it_window_range(pl, false, from_ms, to_ms, &ag, &ae);
    it_window_range(pl, true, from_ms, to_ms, &vg, &ve);
    if (!ae || !ve || ag != ae || vg != ve)
        fo_test_fail("%s, %s (%lld..%lld ms): audio %u/%u, video %u/%u", pl->name, why, (long long)from_ms,
                     (long long)to_ms, ag, ae, vg, ve);
}

void it_pump(fo_peer_t *const *peers, const char *const *names, size_t n, int ms)
{
    struct pollfd pfd[64];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 64; i++)
        if (peers[i])
            pfd[k++] = (struct pollfd){.fd = fo_peer_fd(peers[i]),
                                       .events = POLLIN | (fo_peer_wants_write(peers[i]) ? POLLOUT : 0)};
    poll(pfd, k, ms);
    for (size_t i = 0; i < n; i++) {
        if (!peers[i]) continue;
        fo_peer_state_t st = fo_peer_process(peers[i]);
        if (st == FO_PEER_FAILED || st == FO_PEER_CLOSED)
            fo_test_fail("%s: %s", names[i], st == FO_PEER_CLOSED ? "closed by the server" : fo_peer_error(peers[i]));
    }
}
