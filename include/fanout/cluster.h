/* SPDX-License-Identifier: MIT */
/* One stream, many machines: this node's part in a cluster of fanout nodes that share a Redis
 * (registry.h). It decides, and the API asks it before answering:
 *  - publish: claim the stream cluster-wide first (a second publisher anywhere gets 409);
 *    release it when the local publisher ends;
 *  - play: a stream this node does not have is pulled (relay.h, WHEP) from a node that has it,
 *    chosen by the registry's tree rules; the pull starts with the first local player, waits
 *    (for a publish event, not by polling) while the stream is published nowhere, is retried
 *    when it breaks, and ends relay_linger seconds after the last local player; with Redis
 *    unreachable a play of a stream this node does not have gets 503;
 *  - load: at capacity or while draining, plays (and, draining, publishes) are redirected
 *    (307) to the least-loaded live node;
 *  - node-to-node: pulls carry a token signed with cluster.secret; a node serving another's
 *    pull remembers whose it is (children in the tree), and ends those sessions when that node
 *    leaves the registry;
 *  - draining (SIGUSR1, POST /api/v1/cluster/drain): new sessions are redirected, existing ones
 *    run until they end or drain_timeout, then the node leaves the registry and stops.
 * Without cluster.redis it does only draining, and the API's answers are today's.
 * Loop thread only. */
#ifndef FO_CLUSTER_H
#define FO_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/config.h"
#include "fanout/http.h"
#include "fanout/httpc.h"
#include "fanout/metrics.h"
#include "fanout/registry.h"
#include "fanout/router.h"

typedef struct fo_cluster fo_cluster_t;

typedef struct {
    fo_loop_t *loop;
    fo_router_t *router;
    fo_httpc_t *httpc;
    fo_metrics_t *metrics;      /* load figures for the heartbeat */
    const fo_config_t *cfg;
    /* Draining is over: the owner stops the loop (and exits 0). */
    void (*on_drained)(void *user);
    void *user;
} fo_cluster_env_t;

/* Joins the cluster when cfg->cluster_redis is set (Redis may be unreachable: it keeps
 * trying). Everything in env must outlive it. NULL on a configuration error (logged). */
fo_cluster_t *fo_cluster_new(const fo_cluster_env_t *env);
/* Stops its pulls and timers (the loop must run on for their ends). */
void fo_cluster_shutdown(fo_cluster_t *c);
/* Leaves the registry (node key deleted, claims and carrier entries released) and calls
 * done(user) when Redis confirmed, or at once without Redis. */
void fo_cluster_leave(fo_cluster_t *c, void (*done)(void *user), void *user);
/* Frees; after the loop ended and the router was freed. NULL is a no-op. */
void fo_cluster_free(fo_cluster_t *c);
bool fo_cluster_enabled(const fo_cluster_t *c);

/* A publish of `key` may go ahead: 0 at once (no cluster, or this node holds the claim, or
 * Redis is unreachable: then the stream is served locally and claimed when Redis is back),
 * FO_EAGAIN when done(user, rc, holder) will tell (rc 0, or FO_EBUSY with the holder's node
 * id), FO_EBUSY now. */
typedef void (*fo_cluster_done_cb)(void *user, int rc, const char *holder);
int fo_cluster_publish_admit(fo_cluster_t *c, const char *key, fo_cluster_done_cb done, void *user);
/* The publish admitted for `key` did not become a session: give the claim back. */
void fo_cluster_publish_abort(fo_cluster_t *c, const char *key);
/* Pending callbacks with this user are not called. */
void fo_cluster_cancel(fo_cluster_t *c, const void *user);

/* Whether a new session of `role` for `key` may be taken here: 0 yes; FO_ERR with
 * `location` (the other node's base URL, to which the caller appends its path and query) for a
 * 307; FO_EAGAIN (503: Redis unreachable and the stream is not here, or draining with nowhere
 * to send it) with a reason in msg. */
int fo_cluster_admit(fo_cluster_t *c, bool play, const char *key, char *location, size_t lcap,
                     char *msg, size_t mcap);

/* A WHEP request from another node: true when its query names a node (node=) and its bearer
 * token is that node's valid token for `key` (or no cluster secret is set); *node gets the id.
 * Such requests skip user tokens and callbacks. */
bool fo_cluster_node_request(fo_cluster_t *c, const fo_http_req_t *req, const char *key,
                             char *node, size_t cap);
/* The session created for such a request (this node now serves node `node` a relay of `key`). */
void fo_cluster_relay_served(fo_cluster_t *c, const char *session_id, const char *key,
                             const char *node);

/* Starts draining (idempotent). */
void fo_cluster_drain(fo_cluster_t *c);
bool fo_cluster_draining(const fo_cluster_t *c);

/* GET /api/v1/cluster (state, nodes, pulls), POST /api/v1/cluster/drain. False for other
 * paths. */
bool fo_cluster_handle(fo_cluster_t *c, const fo_http_req_t *req, fo_http_resp_t *resp);

typedef struct {
    bool enabled, redis_up, draining;
    uint64_t nodes;              /* live nodes seen at the last heartbeat */
    uint64_t pulls, pulls_connected; /* streams this node pulls (now) */
    uint64_t served;             /* relay sessions this node serves to other nodes (now) */
    uint64_t pull_attempts, pull_failures;
    uint64_t redirects, refused_redis_down, claims_refused;
    uint64_t redis_reconnects, registry_bad_values;
} fo_cluster_stats_t;
void fo_cluster_stats(const fo_cluster_t *c, fo_cluster_stats_t *out);

#endif
