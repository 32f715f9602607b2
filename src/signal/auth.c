/* SPDX-License-Identifier: MIT */
/* Tokens (HMAC-SHA256 through mbedtls md), the operator API secret, and SRS-style HTTP
 * callbacks through httpc (libcurl's multi interface on our loop): nothing here waits.
 * Admission callbacks (on_publish/on_play) answer through a completion callback while the
 * request that asked waits, deferred, in http; at most auth.hook_max_in_flight at once. End
 * notifications (on_unpublish/on_stop) go out NOTIFY_IN_FLIGHT at a time from a bounded
 * queue (drops counted), so a burst of them (a shutdown) cannot crowd out admissions. */
#include "fanout/auth.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <mbedtls/md.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/url.h"

#define NOTIFY_QUEUE_MAX 1024
#define NOTIFY_IN_FLIGHT 8
#define HOOK_MAX_ANSWER 16384 /* an answer is {"code":0}; more is not a callback's answer */

const double fo_auth_hook_buckets[FO_AUTH_HOOK_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10};

/* A notification, queued or in flight. */
typedef struct note {
    struct note *prev, *next;
    fo_auth_t *a;
    const char *url; /* the configuration's (it outlives this module) */
    char *body;
    fo_httpc_req_t *rq; /* while in flight */
} note_t;

struct fo_auth_hook {
    fo_auth_t *a;
    fo_httpc_req_t *rq;
    fo_auth_action_t action;
    fo_auth_hook_cb cb;
    void *user;
    char key[200];
    struct fo_auth_hook *prev, *next;
};

struct fo_auth {
    const fo_config_t *cfg;
    fo_httpc_t *http;
    fo_auth_stats_t stats;
    fo_auth_hook_t *hooks;      /* in flight */
    note_t *queue, *queue_tail; /* waiting, oldest first */
    note_t *sending;            /* in flight */
    size_t queued, n_sending;
};

static const char *action_name(fo_auth_action_t a)
{
    return a == FO_AUTH_PUBLISH ? "publish" : a == FO_AUTH_RELAY ? "relay" : "play";
}

/* --- tokens --- */

static int hmac_hex(const char *secret, const char *msg, char out[65])
{
    uint8_t mac[32];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (!md || mbedtls_md_hmac(md, (const uint8_t *)secret, strlen(secret), (const uint8_t *)msg,
                               strlen(msg), mac) != 0)
        return FO_ECRYPTO;
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

int fo_auth_make_token(const char *secret, fo_auth_action_t action, const char *stream_key,
                       int64_t expiry, char *out, size_t cap)
{
    if (!secret || !*secret || !stream_key) return FO_EINVAL;
    char msg[512], hex[65];
    int n = snprintf(msg, sizeof msg, "%s:%s:%" PRId64, action_name(action), stream_key, expiry);
    if (n < 0 || (size_t)n >= sizeof msg || hmac_hex(secret, msg, hex) != 0) return FO_EINVAL;
    n = snprintf(out, cap, "%s.%" PRId64 ".%s", action_name(action), expiry, hex);
    return n > 0 && (size_t)n < cap ? n : FO_EINVAL;
}

/* The expiry field: plain decimal digits, no sign, no leading zero, at most 18 digits (so it
 * cannot overflow), ending at '.'. Returns the value and the end in *end, or -1. One spelling
 * per value: "+5", "05" or " 5" would otherwise verify with the MAC of "5". */
static int64_t parse_expiry(const char *p, const char **end)
{
    int64_t v = 0;
    size_t n = 0;
    for (; p[n] >= '0' && p[n] <= '9'; n++) {
        if (n == 18) return -1;
        v = v * 10 + (p[n] - '0');
    }
    if (n == 0 || p[0] == '0' || p[n] != '.') return -1;
    *end = p + n;
    return v;
}

/* The signature field: exactly 64 lower-case hex digits (what make-token.sh and
 * fo_auth_make_token write). */
static bool lower_hex64(const char *sig)
{
    size_t n = 0;
    for (; sig[n]; n++)
        if (n == 64 || !((sig[n] >= '0' && sig[n] <= '9') || (sig[n] >= 'a' && sig[n] <= 'f'))) return false;
    return n == 64;
}

int fo_auth_token_verify(const char *secret, fo_auth_action_t action, const char *stream_key,
                         const char *token, int64_t now, int64_t max_ttl, const char **why)
{
    static const char *dummy;
    if (!why) why = &dummy;
    if (!token || !*token) {
        *why = "a token is required (?token= or Authorization: Bearer)";
        return FO_EAUTH;
    }
    const char *act = action_name(action);
    size_t al = strlen(act);
    if (strncmp(token, act, al) != 0 || token[al] != '.') {
        *why = "token is not for this action";
        return FO_EAUTH;
    }
    const char *end = NULL;
    int64_t expiry = parse_expiry(token + al + 1, &end);
    if (expiry < 0 || !lower_hex64(end + 1)) {
        *why = "malformed token (<action>.<expiry: unix seconds>.<64 lower-case hex digits>)";
        return FO_EAUTH;
    }
    const char *sig = end + 1;
    char msg[512], hex[65];
    int n = snprintf(msg, sizeof msg, "%s:%s:%" PRId64, act, stream_key, expiry);
    if (n < 0 || (size_t)n >= sizeof msg || hmac_hex(secret, msg, hex) != 0) {
        *why = "token check failed";
        return FO_EAUTH;
    }
    unsigned diff = 0;
    for (int i = 0; i < 64; i++) diff |= (unsigned)(hex[i] ^ sig[i]);
    if (diff) {
        *why = "bad token signature (wrong secret or another stream)";
        return FO_EAUTH;
    }
    if (expiry < now) {
        *why = "token expired";
        return FO_EAUTH;
    }
    if (max_ttl > 0 && expiry - now > max_ttl) {
        *why = "token valid for longer than auth.max_token_ttl allows";
        return FO_EAUTH;
    }
    return 0;
}

int fo_auth_check(fo_auth_t *a, fo_auth_action_t action, const char *stream_key,
                  const char *token, int64_t now, const char **why)
{
    if (!a || !a->cfg->auth_secret[0]) return 0;
    int rc = fo_auth_token_verify(a->cfg->auth_secret, action, stream_key, token, now,
                                  a->cfg->max_token_ttl, why);
    if (rc == 0) a->stats.token_ok++;
    else a->stats.token_refused++;
    return rc;
}

static const char *bearer(const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return NULL;
    const char *t = authorization + 7;
    while (*t == ' ') t++;
    return t;
}

void fo_auth_find_token(const char *stream_query, const char *api_query,
                        const char *authorization, char *out, size_t cap)
{
    out[0] = '\0';
    if (stream_query && fo_url_query_get(stream_query, "token", out, cap) > 0) return;
    if (api_query && fo_url_query_get(api_query, "token", out, cap) > 0) return;
    out[0] = '\0';
    const char *b = bearer(authorization);
    if (b) snprintf(out, cap, "%s", b);
}

static bool is_loopback(const char *ip)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (!ip) return false;
    if (inet_pton(AF_INET, ip, &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, ip, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6) ||
               (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
    return false;
}

static bool secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < la; i++) diff |= (unsigned)(a[i] ^ b[i < lb ? i : 0]);
    return diff == 0;
}

int fo_auth_api_check(fo_auth_t *a, const char *remote_ip, const char *authorization,
                      const char *query)
{
    const char *secret = a ? a->cfg->api_secret : "";
    bool ok;
    if (!secret[0]) {
        ok = is_loopback(remote_ip);
    } else {
        char given[256] = "";
        const char *b = bearer(authorization);
        if (b) snprintf(given, sizeof given, "%s", b);
        else if (!query || fo_url_query_get(query, "secret", given, sizeof given) <= 0) given[0] = '\0';
        ok = given[0] && secret_eq(given, secret);
    }
    if (!ok && a) a->stats.api_refused++;
    return ok ? 0 : FO_EAUTH;
}

/* --- callbacks --- */

/* SRS's callback body: action, client_id, ip, vhost, app, stream, param. */
static char *hook_body(const char *action, const char *key, const char *ip, const char *id,
                       const char *param)
{
    char app[200];
    snprintf(app, sizeof app, "%s", key);
    char *slash = strrchr(app, '/');
    const char *stream = slash ? slash + 1 : app;
    if (slash) *slash = '\0';
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "action", action,
                          "client_id", id ? id : "", "ip", ip ? ip : "", "vhost",
                          "__defaultVhost__", "app", slash ? app : "", "stream", stream, "param",
                          param ? param : "", "server", "fanout");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* SRS accepts a bare 0 or {"code":0}. */
static bool answer_allows(const char *body)
{
    json_t *j = json_loads(body, JSON_DECODE_ANY, NULL);
    bool ok = false;
    if (json_is_integer(j)) ok = json_integer_value(j) == 0;
    else if (json_is_object(j)) {
        json_t *c = json_object_get(j, "code");
        ok = json_is_integer(c) && json_integer_value(c) == 0;
    }
    json_decref(j);
    return ok;
}

/* POSTs a callback body through httpc. */
static int post_json(fo_auth_t *a, const char *url, const char *body, fo_httpc_done_cb cb,
                     void *user, fo_httpc_req_t **out)
{
    if (!a->http) return FO_EUNREACH;
    fo_httpc_request_t rq = {.method = "POST", .url = url, .content_type = "application/json",
                             .body = body, .body_len = strlen(body),
                             .timeout_ms = a->cfg->hook_timeout_ms, .max_response = HOOK_MAX_ANSWER};
    return fo_httpc_send(a->http, &rq, cb, user, out);
}

static const char *hook_url(const fo_auth_t *a, fo_auth_action_t action)
{
    return action == FO_AUTH_PUBLISH ? a->cfg->on_publish : a->cfg->on_play;
}

bool fo_auth_hook_configured(const fo_auth_t *a, fo_auth_action_t action)
{
    return a && hook_url(a, action)[0];
}

int fo_auth_hook_timeout_ms(const fo_auth_t *a) { return a->cfg->hook_timeout_ms; }

static void observe(fo_auth_stats_t *st, fo_auth_action_t act, uint64_t ms)
{
    size_t i = 0;
    while (i < FO_AUTH_HOOK_BUCKETS && (double)ms > fo_auth_hook_buckets[i] * 1000.0) i++;
    st->hook_latency[act][i]++;
    st->hook_latency_ms_sum[act] += ms;
}

static void unlink_hook(fo_auth_hook_t *h)
{
    fo_auth_t *a = h->a;
    if (h->prev) h->prev->next = h->next;
    else a->hooks = h->next;
    if (h->next) h->next->prev = h->prev;
    a->stats.hook_in_flight--;
}

static void hook_done(void *user, const fo_httpc_resp_t *r)
{
    fo_auth_hook_t *h = user;
    fo_auth_t *a = h->a;
    fo_auth_stats_t *st = &a->stats;
    const char *act = action_name(h->action);
    char msg[300];
    int verdict = 0;
    if (r->err) {
        verdict = FO_EUNREACH;
        if (r->err == FO_ETIMEDOUT) st->hook_timeout[h->action]++;
        else st->hook_failed[h->action]++;
        snprintf(msg, sizeof msg, "%s callback unreachable or timed out", act);
        FO_LOG(FO_LOG_WARN, h->key, "on_%s: no answer from %s: %s", act, hook_url(a, h->action), r->error);
    } else if (r->status < 200 || r->status > 299 || !answer_allows(r->body)) {
        verdict = FO_EAUTH;
        st->hook_refused[h->action]++;
        snprintf(msg, sizeof msg, "%s refused by the operator's callback (HTTP %d)", act, r->status);
    } else {
        st->hook_allowed[h->action]++;
        snprintf(msg, sizeof msg, "%s allowed by the operator's callback", act);
    }
    observe(st, h->action, r->elapsed_ms);
    FO_LOG(FO_LOG_DEBUG, h->key, "on_%s answered in %llu ms: %s", act, (unsigned long long)r->elapsed_ms, msg);
    unlink_hook(h);
    h->cb(h->user, verdict, msg);
    free(h);
}

int fo_auth_hook_ask(fo_auth_t *a, const fo_auth_hook_req_t *q, fo_auth_hook_cb cb, void *user,
                     fo_auth_hook_t **out)
{
    *out = NULL;
    if (!fo_auth_hook_configured(a, q->action)) return FO_ENOTFOUND;
    fo_auth_stats_t *st = &a->stats;
    if (st->hook_in_flight >= (uint64_t)a->cfg->hook_max_in_flight) {
        st->hook_busy[q->action]++;
        return FO_EFULL;
    }
    fo_auth_hook_t *h = calloc(1, sizeof *h);
    char *body = hook_body(q->action == FO_AUTH_PUBLISH ? "on_publish" : "on_play", q->stream_key,
                           q->client_ip, q->client_id, q->param);
    int rc = h && body ? post_json(a, hook_url(a, q->action), body, hook_done, h, &h->rq) : FO_ENOMEM;
    free(body);
    if (rc) {
        free(h);
        st->hook_failed[q->action]++;
        FO_LOG(FO_LOG_WARN, q->stream_key, "on_%s: cannot ask %s: %s", action_name(q->action),
               hook_url(a, q->action), fo_strerror(rc));
        return FO_EUNREACH;
    }
    *h = (fo_auth_hook_t){.a = a, .rq = h->rq, .action = q->action, .cb = cb, .user = user, .next = a->hooks};
    snprintf(h->key, sizeof h->key, "%s", q->stream_key);
    if (a->hooks) a->hooks->prev = h;
    a->hooks = h;
    st->hook_in_flight++;
    *out = h;
    return 0;
}

void fo_auth_hook_cancel(fo_auth_hook_t *h)
{
    if (!h) return;
    fo_httpc_cancel(h->rq);
    h->a->stats.hook_cancelled[h->action]++;
    unlink_hook(h);
    free(h);
}

/* --- notifications --- */

static void pump(fo_auth_t *a);

static void note_unlink(note_t **head, note_t *n)
{
    if (n->prev) n->prev->next = n->next;
    else *head = n->next;
    if (n->next) n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

static void note_free(note_t *n)
{
    free(n->body);
    free(n);
}

static void note_done(void *user, const fo_httpc_resp_t *r)
{
    note_t *n = user;
    fo_auth_t *a = n->a;
    if (!r->err && r->status >= 200 && r->status <= 299) a->stats.notify_sent++;
    else a->stats.notify_failed++;
    note_unlink(&a->sending, n);
    a->n_sending--;
    note_free(n);
    pump(a);
}

/* Sends queued notifications while fewer than NOTIFY_IN_FLIGHT are in flight. */
static void pump(fo_auth_t *a)
{
    while (a->queue && a->n_sending < NOTIFY_IN_FLIGHT) {
        note_t *n = a->queue;
        a->queue = n->next;
        if (a->queue) a->queue->prev = NULL;
        else a->queue_tail = NULL;
        n->next = NULL;
        a->queued--;
        if (post_json(a, n->url, n->body, note_done, n, &n->rq) != 0) {
            a->stats.notify_failed++;
            note_free(n);
            continue;
        }
        n->next = a->sending;
        if (a->sending) a->sending->prev = n;
        a->sending = n;
        a->n_sending++;
    }
}

void fo_auth_hook_ended(fo_auth_t *a, fo_auth_action_t action, const char *stream_key,
                        const char *session_id)
{
    if (!a) return;
    const char *url = action == FO_AUTH_PUBLISH ? a->cfg->on_unpublish : a->cfg->on_stop;
    if (!url[0]) return;
    note_t *n = a->queued < NOTIFY_QUEUE_MAX ? calloc(1, sizeof *n) : NULL;
    if (n) {
        *n = (note_t){.a = a, .url = url, .prev = a->queue_tail};
        n->body = hook_body(action == FO_AUTH_PUBLISH ? "on_unpublish" : "on_stop", stream_key,
                            NULL, session_id, NULL);
    }
    if (!n || !n->body) {
        a->stats.notify_dropped++;
        if (n) note_free(n);
        return;
    }
    if (a->queue_tail) a->queue_tail->next = n;
    else a->queue = n;
    a->queue_tail = n;
    a->queued++;
    pump(a);
}

size_t fo_auth_notify_pending(const fo_auth_t *a) { return a ? a->queued + a->n_sending : 0; }

void fo_auth_stats(const fo_auth_t *a, fo_auth_stats_t *out) { *out = a->stats; }

/* --- lifecycle --- */

/* A short secret can be found by trying: tokens and the API secret are checked offline
 * (a captured token is an HMAC to brute-force) or online (no rate limit on 401s). */
static void warn_short_secret(const char *name, const char *secret)
{
    size_t n = strlen(secret);
    if (n && n < FO_AUTH_MIN_SECRET)
        FO_LOG(FO_LOG_WARN, NULL, "%s is %zu bytes: use at least %d random bytes (e.g. openssl rand -hex 16)",
               name, n, FO_AUTH_MIN_SECRET);
}

fo_auth_t *fo_auth_new(const fo_config_t *cfg, fo_httpc_t *http)
{
    fo_auth_t *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->cfg = cfg;
    a->http = http;
    warn_short_secret("auth.secret", cfg->auth_secret);
    warn_short_secret("auth.api_secret", cfg->api_secret);
    if (cfg->auth_secret[0]) FO_LOG(FO_LOG_INFO, NULL, "publish/play need a token (auth.secret set)");
    else FO_LOG(FO_LOG_INFO, NULL, "publish/play are open to anyone reaching the API (auth.secret unset)");
    if (!cfg->api_secret[0])
        FO_LOG(FO_LOG_INFO, NULL,
               "operator API /api/v1 and /metrics answer loopback clients only (auth.api_secret unset), "
               "addressed by IP, localhost%s%s; behind a reverse proxy on this machine set auth.api_secret",
               cfg->allowed_hosts[0] ? " or " : "", cfg->allowed_hosts);
    return a;
}

void fo_auth_free(fo_auth_t *a)
{
    if (!a) return;
    while (a->hooks) fo_auth_hook_cancel(a->hooks);
    while (a->sending) {
        note_t *n = a->sending;
        fo_httpc_cancel(n->rq);
        note_unlink(&a->sending, n);
        note_free(n);
    }
    while (a->queue) {
        note_t *n = a->queue;
        note_unlink(&a->queue, n);
        note_free(n);
    }
    free(a);
}
