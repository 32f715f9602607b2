/* SPDX-License-Identifier: MIT */
/* The operator API, SRS-style JSON under /api/v1/: versions, summaries, streams, clients, and
 * kicking a client. The JSON builders take plain snapshots and are pure (unit-tested); the
 * handler reads the router and the metrics. Loop thread only (except the pure builders). */
#ifndef FO_ADMIN_H
#define FO_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/http.h"
#include "fanout/metrics.h"
#include "fanout/record.h"
#include "fanout/router.h"
#include "fanout/stream.h"

#define FO_ADMIN_PAGE_DEFAULT 100
#define FO_ADMIN_PAGE_MAX 1000

/* Reads ?start=&count= from a query string: defaults 0 and FO_ADMIN_PAGE_DEFAULT, count
 * capped at FO_ADMIN_PAGE_MAX. Returns 0, or FO_EINVAL (not a non-negative integer, or count
 * 0) with a static reason in *why. Pure. */
int fo_admin_page(const char *query, size_t *start, size_t *count, const char **why);

/* A stream as the API shows it (copied values; pointers valid during the call). */
typedef struct {
    const char *key;              /* "app/stream" */
    bool has_publisher;
    fo_session_info_t pub;        /* valid when has_publisher */
    fo_rate_t pub_rate;
    const fo_sdp_codec_t *codec[2]; /* the publisher's [FO_KIND_AUDIO], [FO_KIND_VIDEO], or NULL */
    size_t players;
    uint64_t players_tx_bytes;
    uint64_t players_tx_bps;
    uint64_t since_unix_ms;       /* when the publisher's session was created, 0 if none */
    const fo_record_status_t *record; /* its recording, NULL: "record" not shown */
} fo_admin_stream_t;

/* {"id","name","vhost","app","url","live_ms","clients","players","send_bytes","recv_bytes",
 *  "kbps":{"recv_30s","send_30s"},"publish":{"active","cid"},"video":{..}|null,"audio":{..}|null}
 * New reference (caller decrefs) or NULL. Pure. */
void *fo_admin_stream_json(const fo_admin_stream_t *st);

/* A recording's state: {"state","error","file","bytes","frames":{"video","audio"},"dropped",
 * "gaps","skipped_frames","files_total","files":[{"path","bytes","duration_ms","start_ms",
 * "video_frames","audio_frames"}]}. New reference or NULL. Pure. */
void *fo_admin_record_json(const fo_record_status_t *rs);

/* One session as an SRS-style client plus our details (state, remote address, packets, loss,
 * RTT, tracks). `now_ms` is the loop clock the info's times are on. New json_t reference or
 * NULL. Pure. */
void *fo_admin_client_json(const fo_session_info_t *in, fo_rate_t rate, uint64_t now_ms);

/* The answer envelope of every /api/v1 reply: {"code","server","service","pid"} (a new
 * json_t reference). Pure. */
void *fo_admin_envelope(int code);
/* Answers `json` (a json_t reference, stolen) with `status`; 500 if it cannot be encoded. */
void fo_admin_reply(fo_http_resp_t *resp, int status, void *json);
/* The envelope with `code` and "msg". */
void fo_admin_reply_error(fo_http_resp_t *resp, int status, int code, const char *msg);

typedef struct fo_admin fo_admin_t;

/* The handler for paths under /api/v1/. `router` and `metrics` must outlive it. */
fo_admin_t *fo_admin_new(fo_router_t *router, fo_metrics_t *metrics);
void fo_admin_free(fo_admin_t *a);

/* Handles GET /api/v1/versions, /summaries, /streams[/{app/stream}], /clients[/{id}],
 * DELETE /api/v1/clients/{id}, and GET/POST/DELETE /api/v1/streams/{app/stream}/record (a
 * recording's state, start, stop). Returns false if the path is none of them (the caller answers
 * 404). */
bool fo_admin_handle(fo_admin_t *a, const fo_http_req_t *req, fo_http_resp_t *resp);

#endif
