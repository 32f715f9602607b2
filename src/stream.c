/* SPDX-License-Identifier: MIT */
/* Publish/play media logic. The hot path is on_publisher_rtp: parse once, then per player a
 * rewrite straight into a send slot, SRTP-protect in place, queue for sendmmsg. No allocation
 * per packet; players are kept in a flat array for a cache-friendly loop.
 * Media quality: towards the publisher a 25 ms timer sends NACKs for gaps (nack.c), TWCC
 * feedback every 50 ms (twcc.c), and each second receiver reports (rxstats.c) with a REMB
 * ceiling; the publisher's RTX is unwrapped into the normal path. Towards players the stream's
 * video history (history.c, shared by all players) answers NACKs as RTX or plain
 * retransmissions under a per-player token bucket, and new players start from the latest
 * keyframe in it, fast-forwarded (instant start). */
#include "fanout/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "fanout/bwe.h"
#include "fanout/common.h"
#include "fanout/history.h"
#include "fanout/layer.h"
#include "fanout/log.h"
#include "fanout/nack.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"
#include "fanout/rtx.h"
#include "fanout/rxstats.h"
#include "fanout/twcc.h"

#define KIND_N 2             /* audio, video */
#define PLI_MIN_INTERVAL 500 /* ms between keyframe requests to one publisher */
#define PLI_RETRY 1000       /* ms before asking again while a player still waits */
#define MAX_PLAY_CODECS 12
#define TICK_MS 25           /* publisher feedback timer */
#define TWCC_EVERY 2         /* ticks: TWCC feedback every 50 ms */
#define RR_EVERY 40          /* ticks: receiver report + REMB every second */
#define RERANK_SECONDS 5     /* see measure_layers */
#define LAYER_SETTLE_MS 300  /* wait this long for all simulcast layers before a first choice */
#define CHOOSE_EVERY 8       /* ticks: simulcast layer choice for every player, 200 ms */
#define HISTORY_SLOTS 1024   /* video packets kept per stream (~1 s at 10 Mbps) */
#define AUDIO_HISTORY_SLOTS 128 /* audio packets (~1.3 s of 10 ms Opus frames) */
#define HISTORY_AGE_MS 1000
#define INSTANT_MAX_PKTS 600 /* larger cached GOPs are not replayed: ask for a keyframe */
#define SR_MEMORY 4          /* SRs remembered per player track to compute RTT from its RRs */
#define RTX_MIN_RATE 62500   /* bytes/s of retransmission a player may cause, at least */
#define DUP_RTX_LOSS 5       /* /256 (2%): a player losing this much gets retransmissions twice */

enum { PT_NONE = 0, PT_MEDIA = 1, PT_RTX = 2 };

/* One incoming RTP stream of a publisher's track: the track itself, or one simulcast layer. */
typedef struct {
    char rid[FO_SDP_RID_LEN]; /* simulcast: the layer's rid ("" otherwise) */
    uint32_t ssrc;         /* learned from the first packet (by its rid with simulcast) */
    uint32_t rtx_ssrc;     /* learned from the first RTX packet */
    uint64_t packets, bytes;
    uint64_t rtx_packets, duplicates;
    uint64_t nacks_sent;   /* NACK packets */
    uint64_t bytes_mark, bps; /* bitrate measured each second */
    uint64_t last_ms;      /* last packet */
    fo_nack_t nack;
    fo_rxstats_t rx;
} pub_layer_t;

typedef struct {
    bool active;
    fo_sdp_codec_t codec;
    uint8_t rtx_pt;
    bool nack_fb;          /* the publisher accepts NACKs for this track */
    unsigned n_layers;     /* 1; 2-3 for simulcast video */
    uint8_t rank[FO_LAYER_MAX]; /* layer indexes from the lowest bitrate to the highest */
    unsigned rank_disagree; /* seconds the bitrates have contradicted rank[] */
    uint64_t first_ms;     /* first packet of any layer */
    pub_layer_t l[FO_LAYER_MAX];
} pub_track_t;

typedef struct {
    bool active;
    uint32_t ssrc;                          /* ours, signalled in the answer */
    fo_sdp_codec_t codecs[MAX_PLAY_CODECS]; /* what the player accepted */
    size_t n_codecs;
    uint32_t gen;          /* stream generation out_pt was chosen for */
    uint8_t out_pt;        /* 0: cannot receive the current source */
    uint32_t clock;
    bool started;          /* deltas set for the current source */
    bool need_key;
    uint16_t seq_delta;
    uint32_t ts_delta;
    bool have_last;
    uint16_t last_seq;
    uint32_t last_ts;
    uint64_t last_ms;
    uint64_t packets, bytes;
    /* Video: which publisher layer is forwarded (-1 none yet) and which is wanted (switch at
     * its next keyframe); before the last switch, the previous layer's offsets, for NACKs of
     * packets sent before it (seqs older than switch_seq). Audio: always layer 0. */
    int layer, want;
    fo_layer_sw_t sw;
    bool have_prev;
    int prev_layer;
    uint16_t prev_seq_delta, switch_seq;
    uint32_t prev_ts_delta;
    uint64_t switches;
    uint8_t codec_rtx[MAX_PLAY_CODECS]; /* RTX payload type for codecs[i], 0 if none */
    uint8_t rtx_pt;        /* for out_pt; 0: plain retransmission */
    bool nack_fb;          /* the player negotiated NACK for this track */
    uint32_t rtx_ssrc;
    uint16_t rtx_seq;
    int64_t tokens;        /* retransmission budget, bytes */
    uint64_t tokens_ms;
    uint64_t nacks, plis, retransmits, rtx_missed, rtx_limited;
    uint32_t lost, jitter; /* from the player's receiver reports */
    uint8_t fraction_lost; /* of its last report, /256 */
    uint32_t sr_mid[SR_MEMORY];
    uint64_t sr_ms[SR_MEMORY];
    unsigned sr_next;
} play_track_t;

struct fo_session {
    char id[40];
    char ufrag[16];
    char pwd[40];
    char ctx[256];
    fo_role_t role;
    fo_stream_t *stream;
    fo_transport_t *transport;
    size_t index;          /* position in the stream's player array */
    bool ended;
    uint32_t rtcp_ssrc;    /* our SSRC as the sender of feedback */
    pub_track_t *pub;      /* publisher: [KIND_N] (large: NACK lists per layer); NULL for players */
    uint8_t pt_kind[128];  /* publisher: payload type -> kind + 1 (0 = unknown) */
    uint8_t pt_class[128]; /* PT_MEDIA / PT_RTX */
    play_track_t play[KIND_N];
    const char *end_reason; /* static text given to fo_session_end */
    uint32_t rtt_ms;       /* player: from its RRs; publisher: from NACK repairs */
    uint8_t twcc_id;       /* transport-wide-cc extension id, 0 if not negotiated */
    uint8_t rid_id, rrid_id; /* publisher: rtp-stream-id / repaired-rtp-stream-id ids (simulcast) */
    fo_twcc_t *twcc;       /* publisher: feedback we send */
    fo_bwe_t *bwe;         /* player: estimate from its feedback (NULL without TWCC) */
    uint16_t tw_seq;       /* player: next transport-wide sequence number */
    fo_timer_t tick;
    unsigned ticks;
    uint8_t scratch[FO_HISTORY_PKT + 64]; /* unwrapped RTX */
};

struct fo_stream {
    const fo_stream_env_t *env;
    char key[200];
    fo_session_t *publisher;
    fo_session_t **players;
    size_t n_players, cap_players;
    uint32_t gen[KIND_N];  /* per kind: bumps when the publisher or its SSRC changes */
    bool had_publisher;
    uint64_t last_pli_ms[FO_LAYER_MAX]; /* per video layer */
    uint64_t plis_sent;
    /* Per kind and layer. Video: allocated with the layer's first packet. Audio (layer 0
     * only): once a player that negotiated NACK for audio joins (Chrome and Firefox do not
     * offer it for Opus). */
    fo_history_t *hist[KIND_N][FO_LAYER_MAX];
    fo_timer_t pli_timer;
    fo_timer_t grace_timer;
    bool idle_reported;
};

static uint32_t rand32(void)
{
    uint32_t v;
    if (getrandom(&v, sizeof v, 0) != sizeof v) v = (uint32_t)rand();
    return v;
}

/* --- streams --- */

static void stream_maybe_idle(fo_stream_t *st)
{
    if (st->publisher || st->n_players || st->idle_reported) return;
    st->idle_reported = true;
    fo_timer_stop(st->env->transport.loop, &st->pli_timer);
    fo_timer_stop(st->env->transport.loop, &st->grace_timer);
    st->env->stream_idle(st->env->user, st);
}

static void send_pli(fo_stream_t *st, int layer)
{
    fo_session_t *pub = st->publisher;
    pub_track_t *v = pub ? &pub->pub[FO_KIND_VIDEO] : NULL;
    if (!v || !v->active || layer < 0 || (unsigned)layer >= v->n_layers || !v->l[layer].ssrc ||
        !fo_transport_ready(pub->transport))
        return;
    uint8_t buf[32];
    int n = fo_rtcp_build_pli(buf, sizeof buf, pub->rtcp_ssrc, v->l[layer].ssrc);
    if (n > 0 && fo_transport_send_rtcp(pub->transport, buf, (size_t)n) == 0) {
        st->last_pli_ms[layer] = fo_loop_now(st->env->transport.loop);
        st->plis_sent++;
        FO_LOG(FO_LOG_DEBUG, pub->ctx, "PLI sent to publisher (layer %d)", layer);
    }
}

/* The video layer a player waits for a keyframe of (to start or to switch), -1 if none. */
static int waiting_layer(const fo_session_t *p)
{
    const play_track_t *t = &p->play[FO_KIND_VIDEO];
    if (!t->active || !t->out_pt || !fo_transport_ready(p->transport)) return -1;
    if (!t->started) return t->need_key ? (t->want >= 0 ? t->want : 0) : -1;
    return t->want >= 0 && t->want != t->layer ? t->want : -1;
}

static bool players_waiting(const fo_stream_t *st, int layer)
{
    for (size_t i = 0; i < st->n_players; i++)
        if (waiting_layer(st->players[i]) == layer) return true;
    return false;
}

/* Asks the publisher for a keyframe of `layer` now, or as soon as the rate limit allows. */
static void request_keyframe(fo_stream_t *st, int layer)
{
    fo_loop_t *loop = st->env->transport.loop;
    uint64_t now = fo_loop_now(loop);
    if (layer < 0 || layer >= FO_LAYER_MAX) layer = 0;
    if (st->last_pli_ms[layer] && now - st->last_pli_ms[layer] < PLI_MIN_INTERVAL) {
        if (!fo_timer_active(&st->pli_timer))
            fo_timer_start(loop, &st->pli_timer, PLI_MIN_INTERVAL - (now - st->last_pli_ms[layer]));
        return;
    }
    send_pli(st, layer);
    if (!fo_timer_active(&st->pli_timer)) fo_timer_start(loop, &st->pli_timer, PLI_RETRY);
}

static void pli_timer_fired(fo_timer_t *t)
{
    fo_stream_t *st = t->user;
    for (int l = 0; l < FO_LAYER_MAX; l++)
        if (players_waiting(st, l)) request_keyframe(st, l);
    if (st->publisher) fo_transport_flush(st->publisher->transport);
}

static void grace_timer_fired(fo_timer_t *t)
{
    fo_stream_t *st = t->user;
    if (st->publisher) return;
    FO_LOG(FO_LOG_INFO, st->key, "publisher did not return; ending %zu player(s)", st->n_players);
    /* fo_session_end removes the player from the array at once (freeing is deferred). */
    while (st->n_players) fo_session_end(st->players[st->n_players - 1], "publisher left");
}

fo_stream_t *fo_stream_new(const fo_stream_env_t *env, const char *key)
{
    fo_stream_t *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->env = env;
    snprintf(st->key, sizeof st->key, "%s", key);
    st->gen[0] = st->gen[1] = 1;
    fo_timer_init(&st->pli_timer, pli_timer_fired, st);
    fo_timer_init(&st->grace_timer, grace_timer_fired, st);
    return st;
}

void fo_stream_free(fo_stream_t *st)
{
    if (!st) return;
    fo_timer_stop(st->env->transport.loop, &st->pli_timer);
    fo_timer_stop(st->env->transport.loop, &st->grace_timer);
    for (int k = 0; k < KIND_N; k++)
        for (int l = 0; l < FO_LAYER_MAX; l++) fo_history_free(st->hist[k][l]);
    free(st->players);
    free(st);
}

const char *fo_stream_key(const fo_stream_t *st) { return st->key; }
fo_session_t *fo_stream_publisher(const fo_stream_t *st) { return st->publisher; }
size_t fo_stream_players(const fo_stream_t *st) { return st->n_players; }

const fo_sdp_codec_t *fo_stream_codec(const fo_stream_t *st, fo_kind_t kind)
{
    if (!st->publisher || kind >= KIND_N || !st->publisher->pub[kind].active) return NULL;
    return &st->publisher->pub[kind].codec;
}

/* --- sessions --- */

static void session_ctx(fo_session_t *s)
{
    snprintf(s->ctx, sizeof s->ctx, "%s %s %s", s->id, s->role == FO_ROLE_PUBLISH ? "pub" : "play",
             s->stream->key);
}

static void on_closed(void *user, const char *reason)
{
    fo_session_end(user, reason);
}

static void on_address(void *user, const fo_addr_t *addr)
{
    fo_session_t *s = user;
    s->stream->env->session_address(s->stream->env->user, s, addr);
}

static bool instant_start(fo_session_t *p);
static void choose_layer(fo_session_t *p, uint64_t now);

static void on_connected(void *user)
{
    fo_session_t *s = user;
    fo_stream_t *st = s->stream;
    if (s->role == FO_ROLE_PLAY) {
        if (s->play[FO_KIND_VIDEO].active && !instant_start(s)) {
            choose_layer(s, fo_loop_now(st->env->transport.loop));
            request_keyframe(st, s->play[FO_KIND_VIDEO].want);
        }
        return;
    }
    /* A (returning) publisher: players remap onto its codecs and wait for its keyframe. */
    st->gen[FO_KIND_AUDIO]++;
    st->gen[FO_KIND_VIDEO]++;
    for (int k = 0; k < KIND_N; k++)
        for (int l = 0; l < FO_LAYER_MAX; l++)
            if (st->hist[k][l]) fo_history_clear(st->hist[k][l]);
    fo_timer_start(st->env->transport.loop, &s->tick, TICK_MS);
    if (st->n_players)
        for (unsigned l = 0; l < s->pub[FO_KIND_VIDEO].n_layers; l++) request_keyframe(st, (int)l);
}

/* Picks the player's payload type for the stream's current source of `kind`. Rare (a new
 * source), so kept out of line: GCC's split copy of it otherwise trips -Warray-bounds. */
__attribute__((noinline)) static void remap(fo_session_t *p, fo_kind_t kind)
{
    if ((unsigned)kind >= KIND_N) return;
    play_track_t *t = &p->play[kind];
    fo_stream_t *st = p->stream;
    const fo_sdp_codec_t *src = fo_stream_codec(st, kind);
    t->gen = st->gen[kind];
    t->out_pt = 0;
    t->started = false;
    t->need_key = kind == FO_KIND_VIDEO;
    t->layer = t->want = kind == FO_KIND_VIDEO ? -1 : 0;
    t->have_prev = false;
    if (!src) return;
    for (size_t i = 0; i < t->n_codecs; i++) {
        if (fo_sdp_codec_compatible(&t->codecs[i], src)) {
            t->out_pt = t->codecs[i].pt;
            t->rtx_pt = t->rtx_ssrc ? t->codec_rtx[i] : 0;
            t->clock = t->codecs[i].clock ? t->codecs[i].clock : 90000;
            return;
        }
    }
    FO_LOG(FO_LOG_WARN, p->ctx, "cannot receive the publisher's %s: not forwarding %s",
           fo_codec_name(src->codec), kind == FO_KIND_AUDIO ? "audio" : "video");
}

/* Sets the player's seq/ts offsets so that a source packet (seq, ts) continues the player's
 * timeline where it stopped (or starts it at random). */
static void start_track(play_track_t *t, uint16_t seq, uint32_t ts, uint64_t now)
{
    uint16_t next_seq = t->have_last ? (uint16_t)(t->last_seq + 1) : (uint16_t)rand32();
    uint32_t next_ts = t->have_last ? t->last_ts + (uint32_t)((now - t->last_ms) * t->clock / 1000) + 1
                                    : rand32();
    t->seq_delta = (uint16_t)(next_seq - seq);
    t->ts_delta = next_ts - ts;
    t->started = true;
    t->need_key = false;
}

/* Rewrites one source packet onto the player's track and queues it. */
static void send_rewritten(fo_session_t *p, play_track_t *t, const fo_rtp_view_t *v, uint64_t now)
{
    size_t cap;
    uint8_t *slot = fo_transport_slot(p->transport, &cap);
    fo_rtp_rewrite_t rw = {.ssrc = t->ssrc,
                           .pt = t->out_pt,
                           .seq = (uint16_t)(v->seq + t->seq_delta),
                           .ts = v->ts + t->ts_delta,
                           .ext_map = NULL,
                           .tw_id = p->bwe ? p->twcc_id : 0,
                           .tw_seq = p->tw_seq};
    int n = fo_rtp_rewrite(v, &rw, slot, cap - FO_SRTP_MAX_TRAILER);
    if (n <= 0 || fo_transport_commit_rtp(p->transport, slot, (size_t)n) != 0) return;
    if (p->bwe) fo_bwe_on_send(p->bwe, p->tw_seq++, (size_t)n, now);
    if (!t->have_last || fo_seq_diff(rw.seq, t->last_seq) > 0) {
        t->have_last = true;
        t->last_seq = rw.seq;
        t->last_ts = rw.ts;
        t->last_ms = now;
    }
    t->packets++;
    t->bytes += (size_t)n;
}

/* The rank (0 = lowest) of publisher layer `layer`, -1 if none. */
static int rank_of(const pub_track_t *tr, int layer)
{
    for (unsigned i = 0; i < tr->n_layers; i++)
        if (tr->rank[i] == layer) return (int)i;
    return -1;
}

/* Picks the video layer a player should receive (layer.c) from its bandwidth estimate or its
 * explicit choice, and asks for a keyframe of a new one. Without simulcast: layer 0. */
static void choose_layer(fo_session_t *p, uint64_t now)
{
    fo_stream_t *st = p->stream;
    play_track_t *t = &p->play[FO_KIND_VIDEO];
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
    int cur = t->started ? rank_of(tr, t->layer) : -1;
    uint64_t est = p->bwe ? fo_bwe_estimate(p->bwe, now) : 0;
    int r = fo_layer_choose(&t->sw, (int)tr->n_layers, bps, live, cur, est, now);
    if (r < 0) return;
    int want = tr->rank[r];
    if (want == t->want) return;
    FO_LOG(FO_LOG_DEBUG, p->ctx, "layer %d (%s) -> %d (%s): estimate %llu bps", t->layer,
           t->layer >= 0 ? tr->l[t->layer].rid : "-", want, tr->l[want].rid, (unsigned long long)est);
    t->want = want;
    if (!t->started || want != t->layer) request_keyframe(st, want);
}

/* Forwards one parsed publisher packet of `layer` to one player. Video starts, and switches
 * layer, at a keyframe of the wanted layer; seq/ts continue across a switch. */
static void forward(fo_session_t *p, fo_kind_t kind, int layer, const fo_rtp_view_t *v, bool key,
                    uint64_t now)
{
    play_track_t *t = &p->play[kind];
    if (!t->active || !fo_transport_ready(p->transport)) return;
    if (t->gen != p->stream->gen[kind]) remap(p, kind);
    if (!t->out_pt) return;
    if (kind == FO_KIND_VIDEO) {
        if (t->want < 0) choose_layer(p, now);
        bool current = t->started && layer == t->layer;
        if (!current) {
            if (layer != t->want || !key) return;
            if (t->started) { /* a switch: remember the old offsets for late NACKs */
                t->have_prev = true;
                t->prev_layer = t->layer;
                t->prev_seq_delta = t->seq_delta;
                t->prev_ts_delta = t->ts_delta;
                t->switch_seq = (uint16_t)(t->last_seq + 1);
                t->switches++;
            }
            t->layer = layer;
            start_track(t, v->seq, v->ts, now);
        }
    } else if (!t->started) {
        start_track(t, v->seq, v->ts, now);
    }
    send_rewritten(p, t, v, now);
}

/* Instant start: replays the stream's cached keyframe and what followed to a new player, with
 * the cached frames' timestamps squeezed one tick apart so the player decodes them at once and
 * continues live instead of lagging by the cache's age. False when nothing usable is cached. */
static bool instant_start(fo_session_t *p)
{
    fo_stream_t *st = p->stream;
    play_track_t *t = &p->play[FO_KIND_VIDEO];
    uint64_t now = fo_loop_now(st->env->transport.loop);
    uint16_t key, newest;
    if (!st->env->instant_start || !st->publisher || !t->active) return false;
    if (t->gen != st->gen[FO_KIND_VIDEO]) remap(p, FO_KIND_VIDEO);
    if (!t->out_pt || t->started) return false;
    choose_layer(p, now);
    if (t->want < 0) return false;
    fo_history_t *hist = st->hist[FO_KIND_VIDEO][t->want];
    if (!hist || !fo_history_last_key(hist, now, &key, &newest)) return false;
    if ((uint16_t)(newest - key) >= INSTANT_MAX_PKTS) return false;
    uint32_t in_ts = 0, out_ts = 0;
    bool first = true;
    for (uint16_t seq = key;; seq++) {
        size_t len;
        const uint8_t *pkt = fo_history_get(hist, seq, now, &len);
        fo_rtp_view_t v;
        if (pkt && fo_rtp_parse(pkt, len, &v) == 0) {
            if (first) {
                t->layer = t->want;
                start_track(t, v.seq, v.ts, now);
                in_ts = v.ts;
                out_ts = v.ts + t->ts_delta;
                first = false;
            } else if (v.ts != in_ts) {
                in_ts = v.ts;
                out_ts++;
            }
            t->ts_delta = out_ts - v.ts;
            send_rewritten(p, t, &v, now);
        }
        if (seq == newest) break;
    }
    if (first) return false;
    /* Live packets of the newest frame keep its squeezed timestamp; later frames advance by
     * their real distance from it. A packet's seq maps through the unchanged seq_delta. */
    FO_LOG(FO_LOG_DEBUG, p->ctx, "instant start: %u cached packets", (unsigned)(uint16_t)(newest - key + 1));
    return true;
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
static size_t unwrap_publisher_rtx(fo_session_t *s, const fo_rtp_view_t *v, unsigned kind, int *layer)
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
    int n = fo_rtx_unwrap(v, l->ssrc, tr->codec.pt, NULL, s->scratch, sizeof s->scratch, &osn);
    if (n <= 0) return 0;
    l->rtx_packets++;
    *layer = li;
    return (size_t)n;
}

/* The layer of a media packet: by SSRC; a new SSRC is learned from its rid with simulcast, and
 * without simulcast replaces the old one (the sender restarted its track: players restart that
 * track at its next keyframe; learning the first SSRC changes nothing). -1: drop. */
static int publisher_layer(fo_session_t *s, unsigned kind, const fo_rtp_view_t *v)
{
    pub_track_t *tr = &s->pub[kind];
    fo_stream_t *st = s->stream;
    for (unsigned i = 0; i < tr->n_layers; i++)
        if (tr->l[i].ssrc == v->ssrc) return (int)i;
    int li = tr->n_layers > 1 ? layer_by_rid(tr, v, s->rid_id) : 0;
    if (li < 0) return -1; /* simulcast SSRC not announced by a rid yet */
    pub_layer_t *l = &tr->l[li];
    if (l->ssrc) {
        FO_LOG(FO_LOG_INFO, s->ctx, "%s SSRC changed%s%s", kind ? "video" : "audio",
               l->rid[0] ? " for layer " : "", l->rid);
        st->gen[kind]++;
        if (st->hist[kind][li]) fo_history_clear(st->hist[kind][li]);
    } else if (l->rid[0]) {
        FO_LOG(FO_LOG_INFO, s->ctx, "simulcast layer %s is SSRC %u", l->rid, (unsigned)v->ssrc);
    }
    l->ssrc = v->ssrc;
    fo_nack_init(&l->nack);
    memset(&l->rx, 0, sizeof l->rx);
    return li;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_publisher_rtp(fo_session_t *s, uint8_t *buf, size_t len)
{
    fo_rtp_view_t v;
    if (fo_rtp_parse(buf, len, &v) != 0) return;
    int64_t arrival_us = 0;
    if (s->twcc) {
        /* Every packet counts for bandwidth estimation, padding and RTX included. */
        const uint8_t *d;
        size_t dl;
        arrival_us = now_us();
        if (fo_rtp_ext_find(&v, s->twcc_id, &d, &dl) == 0 && dl >= 2)
            fo_twcc_on_packet(s->twcc, (uint16_t)(d[0] << 8 | d[1]), arrival_us);
    }
    if (v.pt >= 128 || !s->pt_kind[v.pt]) return;
    unsigned kind = s->pt_kind[v.pt] - 1u;
    if (kind >= KIND_N) return;
    pub_track_t *tr = &s->pub[kind];
    fo_stream_t *st = s->stream;
    uint64_t now = fo_loop_now(st->env->transport.loop);
    int li;
    if (s->pt_class[v.pt] == PT_RTX) {
        size_t n = unwrap_publisher_rtx(s, &v, kind, &li);
        if (!n || fo_rtp_parse(s->scratch, n, &v) != 0) return;
        buf = s->scratch;
        len = n;
    } else if ((li = publisher_layer(s, kind, &v)) < 0) {
        return;
    }
    pub_layer_t *l = &tr->l[li];
    fo_nack_result_t r = fo_nack_on_packet(&l->nack, v.seq, now);
    if (r == FO_NACK_DUPLICATE) {
        l->duplicates++;
        return;
    }
    if (!arrival_us) arrival_us = now_us();
    uint32_t clock = tr->codec.clock ? tr->codec.clock : 90000;
    fo_rxstats_update(&l->rx, v.seq, v.ts, arrival_us * clock / 1000000, r == FO_NACK_NEW);
    l->packets++;
    l->bytes += len;
    l->last_ms = now;
    if (!tr->first_ms) tr->first_ms = now;
    if (v.payload_len == 0) return; /* padding-only */
    bool key = kind == FO_KIND_VIDEO && fo_rtp_is_keyframe(tr->codec.codec, v.payload, v.payload_len);
    fo_history_t **h = &st->hist[kind][li];
    if (kind == FO_KIND_VIDEO && !*h) *h = fo_history_new(HISTORY_SLOTS, HISTORY_AGE_MS);
    if (*h) fo_history_put(*h, v.seq, buf, len, key, now);
    for (size_t i = 0; i < st->n_players; i++) forward(st->players[i], kind, li, &v, key, now);
}

/* --- feedback to the publisher (timer) --- */

static void send_nacks(fo_session_t *s, const pub_track_t *tr, pub_layer_t *l, uint64_t now)
{
    uint16_t seqs[FO_NACK_MAX];
    size_t n = fo_nack_collect(&l->nack, now, seqs, FO_ARRAY_LEN(seqs));
    if (!n || !tr->nack_fb) return;
    uint8_t buf[1200];
    int len = fo_rtcp_build_nack(buf, sizeof buf, s->rtcp_ssrc, l->ssrc, seqs, n);
    if (len > 0 && fo_transport_send_rtcp(s->transport, buf, (size_t)len) == 0) l->nacks_sent++;
    FO_LOG(FO_LOG_TRACE, s->ctx, "NACK to publisher: %zu seq(s) from %u", n, seqs[0]);
}

static void send_reports(fo_session_t *s, uint64_t now)
{
    uint8_t buf[512];
    fo_rtcp_report_t r[KIND_N * FO_LAYER_MAX];
    uint32_t ssrcs[KIND_N * FO_LAYER_MAX];
    size_t n = 0, ns = 0;
    for (int k = 0; k < KIND_N; k++) {
        pub_track_t *tr = &s->pub[k];
        for (unsigned i = 0; tr->active && i < tr->n_layers; i++) {
            pub_layer_t *l = &tr->l[i];
            if (!l->ssrc) continue;
            fo_rxstats_report(&l->rx, l->ssrc, now, &r[n++]);
            ssrcs[ns++] = l->ssrc;
        }
    }
    if (!n) return;
    int len = fo_rtcp_build_rr(buf, sizeof buf, s->rtcp_ssrc, r, n);
    if (len <= 0) return;
    int max = s->stream->env->max_bitrate_kbps;
    if (max > 0) {
        int m = fo_rtcp_build_remb(buf + len, sizeof buf - (size_t)len, s->rtcp_ssrc,
                                   (uint64_t)max * 1000, ssrcs, ns);
        if (m > 0) len += m;
    }
    fo_transport_send_rtcp(s->transport, buf, (size_t)len);
}

/* Each second: every layer's bitrate, and the layers ranked by it. The rank starts in the
 * offer's a=simulcast order (low to high, as sendEncodings usually are); it changes only when
 * the bitrates have disagreed with it clearly (by 25%) for RERANK_SECONDS in a row, so a
 * publisher listing its layers high to low is set right within seconds, while the ramp-up
 * (where a small layer's keyframes can outweigh a bigger layer) does not move players. */
static void measure_layers(pub_track_t *tr)
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

static void publisher_tick(fo_timer_t *timer)
{
    fo_session_t *s = timer->user;
    fo_loop_t *loop = s->stream->env->transport.loop;
    if (s->ended || !fo_transport_ready(s->transport)) return;
    uint64_t now = fo_loop_now(loop);
    s->ticks++;
    for (int k = 0; k < KIND_N; k++)
        for (unsigned i = 0; s->pub[k].active && i < s->pub[k].n_layers; i++)
            if (s->pub[k].l[i].ssrc) send_nacks(s, &s->pub[k], &s->pub[k].l[i], now);
    if (s->twcc && s->ticks % TWCC_EVERY == 0) {
        uint8_t buf[1200];
        uint32_t media = s->pub[FO_KIND_VIDEO].l[0].ssrc ? s->pub[FO_KIND_VIDEO].l[0].ssrc
                                                          : s->pub[FO_KIND_AUDIO].l[0].ssrc;
        for (int i = 0; i < 8; i++) {
            int n = fo_twcc_build(s->twcc, s->rtcp_ssrc, media, buf, sizeof buf);
            if (n <= 0) break;
            fo_transport_send_rtcp(s->transport, buf, (size_t)n);
        }
    }
    if (s->ticks % RR_EVERY == 1) {
        send_reports(s, now);
        measure_layers(&s->pub[FO_KIND_VIDEO]);
    }
    if (s->pub[FO_KIND_VIDEO].n_layers > 1 && s->ticks % CHOOSE_EVERY == 0)
        for (size_t i = 0; i < s->stream->n_players; i++) choose_layer(s->stream->players[i], now);
    fo_transport_flush(s->transport);
    fo_timer_start(loop, &s->tick, TICK_MS);
}

/* --- players' feedback --- */

/* Answers one NACKed sequence number (the player's numbering) from the stream's history, as
 * RTX when the player takes it, within the player's retransmission budget. */
static void retransmit(fo_session_t *p, fo_kind_t kind, uint16_t seq, uint64_t now)
{
    fo_stream_t *st = p->stream;
    play_track_t *t = &p->play[kind];
    if (!t->started || t->gen != st->gen[kind]) return;
    int layer = kind == FO_KIND_VIDEO ? t->layer : 0;
    uint16_t seq_delta = t->seq_delta;
    uint32_t ts_delta = t->ts_delta;
    if (kind == FO_KIND_VIDEO && t->have_prev && fo_seq_diff(seq, t->switch_seq) < 0) {
        layer = t->prev_layer; /* sent before the last layer switch */
        seq_delta = t->prev_seq_delta;
        ts_delta = t->prev_ts_delta;
    }
    size_t len;
    const uint8_t *pkt = NULL;
    if (layer >= 0 && st->hist[kind][layer])
        pkt = fo_history_get(st->hist[kind][layer], (uint16_t)(seq - seq_delta), now, &len);
    fo_rtp_view_t v;
    if (!pkt || fo_rtp_parse(pkt, len, &v) != 0) {
        t->rtx_missed++;
        return;
    }
    /* A lossy player loses retransmissions too, and a receiver retries a NACK only after its
     * RTT estimate (Chrome's default when it only receives: 100 ms), which shows as a freeze:
     * send a second copy when its last report said it loses DUP_RTX_LOSS or more. */
    int copies = t->fraction_lost >= DUP_RTX_LOSS ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        if (t->tokens < (int64_t)len) {
            t->rtx_limited++;
            return;
        }
        t->tokens -= (int64_t)len;
        size_t cap;
        uint8_t *slot = fo_transport_slot(p->transport, &cap);
        fo_rtp_rewrite_t rw = {.ssrc = t->ssrc, .pt = t->out_pt, .seq = seq, .ts = v.ts + ts_delta,
                               .tw_id = p->bwe ? p->twcc_id : 0, .tw_seq = p->tw_seq};
        int n;
        if (t->rtx_pt) {
            rw.ssrc = t->rtx_ssrc;
            rw.pt = t->rtx_pt;
            rw.seq = t->rtx_seq++;
            n = fo_rtx_wrap(&v, &rw, seq, slot, cap - FO_SRTP_MAX_TRAILER);
        } else {
            n = fo_rtp_rewrite(&v, &rw, slot, cap - FO_SRTP_MAX_TRAILER);
        }
        if (n <= 0 || fo_transport_commit_rtp(p->transport, slot, (size_t)n) != 0) return;
        t->retransmits++;
        if (p->bwe) fo_bwe_on_send(p->bwe, p->tw_seq++, (size_t)n, now);
    }
}

static void on_player_nack(fo_session_t *p, const fo_rtcp_pkt_t *pk)
{
    fo_kind_t kind = FO_KIND_VIDEO;
    if (p->play[FO_KIND_AUDIO].active && pk->media_ssrc == p->play[FO_KIND_AUDIO].ssrc)
        kind = FO_KIND_AUDIO;
    play_track_t *t = &p->play[kind];
    if (!t->active || pk->media_ssrc != t->ssrc) return;
    t->nacks++;
    uint64_t now = fo_loop_now(p->stream->env->transport.loop);
    /* Token bucket: half the stream's ceiling (or RTX_MIN_RATE) per second, 250 ms of burst. */
    int64_t rate = (int64_t)p->stream->env->max_bitrate_kbps * 125 / 2;
    if (rate < RTX_MIN_RATE) rate = RTX_MIN_RATE;
    t->tokens += (int64_t)(now - t->tokens_ms) * rate / 1000;
    if (t->tokens > rate / 4) t->tokens = rate / 4;
    t->tokens_ms = now;
    uint16_t seqs[256];
    size_t n = fo_rtcp_nack_seqs(pk, seqs, FO_ARRAY_LEN(seqs));
    for (size_t i = 0; i < n; i++) retransmit(p, kind, seqs[i], now);
}

/* A player's RR: loss and jitter as it sees them, and RTT from the SR it echoes (RFC 3550
 * §6.4.1; we remember when we sent each SR since its NTP time is the publisher's clock). */
static void on_player_rr(fo_session_t *p, const fo_rtcp_pkt_t *pk)
{
    uint64_t now = fo_loop_now(p->stream->env->transport.loop);
    for (unsigned i = 0; i < pk->count; i++) {
        fo_rtcp_report_t r;
        if (fo_rtcp_report_get(pk, i, &r) != 0) break;
        for (int k = 0; k < KIND_N; k++) {
            play_track_t *t = &p->play[k];
            if (!t->active || r.ssrc != t->ssrc) continue;
            t->lost = r.cumulative_lost > 0 ? (uint32_t)r.cumulative_lost : 0;
            t->fraction_lost = r.fraction_lost;
            t->jitter = r.jitter;
            if (!r.lsr) continue;
            for (unsigned j = 0; j < SR_MEMORY; j++) {
                if (t->sr_mid[j] != r.lsr || !t->sr_ms[j]) continue;
                int64_t rtt = (int64_t)(now - t->sr_ms[j]) - (int64_t)((uint64_t)r.dlsr * 1000 / 65536);
                if (rtt >= 0 && rtt < 60000) p->rtt_ms = (uint32_t)(rtt ? rtt : 1);
            }
        }
    }
}

/* Publisher SR: re-issue it to each player on the player's SSRC and timeline (A/V sync). */
static void relay_sr(fo_session_t *pub, const fo_rtcp_pkt_t *p)
{
    fo_stream_t *st = pub->stream;
    uint64_t now = fo_loop_now(st->env->transport.loop);
    int kind = -1, layer = -1;
    for (int k = 0; k < KIND_N; k++)
        for (unsigned i = 0; pub->pub[k].active && i < pub->pub[k].n_layers; i++)
            if (pub->pub[k].l[i].ssrc == p->sender_ssrc) {
                kind = k;
                layer = (int)i;
            }
    if (kind < 0) return;
    fo_rxstats_on_sr(&pub->pub[kind].l[layer].rx, p->ntp, now);
    for (size_t i = 0; i < st->n_players; i++) {
        fo_session_t *pl = st->players[i];
        play_track_t *t = &pl->play[kind];
        if (!t->active || !t->started || t->gen != st->gen[kind] || !fo_transport_ready(pl->transport))
            continue;
        if (kind == FO_KIND_VIDEO && t->layer != layer) continue; /* its timestamps are another layer's */
        size_t cap;
        uint8_t *slot = fo_transport_slot(pl->transport, &cap);
        int n = fo_rtcp_build_sr(slot, cap - FO_SRTP_MAX_TRAILER, t->ssrc, p->ntp,
                                 p->rtp_ts + t->ts_delta, (uint32_t)t->packets, (uint32_t)t->bytes,
                                 NULL, 0);
        if (n > 0 && fo_transport_commit_rtcp(pl->transport, slot, (size_t)n) == 0) {
            t->sr_mid[t->sr_next] = (uint32_t)(p->ntp >> 16);
            t->sr_ms[t->sr_next] = now;
            t->sr_next = (t->sr_next + 1) % SR_MEMORY;
        }
    }
}

static void on_rtcp(void *user, uint8_t *buf, size_t len)
{
    fo_session_t *s = user;
    fo_rtcp_pkt_t pkts[16];
    size_t n = 0;
    int rc = fo_rtcp_parse(buf, len, pkts, FO_ARRAY_LEN(pkts), &n);
    if (rc != 0 && rc != FO_ETOOBIG) return;
    for (size_t i = 0; i < n; i++) {
        const fo_rtcp_pkt_t *p = &pkts[i];
        if (s->role == FO_ROLE_PUBLISH) {
            if (p->pt == FO_RTCP_SR) relay_sr(s, p);
            continue;
        }
        if ((p->pt == FO_RTCP_PSFB && p->count == FO_RTCP_FMT_PLI) ||
            (p->pt == FO_RTCP_PSFB && p->count == FO_RTCP_FMT_FIR)) {
            FO_LOG(FO_LOG_DEBUG, s->ctx, "player asked for a keyframe");
            s->play[FO_KIND_VIDEO].plis++;
            request_keyframe(s->stream, s->play[FO_KIND_VIDEO].layer >= 0 ? s->play[FO_KIND_VIDEO].layer : 0);
        } else if (p->pt == FO_RTCP_RTPFB && p->count == FO_RTCP_FMT_NACK) {
            on_player_nack(s, p);
        } else if (p->pt == FO_RTCP_RR || p->pt == FO_RTCP_SR) {
            on_player_rr(s, p);
        } else if (s->bwe && p->pt == FO_RTCP_RTPFB && p->count == FO_RTCP_FMT_TWCC) {
            fo_bwe_on_feedback(s->bwe, p->fci, p->fci_len, fo_loop_now(s->stream->env->transport.loop));
        } else if (s->bwe && p->pt == FO_RTCP_PSFB && p->count == FO_RTCP_FMT_AFB) {
            uint64_t bps;
            uint32_t ssrcs[4];
            size_t ns;
            if (fo_rtcp_remb_get(p, &bps, ssrcs, FO_ARRAY_LEN(ssrcs), &ns) == 0)
                fo_bwe_on_remb(s->bwe, bps, fo_loop_now(s->stream->env->transport.loop));
        }
    }
}

static void on_rtp(void *user, uint8_t *buf, size_t len)
{
    fo_session_t *s = user;
    if (s->role == FO_ROLE_PUBLISH) on_publisher_rtp(s, buf, len);
}

static const fo_transport_cbs_t session_cbs = {
    .on_connected = on_connected,
    .on_rtp = on_rtp,
    .on_rtcp = on_rtcp,
    .on_closed = on_closed,
    .on_address = on_address,
};

static int add_player(fo_stream_t *st, fo_session_t *s)
{
    if (st->n_players == st->cap_players) {
        size_t cap = st->cap_players ? st->cap_players * 2 : 8;
        fo_session_t **p = realloc(st->players, cap * sizeof *p);
        if (!p) return FO_ENOMEM;
        st->players = p;
        st->cap_players = cap;
    }
    s->index = st->n_players;
    st->players[st->n_players++] = s;
    return 0;
}

static void remove_player(fo_stream_t *st, fo_session_t *s)
{
    size_t i = s->index;
    if (i >= st->n_players || st->players[i] != s) return;
    st->players[i] = st->players[--st->n_players];
    st->players[i]->index = i;
}

/* The id of extension `uri` if we kept it in the answer (the same on every bundled m-line). */
static uint8_t kept_ext_id(const fo_sdp_t *offer, const fo_sdp_answer_t *ans, const char *uri)
{
    for (size_t m = 0; m < offer->n_media; m++) {
        const fo_sdp_answer_media_t *am = &ans->media[m];
        if (!am->accept) continue;
        for (size_t i = 0; i < offer->media[m].n_ext; i++) {
            const fo_sdp_ext_t *e = &offer->media[m].ext[i];
            if (strcmp(e->uri, uri) != 0) continue;
            for (size_t j = 0; j < am->n_ext; j++)
                if (am->ext_ids[j] == e->id) return e->id;
        }
    }
    return 0;
}

/* First accepted media of each kind. */
static void tracks_from_answer(fo_session_t *s, const fo_sdp_t *offer, const fo_sdp_answer_t *ans)
{
    for (size_t m = 0; m < offer->n_media; m++) {
        const fo_sdp_media_t *om = &offer->media[m];
        const fo_sdp_answer_media_t *am = &ans->media[m];
        if (!am->accept || om->kind > FO_KIND_VIDEO) continue;
        fo_kind_t kind = om->kind;
        if (s->role == FO_ROLE_PUBLISH) {
            pub_track_t *t = &s->pub[kind];
            if (t->active) continue;
            for (size_t i = 0; i < am->n_pts; i++) {
                const fo_sdp_codec_t *c = fo_sdp_codec_by_pt(om, am->pts[i]);
                if (!c || c->pt >= 128) continue;
                bool rtx = c->codec == FO_CODEC_RTX;
                if (!rtx && !t->active) {
                    t->codec = *c;
                    t->active = true;
                    t->nack_fb = (c->fb & FO_FB_NACK) && (am->fb_mask & FO_FB_NACK);
                    t->n_layers = am->n_rids > 1 ? (unsigned)am->n_rids : 1;
                    if (t->n_layers > FO_LAYER_MAX) t->n_layers = FO_LAYER_MAX;
                    for (unsigned l = 0; l < FO_LAYER_MAX; l++) {
                        t->rank[l] = (uint8_t)l;
                        fo_nack_init(&t->l[l].nack);
                        if (am->n_rids > 1 && l < t->n_layers)
                            snprintf(t->l[l].rid, sizeof t->l[l].rid, "%s", am->rids[l]);
                    }
                } else if (rtx && t->active && c->apt == t->codec.pt) {
                    t->rtx_pt = c->pt;
                } else {
                    continue;
                }
                s->pt_kind[c->pt] = (uint8_t)(kind + 1);
                s->pt_class[c->pt] = rtx ? PT_RTX : PT_MEDIA;
            }
        } else {
            play_track_t *t = &s->play[kind];
            if (t->active) continue;
            t->active = true;
            t->ssrc = am->ssrc;
            t->rtx_ssrc = am->rtx_ssrc;
            t->rtx_seq = (uint16_t)rand32();
            t->need_key = kind == FO_KIND_VIDEO;
            t->layer = t->want = kind == FO_KIND_VIDEO ? -1 : 0;
            fo_layer_init(&t->sw, -1);
            for (size_t i = 0; i < am->n_pts && t->n_codecs < MAX_PLAY_CODECS; i++) {
                const fo_sdp_codec_t *c = fo_sdp_codec_by_pt(om, am->pts[i]);
                if (!c || c->codec == FO_CODEC_RTX) continue;
                if ((c->fb & FO_FB_NACK) && (am->fb_mask & FO_FB_NACK)) t->nack_fb = true;
                uint8_t rtx = fo_sdp_rtx_for(om, c->pt);
                bool taken = false;
                for (size_t j = 0; j < am->n_pts && rtx; j++) taken |= am->pts[j] == rtx;
                t->codec_rtx[t->n_codecs] = taken ? rtx : 0;
                t->codecs[t->n_codecs++] = *c;
            }
        }
    }
}

const char *fo_stream_check_player(const fo_stream_t *st, const fo_sdp_t *offer,
                                   const fo_sdp_answer_t *ans)
{
    static char why[64];
    for (int kind = 0; kind < KIND_N; kind++) {
        const fo_sdp_codec_t *src = fo_stream_codec(st, (fo_kind_t)kind);
        if (!src) continue;
        bool found = false, has_kind = false;
        for (size_t m = 0; m < offer->n_media && !found; m++) {
            /* Any live m-line of this kind counts as wanting it, accepted or not: a player that
             * asked for video it cannot decode gets an error, not a silent audio-only stream. */
            if (offer->media[m].kind != (fo_kind_t)kind || offer->media[m].port == 0) continue;
            has_kind = true;
            if (!ans->media[m].accept) continue;
            for (size_t i = 0; i < ans->media[m].n_pts && !found; i++) {
                const fo_sdp_codec_t *c = fo_sdp_codec_by_pt(&offer->media[m], ans->media[m].pts[i]);
                found = c && fo_sdp_codec_compatible(c, src);
            }
        }
        if (has_kind && !found) {
            snprintf(why, sizeof why, "player cannot receive the stream's %s", fo_codec_name(src->codec));
            return why;
        }
    }
    return NULL;
}

fo_session_t *fo_session_new(fo_stream_t *st, fo_role_t role, const char *id,
                             const fo_sdp_t *offer, const fo_sdp_answer_t *ans, int *err)
{
    if (role == FO_ROLE_PUBLISH && st->publisher) {
        *err = FO_EBUSY;
        return NULL;
    }
    fo_session_t *s = calloc(1, sizeof *s);
    if (s && role == FO_ROLE_PUBLISH && !(s->pub = calloc(KIND_N, sizeof *s->pub))) {
        free(s);
        s = NULL;
    }
    if (!s) {
        *err = FO_ENOMEM;
        return NULL;
    }
    s->role = role;
    s->stream = st;
    s->rtcp_ssrc = rand32();
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->ufrag, sizeof s->ufrag, "%s", ans->ice_ufrag);
    snprintf(s->pwd, sizeof s->pwd, "%s", ans->ice_pwd);
    session_ctx(s);
    tracks_from_answer(s, offer, ans);
    if (role == FO_ROLE_PLAY && s->play[FO_KIND_AUDIO].nack_fb && !st->hist[FO_KIND_AUDIO][0])
        st->hist[FO_KIND_AUDIO][0] = fo_history_new(AUDIO_HISTORY_SLOTS, HISTORY_AGE_MS);
    fo_timer_init(&s->tick, publisher_tick, s);
    s->rid_id = kept_ext_id(offer, ans, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id");
    s->rrid_id = kept_ext_id(offer, ans, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id");
    s->twcc_id = kept_ext_id(offer, ans, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01");
    if (s->twcc_id) {
        if (role == FO_ROLE_PUBLISH) {
            if ((s->twcc = malloc(sizeof *s->twcc))) fo_twcc_init(s->twcc);
        } else if ((s->bwe = malloc(sizeof *s->bwe))) {
            fo_bwe_init(s->bwe, fo_loop_now(st->env->transport.loop));
            s->tw_seq = (uint16_t)rand32();
        }
        if (!s->twcc && !s->bwe) {
            free(s);
            *err = FO_ENOMEM;
            return NULL;
        }
    }
    const fo_sdp_media_t *first = NULL;
    for (size_t m = 0; m < offer->n_media && !first; m++)
        if (ans->media[m].accept) first = &offer->media[m];
    if (!first) {
        free(s->twcc);
        free(s->bwe);
        free(s->pub);
        free(s);
        *err = FO_ECODEC;
        return NULL;
    }
    s->transport = fo_transport_new(&st->env->transport, first->fp_alg, first->fp, &session_cbs, s, s->ctx);
    if (!s->transport) {
        free(s->twcc);
        free(s->bwe);
        free(s->pub);
        free(s);
        *err = FO_ECRYPTO;
        return NULL;
    }
    if (role == FO_ROLE_PUBLISH) {
        st->publisher = s;
        st->had_publisher = true;
        fo_timer_stop(st->env->transport.loop, &st->grace_timer);
    } else if (add_player(st, s) != 0) {
        fo_transport_free(s->transport);
        free(s->twcc);
        free(s->bwe);
        free(s->pub);
        free(s);
        *err = FO_ENOMEM;
        return NULL;
    }
    st->idle_reported = false;
    FO_LOG(FO_LOG_INFO, s->ctx, "session created");
    return s;
}

void fo_session_end(fo_session_t *s, const char *reason)
{
    if (s->ended) return;
    s->ended = true;
    s->end_reason = reason;
    fo_stream_t *st = s->stream;
    fo_timer_stop(st->env->transport.loop, &s->tick);
    fo_session_info_t si; /* the totals, for operators and for fanout-bench's test */
    fo_session_info(s, &si);
    FO_LOG(FO_LOG_INFO, s->ctx, "session ended: %s (rtp audio %llu video %llu, udp rx %llu tx %llu)",
           reason, (unsigned long long)si.track[FO_KIND_AUDIO].packets,
           (unsigned long long)si.track[FO_KIND_VIDEO].packets, (unsigned long long)si.rx_packets,
           (unsigned long long)si.tx_packets);
    fo_transport_close(s->transport);
    if (s->role == FO_ROLE_PUBLISH && st->publisher == s) {
        st->publisher = NULL;
        st->gen[FO_KIND_AUDIO]++;
        st->gen[FO_KIND_VIDEO]++;
        if (st->n_players && st->env->publisher_grace_ms >= 0)
            fo_timer_start(st->env->transport.loop, &st->grace_timer,
                           (uint64_t)st->env->publisher_grace_ms);
    } else if (s->role == FO_ROLE_PLAY) {
        remove_player(st, s);
    }
    st->env->session_ended(st->env->user, s);
    stream_maybe_idle(st);
}

void fo_session_free(fo_session_t *s)
{
    if (!s) return;
    if (!s->ended) {
        /* Freed without ending (shutdown): detach quietly. */
        s->ended = true;
        fo_transport_close(s->transport);
        if (s->stream->publisher == s) s->stream->publisher = NULL;
        else if (s->role == FO_ROLE_PLAY) remove_player(s->stream, s);
    }
    fo_timer_stop(s->stream->env->transport.loop, &s->tick);
    fo_transport_free(s->transport);
    free(s->twcc);
    free(s->bwe);
    free(s->pub);
    free(s);
}

const char *fo_session_id(const fo_session_t *s) { return s->id; }
const char *fo_session_ufrag(const fo_session_t *s) { return s->ufrag; }
const char *fo_session_pwd(const fo_session_t *s) { return s->pwd; }
fo_role_t fo_session_role(const fo_session_t *s) { return s->role; }
fo_stream_t *fo_session_stream(const fo_session_t *s) { return s->stream; }
fo_transport_t *fo_session_transport(const fo_session_t *s) { return s->transport; }

void fo_session_set_layer(fo_session_t *s, int rank)
{
    play_track_t *t = &s->play[FO_KIND_VIDEO];
    if (s->role != FO_ROLE_PLAY) return;
    t->sw.forced = rank >= 0 && rank < FO_LAYER_MAX ? rank : -1;
    if (t->started) choose_layer(s, fo_loop_now(s->stream->env->transport.loop));
}

void fo_session_info(const fo_session_t *s, fo_session_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->layer = out->layer_target = -1;
    out->id = s->id;
    out->stream_key = s->stream->key;
    out->role = s->role;
    out->state = fo_transport_state(s->transport);
    const fo_addr_t *a = fo_transport_addr(s->transport);
    if (a) out->remote = *a;
    const fo_transport_stats_t *ts = fo_transport_stats(s->transport);
    out->created_ms = ts->created_ms;
    out->connected_ms = ts->connected_ms;
    out->rx_packets = ts->rx_packets;
    out->rx_bytes = ts->rx_bytes;
    out->tx_packets = ts->tx_packets;
    out->tx_bytes = ts->tx_bytes;
    out->rx_dropped = ts->rx_dropped;
    if (s->bwe) {
        uint64_t now = fo_loop_now(s->stream->env->transport.loop);
        out->estimate_bps = fo_bwe_estimate(s->bwe, now);
        out->delivery_bps = s->bwe->delivery_bps;
        out->est_loss_permille = s->bwe->loss_permille;
        out->est_queue_ms = s->bwe->queue_ms;
    }
    for (int k = 0; k < KIND_N; k++) {
        fo_track_info_t *t = &out->track[k];
        if (s->role == FO_ROLE_PUBLISH) {
            const pub_track_t *p = &s->pub[k];
            t->active = p->active;
            t->codec = p->codec.codec;
            /* Simulcast layers add up; the SSRC and jitter are the lowest layer's. */
            const pub_layer_t *low = &p->l[p->rank[0]];
            t->ssrc = low->ssrc;
            t->jitter = fo_rxstats_jitter(&low->rx);
            for (unsigned i = 0; i < p->n_layers; i++) {
                const pub_layer_t *l = &p->l[i];
                t->packets += l->packets;
                t->bytes += l->bytes;
                t->lost += fo_rxstats_lost(&l->rx);
                t->nacks += l->nacks_sent;
                t->retransmits += l->rtx_packets;
                t->recovered += l->nack.recovered;
                if (k == FO_KIND_VIDEO && l->nack.recovered) out->rtt_ms = l->nack.rtt_ms;
            }
            t->plis = k == FO_KIND_VIDEO ? s->stream->plis_sent : 0;
            if (k == FO_KIND_VIDEO && p->n_layers > 1) {
                out->n_layers = p->n_layers;
                for (unsigned r = 0; r < p->n_layers; r++) {
                    const pub_layer_t *l = &p->l[p->rank[r]];
                    snprintf(out->layers[r].rid, sizeof out->layers[r].rid, "%s", l->rid);
                    out->layers[r].ssrc = l->ssrc;
                    out->layers[r].bps = l->bps;
                    out->layers[r].packets = l->packets;
                }
            }
        } else {
            const play_track_t *p = &s->play[k];
            t->active = p->active;
            const fo_sdp_codec_t *src = fo_stream_codec(s->stream, (fo_kind_t)k);
            t->codec = p->out_pt && src ? src->codec : FO_CODEC_NONE;
            t->ssrc = p->ssrc;
            t->packets = p->packets;
            t->bytes = p->bytes;
            t->lost = p->lost;
            t->jitter = p->jitter;
            t->nacks = p->nacks;
            t->plis = p->plis;
            t->retransmits = p->retransmits;
            const fo_session_t *pub = s->stream->publisher;
            if (k == FO_KIND_VIDEO && pub && pub->pub[k].n_layers > 1) {
                out->n_layers = pub->pub[k].n_layers;
                out->layer = p->started && p->layer >= 0 ? rank_of(&pub->pub[k], p->layer) : -1;
                out->layer_target = p->want >= 0 ? rank_of(&pub->pub[k], p->want) : -1;
                out->layer_switches = p->switches;
            }
            t->rtx_limited = p->rtx_limited;
            t->rtx_missed = p->rtx_missed;
            out->rtt_ms = s->rtt_ms;
        }
    }
}

fo_session_t *const *fo_stream_player_list(const fo_stream_t *st, size_t *n)
{
    *n = st->n_players;
    return st->players;
}

const char *fo_session_end_reason(const fo_session_t *s) { return s->end_reason; }
