/* SPDX-License-Identifier: MIT */
/* Offer admission with the operator's callback last. A waiting admission owns copies of what
 * it needs later (the offer's SDP and strings), a router hold (its place under the caps and
 * its future session id) and the callback in flight; it ends exactly once: by the verdict, by
 * the deferral's end (timeout, client gone, shutdown), or by fo_admit_free. */
#include "fanout/admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/log.h"

/* The deferral outlives the callback's own timeout (httpc's deadline answers first). */
#define DEFER_SLACK_MS 1000

typedef struct wait {
    fo_admit_t *a;
    fo_http_defer_t *d;
    fo_auth_hook_t *hook;
    fo_admit_answer_cb answer;
    fo_role_t role;
    char id[40], key[256], client_ip[64], candidate[80], layer[16];
    char *sdp;
    size_t sdp_len;
    struct wait *prev, *next;
} wait_t;

struct fo_admit {
    fo_router_t *router;
    fo_auth_t *auth;
    fo_metrics_t *metrics;
    wait_t *waiting;
    size_t n_waiting;
};

fo_admit_t *fo_admit_new(fo_router_t *router, fo_auth_t *auth, fo_metrics_t *metrics)
{
    fo_admit_t *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    *a = (fo_admit_t){.router = router, .auth = auth, .metrics = metrics};
    return a;
}

static const char *role_name(fo_role_t role) { return role == FO_ROLE_PUBLISH ? "publish" : "play"; }

static void fail(fo_offer_result_t *res, int status, int err, const char *msg)
{
    memset(res, 0, sizeof *res);
    res->http_status = status;
    res->err = err;
    snprintf(res->msg, sizeof res->msg, "%s", msg);
}

/* The waiting admission as an offer again, for the router and the answer. */
static fo_admit_offer_t view(const wait_t *w)
{
    return (fo_admit_offer_t){.offer = {w->role, w->key, w->sdp, w->sdp_len, w->candidate, w->client_ip},
                              .param = "",
                              .layer = w->layer,
                              .answer = w->answer};
}

static wait_t *wait_new(fo_admit_t *a, const fo_admit_offer_t *o, const char *id)
{
    wait_t *w = calloc(1, sizeof *w);
    if (!w || !(w->sdp = malloc(o->offer.len + 1))) {
        free(w);
        return NULL;
    }
    memcpy(w->sdp, o->offer.sdp, o->offer.len);
    w->sdp[o->offer.len] = '\0';
    w->sdp_len = o->offer.len;
    w->a = a;
    w->answer = o->answer;
    w->role = o->offer.role;
    snprintf(w->id, sizeof w->id, "%s", id);
    snprintf(w->key, sizeof w->key, "%s", o->offer.key);
    snprintf(w->client_ip, sizeof w->client_ip, "%s", o->offer.client_ip ? o->offer.client_ip : "");
    snprintf(w->candidate, sizeof w->candidate, "%s", o->offer.candidate ? o->offer.candidate : "");
    snprintf(w->layer, sizeof w->layer, "%s", o->layer ? o->layer : "");
    return w;
}

/* Unlinks (when linked) and frees. */
static void wait_free(wait_t *w)
{
    fo_admit_t *a = w->a;
    if (w->prev || a->waiting == w) {
        if (w->prev) w->prev->next = w->next;
        else a->waiting = w->next;
        if (w->next) w->next->prev = w->prev;
        a->n_waiting--;
    }
    free(w->sdp);
    free(w);
}

/* Answers the deferred request with res's outcome (counted by status). */
static void answer(wait_t *w, fo_offer_result_t *res)
{
    fo_http_resp_t resp = {0};
    fo_admit_offer_t v = view(w);
    w->answer(w->a->router, &v, res, &resp);
    if (w->a->metrics) fo_metrics_count_request(w->a->metrics, resp.status);
    fo_http_defer_answer(w->d, &resp);
    free(resp.body);
}

static void verdict_cb(void *user, int verdict, const char *msg)
{
    wait_t *w = user;
    fo_admit_t *a = w->a;
    w->hook = NULL;
    fo_offer_result_t res;
    if (verdict == 0 && fo_http_defer_client_gone(w->d)) {
        /* the hang-up is in the socket, not yet in the loop: nobody to create a session for */
        FO_LOG(FO_LOG_INFO, w->key, "%s from %s: the client left while its callback ran; nothing created",
               role_name(w->role), w->client_ip);
        fo_router_offer_release(a->router, w->id);
        fo_http_resp_t none = {.status = 503};
        fo_http_defer_answer(w->d, &none); /* nobody reads it; MHD closes */
        wait_free(w);
        return;
    }
    if (verdict == 0) {
        fo_admit_offer_t v = view(w);
        fo_router_offer_take(a->router, w->id, &v.offer, &res);
    } else {
        fo_router_offer_release(a->router, w->id);
        fail(&res, verdict == FO_EAUTH ? 403 : 503, verdict, msg);
    }
    answer(w, &res);
    free(res.answer);
    wait_free(w);
}

static void defer_end_cb(void *user, fo_http_defer_t *d, fo_http_defer_end_t why)
{
    (void)d;
    wait_t *w = user;
    fo_auth_hook_cancel(w->hook);
    fo_router_offer_release(w->a->router, w->id);
    if (why == FO_HTTP_DEFER_CLOSED) {
        FO_LOG(FO_LOG_INFO, w->key, "%s from %s: the client left while its callback ran; nothing created",
               role_name(w->role), w->client_ip);
    } else {
        fo_offer_result_t res;
        fail(&res, 503, FO_EUNREACH,
             why == FO_HTTP_DEFER_TIMEOUT ? "the operator's callback timed out" : "server shutting down");
        answer(w, &res);
    }
    wait_free(w);
}

void fo_admit_offer(fo_admit_t *a, const fo_http_req_t *req, const fo_admit_offer_t *o,
                    fo_http_resp_t *resp)
{
    const fo_offer_t *of = &o->offer;
    fo_auth_action_t act = of->role == FO_ROLE_PUBLISH ? FO_AUTH_PUBLISH : FO_AUTH_PLAY;
    fo_offer_result_t res;
    if (!fo_auth_hook_configured(a->auth, act)) {
        fo_router_offer_from(a->router, of->role, of->key, of->sdp, of->len, of->candidate, of->client_ip, &res);
        o->answer(a->router, o, &res, resp);
        free(res.answer);
        return;
    }
    /* every check first: what fails here never reaches the operator's callback */
    if (fo_router_offer_hold(a->router, of, &res) != 0) {
        o->answer(a->router, o, &res, resp);
        return;
    }
    wait_t *w = wait_new(a, o, res.session_id);
    fo_auth_hook_req_t q = {.action = act, .stream_key = of->key, .client_ip = of->client_ip,
                            .client_id = res.session_id, .param = o->param};
    int rc = w ? fo_auth_hook_ask(a->auth, &q, verdict_cb, w, &w->hook) : FO_ENOMEM;
    if (rc == 0 && !(w->d = fo_http_defer(req, fo_auth_hook_timeout_ms(a->auth) + DEFER_SLACK_MS, defer_end_cb, w))) {
        fo_auth_hook_cancel(w->hook);
        rc = FO_ENOMEM;
    }
    if (rc) {
        char msg[160];
        fo_router_offer_release(a->router, res.session_id);
        if (w) wait_free(w);
        if (rc == FO_EFULL)
            snprintf(msg, sizeof msg, "server busy: too many %s callbacks waiting (auth.hook_max_in_flight)",
                     role_name(of->role));
        else if (rc == FO_EUNREACH)
            snprintf(msg, sizeof msg, "%s callback unreachable or timed out", role_name(of->role));
        else
            snprintf(msg, sizeof msg, "out of memory");
        FO_LOG(FO_LOG_INFO, of->key, "%s from %s refused: %s", role_name(of->role), of->client_ip, msg);
        fail(&res, rc == FO_ENOMEM ? 500 : 503, rc, msg);
        o->answer(a->router, o, &res, resp);
        return;
    }
    w->next = a->waiting;
    if (a->waiting) a->waiting->prev = w;
    a->waiting = w;
    a->n_waiting++;
}

size_t fo_admit_waiting(const fo_admit_t *a) { return a->n_waiting; }

void fo_admit_free(fo_admit_t *a)
{
    if (!a) return;
    while (a->waiting) {
        wait_t *w = a->waiting;
        fo_auth_hook_cancel(w->hook);
        fo_router_offer_release(a->router, w->id);
        wait_free(w);
    }
    free(a);
}
