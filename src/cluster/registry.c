/* SPDX-License-Identifier: MIT */
/* The cluster's Redis layout (every key under "fanout:"):
 *   node:<id>         JSON of a node's heartbeat (fo_registry_format_node), PX ttl
 *   nodes             ZSET id -> expiry (Redis ms): the index of node keys, pruned by readers
 *   stream:<key>      "<node id> <claim token>": who publishes <key>, PX ttl
 *   carriers:<key>    HASH node id -> "<expiry ms> <depth> <children> <parent id or -> [<until>]":
 *                     the origin (depth 0) and the edges relaying <key>; entries past their
 *                     expiry are pruned by LOCATE. A LOCATE that picks a parent counts the new
 *                     child at once and holds that count until <until> (ms), so that the
 *                     parent's own refresh, which may not know the child yet, does not lower it
 *   events            STREAM of {e: publish|unpublish, k: <key>, n: <node id>}, MAXLEN ~1000
 * Every write that compares or combines runs as one Lua script (EVAL: small, and a restarted
 * empty Redis needs no SCRIPT LOAD), so claims are atomic and a node only ever deletes or
 * refreshes its own claim (compare with the value it wrote, which holds a random token).
 * Replies are checked for shape before use; values are validated as untrusted input. */
#include "fanout/registry.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fanout/common.h"
#include "fanout/log.h"

#define PREFIX "fanout:"
#define EVENTS_KEY PREFIX "events"
#define NODES_KEY PREFIX "nodes"
#define NODE_PREFIX PREFIX "node:"
#define EVENT_BLOCK_MS 5000
#define KEY_MAX 200

/* ---- Lua ---- */

#define LUA_NOW                                                                                    \
    "local t = redis.call('TIME') "                                                                \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

/* Writes carrier entry `id` of hash `h`: (exp, depth, kids, parent), keeping a higher children
 * count a LOCATE reserved while its hold lasts. */
#define LUA_PUT_CARRIER                                                                            \
    "local function put(h, id, exp, depth, kids, parent) "                                         \
    "  local rsv = '' "                                                                            \
    "  local cur = redis.call('HGET', h, id) "                                                     \
    "  if cur then "                                                                               \
    "    local k, r = string.match(cur, '^%d+ %d+ (%d+) %S+ (%d+)$') "                             \
    "    if r and tonumber(r) > now and tonumber(k) > tonumber(kids) then kids, rsv = k, ' ' .. r end " \
    "  end "                                                                                       \
    "  redis.call('HSET', h, id, exp .. ' ' .. depth .. ' ' .. kids .. ' ' .. parent .. rsv) "     \
    "end "

/* KEYS: node key, nodes zset. ARGV: id, json, ttl, node key prefix. -> {id, json, ...} */
static const char LUA_HEARTBEAT[] = LUA_NOW
    "local ttl = tonumber(ARGV[3]) "
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl) "
    "redis.call('ZADD', KEYS[2], now + ttl, ARGV[1]) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) "
    "local out = {} "
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, 255)) do "
    "  local j = redis.call('GET', ARGV[4] .. id) "
    "  if j then out[#out + 1] = id; out[#out + 1] = j end "
    "end "
    "return out";

/* KEYS: claim, carriers, events. ARGV: value, ttl, node id, children, stream key.
 * -> {1, value} claimed (an event when new), {0, holder value} taken. */
static const char LUA_CLAIM[] = LUA_NOW LUA_PUT_CARRIER
    "local ttl = tonumber(ARGV[2]) "
    "local cur = redis.call('GET', KEYS[1]) "
    "if cur and cur ~= ARGV[1] then return {0, cur} end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl) "
    "put(KEYS[2], ARGV[3], now + ttl, 0, ARGV[4], '-') "
    "redis.call('PEXPIRE', KEYS[2], ttl * 2) "
    "if not cur then redis.call('XADD', KEYS[3], 'MAXLEN', '~', '1000', '*', 'e', 'publish', "
    "  'k', ARGV[5], 'n', ARGV[3]) end "
    "return {1, ARGV[1]}";

/* KEYS: claim, carriers, events. ARGV: value, node id, stream key. -> 1 released, 0 not ours */
static const char LUA_RELEASE[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    "redis.call('DEL', KEYS[1]) "
    "redis.call('HDEL', KEYS[2], ARGV[2]) "
    "redis.call('XADD', KEYS[3], 'MAXLEN', '~', '1000', '*', 'e', 'unpublish', 'k', ARGV[3], "
    "  'n', ARGV[2]) "
    "return 1";

/* KEYS: carriers. ARGV: node id, depth, children, parent, ttl. */
static const char LUA_CARRY[] = LUA_NOW LUA_PUT_CARRIER
    "local ttl = tonumber(ARGV[5]) "
    "put(KEYS[1], ARGV[1], now + ttl, ARGV[2], ARGV[3], ARGV[4]) "
    "redis.call('PEXPIRE', KEYS[1], ttl * 2) "
    "return 1";

/* KEYS: claim, carriers. ARGV: my id, max depth, relays per node, ttl, node key prefix.
 * -> {claim or false, parent id or false, parent depth, parent node json or false}.
 * Candidates: live carriers other than me and not below me (parent links followed up), with a
 * depth below the maximum and a live node key that is not draining; the shallowest with room (children < relays per
 * node) wins, then the fewest children, then the fewest players. The winner's children count
 * is raised at once (it sets the true count at its next refresh), and I am entered as its
 * pending child, so edges arriving together spread over the tree. */
static const char LUA_LOCATE[] = LUA_NOW
    "local claim = redis.call('GET', KEYS[1]) "
    "if not claim then return {false} end "
    "local origin = string.match(claim, '^(%S+) ') "
    "local me, maxd, per, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]) "
    "local all = redis.call('HGETALL', KEYS[2]) "
    "local c = {} "
    "for i = 1, #all, 2 do "
    "  local e, d, k, p = string.match(all[i + 1], '^(%d+) (%d+) (%d+) (%S+)') "
    "  if e and tonumber(e) > now then c[all[i]] = {tonumber(e), tonumber(d), tonumber(k), p} "
    "  else redis.call('HDEL', KEYS[2], all[i]) end "
    "end "
    "if origin and not c[origin] then c[origin] = {now + ttl, 0, 0, '-'} end "
    "local best, bestscore, bestjson "
    "for id, v in pairs(c) do "
    "  local ok = id ~= me and v[2] < maxd "
    "  local p, hops = v[4], 0 "
    "  while ok and p ~= '-' and hops < 32 do "
    "    if p == me then ok = false end "
    "    p = c[p] and c[p][4] or '-' "
    "    hops = hops + 1 "
    "  end "
    "  local j = ok and redis.call('GET', ARGV[5] .. id) "
    "  local players = 0 "
    "  if j then "
    "    local okj, n = pcall(cjson.decode, j) "
    "    if okj and type(n) == 'table' and tonumber(n.players) then players = tonumber(n.players) end "
    "    if okj and type(n) == 'table' and n.draining == true then j = false end "
    "  end "
    "  if j then "
    "    local full = v[3] >= per and 1 or 0 "
    "    local score = full * 1e12 + v[2] * 1e9 + math.min(v[3], 999) * 1e6 + math.min(players, 999999) "
    "    if not best or score < bestscore then best, bestscore, bestjson = id, score, j end "
    "  end "
    "end "
    "if not best then return {claim, false} end "
    "local v = c[best] "
    "redis.call('HSET', KEYS[2], best, v[1] .. ' ' .. v[2] .. ' ' .. (v[3] + 1) .. ' ' .. v[4] .. ' ' .. (now + ttl)) "
    "redis.call('HSET', KEYS[2], me, (now + ttl) .. ' ' .. (v[2] + 1) .. ' 0 ' .. best) "
    "redis.call('PEXPIRE', KEYS[2], ttl * 2) "
    "return {claim, best, v[2], bestjson}";

/* ---- validation (pure) ---- */

bool fo_registry_node_id_ok(const char *id)
{
    size_t n = 0;
    if (!id) return false;
    for (; id[n]; n++) {
        char c = id[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == ':' || c == '-'))
            return false;
        if (n >= FO_NODE_ID_MAX - 1) return false;
    }
    return n > 0;
}

/* A stream key as the router knows them: "app/stream", segments of URL-safe characters, none
 * empty, "." or "..". */
static bool stream_key_ok(const char *k, size_t n)
{
    if (n == 0 || n >= KEY_MAX || !memchr(k, '/', n)) return false;
    size_t seg = 0, dots = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? k[i] : '/';
        if (c == '/') {
            if (seg == 0 || seg == dots) return false; /* empty, "." or ".." (or "...") */
            seg = dots = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '~' || c == '-'))
            return false;
        seg++;
        dots += c == '.';
    }
    return true;
}

bool fo_registry_api_url_ok(const char *url)
{
    if (!url) return false;
    size_t len = strlen(url);
    if (len >= FO_NODE_API_MAX) return false;
    const char *p;
    if (strncmp(url, "http://", 7) == 0) p = url + 7;
    else if (strncmp(url, "https://", 8) == 0) p = url + 8;
    else return false;
    const char *host_end;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end || host_end == p + 1) return false;
        for (const char *q = p + 1; q < host_end; q++)
            if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F') ||
                  *q == ':' || *q == '.'))
                return false;
        host_end++;
    } else {
        host_end = p;
        while ((*host_end >= 'a' && *host_end <= 'z') || (*host_end >= 'A' && *host_end <= 'Z') ||
               (*host_end >= '0' && *host_end <= '9') || *host_end == '.' || *host_end == '-')
            host_end++;
        if (host_end == p) return false;
    }
    p = host_end;
    if (*p == ':') {
        long port = 0;
        const char *d = ++p;
        while (*p >= '0' && *p <= '9' && p - d < 6) port = port * 10 + (*p++ - '0');
        if (p == d || port < 1 || port > 65535) return false;
    }
    if (*p && *p != '/') return false;
    for (; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
              c == '_' || c == '.' || c == '~' || c == '-'))
            return false;
    }
    return url[len - 1] != '/';
}

int fo_registry_format_node(const fo_node_info_t *n, char *out, size_t cap)
{
    int k = snprintf(out, cap,
                     "{\"id\":\"%s\",\"api\":\"%s\",\"sessions\":%u,\"players\":%u,\"streams\":%u,"
                     "\"relays\":%u,\"capacity\":%u,\"egress_kbps\":%llu,\"cpu\":%.1f,\"draining\":%s}",
                     n->id, n->api, n->sessions, n->players, n->streams, n->relays, n->capacity,
                     (unsigned long long)n->egress_kbps, isfinite(n->cpu) ? n->cpu : 0.0,
                     n->draining ? "true" : "false");
    return k > 0 && (size_t)k < cap ? k : FO_ETOOBIG;
}

static int get_u32(json_t *o, const char *name, uint32_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX) return -1;
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

int fo_registry_parse_node(const char *json, size_t len, fo_node_info_t *out, const char **why)
{
    static const char *dummy;
    if (!why) why = &dummy;
    memset(out, 0, sizeof *out);
    if (!json || len == 0 || len > 4096) return *why = "node value empty or too long", FO_EINVAL;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    int rc = FO_EINVAL;
    *why = "node value is not a JSON object";
    if (!json_is_object(o)) goto out;
    json_t *id = json_object_get(o, "id"), *api = json_object_get(o, "api");
    json_t *kbps = json_object_get(o, "egress_kbps"), *cpu = json_object_get(o, "cpu");
    json_t *dr = json_object_get(o, "draining");
    *why = "bad node id";
    if (!json_is_string(id) || !fo_registry_node_id_ok(json_string_value(id))) goto out;
    *why = "bad node API URL";
    if (!json_is_string(api) || !fo_registry_api_url_ok(json_string_value(api))) goto out;
    *why = "bad node load figures";
    if (get_u32(o, "sessions", &out->sessions) || get_u32(o, "players", &out->players) ||
        get_u32(o, "streams", &out->streams) || get_u32(o, "relays", &out->relays) ||
        get_u32(o, "capacity", &out->capacity) || !json_is_integer(kbps) || json_integer_value(kbps) < 0 ||
        !json_is_number(cpu) || !isfinite(json_number_value(cpu)) || json_number_value(cpu) < 0 ||
        json_number_value(cpu) > 1e6 || !json_is_boolean(dr))
        goto out;
    snprintf(out->id, sizeof out->id, "%s", json_string_value(id));
    snprintf(out->api, sizeof out->api, "%s", json_string_value(api));
    out->egress_kbps = (uint64_t)json_integer_value(kbps);
    out->cpu = json_number_value(cpu);
    out->draining = json_is_true(dr);
    rc = 0;
    *why = NULL;
out:
    json_decref(o);
    return rc;
}

/* ---- state ---- */

typedef struct claim {
    struct claim *next;
    char key[KEY_MAX];
    char value[FO_NODE_ID_MAX + 24]; /* "<node id> <token>" */
    uint32_t children;
    bool held;              /* Redis said yes at least once */
} claim_t;

typedef struct carry {
    struct carry *next;
    char key[KEY_MAX];
    char parent[FO_NODE_ID_MAX];
    int depth;
    uint32_t children;
} carry_t;

/* A request whose caller may go away (claims with a callback, locates). */
typedef struct op {
    struct op *prev, *next;
    fo_registry_t *r;
    void *cb;
    void *user;
    char key[KEY_MAX];
} op_t;

struct fo_registry {
    fo_loop_t *loop;
    fo_registry_opts_t opts;
    char node_id[FO_NODE_ID_MAX];
    char api_url[FO_NODE_API_MAX];
    fo_registry_cbs_t cbs;
    fo_redis_t *cmd, *ev;
    bool up, reported;
    fo_timer_t hb_timer;
    claim_t *claims;
    carry_t *carries;
    op_t *ops;
    fo_node_info_t *nodes;
    size_t n_nodes;
    char last_id[64];       /* the event stream's last id read */
    bool ev_reading;
    void (*leave_done)(void *user);
    void *leave_user;
    int leave_pending;
    fo_registry_stats_t stats;
};

static void ttl_arg(const fo_registry_t *r, char out[16]) { snprintf(out, 16, "%d", r->opts.ttl_ms); }

static int eval(fo_registry_t *r, fo_redis_reply_cb cb, void *user, const char *script, int nkeys,
                const char *const *keys, int nargs, const char *const *args)
{
    const char *argv[16];
    char nk[8];
    int argc = 0;
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[argc++] = "EVAL";
    argv[argc++] = script;
    argv[argc++] = nk;
    for (int i = 0; i < nkeys; i++) argv[argc++] = keys[i];
    for (int i = 0; i < nargs; i++) argv[argc++] = args[i];
    return fo_redis_command(r->cmd, 0, cb, user, argc, argv, NULL);
}

static void bad_value(fo_registry_t *r, const char *what, const char *why)
{
    r->stats.bad_values++;
    FO_LOG(FO_LOG_WARN, "registry", "ignoring a bad %s from Redis: %s", what, why);
}

static op_t *op_new(fo_registry_t *r, void *cb, void *user, const char *key)
{
    op_t *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->r = r;
    o->cb = cb;
    o->user = user;
    snprintf(o->key, sizeof o->key, "%s", key);
    o->next = r->ops;
    if (r->ops) r->ops->prev = o;
    r->ops = o;
    return o;
}

static void op_free(op_t *o)
{
    fo_registry_t *r = o->r;
    if (o->prev) o->prev->next = o->next;
    else r->ops = o->next;
    if (o->next) o->next->prev = o->prev;
    free(o);
}

/* ---- heartbeat ---- */

static void nodes_cb(void *user, const fo_redis_reply_t *reply)
{
    fo_registry_t *r = user;
    if (!reply || fo_redis_type(reply) != FO_REDIS_ARRAY) {
        r->stats.heartbeat_failures++;
        if (reply) bad_value(r, "heartbeat reply", "not an array");
        return;
    }
    r->stats.heartbeats++;
    size_t n = fo_redis_len(reply), k = 0;
    for (size_t i = 0; i + 1 < n && k < FO_REGISTRY_MAX_NODES; i += 2) {
        size_t il = 0, jl = 0;
        const char *id = fo_redis_str(fo_redis_elem(reply, i), &il);
        const char *js = fo_redis_str(fo_redis_elem(reply, i + 1), &jl);
        const char *why = "not a string";
        if (!id || !js || fo_registry_parse_node(js, jl, &r->nodes[k], &why) != 0) {
            bad_value(r, "node entry", why);
            continue;
        }
        if (strlen(id) != il || strcmp(id, r->nodes[k].id) != 0) {
            bad_value(r, "node entry", "id does not match its key");
            continue;
        }
        k++;
    }
    r->n_nodes = k;
    if (r->cbs.on_nodes) r->cbs.on_nodes(r->cbs.user);
}

static void claim_reply(fo_registry_t *r, claim_t *c, const fo_redis_reply_t *reply, op_t *o);

static void refresh_cb(void *user, const fo_redis_reply_t *reply)
{
    op_t *o = user;
    fo_registry_t *r = o->r;
    claim_t *c = r->claims;
    while (c && strcmp(c->key, o->key) != 0) c = c->next;
    if (c && reply) claim_reply(r, c, reply, NULL);
    op_free(o);
}

static void send_claim(fo_registry_t *r, claim_t *c, fo_redis_reply_cb cb, op_t *o)
{
    char ck[KEY_MAX + 16], hk[KEY_MAX + 16], ttl[16], kids[16];
    snprintf(ck, sizeof ck, PREFIX "stream:%s", c->key);
    snprintf(hk, sizeof hk, PREFIX "carriers:%s", c->key);
    ttl_arg(r, ttl);
    snprintf(kids, sizeof kids, "%u", c->children);
    const char *keys[3] = {ck, hk, EVENTS_KEY};
    const char *args[5] = {c->value, ttl, r->node_id, kids, c->key};
    if (eval(r, cb, o, LUA_CLAIM, 3, keys, 5, args) != 0) {
        if (o && o->cb) ((fo_registry_claim_cb)o->cb)(o->user, FO_EAGAIN, NULL);
        if (o) op_free(o);
    }
}

static void send_carry(fo_registry_t *r, const carry_t *c)
{
    char hk[KEY_MAX + 16], ttl[16], depth[16], kids[16];
    snprintf(hk, sizeof hk, PREFIX "carriers:%s", c->key);
    ttl_arg(r, ttl);
    snprintf(depth, sizeof depth, "%d", c->depth);
    snprintf(kids, sizeof kids, "%u", c->children);
    const char *keys[1] = {hk};
    const char *args[5] = {r->node_id, depth, kids, c->parent[0] ? c->parent : "-", ttl};
    eval(r, NULL, NULL, LUA_CARRY, 1, keys, 5, args);
}

void fo_registry_heartbeat(fo_registry_t *r)
{
    if (!fo_redis_up(r->cmd)) return;
    fo_node_info_t self = {0};
    if (r->cbs.fill_load) r->cbs.fill_load(r->cbs.user, &self);
    snprintf(self.id, sizeof self.id, "%s", r->node_id);
    snprintf(self.api, sizeof self.api, "%s", r->api_url);
    char json[1024], nk[FO_NODE_ID_MAX + 16], ttl[16];
    if (fo_registry_format_node(&self, json, sizeof json) < 0) return;
    snprintf(nk, sizeof nk, NODE_PREFIX "%s", r->node_id);
    ttl_arg(r, ttl);
    const char *keys[2] = {nk, NODES_KEY};
    const char *args[4] = {r->node_id, json, ttl, NODE_PREFIX};
    eval(r, nodes_cb, r, LUA_HEARTBEAT, 2, keys, 4, args);
    for (claim_t *c = r->claims; c; c = c->next) {
        op_t *o = op_new(r, NULL, NULL, c->key);
        if (o) send_claim(r, c, refresh_cb, o);
    }
    for (carry_t *c = r->carries; c; c = c->next) send_carry(r, c);
}

static void hb_timer_cb(fo_timer_t *t)
{
    fo_registry_t *r = t->user;
    fo_registry_heartbeat(r);
    fo_timer_start(r->loop, &r->hb_timer, (uint64_t)r->opts.heartbeat_ms);
}

/* ---- events ---- */

static void read_events(fo_registry_t *r);

/* One entry [id, [field, value, ...]]: validated, then told to the owner. */
static void event_entry(fo_registry_t *r, const fo_redis_reply_t *e)
{
    size_t il = 0;
    const char *id = fo_redis_str(fo_redis_elem(e, 0), &il);
    const fo_redis_reply_t *fv = fo_redis_elem(e, 1);
    if (!id || il == 0 || il >= sizeof r->last_id || strspn(id, "0123456789-") != il || !fv ||
        fo_redis_type(fv) != FO_REDIS_ARRAY) {
        bad_value(r, "event", "malformed entry");
        return;
    }
    memcpy(r->last_id, id, il + 1);
    const char *ev = NULL, *key = NULL, *node = NULL;
    size_t kl = 0;
    for (size_t i = 0; i + 1 < fo_redis_len(fv); i += 2) {
        size_t fl = 0, vl = 0;
        const char *f = fo_redis_str(fo_redis_elem(fv, i), &fl);
        const char *v = fo_redis_str(fo_redis_elem(fv, i + 1), &vl);
        if (!f || !v || fl != 1) continue;
        if (f[0] == 'e') ev = v;
        else if (f[0] == 'k') key = v, kl = vl;
        else if (f[0] == 'n') node = v;
    }
    if (!ev || !key || !node || (strcmp(ev, "publish") != 0 && strcmp(ev, "unpublish") != 0) ||
        !stream_key_ok(key, kl) || strlen(key) != kl || !fo_registry_node_id_ok(node)) {
        bad_value(r, "event", "missing or invalid fields");
        return;
    }
    r->stats.events++;
    if (r->cbs.on_event) r->cbs.on_event(r->cbs.user, ev[0] == 'p', key, node);
}

static void xread_cb(void *user, const fo_redis_reply_t *reply)
{
    fo_registry_t *r = user;
    r->ev_reading = false;
    if (!reply) return; /* connection lost: on_ev_state resyncs */
    if (fo_redis_type(reply) == FO_REDIS_ARRAY) {
        for (size_t s = 0; s < fo_redis_len(reply); s++) {
            const fo_redis_reply_t *st = fo_redis_elem(reply, s);
            const fo_redis_reply_t *entries = fo_redis_elem(st, 1);
            if (!entries || fo_redis_type(entries) != FO_REDIS_ARRAY) {
                bad_value(r, "event batch", "malformed");
                continue;
            }
            for (size_t i = 0; i < fo_redis_len(entries); i++) event_entry(r, fo_redis_elem(entries, i));
        }
    } else if (fo_redis_type(reply) != FO_REDIS_NIL) {
        bad_value(r, "event batch", "not an array");
    }
    read_events(r);
}

static void read_events(fo_registry_t *r)
{
    if (r->ev_reading || !fo_redis_up(r->ev)) return;
    char block[16];
    snprintf(block, sizeof block, "%d", EVENT_BLOCK_MS);
    const char *argv[] = {"XREAD", "COUNT", "100", "BLOCK", block, "STREAMS", EVENTS_KEY, r->last_id};
    if (fo_redis_command(r->ev, EVENT_BLOCK_MS + 3000, xread_cb, r, 8, argv, NULL) == 0) r->ev_reading = true;
}

/* The newest event id at (re)connection: read from there, after the owner rechecked. */
static void last_id_cb(void *user, const fo_redis_reply_t *reply)
{
    fo_registry_t *r = user;
    if (!reply) return;
    const fo_redis_reply_t *e = fo_redis_elem(reply, 0);
    size_t il = 0;
    const char *id = e ? fo_redis_str(fo_redis_elem(e, 0), &il) : NULL;
    if (id && il > 0 && il < sizeof r->last_id && strspn(id, "0123456789-") == il) memcpy(r->last_id, id, il + 1);
    else snprintf(r->last_id, sizeof r->last_id, "0-0");
    if (r->cbs.on_resync) r->cbs.on_resync(r->cbs.user);
    read_events(r);
}

static void on_ev_state(void *user, bool up, const char *why)
{
    fo_registry_t *r = user;
    (void)why;
    r->ev_reading = false;
    if (!up) return;
    const char *argv[] = {"XREVRANGE", EVENTS_KEY, "+", "-", "COUNT", "1"};
    fo_redis_command(r->ev, 0, last_id_cb, r, 6, argv, NULL);
}

static void on_cmd_state(void *user, bool up, const char *why)
{
    fo_registry_t *r = user;
    (void)why;
    r->up = up;
    r->stats.up = up;
    if (up) {
        fo_registry_heartbeat(r); /* re-register (and re-claim) at once */
        fo_timer_start(r->loop, &r->hb_timer, (uint64_t)r->opts.heartbeat_ms);
    } else {
        fo_timer_stop(r->loop, &r->hb_timer);
        r->n_nodes = 0;
        fo_redis_reset(r->ev, "the command connection was lost");
    }
    if (r->cbs.on_state) r->cbs.on_state(r->cbs.user, up);
}

/* ---- public ---- */

fo_registry_t *fo_registry_new(fo_loop_t *loop, const fo_redis_addr_t *addr,
                               const fo_registry_opts_t *opts, const fo_registry_cbs_t *cbs)
{
    if (!fo_registry_node_id_ok(opts->node_id) || !fo_registry_api_url_ok(opts->api_url)) {
        FO_LOG(FO_LOG_ERROR, "registry", "bad node id '%s' or API URL '%s'", opts->node_id, opts->api_url);
        return NULL;
    }
    fo_registry_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->loop = loop;
    r->opts = *opts;
    if (r->opts.heartbeat_ms <= 0) r->opts.heartbeat_ms = 2000;
    if (r->opts.ttl_ms <= r->opts.heartbeat_ms) r->opts.ttl_ms = r->opts.heartbeat_ms * 3;
    if (r->opts.max_depth <= 0) r->opts.max_depth = 2;
    if (r->opts.relays_per_node <= 0) r->opts.relays_per_node = 4;
    snprintf(r->node_id, sizeof r->node_id, "%s", opts->node_id);
    snprintf(r->api_url, sizeof r->api_url, "%s", opts->api_url);
    r->opts.node_id = r->node_id;
    r->opts.api_url = r->api_url;
    if (cbs) r->cbs = *cbs;
    snprintf(r->last_id, sizeof r->last_id, "0-0");
    fo_timer_init(&r->hb_timer, hb_timer_cb, r);
    r->nodes = calloc(FO_REGISTRY_MAX_NODES, sizeof *r->nodes);
    /* the command timeout stays under a heartbeat so a hung Redis is noticed within one */
    fo_redis_opts_t ro = {.connect_timeout_ms = 2000,
                          .command_timeout_ms = r->opts.heartbeat_ms < 3000 ? r->opts.heartbeat_ms : 3000,
                          .backoff_min_ms = 200,
                          .backoff_max_ms = 5000};
    fo_redis_cbs_t cc = {.on_state = on_cmd_state, .user = r}, ec = {.on_state = on_ev_state, .user = r};
    if (!r->nodes || !(r->cmd = fo_redis_new(loop, addr, &ro, &cc, "redis")) ||
        !(r->ev = fo_redis_new(loop, addr, &ro, &ec, "redis-events"))) {
        fo_registry_free(r);
        return NULL;
    }
    return r;
}

void fo_registry_free(fo_registry_t *r)
{
    if (!r) return;
    fo_timer_stop(r->loop, &r->hb_timer);
    fo_redis_free(r->ev);
    fo_redis_free(r->cmd); /* drops pending callbacks: the ops below are not referenced */
    while (r->ops) op_free(r->ops);
    while (r->claims) {
        claim_t *c = r->claims;
        r->claims = c->next;
        free(c);
    }
    while (r->carries) {
        carry_t *c = r->carries;
        r->carries = c->next;
        free(c);
    }
    free(r->nodes);
    free(r);
}

bool fo_registry_up(const fo_registry_t *r) { return r && r->up; }

size_t fo_registry_nodes(const fo_registry_t *r, const fo_node_info_t **out)
{
    *out = r->nodes;
    return r->n_nodes;
}

const fo_node_info_t *fo_registry_node(const fo_registry_t *r, const char *id)
{
    for (size_t i = 0; i < r->n_nodes; i++)
        if (strcmp(r->nodes[i].id, id) == 0) return &r->nodes[i];
    return NULL;
}

/* {1, value} or {0, holder value}: claimed, or someone else's. */
static void claim_reply(fo_registry_t *r, claim_t *c, const fo_redis_reply_t *reply, op_t *o)
{
    fo_registry_claim_cb cb = o ? (fo_registry_claim_cb)o->cb : NULL;
    void *user = o ? o->user : NULL;
    const fo_redis_reply_t *ok = fo_redis_elem(reply, 0);
    size_t hl = 0;
    const char *holder = fo_redis_str(fo_redis_elem(reply, 1), &hl);
    if (!ok || fo_redis_type(ok) != FO_REDIS_INT || !holder) {
        bad_value(r, "claim reply", fo_redis_type(reply) == FO_REDIS_ERROR ? fo_redis_str(reply, NULL) : "malformed");
        if (cb) cb(user, FO_EAGAIN, NULL);
        return;
    }
    if (fo_redis_int(ok) == 1) {
        if (!c->held) FO_LOG(FO_LOG_INFO, c->key, "claimed in the cluster");
        c->held = true;
        if (cb) cb(user, 0, NULL);
        return;
    }
    char node[FO_NODE_ID_MAX] = "?";
    const char *sp = memchr(holder, ' ', hl);
    if (sp && (size_t)(sp - holder) < sizeof node) {
        memcpy(node, holder, (size_t)(sp - holder));
        node[sp - holder] = '\0';
        if (!fo_registry_node_id_ok(node)) snprintf(node, sizeof node, "?");
    }
    if (cb) {
        r->stats.claims_refused++;
        cb(user, FO_EBUSY, node);
    } else if (c->held) {
        r->stats.claims_lost++;
        c->held = false;
        FO_LOG(FO_LOG_WARN, c->key, "claim lost: node %s publishes this stream now", node);
        if (r->cbs.on_claim_lost) r->cbs.on_claim_lost(r->cbs.user, c->key, node);
    }
}

static claim_t *find_claim(const fo_registry_t *r, const char *key)
{
    for (claim_t *c = r->claims; c; c = c->next)
        if (strcmp(c->key, key) == 0) return c;
    return NULL;
}

static void unlink_claim(fo_registry_t *r, claim_t *c)
{
    for (claim_t **p = &r->claims; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            free(c);
            return;
        }
}

static void first_claim_cb(void *user, const fo_redis_reply_t *reply)
{
    op_t *o = user;
    fo_registry_t *r = o->r;
    claim_t *c = find_claim(r, o->key);
    fo_registry_claim_cb cb = o->cb;
    if (!c) { /* released meanwhile */
        if (cb) cb(o->user, FO_EAGAIN, NULL);
    } else if (!reply) {
        if (cb) cb(o->user, FO_EAGAIN, NULL); /* kept: claimed when Redis is back */
    } else {
        bool was_new = !c->held;
        claim_reply(r, c, reply, o);
        /* refused: forget it (the publish is refused) */
        if (was_new && !c->held) unlink_claim(r, c);
    }
    op_free(o);
}

int fo_registry_claim(fo_registry_t *r, const char *key, fo_registry_claim_cb cb, void *user)
{
    if (!stream_key_ok(key, strlen(key))) return FO_EINVAL;
    claim_t *c = find_claim(r, key);
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) return FO_ENOMEM;
        char token[17];
        static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        uint8_t rnd[16];
        if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
            for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)rand();
        for (size_t i = 0; i < 16; i++) token[i] = set[rnd[i] % 36];
        token[16] = '\0';
        snprintf(c->key, sizeof c->key, "%s", key);
        snprintf(c->value, sizeof c->value, "%s %s", r->node_id, token);
        c->next = r->claims;
        r->claims = c;
    }
    r->stats.claims++;
    if (!fo_redis_up(r->cmd)) {
        if (cb) cb(user, FO_EAGAIN, NULL);
        return 0;
    }
    op_t *o = op_new(r, (void *)cb, user, key);
    if (!o) return FO_ENOMEM;
    send_claim(r, c, first_claim_cb, o);
    return 0;
}

void fo_registry_release(fo_registry_t *r, const char *key)
{
    claim_t *c = find_claim(r, key);
    if (!c) return;
    char ck[KEY_MAX + 16], hk[KEY_MAX + 16];
    snprintf(ck, sizeof ck, PREFIX "stream:%s", key);
    snprintf(hk, sizeof hk, PREFIX "carriers:%s", key);
    const char *keys[3] = {ck, hk, EVENTS_KEY};
    const char *args[3] = {c->value, r->node_id, key};
    eval(r, NULL, NULL, LUA_RELEASE, 3, keys, 3, args);
    unlink_claim(r, c);
}

bool fo_registry_claimed(const fo_registry_t *r, const char *key) { return find_claim(r, key) != NULL; }

static carry_t *find_carry(const fo_registry_t *r, const char *key)
{
    for (carry_t *c = r->carries; c; c = c->next)
        if (strcmp(c->key, key) == 0) return c;
    return NULL;
}

int fo_registry_carry(fo_registry_t *r, const char *key, int depth, const char *parent)
{
    if (!stream_key_ok(key, strlen(key)) || (parent && *parent && !fo_registry_node_id_ok(parent)))
        return FO_EINVAL;
    carry_t *c = find_carry(r, key);
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) return FO_ENOMEM;
        snprintf(c->key, sizeof c->key, "%s", key);
        c->next = r->carries;
        r->carries = c;
    }
    c->depth = depth;
    snprintf(c->parent, sizeof c->parent, "%s", parent ? parent : "");
    send_carry(r, c);
    return 0;
}

void fo_registry_uncarry(fo_registry_t *r, const char *key)
{
    for (carry_t **p = &r->carries; *p; p = &(*p)->next) {
        if (strcmp((*p)->key, key) != 0) continue;
        carry_t *c = *p;
        *p = c->next;
        free(c);
        char hk[KEY_MAX + 16];
        snprintf(hk, sizeof hk, PREFIX "carriers:%s", key);
        const char *argv[3] = {"HDEL", hk, r->node_id};
        fo_redis_command(r->cmd, 0, NULL, NULL, 3, argv, NULL);
        return;
    }
}

void fo_registry_set_children(fo_registry_t *r, const char *key, uint32_t children)
{
    claim_t *c = find_claim(r, key);
    if (c) c->children = children;
    carry_t *k = find_carry(r, key);
    if (k) k->children = children;
}

static void locate_cb(void *user, const fo_redis_reply_t *reply)
{
    op_t *o = user;
    fo_registry_t *r = o->r;
    fo_registry_locate_cb cb = o->cb;
    void *cu = o->user;
    char key[KEY_MAX];
    snprintf(key, sizeof key, "%s", o->key);
    op_free(o);
    if (!cb) return;
    if (!reply) {
        cb(cu, FO_EAGAIN, NULL);
        return;
    }
    fo_registry_locate_t loc = {0};
    const fo_redis_reply_t *claim = fo_redis_elem(reply, 0);
    if (fo_redis_type(reply) != FO_REDIS_ARRAY || !claim) {
        bad_value(r, "locate reply", fo_redis_type(reply) == FO_REDIS_ERROR ? fo_redis_str(reply, NULL) : "malformed");
        cb(cu, FO_EINVAL, NULL);
        return;
    }
    if (fo_redis_type(claim) == FO_REDIS_NIL) {
        cb(cu, 0, &loc); /* not published anywhere */
        return;
    }
    size_t cl = 0;
    const char *cv = fo_redis_str(claim, &cl);
    const char *sp = cv ? memchr(cv, ' ', cl) : NULL;
    if (!sp || (size_t)(sp - cv) >= sizeof loc.origin) {
        bad_value(r, "stream claim", "malformed");
        cb(cu, FO_EINVAL, NULL);
        return;
    }
    memcpy(loc.origin, cv, (size_t)(sp - cv));
    loc.origin[sp - cv] = '\0';
    if (!fo_registry_node_id_ok(loc.origin)) {
        bad_value(r, "stream claim", "bad node id");
        cb(cu, FO_EINVAL, NULL);
        return;
    }
    loc.found = true;
    const fo_redis_reply_t *pid = fo_redis_elem(reply, 1);
    if (!pid || fo_redis_type(pid) != FO_REDIS_STR) {
        cb(cu, 0, &loc); /* no usable carrier */
        return;
    }
    size_t jl = 0;
    const char *js = fo_redis_str(fo_redis_elem(reply, 3), &jl);
    const fo_redis_reply_t *depth = fo_redis_elem(reply, 2);
    const char *why = "not a string";
    if (!js || !depth || fo_redis_type(depth) != FO_REDIS_INT || fo_redis_int(depth) < 0 ||
        fo_redis_int(depth) > 64 || fo_registry_parse_node(js, jl, &loc.parent, &why) != 0 ||
        strcmp(loc.parent.id, fo_redis_str(pid, NULL)) != 0) {
        bad_value(r, "carrier", why ? why : "id does not match");
        cb(cu, FO_EINVAL, NULL);
        return;
    }
    loc.have_parent = true;
    loc.depth = (int)fo_redis_int(depth);
    /* this node is now the parent's pending child: keep that entry fresh */
    fo_registry_carry(r, key, loc.depth + 1, loc.parent.id);
    cb(cu, 0, &loc);
}

int fo_registry_locate(fo_registry_t *r, const char *key, fo_registry_locate_cb cb, void *user)
{
    if (!stream_key_ok(key, strlen(key))) return FO_EINVAL;
    if (!fo_redis_up(r->cmd)) return FO_EAGAIN;
    op_t *o = op_new(r, (void *)cb, user, key);
    if (!o) return FO_ENOMEM;
    char ck[KEY_MAX + 16], hk[KEY_MAX + 16], ttl[16], depth[16], per[16];
    snprintf(ck, sizeof ck, PREFIX "stream:%s", key);
    snprintf(hk, sizeof hk, PREFIX "carriers:%s", key);
    ttl_arg(r, ttl);
    snprintf(depth, sizeof depth, "%d", r->opts.max_depth);
    snprintf(per, sizeof per, "%d", r->opts.relays_per_node);
    const char *keys[2] = {ck, hk};
    const char *args[5] = {r->node_id, depth, per, ttl, NODE_PREFIX};
    int rc = eval(r, locate_cb, o, LUA_LOCATE, 2, keys, 5, args);
    if (rc != 0) op_free(o);
    return rc;
}

void fo_registry_cancel(fo_registry_t *r, const void *user)
{
    for (op_t *o = r->ops; o; o = o->next)
        if (o->user == user) o->cb = NULL;
}

static void leave_step_cb(void *user, const fo_redis_reply_t *reply)
{
    fo_registry_t *r = user;
    (void)reply;
    if (--r->leave_pending > 0 || !r->leave_done) return;
    void (*done)(void *) = r->leave_done;
    r->leave_done = NULL;
    done(r->leave_user);
}

void fo_registry_leave(fo_registry_t *r, void (*done)(void *user), void *user)
{
    fo_timer_stop(r->loop, &r->hb_timer);
    while (r->claims) fo_registry_release(r, r->claims->key);
    while (r->carries) fo_registry_uncarry(r, r->carries->key);
    char nk[FO_NODE_ID_MAX + 16];
    snprintf(nk, sizeof nk, NODE_PREFIX "%s", r->node_id);
    const char *del[2] = {"DEL", nk}, *zrem[3] = {"ZREM", NODES_KEY, r->node_id};
    r->leave_done = done;
    r->leave_user = user;
    r->leave_pending = 0;
    /* replies come in order: the last one means everything before it was done too */
    if (fo_redis_command(r->cmd, 0, NULL, NULL, 2, del, NULL) == 0 &&
        fo_redis_command(r->cmd, 0, leave_step_cb, r, 3, zrem, NULL) == 0) {
        r->leave_pending = 1;
        FO_LOG(FO_LOG_INFO, "registry", "leaving the cluster");
        return;
    }
    r->leave_done = NULL;
    if (done) done(user);
}

void fo_registry_stats(const fo_registry_t *r, fo_registry_stats_t *out)
{
    *out = r->stats;
    fo_redis_stats(r->cmd, &out->cmd);
    fo_redis_stats(r->ev, &out->ev);
}
