/* SPDX-License-Identifier: MIT */
/* fo_stun: a client check goes through the server answer and back (IPv4 and IPv6 sources),
 * authentication failures, malformed input, the RFC 5769 sample request (real wire bytes, which
 * claims ICE-CONTROLLED and so meets our role-conflict rule) and a Chrome-shaped check carrying
 * GOOG-NETWORK-INFO, built with libnice's message API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <stun/stunagent.h>

#include "fanout/common.h"
#include "fanout/stun.h"

#define SRV_UFRAG "srvU"
#define SRV_PWD "server-password-0123456789"
#define CLI_UFRAG "cliU"

/* Knows one username; counts its calls. */
typedef struct {
    const char *username;
    const char *pwd;
    int calls;
} creds_t;

static const char *pwd_cb(void *user, const char *username, size_t len)
{
    creds_t *c = user;
    c->calls++;
    if (strlen(c->username) == len && memcmp(c->username, username, len) == 0) return c->pwd;
    return NULL;
}

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
}

/* Client request -> server answer -> client check, with the mapped address compared to src. */
static void roundtrip(const struct sockaddr *src, socklen_t srclen)
{
    fo_stun_t *cli = fo_stun_new();
    fo_stun_t *srv = fo_stun_new();
    assert_non_null(cli);
    assert_non_null(srv);
    creds_t c = {SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 0};

    uint8_t req[512], rep[512];
    int n = fo_stun_build_request(cli, req, sizeof req, SRV_UFRAG ":" CLI_UFRAG, SRV_PWD,
                                  0x6e0001ffu, 0x1122334455667788ull, true);
    assert_true(n > 20);
    assert_true(fo_stun_is_stun(req, (size_t)n));

    size_t rlen = sizeof rep;
    fo_stun_check_t chk;
    assert_int_equal(fo_stun_answer(srv, req, (size_t)n, src, srclen, pwd_cb, &c, rep, &rlen, &chk),
                     0);
    assert_int_equal(c.calls, 1);
    assert_true(rlen > 20);
    assert_true(chk.use_candidate);
    assert_int_equal(chk.priority, 0x6e0001ffu);
    assert_true(fo_stun_is_stun(rep, rlen));

    struct sockaddr_storage mapped;
    memset(&mapped, 0xAA, sizeof mapped);
    assert_int_equal(fo_stun_check_response(cli, rep, rlen, SRV_PWD, &mapped), 0);
    assert_int_equal(mapped.ss_family, src->sa_family);
    if (src->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)src, *b = (const void *)&mapped;
        assert_int_equal(a->sin_port, b->sin_port);
        assert_memory_equal(&a->sin_addr, &b->sin_addr, sizeof a->sin_addr);
    } else {
        const struct sockaddr_in6 *a = (const void *)src, *b = (const void *)&mapped;
        assert_int_equal(a->sin6_port, b->sin6_port);
        assert_memory_equal(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr);
    }
    /* The transaction is consumed: the same response again is unmatched. */
    assert_int_equal(fo_stun_check_response(cli, rep, rlen, SRV_PWD, NULL), FO_EINVAL);

    /* Not nominating: no USE-CANDIDATE. */
    n = fo_stun_build_request(cli, req, sizeof req, SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 7, 1, false);
    assert_true(n > 20);
    rlen = sizeof rep;
    assert_int_equal(fo_stun_answer(srv, req, (size_t)n, src, srclen, pwd_cb, &c, rep, &rlen, &chk),
                     0);
    assert_false(chk.use_candidate);
    assert_int_equal(chk.priority, 7);
    /* Response checked with the wrong password. */
    assert_int_equal(fo_stun_check_response(cli, rep, rlen, "not-the-password", NULL), FO_EAUTH);
    assert_int_equal(fo_stun_check_response(cli, rep, rlen, SRV_PWD, NULL), 0);

    fo_stun_free(cli);
    fo_stun_free(srv);
}

static void test_roundtrip_ipv4(void **state)
{
    (void)state;
    struct sockaddr_in a = v4("192.0.2.33", 54321);
    roundtrip((const struct sockaddr *)&a, sizeof a);
}

static void test_roundtrip_ipv6(void **state)
{
    (void)state;
    struct sockaddr_in6 a = v6("2001:db8::1234:5678", 40000);
    roundtrip((const struct sockaddr *)&a, sizeof a);
}

static void test_wrong_password(void **state)
{
    (void)state;
    fo_stun_t *cli = fo_stun_new(), *srv = fo_stun_new();
    creds_t c = {SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 0};
    struct sockaddr_in a = v4("127.0.0.1", 5000);
    uint8_t req[512], rep[512];
    int n = fo_stun_build_request(cli, req, sizeof req, SRV_UFRAG ":" CLI_UFRAG, "wrong-pwd", 1,
                                  2, true);
    assert_true(n > 0);
    size_t rlen = sizeof rep;
    fo_stun_check_t chk;
    assert_int_equal(fo_stun_answer(srv, req, (size_t)n, (struct sockaddr *)&a, sizeof a, pwd_cb,
                                    &c, rep, &rlen, &chk),
                     FO_EAUTH);
    assert_int_equal(rlen, 0);
    fo_stun_free(cli);
    fo_stun_free(srv);
}

static void test_unknown_username(void **state)
{
    (void)state;
    fo_stun_t *cli = fo_stun_new(), *srv = fo_stun_new();
    creds_t c = {SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 0};
    struct sockaddr_in a = v4("127.0.0.1", 5000);
    uint8_t req[512], rep[512];
    int n = fo_stun_build_request(cli, req, sizeof req, "other:" CLI_UFRAG, SRV_PWD, 1, 2, true);
    assert_true(n > 0);
    size_t rlen = sizeof rep;
    assert_int_equal(fo_stun_answer(srv, req, (size_t)n, (struct sockaddr *)&a, sizeof a, pwd_cb,
                                    &c, rep, &rlen, NULL),
                     FO_EAUTH);
    assert_int_equal(c.calls, 1);
    assert_int_equal(rlen, 0);
    fo_stun_free(cli);
    fo_stun_free(srv);
}

/* Every prefix, every single-bit flip of a valid request, garbage and non-STUN: never 0,
 * never a crash (run under ASan for the full value). */
static void test_malformed(void **state)
{
    (void)state;
    fo_stun_t *cli = fo_stun_new(), *srv = fo_stun_new();
    creds_t c = {SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 0};
    struct sockaddr_in a = v4("127.0.0.1", 5000);
    uint8_t req[512], rep[512], tmp[512];
    int n = fo_stun_build_request(cli, req, sizeof req, SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 1, 2,
                                  true);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        memcpy(tmp, req, (size_t)i);
        size_t rlen = sizeof rep;
        assert_int_equal(fo_stun_answer(srv, tmp, (size_t)i, (struct sockaddr *)&a, sizeof a,
                                        pwd_cb, &c, rep, &rlen, NULL),
                         FO_EINVAL);
    }
    for (int bit = 0; bit < n * 8; bit++) {
        memcpy(tmp, req, (size_t)n);
        tmp[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        size_t rlen = sizeof rep;
        int r = fo_stun_answer(srv, tmp, (size_t)n, (struct sockaddr *)&a, sizeof a, pwd_cb, &c,
                               rep, &rlen, NULL);
        /* Flips inside the FINGERPRINT value or a padding byte do not matter to anyone... except
         * FINGERPRINT covers everything before it, so every flip must be refused. */
        assert_true(r == FO_EINVAL || r == FO_EAUTH);
    }
    srand(1234);
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(rand() % (int)sizeof tmp);
        for (size_t j = 0; j < len; j++) tmp[j] = (uint8_t)rand();
        if (i & 1 && len >= 8) { /* make half of them look like STUN to reach the parser */
            tmp[0] &= 3;
            tmp[2] = (uint8_t)((len - 20) >> 8);
            tmp[3] = (uint8_t)((len - 20) & 0xfc);
            tmp[4] = 0x21, tmp[5] = 0x12, tmp[6] = 0xa4, tmp[7] = 0x42;
        }
        size_t rlen = sizeof rep;
        assert_int_not_equal(fo_stun_answer(srv, tmp, len, (struct sockaddr *)&a, sizeof a, pwd_cb,
                                            &c, rep, &rlen, NULL),
                             0);
        assert_int_not_equal(fo_stun_check_response(cli, tmp, len, SRV_PWD, NULL), 0);
    }
    /* An RTP packet and a DTLS record are not STUN. */
    static const uint8_t rtp[24] = {0x80, 0x6f, 0x00, 0x01, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef};
    static const uint8_t dtls[24] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_false(fo_stun_is_stun(rtp, sizeof rtp));
    assert_false(fo_stun_is_stun(dtls, sizeof dtls));
    size_t rlen = sizeof rep;
    assert_int_equal(fo_stun_answer(srv, rtp, sizeof rtp, (struct sockaddr *)&a, sizeof a, pwd_cb,
                                    &c, rep, &rlen, NULL),
                     FO_EINVAL);
    /* A response is not a request. */
    n = fo_stun_build_request(cli, req, sizeof req, SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 1, 2, true);
    rlen = sizeof rep;
    assert_int_equal(fo_stun_answer(srv, req, (size_t)n, (struct sockaddr *)&a, sizeof a, pwd_cb,
                                    &c, rep, &rlen, NULL),
                     0);
    uint8_t rep2[512];
    size_t rlen2 = sizeof rep2;
    assert_int_equal(fo_stun_answer(srv, rep, rlen, (struct sockaddr *)&a, sizeof a, pwd_cb, &c,
                                    rep2, &rlen2, NULL),
                     FO_EINVAL);
    assert_int_equal(rlen2, 0);
    /* A reply buffer too small to hold the answer. */
    rlen = 40;
    assert_int_equal(fo_stun_answer(srv, req, (size_t)n, (struct sockaddr *)&a, sizeof a, pwd_cb,
                                    &c, rep, &rlen, NULL),
                     FO_EINVAL);
    fo_stun_free(cli);
    fo_stun_free(srv);
}

/* RFC 5769 2.1 "Sample Request": USERNAME "evtj:h6vY", password "VOkJxbRl1RmTxUk/WvJxBt",
 * SOFTWARE, PRIORITY, ICE-CONTROLLED. It authenticates, and as it claims to be controlled while
 * we (ICE-lite) are controlled too, the answer is a 487 Role Conflict error. */
static const uint8_t rfc5769_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
    0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74,
    0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e,
    0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20,
    0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
    0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5,
    0x7a, 0x3b, 0xcf,
};

static void test_rfc5769_role_conflict(void **state)
{
    (void)state;
    fo_stun_t *srv = fo_stun_new();
    creds_t c = {"evtj:h6vY", "VOkJxbRl1RmTxUk/WvJxBt", 0};
    struct sockaddr_in a = v4("192.0.2.1", 32853);
    uint8_t rep[512];
    size_t rlen = sizeof rep;
    assert_true(fo_stun_is_stun(rfc5769_req, sizeof rfc5769_req));
    assert_int_equal(fo_stun_answer(srv, rfc5769_req, sizeof rfc5769_req, (struct sockaddr *)&a,
                                    sizeof a, pwd_cb, &c, rep, &rlen, NULL),
                     FO_EINVAL);
    assert_int_equal(c.calls, 1);
    /* An error response (class 0x0110 bits) with ERROR-CODE 487, same transaction. */
    assert_true(rlen > 20);
    assert_int_equal(rep[0], 0x01);
    assert_int_equal(rep[1], 0x11);
    assert_memory_equal(rep + 8, rfc5769_req + 8, 12);
    int found = 0;
    for (size_t off = 20; off + 8 <= rlen;) {
        unsigned type = (unsigned)rep[off] << 8 | rep[off + 1];
        unsigned alen = (unsigned)rep[off + 2] << 8 | rep[off + 3];
        if (type == 0x0009) found = rep[off + 6] * 100 + rep[off + 7];
        off += 4 + ((alen + 3) & ~3u);
    }
    assert_int_equal(found, 487);
    /* Same bytes with the wrong password: authentication fails first. */
    creds_t bad = {"evtj:h6vY", "VOkJxbRl1RmTxUk/WvJxBT", 0};
    rlen = sizeof rep;
    assert_int_equal(fo_stun_answer(srv, rfc5769_req, sizeof rfc5769_req, (struct sockaddr *)&a,
                                    sizeof a, pwd_cb, &bad, rep, &rlen, NULL),
                     FO_EAUTH);
    fo_stun_free(srv);
}

/* A check shaped like Chrome's (M100+): USERNAME, GOOG-NETWORK-INFO (0xC057, network id and
 * cost), ICE-CONTROLLING, USE-CANDIDATE, PRIORITY, MESSAGE-INTEGRITY, FINGERPRINT. Built with
 * libnice's message API, so the bytes are a real RFC 5389 encoding not produced by fo_stun. */
static size_t build_chrome_like(uint8_t *buf, size_t cap, const char *username, const char *pwd,
                                uint16_t extra_required_attr)
{
    static uint16_t none[] = {0};
    StunAgent ag;
    StunMessage m;
    stun_agent_init(&ag, none, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
    assert_true(stun_agent_init_request(&ag, &m, buf, cap, STUN_BINDING));
    assert_int_equal(stun_message_append_bytes(&m, STUN_ATTRIBUTE_USERNAME, username,
                                               strlen(username)),
                     STUN_MESSAGE_RETURN_SUCCESS);
    assert_int_equal(stun_message_append32(&m, (StunAttribute)0xC057, 0x0001000a),
                     STUN_MESSAGE_RETURN_SUCCESS);
    assert_int_equal(stun_message_append64(&m, STUN_ATTRIBUTE_ICE_CONTROLLING,
                                           0x5a5a5a5a12345678ull),
                     STUN_MESSAGE_RETURN_SUCCESS);
    assert_int_equal(stun_message_append_flag(&m, STUN_ATTRIBUTE_USE_CANDIDATE),
                     STUN_MESSAGE_RETURN_SUCCESS);
    assert_int_equal(stun_message_append32(&m, STUN_ATTRIBUTE_PRIORITY, 1845501695u),
                     STUN_MESSAGE_RETURN_SUCCESS);
    if (extra_required_attr)
        assert_int_equal(stun_message_append32(&m, (StunAttribute)extra_required_attr, 0),
                         STUN_MESSAGE_RETURN_SUCCESS);
    size_t n = stun_agent_finish_message(&ag, &m, (const uint8_t *)pwd, strlen(pwd));
    assert_true(n > 0);
    return n;
}

static void test_chrome_like(void **state)
{
    (void)state;
    fo_stun_t *srv = fo_stun_new();
    creds_t c = {"f00dbabe:Xy9z", "0123456789abcdefghijkl", 0};
    struct sockaddr_in a = v4("10.1.2.3", 61000);
    uint8_t req[512], rep[512];
    size_t n = build_chrome_like(req, sizeof req, c.username, c.pwd, 0);
    size_t rlen = sizeof rep;
    fo_stun_check_t chk;
    assert_int_equal(fo_stun_answer(srv, req, n, (struct sockaddr *)&a, sizeof a, pwd_cb, &c, rep,
                                    &rlen, &chk),
                     0);
    assert_true(chk.use_candidate);
    assert_int_equal(chk.priority, 1845501695u);
    assert_int_equal(rep[0], 0x01);
    assert_int_equal(rep[1], 0x01); /* Binding success response */
    assert_memory_equal(rep + 4, req + 4, 16);

    /* An unknown comprehension-required attribute: 420 error, not an answer. */
    n = build_chrome_like(req, sizeof req, c.username, c.pwd, 0x7777);
    rlen = sizeof rep;
    assert_int_equal(fo_stun_answer(srv, req, n, (struct sockaddr *)&a, sizeof a, pwd_cb, &c, rep,
                                    &rlen, &chk),
                     FO_EINVAL);
    assert_true(rlen > 20);
    assert_int_equal(rep[1], 0x11);
    fo_stun_free(srv);
}

/* Far more requests than libnice's table of outstanding transactions holds, never answered. */
static void test_many_lost_requests(void **state)
{
    (void)state;
    fo_stun_t *cli = fo_stun_new(), *srv = fo_stun_new();
    creds_t c = {SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 0};
    struct sockaddr_in a = v4("127.0.0.1", 5000);
    uint8_t req[512], rep[512];
    for (int i = 0; i < 1000; i++)
        assert_true(fo_stun_build_request(cli, req, sizeof req, SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 1,
                                          2, false) > 0);
    int n = fo_stun_build_request(cli, req, sizeof req, SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 1, 2,
                                  false);
    size_t rlen = sizeof rep;
    assert_int_equal(fo_stun_answer(srv, req, (size_t)n, (struct sockaddr *)&a, sizeof a, pwd_cb,
                                    &c, rep, &rlen, NULL),
                     0);
    assert_int_equal(fo_stun_check_response(cli, rep, rlen, SRV_PWD, NULL), 0);
    /* A too-small buffer. */
    assert_true(fo_stun_build_request(cli, req, 30, SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 1, 2, false) <
                0);
    fo_stun_free(cli);
    fo_stun_free(srv);
    fo_stun_free(NULL);
}

/* The server's confirmation request (controlled), answered by a controlling peer that knows
 * its own password; the answer confirms exactly once. */
#define CLI_PWD "client-password-abcdefghij"
static const char *const PROBE_USER = CLI_UFRAG ":" SRV_UFRAG;

static int answer_probe(fo_stun_t *peer, const uint8_t *req, size_t n, const char *pwd, uint8_t *rep,
                        size_t *rlen)
{
    creds_t c = {PROBE_USER, pwd, 0};
    struct sockaddr_in a = v4("192.0.2.1", 8000);
    *rlen = 512;
    return fo_stun_answer_controlling(peer, 99, req, n, (struct sockaddr *)&a, sizeof a, pwd_cb, &c, rep,
                                      rlen);
}

static void test_probe_roundtrip(void **state)
{
    (void)state;
    fo_stun_t *srv = fo_stun_new(), *peer = fo_stun_new();
    uint8_t req[512], rep[512];
    size_t rlen;
    fo_stun_probe_t tx = {0};
    int n = fo_stun_probe_request(srv, req, sizeof req, PROBE_USER, CLI_PWD, 1862270975u, 5, &tx);
    assert_true(n > 20);
    assert_true(tx.open);
    assert_int_equal(fo_stun_class(req, (size_t)n), FO_STUN_REQUEST);
    assert_int_equal(fo_stun_probes_open(srv), 1);
    assert_int_equal(answer_probe(peer, req, (size_t)n, CLI_PWD, rep, &rlen), 0);
    assert_int_equal(fo_stun_class(rep, rlen), FO_STUN_RESPONSE);
    assert_int_equal(fo_stun_probe_response(srv, &tx, rep, rlen, CLI_PWD), 0);
    assert_false(tx.open);
    assert_int_equal(fo_stun_probes_open(srv), 0);
    /* the same answer again (a duplicate, or replayed) confirms nothing more */
    assert_int_equal(fo_stun_probe_response(srv, &tx, rep, rlen, CLI_PWD), FO_ENOTFOUND);
    fo_stun_free(srv);
    fo_stun_free(peer);
}

/* What a session holder who cannot see our request could send: it knows the password, not the
 * transaction id. An answer that does not verify with the password, a tampered one. None
 * closes the request. */
static void test_probe_forged(void **state)
{
    (void)state;
    fo_stun_t *srv = fo_stun_new(), *peer = fo_stun_new();
    uint8_t req[512], other[512], rep[512];
    size_t rlen;
    fo_stun_probe_t tx = {0}, tx2 = {0};
    int n = fo_stun_probe_request(srv, req, sizeof req, PROBE_USER, CLI_PWD, 1, 5, &tx);
    int n2 = fo_stun_probe_request(peer, other, sizeof other, PROBE_USER, CLI_PWD, 1, 5, &tx2);
    assert_true(n > 0 && n2 > 0);
    assert_int_equal(answer_probe(peer, other, (size_t)n2, CLI_PWD, rep, &rlen), 0);
    assert_int_equal(fo_stun_probe_response(srv, &tx, rep, rlen, CLI_PWD), FO_ENOTFOUND);
    assert_true(tx.open);
    /* the right answer checked against another password, and the right answer tampered with */
    assert_int_equal(answer_probe(peer, req, (size_t)n, CLI_PWD, rep, &rlen), 0);
    assert_int_equal(fo_stun_probe_response(srv, &tx, rep, rlen, "not-the-password-0123456"), FO_EAUTH);
    assert_true(tx.open);
    rep[rlen / 2] ^= 1;
    assert_int_not_equal(fo_stun_probe_response(srv, &tx, rep, rlen, CLI_PWD), 0);
    assert_true(tx.open);
    /* a request is not a response; a truncated response is nothing */
    assert_int_equal(fo_stun_probe_response(srv, &tx, req, (size_t)n, CLI_PWD), FO_EINVAL);
    assert_int_equal(answer_probe(peer, req, (size_t)n, CLI_PWD, rep, &rlen), 0);
    assert_int_not_equal(fo_stun_probe_response(srv, &tx, rep, rlen - 4, CLI_PWD), 0);
    assert_true(tx.open);
    assert_int_equal(fo_stun_probe_response(srv, &tx, rep, rlen, CLI_PWD), 0);
    fo_stun_probe_forget(peer, &tx2);
    fo_stun_probe_forget(peer, &tx2); /* no-op */
    assert_int_equal(fo_stun_probes_open(peer), 0);
    fo_stun_free(srv);
    fo_stun_free(peer);
}

/* Many open requests spread over the pool of libnice agents; all answerable, bounded in all. */
static void test_probe_pool(void **state)
{
    (void)state;
    fo_stun_t *srv = fo_stun_new(), *peer = fo_stun_new();
    enum { N = 1000 };
    static fo_stun_probe_t tx[N];
    static uint8_t req[N][160];
    static int len[N];
    memset(tx, 0, sizeof tx);
    for (int i = 0; i < N; i++) {
        len[i] = fo_stun_probe_request(srv, req[i], sizeof req[i], PROBE_USER, CLI_PWD, 1, 5, &tx[i]);
        assert_true(len[i] > 0);
    }
    assert_int_equal(fo_stun_probes_open(srv), N);
    for (int i = N - 1; i >= 0; i--) {
        uint8_t rep[512];
        size_t rlen;
        assert_int_equal(answer_probe(peer, req[i], (size_t)len[i], CLI_PWD, rep, &rlen), 0);
        assert_int_equal(fo_stun_probe_response(srv, &tx[i], rep, rlen, CLI_PWD), 0);
    }
    assert_int_equal(fo_stun_probes_open(srv), 0);
    /* the cap: FO_STUN_PROBES_MAX open at once, then FO_EFULL until one closes */
    static fo_stun_probe_t many[FO_STUN_PROBES_MAX + 1];
    uint8_t buf[160];
    for (int i = 0; i < FO_STUN_PROBES_MAX; i++)
        assert_true(fo_stun_probe_request(srv, buf, sizeof buf, PROBE_USER, CLI_PWD, 1, 5, &many[i]) > 0);
    assert_int_equal(fo_stun_probe_request(srv, buf, sizeof buf, PROBE_USER, CLI_PWD, 1, 5, &many[FO_STUN_PROBES_MAX]),
                     FO_EFULL);
    fo_stun_probe_forget(srv, &many[7]);
    assert_true(fo_stun_probe_request(srv, buf, sizeof buf, PROBE_USER, CLI_PWD, 1, 5, &many[7]) > 0);
    fo_stun_free(srv);
    fo_stun_free(peer);
}

/* The controlling side's role conflict rule (RFC 8445 7.3.1.1): a request that also claims
 * ICE-CONTROLLING gets 487 when our tie-breaker is not smaller, no answer otherwise (we will
 * not switch roles). */
static void test_answer_controlling_conflict(void **state)
{
    (void)state;
    fo_stun_t *a = fo_stun_new(), *b = fo_stun_new();
    creds_t c = {SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 0};
    struct sockaddr_in src = v4("127.0.0.1", 5000);
    uint8_t req[512], rep[512];
    int n = fo_stun_build_request(a, req, sizeof req, SRV_UFRAG ":" CLI_UFRAG, SRV_PWD, 1, 1000, true);
    size_t rlen = sizeof rep;
    assert_int_equal(fo_stun_answer_controlling(b, 2000, req, (size_t)n, (struct sockaddr *)&src, sizeof src,
                                                pwd_cb, &c, rep, &rlen),
                     FO_EINVAL);
    assert_true(rlen > 0);
    assert_int_equal(fo_stun_class(rep, rlen), FO_STUN_RESPONSE); /* the 487 error */
    assert_int_not_equal(fo_stun_check_response(a, rep, rlen, SRV_PWD, NULL), 0);
    rlen = sizeof rep;
    assert_int_equal(fo_stun_answer_controlling(b, 10, req, (size_t)n, (struct sockaddr *)&src, sizeof src,
                                                pwd_cb, &c, rep, &rlen),
                     FO_EINVAL);
    assert_int_equal(rlen, 0);
    assert_int_equal(fo_stun_class(req, 10), FO_STUN_OTHER);
    fo_stun_free(a);
    fo_stun_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_ipv4),      cmocka_unit_test(test_roundtrip_ipv6),
        cmocka_unit_test(test_wrong_password),      cmocka_unit_test(test_unknown_username),
        cmocka_unit_test(test_malformed),           cmocka_unit_test(test_rfc5769_role_conflict),
        cmocka_unit_test(test_chrome_like),         cmocka_unit_test(test_many_lost_requests),
        cmocka_unit_test(test_probe_roundtrip),     cmocka_unit_test(test_probe_forged),
        cmocka_unit_test(test_probe_pool),          cmocka_unit_test(test_answer_controlling_conflict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
