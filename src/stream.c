/* SPDX-License-Identifier: MIT */
/* Publish/play media logic. The hot path is on_publisher_rtp: parse once, then per player a
 * rewrite straight into a send slot, SRTP-protect in place, queue for sendmmsg. No allocation
 * per packet; players are kept in a flat array for a cache-friendly loop. */
#include "fanout/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"

#define KIND_N 2             /* audio, video */
#define PLI_MIN_INTERVAL 500 /* ms between keyframe requests to one publisher */
#define PLI_RETRY 1000       /* ms before asking again while a player still waits */
#define MAX_PLAY_CODECS 12

enum { PT_NONE = 0, PT_MEDIA = 1, PT_RTX = 2 };

typedef struct {
    bool active;
    fo_sdp_codec_t codec;
    uint8_t rtx_pt;
    uint32_t ssrc;         /* learned from the first packet */
    uint64_t packets, bytes;
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
    pub_track_t pub[KIND_N];
    uint8_t pt_kind[128];  /* publisher: payload type -> kind + 1 (0 = unknown) */
    uint8_t pt_class[128]; /* PT_MEDIA / PT_RTX */
    play_track_t play[KIND_N];
    const char *end_reason; /* static text given to fo_session_end */
};

struct fo_stream {
    const fo_stream_env_t *env;
    char key[200];
    fo_session_t *publisher;
    fo_session_t **players;
    size_t n_players, cap_players;
    uint32_t gen[KIND_N];  /* per kind: bumps when the publisher or its SSRC changes */
    bool had_publisher;
    uint64_t last_pli_ms;
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

static void send_pli(fo_stream_t *st)
{
    fo_session_t *pub = st->publisher;
    pub_track_t *v = pub ? &pub->pub[FO_KIND_VIDEO] : NULL;
    if (!v || !v->active || !v->ssrc || !fo_transport_ready(pub->transport)) return;
    uint8_t buf[32];
    int n = fo_rtcp_build_pli(buf, sizeof buf, pub->rtcp_ssrc, v->ssrc);
    if (n > 0 && fo_transport_send_rtcp(pub->transport, buf, (size_t)n) == 0) {
        st->last_pli_ms = fo_loop_now(st->env->transport.loop);
        FO_LOG(FO_LOG_DEBUG, pub->ctx, "PLI sent to publisher");
    }
}

static bool players_waiting(const fo_stream_t *st)
{
    for (size_t i = 0; i < st->n_players; i++) {
        const play_track_t *t = &st->players[i]->play[FO_KIND_VIDEO];
        if (t->active && t->need_key && t->out_pt && fo_transport_ready(st->players[i]->transport))
            return true;
    }
    return false;
}

/* Asks the publisher for a keyframe now, or as soon as the rate limit allows. */
static void request_keyframe(fo_stream_t *st)
{
    fo_loop_t *loop = st->env->transport.loop;
    uint64_t now = fo_loop_now(loop);
    if (st->last_pli_ms && now - st->last_pli_ms < PLI_MIN_INTERVAL) {
        if (!fo_timer_active(&st->pli_timer))
            fo_timer_start(loop, &st->pli_timer, PLI_MIN_INTERVAL - (now - st->last_pli_ms));
        return;
    }
    send_pli(st);
    fo_timer_start(loop, &st->pli_timer, PLI_RETRY);
}

static void pli_timer_fired(fo_timer_t *t)
{
    fo_stream_t *st = t->user;
    if (players_waiting(st)) request_keyframe(st);
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

static void on_connected(void *user)
{
    fo_session_t *s = user;
    fo_stream_t *st = s->stream;
    if (s->role == FO_ROLE_PLAY) {
        if (s->play[FO_KIND_VIDEO].active) request_keyframe(st);
        return;
    }
    /* A (returning) publisher: players remap onto its codecs and wait for its keyframe. */
    st->gen[FO_KIND_AUDIO]++;
    st->gen[FO_KIND_VIDEO]++;
    if (st->n_players) request_keyframe(st);
}

/* Picks the player's payload type for the stream's current source of `kind`. */
static void remap(fo_session_t *p, fo_kind_t kind)
{
    play_track_t *t = &p->play[kind];
    fo_stream_t *st = p->stream;
    const fo_sdp_codec_t *src = fo_stream_codec(st, kind);
    t->gen = st->gen[kind];
    t->out_pt = 0;
    t->started = false;
    t->need_key = kind == FO_KIND_VIDEO;
    if (!src) return;
    for (size_t i = 0; i < t->n_codecs; i++) {
        if (fo_sdp_codec_compatible(&t->codecs[i], src)) {
            t->out_pt = t->codecs[i].pt;
            t->clock = t->codecs[i].clock ? t->codecs[i].clock : 90000;
            return;
        }
    }
    FO_LOG(FO_LOG_WARN, p->ctx, "cannot receive the publisher's %s: not forwarding %s",
           fo_codec_name(src->codec), kind == FO_KIND_AUDIO ? "audio" : "video");
}

/* Forwards one parsed publisher packet to one player. */
static void forward(fo_session_t *p, fo_kind_t kind, const fo_rtp_view_t *v, bool key, uint64_t now)
{
    play_track_t *t = &p->play[kind];
    if (!t->active || !fo_transport_ready(p->transport)) return;
    if (t->gen != p->stream->gen[kind]) remap(p, kind);
    if (!t->out_pt) return;
    if (!t->started) {
        if (t->need_key && !key) return;
        /* Continue the player's timeline where it stopped (or start at random). */
        uint16_t next_seq = t->have_last ? (uint16_t)(t->last_seq + 1) : (uint16_t)rand32();
        uint32_t next_ts = t->have_last ? t->last_ts + (uint32_t)((now - t->last_ms) * t->clock / 1000) + 1
                                        : rand32();
        t->seq_delta = (uint16_t)(next_seq - v->seq);
        t->ts_delta = next_ts - v->ts;
        t->started = true;
        t->need_key = false;
    }
    size_t cap;
    uint8_t *slot = fo_transport_slot(p->transport, &cap);
    fo_rtp_rewrite_t rw = {.ssrc = t->ssrc,
                           .pt = t->out_pt,
                           .seq = (uint16_t)(v->seq + t->seq_delta),
                           .ts = v->ts + t->ts_delta,
                           .ext_map = NULL};
    int n = fo_rtp_rewrite(v, &rw, slot, cap - FO_SRTP_MAX_TRAILER);
    if (n <= 0 || fo_transport_commit_rtp(p->transport, slot, (size_t)n) != 0) return;
    if (!t->have_last || fo_seq_diff(rw.seq, t->last_seq) > 0) {
        t->have_last = true;
        t->last_seq = rw.seq;
        t->last_ts = rw.ts;
        t->last_ms = now;
    }
    t->packets++;
    t->bytes += (size_t)n;
}

static void on_publisher_rtp(fo_session_t *s, uint8_t *buf, size_t len)
{
    fo_rtp_view_t v;
    if (fo_rtp_parse(buf, len, &v) != 0 || v.pt >= 128 || !s->pt_kind[v.pt]) return;
    unsigned kind = s->pt_kind[v.pt] - 1u;
    if (kind >= KIND_N || s->pt_class[v.pt] == PT_RTX) return; /* we never NACK the publisher yet: padding probes */
    pub_track_t *tr = &s->pub[kind];
    fo_stream_t *st = s->stream;
    if (tr->ssrc != v.ssrc) {
        /* A new source within the same session (the sender restarted its track): players
         * restart that track at its next keyframe. Learning the first SSRC changes nothing. */
        if (tr->ssrc) {
            FO_LOG(FO_LOG_INFO, s->ctx, "%s SSRC changed", kind ? "video" : "audio");
            st->gen[kind]++;
        }
        tr->ssrc = v.ssrc;
    }
    tr->packets++;
    tr->bytes += len;
    if (v.payload_len == 0) return; /* padding-only */
    bool key = kind == FO_KIND_VIDEO && fo_rtp_is_keyframe(tr->codec.codec, v.payload, v.payload_len);
    uint64_t now = fo_loop_now(st->env->transport.loop);
    for (size_t i = 0; i < st->n_players; i++) forward(st->players[i], kind, &v, key, now);
}

/* Publisher SR: re-issue it to each player on the player's SSRC and timeline (A/V sync). */
static void relay_sr(fo_session_t *pub, const fo_rtcp_pkt_t *p)
{
    fo_stream_t *st = pub->stream;
    int kind = -1;
    for (int k = 0; k < KIND_N; k++)
        if (pub->pub[k].active && pub->pub[k].ssrc == p->sender_ssrc) kind = k;
    if (kind < 0) return;
    for (size_t i = 0; i < st->n_players; i++) {
        fo_session_t *pl = st->players[i];
        play_track_t *t = &pl->play[kind];
        if (!t->active || !t->started || t->gen != st->gen[kind] || !fo_transport_ready(pl->transport))
            continue;
        size_t cap;
        uint8_t *slot = fo_transport_slot(pl->transport, &cap);
        int n = fo_rtcp_build_sr(slot, cap - FO_SRTP_MAX_TRAILER, t->ssrc, p->ntp,
                                 p->rtp_ts + t->ts_delta, (uint32_t)t->packets, (uint32_t)t->bytes,
                                 NULL, 0);
        if (n > 0) fo_transport_commit_rtcp(pl->transport, slot, (size_t)n);
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
            request_keyframe(s->stream);
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
            t->need_key = kind == FO_KIND_VIDEO;
            for (size_t i = 0; i < am->n_pts && t->n_codecs < MAX_PLAY_CODECS; i++) {
                const fo_sdp_codec_t *c = fo_sdp_codec_by_pt(om, am->pts[i]);
                if (c && c->codec != FO_CODEC_RTX) t->codecs[t->n_codecs++] = *c;
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
    const fo_sdp_media_t *first = NULL;
    for (size_t m = 0; m < offer->n_media && !first; m++)
        if (ans->media[m].accept) first = &offer->media[m];
    if (!first) {
        free(s);
        *err = FO_ECODEC;
        return NULL;
    }
    s->transport = fo_transport_new(&st->env->transport, first->fp_alg, first->fp, &session_cbs, s, s->ctx);
    if (!s->transport) {
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
    fo_transport_free(s->transport);
    free(s);
}

const char *fo_session_id(const fo_session_t *s) { return s->id; }
const char *fo_session_ufrag(const fo_session_t *s) { return s->ufrag; }
const char *fo_session_pwd(const fo_session_t *s) { return s->pwd; }
fo_role_t fo_session_role(const fo_session_t *s) { return s->role; }
fo_stream_t *fo_session_stream(const fo_session_t *s) { return s->stream; }
fo_transport_t *fo_session_transport(const fo_session_t *s) { return s->transport; }

void fo_session_info(const fo_session_t *s, fo_session_info_t *out)
{
    memset(out, 0, sizeof *out);
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
    for (int k = 0; k < KIND_N; k++) {
        fo_track_info_t *t = &out->track[k];
        if (s->role == FO_ROLE_PUBLISH) {
            const pub_track_t *p = &s->pub[k];
            t->active = p->active;
            t->codec = p->codec.codec;
            t->ssrc = p->ssrc;
            t->packets = p->packets;
            t->bytes = p->bytes;
        } else {
            const play_track_t *p = &s->play[k];
            t->active = p->active;
            const fo_sdp_codec_t *src = fo_stream_codec(s->stream, (fo_kind_t)k);
            t->codec = p->out_pt && src ? src->codec : FO_CODEC_NONE;
            t->ssrc = p->ssrc;
            t->packets = p->packets;
            t->bytes = p->bytes;
        }
    }
}

fo_session_t *const *fo_stream_player_list(const fo_stream_t *st, size_t *n)
{
    *n = st->n_players;
    return st->players;
}

const char *fo_session_end_reason(const fo_session_t *s) { return s->end_reason; }
