/* SPDX-License-Identifier: MIT */
/* WHIP/WHEP request steps. Errors are text/plain (RFC 9725 leaves the body free; a person
 * reading curl output wants the reason); success bodies are the SDP answer. */
#include "fanout/whip.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fanout/api.h"
#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/sdpfrag.h"
#include "fanout/url.h"

bool fo_whip_is_sdp(const char *ct)
{
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t') ct++;
    static const char want[] = "application/sdp";
    if (strncasecmp(ct, want, sizeof want - 1) != 0) return false;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t') ct++;
    return *ct == '\0' || *ct == ';';
}

int fo_whip_stream_key(const char *query, char *key, size_t cap, const char **why)
{
    char app[64] = "live", stream[128];
    int n = fo_url_query_get(query, "app", app, sizeof app);
    if (n == FO_ENOTFOUND) snprintf(app, sizeof app, "live");
    else if (n <= 0) return *why = "bad ?app= (one path segment of A-Z a-z 0-9 _ . ~ -)", FO_EINVAL;
    n = fo_url_query_get(query, "stream", stream, sizeof stream);
    if (n <= 0) return *why = "missing or bad ?stream= (one path segment of A-Z a-z 0-9 _ . ~ -)", FO_EINVAL;
    /* the stream URL parser holds the one definition of a valid app and stream */
    char url[256];
    snprintf(url, sizeof url, "webrtc://whip/%s/%s", app, stream);
    fo_url_t u;
    const char *w = "";
    if (fo_url_parse_stream(url, &u, &w) != 0 || strchr(app, '/') || strchr(stream, '/'))
        return *why = "bad ?app= or ?stream= (one path segment of A-Z a-z 0-9 _ . ~ -)", FO_EINVAL;
    if ((size_t)snprintf(key, cap, "%s", u.key) >= cap) return *why = "stream name too long", FO_EINVAL;
    return 0;
}

static void text(fo_http_resp_t *resp, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void text(fo_http_resp_t *resp, int status, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n > sizeof msg - 2) n = (int)sizeof msg - 2;
    msg[n++] = '\n';
    msg[n] = '\0';
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain; charset=utf-8");
    resp->body = strdup(msg);
    resp->body_len = resp->body ? (size_t)n : 0;
}

int fo_whip_check_offer(fo_role_t role, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    const char *what = role == FO_ROLE_PUBLISH ? "WHIP" : "WHEP";
    if (req->body_too_large) {
        text(resp, 413, "%s: offer too large", what);
        return FO_ETOOBIG;
    }
    if (!fo_whip_is_sdp(req->content_type)) {
        text(resp, 415, "%s: the offer must be Content-Type: application/sdp (got \"%s\")", what,
             req->content_type);
        return FO_EINVAL;
    }
    if (req->body_len == 0) {
        text(resp, 400, "%s: empty body, expected an SDP offer", what);
        return FO_EINVAL;
    }
    return 0;
}

void fo_whip_answer(fo_router_t *r, fo_role_t role, const char *key, const char *layer,
                    fo_offer_result_t *res, fo_http_resp_t *resp)
{
    const char *what = role == FO_ROLE_PUBLISH ? "WHIP" : "WHEP";
    if (res->http_status != 200) {
        FO_LOG(FO_LOG_INFO, key, "%s refused: %s", what, res->msg);
        text(resp, res->http_status, "%s: %s", what, res->msg);
        fo_api_retry_after(resp, res->retry_after_s);
        return;
    }
    FO_LOG(FO_LOG_INFO, res->session_id, "%s session for %s", what, key);
    if (role == FO_ROLE_PLAY && layer && *layer) fo_api_set_layer(r, res->session_id, layer);
    resp->status = 201;
    snprintf(resp->content_type, sizeof resp->content_type, "application/sdp");
    snprintf(resp->location, sizeof resp->location, FO_WHIP_RESOURCE_PREFIX "%s", res->session_id);
    char etag[64] = "";
    fo_session_t *s = fo_router_session(r, res->session_id);
    if (s) fo_whip_etag(s, etag, sizeof etag);
    size_t hl = strlen(resp->headers);
    snprintf(resp->headers + hl, sizeof resp->headers - hl,
             "ETag: %s\r\nAccept-Patch: application/trickle-ice-sdpfrag\r\n", etag);
    resp->body = res->answer;
    resp->body_len = strlen(res->answer);
    res->answer = NULL;
}

void fo_whip_delete(fo_router_t *r, const char *id, fo_http_resp_t *resp)
{
    fo_session_t *s = *id ? fo_router_session(r, id) : NULL;
    if (!s) {
        text(resp, 404, "no such session (it may have ended already)");
        return;
    }
    const char *reason = fo_session_role(s) == FO_ROLE_PUBLISH ? "WHIP DELETE" : "WHEP DELETE";
    fo_router_end_session_why(r, id, reason);
    text(resp, 200, "session %s ended", id);
}

const char *fo_whip_etag(const fo_session_t *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "\"%s\"", fo_session_ufrag(s));
    return buf;
}

bool fo_whip_if_match(const char *if_match, const char *etag)
{
    size_t el = strlen(etag);
    for (const char *p = if_match; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        size_t n = (size_t)(t - p);
        if (n == 1 && *p == '*') return true;
        if (n >= 2 && p[0] == 'W' && p[1] == '/') p += 2, n -= 2; /* weak comparison is enough here */
        if (n == el && memcmp(p, etag, n) == 0) return true;
        p = e;
    }
    return false;
}

static bool is_sdpfrag(const char *ct)
{
    static const char want[] = "application/trickle-ice-sdpfrag";
    while (*ct == ' ') ct++;
    return strncasecmp(ct, want, sizeof want - 1) == 0 && (ct[sizeof want - 1] == '\0' || ct[sizeof want - 1] == ';' ||
                                                            ct[sizeof want - 1] == ' ');
}

void fo_whip_patch(fo_router_t *r, const char *id, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    fo_session_t *s = *id ? fo_router_session(r, id) : NULL;
    if (!s) {
        text(resp, 404, "no such session (it may have ended already)");
        return;
    }
    if (req->body_too_large) {
        text(resp, 413, "PATCH: fragment too large");
        return;
    }
    if (!is_sdpfrag(req->content_type)) {
        text(resp, 415, "PATCH: Content-Type must be application/trickle-ice-sdpfrag (got \"%s\")", req->content_type);
        return;
    }
    fo_sdpfrag_t frag;
    const char *why = "";
    if (fo_sdpfrag_parse(req->body, req->body_len, &frag, &why) != 0) {
        text(resp, 400, "PATCH: bad SDP fragment: %s", why);
        return;
    }
    char etag[64];
    fo_whip_etag(s, etag, sizeof etag);
    /* No If-Match is taken as "this ICE session" (clients that predate RFC 9725's rule). */
    bool matches = !req->if_match[0] || fo_whip_if_match(req->if_match, etag);
    bool restart = frag.ice_ufrag[0] && strcmp(frag.ice_ufrag, fo_session_remote_ufrag(s)) != 0;
    if (!matches) {
        text(resp, 412, "PATCH: If-Match %s is not the current ICE session %s", req->if_match, etag);
        return;
    }
    if (!restart) {
        FO_LOG(FO_LOG_DEBUG, id, "trickle: %zu remote candidate(s)%s (ICE-lite: we check none)",
               frag.n_candidates, frag.end_of_candidates ? ", end of candidates" : "");
        resp->status = 204;
        snprintf(resp->headers, sizeof resp->headers, "ETag: %s\r\n", etag);
        return;
    }
    if (!frag.ice_pwd[0]) {
        text(resp, 400, "PATCH: an ICE restart (new ice-ufrag) needs its ice-pwd");
        return;
    }
    char ufrag[9], pwd[25];
    if (fo_router_ice_restart(r, id, frag.ice_ufrag, frag.ice_pwd, ufrag, pwd) != 0) {
        text(resp, 500, "PATCH: ICE restart failed");
        return;
    }
    char body[256];
    int n = fo_sdpfrag_build_restart(body, sizeof body, ufrag, pwd);
    if (n < 0 || !(resp->body = strdup(body))) {
        text(resp, 500, "PATCH: ICE restart failed");
        return;
    }
    resp->body_len = (size_t)n;
    resp->status = 200;
    snprintf(resp->content_type, sizeof resp->content_type, "application/trickle-ice-sdpfrag");
    snprintf(resp->headers, sizeof resp->headers, "ETag: %s\r\n", fo_whip_etag(s, etag, sizeof etag));
}
