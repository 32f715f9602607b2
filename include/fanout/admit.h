/* SPDX-License-Identifier: MIT */
/* Admission of a publish/play offer that passed the request checks (JSON or WHIP framing,
 * stream name, token): every check the router makes (SDP, codecs, caps, a busy stream) runs
 * first; then, when the operator configured on_publish/on_play, a place is held, the callback
 * asked, and the HTTP answer deferred until its verdict (or its timeout, or the client leaves:
 * then nothing is created and the hold is released); last the session is created, checking
 * again what may have changed meanwhile. Without a callback the session is created at once.
 * The answer's format (SRS JSON, WHIP/WHEP) is the caller's, through fo_admit_answer_cb.
 * Loop thread only. */
#ifndef FO_ADMIT_H
#define FO_ADMIT_H

#include "fanout/auth.h"
#include "fanout/http.h"
#include "fanout/metrics.h"
#include "fanout/router.h"

typedef struct fo_admit fo_admit_t;
typedef struct fo_admit_offer fo_admit_offer_t;

/* Builds the HTTP answer from an offer's outcome: success (http_status 200: session_id and
 * answer; take res->answer to keep it) or failure (http_status, err, msg). err FO_EAUTH (403)
 * and FO_EUNREACH (503) are the callback's refusal and failure, FO_EFULL with 503 also the
 * callback cap. */
typedef void (*fo_admit_answer_cb)(fo_router_t *r, const fo_admit_offer_t *o, fo_offer_result_t *res,
                                   fo_http_resp_t *resp);

struct fo_admit_offer {
    fo_offer_t offer;          /* role, stream key, SDP, candidate override, client IP */
    const char *param;         /* for the callback: the request's query, "?k=v&..." or "" */
    const char *layer;         /* a player's ?layer= ("" none) */
    fo_admit_answer_cb answer;
};

/* `router`, `auth` (NULL: no callbacks) and `metrics` (counts deferred answers by status)
 * must outlive it. NULL on allocation failure. */
fo_admit_t *fo_admit_new(fo_router_t *router, fo_auth_t *auth, fo_metrics_t *metrics);
/* Admissions still waiting are abandoned (callbacks cancelled, holds released); their HTTP
 * requests must be gone already (fo_http_free ends them first). NULL is a no-op. */
void fo_admit_free(fo_admit_t *a);

/* Admits `o` for HTTP request `req`: answers into resp now, or defers the answer
 * (fo_http_defer; resp is then left empty, status 0). Every pointer in `o` is read during the
 * call only. */
void fo_admit_offer(fo_admit_t *a, const fo_http_req_t *req, const fo_admit_offer_t *o,
                    fo_http_resp_t *resp);

/* Admissions waiting for their callback now. */
size_t fo_admit_waiting(const fo_admit_t *a);

#endif
