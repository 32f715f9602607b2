/* SPDX-License-Identifier: MIT */
/* ICE connectivity checks through libnice's STUN library: the server side answers checks for an
 * ICE-lite (always controlled) agent, the client side builds and reads checks for the test peer
 * and the load tool. No STUN encoding or decoding here: libnice parses, authenticates and builds.
 * What libnice does behind the API, and how this file copes with it:
 *  - stun_agent_validate() keeps pointers into the request buffer (StunMessage.buffer) and to the
 *    password the validater returned (StunMessage.key); create_reply copies that key pointer into
 *    the response and HMACs with it. So the request buffer and the password must stay alive until
 *    the reply is finished: both are the caller's and alive for the whole fo_stun_answer() call.
 *    validate() does not write into the buffer (RFC 5389 mode), so a const request is fine.
 *  - stun_agent_finish_message() remembers each request's transaction id and a *pointer* to its
 *    key in a fixed table of STUN_AGENT_MAX_SAVED_IDS slots; lost responses never free theirs.
 *    The client agent therefore uses FORCE_VALIDATER (the stored key pointer is never used: the
 *    password comes from fo_stun_check_response's argument) and forgets the oldest transaction
 *    of a ring before the table can fill.
 *  - Role conflict (RFC 8445 7.3.1.1), as libnice 0.1.21 does it (checked by test_stun): with
 *    control=false, create_reply looks only for ICE-CONTROLLED in the request. If our tie-breaker
 *    is >= the peer's it flips *control to true and writes a success response; otherwise it
 *    writes a 487 error response; both return STUN_USAGE_ICE_RETURN_ROLE_CONFLICT (older
 *    libnice returned SUCCESS with the 487 and had the comparison the other way round). A lite
 *    agent cannot become controlling, so we pass tie = 0: a peer claiming to be controlled gets
 *    487 (FO_EINVAL with the error in `reply`), which tells it to take the controlling role; the
 *    one value that would flip us (peer tie 0) gets no answer. We tell the cases apart by the
 *    class of the message written, not by the return value, so both libnice variants work.
 *    A peer sending ICE-CONTROLLING (the normal case against a lite agent) is answered.
 *  - Comprehension-optional attributes (type >= 0x8000, e.g. Chrome's GOOG-NETWORK-INFO 0xC057)
 *    are never "unknown" to libnice; unknown comprehension-required ones get a 420 error. */
#include "fanout/stun.h"

#include <stdlib.h>
#include <string.h>

#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include "fanout/common.h"
#include "fanout/log.h"

#define FO_STUN_COOKIE 0x2112A442u
#define FO_STUN_HDR 20
#define FO_STUN_GOOG_NETWORK_INFO 0xC057

/* Zero-terminated, as libnice wants; it is never written to, but libnice's field is not const. */
static uint16_t known_attrs[] = {
    STUN_ATTRIBUTE_USERNAME,       STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
    STUN_ATTRIBUTE_FINGERPRINT,    STUN_ATTRIBUTE_PRIORITY,
    STUN_ATTRIBUTE_USE_CANDIDATE,  STUN_ATTRIBUTE_ICE_CONTROLLING,
    STUN_ATTRIBUTE_ICE_CONTROLLED, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
    STUN_ATTRIBUTE_MAPPED_ADDRESS, STUN_ATTRIBUTE_ERROR_CODE,
    STUN_ATTRIBUTE_SOFTWARE,       FO_STUN_GOOG_NETWORK_INFO,
    0,
};

/* Transactions the client agent may have outstanding before the oldest is forgotten. */
#define FO_STUN_TX_RING 128

struct fo_stun {
    StunAgent srv; /* answers checks (ICE-lite, controlled) */
    StunAgent cli; /* builds checks and validates their responses */
    StunTransactionId tx[FO_STUN_TX_RING];
    size_t n_tx; /* requests built so far; tx[n_tx % RING] is the next slot */
};

/* What the validater callbacks need. */
typedef struct {
    fo_stun_pwd_cb pwd_cb;
    void *user;
    const char *pwd; /* client side: fixed password */
    bool unknown_user;
} fo_stun_vctx_t;

bool fo_stun_is_stun(const uint8_t *buf, size_t len)
{
    if (len < FO_STUN_HDR || buf[0] > 3) return false;
    uint32_t cookie = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
    return cookie == FO_STUN_COOKIE;
}

fo_stun_t *fo_stun_new(void)
{
    fo_stun_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    /* libnice's STUN debug output goes to stderr unless disabled; we log ourselves. */
    stun_debug_disable();
    stun_agent_init(&s->srv, known_attrs, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
    stun_agent_init(&s->cli, known_attrs, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT |
                        STUN_AGENT_USAGE_FORCE_VALIDATER);
    return s;
}

void fo_stun_free(fo_stun_t *s)
{
    free(s);
}

/* Server validater: maps USERNAME to our password through the caller's callback. */
static bool srv_validater_cb(StunAgent *agent, StunMessage *msg, uint8_t *username,
                             uint16_t username_len, uint8_t **password, size_t *password_len,
                             void *data)
{
    (void)agent;
    (void)msg;
    fo_stun_vctx_t *v = data;
    if (!username || username_len == 0) {
        v->unknown_user = true;
        return false;
    }
    const char *pwd = v->pwd_cb(v->user, (const char *)username, username_len);
    if (!pwd) {
        v->unknown_user = true;
        return false;
    }
    *password = (uint8_t *)pwd;
    *password_len = strlen(pwd);
    return true;
}

/* Client validater: the response is keyed by the remote's password, whatever USERNAME says. */
static bool cli_validater_cb(StunAgent *agent, StunMessage *msg, uint8_t *username,
                             uint16_t username_len, uint8_t **password, size_t *password_len,
                             void *data)
{
    (void)agent;
    (void)msg;
    (void)username;
    (void)username_len;
    fo_stun_vctx_t *v = data;
    *password = (uint8_t *)v->pwd;
    *password_len = strlen(v->pwd);
    return true;
}

/* Maps a validation failure of a request; may write an error response (420 only: 400/401 to
 * strangers would make us a reflector for unauthenticated traffic). */
static int srv_validation_error(fo_stun_t *s, StunValidationStatus st, StunMessage *req,
                                uint8_t *reply, size_t *reply_len)
{
    size_t cap = *reply_len;
    *reply_len = 0;
    switch (st) {
    case STUN_VALIDATION_UNAUTHORIZED:
    case STUN_VALIDATION_UNAUTHORIZED_BAD_REQUEST: return FO_EAUTH;
    case STUN_VALIDATION_UNKNOWN_REQUEST_ATTRIBUTE: {
        /* The request authenticated (unknowns are checked last), so answering is safe. */
        StunMessage err;
        *reply_len = stun_agent_build_unknown_attributes_error(&s->srv, &err, reply, cap, req);
        return FO_EINVAL;
    }
    default: return FO_EINVAL;
    }
}

/* Validates and answers a check as an agent of the given role (see the header comment). */
static int answer(fo_stun_t *s, const uint8_t *req, size_t len, const struct sockaddr *src,
                  socklen_t srclen, fo_stun_pwd_cb pwd_cb, void *user, bool controlling,
                  uint64_t tie, uint8_t *reply, size_t *reply_len, fo_stun_check_t *check)
{
    if (check) memset(check, 0, sizeof *check);
    if (!fo_stun_is_stun(req, len) || !src || srclen > sizeof(struct sockaddr_storage)) {
        *reply_len = 0;
        return FO_EINVAL;
    }
    fo_stun_vctx_t v = {.pwd_cb = pwd_cb, .user = user};
    StunMessage msg;
    StunValidationStatus st = stun_agent_validate(&s->srv, &msg, req, len, srv_validater_cb, &v);
    if (st != STUN_VALIDATION_SUCCESS) {
        if (st == STUN_VALIDATION_NOT_STUN || st == STUN_VALIDATION_INCOMPLETE_STUN) {
            *reply_len = 0;
            return FO_EINVAL;
        }
        return srv_validation_error(s, st, &msg, reply, reply_len);
    }
    if (stun_message_get_class(&msg) != STUN_REQUEST ||
        stun_message_get_method(&msg) != STUN_BINDING) {
        *reply_len = 0;
        return FO_EINVAL;
    }
    /* A Binding request without MESSAGE-INTEGRITY validates with no key at all: refuse. */
    if (!msg.key) {
        *reply_len = 0;
        return FO_EAUTH;
    }

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, src, srclen);
    bool control = controlling;
    StunMessage resp;
    size_t rlen = *reply_len;
    StunUsageIceReturn r = stun_usage_ice_conncheck_create_reply(
        &s->srv, &msg, &resp, reply, &rlen, &ss, srclen, &control, tie,
        STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    *reply_len = rlen;
    if (rlen > 0 && stun_message_get_class(&resp) == STUN_ERROR) {
        /* 487 Role Conflict: the peer claims our role and loses the tie (see the header). */
        FO_LOG(FO_LOG_DEBUG, "stun", "role conflict: answering 487");
        return FO_EINVAL;
    }
    if (r != STUN_USAGE_ICE_RETURN_SUCCESS || control != controlling || rlen == 0) {
        /* Includes the cases where libnice would have us switch roles: we never do (a lite
         * agent cannot control; a relay's peer answered its offer and is controlled). */
        FO_LOG(FO_LOG_DEBUG, "stun", "no conncheck reply: libnice says %d", (int)r);
        *reply_len = 0;
        return FO_EINVAL;
    }
    if (check) {
        check->use_candidate = stun_usage_ice_conncheck_use_candidate(&msg);
        check->priority = stun_usage_ice_conncheck_priority(&msg);
    }
    return 0;
}

int fo_stun_answer(fo_stun_t *s, const uint8_t *req, size_t len, const struct sockaddr *src,
                   socklen_t srclen, fo_stun_pwd_cb pwd_cb, void *user, uint8_t *reply,
                   size_t *reply_len, fo_stun_check_t *check)
{
    /* A lite agent is always controlled; tie 0 (see the header comment). */
    return answer(s, req, len, src, srclen, pwd_cb, user, false, 0, reply, reply_len, check);
}

int fo_stun_answer_controlling(fo_stun_t *s, const uint8_t *req, size_t len,
                               const struct sockaddr *src, socklen_t srclen, fo_stun_pwd_cb pwd_cb,
                               void *user, uint64_t tie, uint8_t *reply, size_t *reply_len)
{
    return answer(s, req, len, src, srclen, pwd_cb, user, true, tie, reply, reply_len, NULL);
}

bool fo_stun_is_response(const uint8_t *buf, size_t len)
{
    /* class bits C1 (0x0100) and C0 (0x0010) of the type: 10 success, 11 error response */
    return fo_stun_is_stun(buf, len) && (buf[0] & 0x01) != 0;
}

int fo_stun_build_request(fo_stun_t *s, uint8_t *buf, size_t cap, const char *username,
                          const char *pwd, uint32_t priority, uint64_t tie, bool nominate)
{
    if (!username || !pwd || !*username || !*pwd) return FO_EINVAL;
    /* Keep libnice's table of outstanding transactions from filling with lost ones. */
    if (s->n_tx >= FO_STUN_TX_RING) {
        stun_agent_forget_transaction(&s->cli, s->tx[s->n_tx % FO_STUN_TX_RING]);
    }
    StunMessage msg;
    /* The stored key pointer is never used (FORCE_VALIDATER), so `pwd` need not outlive this. */
    size_t n = stun_usage_ice_conncheck_create(
        &s->cli, &msg, buf, cap, (const uint8_t *)username, strlen(username),
        (const uint8_t *)pwd, strlen(pwd), nominate, true, priority, tie, NULL,
        STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    if (n == 0) return FO_ETOOBIG;
    stun_message_id(&msg, s->tx[s->n_tx % FO_STUN_TX_RING]);
    s->n_tx++;
    return (int)n;
}

int fo_stun_check_response(fo_stun_t *s, const uint8_t *buf, size_t len, const char *pwd,
                           struct sockaddr_storage *mapped)
{
    if (!fo_stun_is_stun(buf, len) || !pwd) return FO_EINVAL;
    fo_stun_vctx_t v = {.pwd = pwd};
    StunMessage msg;
    StunValidationStatus st = stun_agent_validate(&s->cli, &msg, buf, len, cli_validater_cb, &v);
    switch (st) {
    case STUN_VALIDATION_SUCCESS: break;
    case STUN_VALIDATION_UNAUTHORIZED:
    case STUN_VALIDATION_UNAUTHORIZED_BAD_REQUEST: return FO_EAUTH;
    default: return FO_EINVAL;
    }
    if (stun_message_get_class(&msg) != STUN_RESPONSE) return FO_EINVAL;
    /* A success response must carry MESSAGE-INTEGRITY: validate() accepts one without. */
    if (!msg.key) return FO_EAUTH;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    if (stun_usage_ice_conncheck_process(&msg, &ss, &sslen, STUN_USAGE_ICE_COMPATIBILITY_RFC5245) !=
        STUN_USAGE_ICE_RETURN_SUCCESS)
        return FO_EINVAL;
    if (mapped) *mapped = ss;
    return 0;
}
