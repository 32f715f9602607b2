/* SPDX-License-Identifier: MIT */
/* ICE connectivity checks through libnice's STUN library: the server side answers checks for an
 * ICE-lite (always controlled) agent and confirms peer addresses with Binding requests of its
 * own; the client side builds, reads and answers checks for the test peer and the load tool. No STUN encoding or decoding here: libnice parses, authenticates and builds.
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
 *    of a ring before the table can fill. The server's confirmation requests (fo_stun_probe_*)
 *    cannot forget any: they stay open until answered or given up, so they spread over a pool of
 *    agents that grows on demand, each kept below the table's size (finish_message would fail).
 *    libnice closes a transaction itself once a response to it authenticated (or is an error
 *    that needs no credentials); a forged response leaves it open.
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
/* Agents for the server's confirmation requests: each holds STUN_AGENT_MAX_SAVED_IDS open
 * transactions; the pool grows on demand up to FO_STUN_PROBES_MAX in all. */
#define PROBE_AGENTS_MAX (FO_STUN_PROBES_MAX / STUN_AGENT_MAX_SAVED_IDS)

struct fo_stun {
    StunAgent srv; /* answers checks (ICE-lite, controlled) */
    StunAgent cli; /* builds checks and validates their responses */
    StunTransactionId tx[FO_STUN_TX_RING];
    size_t n_tx; /* requests built so far; tx[n_tx % RING] is the next slot */
    StunAgent *probe[PROBE_AGENTS_MAX]; /* allocated on demand */
    uint16_t probe_open[PROBE_AGENTS_MAX]; /* transactions each holds */
    size_t n_probe, probes_open;
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

int fo_stun_username(const uint8_t *req, size_t len, const char **user, size_t *ulen)
{
    *user = NULL;
    *ulen = 0;
    if (!fo_stun_is_stun(req, len)) return FO_EINVAL;
    /* libnice's framing check (header, attribute lengths), then its attribute search: the
     * message is only read (stun_message_find takes the buffer through a const StunMessage). */
    if (stun_message_validate_buffer_length(req, len, true) != (int)len) return FO_EINVAL;
    StunMessage msg = {.buffer = (uint8_t *)req, .buffer_len = len};
    uint16_t n = 0;
    const void *u = stun_message_find(&msg, STUN_ATTRIBUTE_USERNAME, &n);
    if (!u || n == 0) return FO_EINVAL;
    *user = u;
    *ulen = n;
    return 0;
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
    if (!s) return;
    for (size_t i = 0; i < s->n_probe; i++) free(s->probe[i]);
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

/* Answers a check as the controlled (lite) or the controlling agent with tie-breaker `tie`. */
static int answer(fo_stun_t *s, bool controlling, uint64_t tie, const uint8_t *req, size_t len,
                  const struct sockaddr *src, socklen_t srclen, fo_stun_pwd_cb pwd_cb, void *user,
                  uint8_t *reply, size_t *reply_len, fo_stun_check_t *check)
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
        /* Includes the cases where libnice would have us switch roles (for the lite server: the
         * peer's ICE-CONTROLLED tie-breaker is 0): we cannot, so no answer. */
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
    return answer(s, false, 0, req, len, src, srclen, pwd_cb, user, reply, reply_len, check);
}

int fo_stun_answer_controlling(fo_stun_t *s, uint64_t tie, const uint8_t *req, size_t len,
                               const struct sockaddr *src, socklen_t srclen, fo_stun_pwd_cb pwd_cb,
                               void *user, uint8_t *reply, size_t *reply_len)
{
    return answer(s, true, tie, req, len, src, srclen, pwd_cb, user, reply, reply_len, NULL);
}

fo_stun_class_t fo_stun_class(const uint8_t *buf, size_t len)
{
    if (!fo_stun_is_stun(buf, len)) return FO_STUN_OTHER;
    StunMessage m;
    memset(&m, 0, sizeof m);
    m.buffer = (uint8_t *)buf; /* only read */
    m.buffer_len = len;
    switch (stun_message_get_class(&m)) {
    case STUN_REQUEST: return FO_STUN_REQUEST;
    case STUN_RESPONSE:
    case STUN_ERROR: return FO_STUN_RESPONSE;
    default: return FO_STUN_OTHER;
    }
}

/* --- the server's confirmation requests --- */

static void probe_closed(fo_stun_t *s, fo_stun_probe_t *tx)
{
    tx->open = false;
    s->probe_open[tx->agent]--;
    s->probes_open--;
}

int fo_stun_probe_request(fo_stun_t *s, uint8_t *buf, size_t cap, const char *username,
                          const char *pwd, uint32_t priority, uint64_t tie, fo_stun_probe_t *tx)
{
    if (!username || !pwd || !*username || !*pwd || tx->open) return FO_EINVAL;
    size_t a = 0;
    while (a < s->n_probe && s->probe_open[a] >= STUN_AGENT_MAX_SAVED_IDS) a++;
    if (a == s->n_probe) {
        if (a == PROBE_AGENTS_MAX) return FO_EFULL;
        if (!(s->probe[a] = calloc(1, sizeof *s->probe[a]))) return FO_ENOMEM;
        /* FORCE_VALIDATER: the response is checked against the password the caller passes
         * then, never against the pointer libnice stored with the transaction. */
        stun_agent_init(s->probe[a], known_attrs, STUN_COMPATIBILITY_RFC5389,
                        STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT |
                            STUN_AGENT_USAGE_FORCE_VALIDATER);
        s->n_probe++;
    }
    StunMessage msg;
    size_t n = stun_usage_ice_conncheck_create(
        s->probe[a], &msg, buf, cap, (const uint8_t *)username, strlen(username),
        (const uint8_t *)pwd, strlen(pwd), false, false, priority, tie, NULL,
        STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    if (n == 0) return FO_ETOOBIG;
    stun_message_id(&msg, tx->id);
    tx->agent = (uint16_t)a;
    tx->open = true;
    s->probe_open[a]++;
    s->probes_open++;
    return (int)n;
}

int fo_stun_probe_response(fo_stun_t *s, fo_stun_probe_t *tx, const uint8_t *buf, size_t len,
                           const char *pwd)
{
    if (!tx->open) return FO_ENOTFOUND;
    if (fo_stun_class(buf, len) != FO_STUN_RESPONSE) return FO_EINVAL;
    StunMessage msg;
    memset(&msg, 0, sizeof msg);
    msg.buffer = (uint8_t *)buf;
    msg.buffer_len = len;
    StunTransactionId id;
    stun_message_id(&msg, id);
    if (memcmp(id, tx->id, sizeof id) != 0) return FO_ENOTFOUND;
    fo_stun_vctx_t v = {.pwd = pwd};
    StunValidationStatus st = stun_agent_validate(s->probe[tx->agent], &msg, buf, len, cli_validater_cb, &v);
    /* libnice closes the transaction once a response authenticated (or is an error that needs
     * no credentials): its SUCCESS and UNKNOWN_ATTRIBUTE outcomes. */
    if (st != STUN_VALIDATION_SUCCESS && st != STUN_VALIDATION_UNKNOWN_ATTRIBUTE)
        return st == STUN_VALIDATION_UNAUTHORIZED ? FO_EAUTH : FO_EINVAL;
    probe_closed(s, tx);
    if (st != STUN_VALIDATION_SUCCESS || stun_message_get_class(&msg) != STUN_RESPONSE || !msg.key)
        return FO_EINVAL;
    return 0;
}

void fo_stun_probe_forget(fo_stun_t *s, fo_stun_probe_t *tx)
{
    if (!tx->open) return;
    stun_agent_forget_transaction(s->probe[tx->agent], tx->id);
    probe_closed(s, tx);
}

size_t fo_stun_probes_open(const fo_stun_t *s) { return s->probes_open; }

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
