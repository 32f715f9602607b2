/* SPDX-License-Identifier: MIT */
/* Load balancing and draining (issue 10, item 4), with redis-server and nodes A (capacity one
 * player, cluster.redirect on), B and C:
 *  1. A's second player is redirected: the SRS API and WHEP both answer 307 with the URL of an
 *     idle node (B or C) for the same path and query (POST with the same body works there);
 *  2. A drains (POST /api/v1/cluster/drain): a WHIP publish to A is redirected to B or C, A's
 *     player keeps its session and gets the stream, published there, through A;
 *  3. that player leaves: A leaves the registry and exits 0 by itself;
 *  4. the node without the publisher drains on SIGUSR1 with no session: it exits 0 at once.
 * argv[1] the fanout binary, argv[2] the source dir. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "mediagen.h"
#include "peer.h"
#include "redissrv.h"
#include "testsrv.h"

static fo_testsrv_t A, B, C;
static fo_redissrv_t redis;
static fo_peer_t *peers[8];
static size_t n_peers;
static fo_mediagen_t gen;

#define fail(...) (fo_redissrv_stop(&redis, false), fo_test_fail(__VA_ARGS__))

static void run(int ms)
{
    int64_t end = fo_peer_now_ms() + ms;
    while (fo_peer_now_ms() < end) {
        struct pollfd pf[8];
        for (size_t i = 0; i < n_peers; i++) pf[i] = (struct pollfd){.fd = fo_peer_fd(peers[i]), .events = POLLIN};
        poll(pf, n_peers, 5);
        for (size_t i = 0; i < n_peers; i++) fo_peer_process(peers[i]);
        if (gen.pub) fo_mediagen_tick(&gen);
    }
}

static void start(fo_testsrv_t *s, const char *name, const char *id, const char *bin, const char *src, bool capped)
{
    static char v[3][6][300];
    static int k;
    char(*x)[300] = v[k++];
    snprintf(x[0], 300, "cluster.redis=%s", redis.url);
    snprintf(x[1], 300, "cluster.node_id=%s", id);
    snprintf(x[2], 300, "cluster.heartbeat=1");
    snprintf(x[3], 300, "cluster.redirect=true");
    snprintf(x[4], 300, "cluster.capacity=%d", capped ? 1 : 0);
    snprintf(x[5], 300, "cluster.drain_timeout=60");
    const char *extra[13];
    int n = 0;
    for (int i = 0; i < 6; i++) {
        extra[n++] = "--set";
        extra[n++] = x[i];
    }
    extra[n] = NULL;
    fo_testsrv_start(s, name, bin, src, extra, 100);
}

/* POSTs body to url and returns the status; *location gets the Location header ("" none). */
static int post(const char *url, const char *ctype, const char *body, char *location, size_t cap)
{
    char *headers = NULL, *resp = NULL;
    int st = fo_peer_http_request("POST", url, ctype, body, &headers, &resp, 5000);
    location[0] = '\0';
    const char *l = headers ? strcasestr(headers, "\r\nLocation: ") : NULL;
    if (l) snprintf(location, cap, "%.*s", (int)strcspn(l + 12, "\r\n"), l + 12);
    free(headers);
    free(resp);
    return st;
}

static bool wait_exit(fo_testsrv_t *s, int ms, int *status)
{
    for (int64_t end = fo_peer_now_ms() + ms; fo_peer_now_ms() < end; run(50))
        if (waitpid(s->pid, status, WNOHANG) == s->pid) {
            s->pid = -1;
            return true;
        }
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    fo_log_set_level(FO_LOG_WARN);
    if (fo_redissrv_start(&redis, 0, NULL) != 0) fo_test_fail("cannot start redis-server");
    if (fo_srtp_global_init()) fail("srtp init");
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    start(&A, "it_drain-A", "node-a", argv[1], argv[2], true);
    start(&B, "it_drain-B", "node-b", argv[1], argv[2], false);
    start(&C, "it_drain-C", "node-c", argv[1], argv[2], false);
    char out[64] = "";
    for (int i = 0; i < 100 && !(fo_redissrv_cmd(&redis, "ZCARD fanout:nodes", out, sizeof out) == 0 && !strncmp(out, ":3", 2)); i++)
        usleep(50000);
    usleep(1200000); /* a heartbeat more: each node has read the others' load */

    /* 1. A takes one player, then redirects */
    fo_peer_opts_t po = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = "p1"};
    fo_peer_t *p1 = fo_peer_new(&po);
    peers[n_peers++] = p1;
    fo_mediacheck_t c1;
    fo_mediacheck_init(&c1, p1);
    if (fo_peer_connect(p1, A.api, "live/x", 10000)) fail("first player on A: %s", fo_peer_error(p1));
    po.name = "p2";
    fo_peer_t *p2 = fo_peer_new(&po);
    json_t *j = json_pack("{s:s, s:s, s:s}", "api", "x", "streamurl", "webrtc://127.0.0.1/live/x", "sdp",
                          fo_peer_offer_sdp(p2));
    char *body = json_dumps(j, JSON_COMPACT), url[300], loc[512], want[300];
    json_decref(j);
    /* B and C are equally idle: either is the least loaded */
    char want2[300];
    snprintf(url, sizeof url, "%s/rtc/v1/play/?k=1", A.api);
    snprintf(want, sizeof want, "%s/rtc/v1/play/?k=1", B.api);
    snprintf(want2, sizeof want2, "%s/rtc/v1/play/?k=1", C.api);
    int st = post(url, "application/json", body, loc, sizeof loc);
    if (st != 307 || (strcmp(loc, want) != 0 && strcmp(loc, want2) != 0))
        fail("1. SRS play at capacity: %d Location '%s' (want '%s' or '%s')", st, loc, want, want2);
    char *answer = NULL, kick[600];
    st = fo_peer_http_request("POST", loc, "application/json", body, NULL, &answer, 5000);
    json_t *aj = answer ? json_loads(answer, 0, NULL) : NULL;
    const char *sid = json_string_value(json_object_get(aj, "sessionid"));
    if (st != 200 || !sid) fail("1. the same POST there: %d %s", st, answer ? answer : "");
    /* that player never connects: end it now rather than at its pending timeout */
    snprintf(kick, sizeof kick, "%.*s/api/v1/clients/%s", (int)(strstr(loc, "/rtc/") - loc), loc, sid);
    char *kb = NULL;
    if (fo_peer_http_request("DELETE", kick, NULL, NULL, NULL, &kb, 3000) != 200) fail("1. DELETE %s", kick);
    free(kb);
    json_decref(aj);
    free(answer);
    free(body);
    snprintf(url, sizeof url, "%s/rtc/v1/whep/?app=live&stream=x", A.api);
    snprintf(want, sizeof want, "%s/rtc/v1/whep/?app=live&stream=x", B.api);
    snprintf(want2, sizeof want2, "%s/rtc/v1/whep/?app=live&stream=x", C.api);
    st = post(url, "application/sdp", fo_peer_offer_sdp(p2), loc, sizeof loc);
    if (st != 307 || (strcmp(loc, want) != 0 && strcmp(loc, want2) != 0))
        fail("1. WHEP at capacity: %d Location '%s'", st, loc);
    fo_peer_free(p2);
    printf("  1. at capacity A answers 307 to an idle node (SRS API and WHEP)\n");

    /* 2. A drains */
    char *resp = NULL;
    snprintf(url, sizeof url, "%s/api/v1/cluster/drain", A.api);
    st = fo_peer_http_post(url, "application/json", "{}", &resp, 3000);
    free(resp);
    if (st != 202) fail("2. POST drain: %d", st);
    fo_peer_opts_t wo = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub"};
    fo_peer_t *pub = fo_peer_new(&wo);
    snprintf(url, sizeof url, "%s/rtc/v1/whip/?app=live&stream=x", A.api);
    snprintf(want, sizeof want, "%s/rtc/v1/whip/?app=live&stream=x", B.api);
    snprintf(want2, sizeof want2, "%s/rtc/v1/whip/?app=live&stream=x", C.api);
    st = post(url, "application/sdp", fo_peer_offer_sdp(pub), loc, sizeof loc);
    if (st != 307 || (strcmp(loc, want) != 0 && strcmp(loc, want2) != 0))
        fail("2. WHIP to a draining node: %d Location '%s'", st, loc);
    fo_testsrv_t *busy = strncmp(loc, B.api, strlen(B.api)) == 0 ? &B : &C, *idle = busy == &B ? &C : &B;
    if (fo_peer_connect_whip(pub, loc, 10000)) fail("2. publish on %s: %s", busy->name, fo_peer_error(pub));
    peers[n_peers++] = pub;
    fo_mediagen_init(&gen, pub, 15);
    for (int64_t end = fo_peer_now_ms() + 6000; c1.t[1].packets < 60; run(20))
        if (fo_peer_now_ms() > end) fail("2. A's player got %llu video packets", (unsigned long long)c1.t[1].packets);
    if (!fo_mediacheck_ok(&c1) || c1.t[0].gaps || c1.t[1].gaps) fail("2. A's player: %s", c1.first_error);
    printf("  2. draining A redirects a publish elsewhere and still serves its player (%llu video packets)\n",
           (unsigned long long)c1.t[1].packets);

    /* 3. the last player leaves: A leaves and exits 0 */
    for (size_t i = 0; i < n_peers; i++)
        if (peers[i] == p1) peers[i] = peers[--n_peers];
    fo_peer_free(p1);
    int status = 0;
    if (!wait_exit(&A, 8000, &status)) fail("3. A did not exit after its last session");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("3. A exited with status 0x%x", status);
    if (fo_redissrv_cmd(&redis, "EXISTS fanout:node:node-a", out, sizeof out) != 0 || strncmp(out, ":0", 2) != 0)
        fail("3. A's node key is still there: %s", out);
    printf("  3. A left the cluster and exited 0 after its last session\n");

    /* 4. SIGUSR1 on the node without sessions */
    kill(idle->pid, SIGUSR1);
    if (!wait_exit(idle, 5000, &status) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("4. %s did not exit 0 after SIGUSR1 (0x%x)", idle->name, status);
    printf("  4. SIGUSR1 with no sessions: %s exited 0\n", idle->name);

    while (n_peers) fo_peer_free(peers[--n_peers]);
    gen.pub = NULL;
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    fo_testsrv_stop_clean(busy);
    fo_redissrv_stop(&redis, false);
    printf("it_drain: OK\n");
    return 0;
}
