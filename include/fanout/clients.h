/* SPDX-License-Identifier: MIT */
/* Per-client accounting for the HTTP front, so that one client cannot lock the others out of
 * the API: concurrent connections per client, a deadline for each request's headers and body
 * (slowloris), a request rate for the signaling endpoints (429 with Retry-After), and a
 * temporary ban for a client whose requests keep failing (bad JSON or SDP, bad tokens). A
 * client is an IPv4 address or an IPv6 /64 (what one IPv6 host controls); addresses listed in
 * http.exempt (text) skip every check. Each refusal is counted (fo_clients_stats, /metrics) and
 * logged at most once per client per minute. Shared by the HTTP and HTTPS servers.
 * Owns the client table (entries expire once idle). Loop thread only. */
#ifndef FO_CLIENTS_H
#define FO_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fanout/config.h"
#include "fanout/loop.h"

typedef struct fo_clients fo_clients_t;

/* Reads the http.* limits from cfg (which must outlive it); `loop` gives the clock and runs the
 * expiry sweep. NULL on allocation failure. */
fo_clients_t *fo_clients_new(fo_loop_t *loop, const fo_config_t *cfg);
void fo_clients_free(fo_clients_t *c);

/* http.max_connections: connections at once per HTTP server; 0 = derive from RLIMIT_NOFILE. */
int fo_clients_max_connections(const fo_clients_t *c);

/* A new TCP connection from `addr` (accept time). Returns 0, or FO_EBUSY (the client has
 * http.max_conns_per_client open already) or FO_EDENIED (banned): refuse it. */
int fo_clients_accept(fo_clients_t *c, const struct sockaddr *addr);
/* A connection fo_clients_accept allowed has opened / closed (they must pair). */
void fo_clients_opened(fo_clients_t *c, const struct sockaddr *addr);
void fo_clients_closed(fo_clients_t *c, const struct sockaddr *addr);

/* How long a request's headers and body may take, ms (http.request_timeout); 0 = no limit.
 * The caller times its connections and reports each expiry with fo_clients_timed_out. */
int fo_clients_request_timeout_ms(const fo_clients_t *c);
void fo_clients_timed_out(fo_clients_t *c, const struct sockaddr *addr);

/* Whether `method` `path` is a signaling request (POST/PATCH/DELETE under /rtc/): what the
 * request rate applies to. Pure. */
bool fo_clients_is_signaling(const char *method, const char *path);

/* A complete request from `addr`. Returns 0, FO_EAGAIN (signaling over the client's rate:
 * answer 429, *retry_after_s set) or FO_EDENIED (banned meanwhile: answer 403 and close,
 * *retry_after_s = the rest of the ban). */
int fo_clients_request(fo_clients_t *c, const struct sockaddr *addr, bool signaling,
                       int *retry_after_s);

/* The status a request was answered with: 400, 401, 413 and 415 count as failures, and
 * http.ban_failures of them within http.ban_window seconds ban the client for http.ban_time. */
void fo_clients_answered(fo_clients_t *c, const struct sockaddr *addr, int status);

/* Whether the client is banned now. */
bool fo_clients_banned(fo_clients_t *c, const struct sockaddr *addr);

typedef struct {
    uint64_t conns_refused;   /* over http.max_conns_per_client */
    uint64_t banned_refused;  /* connections and requests refused during a ban */
    uint64_t timeouts;        /* requests cut for taking longer than http.request_timeout */
    uint64_t rate_limited;    /* signaling requests answered 429 */
    uint64_t bans;            /* bans imposed */
    uint64_t clients;         /* clients in the table now */
    uint64_t banned_now;
} fo_clients_stats_t;
void fo_clients_stats(const fo_clients_t *c, fo_clients_stats_t *out);

#endif
