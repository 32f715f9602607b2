/* SPDX-License-Identifier: MIT */
/* Resource caps that protect the server from hostile or runaway peers: sessions, publishers and
 * sessions still connecting, in total and per client; offers per second per client; players per
 * stream; and a per-session packet-rate token bucket. (Request body and SDP size stay where they
 * were checked before: http and sdp.) A client is an IPv4 address or an IPv6 /64 (one host
 * usually holds a whole /64), as the HTTP peer; addresses in rtc.limits_exempt (compared whole)
 * skip the per-client caps. The module decides; the caller counts what it refused. Owns the
 * per-client and per-session tables. Loop thread only, except fo_rate_* which are pure. */
#ifndef FO_LIMITS_H
#define FO_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/config.h"

/* --- a token bucket, no syscalls: the caller passes the loop's cached clock --- */
typedef struct {
    uint64_t last_ms;
    int64_t milli_tokens; /* 1000 per packet */
    bool primed;
} fo_rate_t;

/* Whether one more packet fits in `pps` packets per second with a burst of one second's worth
 * (pps <= 0: no limit). Takes the token when it fits. Zero-initialise the bucket. */
static inline bool fo_rate_allow(fo_rate_t *r, uint64_t now_ms, int pps)
{
    if (pps <= 0) return true;
    int64_t cap = (int64_t)pps * 1000;
    if (!r->primed) {
        r->primed = true;
        r->milli_tokens = cap;
        r->last_ms = now_ms;
    } else if (now_ms > r->last_ms) {
        uint64_t dt = now_ms - r->last_ms;
        r->milli_tokens = dt >= 1000 ? cap : r->milli_tokens + (int64_t)dt * pps;
        if (r->milli_tokens > cap) r->milli_tokens = cap;
        r->last_ms = now_ms;
    }
    if (r->milli_tokens < 1000) return false;
    r->milli_tokens -= 1000;
    return true;
}

typedef struct fo_limits fo_limits_t;

/* Reads the caps from cfg (which must outlive it). NULL on allocation failure. */
fo_limits_t *fo_limits_new(const fo_config_t *cfg);
void fo_limits_free(fo_limits_t *l);

/* What the router knows when an offer arrives. */
typedef struct {
    bool play;               /* a player (else a publisher) */
    const char *client_ip;   /* the HTTP peer's address (text); NULL/"" = unknown, not counted */
    uint64_t now_ms;         /* the loop's clock (the per-client offer rate) */
    size_t sessions;         /* sessions in total now */
    size_t publishers;       /* publishers in total now */
    size_t stream_players;   /* players of the requested stream now */
} fo_limits_offer_t;

/* Whether a new session may be created. Every offer from a client that is not exempt takes one
 * of its offer tokens, refused or not. Returns 0, or FO_EFULL (the server or the stream is full:
 * HTTP 503) or FO_EAGAIN (this client has too many, or offers too fast: HTTP 429), with a
 * reason in msg. */
int fo_limits_check(fo_limits_t *l, const fo_limits_offer_t *o, char *msg, size_t cap);

/* Counts a created session (still connecting) against its client; fo_limits_connected when it
 * connects, fo_limits_release when it ends. `id` is the session id (copied); client_ip may be
 * NULL (counted in the totals only). Returns 0 or FO_ENOMEM. */
int fo_limits_acquire(fo_limits_t *l, const char *id, const char *client_ip, bool publisher);
void fo_limits_connected(fo_limits_t *l, const char *id);
void fo_limits_release(fo_limits_t *l, const char *id);
/* Sessions counted against this IP's client now, and of those still connecting. */
size_t fo_limits_ip_sessions(const fo_limits_t *l, const char *client_ip);
size_t fo_limits_ip_pending(const fo_limits_t *l, const char *client_ip);
/* Sessions still connecting, all clients (and unknown ones) together. */
size_t fo_limits_pending(const fo_limits_t *l);
/* Clients the table holds now (with sessions, or with a recent offer). */
size_t fo_limits_clients(const fo_limits_t *l);

#endif
