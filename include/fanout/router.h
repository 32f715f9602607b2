/* SPDX-License-Identifier: MIT */
/* The registry and the front door of the media path: streams by key, sessions by id, by ICE
 * ufrag and by peer address; the carriers (the shared UDP port, the ICE-TCP listeners) and
 * their demultiplexing (RFC 7983: STUN is answered here through the stun adapter, everything
 * else goes to the transport that owns the source address or TCP connection); turning an SDP
 * offer into a session and an answer. Loop thread only. */
#ifndef FO_ROUTER_H
#define FO_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/config.h"
#include "fanout/dtls.h"
#include "fanout/loop.h"
#include "fanout/stream.h"
#include "fanout/tcp.h"
#include "fanout/udp.h"

typedef struct fo_router fo_router_t;

/* Binds the UDP port from cfg and resolves the candidates. `cfg` and `dtls` must outlive the
 * router. NULL on failure (logged). */
fo_router_t *fo_router_new(fo_loop_t *loop, const fo_config_t *cfg, fo_dtls_ctx_t *dtls);
/* Frees every session (no goodbyes; call fo_router_shutdown first for those). */
void fo_router_free(fo_router_t *r);
/* Ends every session with DTLS close_notify and flushes. */
void fo_router_shutdown(fo_router_t *r);

/* The outcome of an offer: on success http_status 200, a session id and the answer
 * (heap-allocated, the caller frees); on failure an HTTP status, an error kind and a message. */
typedef struct {
    int http_status;
    int err;               /* FO_E* */
    char msg[256];
    char session_id[40];
    char *answer;
    int retry_after_s;     /* 409 for a silent publisher: seconds until it may be replaced */
} fo_offer_result_t;

/* Handles a publish or play offer for stream `key` ("app/stream"). `candidate` overrides the
 * advertised address(es) when not NULL/empty ("ip" or "ip:port"; a name is refused with 400).
 * A publish for a stream that has a publisher is refused with 409, unless that publisher has
 * sent no media for rtc.publisher_takeover seconds (a crashed browser): then it is ended and the
 * new one takes its place, its players staying on (as a republish within the grace period).
 * Returns 0 or negative with *res filled either way. */
int fo_router_offer(fo_router_t *r, fo_role_t role, const char *key, const char *offer,
                    size_t len, const char *candidate, fo_offer_result_t *res);
/* The same for a request from `client_ip` (text, the HTTP peer; NULL/"" = unknown), which the
 * per-IP cap counts. Caps (src/signal/limits.c) answer 503 (server, stream or pending full) or 429
 * (this client has too many sessions). */
int fo_router_offer_from(fo_router_t *r, fo_role_t role, const char *key, const char *offer,
                         size_t len, const char *candidate, const char *client_ip,
                         fo_offer_result_t *res);

/* An offer, for the steps below that take one: role, stream key ("app/stream"), the SDP, the
 * advertised address override ("ip" or "ip:port"; NULL/"" = the configured candidates) and
 * the HTTP peer that the per-IP cap counts (NULL/"" = unknown). */
typedef struct {
    fo_role_t role;
    const char *key;
    const char *sdp;
    size_t len;
    const char *candidate;
    const char *client_ip;
} fo_offer_t;

/* Runs every check fo_router_offer_from runs (caps, SDP, codecs, a busy stream, a player's
 * codecs against the publisher's) without creating anything, and on success holds a place for
 * the session: the hold counts like a session still connecting (rtc.max_sessions,
 * rtc.max_pending, rtc.max_sessions_per_ip) until fo_router_offer_take or
 * fo_router_offer_release. res->session_id is then the id the session will get (http_status
 * 200, no answer). For an admission that waits (the operator's callback). */
int fo_router_offer_hold(fo_router_t *r, const fo_offer_t *o, fo_offer_result_t *res);
/* Turns a hold into the session (id `held_id`), checking everything again (the stream may
 * have got a publisher meanwhile: 409). The hold ends either way. */
int fo_router_offer_take(fo_router_t *r, const char *held_id, const fo_offer_t *o,
                         fo_offer_result_t *res);
/* Ends a hold without a session. Unknown ids are ignored. */
void fo_router_offer_release(fo_router_t *r, const char *held_id);
/* Offers held now. */
size_t fo_router_offers_held(const fo_router_t *r);

/* Called once for every session that ends (after it was created successfully), with its id,
 * stream key and role; NULL unsets. One subscriber. */
typedef void (*fo_router_ended_cb)(void *user, const char *id, const char *key, fo_role_t role);
void fo_router_set_ended_cb(fo_router_t *r, fo_router_ended_cb cb, void *user);

/* Called for every session created (created true: after an offer was answered, or a client
 * session added) and ended (false: before it is unindexed). One subscriber (the cluster). */
typedef void (*fo_router_session_cb)(void *user, fo_session_t *s, bool created);
void fo_router_set_observer(fo_router_t *r, fo_router_session_cb cb, void *user);

/* A client-role session (a relay's, relay.c) of stream `key` (created if needed): see
 * fo_session_new_client. A publisher needs the stream free of one (else FO_EBUSY). It is
 * indexed by id only (its traffic comes on its own socket) and counted like the others.
 * NULL with *err on failure. */
fo_session_t *fo_router_add_client(fo_router_t *r, fo_role_t role, const char *key,
                                   const fo_sdp_t *remote, const fo_sdp_answer_t *acc,
                                   const fo_transport_env_t *env, const fo_transport_client_t *cli,
                                   int *err);
/* Sends what is queued on the shared socket now (relays, after a batch read on theirs). */
void fo_router_flush(fo_router_t *r);
/* A relay's socket, flushed whenever the shared one is (what players' forwarding queued there
 * for a push goes out with the batch). Returns 0 or FO_ENOMEM. */
int fo_router_add_socket(fo_router_t *r, fo_udp_t *u);
void fo_router_remove_socket(fo_router_t *r, fo_udp_t *u);
/* The sessions' transport environment (relays copy it and put their own socket in). */
const fo_transport_env_t *fo_router_transport_env(const fo_router_t *r);
/* rtc.video_codecs, parsed. */
size_t fo_router_video_prefs(const fo_router_t *r, const fo_codec_t **out);

/* Ends a session by id. Returns 0 or FO_ENOTFOUND. */
int fo_router_end_session(fo_router_t *r, const char *id);

/* ICE restart of session `id` with the peer's new credentials: makes and indexes our new
 * ufrag/pwd (written to ufrag, pwd; NUL-terminated), keeps the previous ones until the first
 * check with the new ones (fo_session_restart_ice). Returns 0, FO_ENOTFOUND or FO_ENOMEM. */
int fo_router_ice_restart(fo_router_t *r, const char *id, const char *remote_ufrag,
                          const char *remote_pwd, char ufrag[9], char pwd[25]);

/* Feeds one datagram as if it had arrived on the shared port from `from` (the demux entry; for
 * tests and the demux fuzzer, which drive the router without sockets). buf is modified. */
void fo_router_input(fo_router_t *r, uint8_t *buf, size_t len, const fo_addr_t *from);

/* The UDP media port; 0 with rtc.udp = false. */
int fo_router_udp_port(const fo_router_t *r);
/* The ICE-TCP ports, in the order they are advertised (i = 0, 1; 0 = none): rtc.tcp_port,
 * then the HTTPS port in one-port mode. */
int fo_router_tcp_port(const fo_router_t *r, int i);
/* One-port mode (rtc.tcp_on_https): listens on the HTTPS address and port, keeps the ICE-TCP
 * connections and hands TLS ones to `cb` (fo_tcp_listen's sniffing). Returns the port or a
 * negative code (FO_EINVAL when the router has no TCP carrier). */
int fo_router_listen_tls(fo_router_t *r, const char *addr, int port, fo_tcp_tls_cb cb, void *user);
/* The ICE-TCP carrier's counters (zero without one). */
void fo_router_tcp_stats(const fo_router_t *r, fo_tcp_stats_t *out);
/* The advertised candidate addresses. */
size_t fo_router_candidates(const fo_router_t *r, const char *const **out);

typedef struct {
    uint64_t sessions, streams, publishers, players;
    uint64_t rx_unknown;   /* datagrams from addresses no session owns */
    uint64_t stun_unknown; /* STUN naming no session's ufrag (or without USERNAME): dropped unchecked */
    uint64_t stun_bad;     /* STUN that failed validation */
    uint64_t stun_ok;
    uint64_t offers_limited;  /* offers refused by a cap (503/429) */
    uint64_t stun_responses;  /* STUN responses that confirmed a peer address */
    uint64_t stun_responses_bad; /* STUN responses that did not (unknown, forged, refused) */
    fo_transport_totals_t t;  /* what the transports counted: rate drops, checks over the
                               * per-session cap, confirmation requests and confirmations */
} fo_router_stats_t;
void fo_router_stats(const fo_router_t *r, fo_router_stats_t *out);

/* Lookups and listings for the API (loop thread; results valid until the loop runs on). */
fo_session_t *fo_router_session(const fo_router_t *r, const char *id);
fo_stream_t *fo_router_stream(const fo_router_t *r, const char *key);
/* Copies up to max pointers into out; returns how many there are in all. */
size_t fo_router_list_sessions(const fo_router_t *r, fo_session_t **out, size_t max);
size_t fo_router_list_streams(const fo_router_t *r, fo_stream_t **out, size_t max);

/* --- for the operator API and metrics --- */

/* Why sessions ended, by kind (classified from the end reason's text). */
typedef enum {
    FO_END_API = 0,          /* WHIP/WHEP DELETE, kick, fo_router_end_session */
    FO_END_PEER_CLOSED,      /* DTLS close_notify from the peer */
    FO_END_DTLS_FAILED,      /* handshake failed or timed out, fingerprint mismatch, SRTP setup */
    FO_END_CONSENT,          /* ICE consent expired */
    FO_END_CONNECT_TIMEOUT,  /* never connected */
    FO_END_PUBLISHER_LEFT,   /* a player whose publisher left for good */
    FO_END_REPLACED,         /* a silent publisher replaced by a new one (rtc.publisher_takeover) */
    FO_END_SHUTDOWN,
    FO_END_OTHER,
    FO_END_N
} fo_end_kind_t;
/* Classifies a session end reason (any text; NULL is OTHER). Pure. */
fo_end_kind_t fo_router_end_kind(const char *reason);
/* "api", "peer_closed", "dtls_failed", ...: static storage. */
const char *fo_router_end_kind_name(fo_end_kind_t k);
/* Sessions ended so far, by kind. */
void fo_router_end_counts(const fo_router_t *r, uint64_t out[FO_END_N]);
/* Ends a session by id with `reason` (logged and classified). Returns 0 or FO_ENOTFOUND. */
int fo_router_end_session_why(fo_router_t *r, const char *id, const char *reason);
fo_loop_t *fo_router_loop(const fo_router_t *r);
/* The recordings (record.h), owned by the router. */
fo_record_t *fo_router_record(const fo_router_t *r);
/* The memory of every stream's packet histories (walks the streams: for /metrics, not per
 * packet). */
void fo_router_history_mem(const fo_router_t *r, fo_history_mem_t *out);
/* The configuration the router was made with. */
const fo_config_t *fo_router_config(const fo_router_t *r);
/* The shared UDP socket's counters, the send workers' sends included. */
void fo_router_udp_stats(const fo_router_t *r, fo_udp_stats_t *out);

#endif
