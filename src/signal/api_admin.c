/* SPDX-License-Identifier: MIT */
/* /api/v1/: SRS's shapes where SRS has them ("code", "server", "service", "pid" on every answer;
 * streams with "kbps":{"recv_30s","send_30s"}, "publish":{"active","cid"}; clients with "type"
 * "rtc-publish"/"rtc-play"), so dashboards written for SRS read it; our extra fields sit beside
 * them. Bitrates come from the metrics sampler (1 s windows, despite SRS's "_30s" names).
 * Listings are sorted (streams by key, clients by age then id) so pages are stable. */
#include "fanout/admin.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "fanout/api.h"
#include "fanout/common.h"
#include "fanout/url.h"

struct fo_admin {
    fo_router_t *router;
    fo_metrics_t *metrics;
};

/* --- pure parts --- */

static int parse_uint(const char *query, const char *name, size_t *out, const char **why)
{
    char v[32];
    int n = fo_url_query_get(query, name, v, sizeof v);
    if (n == FO_ENOTFOUND) return 0;
    if (n <= 0) return *why = "start and count must be non-negative integers", FO_EINVAL;
    size_t val = 0;
    for (int i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || val > 100000000) return *why = "start and count must be non-negative integers", FO_EINVAL;
        val = val * 10 + (size_t)(v[i] - '0');
    }
    *out = val;
    return 0;
}

int fo_admin_page(const char *query, size_t *start, size_t *count, const char **why)
{
    *start = 0;
    *count = FO_ADMIN_PAGE_DEFAULT;
    const char *w = "";
    if (parse_uint(query ? query : "", "start", start, &w) || parse_uint(query ? query : "", "count", count, &w)) {
        if (why) *why = w;
        return FO_EINVAL;
    }
    if (*count == 0) {
        if (why) *why = "count must be at least 1";
        return FO_EINVAL;
    }
    if (*count > FO_ADMIN_PAGE_MAX) *count = FO_ADMIN_PAGE_MAX;
    return 0;
}

static const char *role_type(fo_role_t r) { return r == FO_ROLE_PUBLISH ? "rtc-publish" : "rtc-play"; }

static const char *state_name(fo_transport_state_t s)
{
    static const char *const names[] = {"new", "checked", "connected", "closed"};
    return (unsigned)s < FO_ARRAY_LEN(names) ? names[s] : "unknown";
}

static json_t *codec_json(const fo_sdp_codec_t *c, fo_kind_t kind)
{
    if (!c) return json_null();
    json_t *o = json_pack("{s:s, s:i, s:I}", "codec", fo_codec_name(c->codec), "pt", c->pt,
                          "clock_rate", (json_int_t)c->clock);
    if (kind == FO_KIND_AUDIO) {
        json_object_set_new(o, "sample_rate", json_integer(c->clock));
        json_object_set_new(o, "channel", json_integer(c->channels ? c->channels : 1));
    } else if (c->codec == FO_CODEC_H264 && c->h264_profile_level) {
        char pl[12];
        snprintf(pl, sizeof pl, "%06x", (unsigned)c->h264_profile_level & 0xffffffu);
        json_object_set_new(o, "profile_level_id", json_string(pl));
    }
    if (c->fmtp[0]) json_object_set_new(o, "fmtp", json_string(c->fmtp));
    return o;
}

void *fo_admin_stream_json(const fo_admin_stream_t *st)
{
    const char *slash = strrchr(st->key, '/');
    char app[200];
    snprintf(app, sizeof app, "%.*s", slash ? (int)(slash - st->key) : 0, st->key);
    char url[210];
    snprintf(url, sizeof url, "/%s", st->key);
    uint64_t pub_bytes = st->has_publisher ? st->pub.rx_bytes : 0;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I}, s:{s:b, s:s?}, s:o, s:o, s:o*}",
        "id", st->key, "name", slash ? slash + 1 : st->key, "vhost", "__defaultVhost__", "app", app,
        "url", url, "live_ms", (json_int_t)st->since_unix_ms,
        "clients", (json_int_t)(st->players + (st->has_publisher ? 1 : 0)),
        "players", (json_int_t)st->players, "send_bytes", (json_int_t)st->players_tx_bytes,
        "recv_bytes", (json_int_t)pub_bytes, "kbps", "recv_30s",
        (json_int_t)(st->has_publisher ? st->pub_rate.rx_bps / 1000 : 0), "send_30s",
        (json_int_t)(st->players_tx_bps / 1000), "publish", "active", st->has_publisher, "cid",
        st->has_publisher ? st->pub.id : NULL, "video",
        codec_json(st->codec[FO_KIND_VIDEO], FO_KIND_VIDEO), "audio",
        codec_json(st->codec[FO_KIND_AUDIO], FO_KIND_AUDIO), "record",
        st->record ? fo_admin_record_json(st->record) : NULL);
    return o;
}

void *fo_admin_record_json(const fo_record_status_t *rs)
{
    json_t *files = json_array();
    for (size_t i = 0; i < rs->n_files; i++) {
        const fo_record_file_t *f = &rs->files[i];
        json_array_append_new(files, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "path", f->path, "bytes",
                                               (json_int_t)f->bytes, "duration_ms", (json_int_t)f->duration_ms,
                                               "start_ms", (json_int_t)f->start_unix_ms, "video_frames",
                                               (json_int_t)f->frames[FO_KIND_VIDEO], "audio_frames",
                                               (json_int_t)f->frames[FO_KIND_AUDIO]));
    }
    return json_pack("{s:s, s:s*, s:s*, s:I, s:{s:I, s:I}, s:I, s:I, s:I, s:I, s:o}", "state", rs->state,
                     "error", rs->error[0] ? rs->error : NULL, "file", rs->file[0] ? rs->file : NULL,
                     "bytes", (json_int_t)rs->bytes, "frames", "video", (json_int_t)rs->frames[FO_KIND_VIDEO],
                     "audio", (json_int_t)rs->frames[FO_KIND_AUDIO], "dropped", (json_int_t)rs->dropped_queue,
                     "gaps", (json_int_t)rs->gaps, "skipped_frames", (json_int_t)rs->frames_skipped,
                     "files_total", (json_int_t)rs->files_total, "files", files);
}

void *fo_admin_client_json(const fo_session_info_t *in, fo_rate_t rate, uint64_t now_ms)
{
    char remote[80] = "", ip[80] = "";
    if (in->remote.u.sa.sa_family) {
        fo_addr_str(&in->remote, remote, sizeof remote);
        snprintf(ip, sizeof ip, "%s", remote);
        char *colon = strrchr(ip, ':'); /* "1.2.3.4:5" or "[::1]:5" -> address only */
        if (colon) *colon = '\0';
        if (ip[0] == '[') {
            memmove(ip, ip + 1, strlen(ip));
            char *rb = strchr(ip, ']');
            if (rb) *rb = '\0';
        }
    }
    const char *slash = strrchr(in->stream_key, '/');
    char url[210];
    snprintf(url, sizeof url, "/%s", in->stream_key);
    uint32_t lost = 0;
    json_t *tracks = json_array();
    for (int k = 0; k < 2; k++) {
        const fo_track_info_t *t = &in->track[k];
        lost += t->lost;
        if (!t->active) continue;
        json_array_append_new(
            tracks, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "kind",
                              k == FO_KIND_AUDIO ? "audio" : "video", "codec", fo_codec_name(t->codec),
                              "ssrc", (json_int_t)t->ssrc, "packets", (json_int_t)t->packets, "bytes",
                              (json_int_t)t->bytes, "lost", (json_int_t)t->lost, "jitter",
                              (json_int_t)t->jitter, "nacks", (json_int_t)t->nacks, "plis",
                              (json_int_t)t->plis, "retransmits", (json_int_t)t->retransmits,
                              "rtx_limited", (json_int_t)t->rtx_limited, "rtx_missed",
                              (json_int_t)t->rtx_missed, "recovered", (json_int_t)t->recovered,
                              "unrecovered", (json_int_t)t->unrecovered));
    }
    double alive = now_ms > in->created_ms ? (double)(now_ms - in->created_ms) / 1000.0 : 0;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:f, s:I, s:I, s:{s:I, s:I}, s:s, s:s, s:s, "
        "s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}",
        "id", in->id, "vhost", "__defaultVhost__", "stream", in->stream_key, "ip", ip, "url", url,
        "name", slash ? slash + 1 : in->stream_key, "type", role_type(in->role), "publish",
        in->role == FO_ROLE_PUBLISH, "alive", alive, "send_bytes", (json_int_t)in->tx_bytes,
        "recv_bytes", (json_int_t)in->rx_bytes, "kbps", "recv_30s", (json_int_t)(rate.rx_bps / 1000),
        "send_30s", (json_int_t)(rate.tx_bps / 1000), "kind",
        in->role == FO_ROLE_PUBLISH ? "publish" : "play", "state", state_name(in->state), "remote",
        remote, "recv_packets", (json_int_t)in->rx_packets, "send_packets",
        (json_int_t)in->tx_packets, "dropped", (json_int_t)in->rx_dropped, "packets_lost",
        (json_int_t)lost, "connected_ms",
        (json_int_t)(in->connected_ms && in->connected_ms >= in->created_ms ? in->connected_ms - in->created_ms : 0),
        "rtt_ms", in->rtt_ms ? json_integer(in->rtt_ms) : json_null(), "bitrate",
        json_pack("{s:I, s:I}", "recv_bps", (json_int_t)rate.rx_bps, "send_bps", (json_int_t)rate.tx_bps),
        "tracks", tracks);
    if (o) {
        /* The carrier of the path in use ("" before an ICE check), and backpressure drops. */
        json_object_set_new(o, "transport", json_string(!in->remote.u.sa.sa_family ? "" : in->tcp ? "tcp" : "udp"));
        json_object_set_new(o, "send_dropped", json_integer((json_int_t)in->tx_dropped));
        json_object_set_new(o, "frames_skipped", json_integer((json_int_t)in->frames_skipped));
    }
    /* A player's send-side bandwidth estimate (transport-wide-cc players only). */
    if (o && in->estimate_bps)
        json_object_set_new(o, "bwe",
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "estimate_bps",
                                      (json_int_t)in->estimate_bps, "delivery_bps",
                                      (json_int_t)in->delivery_bps, "loss_permille",
                                      (json_int_t)in->est_loss_permille, "queue_ms",
                                      (json_int_t)in->est_queue_ms, "feedbacks",
                                      (json_int_t)in->est_feedbacks, "feedbacks_limited",
                                      (json_int_t)in->est_feedbacks_limited));
    if (o && in->n_layers) {
        json_t *sc = json_object();
        if (in->role == FO_ROLE_PUBLISH) {
            json_t *ls = json_array();
            for (unsigned i = 0; i < in->n_layers && i < 3; i++)
                json_array_append_new(ls, json_pack("{s:s, s:I, s:I, s:I}", "rid", in->layers[i].rid, "ssrc",
                                                    (json_int_t)in->layers[i].ssrc, "bps",
                                                    (json_int_t)in->layers[i].bps, "packets",
                                                    (json_int_t)in->layers[i].packets));
            json_object_set_new(sc, "layers", ls);
        } else {
            json_object_set_new(sc, "layers", json_integer(in->n_layers));
            json_object_set_new(sc, "layer", in->layer >= 0 ? json_integer(in->layer) : json_null());
            json_object_set_new(sc, "target", in->layer_target >= 0 ? json_integer(in->layer_target) : json_null());
            json_object_set_new(sc, "switches", json_integer((json_int_t)in->layer_switches));
        }
        json_object_set_new(o, "simulcast", sc);
    }
    return o;
}

/* --- the handler --- */

fo_admin_t *fo_admin_new(fo_router_t *router, fo_metrics_t *metrics)
{
    fo_admin_t *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->router = router;
    a->metrics = metrics;
    return a;
}

void fo_admin_free(fo_admin_t *a) { free(a); }

static uint64_t unix_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* {"code":0,"server","service","pid"} with SRS's string types. */
void *fo_admin_envelope(int code)
{
    char pid[24];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    return json_pack("{s:i, s:s, s:s, s:s}", "code", code, "server", "fanout/" FO_VERSION, "service",
                     "fanout", "pid", pid);
}

void fo_admin_reply(fo_http_resp_t *resp, int status, void *json)
{
    json_t *obj = json;
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "application/json");
    resp->body = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    if (!resp->body) resp->status = 500;
    json_decref(obj);
}

void fo_admin_reply_error(fo_http_resp_t *resp, int status, int code, const char *msg)
{
    json_t *o = fo_admin_envelope(code);
    json_object_set_new(o, "msg", json_string(msg ? msg : ""));
    fo_admin_reply(resp, status, o);
}

static int cmp_sessions(const void *pa, const void *pb)
{
    fo_session_info_t a, b;
    fo_session_info(*(fo_session_t *const *)pa, &a);
    fo_session_info(*(fo_session_t *const *)pb, &b);
    if (a.created_ms != b.created_ms) return a.created_ms < b.created_ms ? -1 : 1;
    return strcmp(a.id, b.id);
}

static int cmp_streams(const void *pa, const void *pb)
{
    return strcmp(fo_stream_key(*(fo_stream_t *const *)pa), fo_stream_key(*(fo_stream_t *const *)pb));
}

/* All sessions or streams, sorted; *n set. NULL with *n 0 when there are none. */
static void **sorted(fo_admin_t *a, bool streams, size_t *n)
{
    size_t total = streams ? fo_router_list_streams(a->router, NULL, 0) : fo_router_list_sessions(a->router, NULL, 0);
    *n = 0;
    if (!total) return NULL;
    void **all = malloc(total * sizeof *all);
    if (!all) return NULL;
    if (streams) fo_router_list_streams(a->router, (fo_stream_t **)all, total);
    else fo_router_list_sessions(a->router, (fo_session_t **)all, total);
    qsort(all, total, sizeof *all, streams ? cmp_streams : cmp_sessions);
    *n = total;
    return all;
}

static json_t *client_of(fo_admin_t *a, const fo_session_t *s)
{
    fo_session_info_t info;
    fo_session_info(s, &info);
    return fo_admin_client_json(&info, fo_metrics_session_rate(a->metrics, info.id),
                                fo_loop_now(fo_router_loop(a->router)));
}

static json_t *stream_of(fo_admin_t *a, const fo_stream_t *st, bool with_sessions)
{
    static fo_record_status_t rs; /* large; loop thread only */
    fo_admin_stream_t v = {.key = fo_stream_key(st)};
    fo_record_status(fo_router_record(a->router), v.key, &rs);
    v.record = &rs;
    uint64_t now = fo_loop_now(fo_router_loop(a->router)), wall = unix_ms();
    json_t *sessions = with_sessions ? json_array() : NULL;
    const fo_session_t *pub = fo_stream_publisher(st);
    if (pub) {
        v.has_publisher = true;
        fo_session_info(pub, &v.pub);
        v.pub_rate = fo_metrics_session_rate(a->metrics, v.pub.id);
        v.since_unix_ms = wall - (now > v.pub.created_ms ? now - v.pub.created_ms : 0);
        if (sessions) json_array_append_new(sessions, client_of(a, pub));
    }
    v.codec[FO_KIND_AUDIO] = fo_stream_codec(st, FO_KIND_AUDIO);
    v.codec[FO_KIND_VIDEO] = fo_stream_codec(st, FO_KIND_VIDEO);
    size_t np = 0;
    fo_session_t *const *players = fo_stream_player_list(st, &np);
    v.players = np;
    for (size_t i = 0; i < np; i++) {
        fo_session_info_t pi;
        fo_session_info(players[i], &pi);
        v.players_tx_bytes += pi.tx_bytes;
        v.players_tx_bps += fo_metrics_session_rate(a->metrics, pi.id).tx_bps;
        if (sessions) json_array_append_new(sessions, client_of(a, players[i]));
    }
    json_t *o = fo_admin_stream_json(&v);
    if (sessions) json_object_set_new(o, "sessions", sessions);
    return o;
}

static void list(fo_admin_t *a, bool streams, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    size_t start, count;
    const char *why = "";
    if (fo_admin_page(req->query, &start, &count, &why) != 0) {
        fo_admin_reply_error(resp, 400, FO_API_BAD_JSON, why);
        return;
    }
    size_t n;
    void **all = sorted(a, streams, &n);
    json_t *arr = json_array();
    for (size_t i = start; i < n && i < start + count; i++)
        json_array_append_new(arr, streams ? stream_of(a, all[i], false) : client_of(a, all[i]));
    free(all);
    json_t *o = fo_admin_envelope(0);
    json_object_set_new(o, "total", json_integer((json_int_t)n));
    json_object_set_new(o, "start", json_integer((json_int_t)start));
    json_object_set_new(o, streams ? "streams" : "clients", arr);
    fo_admin_reply(resp, 200, o);
}

static void versions(fo_http_resp_t *resp)
{
    int major = 0, minor = 0, rev = 0;
    sscanf(FO_VERSION, "%d.%d.%d", &major, &minor, &rev);
    json_t *o = fo_admin_envelope(0);
    json_object_set_new(o, "data", json_pack("{s:i, s:i, s:i, s:s}", "major", major, "minor", minor,
                                             "revision", rev, "version", FO_VERSION));
    fo_admin_reply(resp, 200, o);
}

/* MemTotal in kB and the load averages; zeros where unreadable. */
static void system_info(uint64_t *mem_total_kb, double load[3])
{
    *mem_total_kb = 0;
    load[0] = load[1] = load[2] = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) *mem_total_kb = kb;
        fclose(f);
    }
    f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = load[1] = load[2] = 0;
        fclose(f);
    }
}

static void summaries(fo_admin_t *a, fo_http_resp_t *resp)
{
    fo_proc_info_t p;
    fo_metrics_proc(a->metrics, &p);
    fo_router_stats_t rs;
    fo_router_stats(a->router, &rs);
    fo_udp_stats_t us, *u = &us;
    fo_router_udp_stats(a->router, u);
    fo_rate_t rate = fo_metrics_total_rate(a->metrics);
    uint64_t mem_total = 0;
    double load[3];
    system_info(&mem_total, load);
    json_t *self = json_pack(
        "{s:s, s:i, s:i, s:I, s:f, s:f, s:I, s:I, s:I, s:i}", "version", FO_VERSION, "pid", (int)getpid(),
        "ppid", (int)getppid(), "mem_kbyte", (json_int_t)p.rss_kb, "mem_percent",
        mem_total ? 100.0 * (double)p.rss_kb / (double)mem_total : 0.0, "cpu_percent", p.cpu_percent,
        "srs_uptime", (json_int_t)(p.uptime_ms / 1000), "uptime_ms", (json_int_t)p.uptime_ms,
        "vsize_kbyte", (json_int_t)p.vsize_kb, "threads", p.threads);
    json_object_set_new(self, "cpu_seconds", json_real(p.cpu_seconds));
    json_t *sys = json_pack("{s:i, s:I, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I}", "cpus",
                            (int)sysconf(_SC_NPROCESSORS_ONLN), "mem_ram_kbyte", (json_int_t)mem_total,
                            "load_1m", load[0], "load_5m", load[1], "load_15m", load[2],
                            "srs_recv_bytes", (json_int_t)u->rx_bytes, "srs_send_bytes",
                            (json_int_t)u->tx_bytes, "conn_srs", (json_int_t)rs.sessions,
                            "recv_kbps", (json_int_t)(rate.rx_bps / 1000), "send_kbps",
                            (json_int_t)(rate.tx_bps / 1000), "streams", (json_int_t)rs.streams);
    json_object_set_new(sys, "publishers", json_integer((json_int_t)rs.publishers));
    json_object_set_new(sys, "players", json_integer((json_int_t)rs.players));
    json_t *o = fo_admin_envelope(0);
    json_object_set_new(o, "data", json_pack("{s:b, s:I, s:o, s:o}", "ok", 1, "now_ms", (json_int_t)unix_ms(),
                                             "self", self, "system", sys));
    fo_admin_reply(resp, 200, o);
}

/* The rest of the path after `prefix` ("" if exactly the prefix, with or without '/'), or NULL
 * if the path is not under it. */
static const char *under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0) return NULL;
    if (path[n] == '\0') return "";
    if (path[n] != '/') return NULL;
    return path + n + 1;
}

/* /api/v1/streams/{key}/record: GET the recording's state, POST to start, DELETE to stop. */
static void record_route(fo_admin_t *a, const fo_http_req_t *req, const char *rest, size_t keylen,
                         fo_http_resp_t *resp)
{
    char key[200];
    snprintf(key, sizeof key, "%.*s", (int)keylen, rest);
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    bool post = strcmp(req->method, "POST") == 0, del = strcmp(req->method, "DELETE") == 0;
    if (!get && !post && !del) {
        snprintf(resp->allow, sizeof resp->allow, "GET, POST, DELETE, OPTIONS");
        fo_admin_reply_error(resp, 405, FO_API_METHOD, "use GET, POST (start) or DELETE (stop)");
        return;
    }
    fo_stream_t *st = fo_router_stream(a->router, key);
    fo_record_t *rec = fo_router_record(a->router);
    if (!st) {
        fo_admin_reply_error(resp, 404, FO_API_NOT_FOUND, "no such stream");
        return;
    }
    if (post) {
        const char *why = "";
        int rc = fo_record_start(rec, st, &why);
        if (rc != 0) {
            fo_admin_reply_error(resp, rc == FO_EBUSY ? 409 : rc == FO_ECODEC ? 400 : 503,
                        rc == FO_EBUSY ? FO_API_BUSY : rc == FO_ECODEC ? FO_API_BAD_CODEC : FO_API_FULL, why);
            return;
        }
    } else if (del && fo_record_stop(rec, st) != 0) {
        fo_admin_reply_error(resp, 404, FO_API_NOT_FOUND, "the stream is not being recorded");
        return;
    }
    static fo_record_status_t rs; /* large; loop thread only */
    fo_record_status(rec, key, &rs);
    json_t *o = fo_admin_envelope(0);
    json_object_set_new(o, "record", fo_admin_record_json(&rs));
    fo_admin_reply(resp, 200, o);
}

bool fo_admin_handle(fo_admin_t *a, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    const char *rest;
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    bool del = strcmp(req->method, "DELETE") == 0;
    if ((rest = under(req->path, "/api/v1/versions")) && !*rest) {
        if (!get) goto method;
        versions(resp);
    } else if ((rest = under(req->path, "/api/v1/summaries")) && !*rest) {
        if (!get) goto method;
        summaries(a, resp);
    } else if ((rest = under(req->path, "/api/v1/streams"))) {
        size_t rl = strlen(rest);
        if (rl > 7 && strcmp(rest + rl - 7, "/record") == 0) {
            record_route(a, req, rest, rl - 7, resp);
            return true;
        }
        if (!get) goto method;
        if (!*rest) {
            list(a, true, req, resp);
            return true;
        }
        char key[200];
        snprintf(key, sizeof key, "%s", rest);
        size_t kl = strlen(key);
        if (kl && key[kl - 1] == '/') key[kl - 1] = '\0';
        const fo_stream_t *st = fo_router_stream(a->router, key);
        if (!st) {
            fo_admin_reply_error(resp, 404, FO_API_NOT_FOUND, "no such stream");
            return true;
        }
        json_t *o = fo_admin_envelope(0);
        json_object_set_new(o, "stream", stream_of(a, st, true));
        fo_admin_reply(resp, 200, o);
    } else if ((rest = under(req->path, "/api/v1/clients"))) {
        if (!*rest) {
            if (!get) goto method;
            list(a, false, req, resp);
            return true;
        }
        char id[64];
        snprintf(id, sizeof id, "%s", rest);
        size_t il = strlen(id);
        if (il && id[il - 1] == '/') id[il - 1] = '\0';
        const fo_session_t *s = fo_router_session(a->router, id);
        if (!s) {
            fo_admin_reply_error(resp, 404, FO_API_NOT_FOUND, "no such client");
            return true;
        }
        if (del) {
            fo_router_end_session_why(a->router, id, "kicked through the API");
            fo_admin_reply(resp, 200, fo_admin_envelope(0));
        } else if (get) {
            json_t *o = fo_admin_envelope(0);
            json_object_set_new(o, "client", client_of(a, s));
            fo_admin_reply(resp, 200, o);
        } else {
            snprintf(resp->allow, sizeof resp->allow, "GET, DELETE, OPTIONS");
            fo_admin_reply_error(resp, 405, FO_API_METHOD, "use GET or DELETE");
        }
    } else {
        return false;
    }
    return true;
method:
    snprintf(resp->allow, sizeof resp->allow, "GET, OPTIONS");
    fo_admin_reply_error(resp, 405, FO_API_METHOD, "use GET");
    return true;
}
