/* SPDX-License-Identifier: MIT */
/* Offer admission with the slow steps last: every local check (a router hold), then the
 * cluster's claim of a publish, then the operator's callback. A waiting admission owns copies of
 * what it needs later (the offer's SDP and strings), a router hold (its place under the caps and
 * its future session id), the claim or the callback in flight, and the one deferral of its HTTP
 * request; it ends exactly once: by the last step's outcome, by the deferral's end (timeout,
 * client gone, shutdown), or by fo_admit_free. A claim made and not turned into a session is
 * given back. */
#include "fanout/admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/log.h"

/* The deferral outlives the callback's own timeout (httpc's deadline answers first). */
#define DEFER_SLACK_MS 1000
/* How long a publish waits for Redis's word on its claim. */
#define CLAIM_WAIT_MS 5000

typedef struct wait {
    fo_admit_t *a;
    fo_http_defer_t *d;      /* NULL while the admission runs inside fo_admit_offer */
    fo_auth_hook_t *hook;
    fo_admit_answer_cb answer;
    fo_role_t role;
    bool ask;                /* the operator's callback is still to be asked */
    bool claiming;           /* the cluster's claim is in flight */
    bool claimed;            /* a claim was asked for: give it back unless a session takes it */
    int claim_rc;            /* the claim's outcome when it came inside fo_admit_offer */
    char holder[64];         /* then: the node that has the stream (FO_EBUSY) */
    char id[40], key[256], client_ip[64], candidate[80], layer[16];
    char *sdp, *param;
    size_t sdp_len;
    struct wait *prev, *next;
} wait_t;

struct fo_admit {
    fo_router_t *router;
    fo_auth_t *auth;
    fo_metrics_t *metrics;
    fo_cluster_t *cluster;
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

void fo_admit_set_cluster(fo_admit_t *a, fo_cluster_t *cluster)
{
    if (a) a->cluster = cluster;
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
                              .param = w->param,
                              .layer = w->layer,
                              .answer = w->answer};
}

static wait_t *wait_new(fo_admit_t *a, const fo_admit_offer_t *o, const char *id)
{
    wait_t *w = calloc(1, sizeof *w);
    const char *param = o->param ? o->param : "";
    if (!w || !(w->sdp = malloc(o->offer.len + 1)) || !(w->param = strdup(param))) {
        if (w) free(w->sdp);
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
    free(w->param);
    free(w);
}

/* Stops whatever is in flight and gives back the hold and the claim: nothing was created. */
static void abandon(wait_t *w)
{
    fo_admit_t *a = w->a;
    fo_auth_hook_cancel(w->hook);
    w->hook = NULL;
    if (w->claiming) fo_cluster_cancel(a->cluster, w);
    w->claiming = false;
    fo_router_offer_release(a->router, w->id);
    if (w->claimed) fo_cluster_publish_abort(a->cluster, w->key);
    w->claimed = false;
}

/* Answers with res's outcome: into `resp` while inside fo_admit_offer, else the deferred
 * request (counted by status here, since the API counts only what it answered itself). */
static void answer(wait_t *w, fo_offer_result_t *res, fo_http_resp_t *resp)
{
    fo_admit_offer_t v = view(w);
    if (!w->d) {
        w->answer(w->a->router, &v, res, resp);
        return;
    }
    fo_http_resp_t r = {0};
    w->answer(w->a->router, &v, res, &r);
    if (w->a->metrics) fo_metrics_count_request(w->a->metrics, r.status);
    fo_http_defer_answer(w->d, &r);
    free(r.body);
}

/* Every step passed: the session is created (the router checks again what may have changed
 * meanwhile), answered, and the admission ends. */
static void take(wait_t *w, fo_http_resp_t *resp)
{
    fo_offer_result_t res;
    fo_admit_offer_t v = view(w);
    fo_router_offer_take(w->a->router, w->id, &v.offer, &res);
    if (res.http_status != 200 && w->claimed) fo_cluster_publish_abort(w->a->cluster, w->key);
    w->claimed = false;
    answer(w, &res, resp);
    free(res.answer);
    wait_free(w);
}

/* A step refused: nothing is created; answered with `status`/`err`/`msg`, and ended. */
static void refuse(wait_t *w, int status, int err, const char *msg, fo_http_resp_t *resp)
{
    abandon(w);
    fo_offer_result_t res;
    fail(&res, status, err, msg);
    answer(w, &res, resp);
    wait_free(w);
}

/* Whether the client hung up while a step ran (the hang-up is in the socket, not yet in the
 * loop): then nobody is there to create a session for, and the admission ends here. */
static bool client_left(wait_t *w, const char *step)
{
    if (!w->d || !fo_http_defer_client_gone(w->d)) return false;
    FO_LOG(FO_LOG_INFO, w->key, "%s from %s: the client left while %s ran; nothing created",
           role_name(w->role), w->client_ip, step);
    abandon(w);
    fo_http_resp_t none = {.status = 503};
    fo_http_defer_answer(w->d, &none); /* nobody reads it; MHD closes */
    wait_free(w);
    return true;
}

static void verdict_cb(void *user, int verdict, const char *msg)
{
    wait_t *w = user;
    w->hook = NULL;
    if (verdict == 0 && client_left(w, "its callback")) return;
    if (verdict == 0) take(w, NULL);
    else refuse(w, verdict == FO_EAUTH ? 403 : 503, verdict, msg, NULL);
}

/* Asks the operator's callback. 0 (asked: verdict_cb ends it), else a refusal code. */
static int ask(wait_t *w)
{
    w->ask = false;
    fo_auth_action_t act = w->role == FO_ROLE_PUBLISH ? FO_AUTH_PUBLISH : FO_AUTH_PLAY;
    fo_auth_hook_req_t q = {.action = act, .stream_key = w->key, .client_ip = w->client_ip,
                            .client_id = w->id, .param = w->param};
    return fo_auth_hook_ask(w->a->auth, &q, verdict_cb, w, &w->hook);
}

/* Refuses for a callback that could not be asked (ask's code). */
static void refuse_ask(wait_t *w, int rc, fo_http_resp_t *resp)
{
    char msg[160];
    if (rc == FO_EFULL)
        snprintf(msg, sizeof msg, "server busy: too many %s callbacks waiting (auth.hook_max_in_flight)",
                 role_name(w->role));
    else if (rc == FO_EUNREACH)
        snprintf(msg, sizeof msg, "%s callback unreachable or timed out", role_name(w->role));
    else
        snprintf(msg, sizeof msg, "out of memory");
    FO_LOG(FO_LOG_INFO, w->key, "%s from %s refused: %s", role_name(w->role), w->client_ip, msg);
    refuse(w, rc == FO_ENOMEM ? 500 : 503, rc, msg, resp);
}

/* The claim refused: another node publishes the stream (`holder`, NULL if unknown). */
static void refuse_claimed(wait_t *w, const char *holder, fo_http_resp_t *resp)
{
    char msg[256];
    snprintf(msg, sizeof msg, "stream busy: %.120s is published on node %.64s", w->key,
             holder && *holder ? holder : "?");
    FO_LOG(FO_LOG_INFO, w->key, "publish from %s refused: %s", w->client_ip, msg);
    w->claimed = false; /* the claim is the other node's */
    refuse(w, 409, FO_EBUSY, msg, resp);
}

/* Redis's word on the claim. */
static void claim_cb(void *user, int rc, const char *holder)
{
    wait_t *w = user;
    w->claiming = false;
    if (!w->d) { /* still inside fo_admit_offer (settled at once): it goes on from there */
        w->claim_rc = rc;
        snprintf(w->holder, sizeof w->holder, "%s", holder ? holder : "");
        return;
    }
    if (rc == FO_EBUSY) {
        refuse_claimed(w, holder, NULL);
        return;
    }
    if (client_left(w, "its cluster claim")) return;
    if (!w->ask) {
        take(w, NULL);
        return;
    }
    int arc = ask(w);
    if (arc) refuse_ask(w, arc, NULL);
}

static void defer_end_cb(void *user, fo_http_defer_t *d, fo_http_defer_end_t why)
{
    (void)d;
    wait_t *w = user;
    bool claiming = w->claiming;
    abandon(w);
    if (why == FO_HTTP_DEFER_CLOSED) {
        FO_LOG(FO_LOG_INFO, w->key, "%s from %s: the client left while %s ran; nothing created",
               role_name(w->role), w->client_ip, claiming ? "its cluster claim" : "its callback");
    } else {
        const char *msg = why != FO_HTTP_DEFER_TIMEOUT ? "server shutting down"
                          : claiming                   ? "the cluster's claim timed out"
                                                       : "the operator's callback timed out";
        fo_offer_result_t res;
        fail(&res, 503, claiming ? FO_ETIMEDOUT : FO_EUNREACH, msg);
        answer(w, &res, NULL);
    }
    wait_free(w);
}

void fo_admit_offer(fo_admit_t *a, const fo_http_req_t *req, const fo_admit_offer_t *o,
                    fo_http_resp_t *resp)
{
    const fo_offer_t *of = &o->offer;
    fo_auth_action_t act = of->role == FO_ROLE_PUBLISH ? FO_AUTH_PUBLISH : FO_AUTH_PLAY;
    bool hook = !o->no_callback && fo_auth_hook_configured(a->auth, act);
    bool claim = of->role == FO_ROLE_PUBLISH && fo_cluster_enabled(a->cluster);
    fo_offer_result_t res;
    if (!hook && !claim) {
        fo_router_offer_from(a->router, of->role, of->key, of->sdp, of->len, of->candidate, of->client_ip, &res);
        o->answer(a->router, o, &res, resp);
        free(res.answer);
        return;
    }
    /* every local check first: what fails here never reaches Redis or the operator */
    if (fo_router_offer_hold(a->router, of, &res) != 0) {
        o->answer(a->router, o, &res, resp);
        return;
    }
    wait_t *w = wait_new(a, o, res.session_id);
    if (!w) {
        fo_router_offer_release(a->router, res.session_id);
        fail(&res, 500, FO_ENOMEM, "out of memory");
        o->answer(a->router, o, &res, resp);
        return;
    }
    w->ask = hook;
    if (claim) {
        w->claimed = w->claiming = true;
        int rc = fo_cluster_publish_admit(a->cluster, w->key, claim_cb, w);
        if (rc == FO_EAGAIN && !w->claiming) rc = w->claim_rc; /* claim_cb ran already */
        else if (rc != FO_EAGAIN) w->claiming = false;
        if (rc == FO_EBUSY) {
            refuse_claimed(w, w->holder, resp);
            return;
        }
        if (rc != 0 && rc != FO_EAGAIN) {
            FO_LOG(FO_LOG_WARN, w->key, "publish from %s refused: cannot claim it in the cluster: %s",
                   w->client_ip, fo_strerror(rc));
            refuse(w, 503, FO_ETIMEDOUT, "cannot claim the stream in the cluster now", resp);
            return;
        }
    }
    if (!w->claiming) { /* no claim, or settled at once (Redis unreachable: claimed later) */
        if (!w->ask) {
            take(w, resp);
            return;
        }
        int rc = ask(w);
        if (rc) {
            refuse_ask(w, rc, resp);
            return;
        }
    }
    int wait_ms = (w->claiming ? CLAIM_WAIT_MS : 0) + (hook ? fo_auth_hook_timeout_ms(a->auth) : 0) + DEFER_SLACK_MS;
    if (!(w->d = fo_http_defer(req, wait_ms, defer_end_cb, w))) {
        refuse(w, 500, FO_ENOMEM, "out of memory", resp);
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
        abandon(w);
        wait_free(w);
    }
    free(a);
}
