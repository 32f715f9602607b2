/* SPDX-License-Identifier: MIT */
/* Who may publish, play and use the operator API. Three independent mechanisms, all off by
 * default (then anyone who reaches the API may publish and play, and /api/v1 answers loopback
 * clients only):
 *  - tokens: auth.secret set => publish/play need a token "<action>.<expiry>.<hex HMAC-SHA256>"
 *    over "<action>:<stream key>:<expiry>" (scripts/make-token.sh mints them), passed as
 *    ?token= in the stream URL or the API URL, or as "Authorization: Bearer <token>";
 *  - callbacks: SRS-style HTTP POSTs on_publish/on_play (answer {"code":0} or 0 to allow,
 *    anything else or a non-2xx status refuses; synchronous, bounded by auth.hook_timeout_ms)
 *    and on_unpublish/on_stop (notifications, sent from a worker thread, never blocking media);
 *  - the operator API secret: auth.api_secret set => /api/v1 paths need "Authorization: Bearer
 *    <api_secret>" or ?secret=; unset => loopback clients only.
 * The only libcurl user; HMAC through mbedtls' md. Loop thread, except fo_auth_make_token and
 * fo_auth_token_verify (pure, any thread). */
#ifndef FO_AUTH_H
#define FO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/config.h"

/* FO_AUTH_RELAY: node-to-node tokens of a cluster (signed with cluster.secret over
 * "relay:<stream key>@<node id>:<expiry>"; cluster.c), never accepted as a user's play token. */
typedef enum { FO_AUTH_PUBLISH = 0, FO_AUTH_PLAY = 1, FO_AUTH_RELAY = 2 } fo_auth_action_t;

typedef struct fo_auth fo_auth_t;

/* cfg must outlive it. Starts the notification worker when a notification URL is set. NULL on
 * failure (logged). */
fo_auth_t *fo_auth_new(const fo_config_t *cfg);
/* Sends what is queued (bounded by the hook timeout), stops the worker, frees. NULL is a no-op. */
void fo_auth_free(fo_auth_t *a);

/* Writes a token for `action` on `stream_key` valid until `expiry` (unix seconds) into out
 * (at least 96 bytes). Returns its length or FO_EINVAL. Any thread. */
int fo_auth_make_token(const char *secret, fo_auth_action_t action, const char *stream_key,
                       int64_t expiry, char *out, size_t cap);
/* Checks a token against secret, action, stream and `now` (unix seconds). Returns 0 or FO_EAUTH
 * with a static reason in *why. Constant-time signature comparison. Any thread. */
int fo_auth_token_verify(const char *secret, fo_auth_action_t action, const char *stream_key,
                         const char *token, int64_t now, const char **why);

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

/* The on_publish / on_play callback, when configured: POSTs SRS's JSON and waits at most
 * auth.hook_timeout_ms. Returns 0 (allowed, or no callback), FO_EAUTH (refused: 403) or FO_ERR
 * (callback unreachable or timed out: 503; fail closed) with a reason in msg. */
int fo_auth_hook_admit(fo_auth_t *a, fo_auth_action_t action, const char *stream_key,
                       const char *client_ip, const char *session_id, char *msg, size_t cap);
/* Queues on_unpublish / on_stop for the worker (dropped and counted when the queue is full). */
void fo_auth_hook_ended(fo_auth_t *a, fo_auth_action_t action, const char *stream_key,
                        const char *session_id);

typedef struct {
    uint64_t token_ok, token_refused, api_refused;
    uint64_t hook_allowed, hook_refused, hook_failed;
    uint64_t notify_sent, notify_failed, notify_dropped;
} fo_auth_stats_t;
/* A snapshot (loop thread; notify_* are updated by the worker under the lock). */
void fo_auth_stats(fo_auth_t *a, fo_auth_stats_t *out);

#endif
