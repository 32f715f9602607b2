/* SPDX-License-Identifier: MIT */
/* The peer addresses of one transport, and the one place that decides where a session's DTLS
 * and media may go (issue 15, item 7). An address that sent a valid ICE check is held
 * (at most FO_PATHS_MAX; the router indexes exactly the held ones); it becomes *confirmed* when
 * it answers a Binding request we send it (RFC 7675 style: a fresh random transaction id,
 * USERNAME "<remote ufrag>:<our ufrag>", MESSAGE-INTEGRITY with the remote's ice-pwd, built
 * and checked by libnice through fo_stun_probe_*), or when its carrier vouches for it (a TCP
 * connection: fo_paths_check_t.confirmed; a controlling agent's own successful check:
 * fo_paths_confirm). Only a confirmed address is ever selected: an ICE check forged from
 * someone else's address (source spoofing) cannot steer anything there. Until confirmed an
 * address receives STUN only, and no more bytes than the valid checks it sent plus one
 * confirmation request. The selected address follows the newest nominated (USE-CANDIDATE)
 * one, as ICE says, as soon as that one is confirmed. Loop thread only. */
#ifndef FO_PATHS_H
#define FO_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/loop.h"
#include "fanout/stun.h"
#include "fanout/udp.h"

#define FO_PATHS_MAX 4
#define FO_PATHS_RTO_MS 100       /* first retransmission of a confirmation request; doubles */
#define FO_PATHS_RTO_MAX_MS 1600
#define FO_PATHS_TRIES 7          /* transmissions before giving up (~6 s) */
#define FO_PATHS_PROBES_PER_S 4   /* new confirmation requests per second (a burst of 4) */

typedef struct fo_paths fo_paths_t;

typedef struct {
    /* `addr` is held now (held) or was forgotten to make room for another (!held). */
    void (*on_address)(void *user, const fo_addr_t *addr, bool held);
    /* The selected address changed to `addr` (first: there was none before). */
    void (*on_selected)(void *user, const fo_addr_t *addr, bool first);
} fo_paths_cbs_t;

typedef struct {
    fo_loop_t *loop;
    fo_udp_t *udp;
    fo_stun_t *stun;     /* builds and checks the confirmation requests */
    uint64_t tie;        /* our ICE-CONTROLLED tie-breaker */
    uint64_t *probes;    /* optional totals every fo_paths_t adds to: requests sent, */
    uint64_t *confirmed; /* addresses confirmed, */
    uint64_t *refused;   /* STUN not sent to an unconfirmed address (over its byte budget) */
} fo_paths_env_t;

/* `remote_ufrag`/`remote_pwd`: the peer's ICE credentials from its offer; `local_ufrag`: ours
 * (copied). `env` and `log_ctx` must outlive the paths. NULL on allocation failure. */
fo_paths_t *fo_paths_new(const fo_paths_env_t *env, const char *local_ufrag,
                         const char *remote_ufrag, const char *remote_pwd,
                         const fo_paths_cbs_t *cbs, void *user, const char *log_ctx);
/* Closes open requests and frees; reports nothing (the owner unindexes fo_paths_addrs). */
void fo_paths_free(fo_paths_t *p);

typedef struct {
    bool nominated;        /* USE-CANDIDATE */
    bool confirmed;        /* the carrier vouches for the address: no request needed */
    size_t len;            /* bytes of the check (an unconfirmed address's budget grows by it) */
    const uint8_t *reply;  /* the success response to send back within that budget; NULL: none */
    size_t reply_len;
} fo_paths_check_t;

/* A valid ICE check from `from`: holds the address (evicting the stalest other one when full),
 * answers it, starts confirming it, and reselects. */
void fo_paths_on_check(fo_paths_t *p, const fo_addr_t *from, const fo_paths_check_t *c);
/* A STUN response from `from`: confirms the address when it answers its open request. Returns
 * 0 if it did, FO_ENOTFOUND if no request of ours matches, another negative code when forged
 * or refused (counted by the caller). */
int fo_paths_on_response(fo_paths_t *p, const fo_addr_t *from, const uint8_t *buf, size_t len);
/* Any other datagram from `from` (DTLS, SRTP) while connecting: it adds to an unconfirmed
 * address's budget, which may let a waiting retransmission of our request go. */
void fo_paths_on_datagram(fo_paths_t *p, const fo_addr_t *from, size_t len);
/* Marks a held address confirmed (e.g. a controlling agent's own check succeeded). */
void fo_paths_confirm(fo_paths_t *p, const fo_addr_t *addr);

/* The confirmed address to send DTLS and media to; NULL while none is. */
const fo_addr_t *fo_paths_selected(const fo_paths_t *p);
/* The address ICE would pick (newest nominated, else newest checked), confirmed or not; NULL
 * before any check. */
const fo_addr_t *fo_paths_wanted(const fo_paths_t *p);
/* Every held address. */
size_t fo_paths_addrs(const fo_paths_t *p, const fo_addr_t **out);
/* Whether `addr` is held and confirmed. */
bool fo_paths_is_confirmed(const fo_paths_t *p, const fo_addr_t *addr);

#endif
