/* SPDX-License-Identifier: MIT */
/* One peer's transport: the paths that passed ICE checks (addresses on the shared UDP port, or
 * ICE-TCP connections) and the one we send to (paths.h: the newest nominated one that is
 * confirmed to be really the peer's), consent freshness, a cap on the checks it answers, the
 * DTLS handshake (we are the server) and the SRTP contexts it keys. Gets datagrams already
 * demultiplexed to it by the router, from either carrier; hands decrypted RTP/RTCP to its
 * owner through callbacks. Nothing above it knows which carrier a packet took. Owner: the loop
 * thread. */
#ifndef FO_TRANSPORT_H
#define FO_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/dtls.h"
#include "fanout/loop.h"
#include "fanout/paths.h"
#include "fanout/stun.h"
#include "fanout/tcp.h"
#include "fanout/udp.h"
#include "fanout/workers.h"

#define FO_TRANSPORT_MAX_ADDRS FO_PATHS_MAX
/* ICE checks answered per second and session (a one-second burst); more are dropped and
 * counted. Browsers send a few per second while connecting, one every 1-5 s after. */
#define FO_TRANSPORT_CHECKS_PER_S 50

typedef struct fo_transport fo_transport_t;

typedef enum {
    FO_TS_NEW = 0,     /* waiting for the first valid ICE check */
    FO_TS_CHECKED,     /* ICE ok; DTLS handshake running once an address is confirmed */
    FO_TS_CONNECTED,   /* SRTP ready */
    FO_TS_CLOSED,
} fo_transport_state_t;

/* Callbacks to the owner; buffers are valid only during the call. on_closed is called at most
 * once; the owner frees the transport later, at a safe point (not inside the callback). */
typedef struct {
    void (*on_connected)(void *user);
    void (*on_rtp)(void *user, uint8_t *buf, size_t len);
    void (*on_rtcp)(void *user, uint8_t *buf, size_t len);
    void (*on_closed)(void *user, const char *reason);
    /* The set of peer UDP addresses changed: `addr` passed an ICE check on the UDP port and is
     * ours now (held), or it was forgotten to make room for another (!held). The router
     * indexes exactly the addresses held: every address reported held is reported !held
     * before it leaves, except those still held when the transport is freed (the owner
     * unindexes the UDP ones of fo_transport_paths). TCP connections need no index: they
     * know their transport. */
    void (*on_address)(void *user, const fo_addr_t *addr, bool held);
    /* The path was congested (fo_transport_congested) and can take more again. */
    void (*on_writable)(void *user);
} fo_transport_cbs_t;

/* Totals every transport adds to (for the router's counters and /metrics). */
typedef struct {
    uint64_t rx_rate_dropped;  /* datagrams over max_pps */
    uint64_t checks_limited;   /* ICE checks over FO_TRANSPORT_CHECKS_PER_S, not answered */
    uint64_t probes;           /* confirmation requests sent (paths.h) */
    uint64_t confirmed;        /* addresses confirmed */
    uint64_t refused;          /* STUN not sent to an unconfirmed address (over its budget) */
} fo_transport_totals_t;

typedef struct {
    fo_loop_t *loop;
    fo_udp_t *udp;           /* NULL with UDP media off */
    fo_tcp_t *tcp;           /* NULL with ICE-TCP off */
    uint8_t *scratch;        /* FO_UDP_BUF bytes: the slot when no path can take a packet */
    fo_dtls_ctx_t *dtls;
    fo_workers_t *workers;   /* NULL: the loop protects and sends everything */
    int consent_timeout_ms;
    int pending_timeout_ms;
    int max_pps;                 /* datagrams/s accepted from the peer (token bucket); 0 = no cap */
    fo_transport_totals_t *totals; /* optional */
    fo_paths_env_t paths;        /* address confirmation (its totals point into `totals`); its
                                  * stun also builds and reads the client role's checks, its udp
                                  * is the env's udp */
} fo_transport_env_t;

/* The peer's ICE credentials from its offer and our ufrag, for the Binding requests that
 * confirm its addresses. */
typedef struct {
    const char *local_ufrag, *remote_ufrag, *remote_pwd;
} fo_transport_ice_t;

/* fp_alg/fp: the remote DTLS fingerprint from its offer. `env` must outlive the transport;
 * strings are copied. log_ctx prefixes log lines (session id) and must outlive it. NULL on
 * failure. */
fo_transport_t *fo_transport_new(const fo_transport_env_t *env, const char *fp_alg,
                                 const char *fp, const fo_transport_ice_t *ice,
                                 const fo_transport_cbs_t *cbs, void *user, const char *log_ctx);
void fo_transport_free(fo_transport_t *t);

/* The client role (a relay pulling from or pushing to another server): we are the controlling
 * full ICE agent: checks (USE-CANDIDATE, i.e. aggressive nomination, as against an ICE-lite
 * server) to each remote candidate every 50 ms until one answers with a valid success response:
 * that proves the address, which paths.h holds as confirmed and selects (our own check is the
 * confirmation, so no Binding request of the controlled kind goes out); then a check every
 * check_ms as consent (RFC 7675: consent_timeout_ms without a response ends the transport), and
 * incoming checks answered as the controlling agent. Then DTLS as the client (the server if the
 * remote's answer said a=setup:active), and SRTP as usual; nothing but STUN goes anywhere
 * before that answer, nothing is taken from another address after it. The env's udp (and its
 * paths.udp) is the relay's own socket: the shared port cannot tell two sessions with one remote
 * address apart, and two relays between the same pair of nodes would have one; so the router
 * does not index a client transport's address (on_address is not called). */
typedef struct {
    char local_ufrag[16];
    char local_pwd[40];
    char remote_ufrag[64];
    char remote_pwd[128];
    fo_addr_t cands[FO_TRANSPORT_MAX_ADDRS]; /* the remote's candidates, best first */
    size_t n_cands;
    uint64_t tie;                /* our ICE tie-breaker */
    bool dtls_server;            /* the remote is the DTLS client (a=setup:active) */
    int check_ms;                /* consent check period once connected */
} fo_transport_client_t;

fo_transport_t *fo_transport_new_client(const fo_transport_env_t *env, const char *fp_alg,
                                        const char *fp, const fo_transport_client_t *cli,
                                        const fo_transport_cbs_t *cbs, void *user,
                                        const char *log_ctx);
/* Client role: a STUN message from the network on the relay's socket (a response to our checks,
 * or a check from the remote, answered as the controlling agent). Server transports ignore it
 * (the router answers their checks and hands them responses: fo_transport_on_stun_response). */
void fo_transport_on_stun(fo_transport_t *t, const uint8_t *buf, size_t len, const fo_addr_t *from);
bool fo_transport_is_client(const fo_transport_t *t);

/* The router validated an ICE check for us on `path` (c->reply is its answer, sent from here
 * within the rules of paths.h; a TCP path is confirmed by its connection). A TCP path's
 * connection is bound to this transport from then on (it is closed with the transport, or when
 * it makes room for a newer path). At most FO_TRANSPORT_CHECKS_PER_S are taken per second. */
void fo_transport_on_check(fo_transport_t *t, const fo_path_t *path, const fo_paths_check_t *c);
/* A STUN response from one of our UDP addresses: it may confirm the address (paths.h), or, in
 * the client role, answer one of our own checks (whose success confirms the candidate it came
 * from: we are the controlling agent and that check proves the address). Returns 0 when it was
 * either, else negative (not ours, forged or refused). */
int fo_transport_on_stun_response(fo_transport_t *t, const fo_addr_t *from, const uint8_t *buf,
                                  size_t len);
/* An ICE restart: the peer's new credentials and our new ufrag, for the Binding requests that
 * confirm addresses from now on. */
int fo_transport_set_ice(fo_transport_t *t, const fo_transport_ice_t *ice);
/* A non-STUN datagram from one of our paths (DTLS, SRTP or SRTCP); decrypted in place. */
void fo_transport_on_datagram(fo_transport_t *t, uint8_t *buf, size_t len, const fo_path_t *path);

fo_transport_state_t fo_transport_state(const fo_transport_t *t);
static inline bool fo_transport_ready(const fo_transport_t *t)
{
    return fo_transport_state(t) == FO_TS_CONNECTED;
}
/* The path we send to (confirmed); NULL before one is (or when its connection closed). */
const fo_path_t *fo_transport_path(const fo_transport_t *t);
/* Its address, else the one ICE wants while it is being confirmed; NULL before any check. */
const fo_addr_t *fo_transport_addr(const fo_transport_t *t);
/* All paths that passed a check (the router unindexes the UDP ones when freeing). */
size_t fo_transport_paths(const fo_transport_t *t, const fo_path_t **out);
/* Whether the path we send on is backed up (an ICE-TCP connection over its queue's soft
 * limit): a sender should skip what it can (whole video frames) until on_writable. */
bool fo_transport_congested(const fo_transport_t *t);

/* Zero-copy send: write a plaintext RTP/RTCP packet into the slot from fo_transport_slot, then
 * commit it: it is protected in place and queued to the peer. Returns 0, FO_EAGAIN (not
 * connected, or the send worker's queue or the TCP connection's queue is full: dropped) or
 * FO_ECRYPTO. With send workers a transport connected over UDP has its slot in its worker's
 * queue, which protects and sends it there; over TCP the loop protects into the connection's
 * queue (docs/workers.md). */
uint8_t *fo_transport_slot(fo_transport_t *t, size_t *cap);
int fo_transport_commit_rtp(fo_transport_t *t, uint8_t *slot, size_t len);
int fo_transport_commit_rtcp(fo_transport_t *t, uint8_t *slot, size_t len);
/* Copying variant for RTCP built elsewhere. */
int fo_transport_send_rtcp(fo_transport_t *t, const uint8_t *buf, size_t len);
/* Sends what is queued now. Packets are batched and the batch goes out after each read of the
 * socket; code that sends from a timer (feedback, keyframe requests) calls this so its packets
 * do not wait for the next incoming datagram. */
void fo_transport_flush(fo_transport_t *t);

/* Sends DTLS close_notify if connected and marks the transport closed (no callback). */
void fo_transport_close(fo_transport_t *t);

typedef struct {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
    uint64_t rx_dropped;  /* failed SRTP auth, replay, unexpected, over the rate cap */
    uint64_t rx_rate_dropped; /* of which over env->max_pps */
    uint64_t checks_limited;  /* ICE checks over FO_TRANSPORT_CHECKS_PER_S */
    uint64_t tx_dropped;  /* packets a full TCP queue refused */
    uint64_t created_ms, connected_ms, last_check_ms;
} fo_transport_stats_t;
const fo_transport_stats_t *fo_transport_stats(const fo_transport_t *t);

#endif
