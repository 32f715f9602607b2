/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the STUN path a stranger reaches on the shared UDP port: fo_stun_is_stun
 * and fo_stun_class, then fo_stun_answer (libnice validation, our password callback, reply
 * building) from an IPv4 and an IPv6 source, the controlling side's fo_stun_answer_controlling,
 * the client side's fo_stun_check_response, and fo_stun_probe_response against an open
 * confirmation request of ours (inputs starting 0xFE are assembled, like 0xFF ones below, into
 * a *response* to that very request, so the matching-transaction path is reached). The password callback
 * knows "srvU:cliU" so inputs carrying that USERNAME with a valid MESSAGE-INTEGRITY reach the
 * reply code. Random bytes almost never carry a valid FINGERPRINT and HMAC, and libnice is not
 * instrumented, so inputs whose first byte is 0xFF are instead read as a class/method byte and a
 * list of TLV attributes that libnice's own message API assembles into a request signed with
 * the right password: that drives the authenticated path (attribute parsing, role conflict,
 * unknown attributes, reply building) with arbitrary attribute contents. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stun/stunagent.h>

#include "fanout/stun.h"

#define FUZZ_USER "srvU:cliU"
#define FUZZ_PWD "server-password-0123456789"

static const char *pwd_cb(void *user, const char *username, size_t len)
{
    (void)user;
    if (len == strlen(FUZZ_USER) && memcmp(username, FUZZ_USER, len) == 0) return FUZZ_PWD;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Assembles data[1..] (method/class byte, then type(2) len(1) value TLVs) into a signed STUN
 * message in out: a request, or with `to` a response to that request. Returns its length or 0. */
static size_t resign(const uint8_t *data, size_t size, uint8_t *out, size_t cap, const uint8_t *to,
                     size_t to_len)
{
    static uint16_t none[] = {0};
    StunAgent ag;
    StunMessage m, req;
    stun_agent_init(&ag, none, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
    if (size < 2) return 0;
    /* Mostly Binding requests; sometimes another method. */
    StunMethod method = (data[1] & 0xf0) ? STUN_BINDING : (StunMethod)(data[1] & 0x0f);
    if (to) {
        memset(&req, 0, sizeof req);
        req.buffer = (uint8_t *)to;
        req.buffer_len = to_len;
        if (!stun_agent_init_response(&ag, &m, out, cap, &req)) return 0;
    } else if (!stun_agent_init_request(&ag, &m, out, cap, method)) {
        return 0;
    }
    bool with_user = !(data[1] & 0x08) || (data[1] & 0xf0);
    if (with_user &&
        stun_message_append_bytes(&m, STUN_ATTRIBUTE_USERNAME, FUZZ_USER, strlen(FUZZ_USER)) !=
            STUN_MESSAGE_RETURN_SUCCESS)
        return 0;
    size_t i = 2;
    while (i + 3 <= size) {
        uint16_t type = (uint16_t)(data[i] << 8 | data[i + 1]);
        size_t len = data[i + 2];
        i += 3;
        if (len > size - i) len = size - i;
        /* libnice rejects appending its own finishing attributes; skip them here. */
        if (type != STUN_ATTRIBUTE_MESSAGE_INTEGRITY && type != STUN_ATTRIBUTE_FINGERPRINT)
            (void)stun_message_append_bytes(&m, (StunAttribute)type, data + i, len);
        i += len;
    }
    return stun_agent_finish_message(&ag, &m, (const uint8_t *)FUZZ_PWD, strlen(FUZZ_PWD));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fo_stun_t *s;
    if (!s && !(s = fo_stun_new())) abort();
    /* an open confirmation request of ours ("cliU:srvU", keyed by FUZZ_PWD) */
    uint8_t probe[512];
    fo_stun_probe_t tx = {0};
    int plen = fo_stun_probe_request(s, probe, sizeof probe, "cliU:srvU", FUZZ_PWD, 1, 2, &tx);
    if (plen <= 0) abort();
    /* A private copy of exactly `size` bytes so ASan sees any read past the end. */
    uint8_t *buf;
    if (size > 0 && (data[0] == 0xFF || data[0] == 0xFE)) {
        uint8_t tmp[2048];
        size_t n = data[0] == 0xFF ? resign(data, size, tmp, sizeof tmp, NULL, 0)
                                   : resign(data, size, tmp, sizeof tmp, probe, (size_t)plen);
        if (n == 0 || !(buf = malloc(n))) {
            fo_stun_probe_forget(s, &tx);
            return 0;
        }
        memcpy(buf, tmp, n);
        size = n;
    } else {
        buf = malloc(size ? size : 1);
        if (!buf) {
            fo_stun_probe_forget(s, &tx);
            return 0;
        }
        memcpy(buf, data, size);
    }
    fo_stun_class_t k = fo_stun_class(buf, size);
    if (k != FO_STUN_OTHER && !fo_stun_is_stun(buf, size)) abort();

    if (fo_stun_is_stun(buf, size)) {
        struct sockaddr_in a4;
        memset(&a4, 0, sizeof a4);
        a4.sin_family = AF_INET;
        a4.sin_port = htons(50000);
        a4.sin_addr.s_addr = htonl(0x7f000001);
        struct sockaddr_in6 a6;
        memset(&a6, 0, sizeof a6);
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons(50001);
        a6.sin6_addr.s6_addr[15] = 1;

        uint8_t reply[1500];
        size_t rlen = sizeof reply;
        fo_stun_check_t chk;
        int r = fo_stun_answer(s, buf, size, (struct sockaddr *)&a4, sizeof a4, pwd_cb, NULL,
                               reply, &rlen, &chk);
        if (r == 0 && (rlen == 0 || rlen > sizeof reply || !fo_stun_is_stun(reply, rlen))) abort();
        rlen = sizeof reply;
        (void)fo_stun_answer(s, buf, size, (struct sockaddr *)&a6, sizeof a6, pwd_cb, NULL, reply,
                             &rlen, &chk);
        rlen = sizeof reply;
        (void)fo_stun_answer_controlling(s, 1, buf, size, (struct sockaddr *)&a4, sizeof a4, pwd_cb,
                                         NULL, reply, &rlen);
        struct sockaddr_storage mapped;
        (void)fo_stun_check_response(s, buf, size, FUZZ_PWD, &mapped);
        /* only a success response can confirm; a confirmed request is closed */
        if (fo_stun_probe_response(s, &tx, buf, size, FUZZ_PWD) == 0 && (k != FO_STUN_RESPONSE || tx.open))
            abort();
    } else {
        /* Still must not crash nor answer. */
        uint8_t reply[64];
        size_t rlen = sizeof reply;
        struct sockaddr_in a4;
        memset(&a4, 0, sizeof a4);
        a4.sin_family = AF_INET;
        if (fo_stun_answer(s, buf, size, (struct sockaddr *)&a4, sizeof a4, pwd_cb, NULL, reply,
                           &rlen, NULL) == 0)
            abort();
    }
    fo_stun_probe_forget(s, &tx);
    if (fo_stun_probes_open(s) != 0) abort();
    free(buf);
    return 0;
}
