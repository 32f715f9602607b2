/* SPDX-License-Identifier: MIT */
/* Admission of a publish/play offer that passed the request checks (JSON or WHIP framing,
 * stream name, token, the cluster's redirects): every check the router makes (SDP, codecs,
 * caps, a busy stream) runs first; then a place is held and the slow steps run in order, the
 * HTTP answer deferred (once) until the last one's outcome: in a cluster a publish claims its
 * stream cluster-wide (cluster.h: 409 when another node publishes it), then, when the operator
 * configured on_publish/on_play, the callback is asked. A timeout, a refusal or the client
 * leaving ends it: nothing is created, the hold is released and the claim given back. Last the
 * session is created, checking again what may have changed meanwhile. With no slow step the
 * session is created at once.
 * The answer's format (SRS JSON, WHIP/WHEP) is the caller's, through fo_admit_answer_cb.
 * Loop thread only. */
#ifndef FO_ADMIT_H
#define FO_ADMIT_H

#include "fanout/auth.h"
#include "fanout/cluster.h"
#include "fanout/http.h"
#include "fanout/metrics.h"
#include "fanout/router.h"

typedef struct fo_admit fo_admit_t;
typedef struct fo_admit_offer fo_admit_offer_t;

/* Builds the HTTP answer from an offer's outcome: success (http_status 200: session_id and
 * answer; take res->answer to keep it) or failure (http_status, err, msg). err FO_EAUTH (403)
 * and FO_EUNREACH (503) are the callback's refusal and failure, FO_EFULL with 503 also the
 * callback cap; FO_ETIMEDOUT (503) the cluster's claim that could not be made in time. */
typedef void (*fo_admit_answer_cb)(fo_router_t *r, const fo_admit_offer_t *o, fo_offer_result_t *res,
                                   fo_http_resp_t *resp);

struct fo_admit_offer {
    fo_offer_t offer;          /* role, stream key, SDP, candidate override, client IP */
    const char *param;         /* for the callback: the request's query, "?k=v&..." or "" */
    const char *layer;         /* a player's ?layer= ("" none) */
    fo_admit_answer_cb answer;
    bool no_callback;          /* skip on_publish/on_play (another node's pull: cluster.h) */
};

/* `router`, `auth` (NULL: no callbacks) and `metrics` (counts deferred answers by status)
 * must outlive it. NULL on allocation failure. */
fo_admit_t *fo_admit_new(fo_router_t *router, fo_auth_t *auth, fo_metrics_t *metrics);
/* Publishes claim their stream in `cluster` (NULL or not enabled: no claim), which must
 * outlive the admissions. */
void fo_admit_set_cluster(fo_admit_t *a, fo_cluster_t *cluster);
/* Admissions still waiting are abandoned (callbacks cancelled, holds released); their HTTP
 * requests must be gone already (fo_http_free ends them first). NULL is a no-op. */
void fo_admit_free(fo_admit_t *a);

/* Admits `o` for HTTP request `req`: answers into resp now, or defers the answer
 * (fo_http_defer; resp is then left empty, status 0). Every pointer in `o` is read during the
 * call only. */
void fo_admit_offer(fo_admit_t *a, const fo_http_req_t *req, const fo_admit_offer_t *o,
                    fo_http_resp_t *resp);

/* Admissions waiting for their claim or callback now. */
size_t fo_admit_waiting(const fo_admit_t *a);

#endif
