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

int fo_raw_drain(int fd, int wait_ms, uint64_t *bytes, int *requests)
{
    int n = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, wait_ms) <= 0) return n;
        uint8_t buf[2048];
        ssize_t r;
        while ((r = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            n++;
            if (bytes) *bytes += (uint64_t)r;
            /* a STUN request: class bits C1 C0 (0x0110 of the type) are 00 */
            if (requests && fo_stun_is_stun(buf, (size_t)r) && ((buf[0] << 8 | buf[1]) & 0x0110) == 0)
                ++*requests;
        }
    }
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
    fo_peer_opts_t o = {.role = play ? FO_PEER_PLAY : FO_PEER_PUBLISH, .name = "raw"};
    fo_peer_t *p = fo_peer_new(&o);
    char url[256], *resp = NULL;
    char *body = p ? fo_peer_signal_request(p, api, stream, url, sizeof url) : NULL;
    if (!body) fo_test_fail("building an offer");
    int st = fo_peer_http_post(url, "application/json", body, &resp, 5000);
    free(body);
    fo_peer_free(p);
    json_t *j = st == 200 ? json_loads(resp, 0, NULL) : NULL;
    const char *sdp = json_string_value(json_object_get(j, "sdp"));
    const char *sid = json_string_value(json_object_get(j, "sessionid"));
    fo_sdp_t *s = malloc(sizeof *s);
    if (st == 200 && (!s || !sdp || !sid || fo_sdp_parse(sdp, strlen(sdp), s, NULL) != 0 || !s->n_media))
        fo_test_fail("unreadable answer: %.300s", resp);
    if (st == 200) {
        snprintf(ufrag, 64, "%.63s", s->media[0].ice_ufrag);
        snprintf(pwd, 64, "%.63s", s->media[0].ice_pwd);
        snprintf(id, 64, "%.63s", sid);
    }
    free(s);
    json_decref(j);
    free(resp);
    return st;
}

int fo_raw_kick(const char *api, const char *id)
{
    char url[256], *body = NULL;
    snprintf(url, sizeof url, "%s/api/v1/clients/%s", api, id);
    int st = fo_peer_http_request("DELETE", url, NULL, NULL, NULL, &body, 5000);
    free(body);
    return st;
}
