/* SPDX-License-Identifier: MIT */
/* What the pages may ask without operator rights, read-only and small: the public stream list
 * (names, state, audience size: GET /rtc/v1/streams/), one stream's state (GET
 * /rtc/v1/streams/{app}/{stream}: players use it to say "waiting for it to start" or "the
 * broadcast ended", the publisher page to show its audience) and the server's HTTPS port (GET
 * /rtc/v1/info/: the pages link to their https:// copy). No addresses, session ids or rates:
 * those stay in the operator API. Who may ask is fo_api_authorize's decision (api.c).
 * Loop thread only. */
#ifndef FO_STATUS_H
#define FO_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "fanout/http.h"
#include "fanout/router.h"

typedef enum {
    FO_STATUS_NONE = -1, /* not a status path */
    FO_STATUS_LIST = 0,  /* /rtc/v1/streams/ */
    FO_STATUS_STREAM,    /* /rtc/v1/streams/{key} */
    FO_STATUS_INFO,      /* /rtc/v1/info/ */
} fo_status_path_t;

/* Which status resource `path` names; for FO_STATUS_STREAM the stream key ("app/stream") is
 * copied into key (a trailing '/' dropped). A key longer than cap is FO_STATUS_NONE. Pure. */
fo_status_path_t fo_status_path(const char *path, char *key, size_t cap);

/* Whether GET /rtc/v1/streams/ is public under `cfg` (http.stream_list; "auto": while
 * auth.secret is empty). Pure. */
bool fo_status_list_public(const fo_config_t *cfg);

/* Answers a status path (GET/HEAD; 405 for other methods) from the router's state. `router`
 * and the config it was made with outlive the call. Returns false when `path` is none of them. */
bool fo_status_handle(fo_router_t *router, const fo_http_req_t *req, fo_http_resp_t *resp);

#endif
