/* SPDX-License-Identifier: MIT */
/* The cluster's policy on this node (cluster.h), over the registry (registry.h) and relays
 * (relay.h). State:
 *  - pulls: one per stream this node serves without a local publisher: WAITING (published
 *    nowhere: woken by a publish event or a resync, never polled), LOCATING (the registry picks
 *    a parent), PULLING (a relay to it). Created with the first local player (the router's
 *    session observer), retried with backoff when the relay ends while players remain, ended
 *    relay_linger after the last one (a page reload does not pull again);
 *  - served: the relay sessions this node serves to other nodes (their node id from the
 *    request's token), counted as children in the registry and ended when their node leaves;
 *  - claims are the registry's (made at publish, released when the local publisher ends).
 * Sessions are told apart by the router's observer: client-role sessions are our relays'. */
#include "fanout/cluster.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fanout/admin.h"
#include "fanout/api.h"
#include "fanout/auth.h"
#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/redis.h"
#include "fanout/registry.h"
#include "fanout/relay.h"
#include "fanout/stream.h"
#include "fanout/url.h"

#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 5000
#define TOKEN_TTL_S 120
#define DRAIN_TICK_MS 500

typedef enum { P_WAITING = 0, P_LOCATING, P_PULLING } pull_state_t;

typedef struct pull {
    struct pull *next;
    fo_cluster_t *c;
    char key[200];
    pull_state_t state;
    fo_relay_t *relay;
    char origin[FO_NODE_ID_MAX];  /* the publisher's node, as the last locate said */
    char parent[FO_NODE_ID_MAX];  /* whom we pull from */
    int depth;                    /* ours in the tree */
    fo_timer_t timer;             /* retry, or linger */
    bool lingering;
    uint64_t retry_ms;
    uint64_t created_ms, connected_ms;
    uint64_t attempts;
} pull_t;

typedef struct served {
    struct served *next;
    char session[40];
    char key[200];
    char node[FO_NODE_ID_MAX];
} served_t;

typedef struct op {
    struct op *next;
    fo_cluster_t *c;
    fo_cluster_done_cb done;
    void *user;
} op_t;

struct fo_cluster {
    fo_cluster_env_t env;
    const fo_config_t *cfg;
    fo_registry_t *reg;
    char node_id[FO_NODE_ID_MAX];
    char api_url[FO_NODE_API_MAX];
    fo_relay_env_t relay_env;
    pull_t *pulls;
    served_t *served;
    op_t *ops;
    bool draining, left, left_registry;
    uint64_t drain_deadline;
    fo_timer_t drain_timer;
    uint64_t reg_up_ms;            /* when the registry last came up */
    fo_cluster_stats_t stats;
};

/* ---- small helpers ---- */

static pull_t *find_pull(const fo_cluster_t *c, const char *key)
{
    for (pull_t *p = c->pulls; p; p = p->next)
        if (strcmp(p->key, key) == 0) return p;
    return NULL;
}

/* Local players of `key`: not our relays' sessions (pushes) */
static size_t local_players(const fo_cluster_t *c, const char *key)
{
    fo_stream_t *st = fo_router_stream(c->env.router, key);
    if (!st) return 0;
    size_t n, k = 0;
    fo_session_t *const *list = fo_stream_player_list(st, &n);
    for (size_t i = 0; i < n; i++) k += !fo_session_is_client(list[i]);
    return k;
}

/* A local publisher (not a relay) of `key`. */
static bool local_publisher(const fo_cluster_t *c, const char *key)
{
    fo_stream_t *st = fo_router_stream(c->env.router, key);
    fo_session_t *p = st ? fo_stream_publisher(st) : NULL;
    return p && !fo_session_is_client(p);
}

static uint64_t now_ms(const fo_cluster_t *c) { return fo_loop_now(c->env.loop); }

/* ---- pulls ---- */

static void locate(pull_t *p);

static void pull_free(pull_t *p)
{
    fo_cluster_t *c = p->c;
    for (pull_t **pp = &c->pulls; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    fo_timer_stop(c->env.loop, &p->timer);
    if (c->reg) {
        fo_registry_cancel(c->reg, p);
        fo_registry_uncarry(c->reg, p->key);
    }
    fo_relay_free(p->relay);
    FO_LOG(FO_LOG_INFO, p->key, "no longer pulled from the cluster");
    free(p);
}

static void retry_later(pull_t *p)
{
    p->state = P_WAITING;
    fo_timer_start(p->c->env.loop, &p->timer, p->retry_ms);
    p->retry_ms = p->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : p->retry_ms * 2;
}

static void relay_state_cb(void *user, fo_relay_t *rl, fo_relay_state_t st, const char *why)
{
    pull_t *p = user;
    fo_cluster_t *c = p->c;
    if (rl != p->relay) return;
    if (st == FO_RELAY_CONNECTED) {
        p->connected_ms = now_ms(c);
        p->retry_ms = RETRY_MIN_MS;
        c->stats.pulls_connected++;
        if (c->reg) fo_registry_carry(c->reg, p->key, p->depth, p->parent);
        return;
    }
    /* ended */
    if (p->connected_ms) c->stats.pulls_connected--;
    else c->stats.pull_failures++;
    p->connected_ms = 0;
    p->relay = NULL;
    fo_relay_free(rl);
    if (c->reg) fo_registry_uncarry(c->reg, p->key);
    if (local_publisher(c, p->key) || (!local_players(c, p->key) && !p->lingering) || c->left) {
        pull_free(p);
        return;
    }
    FO_LOG(FO_LOG_INFO, p->key, "pull from %s ended (%s): looking again", p->parent, why ? why : "");
    retry_later(p);
}

/* The parent's WHEP endpoint for our key, with our node id for its token check. */
static int whep_url(const fo_cluster_t *c, const fo_node_info_t *parent, const char *key, char *out, size_t cap)
{
    const char *slash = strrchr(key, '/');
    if (!slash) return FO_EINVAL;
    int n = snprintf(out, cap, "%s/rtc/v1/whep/?app=%.*s&stream=%s&node=%s", parent->api, (int)(slash - key), key,
                     slash + 1, c->node_id);
    return n > 0 && (size_t)n < cap ? 0 : FO_ETOOBIG;
}

static void node_token(const fo_cluster_t *c, const char *key, const char *node, char *out, size_t cap)
{
    char subject[300];
    out[0] = '\0';
    if (!c->cfg->cluster_secret[0]) return;
    snprintf(subject, sizeof subject, "%s@%s", key, node);
    if (fo_auth_make_token(c->cfg->cluster_secret, FO_AUTH_RELAY, subject, (int64_t)time(NULL) + TOKEN_TTL_S,
                           out, cap) < 0)
        out[0] = '\0';
}

static void start_relay(pull_t *p, const fo_registry_locate_t *loc)
{
    fo_cluster_t *c = p->c;
    char url[600], token[160];
    if (whep_url(c, &loc->parent, p->key, url, sizeof url) != 0) {
        retry_later(p);
        return;
    }
    node_token(c, p->key, c->node_id, token, sizeof token);
    fo_relay_opts_t o = {.kind = FO_RELAY_PULL, .key = p->key, .url = url, .bearer = token[0] ? token : NULL,
                         .layers = true};
    fo_relay_cbs_t cbs = {.on_state = relay_state_cb, .user = p};
    int err = 0;
    snprintf(p->parent, sizeof p->parent, "%s", loc->parent.id);
    snprintf(p->origin, sizeof p->origin, "%s", loc->origin);
    p->depth = loc->depth + 1;
    p->attempts++;
    c->stats.pull_attempts++;
    p->relay = fo_relay_new(&c->relay_env, &o, &cbs, &err);
    if (!p->relay) {
        FO_LOG(FO_LOG_WARN, p->key, "cannot pull from %s: %s", loc->parent.id, fo_strerror(err));
        c->stats.pull_failures++;
        retry_later(p);
        return;
    }
    p->state = P_PULLING;
    FO_LOG(FO_LOG_INFO, p->key, "pulling from node %s (depth %d; origin %s)", loc->parent.id, p->depth, loc->origin);
}

static void locate_cb(void *user, int rc, const fo_registry_locate_t *loc)
{
    pull_t *p = user;
    if (p->state != P_LOCATING) return;
    if (rc == FO_EAGAIN) { /* Redis went away: the resync after it comes back wakes us */
        p->state = P_WAITING;
        return;
    }
    if (rc != 0) {
        retry_later(p);
        return;
    }
    if (!loc->found) {
        p->state = P_WAITING; /* published nowhere: a publish event wakes us */
        FO_LOG(FO_LOG_DEBUG, p->key, "not published anywhere yet: waiting");
        return;
    }
    if (!loc->have_parent) { /* its carriers are gone or full of dead entries: soon better */
        retry_later(p);
        return;
    }
    start_relay(p, loc);
}

static void locate(pull_t *p)
{
    fo_cluster_t *c = p->c;
    if (p->state != P_WAITING || !c->reg || c->left) return;
    fo_timer_stop(c->env.loop, &p->timer);
    p->state = P_LOCATING;
    if (fo_registry_locate(c->reg, p->key, locate_cb, p) != 0) p->state = P_WAITING;
}

static void pull_timer_cb(fo_timer_t *t)
{
    pull_t *p = t->user;
    if (p->lingering) {
        p->lingering = false;
        if (!local_players(p->c, p->key)) {
            pull_free(p);
            return;
        }
    }
    if (p->state == P_WAITING) locate(p);
}

/* A local player of `key` exists: make sure the stream comes from somewhere. */
static void ensure_pull(fo_cluster_t *c, const char *key)
{
    if (!c->reg || c->left || local_publisher(c, key)) return;
    pull_t *p = find_pull(c, key);
    if (p) {
        if (p->lingering) {
            p->lingering = false;
            fo_timer_stop(c->env.loop, &p->timer);
            if (p->state == P_WAITING) locate(p);
        }
        return;
    }
    if (!(p = calloc(1, sizeof *p))) return;
    p->c = c;
    snprintf(p->key, sizeof p->key, "%s", key);
    p->retry_ms = RETRY_MIN_MS;
    p->created_ms = now_ms(c);
    fo_timer_init(&p->timer, pull_timer_cb, p);
    p->next = c->pulls;
    c->pulls = p;
    FO_LOG(FO_LOG_INFO, key, "not published here: looking for it in the cluster");
    locate(p);
}

static void players_changed(fo_cluster_t *c, const char *key)
{
    pull_t *p = find_pull(c, key);
    if (!p || p->lingering || local_players(c, key)) return;
    p->lingering = true;
    fo_timer_start(c->env.loop, &p->timer, (uint64_t)c->cfg->cluster_relay_linger * 1000);
}

/* ---- served relays ---- */

/* Tells the registry how many relays of `key` this node serves (at its next refresh). */
static void count_children(fo_cluster_t *c, const char *key)
{
    uint32_t k = 0;
    for (served_t *t = c->served; t; t = t->next) k += strcmp(t->key, key) == 0;
    if (c->reg) fo_registry_set_children(c->reg, key, k);
}

static void served_remove(fo_cluster_t *c, const char *session)
{
    for (served_t **pp = &c->served; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->session, session) == 0) {
            served_t *s = *pp;
            *pp = s->next;
            c->stats.served--;
            count_children(c, s->key);
            free(s);
            return;
        }
}

/* Children per stream, told to the registry; relays of nodes that left are ended. */
static void nodes_cb(void *user)
{
    fo_cluster_t *c = user;
    const fo_node_info_t *nodes;
    size_t n = fo_registry_nodes(c->reg, &nodes);
    c->stats.nodes = n;
    /* A node missing from the list is gone only once every live node has had time to write its
     * key: not in the first ttl after Redis came back (it may have come back empty, and nodes
     * re-register one after the other). */
    bool settled = fo_registry_node(c->reg, c->node_id) &&
                   now_ms(c) - c->reg_up_ms >= (uint64_t)(c->cfg->cluster_ttl + c->cfg->cluster_heartbeat) * 1000;
    for (served_t *s = c->served, *next; s; s = next) {
        next = s->next;
        if (!settled || fo_registry_node(c->reg, s->node)) continue;
        FO_LOG(FO_LOG_INFO, s->session, "node %s left the cluster: ending its relay of %s", s->node, s->key);
        fo_router_end_session_why(c->env.router, s->session, "relay node left the cluster");
        /* the observer removed it */
    }
}

/* ---- the router's observer ---- */

static void observe_cb(void *user, fo_session_t *s, bool created)
{
    fo_cluster_t *c = user;
    if (fo_session_is_client(s)) return; /* our relays' own sessions */
    const char *key = fo_stream_key(fo_session_stream(s));
    if (fo_session_role(s) == FO_ROLE_PLAY) {
        if (created) {
            ensure_pull(c, key);
        } else {
            served_remove(c, fo_session_id(s));
            players_changed(c, key);
        }
        return;
    }
    if (created) {
        /* a local publisher: a pull of this stream has no purpose any more (the router ended
         * its relay when it took over) */
        pull_t *p = find_pull(c, key);
        if (p) pull_free(p);
        return;
    }
    /* the local publisher left: the claim goes; players that stay may get the stream from
     * wherever it is published next */
    if (c->reg) fo_registry_release(c->reg, key);
    fo_stream_t *st = fo_session_stream(s);
    if (c->reg && st && local_players(c, key)) ensure_pull(c, key);
}

/* ---- the registry's callbacks ---- */

static void resync_cb(void *user);

static void reg_state_cb(void *user, bool up)
{
    fo_cluster_t *c = user;
    c->stats.redis_up = up;
    if (!up) return;
    c->reg_up_ms = now_ms(c);
    resync_cb(c); /* what waited while Redis was away looks again (the event reader does too) */
}

static void fill_load_cb(void *user, fo_node_info_t *self)
{
    fo_cluster_t *c = user;
    fo_router_stats_t rs;
    fo_router_stats(c->env.router, &rs);
    self->sessions = (uint32_t)rs.sessions;
    self->players = (uint32_t)rs.players;
    self->streams = (uint32_t)rs.streams;
    uint32_t pulls = 0;
    for (const pull_t *p = c->pulls; p; p = p->next) pulls++;
    self->relays = pulls;
    self->capacity = (uint32_t)c->cfg->cluster_capacity;
    self->draining = c->draining;
    if (c->env.metrics) {
        fo_rate_t rate = fo_metrics_total_rate(c->env.metrics);
        fo_proc_info_t proc;
        fo_metrics_proc(c->env.metrics, &proc);
        self->egress_kbps = rate.tx_bps / 1000;
        self->cpu = proc.cpu_percent;
    }
}

static void event_cb(void *user, bool publish, const char *key, const char *node)
{
    fo_cluster_t *c = user;
    if (!publish || strcmp(node, c->node_id) == 0) return;
    pull_t *p = find_pull(c, key);
    if (!p) return;
    if (p->state == P_WAITING) {
        locate(p);
    } else if (p->state == P_PULLING && strcmp(p->origin, node) != 0) {
        /* published again elsewhere (the publisher moved): follow it */
        FO_LOG(FO_LOG_INFO, key, "now published on node %s: switching from %s", node, p->parent);
        fo_relay_t *rl = p->relay;
        p->relay = NULL;
        if (p->connected_ms) c->stats.pulls_connected--;
        p->connected_ms = 0;
        fo_relay_free(rl);
        fo_registry_uncarry(c->reg, key);
        p->state = P_WAITING;
        locate(p);
    }
}

static void resync_cb(void *user)
{
    fo_cluster_t *c = user;
    for (pull_t *p = c->pulls; p; p = p->next)
        if (p->state == P_WAITING && !p->lingering) locate(p);
}

static void drain_tick(fo_timer_t *t);

/* ---- public: life ---- */

/* cluster.node_id, or hostname:http_port with the hostname's odd characters replaced */
static void default_node_id(const fo_config_t *cfg, char *out, size_t cap)
{
    char host[64] = "fanout";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            *p = '-';
    snprintf(out, cap, "%.40s:%d", host, cfg->http_port);
}

fo_cluster_t *fo_cluster_new(const fo_cluster_env_t *env)
{
    const fo_config_t *cfg = env->cfg;
    fo_cluster_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->env = *env;
    c->cfg = cfg;
    fo_timer_init(&c->drain_timer, drain_tick, c);
    c->relay_env = (fo_relay_env_t){.loop = env->loop, .router = env->router, .httpc = env->httpc,
                                    .listen = cfg->rtc_listen, .consent_ms = 1000, .consent_timeout_ms = 5000};
    if (!cfg->cluster_redis[0]) return c;
    if (cfg->auth_secret[0] && !cfg->cluster_secret[0]) {
        FO_LOG(FO_LOG_ERROR, "cluster", "auth.secret is set: cluster.secret must be too (nodes sign their pulls with it)");
        goto fail;
    }
    fo_redis_addr_t addr;
    const char *why = NULL;
    if (fo_redis_url_parse(cfg->cluster_redis, &addr, &why) != 0) {
        FO_LOG(FO_LOG_ERROR, "cluster", "cluster.redis: %s", why);
        goto fail;
    }
    if (cfg->cluster_node_id[0]) snprintf(c->node_id, sizeof c->node_id, "%s", cfg->cluster_node_id);
    else default_node_id(cfg, c->node_id, sizeof c->node_id);
    if (cfg->cluster_api_url[0]) {
        snprintf(c->api_url, sizeof c->api_url, "%s", cfg->cluster_api_url);
    } else {
        const char *const *cands;
        size_t n = fo_router_candidates(env->router, &cands);
        const char *ip = n ? cands[0] : "127.0.0.1";
        snprintf(c->api_url, sizeof c->api_url, strchr(ip, ':') ? "http://[%s]:%d" : "http://%s:%d", ip, cfg->http_port);
    }
    fo_registry_opts_t ro = {.node_id = c->node_id, .api_url = c->api_url,
                             .heartbeat_ms = cfg->cluster_heartbeat * 1000, .ttl_ms = cfg->cluster_ttl * 1000,
                             .max_depth = cfg->cluster_max_depth, .relays_per_node = cfg->cluster_relays_per_node};
    fo_registry_cbs_t rc = {.on_state = reg_state_cb, .fill_load = fill_load_cb, .on_nodes = nodes_cb,
                            .on_event = event_cb, .on_resync = resync_cb, .user = c};
    if (!(c->reg = fo_registry_new(env->loop, &addr, &ro, &rc))) goto fail;
    c->stats.enabled = true;
    fo_router_set_observer(env->router, observe_cb, c);
    FO_LOG(FO_LOG_INFO, "cluster", "node %s, API %s, Redis %s:%d%s", c->node_id, c->api_url, addr.host, addr.port,
           addr.password[0] ? " (with a password)" : "");
    return c;
fail:
    free(c);
    return NULL;
}

void fo_cluster_shutdown(fo_cluster_t *c)
{
    if (!c) return;
    c->left = true;
    fo_timer_stop(c->env.loop, &c->drain_timer);
    while (c->pulls) pull_free(c->pulls);
}

void fo_cluster_free(fo_cluster_t *c)
{
    if (!c) return;
    while (c->pulls) { /* the loop is over: free what is left at once */
        pull_t *p = c->pulls;
        c->pulls = p->next;
        fo_relay_free_final(p->relay);
        free(p);
    }
    while (c->served) {
        served_t *s = c->served;
        c->served = s->next;
        free(s);
    }
    while (c->ops) {
        op_t *o = c->ops;
        c->ops = o->next;
        free(o);
    }
    fo_registry_free(c->reg);
    free(c);
}

void fo_cluster_leave(fo_cluster_t *c, void (*done)(void *user), void *user)
{
    if (c && c->reg && !c->left_registry) {
        c->left_registry = true;
        fo_registry_leave(c->reg, done, user);
    } else if (done) {
        done(user);
    }
}

bool fo_cluster_enabled(const fo_cluster_t *c) { return c && c->reg; }

/* ---- publish ---- */

static void op_unlink(fo_cluster_t *c, op_t *o)
{
    for (op_t **pp = &c->ops; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            return;
        }
}

static void claim_cb(void *user, int rc, const char *holder)
{
    op_t *o = user;
    fo_cluster_t *c = o->c;
    op_unlink(c, o);
    if (rc == FO_EBUSY) c->stats.claims_refused++;
    if (o->done) o->done(o->user, rc == FO_EBUSY ? FO_EBUSY : 0, holder);
    free(o);
}

int fo_cluster_publish_admit(fo_cluster_t *c, const char *key, fo_cluster_done_cb done, void *user)
{
    if (!c || !c->reg) return 0;
    if (!fo_registry_up(c->reg)) {
        FO_LOG(FO_LOG_WARN, key, "publishing without a cluster-wide claim: Redis is unreachable (claimed when it is back)");
        fo_registry_claim(c->reg, key, NULL, NULL);
        return 0;
    }
    op_t *o = calloc(1, sizeof *o);
    if (!o) return FO_ENOMEM;
    o->c = c;
    o->done = done;
    o->user = user;
    o->next = c->ops;
    c->ops = o;
    int rc = fo_registry_claim(c->reg, key, claim_cb, o);
    if (rc != 0) {
        op_unlink(c, o);
        free(o);
        return rc;
    }
    return FO_EAGAIN;
}

void fo_cluster_publish_abort(fo_cluster_t *c, const char *key)
{
    if (c && c->reg && !local_publisher(c, key)) fo_registry_release(c->reg, key);
}

void fo_cluster_cancel(fo_cluster_t *c, const void *user)
{
    if (!c) return;
    for (op_t *o = c->ops; o; o = o->next)
        if (o->user == user) o->done = NULL;
}

/* ---- admission: redirects and Redis down ---- */

/* The least-loaded live node other than this one that can take a session, or NULL. */
static const fo_node_info_t *least_loaded(const fo_cluster_t *c)
{
    if (!c->reg) return NULL;
    const fo_node_info_t *nodes, *best = NULL;
    double best_load = 0;
    size_t n = fo_registry_nodes(c->reg, &nodes);
    for (size_t i = 0; i < n; i++) {
        const fo_node_info_t *x = &nodes[i];
        if (strcmp(x->id, c->node_id) == 0 || x->draining || (x->capacity && x->players >= x->capacity)) continue;
        double load = x->capacity ? (double)x->players / x->capacity : (double)x->players / 1e6;
        if (!best || load < best_load) best = x, best_load = load;
    }
    return best;
}

int fo_cluster_admit(fo_cluster_t *c, bool play, const char *key, char *location, size_t lcap,
                     char *msg, size_t mcap)
{
    location[0] = msg[0] = '\0';
    if (!c) return 0;
    const fo_node_info_t *to = NULL;
    if (c->draining) {
        if ((to = least_loaded(c))) goto redirect;
        snprintf(msg, mcap, "this node is draining and no other node can take the session");
        return FO_EAGAIN;
    }
    if (!c->reg) return 0;
    fo_router_stats_t rs;
    fo_router_stats(c->env.router, &rs);
    if (play && c->cfg->cluster_redirect && c->cfg->cluster_capacity > 0 &&
        rs.players >= (uint64_t)c->cfg->cluster_capacity && (to = least_loaded(c)))
        goto redirect;
    if (play && !fo_registry_up(c->reg)) {
        fo_stream_t *st = fo_router_stream(c->env.router, key);
        if (!(st && fo_stream_publisher(st)) && !find_pull(c, key)) {
            c->stats.refused_redis_down++;
            snprintf(msg, mcap, "the cluster registry (Redis) is unreachable: cannot find where %s is published", key);
            return FO_EAGAIN;
        }
    }
    return 0;
redirect:
    c->stats.redirects++;
    snprintf(location, lcap, "%s", to->api);
    snprintf(msg, mcap, "redirected to node %s", to->id);
    FO_LOG(FO_LOG_INFO, key, "%s %s to node %s (%u players)", play ? "play" : "publish",
           c->draining ? "redirected while draining" : "redirected at capacity", to->id, to->players);
    return FO_ERR;
}

/* ---- node-to-node ---- */

bool fo_cluster_node_request(fo_cluster_t *c, const fo_http_req_t *req, const char *key, char *node,
                             size_t cap)
{
    if (!c || !c->reg) return false;
    if (fo_url_query_get(req->query, "node", node, cap) <= 0 || !fo_registry_node_id_ok(node)) return false;
    if (!c->cfg->cluster_secret[0]) return true;
    const char *auth = req->authorization;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) return false;
    char subject[300];
    snprintf(subject, sizeof subject, "%s@%s", key, node);
    const char *why = NULL;
    if (fo_auth_token_verify(c->cfg->cluster_secret, FO_AUTH_RELAY, subject, auth + 7, (int64_t)time(NULL),
                             c->cfg->max_token_ttl, &why) != 0) {
        FO_LOG(FO_LOG_WARN, key, "relay request from %s for node %s refused: %s", req->remote_ip, node, why);
        return false;
    }
    return true;
}

void fo_cluster_relay_served(fo_cluster_t *c, const char *session_id, const char *key, const char *node)
{
    if (!c || !c->reg) return;
    served_t *s = calloc(1, sizeof *s);
    if (!s) return;
    snprintf(s->session, sizeof s->session, "%s", session_id);
    snprintf(s->key, sizeof s->key, "%s", key);
    snprintf(s->node, sizeof s->node, "%s", node);
    s->next = c->served;
    c->served = s;
    c->stats.served++;
    count_children(c, key);
    FO_LOG(FO_LOG_INFO, session_id, "serves %s to node %s", key, node);
}

/* ---- draining ---- */

static bool is_served(const fo_cluster_t *c, const char *id)
{
    for (const served_t *s = c->served; s; s = s->next)
        if (strcmp(s->session, id) == 0) return true;
    return false;
}

/* Sessions of this node's own users: not relays (ours or other nodes'). */
static size_t user_sessions(const fo_cluster_t *c)
{
    fo_session_t *list[4096];
    size_t n = fo_router_list_sessions(c->env.router, list, FO_ARRAY_LEN(list)), k = 0;
    if (n > FO_ARRAY_LEN(list)) return n; /* many: not drained anyway */
    for (size_t i = 0; i < n; i++) k += !fo_session_is_client(list[i]) && !is_served(c, fo_session_id(list[i]));
    return k;
}

static void left_cb(void *user)
{
    fo_cluster_t *c = user;
    FO_LOG(FO_LOG_INFO, "cluster", "drained: left the cluster");
    if (c->env.on_drained) c->env.on_drained(c->env.user);
}

static void drain_tick(fo_timer_t *t)
{
    fo_cluster_t *c = t->user;
    size_t n = user_sessions(c);
    bool late = now_ms(c) >= c->drain_deadline;
    if (n && !late) {
        fo_timer_start(c->env.loop, &c->drain_timer, DRAIN_TICK_MS);
        return;
    }
    FO_LOG(FO_LOG_INFO, "cluster", "draining done: %zu session(s) left%s", n, late ? " (drain_timeout)" : "");
    fo_cluster_shutdown(c);
    fo_cluster_leave(c, left_cb, c);
}

void fo_cluster_drain(fo_cluster_t *c)
{
    if (!c || c->draining) return;
    c->draining = true;
    c->stats.draining = true;
    c->drain_deadline = now_ms(c) + (uint64_t)c->cfg->cluster_drain_timeout * 1000;
    FO_LOG(FO_LOG_INFO, "cluster", "draining: new sessions go to other nodes; leaving when the %zu session(s) here end "
                                   "(at most %d s)", user_sessions(c), c->cfg->cluster_drain_timeout);
    if (c->reg) fo_registry_heartbeat(c->reg); /* others see it now */
    fo_timer_start(c->env.loop, &c->drain_timer, DRAIN_TICK_MS);
}

bool fo_cluster_draining(const fo_cluster_t *c) { return c && c->draining; }

/* ---- API ---- */

static json_t *status_json(fo_cluster_t *c)
{
    json_t *o = fo_admin_envelope(0);
    json_object_set_new(o, "enabled", json_boolean(c->reg != NULL));
    json_object_set_new(o, "draining", json_boolean(c->draining));
    if (!c->reg) return o;
    json_object_set_new(o, "node", json_string(c->node_id));
    json_object_set_new(o, "api", json_string(c->api_url));
    json_object_set_new(o, "redis_up", json_boolean(fo_registry_up(c->reg)));
    json_t *nodes = json_array();
    const fo_node_info_t *list;
    size_t n = fo_registry_nodes(c->reg, &list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:I, s:f, s:b}", "id", list[i].id,
                                               "api", list[i].api, "sessions", list[i].sessions, "players",
                                               list[i].players, "streams", list[i].streams, "relays", list[i].relays,
                                               "capacity", list[i].capacity, "egress_kbps",
                                               (json_int_t)list[i].egress_kbps, "cpu", list[i].cpu, "draining",
                                               list[i].draining));
    json_object_set_new(o, "nodes", nodes);
    static const char *const states[] = {"waiting", "locating", "pulling"};
    json_t *pulls = json_array();
    for (pull_t *p = c->pulls; p; p = p->next) {
        fo_relay_info_t in = {0};
        if (p->relay) fo_relay_info(p->relay, &in);
        json_array_append_new(pulls, json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:b}", "stream", p->key,
                                               "state", states[p->state], "relay",
                                               p->relay ? fo_relay_state_name(in.state) : "none", "parent", p->parent,
                                               "depth", p->depth, "origin", p->origin, "attempts",
                                               (json_int_t)p->attempts, "players",
                                               (json_int_t)local_players(c, p->key), "lingering", p->lingering));
    }
    json_object_set_new(o, "pulls", pulls);
    json_t *served = json_array();
    for (served_t *s = c->served; s; s = s->next)
        json_array_append_new(served, json_pack("{s:s, s:s, s:s}", "session", s->session, "stream", s->key, "node", s->node));
    json_object_set_new(o, "served", served);
    return o;
}

bool fo_cluster_handle(fo_cluster_t *c, const fo_http_req_t *req, fo_http_resp_t *resp)
{
    if (!c) return false;
    if (strcmp(req->path, "/api/v1/cluster") == 0 || strcmp(req->path, "/api/v1/cluster/") == 0) {
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            snprintf(resp->allow, sizeof resp->allow, "GET, OPTIONS");
            fo_admin_reply_error(resp, 405, FO_API_METHOD, "use GET");
            return true;
        }
        fo_admin_reply(resp, 200, status_json(c));
        return true;
    }
    if (strcmp(req->path, "/api/v1/cluster/drain") == 0) {
        if (strcmp(req->method, "POST") != 0) {
            snprintf(resp->allow, sizeof resp->allow, "POST, OPTIONS");
            fo_admin_reply_error(resp, 405, FO_API_METHOD, "use POST");
            return true;
        }
        fo_cluster_drain(c);
        json_t *o = fo_admin_envelope(0);
        json_object_set_new(o, "draining", json_true());
        fo_admin_reply(resp, 202, o);
        return true;
    }
    return false;
}

void fo_cluster_stats(const fo_cluster_t *c, fo_cluster_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!c) return;
    *out = c->stats;
    out->pulls = 0;
    for (pull_t *p = c->pulls; p; p = p->next) out->pulls++;
    if (c->reg) {
        fo_registry_stats_t rs;
        fo_registry_stats(c->reg, &rs);
        out->redis_up = rs.up;
        out->redis_reconnects = rs.cmd.connects ? rs.cmd.connects - 1 : 0;
        out->registry_bad_values = rs.bad_values;
    }
}
