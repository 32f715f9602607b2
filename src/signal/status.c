/* SPDX-License-Identifier: MIT */
/* The pages' read-only status answers (status.h): JSON with SRS's envelope ("code", "server"),
 * built from the router's streams. A stream nobody has asked for is "waiting", not 404: a
 * player may legitimately wait for a stream that does not exist yet. */
#include "fanout/status.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/admin.h"
#include "fanout/api.h"
#include "fanout/common.h"

#define STREAMS_PREFIX "/rtc/v1/streams"

fo_status_path_t fo_status_path(const char *path, char *key, size_t cap)
{
    size_t n = strlen(STREAMS_PREFIX);
    if (strcmp(path, "/rtc/v1/info") == 0 || strcmp(path, "/rtc/v1/info/") == 0) return FO_STATUS_INFO;
    if (strncmp(path, STREAMS_PREFIX, n) != 0) return FO_STATUS_NONE;
    const char *rest = path + n;
    if (!*rest || strcmp(rest, "/") == 0) return FO_STATUS_LIST;
    if (*rest != '/') return FO_STATUS_NONE;
    rest++;
    size_t len = strlen(rest);
    if (len && rest[len - 1] == '/') len--;
    if (!len || len >= cap || !memchr(rest, '/', len)) return FO_STATUS_NONE; /* "app/stream" */
    memcpy(key, rest, len);
    key[len] = '\0';
    return FO_STATUS_STREAM;
}

bool fo_status_list_public(const fo_config_t *cfg)
{
    if (strcmp(cfg->stream_list, "on") == 0) return true;
    if (strcmp(cfg->stream_list, "off") == 0) return false;
    return cfg->auth_secret[0] == '\0';
}

static json_t *envelope(void)
{
    return json_pack("{s:i, s:s}", "code", 0, "server", "fanout/" FO_VERSION);
}

static void reply(fo_http_resp_t *resp, int status, json_t *o)
{
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "application/json");
    /* pages poll these: never from a cache */
    snprintf(resp->headers, sizeof resp->headers, "Cache-Control: no-store\r\n");
    resp->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    if (!resp->body) resp->status = 500;
    json_decref(o);
}

/* One stream as the public sees it; `st` may be NULL (nobody asked for `key` yet). */
static json_t *stream_json(const char *key, const fo_stream_t *st, uint64_t now)
{
    fo_stream_state_t state = fo_stream_state(st, now);
    return json_pack("{s:s, s:s, s:b, s:I}", "id", key, "state", fo_stream_state_name(state), "live",
                     state == FO_STREAM_LIVE, "players", (json_int_t)(st ? fo_stream_players(st) : 0));
}

static int cmp_streams(const void *pa, const void *pb)
{
    return strcmp(fo_stream_key(*(fo_stream_t *const *)pa), fo_stream_key(*(fo_stream_t *const *)pb));
}

static void list(fo_router_t *router, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    size_t start, count;
    const char *why = "";
    if (fo_admin_page(req->query, &start, &count, &why) != 0) {
        json_t *o = envelope();
        json_object_set_new(o, "code", json_integer(FO_API_BAD_JSON));
        json_object_set_new(o, "msg", json_string(why));
        reply(resp, 400, o);
        return;
    }
    size_t total = fo_router_list_streams(router, NULL, 0);
    fo_stream_t **all = total ? malloc(total * sizeof *all) : NULL;
    if (total && !all) {
        reply(resp, 500, NULL);
        return;
    }
    if (total) {
        fo_router_list_streams(router, all, total);
        qsort(all, total, sizeof *all, cmp_streams);
    }
    uint64_t now = fo_loop_now(fo_router_loop(router));
    json_t *arr = json_array();
    for (size_t i = start; i < total && i < start + count; i++)
        json_array_append_new(arr, stream_json(fo_stream_key(all[i]), all[i], now));
    free(all);
    json_t *o = envelope();
    json_object_set_new(o, "total", json_integer((json_int_t)total));
    json_object_set_new(o, "start", json_integer((json_int_t)start));
    json_object_set_new(o, "streams", arr);
    reply(resp, 200, o);
}

bool fo_status_handle(fo_router_t *router, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    char key[200];
    fo_status_path_t kind = fo_status_path(req->path, key, sizeof key);
    if (kind == FO_STATUS_NONE) return false;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        json_t *o = envelope();
        json_object_set_new(o, "code", json_integer(FO_API_METHOD));
        json_object_set_new(o, "msg", json_string("use GET"));
        snprintf(resp->allow, sizeof resp->allow, "GET, OPTIONS");
        reply(resp, 405, o);
        return true;
    }
    if (kind == FO_STATUS_LIST) {
        list(router, req, resp);
        return true;
    }
    json_t *o = envelope();
    if (kind == FO_STATUS_INFO) {
        const fo_config_t *cfg = fo_router_config(router);
        json_object_set_new(o, "https_port", cfg->https_enabled ? json_integer(cfg->https_port) : json_null());
        json_object_set_new(o, "stream_list", json_boolean(fo_status_list_public(cfg)));
    } else {
        json_t *s = stream_json(key, fo_router_stream(router, key), fo_loop_now(fo_router_loop(router)));
        json_object_update(o, s);
        json_decref(s);
    }
    reply(resp, 200, o);
    return true;
}
