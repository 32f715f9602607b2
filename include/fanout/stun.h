/* SPDX-License-Identifier: MIT */
/* Thin adapter over libnice's STUN library (stun/stunagent.h, stun/usages/ice.h): validates and
 * answers ICE connectivity checks (server side, ICE-lite, controlled) and builds/reads checks
 * (client side, for the test peer and the load tool). The only user of libnice.
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

/* The USERNAME of a STUN message ("ourUfrag:theirUfrag", not NUL-terminated), pointing into
 * `req`, found by libnice's framing check and attribute search alone: no FINGERPRINT or
 * MESSAGE-INTEGRITY is checked, so a caller can drop checks for unknown users before paying for
 * those (a flood of them costs a table lookup). Returns 0 or FO_EINVAL. Pure; any thread. */
int fo_stun_username(const uint8_t *req, size_t len, const char **user, size_t *ulen);

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
