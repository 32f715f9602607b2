/* SPDX-License-Identifier: MIT */
/* Thin adapter over libnice's STUN library (stun/stunagent.h, stun/usages/ice.h): validates and
 * answers ICE connectivity checks (server side, ICE-lite, controlled; or as the controlling side
 * for relays, the test peer and the load tool), builds/reads checks (client side), and builds/reads the
 * server's own Binding requests that confirm a peer address before media goes there (RFC 7675
 * style: fo_stun_probe_*). The only user of libnice. One fo_stun_t per thread; it holds no
 * per-session state, only libnice's tables of the transactions it originated. */
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

/* The same for an agent in the controlling role (a relay, the WebRTC client of another server,
 * answering that server's checks; the test peer and the load tool answering the server's
 * confirmation requests). A peer claiming the controlling role too is settled by tie-breakers
 * (RFC 8445 7.3.1.1): ours (`tie`) wins -> a 487 error response in reply and FO_EINVAL; theirs
 * wins -> no answer (we never change roles). */
int fo_stun_answer_controlling(fo_stun_t *s, uint64_t tie, const uint8_t *req, size_t len,
                               const struct sockaddr *src, socklen_t srclen, fo_stun_pwd_cb pwd_cb,
                               void *user, uint8_t *reply, size_t *reply_len);

typedef enum { FO_STUN_OTHER = 0, FO_STUN_REQUEST, FO_STUN_RESPONSE } fo_stun_class_t;
/* The class of a STUN message (first byte 0..3, magic cookie): a request, a success or error
 * response, or anything else (indications, not STUN). Reads the header only. */
fo_stun_class_t fo_stun_class(const uint8_t *buf, size_t len);

/* --- Address confirmation: Binding requests the server originates ---
 * A request with a fresh random transaction id (libnice's), sent as the controlled agent:
 * USERNAME "<remote ufrag>:<our ufrag>", PRIORITY, ICE-CONTROLLED, MESSAGE-INTEGRITY keyed by
 * the remote's ice-pwd, FINGERPRINT. The transaction stays open in one of a pool of libnice
 * agents (each holds STUN_AGENT_MAX_SAVED_IDS) until a valid response or fo_stun_probe_forget;
 * retransmissions resend the same bytes (RFC 5389 7.2.1). */
typedef struct {
    uint8_t id[16];  /* libnice's StunTransactionId (cookie + 96 random bits) */
    uint16_t agent;  /* which agent of the pool remembers it */
    bool open;
} fo_stun_probe_t;

/* Builds such a request into buf and opens its transaction in *tx (which must not be open).
 * Returns the length, FO_EFULL (FO_STUN_PROBES_MAX transactions open: try later), FO_ENOMEM,
 * FO_ETOOBIG or FO_EINVAL. */
#define FO_STUN_PROBES_MAX 12800
int fo_stun_probe_request(fo_stun_t *s, uint8_t *buf, size_t cap, const char *username,
                          const char *pwd, uint32_t priority, uint64_t tie, fo_stun_probe_t *tx);
/* Whether buf is a success response to the open transaction tx whose MESSAGE-INTEGRITY
 * verifies with `pwd`: 0 (the transaction is closed), FO_ENOTFOUND (not this transaction),
 * FO_EAUTH / FO_EINVAL otherwise: a forged or malformed response leaves it open, an
 * authenticated error response (e.g. 487) closes it (tx->open says which). Checks nothing
 * about where buf came from: the caller matches the source address. */
int fo_stun_probe_response(fo_stun_t *s, fo_stun_probe_t *tx, const uint8_t *buf, size_t len,
                           const char *pwd);
/* Closes tx (given up, confirmed otherwise, or its owner goes away). No-op when not open. */
void fo_stun_probe_forget(fo_stun_t *s, fo_stun_probe_t *tx);
/* Transactions open now. */
size_t fo_stun_probes_open(const fo_stun_t *s);

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
