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

/* The request-level checks of a WHIP (role publish) or WHEP (role play) offer in req->body:
 * 0, or an error in resp (413 too large, 415 not application/sdp, 400 empty) and non-zero. */
int fo_whip_check_offer(fo_role_t role, const fo_http_req_t *req, fo_http_resp_t *resp);

/* The answer to a WHIP/WHEP offer from the router's outcome: 201 with the SDP answer (taken
 * from res->answer), `Location: /rtc/v1/resource/<id>` and an ETag; or res's status (400 bad
 * SDP or no common codec, 409, 413, 429, 403, 503...) with a text/plain reason. `layer` is a
 * player's ?layer= (NULL/"" none). */
void fo_whip_answer(fo_router_t *r, fo_role_t role, const char *key, const char *layer,
                    fo_offer_result_t *res, fo_http_resp_t *resp);

/* Ends the session of resource `id`: 200, or 404 if there is none (any more). */
void fo_whip_delete(fo_router_t *r, const char *id, fo_http_resp_t *resp);

#endif
