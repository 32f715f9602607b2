/* SPDX-License-Identifier: MIT */
/* WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) over the router: an application/sdp offer
 * POSTed to /rtc/v1/whip/?app=A&stream=S (publish) or /rtc/v1/whep/?app=A&stream=S (play) is
 * answered 201 Created with the SDP answer and `Location: /rtc/v1/resource/<session id>`;
 * DELETE on that resource ends the session. The session id is the resource id: 16 random
 * characters, the same id /api/v1/clients shows. No trickle (the server is ICE-lite and its
 * answer is complete): PATCH is answered 405. Routing and authorization stay in api.c; these
 * are the steps. Loop thread only, except the pure helpers. */
#ifndef FO_WHIP_H
#define FO_WHIP_H

#include <stdbool.h>
#include <stddef.h>

#include "fanout/http.h"
#include "fanout/router.h"

#define FO_WHIP_RESOURCE_PREFIX "/rtc/v1/resource/"

/* Whether a Content-Type header names application/sdp (case-insensitive, parameters allowed).
 * Pure. */
bool fo_whip_is_sdp(const char *content_type);

/* The stream key "app/stream" from ?app=&stream= (app defaults to "live"; both one path
 * segment of [A-Za-z0-9_.~-]). Returns 0, or FO_EINVAL with a static reason. Pure. */
int fo_whip_stream_key(const char *query, char *key, size_t cap, const char **why);

/* Answers a WHIP (role publish) or WHEP (role play) offer in req->body: 201 with the answer,
 * or 415 (not application/sdp), 400 (bad SDP, no common codec), 409, 413, 503 with a
 * text/plain reason. `?eip=`/`?candidate=` in the query override the advertised address. */
void fo_whip_offer(fo_router_t *r, fo_role_t role, const char *key, const fo_http_req_t *req,
                   fo_http_resp_t *resp);

/* Ends the session of resource `id`: 200, or 404 if there is none (any more). */
void fo_whip_delete(fo_router_t *r, const char *id, fo_http_resp_t *resp);

#endif
