/* SPDX-License-Identifier: MIT */
/* The operator's pulls and pushes (relays.h): a list of entries, each owning at most one relay
 * attempt at a time and a retry timer. JSON in and out through jansson and admin.h's envelope. */
#include "fanout/relays.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fanout/admin.h"
#include "fanout/api.h"
#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/url.h"

#define MAX_RELAYS 256
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000

typedef struct entry {
    struct entry *next;
    fo_relays_t *rs;
    char id[24];
    fo_relay_kind_t kind;
    char key[200], url[1024], bearer[512];
    fo_relay_t *relay;      /* the current attempt, NULL while waiting to retry */
    fo_timer_t retry;
    uint64_t retry_ms;      /* next backoff */
    uint64_t attempts, connects;
    char last_error[256];
    uint64_t connected_since; /* loop clock, 0 when not connected */
} entry_t;

struct fo_relays {
    fo_relay_env_t env;
    entry_t *list;
    size_t n;
};

static void start(entry_t *e);

static void retry_cb(fo_timer_t *t) { start(t->user); }

static void schedule_retry(entry_t *e)
{
    fo_timer_start(e->rs->env.loop, &e->retry, e->retry_ms);
    e->retry_ms = e->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : e->retry_ms * 2;
}

static void on_state(void *user, fo_relay_t *rl, fo_relay_state_t st, const char *why)
{
    entry_t *e = user;
    if (st == FO_RELAY_CONNECTED) {
        e->connects++;
        e->retry_ms = RETRY_MIN_MS;
        e->connected_since = fo_loop_now(e->rs->env.loop);
        return;
    }
    snprintf(e->last_error, sizeof e->last_error, "%s", why ? why : "ended");
    e->connected_since = 0;
    if (rl == e->relay) e->relay = NULL;
    fo_relay_free(rl);
    schedule_retry(e);
}

static void start(entry_t *e)
{
    fo_relay_opts_t o = {.kind = e->kind, .key = e->key, .url = e->url, .bearer = e->bearer[0] ? e->bearer : NULL};
    fo_relay_cbs_t cbs = {.on_state = on_state, .user = e};
    int err = 0;
    e->attempts++;
    e->relay = fo_relay_new(&e->rs->env, &o, &cbs, &err);
    if (e->relay) return;
    if (err == FO_ENOTFOUND) {
        snprintf(e->last_error, sizeof e->last_error, "waiting for a local publisher of %s", e->key);
        fo_timer_start(e->rs->env.loop, &e->retry, RETRY_MIN_MS); /* not a failure: no backoff */
        return;
    }
    snprintf(e->last_error, sizeof e->last_error, "could not start: %s", fo_strerror(err));
    schedule_retry(e);
}

fo_relays_t *fo_relays_new(const fo_relay_env_t *env)
{
    fo_relays_t *rs = calloc(1, sizeof *rs);
    if (rs) rs->env = *env;
    return rs;
}

static bool key_ok(const char *key)
{
    char url[256];
    fo_url_t u;
    const char *why;
    if (!key || strlen(key) >= 194) return false;
    snprintf(url, sizeof url, "webrtc://relay/%s", key);
    return fo_url_parse_stream(url, &u, &why) == 0 && strcmp(u.key, key) == 0;
}

int fo_relays_add(fo_relays_t *rs, fo_relay_kind_t kind, const char *key, const char *url,
                  const char *bearer, char *id, size_t cap, const char **why)
{
    *why = NULL;
    if (!key_ok(key)) return *why = "stream must be app/stream", FO_EINVAL;
    if (!url || strlen(url) >= 1024 || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return *why = "url must be an http:// or https:// WHEP/WHIP endpoint", FO_EINVAL;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) return *why = "url has a blank or control character", FO_EINVAL;
    if (bearer && (strlen(bearer) >= 512 || strpbrk(bearer, "\r\n")))
        return *why = "bad token", FO_EINVAL;
    for (entry_t *e = rs->list; e; e = e->next)
        if (e->kind == FO_RELAY_PULL && kind == FO_RELAY_PULL && strcmp(e->key, key) == 0)
            return *why = "that stream is pulled already", FO_EINVAL;
    if (rs->n >= MAX_RELAYS) return *why = "too many relays", FO_EFULL;
    entry_t *e = calloc(1, sizeof *e);
    if (!e) return FO_ENOMEM;
    e->rs = rs;
    e->kind = kind;
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->url, sizeof e->url, "%s", url);
    snprintf(e->bearer, sizeof e->bearer, "%s", bearer ? bearer : "");
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)rand();
    for (size_t i = 0; i < 8; i++) snprintf(e->id + 2 * i, 3, "%02x", rnd[i]);
    e->retry_ms = RETRY_MIN_MS;
    fo_timer_init(&e->retry, retry_cb, e);
    e->next = rs->list;
    rs->list = e;
    rs->n++;
    if (id) snprintf(id, cap, "%s", e->id);
    FO_LOG(FO_LOG_INFO, e->key, "relay %s added: %s %s", e->id, kind == FO_RELAY_PULL ? "pull from" : "push to", url);
    start(e);
    return 0;
}

static void entry_free(entry_t *e, bool final)
{
    fo_timer_stop(e->rs->env.loop, &e->retry);
    if (final) fo_relay_free_final(e->relay);
    else fo_relay_free(e->relay);
    free(e);
}

int fo_relays_remove(fo_relays_t *rs, const char *id)
{
    for (entry_t **p = &rs->list; *p; p = &(*p)->next) {
        if (strcmp((*p)->id, id) != 0) continue;
        entry_t *e = *p;
        *p = e->next;
        rs->n--;
        FO_LOG(FO_LOG_INFO, e->key, "relay %s removed", e->id);
        entry_free(e, false);
        return 0;
    }
    return FO_ENOTFOUND;
}

size_t fo_relays_count(const fo_relays_t *rs) { return rs->n; }

int fo_relays_configure(fo_relays_t *rs, const fo_config_t *cfg)
{
    const char *lists[2] = {cfg->relay_pull, cfg->relay_push};
    for (int k = 0; k < 2; k++) {
        char key[200], url[1024];
        const char *why = NULL;
        for (size_t i = 0; fo_config_relay_item(lists[k], i, key, sizeof key, url, sizeof url, &why) == 0; i++) {
            int rc = fo_relays_add(rs, k ? FO_RELAY_PUSH : FO_RELAY_PULL, key, url, NULL, NULL, 0, &why);
            if (rc != 0) {
                FO_LOG(FO_LOG_ERROR, key, "relay.%s: %s", k ? "push" : "pull", why ? why : fo_strerror(rc));
                return rc;
            }
        }
    }
    return 0;
}

void fo_relays_shutdown(fo_relays_t *rs)
{
    while (rs && rs->list) {
        entry_t *e = rs->list;
        rs->list = e->next;
        rs->n--;
        entry_free(e, false);
    }
}

void fo_relays_free(fo_relays_t *rs)
{
    if (!rs) return;
    while (rs->list) {
        entry_t *e = rs->list;
        rs->list = e->next;
        entry_free(e, true);
    }
    free(rs);
}

/* ---- API ---- */

static json_t *entry_json(const entry_t *e, uint64_t now)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id", e->id, "type",
                          e->kind == FO_RELAY_PULL ? "pull" : "push", "stream", e->key, "url", e->url,
                          "attempts", (json_int_t)e->attempts, "connects", (json_int_t)e->connects);
    fo_relay_info_t in;
    if (e->relay) {
        fo_relay_info(e->relay, &in);
        json_object_set_new(o, "state", json_string(fo_relay_state_name(in.state)));
        json_object_set_new(o, "session", json_string(in.session_id));
        json_object_set_new(o, "resource", json_string(in.resource));
        json_object_set_new(o, "rx_packets", json_integer((json_int_t)in.rx_packets));
        json_object_set_new(o, "tx_packets", json_integer((json_int_t)in.tx_packets));
        json_object_set_new(o, "rx_bytes", json_integer((json_int_t)in.rx_bytes));
        json_object_set_new(o, "tx_bytes", json_integer((json_int_t)in.tx_bytes));
        if (in.connected_ms) json_object_set_new(o, "connect_ms", json_integer((json_int_t)(in.connected_ms - in.started_ms)));
    } else {
        json_object_set_new(o, "state", json_string("waiting"));
    }
    json_object_set_new(o, "connected_ms", json_integer(e->connected_since ? (json_int_t)(now - e->connected_since) : 0));
    json_object_set_new(o, "last_error", json_string(e->last_error));
    return o;
}

static void post(fo_relays_t *rs, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    json_error_t jerr;
    json_t *in = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = NULL, *stream = NULL, *url = NULL, *token = NULL;
    if (!json_is_object(in) ||
        json_unpack(in, "{s:s, s:s, s:s, s?s}", "type", &type, "stream", &stream, "url", &url, "token", &token) != 0 ||
        (strcmp(type, "pull") != 0 && strcmp(type, "push") != 0)) {
        fo_admin_reply_error(resp, 400, FO_API_BAD_JSON,
                             "expected {\"type\":\"pull\"|\"push\",\"stream\":\"app/stream\",\"url\":\"http(s)://...\"[,\"token\":\"...\"]}");
        json_decref(in);
        return;
    }
    char id[24];
    const char *why = NULL;
    int rc = fo_relays_add(rs, strcmp(type, "pull") == 0 ? FO_RELAY_PULL : FO_RELAY_PUSH, stream, url, token,
                           id, sizeof id, &why);
    json_decref(in);
    if (rc != 0) {
        fo_admin_reply_error(resp, rc == FO_EFULL ? 503 : 400, rc == FO_EFULL ? FO_API_FULL : FO_API_BAD_URL,
                             why ? why : fo_strerror(rc));
        return;
    }
    for (entry_t *e = rs->list; e; e = e->next)
        if (strcmp(e->id, id) == 0) {
            json_t *o = fo_admin_envelope(0);
            json_object_set_new(o, "relay", entry_json(e, fo_loop_now(rs->env.loop)));
            snprintf(resp->location, sizeof resp->location, "/api/v1/relays/%s", id);
            fo_admin_reply(resp, 201, o);
            return;
        }
}

bool fo_relays_handle(fo_relays_t *rs, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    static const char prefix[] = "/api/v1/relays";
    if (strncmp(req->path, prefix, sizeof prefix - 1) != 0) return false;
    const char *rest = req->path + sizeof prefix - 1;
    if (*rest && *rest != '/') return false;
    if (*rest == '/') rest++;
    const char *m = req->method;
    if (!*rest) {
        if (strcmp(m, "POST") == 0) {
            post(rs, req, resp);
        } else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
            json_t *list = json_array();
            uint64_t now = fo_loop_now(rs->env.loop);
            for (entry_t *e = rs->list; e; e = e->next) json_array_append_new(list, entry_json(e, now));
            json_t *o = fo_admin_envelope(0);
            json_object_set_new(o, "relays", list);
            fo_admin_reply(resp, 200, o);
        } else {
            snprintf(resp->allow, sizeof resp->allow, "GET, POST, OPTIONS");
            fo_admin_reply_error(resp, 405, FO_API_METHOD, "use GET or POST");
        }
        return true;
    }
    char id[32];
    snprintf(id, sizeof id, "%s", rest);
    size_t n = strlen(id);
    if (n && id[n - 1] == '/') id[n - 1] = '\0';
    if (strcmp(m, "DELETE") == 0) {
        if (fo_relays_remove(rs, id) == 0) fo_admin_reply(resp, 200, fo_admin_envelope(0));
        else fo_admin_reply_error(resp, 404, FO_API_NOT_FOUND, "no such relay");
    } else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
        for (entry_t *e = rs->list; e; e = e->next)
            if (strcmp(e->id, id) == 0) {
                json_t *o = fo_admin_envelope(0);
                json_object_set_new(o, "relay", entry_json(e, fo_loop_now(rs->env.loop)));
                fo_admin_reply(resp, 200, o);
                return true;
            }
        fo_admin_reply_error(resp, 404, FO_API_NOT_FOUND, "no such relay");
    } else {
        snprintf(resp->allow, sizeof resp->allow, "GET, DELETE, OPTIONS");
        fo_admin_reply_error(resp, 405, FO_API_METHOD, "use GET or DELETE");
    }
    return true;
}
