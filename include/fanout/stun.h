/* SPDX-License-Identifier: MIT */
/* Thin adapter over libnice's STUN library (stun/stunagent.h, stun/usages/ice.h): validates and
 * answers ICE connectivity checks (server side, ICE-lite, controlled; and as a controlling full
 * agent for relays) and builds/reads checks (client side: relays, the test peer, the load tool). The only user of libnice.
 * One fo_stun_t per thread; it holds no per-session state. */
#ifndef FO_STUN_H
#define FO_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct fo_stun fo_stun_t;

/* First byte 0..3 (RFC 7983) and the STUN magic cookie. */
bool fo_stun_is_stun(const uint8_t *buf, size_t len);

/* Creates/frees an agent (RFC 5389, short-term credentials, FINGERPRINT). NULL on ENOMEM. */
fo_stun_t *fo_stun_new(void);
void fo_stun_free(fo_stun_t *s);

/* Asked during validation with the request's USERNAME ("ourUfrag:theirUfrag", not
 * NUL-terminated). Returns our ICE password for it (NUL-terminated, owned by the caller and alive
 * until fo_stun_answer returns), or NULL if no session has that username. */
typedef const char *(*fo_stun_pwd_cb)(void *user, const char *username, size_t len);

/* What a valid check told us. */
typedef struct {
    bool use_candidate; /* USE-CANDIDATE present (nomination) */
    uint32_t priority;  /* PRIORITY attribute, 0 if absent */
} fo_stun_check_t;

/* Validates a Binding request from `src` (USERNAME, MESSAGE-INTEGRITY with the password from
 * pwd_cb, FINGERPRINT) and writes the success response (XOR-MAPPED-ADDRESS = src,
 * MESSAGE-INTEGRITY, FINGERPRINT) to reply[0..*reply_len); *reply_len is the capacity on input.
 * Returns 0 (answer it), FO_EAUTH (unknown user or bad integrity: drop), FO_EINVAL (not a valid
 * request: drop; an error response may still have been written if *reply_len > 0). */
int fo_stun_answer(fo_stun_t *s, const uint8_t *req, size_t len, const struct sockaddr *src,
                   socklen_t srclen, fo_stun_pwd_cb pwd_cb, void *user, uint8_t *reply,
                   size_t *reply_len, fo_stun_check_t *check);

/* fo_stun_answer for a full agent in the controlling role (a relay, the WebRTC client of
 * another server, answering that server's checks): the same validation; a peer claiming the
 * controlling role too is settled by tie-breakers (RFC 8445 7.3.1.1): ours (`tie`) wins -> 487
 * in reply and FO_EINVAL; theirs wins -> no answer (we never change roles). */
int fo_stun_answer_controlling(fo_stun_t *s, const uint8_t *req, size_t len,
                               const struct sockaddr *src, socklen_t srclen, fo_stun_pwd_cb pwd_cb,
                               void *user, uint64_t tie, uint8_t *reply, size_t *reply_len);

/* A STUN message (fo_stun_is_stun) of the success- or error-response class. */
bool fo_stun_is_response(const uint8_t *buf, size_t len);

/* Client side: builds a Binding request with USERNAME `username` ("theirUfrag:ourUfrag"),
 * MESSAGE-INTEGRITY keyed by `pwd` (the remote's password), PRIORITY, ICE-CONTROLLING with
 * `tie` and USE-CANDIDATE when `nominate`. Returns the length, or a negative code. The agent
 * remembers the transaction so fo_stun_check_response can match it. */
int fo_stun_build_request(fo_stun_t *s, uint8_t *buf, size_t cap, const char *username,
                          const char *pwd, uint32_t priority, uint64_t tie, bool nominate);

/* Client side: validates a response to a request this agent built (integrity with `pwd`).
 * Returns 0 for a success response (and the mapped address if `mapped` is not NULL),
 * FO_EINVAL / FO_EAUTH otherwise. */
int fo_stun_check_response(fo_stun_t *s, const uint8_t *buf, size_t len, const char *pwd,
                           struct sockaddr_storage *mapped);

#endif
