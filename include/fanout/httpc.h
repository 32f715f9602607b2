/* SPDX-License-Identifier: MIT */
/* Outbound HTTP on our own loop: the only libcurl user. libcurl's multi interface is driven by
 * the epoll loop (curl's sockets are fo_io registrations, its timeout one fo_timer), so a
 * request costs no thread and never blocks: its completion callback runs later on the loop
 * thread. One client per loop; requests to the same host reuse its connections (keep-alive,
 * HTTP/2 multiplexing over TLS). Every request is bounded (request body, response body and
 * headers, time) and cancellable. What is sent and what the answer means (operator callbacks,
 * WHIP/WHEP to another server) is the caller's business.
 * Loop thread only. Callbacks never run from inside fo_httpc_send or fo_httpc_cancel. */
#ifndef FO_HTTPC_H
#define FO_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/loop.h"

typedef struct fo_httpc fo_httpc_t;
/* One request in flight. Owned by the client; valid until its callback returns or it is
 * cancelled, whichever comes first. */
typedef struct fo_httpc_req fo_httpc_req_t;

/* The client's caps; zero fields take the defaults. */
typedef struct {
    int max_in_flight;         /* requests at once; beyond it fo_httpc_send fails (4096) */
    int max_host_connections;  /* connections to one host; more requests wait in line (0 = no cap) */
    size_t max_request_body;   /* largest body fo_httpc_send accepts (1 MiB) */
    size_t max_response_body;  /* largest response body, unless a request says (1 MiB) */
    int default_timeout_ms;    /* a request without timeout_ms (10000) */
} fo_httpc_opts_t;

/* `opts` NULL = defaults. NULL on failure (logged). */
fo_httpc_t *fo_httpc_new(fo_loop_t *loop, const fo_httpc_opts_t *opts);
/* Cancels every request in flight (their callbacks never run) and frees. Not from one of the
 * client's own callbacks. NULL is a no-op. */
void fo_httpc_free(fo_httpc_t *c);

/* What to send. Every pointer is read during fo_httpc_send only (the body is copied). */
typedef struct {
    const char *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"...;
                                 NULL = POST when there is a body, else GET */
    const char *url;          /* http:// or https:// only; redirects are not followed */
    const char *content_type; /* of the body, e.g. "application/sdp"; NULL = none */
    const char *headers;      /* more request headers, "Name: value\r\n" each, e.g.
                                 "Authorization: Bearer x\r\nIf-Match: \"e1\"\r\n"; NULL = none */
    const void *body;         /* NULL = none */
    size_t body_len;
    int timeout_ms;           /* the whole exchange, connecting included; 0 = the client's */
    size_t max_response;      /* response body cap; 0 = the client's */
    const char *ca_file;      /* https: PEM certificates to trust instead of the system's (a
                                 cluster's own CA, another fanout's self-signed certificate);
                                 NULL = the system's. The host name is always verified. */
} fo_httpc_request_t;

/* The outcome, valid during the callback only. err 0 means an HTTP response arrived, whatever
 * its status; otherwise status is 0 and error says why. */
typedef struct {
    int err;                  /* 0, FO_ETIMEDOUT, FO_EUNREACH (resolve/connect failed),
                                 FO_ECLOSED (connection closed or reset without an answer),
                                 FO_ETOOBIG (response body over the cap), FO_ECRYPTO (TLS),
                                 FO_ENOMEM, FO_ERR */
    int status;               /* HTTP status */
    const char *error;        /* readable reason; "" when err == 0 */
    const char *body;         /* NUL-terminated; "" when none */
    size_t body_len;
    const char *content_type; /* "" when absent */
    const char *location;     /* the Location header as sent; "" when absent */
    const char *location_url; /* Location resolved against the request URL (absolute) */
    const char *etag;         /* "" when absent */
    const char *headers;      /* the final response's header lines, "Name: value\r\n" each */
    uint64_t elapsed_ms;      /* from fo_httpc_send to completion */
} fo_httpc_resp_t;

typedef void (*fo_httpc_done_cb)(void *user, const fo_httpc_resp_t *resp);

/* Starts a request; `cb(user, resp)` runs exactly once on the loop thread when it completes,
 * fails or times out, unless it is cancelled first. *out (may be NULL) receives the handle
 * for fo_httpc_cancel. Returns 0, or (and then cb never runs) FO_EINVAL (not an http(s) URL,
 * bad method or header line), FO_ETOOBIG (body over max_request_body), FO_EFULL
 * (max_in_flight reached), FO_ENOMEM. */
int fo_httpc_send(fo_httpc_t *c, const fo_httpc_request_t *rq, fo_httpc_done_cb cb, void *user,
                  fo_httpc_req_t **out);

/* Abandons a request: its callback never runs, its connection is closed or reused. Must not be
 * called for a request whose callback has started (drop the handle there). NULL is a no-op. */
void fo_httpc_cancel(fo_httpc_req_t *rq);

/* Copies the value of response header `name` (case-insensitive; the first one) into out.
 * Returns its length, or FO_ENOTFOUND (out is then ""). */
int fo_httpc_header(const fo_httpc_resp_t *resp, const char *name, char *out, size_t cap);

typedef struct {
    uint64_t sent;            /* fo_httpc_send calls that started a request */
    uint64_t refused;         /* fo_httpc_send calls refused by a cap or bad input */
    uint64_t answered;        /* completed with an HTTP response (any status) */
    uint64_t failed;          /* completed without one (timeouts included) */
    uint64_t timed_out;
    uint64_t cancelled;
    uint64_t in_flight;
} fo_httpc_stats_t;
void fo_httpc_stats(const fo_httpc_t *c, fo_httpc_stats_t *out);

#endif
