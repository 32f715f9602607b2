/* SPDX-License-Identifier: MIT */
/* Simulcast on the stream's side: which of a publisher's layers a packet belongs to (media by
 * SSRC or rtp-stream-id, RTX by its SSRC or repaired-rtp-stream-id), each layer's bitrate and
 * their ranking, and for each player the layer it should receive. The switching rules
 * themselves are layer.c's; the switch at a keyframe is made where packets are forwarded
 * (stream.c). A relay pulling the stream takes every layer instead (p->lay): each goes out on
 * its own SSRC with its rid, so that the pulling node has the layers its own players need. */
#include <string.h>
#include <sys/random.h>

#include "fanout/bwe.h"
#include "fanout/history.h"
#include "fanout/layer.h"
#include "fanout/log.h"
#include "fanout/nack.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"
#include "fanout/rtx.h"
#include "stream_internal.h"

#define RERANK_SECONDS 5     /* see fo_simulcast_measure */
#define LAYER_SETTLE_MS 300  /* wait this long for all simulcast layers before a first choice */

/* The rank (0 = lowest) of publisher layer `layer`, -1 if none. */
int fo_simulcast_rank(const pub_track_t *tr, int layer)
{
    for (unsigned i = 0; i < tr->n_layers; i++)
        if (tr->rank[i] == layer) return (int)i;
    return -1;
}

/* Picks the video layer a player should receive (layer.c) from its bandwidth estimate or its
 * explicit choice, and asks for a keyframe of a new one. Without simulcast: layer 0. */
void fo_simulcast_choose(fo_session_t *p, uint64_t now)
{
    fo_stream_t *st = p->stream;
    play_track_t *t = &p->play[FO_KIND_VIDEO];
    if (p->lay) return; /* takes every layer */
    const pub_track_t *tr = st->publisher ? &st->publisher->pub[FO_KIND_VIDEO] : NULL;
    if (!t->active || !tr || !tr->active) return;
    if (tr->n_layers <= 1) {
        t->want = 0;
        return;
    }
    uint64_t bps[FO_LAYER_MAX];
    bool live[FO_LAYER_MAX], all = true;
    for (unsigned i = 0; i < tr->n_layers; i++) {
        const pub_layer_t *l = &tr->l[tr->rank[i]];
        bps[i] = l->bps;
        live[i] = l->ssrc && l->last_ms && now - l->last_ms < 1000;
        all &= live[i];
    }
    /* The layers' first packets arrive one after another: a first choice made on the first
     * one would start every player on it and switch soon after. */
    if (t->want < 0 && !all && (!tr->first_ms || now - tr->first_ms < LAYER_SETTLE_MS)) return;
    int cur = t->started ? fo_simulcast_rank(tr, t->layer) : -1;
    uint64_t est = p->bwe ? fo_bwe_estimate(p->bwe, now) : 0;
    int r = fo_layer_choose(&t->sw, (int)tr->n_layers, bps, live, cur, est, now);
    if (r < 0) return;
    int want = tr->rank[r];
    if (want == t->want) return;
    FO_LOG(FO_LOG_DEBUG, p->ctx, "layer %d (%s) -> %d (%s): estimate %llu bps", t->layer,
           t->layer >= 0 ? tr->l[t->layer].rid : "-", want, tr->l[want].rid, (unsigned long long)est);
    t->want = want;
    if (!t->started || want != t->layer) fo_stream_request_keyframe(st, want);
}

int fo_stream_top_layer(const fo_stream_t *st)
{
    const pub_track_t *tr = st->publisher ? &st->publisher->pub[FO_KIND_VIDEO] : NULL;
    if (!tr || !tr->active) return -1;
    if (tr->n_layers <= 1) return 0;
    bool all = true;
    for (unsigned i = 0; i < tr->n_layers; i++) all &= tr->l[i].ssrc != 0;
    uint64_t now = fo_loop_now(st->env->transport.loop);
    if (!all && (!tr->first_ms || now - tr->first_ms < LAYER_SETTLE_MS)) return -1;
    for (int r = (int)tr->n_layers - 1; r >= 0; r--)
        if (tr->l[tr->rank[r]].ssrc) return tr->rank[r];
    return -1;
}

/* The layer whose rid the packet's extension `id` names, -1 if none. */
static int layer_by_rid(const pub_track_t *tr, const fo_rtp_view_t *v, uint8_t id)
{
    const uint8_t *d;
    size_t n;
    if (!id || fo_rtp_ext_find(v, id, &d, &n) != 0) return -1;
    for (unsigned i = 0; i < tr->n_layers; i++)
        if (strlen(tr->l[i].rid) == n && memcmp(tr->l[i].rid, d, n) == 0) return (int)i;
    return -1;
}

/* Publisher RTX (RFC 4588): restores the original packet into the session's scratch buffer
 * and says which layer it repairs (by RTX SSRC once learned; with simulcast first from the
 * repaired-rtp-stream-id extension). Returns its length, or 0 to drop (padding probe, unknown
 * association). */
size_t fo_simulcast_unwrap_rtx(fo_session_t *s, const fo_rtp_view_t *v, unsigned kind, int *layer)
{
    pub_track_t *tr = &s->pub[kind];
    int li = -1;
    for (unsigned i = 0; i < tr->n_layers && li < 0; i++)
        if (tr->l[i].rtx_ssrc == v->ssrc) li = (int)i;
    if (li < 0) li = tr->n_layers > 1 ? layer_by_rid(tr, v, s->rrid_id) : 0;
    if (li < 0) return 0;
    pub_layer_t *l = &tr->l[li];
    if (!l->ssrc || v->payload_len < 2) return 0;
    l->rtx_ssrc = v->ssrc;
    uint16_t osn;
    int n = fo_rtx_unwrap(v, l->ssrc, tr->codec.pt, NULL, fo_session_scratch(s), SESSION_SCRATCH, &osn);
    if (n <= 0) return 0;
    l->rtx_packets++;
    *layer = li;
    return (size_t)n;
}

/* The layer of a media packet: by SSRC; a new SSRC is learned from its rid with simulcast, and
 * without simulcast replaces the old one (the sender restarted its track: players restart that
 * track at its next keyframe; learning the first SSRC changes nothing). -1: drop. */
int fo_simulcast_layer(fo_session_t *s, unsigned kind, const fo_rtp_view_t *v)
{
    pub_track_t *tr = &s->pub[kind];
    fo_stream_t *st = s->stream;
    for (unsigned i = 0; i < tr->n_layers; i++)
        if (tr->l[i].ssrc == v->ssrc) return (int)i;
    int li = tr->n_layers > 1 ? layer_by_rid(tr, v, s->rid_id) : 0;
    if (li < 0) return -1; /* simulcast SSRC not announced by a rid yet */
    pub_layer_t *l = &tr->l[li];
    if (l->ssrc) {
        FO_LOG_LIMITED(&s->log_ssrc, fo_loop_now(st->env->transport.loop), FO_LOG_INFO, s->ctx,
                       "%s SSRC changed%s%s", kind ? "video" : "audio", l->rid[0] ? " for layer " : "",
                       l->rid);
        st->gen[kind]++;
        if (st->hist[kind][li]) fo_history_clear(st->hist[kind][li]);
    } else if (l->rid[0]) {
        FO_LOG(FO_LOG_INFO, s->ctx, "simulcast layer %s is SSRC %u", l->rid, (unsigned)v->ssrc);
    }
    l->ssrc = v->ssrc;
    fo_nack_init(&l->nack);
    l->gave_up_seen = 0;
    memset(&l->rx, 0, sizeof l->rx);
    return li;
}

/* Each second: every layer's bitrate, and the layers ranked by it. The rank starts in the
 * offer's a=simulcast order (low to high, as sendEncodings usually are); it changes only when
 * the bitrates have disagreed with it clearly (by 25%) for RERANK_SECONDS in a row, so a
 * publisher listing its layers high to low is set right within seconds, while the ramp-up
 * (where a small layer's keyframes can outweigh a bigger layer) does not move players. */
void fo_simulcast_measure(pub_track_t *tr)
{
    for (unsigned i = 0; i < tr->n_layers; i++) {
        pub_layer_t *l = &tr->l[i];
        l->bps = (l->bytes - l->bytes_mark) * 8;
        l->bytes_mark = l->bytes;
    }
    uint8_t r[FO_LAYER_MAX];
    memcpy(r, tr->rank, sizeof r);
    for (unsigned i = 1; i < tr->n_layers; i++)
        for (unsigned j = i; j > 0; j--) {
            uint64_t lo = tr->l[r[j - 1]].bps, hi = tr->l[r[j]].bps;
            if (!hi || lo * 4 <= hi * 5) break;
            uint8_t x = r[j - 1];
            r[j - 1] = r[j];
            r[j] = x;
        }
    if (memcmp(r, tr->rank, sizeof r) == 0) {
        tr->rank_disagree = 0;
    } else if (++tr->rank_disagree >= RERANK_SECONDS) {
        memcpy(tr->rank, r, sizeof r);
        tr->rank_disagree = 0;
    }
}


/* --- a player taking every layer (a relay) --- */

int fo_simulcast_lay_index(const fo_session_t *p, uint32_t ssrc)
{
    for (unsigned l = 0; p->lay && l < p->lay->n; l++)
        if (p->lay->l[l].ssrc == ssrc) return (int)l;
    return -1;
}

int fo_simulcast_lay_waiting(const fo_session_t *p)
{
    const play_track_t *t = &p->play[FO_KIND_VIDEO];
    const pub_track_t *tr = p->stream->publisher ? &p->stream->publisher->pub[FO_KIND_VIDEO] : NULL;
    for (unsigned l = 0; tr && l < p->lay->n && l < tr->n_layers; l++) {
        const lay_track_t *L = &p->lay->l[l];
        if (tr->l[l].ssrc && (!L->started || L->gen != t->gen)) return (int)l;
    }
    return -1;
}

/* Rewrites a packet onto layer L's SSRC, sequence and timestamps with its rid, and queues it. */
static int send_layer(fo_session_t *p, play_track_t *t, lay_track_t *L, const fo_rtp_view_t *v, uint16_t seq,
                      uint64_t now)
{
    size_t cap;
    uint8_t *slot = fo_transport_slot(p->transport, &cap);
    fo_rtp_rewrite_t rw = {.ssrc = L->ssrc, .pt = t->out_pt, .seq = seq, .ts = v->ts + L->ts_delta,
                           .tw_id = p->bwe ? p->twcc_id : 0, .tw_seq = p->tw_seq,
                           .rid_id = p->lay->rid_id, .rid = L->rid, .rid_len = L->rid_len};
    int n = fo_rtp_rewrite(v, &rw, slot, cap - FO_SRTP_MAX_TRAILER);
    if (n <= 0 || fo_transport_commit_rtp(p->transport, slot, (size_t)n) != 0) return -1;
    if (p->bwe) fo_bwe_on_send(p->bwe, p->tw_seq++, (size_t)n, now);
    t->packets++;
    t->bytes += (size_t)n;
    return n;
}

void fo_simulcast_forward_layer(fo_session_t *p, play_track_t *t, int layer, const fo_rtp_view_t *v,
                                bool key, uint64_t now)
{
    if (layer < 0 || (unsigned)layer >= p->lay->n) return;
    lay_track_t *L = &p->lay->l[layer];
    if (L->gen != t->gen) { /* a new source: each layer continues at its next keyframe */
        L->gen = t->gen;
        L->started = false;
    }
    if (!L->started) {
        if (!key) return;
        uint32_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd) rnd = (uint32_t)now;
        fo_play_continue(L->have_last, L->last_seq, L->last_ts, L->last_ms, t->clock, v->seq, v->ts, now, rnd,
                         &L->seq_delta, &L->ts_delta);
        L->started = true;
    }
    uint16_t seq = (uint16_t)(v->seq + L->seq_delta);
    if (send_layer(p, t, L, v, seq, now) < 0) return;
    if (!L->have_last || fo_seq_diff(seq, L->last_seq) > 0) {
        L->have_last = true;
        L->last_seq = seq;
        L->last_ts = v->ts + L->ts_delta;
        L->last_ms = now;
    }
}

bool fo_simulcast_retransmit_layer(fo_session_t *p, int layer, uint16_t seq, uint64_t now)
{
    play_track_t *t = &p->play[FO_KIND_VIDEO];
    fo_stream_t *st = p->stream;
    if (t->tokens <= 0) return false;
    if (layer < 0 || (unsigned)layer >= p->lay->n || t->gen != st->gen[FO_KIND_VIDEO]) return true;
    lay_track_t *L = &p->lay->l[layer];
    fo_history_t *h = st->hist[FO_KIND_VIDEO][layer];
    size_t len;
    const uint8_t *pkt = L->started && L->gen == t->gen && h ? fo_history_get(h, (uint16_t)(seq - L->seq_delta), now, &len) : NULL;
    fo_rtp_view_t v;
    if (!pkt || fo_rtp_parse(pkt, len, &v) != 0) {
        t->rtx_missed++;
        t->tokens -= RTX_MISS_COST;
        return true;
    }
    if (t->tokens < (int64_t)len) return false;
    t->tokens -= (int64_t)len;
    if (send_layer(p, t, L, &v, seq, now) > 0) t->retransmits++;
    return true;
}

void fo_simulcast_sr_layer(fo_session_t *p, int layer, uint64_t ntp, uint32_t rtp_ts)
{
    const play_track_t *t = &p->play[FO_KIND_VIDEO];
    if (layer < 0 || (unsigned)layer >= p->lay->n) return;
    const lay_track_t *L = &p->lay->l[layer];
    if (!L->started || L->gen != t->gen) return;
    size_t cap;
    uint8_t *slot = fo_transport_slot(p->transport, &cap);
    int n = fo_rtcp_build_sr(slot, cap - FO_SRTP_MAX_TRAILER, L->ssrc, ntp, rtp_ts + L->ts_delta,
                             (uint32_t)t->packets, (uint32_t)t->bytes, NULL, 0);
    if (n > 0) fo_transport_commit_rtcp(p->transport, slot, (size_t)n);
}
