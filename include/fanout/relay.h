/* SPDX-License-Identifier: MIT */
/* A relay: fanout as the WebRTC client of another server, over WHEP (pull: the other server's
 * stream becomes the source of a local stream) or WHIP (push: a local stream is published
 * there). One relay is one attempt: its own UDP socket (the shared port cannot tell two
 * sessions with the same remote address apart), an offer (sdp.c), the HTTP exchange on the
 * loop (httpc.h, never blocking), the answer read, and a client-role session added to the
 * router (ICE controlling, DTLS client, SRTP: transport.h), which the stream treats like any
 * publisher or player. When it ends, for whatever reason, the owner is told once and starts
 * another relay if it wants one (cluster.c for the cluster's pulls, relays.c for the operator's).
 * Loop thread only. */
#ifndef FO_RELAY_H
#define FO_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "fanout/httpc.h"
#include "fanout/router.h"

typedef enum { FO_RELAY_PULL = 0, FO_RELAY_PUSH = 1 } fo_relay_kind_t;

typedef enum {
    FO_RELAY_REQUESTING = 0, /* the offer is on its way */
    FO_RELAY_CONNECTING,     /* answered; ICE and DTLS running */
    FO_RELAY_CONNECTED,      /* media flows */
    FO_RELAY_ENDED,          /* failed or stopped; see fo_relay_info's error */
} fo_relay_state_t;

typedef struct fo_relay fo_relay_t;

/* What every relay shares; must outlive them. */
typedef struct {
    fo_loop_t *loop;
    fo_router_t *router;
    fo_httpc_t *httpc;
    const char *listen;      /* address relay sockets bind (rtc.listen) */
    int consent_ms;          /* consent check period (default 1000) */
    int consent_timeout_ms;  /* no answer this long ends the relay (default 5000) */
} fo_relay_env_t;

typedef struct {
    fo_relay_kind_t kind;
    const char *key;         /* the local stream "app/stream" */
    const char *url;         /* the WHEP (pull) or WHIP (push) endpoint, http(s):// */
    const char *bearer;      /* Authorization: Bearer token, or NULL */
    bool layers;             /* pull: ask for every simulcast layer (a=simulcast:recv; fanout
                                origins send them, each with its rid) */
    int timeout_ms;          /* the HTTP exchange; 0 = 5000 */
} fo_relay_opts_t;

/* on_state: the relay connected, or ended (`why`: what went wrong or who stopped it). Called
 * from the loop, never from inside fo_relay_new or fo_relay_stop. After ENDED the owner frees
 * the relay (fo_relay_free, any time, also from the callback). */
typedef struct {
    void (*on_state)(void *user, fo_relay_t *rl, fo_relay_state_t state, const char *why);
    void *user;
} fo_relay_cbs_t;

/* Starts a relay (socket, offer, request). opts strings are copied. Push needs the local
 * stream's publisher (its codecs go in the offer): FO_ENOTFOUND otherwise. NULL with *err on
 * failure (FO_EINVAL bad URL or key, FO_ESYS socket, FO_EFULL the HTTP client is full...). */
fo_relay_t *fo_relay_new(const fo_relay_env_t *env, const fo_relay_opts_t *opts,
                         const fo_relay_cbs_t *cbs, int *err);
/* Ends it (DELETE of the remote resource, close_notify) with `why`; on_state(ENDED) follows
 * from the loop unless it had ended already. */
void fo_relay_stop(fo_relay_t *rl, const char *why);
/* Frees it (stopping it first, without callbacks) at the loop's next safe point, after its
 * session. The loop must run on (or have run its deferred calls: fo_loop_run does at its end).
 * NULL is a no-op. */
void fo_relay_free(fo_relay_t *rl);
/* Frees it at once: only when the loop is over and the router freed (shutdown). */
void fo_relay_free_final(fo_relay_t *rl);

typedef struct {
    fo_relay_kind_t kind;
    fo_relay_state_t state;
    const char *key, *url;
    const char *resource;    /* the remote resource (Location), "" before the answer */
    const char *session_id;  /* the local session, "" before the answer */
    const char *error;       /* why it ended, "" otherwise */
    uint64_t started_ms;     /* loop clock */
    uint64_t answered_ms, connected_ms; /* 0 until then */
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes;
} fo_relay_info_t;
/* A snapshot; pointers valid until the relay changes or is freed. */
void fo_relay_info(const fo_relay_t *rl, fo_relay_info_t *out);
/* The local session while there is one (NULL before the answer and after the end). */
fo_session_t *fo_relay_session(const fo_relay_t *rl);
const char *fo_relay_state_name(fo_relay_state_t s);

#endif
