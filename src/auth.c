/* SPDX-License-Identifier: MIT */
/* Tokens (HMAC-SHA256 through mbedtls md), the operator API secret, and SRS-style HTTP
 * callbacks through libcurl. Admission callbacks (on_publish/on_play) are synchronous with a
 * short timeout: the HTTP handler runs on the loop thread and must answer, so the media loop
 * stalls for at most auth.hook_timeout_ms per offer while a callback is slow; operators who
 * need more put the decision in tokens instead. End notifications (on_unpublish/on_stop) are
 * queued to one worker thread (bounded queue, drops counted) and never block the loop. */
#include "fanout/auth.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <mbedtls/md.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/url.h"

#define NOTIFY_QUEUE_MAX 1024

typedef struct note {
    struct note *next;
    const char *url; /* the configuration's (it outlives this module) */
    char *body;
} note_t;

struct fo_auth {
    const fo_config_t *cfg;
    fo_auth_stats_t stats;
    /* notification worker */
    pthread_t worker;
    bool worker_running, stopping;
    bool curl_inited;   /* curl_global_init done (some hook is configured) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    note_t *head, *tail;
    size_t queued;
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

int fo_auth_token_verify(const char *secret, fo_auth_action_t action, const char *stream_key,
                         const char *token, int64_t now, const char **why)
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
    const char *p = token + al + 1;
    char *end;
    long long expiry = strtoll(p, &end, 10);
    if (end == p || *end != '.' || expiry <= 0 || end - p > 19) {
        *why = "malformed token";
        return FO_EAUTH;
    }
    const char *sig = end + 1;
    if (strlen(sig) != 64) {
        *why = "malformed token";
        return FO_EAUTH;
    }
    char msg[512], hex[65];
    int n = snprintf(msg, sizeof msg, "%s:%s:%lld", act, stream_key, expiry);
    if (n < 0 || (size_t)n >= sizeof msg || hmac_hex(secret, msg, hex) != 0) {
        *why = "token check failed";
        return FO_EAUTH;
    }
    unsigned diff = 0;
    for (int i = 0; i < 64; i++) diff |= (unsigned)(hex[i] ^ (char)(sig[i] | 0x20)); /* hex case */
    if (diff) {
        *why = "bad token signature (wrong secret or another stream)";
        return FO_EAUTH;
    }
    if (expiry < now) {
        *why = "token expired";
        return FO_EAUTH;
    }
    return 0;
}

int fo_auth_check(fo_auth_t *a, fo_auth_action_t action, const char *stream_key,
                  const char *token, int64_t now, const char **why)
{
    if (!a || !a->cfg->auth_secret[0]) return 0;
    int rc = fo_auth_token_verify(a->cfg->auth_secret, action, stream_key, token, now, why);
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

typedef struct {
    char buf[1024];
    size_t len;
} sink_t;

static size_t sink_cb(char *p, size_t size, size_t n, void *user)
{
    sink_t *s = user;
    size_t want = size * n, room = sizeof s->buf - 1 - s->len;
    size_t take = want < room ? want : room;
    memcpy(s->buf + s->len, p, take);
    s->len += take;
    s->buf[s->len] = '\0';
    return want; /* keep reading, keep only the start */
}

/* POSTs JSON; returns the HTTP status (0 when unreachable) and the start of the answer. */
static long post_json(const char *url, const char *body, int timeout_ms, sink_t *sink)
{
    CURL *c = curl_easy_init();
    if (!c) return 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* SRS's callback body: action, client_id, ip, vhost, app, stream, param. */
static char *hook_body(const char *action, const char *key, const char *ip, const char *id)
{
    char app[200];
    snprintf(app, sizeof app, "%s", key);
    char *slash = strrchr(app, '/');
    const char *stream = slash ? slash + 1 : app;
    if (slash) *slash = '\0';
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "action", action,
                          "client_id", id ? id : "", "ip", ip ? ip : "", "vhost",
                          "__defaultVhost__", "app", slash ? app : "", "stream", stream, "param",
                          "", "server", "fanout");
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

int fo_auth_hook_admit(fo_auth_t *a, fo_auth_action_t action, const char *stream_key,
                       const char *client_ip, const char *session_id, char *msg, size_t cap)
{
    if (!a) return 0;
    const char *url = action == FO_AUTH_PUBLISH ? a->cfg->on_publish : a->cfg->on_play;
    if (!url[0]) return 0;
    char *body = hook_body(action == FO_AUTH_PUBLISH ? "on_publish" : "on_play", stream_key,
                           client_ip, session_id);
    if (!body) return FO_ERR;
    sink_t sink = {.len = 0};
    long st = post_json(url, body, a->cfg->hook_timeout_ms, &sink);
    free(body);
    if (st == 0) {
        a->stats.hook_failed++;
        snprintf(msg, cap, "%s callback unreachable or timed out", action_name(action));
        FO_LOG(FO_LOG_WARN, stream_key, "%s: no answer from %s", action_name(action), url);
        return FO_ERR;
    }
    if (st < 200 || st > 299 || !answer_allows(sink.buf)) {
        a->stats.hook_refused++;
        snprintf(msg, cap, "%s refused by the operator's callback (HTTP %ld)", action_name(action), st);
        return FO_EAUTH;
    }
    a->stats.hook_allowed++;
    return 0;
}

static void *worker_main(void *arg)
{
    fo_auth_t *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->head && !a->stopping) pthread_cond_wait(&a->cv, &a->mu);
        note_t *n = a->head;
        if (!n) break; /* stopping and drained */
        a->head = n->next;
        if (!a->head) a->tail = NULL;
        a->queued--;
        pthread_mutex_unlock(&a->mu);
        sink_t sink = {.len = 0};
        long st = post_json(n->url, n->body, a->cfg->hook_timeout_ms, &sink);
        free(n->body);
        free(n);
        pthread_mutex_lock(&a->mu);
        if (st >= 200 && st <= 299) a->stats.notify_sent++;
        else a->stats.notify_failed++;
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

void fo_auth_hook_ended(fo_auth_t *a, fo_auth_action_t action, const char *stream_key,
                        const char *session_id)
{
    if (!a || !a->worker_running) return;
    const char *url = action == FO_AUTH_PUBLISH ? a->cfg->on_unpublish : a->cfg->on_stop;
    if (!url[0]) return;
    note_t *n = calloc(1, sizeof *n);
    if (n) {
        n->url = url;
        n->body = hook_body(action == FO_AUTH_PUBLISH ? "on_unpublish" : "on_stop", stream_key,
                            NULL, session_id);
    }
    pthread_mutex_lock(&a->mu);
    if (!n || !n->body || a->queued >= NOTIFY_QUEUE_MAX) {
        a->stats.notify_dropped++;
        pthread_mutex_unlock(&a->mu);
        if (n) free(n->body), free(n);
        return;
    }
    if (a->tail) a->tail->next = n;
    else a->head = n;
    a->tail = n;
    a->queued++;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void fo_auth_stats(fo_auth_t *a, fo_auth_stats_t *out)
{
    pthread_mutex_lock(&a->mu);
    *out = a->stats;
    pthread_mutex_unlock(&a->mu);
}

/* --- lifecycle --- */

fo_auth_t *fo_auth_new(const fo_config_t *cfg)
{
    fo_auth_t *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->cfg = cfg;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    bool hooks = cfg->on_publish[0] || cfg->on_play[0] || cfg->on_unpublish[0] || cfg->on_stop[0];
    if (hooks) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
            FO_LOG(FO_LOG_ERROR, NULL, "libcurl initialisation failed");
            fo_auth_free(a);
            return NULL;
        }
        a->curl_inited = true;
    }
    if (cfg->on_unpublish[0] || cfg->on_stop[0]) {
        if (pthread_create(&a->worker, NULL, worker_main, a) != 0) {
            FO_LOG(FO_LOG_ERROR, NULL, "cannot start the callback thread");
            fo_auth_free(a);
            return NULL;
        }
        a->worker_running = true;
    }
    if (cfg->auth_secret[0]) FO_LOG(FO_LOG_INFO, NULL, "publish/play need a token (auth.secret set)");
    else FO_LOG(FO_LOG_INFO, NULL, "publish/play are open to anyone reaching the API (auth.secret unset)");
    if (!cfg->api_secret[0]) FO_LOG(FO_LOG_INFO, NULL, "operator API /api/v1 answers loopback clients only (auth.api_secret unset)");
    return a;
}

void fo_auth_free(fo_auth_t *a)
{
    if (!a) return;
    if (a->worker_running) {
        pthread_mutex_lock(&a->mu);
        a->stopping = true;
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->worker, NULL);
    }
    for (note_t *n = a->head, *next; n; n = next) {
        next = n->next;
        free(n->body);
        free(n);
    }
    if (a->curl_inited) curl_global_cleanup();
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}
