/* SPDX-License-Identifier: MIT */
/* Publish/play media logic. The hot path is on_publisher_rtp: parse once, then per player a
 * rewrite straight into a send slot, SRTP-protect in place, queue for sendmmsg. No allocation
 * per packet; players are kept in a flat array for a cache-friendly loop. The publisher's RTX
 * is unwrapped into the normal path. The stream's history (history.c, shared by all players)
 * also lets new players start from its latest keyframe, fast-forwarded (instant start). RTCP
 * both ways is feedback.c's, simulcast layers simulcast.c's; their shared state is in
 * stream_internal.h. */
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
#include "fanout/record.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"
#include "fanout/rxstats.h"
#include "fanout/twcc.h"
#include "stream_internal.h"

#define PLI_MIN_INTERVAL 500 /* ms between keyframe requests to one publisher */
#define PLI_RETRY 1000       /* ms before asking again while a player still waits */
#define HISTORY_SLOTS 1024   /* video packets kept per stream and layer, at most (and at most
                              * env->history_bytes of them) */
#define AUDIO_HISTORY_SLOTS 128 /* audio packets (~1.3 s of 10 ms Opus frames) */
#define HISTORY_AGE_MS 1000
#define INSTANT_MAX_PKTS 600 /* larger cached GOPs are not replayed: ask for a keyframe */

enum { PT_NONE = 0, PT_MEDIA = 1, PT_RTX = 2 };


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
        st->pli_due[layer] = false;
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
    if (p->lay) return fo_simulcast_lay_waiting(p);
    if (t->held) return fo_transport_congested(p->transport) ? -1 : t->want >= 0 ? t->want : 0;
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
void fo_stream_request_keyframe(fo_stream_t *st, int layer)
{
    fo_loop_t *loop = st->env->transport.loop;
    uint64_t now = fo_loop_now(loop);
    if (layer < 0 || layer >= FO_LAYER_MAX) layer = 0;
    if (st->last_pli_ms[layer] && now - st->last_pli_ms[layer] < PLI_MIN_INTERVAL) {
        /* Due once the limit allows (unless a keyframe of the layer comes first). */
        uint64_t due = st->last_pli_ms[layer] + PLI_MIN_INTERVAL;
        st->pli_due[layer] = true;
        if (!fo_timer_active(&st->pli_timer) || st->pli_timer.due_ms > due)
            fo_timer_start(loop, &st->pli_timer, due - now);
        return;
    }
    send_pli(st, layer);
    if (!fo_timer_active(&st->pli_timer)) fo_timer_start(loop, &st->pli_timer, PLI_RETRY);
}

static void pli_timer_fired(fo_timer_t *t)
{
    fo_stream_t *st = t->user;
    for (int l = 0; l < FO_LAYER_MAX; l++)
        if (st->pli_due[l] || players_waiting(st, l)) fo_stream_request_keyframe(st, l);
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
    if (st->rec) fo_record_publisher_gone(st->env->record, st);
    for (int k = 0; k < KIND_N; k++)
        for (int l = 0; l < FO_LAYER_MAX; l++) fo_history_free(st->hist[k][l]);
    free(st->players);
    free(st);
}

void fo_stream_history_mem(const fo_stream_t *st, fo_history_mem_t *out)
{
    for (int k = 0; k < KIND_N; k++)
        for (int l = 0; l < FO_LAYER_MAX; l++) {
            if (!st->hist[k][l]) continue;
            fo_history_mem_t m;
            fo_history_mem(st->hist[k][l], &m);
            out->allocated += m.allocated;
            out->held += m.held;
        }
}

const char *fo_stream_key(const fo_stream_t *st) { return st->key; }
fo_session_t *fo_stream_publisher(const fo_stream_t *st) { return st->publisher; }
size_t fo_stream_players(const fo_stream_t *st) { return st->n_players; }

unsigned fo_stream_video_layers(const fo_stream_t *st)
{
    const fo_session_t *p = st->publisher;
    return p && p->pub[FO_KIND_VIDEO].active ? p->pub[FO_KIND_VIDEO].n_layers : 0;
}

uint64_t fo_stream_publisher_silent_ms(const fo_stream_t *st, uint64_t now)
{
    const fo_session_t *p = st->publisher;
    if (!p) return 0;
    uint64_t last = fo_transport_stats(p->transport)->created_ms;
    for (int k = 0; k < KIND_N; k++)
        for (unsigned l = 0; p->pub[k].active && l < p->pub[k].n_layers; l++)
            if (p->pub[k].l[l].last_ms > last) last = p->pub[k].l[l].last_ms;
    return now > last ? now - last : 0;
}

static bool publisher_sent_media(const fo_session_t *p)
{
    return p->pub[FO_KIND_AUDIO].first_ms || p->pub[FO_KIND_VIDEO].first_ms;
}

fo_stream_state_t fo_stream_state(const fo_stream_t *st, uint64_t now)
{
    if (!st) return FO_STREAM_WAITING;
    if (!st->publisher) return st->had_media ? FO_STREAM_ENDED : FO_STREAM_WAITING;
    if (!publisher_sent_media(st->publisher)) return FO_STREAM_STARTING;
    return fo_stream_publisher_silent_ms(st, now) >= FO_STREAM_STALL_MS ? FO_STREAM_STALLED
                                                                         : FO_STREAM_LIVE;
}

const char *fo_stream_state_name(fo_stream_state_t state)
{
    static const char *const names[] = {"waiting", "starting", "live", "stalled", "ended"};
    return (unsigned)state < FO_ARRAY_LEN(names) ? names[state] : "waiting";
}

const fo_sdp_codec_t *fo_stream_codec(const fo_stream_t *st, fo_kind_t kind)
{
    if (!st->publisher || kind >= KIND_N || !st->publisher->pub[kind].active) return NULL;
    return &st->publisher->pub[kind].codec;
}

/* Audio is kept (history.h) once someone needs it: a player that negotiated NACK for Opus, or
 * a recorder. 1/8 of the video budget, 128 packets. */
static void keep_audio(fo_stream_t *st)
{
    if (!st->hist[FO_KIND_AUDIO][0])
        st->hist[FO_KIND_AUDIO][0] = fo_history_new(AUDIO_HISTORY_SLOTS, st->env->history_bytes / 8, HISTORY_AGE_MS);
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

static void on_address(void *user, const fo_addr_t *addr, bool held)
{
    fo_session_t *s = user;
    s->stream->env->session_address(s->stream->env->user, s, addr, held);
}

static bool instant_start(fo_session_t *p);

/* The player's path can take more after backing up: ask for the keyframe its video waits for
 * (rate-limited per stream like every request). */
static void on_writable(void *user)
{
    fo_session_t *s = user;
    const play_track_t *t = &s->play[FO_KIND_VIDEO];
    if (s->role != FO_ROLE_PLAY || !t->active || !t->held) return;
    FO_LOG(FO_LOG_DEBUG, s->ctx, "path writable again: asking for a keyframe");
    fo_stream_request_keyframe(s->stream, t->want >= 0 ? t->want : t->layer);
}

static void on_connected(void *user)
{
    fo_session_t *s = user;
    fo_stream_t *st = s->stream;
    if (st->env->session_connected) st->env->session_connected(st->env->user, s);
    if (s->hooks.on_connected) s->hooks.on_connected(s->hooks_user, s);
    if (s->role == FO_ROLE_PLAY) {
        if (s->lay) { /* every layer starts at a keyframe of its own */
            for (unsigned l = 0; l < s->lay->n; l++) fo_stream_request_keyframe(st, (int)l);
            return;
        }
        if (s->play[FO_KIND_VIDEO].active && !instant_start(s)) {
            fo_simulcast_choose(s, fo_loop_now(st->env->transport.loop));
            fo_stream_request_keyframe(st, s->play[FO_KIND_VIDEO].want);
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
        for (unsigned l = 0; l < s->pub[FO_KIND_VIDEO].n_layers; l++) fo_stream_request_keyframe(st, (int)l);
    if (st->env->record) fo_record_publisher_ready(st->env->record, st);
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
    t->instant = false;
    if (!src) return;
    fo_sdp_format_t want;
    fo_sdp_format_of(src, &want);
    for (size_t i = 0; i < t->n_codecs; i++) {
        if (fo_sdp_format_compatible(&t->codecs[i], &want)) {
            t->out_pt = t->codecs[i].pt;
            t->rtx_pt = t->rtx_ssrc ? t->codec_rtx[i] : 0;
            t->clock = t->codecs[i].clock ? t->codecs[i].clock : 90000;
            return;
        }
    }
    FO_LOG_LIMITED(&p->log_remap, fo_loop_now(st->env->transport.loop), FO_LOG_WARN, p->ctx,
                   "cannot receive the publisher's %s: not forwarding %s", fo_codec_name(src->codec),
                   kind == FO_KIND_AUDIO ? "audio" : "video");
}

/* Sets the player's seq/ts offsets so that a source packet (seq, ts) continues the player's
 * timeline where it stopped (or starts it at random). */
static void start_track(play_track_t *t, uint16_t seq, uint32_t ts, uint64_t now)
{
    fo_play_continue(t->have_last, t->last_seq, t->last_ts, t->last_ms, t->clock, seq, ts, now, fo_rand32(),
                     &t->seq_delta, &t->ts_delta);
    t->started = true;
    t->need_key = false;
}

/* Rewrites one source packet onto the player's track with output timestamp `ts` and queues it. */
static void send_rewritten(fo_session_t *p, play_track_t *t, const fo_rtp_view_t *v, uint32_t ts,
                           uint64_t now)
{
    size_t cap;
    uint8_t *slot = fo_transport_slot(p->transport, &cap);
    fo_rtp_rewrite_t rw = {.ssrc = t->ssrc,
                           .pt = t->out_pt,
                           .seq = (uint16_t)(v->seq + t->seq_delta),
                           .ts = ts,
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
        if (p->lay) { /* a relay taking every layer */
            fo_simulcast_forward_layer(p, t, layer, v, key, now);
            return;
        }
        if (t->instant && layer == t->instant_layer &&
            (int32_t)(v->ts - t->instant_src - t->instant_span) > INSTANT_FORGET)
            t->instant = false; /* long past the replay: no repair can still belong to it */
        if (t->want < 0) fo_simulcast_choose(p, now);
        bool current = t->started && layer == t->layer && !t->held;
        if (current && v->ts != t->last_src_ts && fo_transport_congested(p->transport)) {
            /* a new frame while the path is backed up: it and the rest up to a keyframe stay */
            t->held = true;
            current = false;
            FO_LOG(FO_LOG_DEBUG, p->ctx, "path congested: holding video until a keyframe");
        }
        if (!current) {
            if (t->held && layer == t->layer) {
                t->skipped_packets++;
                if (v->ts != t->skip_ts || t->skipped_packets == 1) t->skipped_frames++;
                t->skip_ts = v->ts;
            }
            if (layer != t->want || !key) return;
            if (t->held && fo_transport_congested(p->transport)) return; /* not this keyframe either */
            if (t->started) { /* a switch or a resume: remember the old offsets for late NACKs */
                t->have_prev = true;
                t->prev_layer = t->layer;
                t->prev_seq_delta = t->seq_delta;
                t->prev_ts_delta = t->ts_delta;
                t->switch_seq = (uint16_t)(t->last_seq + 1);
                if (!t->held) t->switches++;
            }
            t->held = false;
            t->layer = layer;
            start_track(t, v->seq, v->ts, now);
        }
        t->last_src_ts = v->ts;
    } else if (!t->started) {
        start_track(t, v->seq, v->ts, now);
    }
    send_rewritten(p, t, v, fo_play_out_ts(t, layer, v->ts, t->ts_delta), now);
}

/* Instant start: replays the stream's cached keyframe and what followed to a new player, with
 * the cached frames' timestamp distances divided by INSTANT_SQUEEZE so the player decodes them
 * at once and continues live instead of lagging by the cache's age. False when nothing usable
 * is cached. The squeeze is a function of the source timestamp alone, so a packet missing from
 * the cache now (lost on the publisher's link, repaired later) gets the same timestamp as the
 * rest of its frame when it is forwarded or retransmitted (fo_play_out_ts). */
static bool instant_start(fo_session_t *p)
{
    fo_stream_t *st = p->stream;
    play_track_t *t = &p->play[FO_KIND_VIDEO];
    uint64_t now = fo_loop_now(st->env->transport.loop);
    uint16_t key, newest;
    if (!st->env->instant_start || !st->publisher || !t->active || p->lay) return false;
    if (t->gen != st->gen[FO_KIND_VIDEO]) remap(p, FO_KIND_VIDEO);
    if (!t->out_pt || t->started) return false;
    fo_simulcast_choose(p, now);
    if (t->want < 0) return false;
    fo_history_t *hist = st->hist[FO_KIND_VIDEO][t->want];
    if (!hist || !fo_history_last_key(hist, now, &key, &newest)) return false;
    if ((uint16_t)(newest - key) >= INSTANT_MAX_PKTS) return false;
    bool first = true;
    for (uint16_t seq = key;; seq++) {
        size_t len;
        const uint8_t *pkt = fo_history_get(hist, seq, now, &len);
        fo_rtp_view_t v;
        if (pkt && fo_rtp_parse(pkt, len, &v) == 0) {
            if (first) {
                t->layer = t->want;
                start_track(t, v.seq, v.ts, now);
                t->instant = true;
                t->instant_layer = t->layer;
                t->instant_src = v.ts;
                t->instant_span = 0;
                t->instant_ts = v.ts + t->ts_delta;
                first = false;
            }
            /* A path that backs up during the replay (ICE-TCP): the player waits for a keyframe
             * it can take instead. */
            if (fo_transport_congested(p->transport)) {
                t->held = true;
                break;
            }
            /* A timestamp jump inside the cached GOP (a broken sender) is not replayed. */
            uint32_t off = v.ts - t->instant_src;
            if (off < INSTANT_FORGET) {
                if (off > t->instant_span) t->instant_span = off;
                send_rewritten(p, t, &v, fo_play_out_ts(t, t->layer, v.ts, 0), now);
            }
        }
        if (seq == newest) break;
    }
    if (first) return false;
    /* Live packets of the newest frame keep its squeezed timestamp; later frames advance by
     * their real distance from it. A packet's seq maps through the unchanged seq_delta. */
    t->ts_delta = t->instant_ts + t->instant_span / INSTANT_SQUEEZE - (t->instant_src + t->instant_span);
    FO_LOG(FO_LOG_DEBUG, p->ctx, "instant start: %u cached packets", (unsigned)(uint16_t)(newest - key + 1));
    return true;
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
        size_t n = fo_simulcast_unwrap_rtx(s, &v, kind, &li);
        buf = fo_session_scratch(s);
        if (!n || fo_rtp_parse(buf, n, &v) != 0) return;
        len = n;
    } else if ((li = fo_simulcast_layer(s, kind, &v)) < 0) {
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
    if (!tr->first_ms) {
        tr->first_ms = now;
        st->had_media = true;
    }
    bool key = v.payload_len && kind == FO_KIND_VIDEO &&
               fo_rtp_is_keyframe(tr->codec.codec, v.payload, v.payload_len);
    if (v.payload_len) { /* padding-only packets are neither kept nor forwarded */
        fo_history_t **h = &st->hist[kind][li];
        if (kind == FO_KIND_VIDEO && !*h) *h = fo_history_new(HISTORY_SLOTS, st->env->history_bytes, HISTORY_AGE_MS);
        if (*h) fo_history_put(*h, v.seq, buf, len, key, now);
    }
    if (st->rec) fo_rec_on_rtp(st->rec, kind, li, &v, key, now);
    if (v.payload_len == 0) return;
    if (key) st->pli_due[li] = false;
    for (size_t i = 0; i < st->n_players; i++) forward(st->players[i], kind, li, &v, key, now);
}

static void on_rtp(void *user, uint8_t *buf, size_t len)
{
    fo_session_t *s = user;
    if (s->role == FO_ROLE_PUBLISH) on_publisher_rtp(s, buf, len);
}

static const fo_transport_cbs_t session_cbs = {
    .on_connected = on_connected,
    .on_rtp = on_rtp,
    .on_rtcp = fo_feedback_rtcp_cb,
    .on_closed = on_closed,
    .on_address = on_address,
    .on_writable = on_writable,
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
            t->rtx_seq = (uint16_t)fo_rand32();
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
                fo_sdp_format_of(c, &t->codecs[t->n_codecs++]);
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
        fo_sdp_format_t want;
        fo_sdp_format_of(src, &want);
        bool found = false, has_kind = false;
        for (size_t m = 0; m < offer->n_media && !found; m++) {
            /* Any live m-line of this kind counts as wanting it, accepted or not: a player that
             * asked for video it cannot decode gets an error, not a silent audio-only stream. */
            if (offer->media[m].kind != (fo_kind_t)kind || offer->media[m].port == 0) continue;
            has_kind = true;
            if (!ans->media[m].accept) continue;
            for (size_t i = 0; i < ans->media[m].n_pts && !found; i++) {
                const fo_sdp_codec_t *c = fo_sdp_codec_by_pt(&offer->media[m], ans->media[m].pts[i]);
                fo_sdp_format_t f;
                if (c) fo_sdp_format_of(c, &f);
                found = c && fo_sdp_format_compatible(&f, &want);
            }
        }
        if (has_kind && !found) {
            snprintf(why, sizeof why, "player cannot receive the stream's %s", fo_codec_name(src->codec));
            return why;
        }
    }
    return NULL;
}

/* A player whose answer sends rids (the router answered a relay's a=simulcast:recv): it takes
 * every layer, publisher layer i as rid i, each on an SSRC of its own. */
static int lay_from_answer(fo_session_t *s, const fo_sdp_t *offer, const fo_sdp_answer_t *ans)
{
    for (size_t m = 0; m < offer->n_media; m++) {
        const fo_sdp_answer_media_t *am = &ans->media[m];
        if (!am->accept || offer->media[m].kind != FO_KIND_VIDEO || am->n_rids < 2) continue;
        if (!(s->lay = calloc(1, sizeof *s->lay))) return FO_ENOMEM;
        s->lay->n = am->n_rids < FO_LAYER_MAX ? (unsigned)am->n_rids : FO_LAYER_MAX;
        s->lay->rid_id = kept_ext_id(offer, ans, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id");
        for (unsigned l = 0; l < s->lay->n; l++) {
            lay_track_t *L = &s->lay->l[l];
            snprintf(L->rid, sizeof L->rid, "%s", am->rids[l]);
            L->rid_len = (uint8_t)strlen(L->rid);
            L->ssrc = l ? fo_rand32() : am->ssrc;
        }
        return 0;
    }
    return 0;
}

static void session_discard(fo_session_t *s)
{
    free(s->lay);
    free(s->twcc);
    free(s->bwe);
    free(s->pub);
    free(s);
}

/* A session of `st` from a description of the remote's media (`offer`: a browser's offer, or
 * the answer of the server a relay talks to) and what we take of it (`ans`); its transport is
 * the server role (cli NULL) or the client role on `cenv`. */
static fo_session_t *session_create(fo_stream_t *st, fo_role_t role, const char *id,
                                    const fo_sdp_t *offer, const fo_sdp_answer_t *ans,
                                    const fo_transport_env_t *cenv,
                                    const fo_transport_client_t *cli, int *err)
{
    if (role == FO_ROLE_PUBLISH && st->publisher) {
        *err = FO_EBUSY;
        return NULL;
    }
    fo_session_t *s = calloc(1, sizeof *s);
    if (s && role == FO_ROLE_PUBLISH) {
        if (!(s->pub = calloc(1, KIND_N * sizeof *s->pub + SESSION_SCRATCH))) {
            free(s);
            s = NULL;
        }
    }
    if (!s) {
        *err = FO_ENOMEM;
        return NULL;
    }
    s->role = role;
    s->stream = st;
    s->rtcp_ssrc = fo_rand32();
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->ufrag, sizeof s->ufrag, "%s", ans->ice_ufrag);
    snprintf(s->pwd, sizeof s->pwd, "%s", ans->ice_pwd);
    session_ctx(s);
    tracks_from_answer(s, offer, ans);
    if (role == FO_ROLE_PLAY && lay_from_answer(s, offer, ans) != 0) {
        session_discard(s);
        *err = FO_ENOMEM;
        return NULL;
    }
    if (role == FO_ROLE_PLAY && s->play[FO_KIND_AUDIO].nack_fb) keep_audio(st);
    fo_timer_init(&s->tick, fo_feedback_tick_cb, s);
    s->rid_id = kept_ext_id(offer, ans, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id");
    s->rrid_id = kept_ext_id(offer, ans, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id");
    s->twcc_id = kept_ext_id(offer, ans, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01");
    if (s->twcc_id) {
        if (role == FO_ROLE_PUBLISH) {
            if ((s->twcc = malloc(sizeof *s->twcc))) fo_twcc_init(s->twcc);
        } else if ((s->bwe = malloc(sizeof *s->bwe))) {
            fo_bwe_init(s->bwe, fo_loop_now(st->env->transport.loop));
            s->tw_seq = (uint16_t)fo_rand32();
        }
        if (!s->twcc && !s->bwe) {
            session_discard(s);
            *err = FO_ENOMEM;
            return NULL;
        }
    }
    const fo_sdp_media_t *first = NULL;
    for (size_t m = 0; m < offer->n_media && !first; m++)
        if (ans->media[m].accept) first = &offer->media[m];
    if (!first) {
        session_discard(s);
        *err = FO_ECODEC;
        return NULL;
    }
    s->client = cli != NULL;
    snprintf(s->remote_ufrag, sizeof s->remote_ufrag, "%s", first->ice_ufrag);
    snprintf(s->remote_pwd, sizeof s->remote_pwd, "%s", first->ice_pwd);
    fo_transport_ice_t ice = {.local_ufrag = s->ufrag, .remote_ufrag = s->remote_ufrag,
                              .remote_pwd = s->remote_pwd};
    s->transport = cli ? fo_transport_new_client(cenv, first->fp_alg, first->fp, cli, &session_cbs, s, s->ctx)
                       : fo_transport_new(&st->env->transport, first->fp_alg, first->fp, &ice, &session_cbs,
                                          s, s->ctx);
    if (!s->transport) {
        session_discard(s);
        *err = FO_ECRYPTO;
        return NULL;
    }
    if (role == FO_ROLE_PUBLISH) {
        st->publisher = s;
        st->had_publisher = true;
        fo_timer_stop(st->env->transport.loop, &st->grace_timer);
    } else if (add_player(st, s) != 0) {
        fo_transport_free(s->transport);
        session_discard(s);
        *err = FO_ENOMEM;
        return NULL;
    }
    st->idle_reported = false;
    FO_LOG(FO_LOG_INFO, s->ctx, "session created%s", cli ? " (client role: a relay)" : "");
    return s;
}

fo_session_t *fo_session_new(fo_stream_t *st, fo_role_t role, const char *id,
                             const fo_sdp_t *offer, const fo_sdp_answer_t *ans, int *err)
{
    return session_create(st, role, id, offer, ans, NULL, NULL, err);
}

fo_session_t *fo_session_new_client(fo_stream_t *st, fo_role_t role, const char *id,
                                    const fo_sdp_t *remote, const fo_sdp_answer_t *acc,
                                    const fo_transport_env_t *env,
                                    const fo_transport_client_t *cli, int *err)
{
    return session_create(st, role, id, remote, acc, env, cli, err);
}

bool fo_session_is_client(const fo_session_t *s) { return s->client; }

void fo_session_set_hooks(fo_session_t *s, const fo_session_hooks_t *hooks, void *user)
{
    s->hooks = hooks ? *hooks : (fo_session_hooks_t){0};
    s->hooks_user = user;
}

/* RFC 3550 §6.6: the publisher left, so the sources each player receives from us leave too.
 * An RR (no report blocks) + BYE compound for the tracks that have carried packets; a player
 * whose publisher comes back gets packets on the same SSRCs again (its browser unmutes). */
static void say_bye(fo_session_t *p)
{
    uint32_t ssrcs[2 * KIND_N];
    size_t n = 0;
    for (int k = 0; k < KIND_N; k++) {
        const play_track_t *t = &p->play[k];
        if (!t->active || !t->have_last) continue;
        ssrcs[n++] = t->ssrc;
        if (t->rtx_ssrc && t->retransmits) ssrcs[n++] = t->rtx_ssrc;
    }
    if (!n || !fo_transport_ready(p->transport)) return;
    size_t cap;
    uint8_t *slot = fo_transport_slot(p->transport, &cap);
    cap -= FO_SRTP_MAX_TRAILER;
    int rr = fo_rtcp_build_rr(slot, cap, ssrcs[0], NULL, 0);
    int bye = rr > 0 ? fo_rtcp_build_bye(slot + rr, cap - (size_t)rr, ssrcs, n) : -1;
    if (bye > 0) fo_transport_commit_rtcp(p->transport, slot, (size_t)(rr + bye));
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
        if (st->rec) fo_record_publisher_gone(st->env->record, st);
        st->publisher = NULL;
        st->gen[FO_KIND_AUDIO]++;
        st->gen[FO_KIND_VIDEO]++;
        for (size_t i = 0; i < st->n_players; i++) say_bye(st->players[i]);
        if (st->n_players && st->env->publisher_grace_ms >= 0)
            fo_timer_start(st->env->transport.loop, &st->grace_timer,
                           (uint64_t)st->env->publisher_grace_ms);
    } else if (s->role == FO_ROLE_PLAY) {
        remove_player(st, s);
    }
    if (s->hooks.on_end) s->hooks.on_end(s->hooks_user, s, reason);
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
        if (s->stream->publisher == s && s->stream->rec)
            fo_record_publisher_gone(s->stream->env->record, s->stream);
        if (s->stream->publisher == s) s->stream->publisher = NULL;
        else if (s->role == FO_ROLE_PLAY) remove_player(s->stream, s);
    }
    fo_timer_stop(s->stream->env->transport.loop, &s->tick);
    fo_transport_free(s->transport);
    free(s->lay);
    free(s->twcc);
    free(s->bwe);
    free(s->pub);
    free(s);
}

const char *fo_session_id(const fo_session_t *s) { return s->id; }
const char *fo_session_ufrag(const fo_session_t *s) { return s->ufrag; }
const char *fo_session_pwd(const fo_session_t *s) { return s->pwd; }
const char *fo_session_remote_ufrag(const fo_session_t *s) { return s->remote_ufrag; }
const char *fo_session_remote_pwd(const fo_session_t *s) { return s->remote_pwd; }
const char *fo_session_old_ufrag(const fo_session_t *s) { return s->old_ufrag; }

void fo_session_restart_ice(fo_session_t *s, const char *ufrag, const char *pwd,
                            const char *remote_ufrag, const char *remote_pwd)
{
    memcpy(s->old_ufrag, s->ufrag, sizeof s->old_ufrag);
    memcpy(s->old_pwd, s->pwd, sizeof s->old_pwd);
    snprintf(s->ufrag, sizeof s->ufrag, "%s", ufrag);
    snprintf(s->pwd, sizeof s->pwd, "%s", pwd);
    snprintf(s->remote_ufrag, sizeof s->remote_ufrag, "%s", remote_ufrag);
    snprintf(s->remote_pwd, sizeof s->remote_pwd, "%s", remote_pwd);
    fo_transport_ice_t ice = {.local_ufrag = s->ufrag, .remote_ufrag = s->remote_ufrag,
                              .remote_pwd = s->remote_pwd};
    if (fo_transport_set_ice(s->transport, &ice) != 0)
        FO_LOG(FO_LOG_WARN, s->ctx, "ICE restart: out of memory for the new credentials");
    FO_LOG(FO_LOG_INFO, s->ctx, "ICE restart: ufrag %s (was %s), the peer's %s", s->ufrag, s->old_ufrag,
           s->remote_ufrag);
}

void fo_session_forget_old_ice(fo_session_t *s)
{
    memset(s->old_ufrag, 0, sizeof s->old_ufrag);
    memset(s->old_pwd, 0, sizeof s->old_pwd);
}

const char *fo_session_pwd_for(const fo_session_t *s, const char *ufrag, size_t len, bool *old)
{
    bool is_old = s->old_ufrag[0] && strlen(s->old_ufrag) == len && memcmp(s->old_ufrag, ufrag, len) == 0;
    if (old) *old = is_old;
    if (is_old) return s->old_pwd;
    return strlen(s->ufrag) == len && memcmp(s->ufrag, ufrag, len) == 0 ? s->pwd : NULL;
}
fo_role_t fo_session_role(const fo_session_t *s) { return s->role; }
fo_stream_t *fo_session_stream(const fo_session_t *s) { return s->stream; }
fo_transport_t *fo_session_transport(const fo_session_t *s) { return s->transport; }
fo_loglimit_t *fo_session_loglimit(fo_session_t *s) { return &s->log_router; }

void fo_session_set_layer(fo_session_t *s, int rank)
{
    play_track_t *t = &s->play[FO_KIND_VIDEO];
    if (s->role != FO_ROLE_PLAY) return;
    t->sw.forced = rank >= 0 && rank < FO_LAYER_MAX ? rank : -1;
    if (t->started) fo_simulcast_choose(s, fo_loop_now(s->stream->env->transport.loop));
}

void fo_session_info(const fo_session_t *s, fo_session_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->layer = out->layer_target = -1;
    out->id = s->id;
    out->stream_key = s->stream->key;
    out->role = s->role;
    out->state = fo_transport_state(s->transport);
    const fo_path_t *path = fo_transport_path(s->transport);
    if (path) {
        out->remote = path->addr;
        out->tcp = path->tcp != NULL;
    }
    const fo_transport_stats_t *ts = fo_transport_stats(s->transport);
    out->tx_dropped = ts->tx_dropped;
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
        out->est_feedbacks = s->bwe->feedbacks;
        out->est_feedbacks_limited = s->bwe->feedbacks_limited;
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
                t->unrecovered += l->nack.gave_up;
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
                out->layer = p->started && p->layer >= 0 ? fo_simulcast_rank(&pub->pub[k], p->layer) : -1;
                out->layer_target = p->want >= 0 ? fo_simulcast_rank(&pub->pub[k], p->want) : -1;
                out->layer_switches = p->switches;
            }
            t->rtx_limited = p->rtx_limited;
            t->rtx_missed = p->rtx_missed;
            out->tx_dropped += p->skipped_packets;
            out->frames_skipped += p->skipped_frames;
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

/* --- for the recorder --- */

fo_rec_t *fo_stream_recorder(const fo_stream_t *st) { return st->rec; }

void fo_stream_set_recorder(fo_stream_t *st, fo_rec_t *rec)
{
    st->rec = rec;
    if (rec) keep_audio(st);
}

const fo_history_t *fo_stream_history(const fo_stream_t *st, fo_kind_t kind, int layer)
{
    return (unsigned)kind < KIND_N && layer >= 0 && layer < FO_LAYER_MAX ? st->hist[kind][layer] : NULL;
}
