/* SPDX-License-Identifier: MIT */
/* Raw UDP clients for hostile-peer tests (see rawice.h). */
#include "rawice.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "fanout/sdp.h"
#include "peer.h"
#include "testsrv.h"

int fo_raw_socket(const char *ip)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (fd < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1 || bind(fd, (struct sockaddr *)&a, sizeof a))
        fo_test_fail("raw socket on %s: %s", ip, strerror(errno));
    return fd;
}

int fo_raw_port(int fd)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &l)) fo_test_fail("getsockname: %s", strerror(errno));
    return ntohs(a.sin_port);
}

void fo_raw_send(int fd, int port, const void *buf, size_t len)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof a) < 0 && errno != EAGAIN)
        fo_test_fail("sendto: %s", strerror(errno));
}

size_t fo_raw_check(int fd, fo_stun_t *stun, int port, const char *server_ufrag,
                    const char *server_pwd, bool nominate)
{
    char user[160];
    uint8_t buf[512];
    snprintf(user, sizeof user, "%s:x", server_ufrag);
    int n = fo_stun_build_request(stun, buf, sizeof buf, user, server_pwd, 0x7effffff, 42, nominate);
    if (n < 0) fo_test_fail("building a check: %d", n);
    fo_raw_send(fd, port, buf, (size_t)n);
    return (size_t)n;
}

static const fo_raw_answerer_t *g_ans; /* for the password callback */

static const char *answer_pwd_cb(void *user, const char *username, size_t len)
{
    (void)user;
    size_t ul = strlen(g_ans->ufrag);
    return len > ul && !memcmp(username, g_ans->ufrag, ul) && username[ul] == ':' ? g_ans->pwd : NULL;
}

static void answer(int fd, const uint8_t *buf, size_t len, const struct sockaddr_in *from,
                   const fo_raw_answerer_t *ans, fo_raw_counts_t *c)
{
    uint8_t reply[512];
    size_t rl = sizeof reply;
    g_ans = ans;
    if (fo_stun_answer_controlling(ans->stun, 7, buf, len, (const struct sockaddr *)from, sizeof *from,
                                   answer_pwd_cb, NULL, reply, &rl) != 0 || !rl)
        return;
    fo_raw_send(ans->reply_fd >= 0 ? ans->reply_fd : fd, ntohs(from->sin_port), reply, rl);
    if (c) c->answered++;
}

int fo_raw_drain(int fd, int wait_ms, int max_ms, fo_raw_counts_t *c, const fo_raw_answerer_t *ans)
{
    int n = 0;
    int64_t end = fo_peer_now_ms() + max_ms;
    for (;;) {
        int64_t left = end - fo_peer_now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, wait_ms < left ? wait_ms : (int)left) <= 0) return n;
        uint8_t buf[2048];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t r;
        while ((r = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) > 0) {
            n++;
            fo_stun_class_t k = fo_stun_class(buf, (size_t)r);
            if (c) {
                c->pkts++;
                c->bytes += (uint64_t)r;
                c->stun_requests += k == FO_STUN_REQUEST;
                c->stun_other += k == FO_STUN_RESPONSE;
                c->dtls += buf[0] >= 20 && buf[0] <= 63;
                c->rtp += buf[0] >= 128 && buf[0] <= 191;
            }
            if (ans && k == FO_STUN_REQUEST) answer(fd, buf, (size_t)r, &from, ans, c);
            fl = sizeof from;
        }
    }
}

size_t fo_raw_foreign_response(fo_stun_t *stun, const char *username, const char *pwd, uint8_t *out,
                               size_t cap)
{
    uint8_t req[512];
    fo_stun_probe_t tx = {0};
    int n = fo_stun_probe_request(stun, req, sizeof req, username, pwd, 1, 1, &tx);
    fo_stun_probe_forget(stun, &tx);
    const char *colon = strchr(username, ':');
    if (n <= 0 || !colon) fo_test_fail("building a request to answer");
    char ufrag[64];
    snprintf(ufrag, sizeof ufrag, "%.*s", (int)(colon - username), username);
    fo_raw_answerer_t a = {.stun = stun, .ufrag = ufrag, .pwd = pwd};
    struct sockaddr_in to = {.sin_family = AF_INET};
    size_t rl = cap;
    g_ans = &a;
    if (fo_stun_answer_controlling(stun, 7, req, (size_t)n, (struct sockaddr *)&to, sizeof to, answer_pwd_cb,
                                   NULL, out, &rl) != 0 || !rl)
        fo_test_fail("answering our own request");
    return rl;
}

long long fo_raw_metric(const char *api, const char *sample)
{
    char url[160], *body = NULL;
    snprintf(url, sizeof url, "%s/metrics", api);
    int st = fo_peer_http_request("GET", url, NULL, NULL, NULL, &body, 5000);
    long long v = -1;
    size_t sl = strlen(sample);
    for (const char *l = body; st == 200 && l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (strncmp(l, sample, sl) == 0 && l[sl] == ' ') v = atoll(l + sl + 1);
    free(body);
    return v;
}

int fo_raw_offer(const char *api, bool play, const char *stream, char *ufrag, char *pwd, char *id)
{
    return fo_raw_offer_from(NULL, api, play, stream, ufrag, pwd, id, NULL);
}

int fo_raw_offer_from(const char *src_ip, const char *api, bool play, const char *stream, char *ufrag,
                      char *pwd, char *id, int *code)
{
    /* One peer per role makes every offer: a certificate takes ~0.1 s to make, and tests that
     * flood the API need offers faster than that (each POST still creates its own session). */
    static fo_peer_t *peers[2];
    fo_peer_opts_t o = {.role = play ? FO_PEER_PLAY : FO_PEER_PUBLISH, .name = "raw"};
    fo_peer_t **p = &peers[play];
    if (!*p && !(*p = fo_peer_new(&o))) fo_test_fail("making an offer");
    char url[256], *resp = NULL;
    char *body = fo_peer_signal_request(*p, api, stream, url, sizeof url);
    if (!body) fo_test_fail("building an offer");
    int st = fo_peer_http_request_from(src_ip, "POST", url, "application/json", NULL, body, NULL, &resp, 5000);
    free(body);
    json_t *j = st > 0 ? json_loads(resp, 0, NULL) : NULL;
    const char *sdp = json_string_value(json_object_get(j, "sdp"));
    const char *sid = json_string_value(json_object_get(j, "sessionid"));
    if (code) *code = json_is_integer(json_object_get(j, "code")) ? (int)json_integer_value(json_object_get(j, "code")) : -1;
    if (st == 200) {
        if (!sdp || !sid) fo_test_fail("unreadable answer: %.300s", resp);
        char u[64], w[64];
        fo_raw_sdp_creds(sdp, ufrag ? ufrag : u, pwd ? pwd : w);
        if (id) snprintf(id, 64, "%.63s", sid);
    }
    json_decref(j);
    free(resp);
    return st;
}

fo_peer_t *fo_raw_connect(const fo_peer_opts_t *opts, const char *api, const char *stream)
{
    fo_peer_t *p = fo_peer_new(opts);
    if (!p || fo_peer_connect(p, api, stream, 10000))
        fo_test_fail("%s: %s", opts->name, p ? fo_peer_error(p) : "no peer");
    return p;
}

void fo_raw_pump(fo_peer_t *const *peers, size_t n, int wait_ms)
{
    struct pollfd pf[8];
    if (n > 8) n = 8;
    for (size_t i = 0; i < n; i++) pf[i] = (struct pollfd){.fd = fo_peer_fd(peers[i]), .events = POLLIN};
    poll(pf, (nfds_t)n, wait_ms);
    for (size_t i = 0; i < n; i++) fo_peer_process(peers[i]);
}

void fo_raw_sdp_creds(const char *sdp, char *ufrag, char *pwd)
{
    fo_sdp_t *s = malloc(sizeof *s);
    if (!s || fo_sdp_parse(sdp, strlen(sdp), s, NULL) != 0 || !s->n_media)
        fo_test_fail("no ICE credentials in %.300s", sdp);
    snprintf(ufrag, 64, "%.63s", s->media[0].ice_ufrag);
    snprintf(pwd, 64, "%.63s", s->media[0].ice_pwd);
    free(s);
}

int fo_raw_kick(const char *api, const char *id)
{
    char url[256], *body = NULL;
    snprintf(url, sizeof url, "%s/api/v1/clients/%s", api, id);
    int st = fo_peer_http_request("DELETE", url, NULL, NULL, NULL, &body, 5000);
    free(body);
    return st;
}
