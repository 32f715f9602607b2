/* SPDX-License-Identifier: MIT */
/* HTTP API routes over the router: SRS-compatible /rtc/v1/publish/ and /rtc/v1/play/, WHIP and
 * WHEP (whip.c), the operator API under /api/v1/ (api_admin.c) and /metrics (metrics.c). Every
 * failure answers a fitting HTTP status and changes nothing on the server; JSON endpoints
 * also a non-zero "code" and a readable "msg". Every route passes fo_api_authorize first; the
 * operator routes also refuse other sites' browser requests (operator_refused), and only the
 * signaling routes carry CORS headers. */
#include "fanout/api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fanout/admin.h"
#include "fanout/admit.h"
#include "fanout/common.h"
#include "fanout/layer.h"
#include "fanout/log.h"
#include "fanout/metrics.h"
#include "fanout/origin.h"
#include "fanout/status.h"
#include "fanout/whip.h"

#define METRICS_INTERVAL_MS 1000

struct fo_api {
    const fo_config_t *cfg;
    fo_router_t *router;
    fo_metrics_t *metrics;
    fo_admin_t *admin;
    fo_auth_t *auth;
    fo_relays_t *relays;
    fo_cluster_t *cluster;
    fo_admit_t *admit;
};

static fo_auth_action_t auth_action(fo_role_t role)
{
    return role == FO_ROLE_PUBLISH ? FO_AUTH_PUBLISH : FO_AUTH_PLAY;
}

static void session_gone_cb(void *user, const char *id, const char *key, fo_role_t role)
{
    fo_api_t *api = user;
    fo_auth_hook_ended(api->auth, auth_action(role), key, id);
}

void fo_api_set_clients(fo_api_t *api, fo_clients_t *clients)
{
    if (api->metrics) fo_metrics_set_clients(api->metrics, clients);
}

void fo_api_set_handshake_pool(fo_api_t *api, fo_pool_t *pool)
{
    if (api->metrics) fo_metrics_set_pool(api->metrics, pool);
}

void fo_api_set_auth(fo_api_t *api, fo_auth_t *auth)
{
    fo_admit_t *admit = fo_admit_new(api->router, auth, api->metrics);
    if (!admit) { /* keep the old one (no callbacks): tokens still apply */
        FO_LOG(FO_LOG_ERROR, NULL, "out of memory setting up admissions");
    } else {
        fo_admit_free(api->admit);
        api->admit = admit;
        fo_admit_set_cluster(admit, api->cluster);
    }
    api->auth = auth;
    fo_router_set_ended_cb(api->router, auth ? session_gone_cb : NULL, api);
}

void fo_api_set_relays(fo_api_t *api, fo_relays_t *relays) { api->relays = relays; }

void fo_api_set_cluster(fo_api_t *api, fo_cluster_t *cluster)
{
    api->cluster = cluster;
    fo_admit_set_cluster(api->admit, cluster);
}

fo_metrics_t *fo_api_metrics(fo_api_t *api) { return api->metrics; }

fo_api_t *fo_api_new(fo_router_t *router, const fo_config_t *cfg)
{
    fo_api_t *api = calloc(1, sizeof *api);
    if (!api) return NULL;
    api->cfg = cfg;
    api->router = router;
    api->metrics = fo_metrics_new(fo_router_loop(router), router, METRICS_INTERVAL_MS);
    api->admin = api->metrics ? fo_admin_new(router, api->metrics) : NULL;
    api->admit = api->metrics ? fo_admit_new(router, NULL, api->metrics) : NULL;
    if (!api->admin || !api->admit) {
        fo_api_free(api);
        return NULL;
    }
    return api;
}

void fo_api_free(fo_api_t *api)
{
    if (!api) return;
    if (api->auth) fo_router_set_ended_cb(api->router, NULL, NULL);
    fo_admit_free(api->admit);
    fo_admin_free(api->admin);
    fo_metrics_free(api->metrics);
    free(api);
}

/* The one place that decides whether `req` may do `action` on `stream` (auth.h does the work).
 * "publish"/"play" (stream "app/stream"): a token when auth.secret is set, from ?token= on the
 * request URL or "Authorization: Bearer"; the SRS API also looks in the stream URL's query, so
 * handle_rtc checks that itself. "delete" (a WHIP/WHEP resource): the resource's random id is the
 * capability, as WHIP intends. "read", "kick", "metrics": the operator secret (auth.api_secret),
 * loopback clients only without one. "list" (the pages' stream list): public per http.stream_list,
 * else as "read". "status" (one stream's state): a play or publish token for it, else as "read".
 * "info": anyone. Returning false answers 401 with WWW-Authenticate. */
/* The publish/play token check: the token from ?token=, "Authorization: Bearer" or (the SRS
 * API) the stream URL's query `stream_query`. */
static int check_token(fo_api_t *api, const fo_http_req_t *req, fo_auth_action_t act,
                       const char *stream, const char *stream_query, const char **why)
{
    char token[256];
    fo_auth_find_token(stream_query, req->query, req->authorization, token, sizeof token);
    return fo_auth_check(api->auth, act, stream, token, (int64_t)time(NULL), why);
}

bool fo_api_authorize(fo_api_t *api, const fo_http_req_t *req, const char *action,
                      const char *stream)
{
    if (strcmp(action, "delete") == 0 || strcmp(action, "info") == 0) return true;
    if (strcmp(action, "list") == 0 && fo_status_list_public(fo_router_config(api->router))) return true;
    if (strcmp(action, "status") == 0) {
        /* whoever may play or publish the stream may know its state and audience */
        const char *why = "";
        if (check_token(api, req, FO_AUTH_PLAY, stream, NULL, &why) == 0 ||
            check_token(api, req, FO_AUTH_PUBLISH, stream, NULL, &why) == 0)
            return true;
    }
    if (strcmp(action, "publish") == 0 || strcmp(action, "play") == 0) {
        const char *why = "";
        fo_auth_action_t act = strcmp(action, "publish") == 0 ? FO_AUTH_PUBLISH : FO_AUTH_PLAY;
        return check_token(api, req, act, stream, NULL, &why) == 0;
    }
    return fo_auth_api_check(api->auth, req->remote_ip, req->authorization, req->query) == 0;
}

void fo_api_rtc_req_free(fo_api_rtc_req_t *r)
{
    if (r->json) json_decref(r->json);
    r->json = NULL;
}

static int opt_string(json_t *root, const char *name, char *out, size_t cap)
{
    json_t *v = json_object_get(root, name);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return -1;
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

int fo_api_parse_rtc(const char *body, size_t len, fo_api_rtc_req_t *out, char *msg, size_t cap)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(msg, cap, "bad JSON: %s (line %d)", jerr.text, jerr.line);
        return FO_API_BAD_JSON;
    }
    out->json = root;
    if (!json_is_object(root)) {
        snprintf(msg, cap, "bad JSON: expected an object");
        return FO_API_BAD_JSON;
    }
    json_t *url = json_object_get(root, "streamurl");
    if (!json_is_string(url)) {
        snprintf(msg, cap, "missing \"streamurl\" (a string like webrtc://host/app/stream)");
        return FO_API_BAD_URL;
    }
    const char *why = "";
    if (fo_url_parse_stream(json_string_value(url), &out->url, &why) != 0) {
        snprintf(msg, cap, "bad streamurl: %s", why);
        return FO_API_BAD_URL;
    }
    json_t *sdp = json_object_get(root, "sdp");
    if (!json_is_string(sdp) || json_string_length(sdp) == 0) {
        snprintf(msg, cap, "missing \"sdp\" (the SDP offer, a string)");
        return FO_API_BAD_SDP;
    }
    out->sdp = json_string_value(sdp);
    out->sdp_len = json_string_length(sdp);
    if (opt_string(root, "clientip", out->clientip, sizeof out->clientip) != 0 ||
        opt_string(root, "tid", out->tid, sizeof out->tid) != 0) {
        snprintf(msg, cap, "bad JSON: \"clientip\" and \"tid\" must be strings");
        return FO_API_BAD_JSON;
    }
    return 0;
}

/* --- responses --- */

static void json_resp(fo_http_resp_t *resp, int status, json_t *obj)
{
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "application/json");
    resp->body = json_dumps(obj, JSON_COMPACT);
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    json_decref(obj);
}

static void error_resp(fo_http_resp_t *resp, int status, int code, const char *msg)
{
    json_resp(resp, status, json_pack("{s:i, s:s, s:s}", "code", code, "msg", msg, "server", "fanout/" FO_VERSION));
}

static int code_for(int http)
{
    switch (http) {
    case 404: return FO_API_NOT_FOUND;
    case 409: return FO_API_BUSY;
    case 413: return FO_API_TOO_LARGE;
    case 503: return FO_API_FULL;
    case 429: return FO_API_LIMITED;
    case 400: return FO_API_BAD_SDP;
    default: return FO_API_INTERNAL;
    }
}

static void text_resp(fo_http_resp_t *resp, int status, const char *msg);

/* The cluster's word on a new session (cluster.h): a 307 to another node (same path and query:
 * the client re-sends its offer there) or a 503 answered here, true; false to go on. */
static bool cluster_gate(fo_api_t *api, const fo_http_req_t *req, fo_role_t role, const char *key,
                         bool json, fo_http_resp_t *resp)
{
    char loc[FO_NODE_API_MAX], msg[300];
    int rc = fo_cluster_admit(api->cluster, role == FO_ROLE_PLAY, key, loc, sizeof loc, msg, sizeof msg);
    if (rc == 0) return false;
    if (rc == FO_ERR) {
        snprintf(resp->location, sizeof resp->location, "%s%s%s%s", loc, req->path, req->query[0] ? "?" : "",
                 req->query);
        if (json) error_resp(resp, 307, FO_API_REDIRECT, msg);
        else text_resp(resp, 307, msg);
        resp->status = 307;
        return true;
    }
    if (json) error_resp(resp, 503, FO_API_UNAVAILABLE, msg);
    else text_resp(resp, 503, msg);
    return true;
}

/* The SRS API's answer to an admitted offer (fo_admit_answer_cb). */
static void rtc_answer(fo_router_t *router, const fo_admit_offer_t *o, fo_offer_result_t *res,
                       fo_http_resp_t *resp)
{
    const char *what = o->offer.role == FO_ROLE_PUBLISH ? "publish" : "play";
    if (res->http_status != 200) {
        int c = code_for(res->http_status);
        if (res->err == FO_ECODEC) c = FO_API_BAD_CODEC;
        else if (res->err == FO_EAUTH || res->err == FO_EUNREACH) c = FO_API_FORBIDDEN; /* the callback's */
        else if (res->err == FO_ETIMEDOUT) c = FO_API_UNAVAILABLE; /* the cluster's claim (admit.h) */
        FO_LOG(FO_LOG_INFO, o->offer.key, "%s refused: %s", what, res->msg);
        error_resp(resp, res->http_status, c, res->msg);
        fo_api_retry_after(resp, res->retry_after_s);
        return;
    }
    if (o->offer.role == FO_ROLE_PLAY && o->layer && *o->layer) fo_api_set_layer(router, res->session_id, o->layer);
    char pid[24]; /* a string, as SRS answers it and as /api/v1 does */
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    json_resp(resp, 200,
              json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "code", 0, "server", "fanout/" FO_VERSION,
                        "service", "fanout", "pid", pid, "sessionid", res->session_id, "sdp",
                        res->answer));
}

static void handle_rtc(fo_api_t *api, fo_role_t role, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    if (req->body_too_large) {
        error_resp(resp, 413, FO_API_TOO_LARGE, "request body too large");
        return;
    }
    char msg[300];
    fo_api_rtc_req_t r;
    int code = fo_api_parse_rtc(req->body, req->body_len, &r, msg, sizeof msg);
    if (code) {
        fo_api_rtc_req_free(&r);
        error_resp(resp, 400, code, msg);
        return;
    }
    /* Advertised address: ?eip= / ?candidate= on the API URL, else in the stream URL. */
    char cand[80] = "";
    const char *names[] = {"eip", "candidate"};
    for (int i = 0; i < 2 && !cand[0]; i++)
        if (fo_url_query_get(req->query, names[i], cand, sizeof cand) < 0) cand[0] = '\0';
    for (int i = 0; i < 2 && !cand[0]; i++)
        if (fo_url_query_get(r.url.query, names[i], cand, sizeof cand) < 0) cand[0] = '\0';
    /* The cluster first: another node's (307) or nobody's now (503). */
    if (cluster_gate(api, req, role, r.url.key, true, resp)) {
        fo_api_rtc_req_free(&r);
        return;
    }
    /* Who may: a token (auth.secret) here; a publish's cluster-wide claim and the operator's
     * callback come last (admit.c). */
    fo_auth_action_t act = auth_action(role);
    const char *why = "";
    if (check_token(api, req, act, r.url.key, r.url.query, &why) != 0) {
        FO_LOG(FO_LOG_INFO, r.url.key, "%s refused from %s: %s", act == FO_AUTH_PUBLISH ? "publish" : "play",
               req->remote_ip, why);
        snprintf(resp->headers, sizeof resp->headers, "WWW-Authenticate: Bearer\r\n");
        error_resp(resp, 401, FO_API_UNAUTHORIZED, why);
        fo_api_rtc_req_free(&r);
        return;
    }
    /* Simulcast: ?layer=low|mid|high|0..2 on the API URL or the stream URL. */
    char layer[16] = "", param[sizeof r.url.query + 1] = "";
    if (fo_url_query_get(req->query, "layer", layer, sizeof layer) < 0 &&
        fo_url_query_get(r.url.query, "layer", layer, sizeof layer) < 0)
        layer[0] = '\0';
    if (r.url.query[0]) snprintf(param, sizeof param, "?%s", r.url.query);
    fo_admit_offer_t o = {.offer = {role, r.url.key, r.sdp, r.sdp_len, cand, req->remote_ip},
                          .param = param,
                          .layer = layer,
                          .answer = rtc_answer};
    fo_admit_offer(api->admit, req, &o, resp);
    fo_api_rtc_req_free(&r);
}

static bool path_is(const char *path, const char *want)
{
    /* "/rtc/v1/play/" also matches without the trailing slash */
    size_t n = strlen(want);
    return strcmp(path, want) == 0 || (want[n - 1] == '/' && strlen(path) == n - 1 && strncmp(path, want, n - 1) == 0);
}

static bool deny(fo_api_t *api, const fo_http_req_t *req, const char *action, const char *stream,
                 fo_http_resp_t *resp)
{
    if (fo_api_authorize(api, req, action, stream)) return false;
    snprintf(resp->headers, sizeof resp->headers, "WWW-Authenticate: Bearer\r\n");
    error_resp(resp, 401, FO_API_UNAUTHORIZED, "not authorized");
    return true;
}

static void text_resp(fo_http_resp_t *resp, int status, const char *msg)
{
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain; charset=utf-8");
    resp->body = strdup(msg);
    resp->body_len = resp->body ? strlen(msg) : 0;
}

/* WHIP/WHEP's answers to an admitted offer (fo_admit_answer_cb). */
static void whip_answer(fo_router_t *router, const fo_admit_offer_t *o, fo_offer_result_t *res,
                        fo_http_resp_t *resp)
{
    fo_whip_answer(router, o->offer.role, o->offer.key, o->layer, res, resp);
}

/* /rtc/v1/whip/ and /rtc/v1/whep/ (SRS also calls WHEP /rtc/v1/whip-play/). */
static void handle_whip_endpoint(fo_api_t *api, fo_role_t role, const fo_http_req_t *req,
                                 fo_http_resp_t *resp)
{
    const char *m = req->method;
    if (strcmp(m, "OPTIONS") == 0) {
        resp->status = 204;
        snprintf(resp->allow, sizeof resp->allow, "POST, DELETE, OPTIONS");
        snprintf(resp->headers, sizeof resp->headers, "Accept-Post: application/sdp\r\n");
        return;
    }
    if (strcmp(m, "DELETE") == 0) {
        /* SRS's form of the resource: the endpoint URL with &session=ID */
        char id[64] = "";
        if (fo_url_query_get(req->query, "session", id, sizeof id) < 0) id[0] = '\0';
        fo_session_t *s = id[0] ? fo_router_session(api->router, id) : NULL;
        if (!deny(api, req, "delete", s ? fo_stream_key(fo_session_stream(s)) : NULL, resp))
            fo_whip_delete(api->router, id, resp);
        return;
    }
    if (strcmp(m, "POST") != 0) {
        snprintf(resp->allow, sizeof resp->allow, "POST, DELETE, OPTIONS");
        text_resp(resp, 405, "use POST with an application/sdp offer\n");
        return;
    }
    char key[200];
    const char *why = "";
    if (fo_whip_stream_key(req->query, key, sizeof key, &why) != 0) {
        text_resp(resp, 400, why);
        return;
    }
    /* another node pulling the stream (cluster.h): its node token stands for the user's */
    char node[FO_NODE_ID_MAX];
    bool relay = role == FO_ROLE_PLAY && fo_cluster_node_request(api->cluster, req, key, node, sizeof node);
    if (relay && fo_cluster_draining(api->cluster)) {
        text_resp(resp, 503, "this node is draining: pull from another\n");
        return;
    }
    if (!relay && cluster_gate(api, req, role, key, false, resp)) return;
    if (!relay && deny(api, req, role == FO_ROLE_PUBLISH ? "publish" : "play", key, resp)) return;
    if (fo_whip_check_offer(role, req, resp) != 0) return;
    char cand[80] = "", layer[16] = "", param[2048] = "";
    if (fo_url_query_get(req->query, "eip", cand, sizeof cand) < 0 &&
        fo_url_query_get(req->query, "candidate", cand, sizeof cand) < 0)
        cand[0] = '\0';
    if (role != FO_ROLE_PLAY || fo_url_query_get(req->query, "layer", layer, sizeof layer) < 0) layer[0] = '\0';
    if (req->query[0]) snprintf(param, sizeof param, "?%s", req->query);
    fo_admit_offer_t o = {.offer = {role, key, req->body, req->body_len, cand, req->remote_ip},
                          .param = param,
                          .layer = layer,
                          .answer = whip_answer,
                          .no_callback = relay};
    fo_admit_offer(api->admit, req, &o, resp);
    /* a relay is a play: admitted at once (no callback, no claim), so resp holds the answer */
    if (relay && resp->status == 201)
        fo_cluster_relay_served(api->cluster, resp->location + strlen(FO_WHIP_RESOURCE_PREFIX), key, node);
}

static void handle_whip_resource(fo_api_t *api, const char *id, const fo_http_req_t *req,
                                 fo_http_resp_t *resp)
{
    const char *m = req->method;
    snprintf(resp->allow, sizeof resp->allow, "DELETE, PATCH, OPTIONS");
    fo_session_t *s = fo_router_session(api->router, id);
    if (strcmp(m, "OPTIONS") == 0) {
        resp->status = 204;
        snprintf(resp->headers, sizeof resp->headers, "Accept-Patch: application/trickle-ice-sdpfrag\r\n");
    } else if (strcmp(m, "DELETE") == 0) {
        if (!deny(api, req, "delete", s ? fo_stream_key(fo_session_stream(s)) : NULL, resp))
            fo_whip_delete(api->router, id, resp);
    } else if (strcmp(m, "PATCH") == 0) {
        /* trickle and ICE restart (RFC 9725 4.3): the resource's random id is the capability,
         * as for DELETE */
        if (!deny(api, req, "delete", s ? fo_stream_key(fo_session_stream(s)) : NULL, resp))
            fo_whip_patch(api->router, id, req, resp);
    } else {
        text_resp(resp, 405, "use DELETE to end the session, PATCH to trickle or restart ICE\n");
    }
}

static void handle_metrics(fo_api_t *api, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        snprintf(resp->allow, sizeof resp->allow, "GET, OPTIONS");
        text_resp(resp, 405, "use GET\n");
        return;
    }
    if (deny(api, req, "metrics", NULL, resp)) return;
    fo_metrics_data_t d;
    fo_metrics_collect(api->metrics, &d);
    if (fo_cluster_enabled(api->cluster)) {
        fo_cluster_stats_t cs;
        fo_cluster_stats(api->cluster, &cs);
        d.cluster.enabled = true;
        d.cluster.redis_up = cs.redis_up;
        d.cluster.draining = cs.draining;
        d.cluster.nodes = cs.nodes;
        d.cluster.pulls = cs.pulls;
        d.cluster.pulls_connected = cs.pulls_connected;
        d.cluster.served = cs.served;
        d.cluster.pull_attempts = cs.pull_attempts;
        d.cluster.pull_failures = cs.pull_failures;
        d.cluster.redirects = cs.redirects;
        d.cluster.refused_redis_down = cs.refused_redis_down;
        d.cluster.claims_refused = cs.claims_refused;
        d.cluster.redis_reconnects = cs.redis_reconnects;
        d.cluster.registry_bad_values = cs.registry_bad_values;
    }
    if (api->auth) {
        d.has_auth = true;
        fo_auth_stats(api->auth, &d.auth);
    }
    resp->body = fo_metrics_render(&d);
    if (!resp->body) {
        text_resp(resp, 500, "out of memory\n");
        return;
    }
    resp->status = 200;
    resp->body_len = strlen(resp->body);
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain; version=0.0.4; charset=utf-8");
}

/* The signaling endpoints (/rtc/): SRS's players and WHIP/WHEP clients on other origins call
 * them, so every answer, errors included, carries CORS for any origin. What protects them is
 * not the caller's origin but a token (auth.secret) or a resource's random id. */
void fo_api_retry_after(fo_http_resp_t *resp, int seconds)
{
    size_t n = strlen(resp->headers);
    if (seconds > 0)
        snprintf(resp->headers + n, sizeof resp->headers - n, "Retry-After: %d\r\n", seconds);
}

static void route_signaling(fo_api_t *api, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    const char *p = req->path;
    resp->cors = FO_HTTP_CORS_ANY;
    char key[200];
    fo_status_path_t status = fo_status_path(p, key, sizeof key);
    static const char *const status_action[] = {"list", "status", "info"};
    if (status != FO_STATUS_NONE) { /* the pages' public status (status.h) */
        if (strcmp(req->method, "OPTIONS") == 0) {
            resp->status = 204;
            snprintf(resp->allow, sizeof resp->allow, "GET, OPTIONS");
        } else if (!deny(api, req, status_action[status], status == FO_STATUS_STREAM ? key : NULL, resp)) {
            fo_status_handle(api->router, req, resp);
        }
        return;
    }
    if (path_is(p, "/rtc/v1/whip/")) {
        handle_whip_endpoint(api, FO_ROLE_PUBLISH, req, resp);
        return;
    }
    if (path_is(p, "/rtc/v1/whep/") || path_is(p, "/rtc/v1/whip-play/")) {
        handle_whip_endpoint(api, FO_ROLE_PLAY, req, resp);
        return;
    }
    if (strncmp(p, FO_WHIP_RESOURCE_PREFIX, strlen(FO_WHIP_RESOURCE_PREFIX)) == 0) {
        handle_whip_resource(api, p + strlen(FO_WHIP_RESOURCE_PREFIX), req, resp);
        return;
    }
    fo_role_t role;
    if (path_is(p, "/rtc/v1/publish/")) role = FO_ROLE_PUBLISH;
    else if (path_is(p, "/rtc/v1/play/")) role = FO_ROLE_PLAY;
    else {
        error_resp(resp, 404, FO_API_NOT_FOUND, "no such API endpoint");
        return;
    }
    snprintf(resp->allow, sizeof resp->allow, "POST, OPTIONS");
    if (strcmp(req->method, "OPTIONS") == 0) {
        resp->status = 200; /* a CORS preflight (and SRS tools' liveness probe) */
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        error_resp(resp, 405, FO_API_METHOD, "use POST");
        return;
    }
    resp->allow[0] = '\0';
    handle_rtc(api, role, req, resp);
}

/* The operator surface answers only requests no other site's page can make a browser send:
 * with a foreign Origin (the page of another site, even on this machine), or marked cross-site
 * by the browser (Sec-Fetch-Site: a <script src> or <img> from elsewhere, which sends no
 * Origin), or, while loopback is trusted (no auth.api_secret), under a Host that is not an IP
 * address, localhost or http.allowed_hosts (DNS rebinding: another site's page under a name that
 * now points here). Origins in http.allowed_origins pass and get CORS. Returns true when it
 * answered 403. */
static bool operator_refused(fo_api_t *api, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    fo_origin_kind_t kind = fo_origin_classify(req->origin, req->host, req->tls, api->cfg->allowed_origins);
    const char *why = NULL;
    if (kind == FO_ORIGIN_FOREIGN)
        why = "the operator API does not answer pages of other origins (Origin not allowed: "
              "http.allowed_origins)";
    else if (kind != FO_ORIGIN_LISTED && fo_origin_cross_site(req->sec_fetch_site))
        why = "the operator API does not answer requests made by other sites (Sec-Fetch-Site)";
    else if (!api->cfg->api_secret[0] && !fo_origin_host_allowed(req->host, api->cfg->allowed_hosts))
        why = "the operator API answers loopback clients only under an IP address, localhost or a "
              "name in http.allowed_hosts (Host not allowed)";
    if (!why) {
        if (kind == FO_ORIGIN_LISTED) resp->cors = FO_HTTP_CORS_ORIGIN;
        return false;
    }
    FO_LOG(FO_LOG_DEBUG, NULL, "%s %s from %s refused: Host \"%s\", Origin \"%s\", Sec-Fetch-Site \"%s\"",
           req->method, req->path, req->remote_ip, req->host, req->origin, req->sec_fetch_site);
    error_resp(resp, 403, FO_API_BAD_ORIGIN, why);
    return true;
}

/* /api/ and /metrics: the checks above, then the operator secret or loopback (fo_api_authorize). */
static void route_operator(fo_api_t *api, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    const char *p = req->path;
    bool metrics = strcmp(p, "/metrics") == 0;
    if (operator_refused(api, req, resp)) return;
    if (strcmp(req->method, "OPTIONS") == 0) {
        resp->status = 204;
        snprintf(resp->allow, sizeof resp->allow, metrics ? "GET, OPTIONS" : "GET, DELETE, OPTIONS");
    } else if (metrics) {
        handle_metrics(api, req, resp);
    } else if (strncmp(p, "/api/v1/", 8) == 0) {
        bool kick = strcmp(req->method, "DELETE") == 0;
        if (!deny(api, req, kick ? "kick" : "read", NULL, resp) && !fo_admin_handle(api->admin, req, resp) &&
            !(api->relays && fo_relays_handle(api->relays, req, resp)) &&
            !fo_cluster_handle(api->cluster, req, resp))
            error_resp(resp, 404, FO_API_NOT_FOUND, "no such API endpoint");
    } else {
        error_resp(resp, 404, FO_API_NOT_FOUND, "no such API endpoint");
    }
}

static void route(fo_api_t *api, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    const char *p = req->path;
    if (strncmp(p, "/rtc/", 5) == 0) {
        route_signaling(api, req, resp);
    } else if (strcmp(p, "/metrics") == 0 || strncmp(p, "/api/", 5) == 0) {
        route_operator(api, req, resp);
    } else { /* OPTIONS on a page: same-origin only, no CORS */
        resp->status = 204;
        snprintf(resp->allow, sizeof resp->allow, "GET, HEAD, OPTIONS");
    }
}

bool fo_api_handle(void *user, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    fo_api_t *api = user;
    bool ours = strncmp(req->path, "/rtc/", 5) == 0 || strncmp(req->path, "/api/", 5) == 0 ||
                strcmp(req->path, "/metrics") == 0;
    if (!ours && strcmp(req->method, "OPTIONS") != 0) return false;
    route(api, req, resp);
    if (resp->status) fo_metrics_count_request(api->metrics, resp->status); /* else admit counts it */
    return true;
}

/* Simulcast: a play session's explicit layer from ?layer= (api.h). */
void fo_api_set_layer(fo_router_t *router, const char *session_id, const char *value)
{
    fo_session_t *s = fo_router_session(router, session_id);
    int rank = fo_layer_parse(value);
    if (rank < 0) FO_LOG(FO_LOG_INFO, session_id, "layer=%s is not low, mid, high or 0..2: automatic", value);
    if (s) fo_session_set_layer(s, rank);
}
