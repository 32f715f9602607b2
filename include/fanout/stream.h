/* SPDX-License-Identifier: MIT */
/* Streams and sessions: a stream has at most one publisher session and any number of player
 * sessions. A publisher's RTP is decrypted once and fanned out: each player gets its own copy
 * rewritten onto its SSRC, payload type and continuous seq/timestamps, starting at a keyframe.
 * Keyframe requests (PLI) are coalesced and rate-limited per stream; publisher SRs are mapped
 * onto each player's timeline. Owns sessions' media state and their transports; the router
 * owns the registry and the indexes. Loop thread only. */
#ifndef FO_STREAM_H
#define FO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/history.h"
#include "fanout/loglimit.h"
#include "fanout/sdp.h"
#include "fanout/transport.h"

typedef struct fo_stream fo_stream_t;
typedef struct fo_session fo_session_t;
typedef struct fo_record fo_record_t; /* recordings (record.h) */
typedef struct fo_rec fo_rec_t;       /* one stream's recording (record.h) */

typedef enum { FO_ROLE_PUBLISH = 0, FO_ROLE_PLAY = 1 } fo_role_t;

/* Shared by every stream and session; owned by the router and outliving them all. */
typedef struct {
    fo_transport_env_t transport;
    int publisher_grace_ms;
    int max_bitrate_kbps;   /* REMB ceiling for publishers; 0 = none */
    bool instant_start;     /* start new players from the cached keyframe when there is one */
    fo_record_t *record;    /* told when publishers come and go; NULL: nothing is recorded */
    size_t history_bytes;   /* packets kept per stream and video layer (history.h); audio: 1/8 */
    /* The session ended (transport closed or publisher gone for good): the router unindexes it
     * and frees it at a safe point. Called once per session. */
    void (*session_ended)(void *user, fo_session_t *s);
    /* A session's peer passed an ICE check from a new address (held: index it), or the
     * transport forgot an address (!held: unindex it if it is still this session's). */
    void (*session_address)(void *user, fo_session_t *s, const fo_addr_t *addr, bool held);
    /* A session's transport connected (ICE, DTLS and SRTP up). */
    void (*session_connected)(void *user, fo_session_t *s);
    /* The stream has neither a publisher nor players any more: unregister and free it. */
    void (*stream_idle)(void *user, fo_stream_t *st);
    void *user;
} fo_stream_env_t;

fo_stream_t *fo_stream_new(const fo_stream_env_t *env, const char *key);
/* Frees a stream that has no sessions left (the router calls it from stream_idle's deferral). */
void fo_stream_free(fo_stream_t *st);
const char *fo_stream_key(const fo_stream_t *st);
/* The publisher session, or NULL. */
fo_session_t *fo_stream_publisher(const fo_stream_t *st);
size_t fo_stream_players(const fo_stream_t *st);
/* The publisher's video layers (1 without simulcast), 0 without a publisher or video. */
unsigned fo_stream_video_layers(const fo_stream_t *st);
/* Adds the memory of the stream's packet histories (history.h) to *out. */
void fo_stream_history_mem(const fo_stream_t *st, fo_history_mem_t *out);
/* The codec the publisher negotiated for `kind`, NULL if none. */
const fo_sdp_codec_t *fo_stream_codec(const fo_stream_t *st, fo_kind_t kind);

/* What a stream looks like to its audience (the pages' status and list, the takeover rule):
 *  WAITING   nobody has published it yet (or no such stream);
 *  STARTING  a publisher session exists but has sent no media yet;
 *  LIVE      the publisher's media arrives;
 *  STALLED   the publisher's session exists but sent no media for FO_STREAM_STALL_MS;
 *  ENDED     the publisher that was live left; players wait rtc.publisher_grace for it. */
typedef enum {
    FO_STREAM_WAITING = 0,
    FO_STREAM_STARTING,
    FO_STREAM_LIVE,
    FO_STREAM_STALLED,
    FO_STREAM_ENDED,
} fo_stream_state_t;
#define FO_STREAM_STALL_MS 2000
/* `st` may be NULL (WAITING). `now` is the loop clock. */
fo_stream_state_t fo_stream_state(const fo_stream_t *st, uint64_t now);
/* "waiting", "starting", "live", "stalled", "ended" (static). */
const char *fo_stream_state_name(fo_stream_state_t state);
/* Milliseconds since the publisher's newest RTP packet, or since its session was created when
 * it has sent none; 0 without a publisher. `now` is the loop clock. */
uint64_t fo_stream_publisher_silent_ms(const fo_stream_t *st, uint64_t now);

/* Whether a player offer's media can receive what the stream's publisher sends: NULL if yes,
 * else a static reason ("player cannot receive VP8"). Without a publisher always yes. */
const char *fo_stream_check_player(const fo_stream_t *st, const fo_sdp_t *offer,
                                   const fo_sdp_answer_t *ans);

/* Creates a session bound to `st` from a parsed offer and the answer we give it (with our
 * ufrag/pwd and, for a player, our SSRCs). A publisher when st has none (else FO_EBUSY through
 * *err). Returns NULL with *err set on failure. */
fo_session_t *fo_session_new(fo_stream_t *st, fo_role_t role, const char *id,
                             const fo_sdp_t *offer, const fo_sdp_answer_t *ans, int *err);
/* A session whose transport is the client role (relay.c): we offered, and `remote` is the
 * other server's answer (the media it sends us, for a publisher: a pulled stream's source; the
 * media it takes from us, for a player: a push), `acc` what we take of each of its m-lines (as
 * an answer would say: accept, payload types, extensions, and for a player our SSRCs and
 * ICE ufrag/pwd in acc->ice_ufrag/ice_pwd). `env` (its own UDP socket) must outlive the
 * session. The stream treats it like any other publisher or player. NULL with *err on failure. */
fo_session_t *fo_session_new_client(fo_stream_t *st, fo_role_t role, const char *id,
                                    const fo_sdp_t *remote, const fo_sdp_answer_t *acc,
                                    const fo_transport_env_t *env,
                                    const fo_transport_client_t *cli, int *err);
bool fo_session_is_client(const fo_session_t *s);
/* Its owner's hooks (relays): the transport connected; the session ended (before the router
 * unindexes it; the session is freed later, at the loop's safe point). */
typedef struct {
    void (*on_connected)(void *user, fo_session_t *s);
    void (*on_end)(void *user, fo_session_t *s, const char *reason);
} fo_session_hooks_t;
void fo_session_set_hooks(fo_session_t *s, const fo_session_hooks_t *hooks, void *user);

/* Detaches from the stream, closes the transport (close_notify when connected) and frees. */
void fo_session_free(fo_session_t *s);

const char *fo_session_id(const fo_session_t *s);
/* Our ICE username fragment and password (the STUN USERNAME starts with the ufrag). */
const char *fo_session_ufrag(const fo_session_t *s);
const char *fo_session_pwd(const fo_session_t *s);
/* The peer's ICE credentials: from its offer, or from its latest ICE restart. */
const char *fo_session_remote_ufrag(const fo_session_t *s);
const char *fo_session_remote_pwd(const fo_session_t *s);
/* ICE restart (RFC 8445 9, RFC 9725 4.3.3): ufrag/pwd become ours and remote_* the peer's. Our
 * previous credentials stay valid (fo_session_old_ufrag) until fo_session_forget_old_ice, so
 * the peer's checks on the old pair keep consent while it checks the new one. The transport,
 * its DTLS association and SRTP contexts, and the media state (SSRCs, sequence numbers) are
 * untouched: media goes on. Strings are copied (truncated to the fields). */
void fo_session_restart_ice(fo_session_t *s, const char *ufrag, const char *pwd,
                            const char *remote_ufrag, const char *remote_pwd);
/* Our credentials of the previous ICE generation ("" when none). */
const char *fo_session_old_ufrag(const fo_session_t *s);
void fo_session_forget_old_ice(fo_session_t *s);
/* Our password for a check whose USERNAME starts with ufrag[0..len): the current one's, the
 * previous generation's, or NULL. *old tells which (may be NULL). */
const char *fo_session_pwd_for(const fo_session_t *s, const char *ufrag, size_t len, bool *old);
fo_role_t fo_session_role(const fo_session_t *s);
fo_stream_t *fo_session_stream(const fo_session_t *s);
fo_transport_t *fo_session_transport(const fo_session_t *s);
/* The limiter for the router's lines about this session that its peer can trigger at will
 * (an address taken over from another session at each check). */
fo_loglimit_t *fo_session_loglimit(fo_session_t *s);
/* Ends a session from outside (API kick, shutdown): close_notify, then session_ended. */
void fo_session_end(fo_session_t *s, const char *reason);

/* A snapshot of a session for the API and metrics (copied out; no pointers into the session
 * except stream_key, valid until the stream is freed). Fields not measured yet are 0. */
typedef struct {
    bool active;
    fo_codec_t codec;
    uint32_t ssrc;              /* publisher: theirs; player: ours */
    uint64_t packets, bytes;    /* publisher: received; player: sent */
    uint32_t lost;              /* packets lost (publisher: gaps we saw; player: from its RRs) */
    uint32_t jitter;            /* RTP timestamp units, from RTCP */
    uint64_t nacks, plis;       /* feedback received (player) or sent (publisher) */
    uint64_t retransmits;       /* player: packets resent from the history (RTX or plain);
                                   publisher: RTX packets received */
    uint64_t rtx_limited;       /* player: NACKed packets not resent (over its budget) */
    uint64_t rtx_missed;        /* player: NACKed packets no longer in the history */
    uint64_t recovered;         /* publisher: gaps filled later (reordered or repaired) */
    uint64_t unrecovered;       /* publisher: gaps given up (NACKed too often or too long) */
} fo_track_info_t;

typedef struct {
    const char *id;
    const char *stream_key;
    fo_role_t role;
    fo_transport_state_t state;
    fo_addr_t remote;           /* family 0 before the first ICE check */
    bool tcp;                   /* the path in use is an ICE-TCP connection */
    uint64_t created_ms, connected_ms; /* loop clock; connected 0 if not yet */
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, rx_dropped;
    /* Player under backpressure (a slow ICE-TCP reader): packets not sent (video of skipped
     * frames, anything a full queue refused) and video frames skipped. */
    uint64_t tx_dropped, frames_skipped;
    uint32_t rtt_ms;            /* 0 when unknown */
    /* Player with transport-wide-cc: the send-side bandwidth estimate (bwe.h) and what it was
     * computed from, over the last feedback window. All 0 without TWCC. */
    uint64_t estimate_bps, delivery_bps;
    uint32_t est_loss_permille, est_queue_ms;
    uint64_t est_feedbacks, est_feedbacks_limited; /* TWCC feedback read / dropped unread (cap) */
    /* Simulcast (0 layers without). Publisher: its layers, lowest bitrate first. Player: the
     * rank it receives and the one it is switching to (-1: none yet), and switches so far. */
    unsigned n_layers;
    struct {
        char rid[17];
        uint32_t ssrc;
        uint64_t bps, packets;
    } layers[3];
    int layer, layer_target;
    uint64_t layer_switches;
    fo_track_info_t track[2];   /* [FO_KIND_AUDIO], [FO_KIND_VIDEO] */
} fo_session_info_t;

void fo_session_info(const fo_session_t *s, fo_session_info_t *out);
/* A player's explicit simulcast layer: rank 0 (lowest) .. 2, or -1 for automatic (by its
 * bandwidth estimate). Applies at the next keyframe of that layer. No-op for publishers. */
void fo_session_set_layer(fo_session_t *s, int rank);
/* The players of a stream (array owned by the stream, valid until the next change). */
fo_session_t *const *fo_stream_player_list(const fo_stream_t *st, size_t *n);
/* The reason given when the session ended (static text), NULL while it runs. */
const char *fo_session_end_reason(const fo_session_t *s);

/* Asks the publisher for a keyframe of `layer` now, or as soon as the stream's rate limit
 * allows (a layer out of range asks for layer 0). */
void fo_stream_request_keyframe(fo_stream_t *st, int layer);

/* --- for the recorder (record.h) --- */

/* The stream's recording, NULL if none. */
fo_rec_t *fo_stream_recorder(const fo_stream_t *st);
/* Attaches (or with NULL detaches) the recording that sees every publisher packet and SR; an
 * attached recording gets an audio history to reorder from. */
void fo_stream_set_recorder(fo_stream_t *st, fo_rec_t *rec);
/* The stream's packet history of `kind`/`layer`, NULL if none (valid until the loop runs on). */
const fo_history_t *fo_stream_history(const fo_stream_t *st, fo_kind_t kind, int layer);
/* The publisher's top video layer (simulcast: the highest-bitrate one; else 0), or -1 while the
 * layers are still arriving or there is no video. */
int fo_stream_top_layer(const fo_stream_t *st);

#endif
