/* SPDX-License-Identifier: MIT */
/* HTTP API routes over the router: SRS-compatible /rtc/v1/publish/ and /rtc/v1/play/. Every
 * failure answers a non-zero "code", a readable "msg" and a fitting HTTP status, and changes
 * nothing on the server. */
#include "fanout/api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"

struct fo_api {
    fo_router_t *router;
    fo_auth_t *auth;
};

static void session_gone_cb(void *user, const char *id, const char *key, fo_role_t role)
{
    fo_api_t *api = user;
    fo_auth_hook_ended(api->auth, role == FO_ROLE_PUBLISH ? FO_AUTH_PUBLISH : FO_AUTH_PLAY, key, id);
}

void fo_api_set_auth(fo_api_t *api, fo_auth_t *auth)
{
    api->auth = auth;
    fo_router_set_ended_cb(api->router, auth ? session_gone_cb : NULL, api);
}

fo_api_t *fo_api_new(fo_router_t *router)
{
    fo_api_t *api = calloc(1, sizeof *api);
    if (api) api->router = router;
    return api;
}

void fo_api_free(fo_api_t *api)
{
    if (api && api->auth) fo_router_set_ended_cb(api->router, NULL, NULL);
    free(api);
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
    /* Who may: a token (auth.secret), then the operator's callback (auth.on_publish/on_play). */
    fo_auth_action_t act = role == FO_ROLE_PUBLISH ? FO_AUTH_PUBLISH : FO_AUTH_PLAY;
    char token[256];
    fo_auth_find_token(r.url.query, req->query, req->authorization, token, sizeof token);
    const char *why = "";
    if (fo_auth_check(api->auth, act, r.url.key, token, (int64_t)time(NULL), &why) != 0) {
        FO_LOG(FO_LOG_INFO, r.url.key, "%s refused from %s: %s", act == FO_AUTH_PUBLISH ? "publish" : "play",
               req->remote_ip, why);
        error_resp(resp, 401, FO_API_UNAUTHORIZED, why);
        fo_api_rtc_req_free(&r);
        return;
    }
    int hrc = fo_auth_hook_admit(api->auth, act, r.url.key, req->remote_ip, r.tid, msg, sizeof msg);
    if (hrc != 0) {
        FO_LOG(FO_LOG_INFO, r.url.key, "%s", msg);
        error_resp(resp, hrc == FO_EAUTH ? 403 : 503, FO_API_FORBIDDEN, msg);
        fo_api_rtc_req_free(&r);
        return;
    }
    fo_offer_result_t res;
    fo_router_offer_from(api->router, role, r.url.key, r.sdp, r.sdp_len, cand, req->remote_ip, &res);
    if (res.http_status != 200) {
        int c = res.err == FO_ECODEC ? FO_API_BAD_CODEC : code_for(res.http_status);
        FO_LOG(FO_LOG_INFO, r.url.key, "%s refused: %s", role == FO_ROLE_PUBLISH ? "publish" : "play", res.msg);
        error_resp(resp, res.http_status, c, res.msg);
    } else {
        json_resp(resp, 200,
                  json_pack("{s:i, s:s, s:s, s:i, s:s, s:s}", "code", 0, "server", "fanout/" FO_VERSION,
                            "service", "fanout", "pid", (int)getpid(), "sessionid", res.session_id,
                            "sdp", res.answer));
    }
    free(res.answer);
    fo_api_rtc_req_free(&r);
}

static bool path_is(const char *path, const char *want)
{
    /* "/rtc/v1/play/" also matches without the trailing slash */
    size_t n = strlen(want);
    return strcmp(path, want) == 0 || (want[n - 1] == '/' && strlen(path) == n - 1 && strncmp(path, want, n - 1) == 0);
}

bool fo_api_handle(void *user, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    fo_api_t *api = user;
    bool ours = strncmp(req->path, "/rtc/", 5) == 0 || strncmp(req->path, "/api/", 5) == 0;
    if (strcmp(req->method, "OPTIONS") == 0) {
        resp->status = 200;
        snprintf(resp->allow, sizeof resp->allow, "GET, POST, DELETE, PATCH, OPTIONS");
        return true;
    }
    if (!ours) return false;
    /* The operator API: its own secret, loopback only without one. */
    if (strncmp(req->path, "/api/", 5) == 0 &&
        fo_auth_api_check(api->auth, req->remote_ip, req->authorization, req->query) != 0) {
        error_resp(resp, 401, FO_API_UNAUTHORIZED, "operator API: missing or wrong secret (auth.api_secret)");
        return true;
    }
    fo_role_t role;
    if (path_is(req->path, "/rtc/v1/publish/")) role = FO_ROLE_PUBLISH;
    else if (path_is(req->path, "/rtc/v1/play/")) role = FO_ROLE_PLAY;
    else {
        error_resp(resp, 404, FO_API_NOT_FOUND, "no such API endpoint");
        return true;
    }
    if (strcmp(req->method, "POST") != 0) {
        snprintf(resp->allow, sizeof resp->allow, "POST, OPTIONS");
        error_resp(resp, 405, FO_API_METHOD, "use POST");
        return true;
    }
    handle_rtc(api, role, req, resp);
    return true;
}
