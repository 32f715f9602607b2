/* SPDX-License-Identifier: MIT */
/* The cluster's state in Redis, and the only module that knows its layout (docs in
 * registry.c): who is alive (a key per node with its load, expiring by TTL, refreshed every
 * heartbeat), which node publishes a stream (an atomic claim per stream: set if absent,
 * refreshed, released by compare-and-delete, all in Lua so a node never touches another's
 * claim), which nodes carry it (the origin and the edges relaying it, with their depth in the
 * relay tree), and a Redis stream of publish/unpublish events that nodes read with XREAD BLOCK
 * (no per-player polling; a reconnecting reader resumes without missing events). Redis's
 * clock (TIME) is the only clock compared across nodes. Everything read back is validated
 * (fo_registry_parse_node): node ids, API URLs, numbers. Two connections (commands, and the
 * blocking event reader) through redis.h. Loop thread only, except the pure parsers. */
#ifndef FO_REGISTRY_H
#define FO_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/loop.h"
#include "fanout/redis.h"

#define FO_NODE_ID_MAX 64      /* [A-Za-z0-9_.:-]{1,63} */
#define FO_NODE_API_MAX 256    /* http(s)://host[:port][/path] */
#define FO_REGISTRY_MAX_NODES 256

/* A node as its heartbeat describes it. */
typedef struct {
    char id[FO_NODE_ID_MAX];
    char api[FO_NODE_API_MAX];  /* base URL of its HTTP API, no trailing slash */
    uint32_t sessions, players, streams, relays;
    uint32_t capacity;          /* players it takes before redirecting (0: no limit) */
    uint64_t egress_kbps;
    double cpu;                 /* percent of one core */
    bool draining;
} fo_node_info_t;

/* Whether `id` is a valid node id. Pure. */
bool fo_registry_node_id_ok(const char *id);
/* Whether `url` is a usable API base URL: http:// or https://, a host of [A-Za-z0-9.-] or an
 * IPv4 or [IPv6] literal, an optional port 1-65535, an optional path of [A-Za-z0-9/_.~-], no
 * query, no trailing slash, shorter than FO_NODE_API_MAX. Pure. */
bool fo_registry_api_url_ok(const char *url);
/* Encodes a node as its registry value (JSON). Returns the length or FO_ETOOBIG. Pure. */
int fo_registry_format_node(const fo_node_info_t *n, char *out, size_t cap);
/* Parses and validates a node value read back from Redis (untrusted). Returns 0 or FO_EINVAL
 * with a static reason in *why. Pure (jansson). */
int fo_registry_parse_node(const char *json, size_t len, fo_node_info_t *out, const char **why);

typedef struct fo_registry fo_registry_t;

typedef struct {
    /* Redis became reachable (the heartbeat was written) or unreachable. */
    void (*on_state)(void *user, bool up);
    /* Fills this node's load before each heartbeat (id and api are the registry's). */
    void (*fill_load)(void *user, fo_node_info_t *self);
    /* The live nodes were read (at each heartbeat): fo_registry_nodes() has them. */
    void (*on_nodes)(void *user);
    /* A publish or unpublish event: `key` (stream) on node `node` (both validated). */
    void (*on_event)(void *user, bool publish, const char *key, const char *node);
    /* The event reader (re)connected: events may have been missed; recheck what waits. */
    void (*on_resync)(void *user);
    /* A claim this node held now belongs to `holder` (found at a refresh). */
    void (*on_claim_lost)(void *user, const char *key, const char *holder);
    void *user;
} fo_registry_cbs_t;

typedef struct {
    const char *node_id;        /* valid node id */
    const char *api_url;        /* valid API URL */
    int heartbeat_ms;           /* heartbeat period */
    int ttl_ms;                 /* node keys, claims and carrier entries expire after this */
    int max_depth;              /* relay tree depth (origin's relays are depth 1) */
    int relays_per_node;        /* direct relays a carrier serves before deeper nodes are used */
} fo_registry_opts_t;

/* Connects (both connections keep retrying by themselves). Strings in opts are copied.
 * NULL on failure (logged). */
fo_registry_t *fo_registry_new(fo_loop_t *loop, const fo_redis_addr_t *addr,
                               const fo_registry_opts_t *opts, const fo_registry_cbs_t *cbs);
void fo_registry_free(fo_registry_t *r);
bool fo_registry_up(const fo_registry_t *r);
/* Writes the heartbeat now (e.g. when draining starts). */
void fo_registry_heartbeat(fo_registry_t *r);

/* The live nodes from the last heartbeat (this one included), valid until the next. */
size_t fo_registry_nodes(const fo_registry_t *r, const fo_node_info_t **out);
/* A live node by id, NULL if unknown. */
const fo_node_info_t *fo_registry_node(const fo_registry_t *r, const char *id);

/* Claims stream `key` for this node. cb(user, 0, NULL): claimed (also when this node already
 * held it); FO_EBUSY and the holder's node id; FO_EAGAIN when Redis is unreachable (the claim
 * is kept and made when it comes back). A kept claim is refreshed every heartbeat (and made
 * again if Redis lost it) until fo_registry_release. cb may be NULL. Returns 0 or FO_ENOMEM. */
typedef void (*fo_registry_claim_cb)(void *user, int result, const char *holder);
int fo_registry_claim(fo_registry_t *r, const char *key, fo_registry_claim_cb cb, void *user);
/* Releases this node's claim (compare-and-delete) and says so in an unpublish event. */
void fo_registry_release(fo_registry_t *r, const char *key);
/* Whether this node holds (or is claiming) `key`. */
bool fo_registry_claimed(const fo_registry_t *r, const char *key);

/* This node carries `key` as a relay at `depth` from `parent`, serving `children` relays of
 * its own: refreshed every heartbeat until fo_registry_uncarry. */
int fo_registry_carry(fo_registry_t *r, const char *key, int depth, const char *parent);
void fo_registry_uncarry(fo_registry_t *r, const char *key);
/* How many relays this node serves for `key` (its children in the tree), told at the next
 * refresh. Applies to a claimed or carried key. */
void fo_registry_set_children(fo_registry_t *r, const char *key, uint32_t children);

/* Where to pull `key` from. found: the stream is claimed (published) somewhere. parent: the
 * carrier chosen (in Lua, atomically: not this node nor below it in the tree, depth below
 * max_depth, the shallowest one with room, then the fewest children, then the least players),
 * with its node info; this node is then registered as its child (carrier at depth+1, pending).
 * have_parent false with found true: no usable carrier (its node key expired). */
typedef struct {
    bool found;
    char origin[FO_NODE_ID_MAX];
    bool have_parent;
    fo_node_info_t parent;
    int depth;                  /* the parent's */
} fo_registry_locate_t;
typedef void (*fo_registry_locate_cb)(void *user, int result, const fo_registry_locate_t *loc);
/* result 0 with *loc, or FO_EAGAIN (Redis unreachable) / FO_EINVAL (a bad registry value).
 * Returns 0 (cb will be called), FO_EAGAIN or FO_ENOMEM. */
int fo_registry_locate(fo_registry_t *r, const char *key, fo_registry_locate_cb cb, void *user);
/* Pending claim and locate callbacks with this user are not called. */
void fo_registry_cancel(fo_registry_t *r, const void *user);

/* Leaves the cluster: deletes the node key and releases every claim and carrier entry, then
 * calls done(user) (after the replies, or at once when Redis is unreachable). */
void fo_registry_leave(fo_registry_t *r, void (*done)(void *user), void *user);

typedef struct {
    bool up;
    uint64_t heartbeats, heartbeat_failures;
    uint64_t claims, claims_refused, claims_lost;
    uint64_t events;            /* events read */
    uint64_t bad_values;        /* registry values that failed validation */
    fo_redis_stats_t cmd, ev;   /* the two connections */
} fo_registry_stats_t;
void fo_registry_stats(const fo_registry_t *r, fo_registry_stats_t *out);

#endif
