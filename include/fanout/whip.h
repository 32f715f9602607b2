/* SPDX-License-Identifier: MIT */
/* WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) over the router: an application/sdp offer
 * POSTed to /rtc/v1/whip/?app=A&stream=S (publish) or /rtc/v1/whep/?app=A&stream=S (play) is
 * answered 201 Created with the SDP answer, `Location: /rtc/v1/resource/<session id>` and the
 * ETag of the ICE session; DELETE on that resource ends the session, PATCH with an
 * application/trickle-ice-sdpfrag (RFC 8840) trickles candidates (204) or, with new ICE
 * credentials, restarts ICE (200 with ours, a new ETag; the session, its DTLS and SRTP and its
 * SSRCs stay). If-Match is checked as RFC 9725 4.3.1 says: a stale entity-tag is 412. The
 * session id is the resource id: 16 random characters, the same id /api/v1/clients shows.
 * Routing and authorization stay in api.c; these are the steps. Loop thread only, except the
 * pure helpers. */
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

/* Trickle or ICE restart on resource `id` (RFC 9725 4.3): 204 (candidates taken; as an ICE-lite
 * server we need none, but they are checked), 200 with our new credentials and ETag (a
 * restart: the fragment has an ice-ufrag/ice-pwd other than the peer's), 404, 415 (not
 * application/trickle-ice-sdpfrag), 400 (malformed fragment, a restart without ice-pwd), 412
 * (If-Match names another ICE session). */
void fo_whip_patch(fo_router_t *r, const char *id, const fo_http_req_t *req, fo_http_resp_t *resp);

/* The entity-tag of a session's ICE session ("\"<our ufrag>\""), into buf. Pure given s. */
const char *fo_whip_etag(const fo_session_t *s, char *buf, size_t cap);
/* Whether an If-Match value ("*", or a list of entity-tags) matches `etag`. Pure. */
bool fo_whip_if_match(const char *if_match, const char *etag);

#endif
