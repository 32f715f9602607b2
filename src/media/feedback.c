/* SPDX-License-Identifier: MIT */
/* RTCP for a stream's sessions. Towards the publisher a 25 ms timer sends NACKs for gaps
 * (nack.c), TWCC feedback every 50 ms (twcc.c), and each second receiver reports (rxstats.c)
 * with a REMB ceiling; its SRs are relayed to each player on the player's timeline. From
 * players: NACKs are answered from the stream's history (history.c) as RTX or plain
 * retransmissions under a per-player token bucket; RRs give loss, jitter and RTT; PLI/FIR ask
 * the publisher for a keyframe; TWCC and REMB feed the player's bandwidth estimate (bwe.c). */
#include <stdint.h>

#include "fanout/bwe.h"
#include "fanout/common.h"
#include "fanout/history.h"
#include "fanout/log.h"
#include "fanout/nack.h"
#include "fanout/record.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"
#include "fanout/rtx.h"
#include "fanout/rxstats.h"
#include "fanout/twcc.h"
#include "stream_internal.h"

#define TWCC_EVERY 2         /* ticks: TWCC feedback every 50 ms */
#define RR_EVERY 40          /* ticks: receiver report + REMB every second */
#define CHOOSE_EVERY 8       /* ticks: simulcast layer choice for every player, 200 ms */
#define RTX_MIN_RATE 62500   /* bytes/s of retransmission a player may cause, at least */
#define DUP_RTX_LOSS 5       /* /256 (2%): a player losing this much gets retransmissions twice */

/* --- feedback to the publisher (timer) --- */

static void send_nacks(fo_session_t *s, int kind, unsigned layer, uint64_t now)
{
    const pub_track_t *tr = &s->pub[kind];
    pub_layer_t *l = &s->pub[kind].l[layer];
    uint16_t seqs[FO_NACK_MAX];
    size_t n = fo_nack_collect(&l->nack, now, seqs, FO_ARRAY_LEN(seqs));
    if (l->nack.gave_up != l->gave_up_seen) {
        /* A video packet will not come back: every player's decoder now waits for a keyframe
         * (Chrome asks for one itself only after 3 s without a decodable frame). */
        l->gave_up_seen = l->nack.gave_up;
        if (kind == FO_KIND_VIDEO) {
            FO_LOG(FO_LOG_DEBUG, s->ctx, "video packet(s) unrecovered: asking for a keyframe");
            fo_stream_request_keyframe(s->stream, (int)layer);
        }
    }
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

void fo_feedback_tick_cb(fo_timer_t *timer)
{
    fo_session_t *s = timer->user;
    fo_loop_t *loop = s->stream->env->transport.loop;
    if (s->ended || !fo_transport_ready(s->transport)) return;
    uint64_t now = fo_loop_now(loop);
    s->ticks++;
    for (int k = 0; k < KIND_N; k++)
        for (unsigned i = 0; s->pub[k].active && i < s->pub[k].n_layers; i++)
            if (s->pub[k].l[i].ssrc) send_nacks(s, k, i, now);
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
        fo_simulcast_measure(&s->pub[FO_KIND_VIDEO]);
    }
    if (s->stream->rec) fo_rec_tick(s->stream->rec, now);
    if (s->pub[FO_KIND_VIDEO].n_layers > 1 && s->ticks % CHOOSE_EVERY == 0)
        for (size_t i = 0; i < s->stream->n_players; i++) fo_simulcast_choose(s->stream->players[i], now);
    fo_transport_flush(s->transport);
    fo_timer_start(loop, &s->tick, TICK_MS);
}

/* --- players' feedback --- */

/* Answers one NACKed sequence number (the player's numbering) from the stream's history, as
 * RTX when the player takes it, within the player's retransmission budget (t->tokens, bytes).
 * The budget is checked before the lookup and a miss costs RTX_MISS_COST, so a flood of NACKs
 * costs one comparison per NACK once the budget is spent. False when the budget refused it:
 * the caller stops there and counts it and the rest as limited (issue 15, item 10). */
static bool retransmit(fo_session_t *p, fo_kind_t kind, uint16_t seq, uint64_t now)
{
    fo_stream_t *st = p->stream;
    play_track_t *t = &p->play[kind];
    if (t->tokens <= 0) return false;
    if (!t->started || t->gen != st->gen[kind]) return true;
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
        t->tokens -= RTX_MISS_COST;
        return true;
    }
    uint32_t out_ts = fo_play_out_ts(t, layer, v.ts, ts_delta);
    /* A lossy player loses retransmissions too, and a receiver retries a NACK only after its
     * RTT estimate (Chrome's default when it only receives: 100 ms), which shows as a freeze:
     * send a second copy when its last report said it loses DUP_RTX_LOSS or more. */
    int copies = t->fraction_lost >= DUP_RTX_LOSS ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        if (t->tokens < (int64_t)len) return c > 0; /* a second copy is a bonus */
        t->tokens -= (int64_t)len;
        size_t cap;
        uint8_t *slot = fo_transport_slot(p->transport, &cap);
        fo_rtp_rewrite_t rw = {.ssrc = t->ssrc, .pt = t->out_pt, .seq = seq, .ts = out_ts,
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
        if (n <= 0 || fo_transport_commit_rtp(p->transport, slot, (size_t)n) != 0) return true;
        t->retransmits++;
        if (p->bwe) fo_bwe_on_send(p->bwe, p->tw_seq++, (size_t)n, now);
    }
    return true;
}

static void on_player_nack(fo_session_t *p, const fo_rtcp_pkt_t *pk)
{
    fo_kind_t kind = FO_KIND_VIDEO;
    if (p->play[FO_KIND_AUDIO].active && pk->media_ssrc == p->play[FO_KIND_AUDIO].ssrc)
        kind = FO_KIND_AUDIO;
    play_track_t *t = &p->play[kind];
    int lay = kind == FO_KIND_VIDEO ? fo_simulcast_lay_index(p, pk->media_ssrc) : -1;
    if (!t->active || (pk->media_ssrc != t->ssrc && lay < 0)) return;
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
    for (size_t i = 0; i < n; i++) {
        bool sent = lay >= 0 ? fo_simulcast_retransmit_layer(p, lay, seqs[i], now)
                             : retransmit(p, kind, seqs[i], now);
        if (!sent) {
            t->rtx_limited += n - i; /* this one and the rest: not even looked up */
            break;
        }
    }
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
    if (st->rec) fo_rec_on_sr(st->rec, (unsigned)kind, layer, p->ntp, p->rtp_ts, now);
    for (size_t i = 0; i < st->n_players; i++) {
        fo_session_t *pl = st->players[i];
        play_track_t *t = &pl->play[kind];
        if (pl->lay && kind == FO_KIND_VIDEO && fo_transport_ready(pl->transport)) {
            fo_simulcast_sr_layer(pl, layer, p->ntp, p->rtp_ts);
            continue;
        }
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

void fo_feedback_rtcp_cb(void *user, uint8_t *buf, size_t len)
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
            int lay = fo_simulcast_lay_index(s, p->media_ssrc);
            fo_stream_request_keyframe(s->stream, lay >= 0 ? lay : s->play[FO_KIND_VIDEO].layer);
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

