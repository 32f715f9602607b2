/* SPDX-License-Identifier: MIT */
/* The stream module's private state, shared by its three files: stream.c (streams, sessions,
 * keyframe requests and the publisher-to-player media path), simulcast.c (which publisher
 * layer a packet belongs to, layer bitrates and ranking, each player's layer choice) and
 * feedback.c (RTCP both ways: repair, reports and TWCC to the publisher, players' NACKs, RRs
 * and keyframe requests, SR relay). The structs are here, not in stream.c, only because those
 * three files read and write the same session and stream fields; only they include this header
 * (it is not under include/fanout/: nothing else should see these types). Loop thread only. */
#ifndef FO_STREAM_INTERNAL_H
#define FO_STREAM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "fanout/bwe.h"
#include "fanout/history.h"
#include "fanout/layer.h"
#include "fanout/loop.h"
#include "fanout/loglimit.h"
#include "fanout/nack.h"
#include "fanout/rtp.h"
#include "fanout/rxstats.h"
#include "fanout/stream.h"
#include "fanout/twcc.h"

#define KIND_N 2             /* audio, video */
#define MAX_PLAY_CODECS 12
#define TICK_MS 25           /* publisher feedback timer */
#define SR_MEMORY 4          /* SRs remembered per player track to compute RTT from its RRs */
#define RTX_MISS_COST 64     /* retransmission budget a NACKed packet no longer held costs */
/* Instant start divides the replayed frames' timestamp distances by this: a second of cached
 * video plays out in 8 ms, and frames captured 1.4 ms or more apart keep distinct timestamps. */
#define INSTANT_SQUEEZE 128
#define INSTANT_FORGET 900000 /* ticks (10 s at 90 kHz) past the replay: forget it (wrap-safe) */

/* One incoming RTP stream of a publisher's track: the track itself, or one simulcast layer. */
typedef struct {
    char rid[FO_SDP_RID_LEN]; /* simulcast: the layer's rid ("" otherwise) */
    uint32_t ssrc;         /* learned from the first packet (by its rid with simulcast) */
    uint32_t rtx_ssrc;     /* learned from the first RTX packet */
    uint64_t packets, bytes;
    uint64_t rtx_packets, duplicates;
    uint64_t nacks_sent;   /* NACK packets */
    uint64_t gave_up_seen; /* nack.gave_up when a keyframe was last asked for because of it */
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
    fo_sdp_format_t codecs[MAX_PLAY_CODECS]; /* what the player accepted */
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
    /* Instant start (video): the replay covered source timestamps instant_src .. instant_src +
     * instant_span of instant_layer, squeezed INSTANT_SQUEEZE times from instant_ts. Any packet
     * in that range (a repair arriving late, a retransmission) carries the squeezed timestamp,
     * not the live ts_delta: see fo_play_out_ts. */
    bool instant;
    int instant_layer;
    uint32_t instant_src, instant_span, instant_ts;
    /* Backpressure (the transport's path is congested: a slow ICE-TCP reader): video skips
     * whole frames from the first packet of a frame on, holds until a keyframe the path can
     * take, and asks for one when the path can take more. seq/ts continue across the hold as
     * across a layer switch, so the player sees no gap to NACK. */
    bool held;
    uint32_t last_src_ts;  /* source timestamp of the last packet forwarded */
    uint32_t skip_ts;      /* ... and of the last one skipped */
    uint64_t skipped_frames, skipped_packets;
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

/* A player that takes every publisher layer (a relay pulling the stream asked for them with
 * a=simulcast:recv): per layer its own SSRC, rid (told in each packet, RFC 8852) and offsets,
 * started at that layer's keyframe and continued across a new source. */
typedef struct {
    char rid[FO_SDP_RID_LEN];
    uint8_t rid_len;
    uint32_t ssrc;
    uint32_t gen;          /* the track's generation the offsets were set for */
    bool started, have_last;
    uint16_t seq_delta, last_seq;
    uint32_t ts_delta, last_ts;
    uint64_t last_ms;
} lay_track_t;

typedef struct {
    unsigned n;            /* layers taken (publisher layer i goes out as l[i]) */
    uint8_t rid_id;        /* the player's rtp-stream-id extension id */
    lay_track_t l[FO_LAYER_MAX];
} layered_t;

struct fo_session {
    char id[40];
    char ufrag[16];
    char pwd[40];
    char old_ufrag[16];    /* ours before an ICE restart, valid until a check with the new ones */
    char old_pwd[40];
    char remote_ufrag[64]; /* the peer's, from its offer or its latest ICE restart */
    char remote_pwd[128];
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
    bool client;           /* its transport is the client role (a relay: relay.c) */
    layered_t *lay;        /* player taking every layer (simulcast.c); NULL for the others */
    fo_session_hooks_t hooks; /* its owner's (relays) */
    void *hooks_user;
    /* Lines its peer could trigger per packet or per check, rate-limited (loglimit.h). */
    fo_loglimit_t log_ssrc, log_remap, log_router;
};
#define SESSION_SCRATCH (FO_HISTORY_PKT + 64)

/* Publisher: SESSION_SCRATCH bytes for unwrapped RTX, allocated after pub[] (players do not
 * need it: ~1.5 KiB each). */
static inline uint8_t *fo_session_scratch(fo_session_t *s) { return (uint8_t *)(s->pub + KIND_N); }

struct fo_stream {
    const fo_stream_env_t *env;
    char key[200];
    fo_session_t *publisher;
    fo_session_t **players;
    size_t n_players, cap_players;
    uint32_t gen[KIND_N];  /* per kind: bumps when the publisher or its SSRC changes */
    bool had_publisher;
    bool had_media;        /* a publisher's RTP has arrived since the stream was created */
    uint64_t last_pli_ms[FO_LAYER_MAX]; /* per video layer */
    bool pli_due[FO_LAYER_MAX];  /* asked for within the rate limit: sent when it allows */
    uint64_t plis_sent;
    /* Per kind and layer. Video: allocated with the layer's first packet. Audio (layer 0
     * only): once a player that negotiated NACK for audio joins (Chrome and Firefox do not
     * offer it for Opus). */
    fo_history_t *hist[KIND_N][FO_LAYER_MAX];
    fo_rec_t *rec;         /* recording (record.h), NULL if none */
    fo_timer_t pli_timer;
    fo_timer_t grace_timer;
    bool idle_reported;
};


/* --- stream.c --- */

/* The output timestamp of a source packet of `layer` with timestamp `ts` on track `t`, whose
 * offset at the time it was (or would have been) sent is `ts_delta`: inside an instant-start
 * replay, the squeezed timestamp the replay gave its frame. */
static inline uint32_t fo_play_out_ts(const play_track_t *t, int layer, uint32_t ts, uint32_t ts_delta)
{
    uint32_t off = ts - t->instant_src;
    if (t->instant && layer == t->instant_layer && off <= t->instant_span)
        return t->instant_ts + off / INSTANT_SQUEEZE;
    return ts + ts_delta;
}

/* The offsets that continue a timeline stopped at (last_seq, last_ts, last_ms) with a source
 * packet (seq, ts) now, or start it at random when there is none. */
static inline void fo_play_continue(bool have_last, uint16_t last_seq, uint32_t last_ts, uint64_t last_ms,
                                    uint32_t clock, uint16_t seq, uint32_t ts, uint64_t now, uint32_t rnd,
                                    uint16_t *seq_delta, uint32_t *ts_delta)
{
    uint16_t next_seq = have_last ? (uint16_t)(last_seq + 1) : (uint16_t)rnd;
    uint32_t next_ts = have_last ? last_ts + (uint32_t)((now - last_ms) * clock / 1000) + 1 : rnd * 2654435761u;
    *seq_delta = (uint16_t)(next_seq - seq);
    *ts_delta = next_ts - ts;
}

/* --- simulcast.c --- */

/* The rank (0 = lowest bitrate) of publisher layer `layer` in `tr`, -1 if none. */
int fo_simulcast_rank(const pub_track_t *tr, int layer);
/* Picks the video layer player `p` should receive and asks for a keyframe of a new one. */
void fo_simulcast_choose(fo_session_t *p, uint64_t now);
/* Publisher RTX of `kind`: unwraps into s->scratch, sets *layer; returns the length, 0 to drop. */
size_t fo_simulcast_unwrap_rtx(fo_session_t *s, const fo_rtp_view_t *v, unsigned kind, int *layer);
/* The publisher layer of a media packet of `kind` (learning new SSRCs), -1 to drop. */
int fo_simulcast_layer(fo_session_t *s, unsigned kind, const fo_rtp_view_t *v);
/* Once a second: each layer's bitrate, and their ranking by it. */
void fo_simulcast_measure(pub_track_t *tr);
/* A player taking every layer (p->lay): forwards a packet of publisher layer `layer`. */
void fo_simulcast_forward_layer(fo_session_t *p, play_track_t *t, int layer, const fo_rtp_view_t *v,
                                bool key, uint64_t now);
/* Its layer sent on `ssrc`, -1 if none. */
int fo_simulcast_lay_index(const fo_session_t *p, uint32_t ssrc);
/* The first layer it still waits for a keyframe of, -1 if none. */
int fo_simulcast_lay_waiting(const fo_session_t *p);
/* Answers its NACK of `seq` (its numbering) on `layer`: a plain retransmission from the
 * stream's history, paid from the video track's budget as feedback.c's retransmit is (checked
 * before the lookup, a miss costs RTX_MISS_COST). False when the budget refused it. */
bool fo_simulcast_retransmit_layer(fo_session_t *p, int layer, uint16_t seq, uint64_t now);
/* Re-issues a publisher SR of `layer` to it on that layer's SSRC and timeline. */
void fo_simulcast_sr_layer(fo_session_t *p, int layer, uint64_t ntp, uint32_t rtp_ts);

/* --- feedback.c --- */

/* The publisher's feedback timer (s->tick, every TICK_MS): NACKs, TWCC, RR + REMB, and the
 * periodic simulcast layer choice of its stream's players. */
void fo_feedback_tick_cb(fo_timer_t *timer);
/* The transport's on_rtcp callback (user: the session) for publishers and players alike. */
void fo_feedback_rtcp_cb(void *user, uint8_t *buf, size_t len);

#endif
