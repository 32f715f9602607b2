/* SPDX-License-Identifier: MIT */
/* The recorder on the media thread (see record.h): for each recorded track a cursor `next` over
 * the publisher's sequence numbers. A packet that arrives in order is queued at once from the
 * buffer it arrived in; one that arrives early waits in the stream's history (where it already
 * is) until the gap before it is filled (a reordered packet or a NACK repair) or has waited
 * wait_ms, then the recorder gives the missing packet up and, for video, queues nothing until a
 * keyframe starts. Queuing is one memcpy into the writer's ring; a full ring drops and counts,
 * like a lost packet. No allocation, no lock, no system call per packet. */
#include <string.h>
#include <time.h>

#include "fanout/common.h"
#include "fanout/history.h"
#include "fanout/log.h"
#include "record_internal.h"

#define KEY_ASK_MS 1000   /* keyframe requests for the recording, at most this often */
#define RESYNC_JUMP 3000  /* a sequence jump this large: the sender restarted */
#define DRAIN_MAX 2048    /* packets looked at per call, at most */

static uint64_t realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* vDSO */
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void ask_key(fo_rec_t *rec, uint64_t now)
{
    if (!rec->st || (rec->key_asked_ms && now - rec->key_asked_ms < KEY_ASK_MS)) return;
    rec->key_asked_ms = now;
    fo_stream_request_keyframe(rec->st, rec->tap[FO_KIND_VIDEO].layer);
}

/* Copies one packet into the ring. False when the ring is full. */
static bool queue_pkt(fo_rec_t *rec, unsigned kind, const fo_rtp_view_t *v, uint8_t flags)
{
    size_t len = (sizeof(rec_hdr_t) + v->payload_len + 7) & ~(size_t)7;
    uint8_t *p = rec_ring_reserve(&rec->mgr->ring, len);
    if (!p) return false;
    rec_hdr_t *h = (rec_hdr_t *)p;
    *h = (rec_hdr_t){.len = (uint32_t)len, .type = REC_PKT, .kind = (uint8_t)kind,
                     .flags = (uint8_t)(flags | (v->marker ? RF_MARKER : 0)), .rec = rec, .ts = v->ts,
                     .seq = v->seq, .paylen = (uint16_t)v->payload_len, .arrival_us = realtime_us()};
    memcpy(p + sizeof *h, v->payload, v->payload_len);
    rec_ring_commit(&rec->mgr->ring, len);
    return true;
}

enum { GOT_NONE = 0, GOT_PKT, GOT_EMPTY };

/* Packet `seq` of the track: the one that just arrived, or from the stream's history. A
 * padding-only packet is never stored in the history: the cursor steps over those it saw. */
static int fetch(fo_rec_t *rec, unsigned kind, uint16_t seq, const fo_rtp_view_t *cur, uint64_t now,
                 fo_rtp_view_t *out)
{
    rec_tap_t *t = &rec->tap[kind];
    if (cur && cur->seq == seq) {
        *out = *cur;
        return cur->payload_len ? GOT_PKT : GOT_EMPTY;
    }
    for (unsigned i = 0; i < FO_ARRAY_LEN(t->empty); i++)
        if (t->empty_used[i] && t->empty[i] == seq) return GOT_EMPTY;
    const fo_history_t *h = rec->st ? fo_stream_history(rec->st, (fo_kind_t)kind, t->layer) : NULL;
    size_t len;
    const uint8_t *pkt = h ? fo_history_get(h, seq, now, &len) : NULL;
    if (!pkt || fo_rtp_parse(pkt, len, out) != 0 || out->ssrc != t->ssrc) return GOT_NONE;
    return out->payload_len ? GOT_PKT : GOT_EMPTY;
}

/* Queues every packet from `next` on that is there, in order; gives a missing one up after
 * wait_ms. `cur` (may be NULL) is the packet that just arrived, `cur_key` its keyframe flag. */
static void drain(fo_rec_t *rec, unsigned kind, const fo_rtp_view_t *cur, bool cur_key, uint64_t now)
{
    rec_tap_t *t = &rec->tap[kind];
    fo_codec_t codec = rec->codec[kind];
    for (int guard = 0; guard < DRAIN_MAX && fo_seq_diff(t->next, t->newest) <= 0; guard++) {
        fo_rtp_view_t v;
        int got = fetch(rec, kind, t->next, cur, now, &v);
        if (got == GOT_NONE) {
            if (!t->gap_since) t->gap_since = now;
            if (now - t->gap_since < t->wait_ms) return;
            rec->gaps++; /* waited long enough: the packet is lost for the recording */
            t->pending_gap = true;
            t->gap_since = 0;
            t->next++;
            if (kind == FO_KIND_VIDEO) {
                t->need_key = true;
                ask_key(rec, now);
            }
            continue;
        }
        t->gap_since = 0;
        t->next++;
        if (got == GOT_EMPTY) continue;
        bool key = kind == FO_KIND_VIDEO &&
                   (cur && v.seq == cur->seq ? cur_key : fo_rtp_is_keyframe(codec, v.payload, v.payload_len));
        if (t->need_key && kind == FO_KIND_VIDEO && !key) continue;
        uint8_t flags = (uint8_t)((t->pending_gap ? RF_GAP : 0) | (key ? RF_KEY : 0));
        if (!queue_pkt(rec, kind, &v, flags)) {
            rec->dropped_queue++;
            t->pending_gap = true;
            if (!rec->queue_full_logged) {
                rec->queue_full_logged = true;
                FO_LOG(FO_LOG_WARN, rec->key, "recording %llu: the writer is behind (slow disk?): dropping packets",
                       (unsigned long long)rec->id);
            }
            if (kind == FO_KIND_VIDEO) {
                t->need_key = true;
                ask_key(rec, now);
            }
            continue;
        }
        t->pending_gap = false;
        t->need_key = false;
    }
}

void fo_rec_on_rtp(fo_rec_t *rec, unsigned kind, int layer, const fo_rtp_view_t *v, bool key,
                   uint64_t now_ms)
{
    if (kind >= REC_KINDS) return;
    rec_tap_t *t = &rec->tap[kind];
    if (!t->active || atomic_load_explicit(&rec->failed, memory_order_relaxed)) return;
    if (t->layer < 0 && rec->st && (t->layer = fo_stream_top_layer(rec->st)) < 0) return;
    if (layer != t->layer) return;
    if (!t->have_next || v->ssrc != t->ssrc || fo_seq_diff(v->seq, t->next) > RESYNC_JUMP ||
        fo_seq_diff(v->seq, t->next) < -RESYNC_JUMP) {
        /* first packet, or the sender restarted: a new sequence space */
        t->pending_gap = t->have_next;
        t->have_next = true;
        t->ssrc = v->ssrc;
        t->next = t->newest = v->seq;
        t->gap_since = 0;
        memset(t->empty_used, 0, sizeof t->empty_used);
        if (kind == FO_KIND_VIDEO) t->need_key = true;
    }
    if (fo_seq_diff(v->seq, t->next) < 0) return; /* given up on already, or a duplicate */
    if (fo_seq_diff(v->seq, t->newest) > 0) t->newest = v->seq;
    if (v->payload_len == 0) {
        t->empty[t->empty_next] = v->seq;
        t->empty_used[t->empty_next] = true;
        t->empty_next = (uint8_t)((t->empty_next + 1) % FO_ARRAY_LEN(t->empty));
    }
    if (kind == FO_KIND_VIDEO && t->need_key && !key) ask_key(rec, now_ms);
    drain(rec, kind, v, key, now_ms);
}

void fo_rec_on_sr(fo_rec_t *rec, unsigned kind, int layer, uint64_t ntp, uint32_t rtp_ts,
                  uint64_t now_ms)
{
    (void)now_ms;
    if (kind >= REC_KINDS || !rec->tap[kind].active || layer != rec->tap[kind].layer ||
        atomic_load_explicit(&rec->failed, memory_order_relaxed))
        return;
    size_t len = sizeof(rec_hdr_t);
    uint8_t *p = rec_ring_reserve(&rec->mgr->ring, len);
    if (!p) return; /* the next one will do */
    *(rec_hdr_t *)p = (rec_hdr_t){.len = (uint32_t)len, .type = REC_SR, .kind = (uint8_t)kind, .rec = rec,
                                  .ts = rtp_ts, .arrival_us = ntp};
    rec_ring_commit(&rec->mgr->ring, len);
}

void fo_rec_tick(fo_rec_t *rec, uint64_t now_ms)
{
    for (unsigned k = 0; k < REC_KINDS; k++) {
        rec_tap_t *t = &rec->tap[k];
        if (t->active && t->have_next && t->gap_since && !atomic_load(&rec->failed))
            drain(rec, k, NULL, false, now_ms);
    }
}
