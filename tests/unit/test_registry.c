/* SPDX-License-Identifier: MIT */
/* The registry against Debian's redis-server, with three "nodes" (registries) on one loop:
 * heartbeats and the node list, atomic claims (the second claimant gets the holder), release by
 * compare-and-delete, claims expiring when their node dies, publish/unpublish events read with
 * XREAD BLOCK, locating a stream with the tree rules (relays per node, depth, no cycles),
 * re-registration after Redis restarts empty, bad values in Redis ignored and counted, and the
 * pure validators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/registry.h"
#include "loop_until.h"
#include "redissrv.h"

static fo_redissrv_t srv;

typedef struct {
    const char *name;
    fo_registry_t *reg;
    bool up;
    int events_pub, events_unpub, resyncs, nodes_seen;
    char last_event_key[200], last_event_node[64];
    int claim_rc;
    char claim_holder[64];
    bool claim_done;
    int locate_rc;
    fo_registry_locate_t loc;
    bool locate_done;
    int lost;
} node_t;

static node_t nodes[3];

static void on_state(void *user, bool up) { ((node_t *)user)->up = up; }
static void fill_load(void *user, fo_node_info_t *self)
{
    node_t *n = user;
    self->players = (uint32_t)(n - nodes) * 10;
    self->capacity = 100;
    self->cpu = 1.5;
}
static void on_nodes(void *user) { ((node_t *)user)->nodes_seen++; }
static void on_event(void *user, bool publish, const char *key, const char *node)
{
    node_t *n = user;
    if (publish) n->events_pub++;
    else n->events_unpub++;
    snprintf(n->last_event_key, sizeof n->last_event_key, "%s", key);
    snprintf(n->last_event_node, sizeof n->last_event_node, "%s", node);
}
static void on_resync(void *user) { ((node_t *)user)->resyncs++; }
static void on_claim_lost(void *user, const char *key, const char *holder)
{
    (void)key;
    (void)holder;
    ((node_t *)user)->lost++;
}

static void start_node(node_t *n, const char *id, int per_node)
{
    memset(n, 0, sizeof *n);
    n->name = id;
    fo_redis_addr_t a;
    assert_int_equal(fo_redis_url_parse(srv.url, &a, NULL), 0);
    char api[64];
    snprintf(api, sizeof api, "http://127.0.0.1:%d", 2000 + (int)(n - nodes));
    fo_registry_opts_t o = {.node_id = id, .api_url = api, .heartbeat_ms = 200, .ttl_ms = 700,
                            .max_depth = 2, .relays_per_node = per_node};
    fo_registry_cbs_t cbs = {.on_state = on_state, .fill_load = fill_load, .on_nodes = on_nodes,
                             .on_event = on_event, .on_resync = on_resync,
                             .on_claim_lost = on_claim_lost, .user = n};
    n->reg = fo_registry_new(loop_until_loop, &a, &o, &cbs);
    assert_non_null(n->reg);
}

static bool all_up(void)
{
    for (int i = 0; i < 3; i++)
        if (nodes[i].reg && (!nodes[i].up || nodes[i].nodes_seen == 0 || nodes[i].resyncs == 0)) return false;
    return true;
}

static void claim_cb(void *user, int rc, const char *holder)
{
    node_t *n = user;
    n->claim_rc = rc;
    snprintf(n->claim_holder, sizeof n->claim_holder, "%s", holder ? holder : "");
    n->claim_done = true;
}
static node_t *waiting;
static bool claim_done(void) { return waiting->claim_done; }
static int claim(node_t *n, const char *key)
{
    n->claim_done = false;
    waiting = n;
    assert_int_equal(fo_registry_claim(n->reg, key, claim_cb, n), 0);
    assert_true(run_until(claim_done, 3000));
    return n->claim_rc;
}

static void locate_cb(void *user, int rc, const fo_registry_locate_t *loc)
{
    node_t *n = user;
    n->locate_rc = rc;
    if (loc) n->loc = *loc;
    n->locate_done = true;
}
static bool locate_done(void) { return waiting->locate_done; }
static void locate(node_t *n, const char *key)
{
    n->locate_done = false;
    memset(&n->loc, 0, sizeof n->loc);
    waiting = n;
    assert_int_equal(fo_registry_locate(n->reg, key, locate_cb, n), 0);
    assert_true(run_until(locate_done, 3000));
    assert_int_equal(n->locate_rc, 0);
}

static bool b_got_publish(void) { return nodes[1].events_pub > 0; }
static bool b_got_unpublish(void) { return nodes[1].events_unpub > 0; }

static void test_pure(void **state)
{
    (void)state;
    assert_true(fo_registry_node_id_ok("edge-1.example:1985"));
    assert_false(fo_registry_node_id_ok(""));
    assert_false(fo_registry_node_id_ok("a b"));
    assert_false(fo_registry_node_id_ok("a\"b"));
    assert_true(fo_registry_api_url_ok("http://10.0.0.1:1985"));
    assert_true(fo_registry_api_url_ok("https://edge.example/fanout"));
    assert_true(fo_registry_api_url_ok("http://[::1]:1985"));
    static const char *const bad[] = {"ftp://h", "http://", "http://h:0", "http://h:99999",
                                      "http://h/", "http://h?x=1", "http://h/a b", "http://h@evil",
                                      "http://[::1", "http://h:80x", "javascript:alert(1)"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_false(fo_registry_api_url_ok(bad[i]));
    fo_node_info_t n = {.players = 7, .capacity = 9, .cpu = 12.5, .draining = true}, m;
    snprintf(n.id, sizeof n.id, "node-a");
    snprintf(n.api, sizeof n.api, "http://127.0.0.1:1985");
    char json[512];
    assert_true(fo_registry_format_node(&n, json, sizeof json) > 0);
    assert_int_equal(fo_registry_parse_node(json, strlen(json), &m, NULL), 0);
    assert_string_equal(m.id, "node-a");
    assert_int_equal(m.players, 7);
    assert_true(m.draining);
    static const char *const badj[] = {
        "", "[]", "{\"id\":\"a\"}", "{\"id\":\"a b\",\"api\":\"http://h\"}",
        "{\"id\":\"a\",\"api\":\"http://h/\",\"sessions\":1,\"players\":1,\"streams\":1,\"relays\":1,"
        "\"capacity\":1,\"egress_kbps\":1,\"cpu\":1,\"draining\":false}",
        "{\"id\":\"a\",\"api\":\"http://h\",\"sessions\":-1,\"players\":1,\"streams\":1,\"relays\":1,"
        "\"capacity\":1,\"egress_kbps\":1,\"cpu\":1,\"draining\":false}",
        "{\"id\":\"a\",\"id\":\"b\"}"};
    for (size_t i = 0; i < sizeof badj / sizeof *badj; i++) {
        const char *why = NULL;
        assert_int_equal(fo_registry_parse_node(badj[i], strlen(badj[i]), &m, &why), FO_EINVAL);
        assert_non_null(why);
    }
}

static void test_cluster(void **state)
{
    (void)state;
    assert_int_equal(fo_redissrv_start(&srv, 0, "secret"), 0);
    start_node(&nodes[0], "node-a", 1);
    start_node(&nodes[1], "node-b", 1);
    start_node(&nodes[2], "node-c", 1);
    assert_true(run_until(all_up, 4000));
    run_for(300); /* a heartbeat more: everyone sees everyone */
    const fo_node_info_t *list;
    assert_int_equal(fo_registry_nodes(nodes[0].reg, &list), 3);
    const fo_node_info_t *c = fo_registry_node(nodes[0].reg, "node-c");
    assert_non_null(c);
    assert_int_equal(c->players, 20);
    assert_string_equal(c->api, "http://127.0.0.1:2002");

    /* claims: one winner; the second claimant learns who holds it */
    assert_int_equal(claim(&nodes[0], "live/s"), 0);
    assert_int_equal(claim(&nodes[0], "live/s"), 0); /* again: still ours */
    assert_int_equal(claim(&nodes[1], "live/s"), FO_EBUSY);
    assert_string_equal(nodes[1].claim_holder, "node-a");
    assert_false(fo_registry_claimed(nodes[1].reg, "live/s"));
    assert_true(run_until(b_got_publish, 3000));
    assert_string_equal(nodes[1].last_event_key, "live/s");
    assert_string_equal(nodes[1].last_event_node, "node-a");

    /* the tree: one relay per node here. b pulls from the origin a; c finds a full and takes
     * b (depth 1); a fourth locate by c again would not pick itself or go below max depth */
    locate(&nodes[1], "live/s");
    assert_true(nodes[1].loc.found);
    assert_string_equal(nodes[1].loc.origin, "node-a");
    assert_true(nodes[1].loc.have_parent);
    assert_string_equal(nodes[1].loc.parent.id, "node-a");
    assert_string_equal(nodes[1].loc.parent.api, "http://127.0.0.1:2000");
    assert_int_equal(nodes[1].loc.depth, 0);
    locate(&nodes[2], "live/s");
    assert_true(nodes[2].loc.have_parent);
    assert_string_equal(nodes[2].loc.parent.id, "node-b");
    assert_int_equal(nodes[2].loc.depth, 1);
    /* b locating again must not pick c (below it) nor itself */
    locate(&nodes[1], "live/s");
    assert_string_equal(nodes[1].loc.parent.id, "node-a");
    locate(&nodes[0], "live/none");
    assert_false(nodes[0].loc.found);

    /* release: an unpublish event, and another node may claim */
    fo_registry_release(nodes[0].reg, "live/s");
    assert_true(run_until(b_got_unpublish, 3000));
    assert_int_equal(claim(&nodes[1], "live/s"), 0);

    /* a node that dies without releasing: its claim expires after the TTL */
    assert_int_equal(claim(&nodes[2], "live/dead"), 0);
    fo_registry_free(nodes[2].reg);
    nodes[2].reg = NULL;
    assert_int_equal(claim(&nodes[0], "live/dead"), FO_EBUSY);
    run_for(1000);
    assert_int_equal(claim(&nodes[0], "live/dead"), 0);
    assert_int_equal(fo_registry_nodes(nodes[0].reg, &list), 2); /* c's key expired too */

    /* garbage in Redis is ignored and counted */
    char out[256];
    assert_int_equal(fo_redissrv_cmd(&srv, "ZADD fanout:nodes 99999999999999 evil", out, sizeof out), 0);
    assert_int_equal(fo_redissrv_cmd(&srv, "SET fanout:node:evil garbage", out, sizeof out), 0);
    assert_int_equal(fo_redissrv_cmd(&srv, "XADD fanout:events * e publish k ../../etc n evil", out, sizeof out), 0);
    run_for(500);
    fo_registry_stats_t st;
    fo_registry_stats(nodes[0].reg, &st);
    assert_true(st.bad_values >= 2);
    assert_int_equal(fo_registry_nodes(nodes[0].reg, &list), 2);
    assert_null(fo_registry_node(nodes[0].reg, "evil"));

    /* Redis restarted empty: both nodes re-register within a heartbeat, claims come back */
    int port = srv.port;
    fo_redissrv_kill(&srv);
    run_for(300);
    assert_false(fo_registry_up(nodes[0].reg));
    assert_int_equal(fo_registry_nodes(nodes[0].reg, &list), 0);
    assert_int_equal(fo_redissrv_start(&srv, port, "secret"), 0);
    int64_t t0 = (int64_t)fo_loop_update_time(loop_until_loop);
    nodes[0].nodes_seen = 0;
    assert_true(run_until(all_up, 8000));
    run_for(450);
    printf("re-registered %lld ms after Redis came back (backoff included)\n",
           (long long)((int64_t)fo_loop_now(loop_until_loop) - t0));
    assert_int_equal(fo_registry_nodes(nodes[0].reg, &list), 2);
    assert_int_equal(fo_redissrv_cmd(&srv, "EXISTS fanout:stream:live/dead", out, sizeof out), 0);
    assert_true(strncmp(out, ":1", 2) == 0);
    nodes[0].claim_done = false;
    assert_int_equal(claim(&nodes[1], "live/dead"), FO_EBUSY);

    /* a cancelled locate never calls back */
    nodes[1].locate_done = false;
    assert_int_equal(fo_registry_locate(nodes[1].reg, "live/s", locate_cb, &nodes[1]), 0);
    fo_registry_cancel(nodes[1].reg, &nodes[1]);
    run_for(200);
    assert_false(nodes[1].locate_done);

    /* leaving deletes the node key and releases claims */
    fo_registry_leave(nodes[0].reg, NULL, NULL);
    run_for(200);
    assert_int_equal(fo_redissrv_cmd(&srv, "EXISTS fanout:node:node-a", out, sizeof out), 0);
    assert_true(strncmp(out, ":0", 2) == 0);
    assert_int_equal(fo_redissrv_cmd(&srv, "EXISTS fanout:stream:live/dead", out, sizeof out), 0);
    assert_true(strncmp(out, ":0", 2) == 0);
    for (int i = 0; i < 3; i++) fo_registry_free(nodes[i].reg);
    fo_redissrv_stop(&srv, false);
}

static int setup(void **state)
{
    (void)state;
    fo_log_set_level(FO_LOG_ERROR);
    loop_until_loop = fo_loop_new();
    return loop_until_loop ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fo_loop_free(loop_until_loop);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pure),
        cmocka_unit_test(test_cluster),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
