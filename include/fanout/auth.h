/* SPDX-License-Identifier: MIT */
/* Who may publish, play and use the operator API. Three independent mechanisms, all off by
 * default (then anyone who reaches the API may publish and play, and /api/v1 answers loopback
 * clients only):
 *  - tokens: auth.secret set => publish/play need a token "<action>.<expiry>.<hex HMAC-SHA256>"
 *    over "<action>:<stream key>:<expiry>" (scripts/make-token.sh mints them), passed as
 *    ?token= in the stream URL or the API URL, or as "Authorization: Bearer <token>";
 *  - callbacks: SRS-style HTTP POSTs on_publish/on_play (answer {"code":0} or 0 to allow,
 *    anything else or a non-2xx status refuses; asynchronous through httpc, bounded by
 *    auth.hook_timeout_ms and auth.hook_max_in_flight) and on_unpublish/on_stop
 *    (notifications: a bounded queue, a few in flight, drops counted);
 *  - the operator API secret: auth.api_secret set => /api/v1 paths need "Authorization: Bearer
 *    <api_secret>" or ?secret=; unset => loopback clients only.
 * HMAC through mbedtls' md; HTTP through httpc (no thread, no blocking). Loop thread, except
 * fo_auth_make_token and fo_auth_token_verify (pure, any thread). */
#ifndef FO_AUTH_H
#define FO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/config.h"
#include "fanout/httpc.h"

/* FO_AUTH_RELAY: node-to-node tokens of a cluster (signed with cluster.secret over
 * "relay:<stream key>@<node id>:<expiry>"; cluster.c), never accepted as a user's play token. */
typedef enum { FO_AUTH_PUBLISH = 0, FO_AUTH_PLAY = 1, FO_AUTH_RELAY = 2 } fo_auth_action_t;

/* Secrets (auth.secret, auth.api_secret) shorter than this are warned about at start. */
#define FO_AUTH_MIN_SECRET 16

typedef struct fo_auth fo_auth_t;

/* cfg must outlive it; so must `http` (the loop's client, used for the callbacks; NULL: a
 * configured callback cannot be asked and refuses). NULL on failure (logged). */
fo_auth_t *fo_auth_new(const fo_config_t *cfg, fo_httpc_t *http);
/* Cancels the callbacks in flight (their fo_auth_hook_cb never runs) and drops queued
 * notifications (see fo_auth_notify_pending to let them go first). NULL is a no-op. */
void fo_auth_free(fo_auth_t *a);

/* Writes a token for `action` on `stream_key` valid until `expiry` (unix seconds) into out
 * (at least 96 bytes). Returns its length or FO_EINVAL. Any thread. */
int fo_auth_make_token(const char *secret, fo_auth_action_t action, const char *stream_key,
                       int64_t expiry, char *out, size_t cap);
/* Checks a token against secret, action, stream and `now` (unix seconds). The token must be
 * spelled exactly as fo_auth_make_token writes it: the expiry in plain decimal digits (no sign,
 * no leading zero), the signature in 64 lower-case hex digits. A token that expires more than
 * `max_ttl` seconds after `now` is refused too (0 = no maximum). Returns 0 or FO_EAUTH with a
 * static reason in *why. Constant-time signature comparison. Any thread. */
int fo_auth_token_verify(const char *secret, fo_auth_action_t action, const char *stream_key,
                         const char *token, int64_t now, int64_t max_ttl, const char **why);

/* The publish/play gate: passes when tokens are off, else verifies `token` (NULL/"" = none).
 * Returns 0 or FO_EAUTH (answer 401) with a reason in *why. */
int fo_auth_check(fo_auth_t *a, fo_auth_action_t action, const char *stream_key,
                  const char *token, int64_t now, const char **why);

/* Picks the token of a request: ?token= of the stream URL's query, else of the API URL's query,
 * else a Bearer Authorization header. Writes "" when none. */
void fo_auth_find_token(const char *stream_query, const char *api_query,
                        const char *authorization, char *out, size_t cap);

/* The operator API gate for /api/v1 paths: 0 to allow, FO_EAUTH (401) otherwise. */
int fo_auth_api_check(fo_auth_t *a, const char *remote_ip, const char *authorization,
                      const char *query);

/* --- on_publish / on_play --- */

/* Whether an admission callback is configured for `action`. */
bool fo_auth_hook_configured(const fo_auth_t *a, fo_auth_action_t action);
/* auth.hook_timeout_ms: how long a callback may take. */
int fo_auth_hook_timeout_ms(const fo_auth_t *a);

/* What the callback is told (SRS's body: action, client_id, ip, vhost, app, stream, param). */
typedef struct {
    fo_auth_action_t action;
    const char *stream_key; /* "app/stream" */
    const char *client_ip;
    const char *client_id;  /* the id the session will get (server-made, not the client's tid) */
    const char *param;      /* the request's query as SRS sends it, "?k=v&..." or "" */
} fo_auth_hook_req_t;

/* The verdict: 0 allowed, FO_EAUTH refused (answer 403), FO_EUNREACH unreachable, timed out
 * or no usable answer (answer 503: fail closed). `msg` is readable; valid during the call. */
typedef void (*fo_auth_hook_cb)(void *user, int verdict, const char *msg);

/* A callback in flight; owned by auth, valid until its fo_auth_hook_cb returns or it is
 * cancelled. */
typedef struct fo_auth_hook fo_auth_hook_t;

/* POSTs the on_publish/on_play callback and returns at once; cb(user, ...) runs exactly once
 * later on the loop thread unless the hook is cancelled first. Returns 0 (asked; *out is the
 * handle), FO_ENOTFOUND (no callback configured: allowed, cb never runs), FO_EFULL
 * (auth.hook_max_in_flight callbacks in flight: answer 503), FO_EUNREACH (could not be sent:
 * answer 503). cb never runs inside this call. */
int fo_auth_hook_ask(fo_auth_t *a, const fo_auth_hook_req_t *q, fo_auth_hook_cb cb, void *user,
                     fo_auth_hook_t **out);
/* The asker went away: the request is abandoned and cb never runs. NULL is a no-op. */
void fo_auth_hook_cancel(fo_auth_hook_t *h);

/* --- on_unpublish / on_stop --- */

/* Queues on_unpublish / on_stop (a few in flight at once; dropped and counted when the queue
 * is full). */
void fo_auth_hook_ended(fo_auth_t *a, fo_auth_action_t action, const char *stream_key,
                        const char *session_id);
/* Notifications queued or in flight. */
size_t fo_auth_notify_pending(const fo_auth_t *a);

/* Upper bounds (seconds) of the callback latency histogram's buckets, then +Inf. */
#define FO_AUTH_HOOK_BUCKETS 11
extern const double fo_auth_hook_buckets[FO_AUTH_HOOK_BUCKETS];

typedef struct {
    uint64_t token_ok, token_refused, api_refused;
    /* on_publish [FO_AUTH_PUBLISH] and on_play [FO_AUTH_PLAY] outcomes */
    uint64_t hook_allowed[2], hook_refused[2], hook_failed[2], hook_timeout[2];
    uint64_t hook_busy[2];      /* refused at auth.hook_max_in_flight, never sent */
    uint64_t hook_cancelled[2]; /* the client left (or the server stopped) first */
    uint64_t hook_in_flight;
    /* latency of answered, refused, failed and timed-out callbacks: per bucket (not
     * cumulative), the last for more than the largest bound; sum in milliseconds */
    uint64_t hook_latency[2][FO_AUTH_HOOK_BUCKETS + 1];
    uint64_t hook_latency_ms_sum[2];
    uint64_t notify_sent, notify_failed, notify_dropped;
} fo_auth_stats_t;
void fo_auth_stats(const fo_auth_t *a, fo_auth_stats_t *out);

#endif
