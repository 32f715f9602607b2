/* SPDX-License-Identifier: MIT */
/* The HTTP API: routes, JSON in and out (jansson), validation and error codes. Request parsing
 * is separate from routing so it can be unit-tested and fuzzed without HTTP or a router.
 * Loop thread only (it calls the router). */
#ifndef FO_API_H
#define FO_API_H

#include <stdbool.h>
#include <stddef.h>

#include "fanout/auth.h"
#include "fanout/cluster.h"
#include "fanout/http.h"
#include "fanout/relays.h"
#include "fanout/router.h"
#include "fanout/url.h"

/* Error codes in the JSON "code" field (0 = success). SRS uses its own numbers; tools only
 * test for non-zero, and these name the failure. */
enum {
    FO_API_OK = 0,
    FO_API_BAD_JSON = 1001,     /* 400 */
    FO_API_BAD_URL = 1002,      /* 400 */
    FO_API_BAD_SDP = 1003,      /* 400 */
    FO_API_BAD_CODEC = 1004,    /* 400 */
    FO_API_NOT_FOUND = 1005,    /* 404 */
    FO_API_BUSY = 1006,         /* 409 */
    FO_API_TOO_LARGE = 1007,    /* 413 */
    FO_API_FULL = 1008,         /* 503 */
    FO_API_INTERNAL = 1009,     /* 500 */
    FO_API_METHOD = 1010,       /* 405 */
    FO_API_MEDIA_TYPE = 1011,   /* 415 */
    FO_API_LIMITED = 1012,      /* 429: this client has too many sessions */
    FO_API_UNAUTHORIZED = 1013, /* 401: missing or bad token (auth.enabled) */
    FO_API_FORBIDDEN = 1014,    /* 403: refused by the on_publish/on_play callback */
    FO_API_BAD_ORIGIN = 1015,   /* 403: operator API asked by another site's page (Origin,
                                 * Sec-Fetch-Site) or under a Host it does not answer to */
    FO_API_REDIRECT = 1016,     /* 307: take it to the node in Location (cluster) */
    FO_API_UNAVAILABLE = 1017,  /* 503: the cluster cannot serve it now (Redis down, draining) */
};

/* A parsed SRS-style publish/play request body. */
typedef struct {
    fo_url_t url;               /* from "streamurl" */
    const char *sdp;            /* points into the parsed JSON: valid until fo_api_rtc_req_free */
    size_t sdp_len;
    char clientip[64];
    char tid[64];
    void *json;                 /* owned */
} fo_api_rtc_req_t;

/* Parses {"api","tid","streamurl","clientip","sdp"}. Returns 0, or an FO_API_* code with a
 * message in msg. Call fo_api_rtc_req_free in every case. */
int fo_api_parse_rtc(const char *body, size_t len, fo_api_rtc_req_t *out, char *msg, size_t cap);
void fo_api_rtc_req_free(fo_api_rtc_req_t *r);

typedef struct fo_api fo_api_t;

/* `cfg` (http.allowed_hosts, http.allowed_origins, auth.api_secret) and `router` must outlive
 * the api. */
fo_api_t *fo_api_new(fo_router_t *router, const fo_config_t *cfg);
void fo_api_free(fo_api_t *api);
/* Puts publish/play behind `auth` (tokens, callbacks) and /api/v1 behind its secret, and sends
 * the end notifications. `auth` (owned by the caller) must outlive the api; NULL = no checks. */
void fo_api_set_auth(fo_api_t *api, fo_auth_t *auth);
/* Serves /api/v1/relays from `relays` (owned by the caller, outliving the api). */
void fo_api_set_relays(fo_api_t *api, fo_relays_t *relays);
/* Asks `cluster` (owned by the caller, outliving the api) before taking sessions: redirects,
 * Redis down, node-to-node pulls; serves /api/v1/cluster. */
void fo_api_set_cluster(fo_api_t *api, fo_cluster_t *cluster);
/* The metrics sampler the API reads (the cluster's heartbeat reads it too). */
fo_metrics_t *fo_api_metrics(fo_api_t *api);
/* The HTTP front's per-client accounting, for /metrics (must outlive the API). */
void fo_api_set_clients(fo_api_t *api, fo_clients_t *clients);
/* The DTLS handshake pool, for /metrics (must outlive the API; may be NULL). */
void fo_api_set_handshake_pool(fo_api_t *api, fo_pool_t *pool);

/* The fo_http_handler_cb: handles /rtc/ (with CORS for any origin), /api/ and /metrics (no CORS
 * but for http.allowed_origins; other sites' requests refused) and OPTIONS anywhere; returns
 * false for everything else (static files). Counts every answer for /metrics. */
bool fo_api_handle(void *api, const fo_http_req_t *req, fo_http_resp_t *resp);

/* The authorization hook (see api.c): whether `req` may do `action` ("publish", "play",
 * "delete", "read", "kick", "metrics", "list", "status", "info") on `stream` ("app/stream" or
 * NULL). */
bool fo_api_authorize(fo_api_t *api, const fo_http_req_t *req, const char *action,
                      const char *stream);

/* Adds "Retry-After: seconds" to resp's headers when seconds > 0 (a 409 for a silent
 * publisher that may be replaced then). */
void fo_api_retry_after(fo_http_resp_t *resp, int seconds);

/* A play session's explicit simulcast layer from a ?layer= value ("low", "mid", "high", "0".."2";
 * anything else means automatic, logged). Loop thread. */
void fo_api_set_layer(fo_router_t *router, const char *session_id, const char *value);

#endif
