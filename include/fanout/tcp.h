/* SPDX-License-Identifier: MIT */
/* The ICE-TCP carrier (RFC 6544 passive candidates, RFC 4571 framing): listening sockets,
 * accepted connections, their frames in and a bounded write queue out. A connection is a way
 * for datagrams to reach the router's demultiplexer and to leave a transport; it knows nothing
 * of ICE, DTLS or SRTP. A connection starts "pending" (unowned); the first valid ICE check on
 * it binds it to a transport (its owner). Pending connections are capped and time out; at the
 * cap the oldest is closed. A listener may sniff (one-port mode): a connection whose first
 * bytes are a TLS record is handed to the HTTPS server, one that starts with a framed STUN
 * message stays here, anything else is closed. Owned by one loop thread; so is everything here. */
#ifndef FO_TCP_H
#define FO_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fanout/loop.h"
#include "fanout/udp.h"

typedef struct fo_tcp fo_tcp_t;
typedef struct fo_tcp_conn fo_tcp_conn_t;

/* Per-connection write queue (bytes of framed datagrams not yet taken by the kernel). */
#define FO_TCP_QUEUE_SOFT (64 * 1024)  /* over this the connection is congested */
#define FO_TCP_QUEUE_HARD (256 * 1024) /* nothing more is queued: dropped and counted */
#define FO_TCP_QUEUE_LOW (16 * 1024)   /* a congested connection is writable again below this */
#define FO_TCP_SNDBUF (128 * 1024)     /* SO_SNDBUF of media connections: bounds the kernel's
                                          share of a slow reader's latency */

typedef struct {
    /* A frame arrived on `c`: buf[0..len) is writable (decrypt in place), len <= FO_UDP_BUF.
     * The callee may close `c`. */
    void (*on_frame)(void *user, fo_tcp_conn_t *c, uint8_t *buf, size_t len);
    /* The frames of one read have been delivered: send what they caused. */
    void (*on_batch_end)(void *user);
} fo_tcp_cbs_t;

/* What a connection's owner (a transport) is told. Both optional. */
typedef struct {
    /* `c` is closing (peer closed or reset, error, or closed by the server): forget it. Not
     * called when the owner closes it itself with fo_tcp_conn_close. */
    void (*closed)(void *owner, fo_tcp_conn_t *c);
    /* A congested connection's queue fell under FO_TCP_QUEUE_LOW. */
    void (*writable)(void *owner, fo_tcp_conn_t *c);
} fo_tcp_owner_cbs_t;

/* A sniffing listener's TLS connections: `fd` (non-blocking, nothing read from it yet) is the
 * callee's from now on, even when it fails. */
typedef void (*fo_tcp_tls_cb)(void *user, int fd, const struct sockaddr *sa, socklen_t salen);

typedef struct {
    uint64_t accepted;        /* connections accepted (media and sniffed) */
    uint64_t tls_handed_over; /* sniffed TLS connections given to HTTPS */
    uint64_t refused;         /* closed at once: over the cap, accept() out of descriptors */
    uint64_t evicted;         /* pending ones closed to make room */
    uint64_t timed_out;       /* pending ones closed for sending no valid ICE check in time */
    uint64_t garbage;         /* closed for sending what is neither STUN nor TLS first */
    uint64_t rx_frames, rx_bytes, rx_oversized; /* oversized: longer than FO_UDP_BUF, skipped */
    uint64_t tx_frames, tx_bytes;
    uint64_t tx_writes;       /* sendmsg calls that took bytes (each carries a queue's frames) */
    uint64_t tx_dropped;      /* frames refused by a full queue (over FO_TCP_QUEUE_HARD) */
    uint64_t pending, bound;  /* connections now: waiting for their first check / owned */
} fo_tcp_stats_t;

/* A carrier without listeners. max_pending: connections waiting for their first valid ICE check
 * (the oldest is closed beyond it); pending_timeout_ms: how long one may wait. NULL on ENOMEM. */
fo_tcp_t *fo_tcp_new(fo_loop_t *loop, const fo_tcp_cbs_t *cbs, void *user, int max_pending,
                     int pending_timeout_ms);
/* Closes every connection (owners are not told: free them first) and the listeners. */
void fo_tcp_free(fo_tcp_t *tcp);

/* Listens on addr:port (an IPv4 or IPv6 literal; "::" is dual-stack and falls back to 0.0.0.0
 * where IPv6 is off). tls_cb non-NULL makes it a sniffing listener (one-port mode). Returns the
 * bound port (> 0) or a negative code (logged). At most two listeners. */
int fo_tcp_listen(fo_tcp_t *tcp, const char *addr, int port, fo_tcp_tls_cb tls_cb, void *tls_user);
/* The ports listened on, in fo_tcp_listen order (0 = none). */
int fo_tcp_port(const fo_tcp_t *tcp, int i);

/* Writes every dirty connection's queue to its socket (called after each receive batch and by
 * timers that send, through the router's flush). */
void fo_tcp_flush(fo_tcp_t *tcp);
void fo_tcp_stats(const fo_tcp_t *tcp, fo_tcp_stats_t *out);

/* --- connections --- */

/* The peer's address (IPv4-mapped IPv6 addresses are given as IPv4). */
const fo_addr_t *fo_tcp_conn_addr(const fo_tcp_conn_t *c);
/* Binds a pending connection to `owner` (or rebinds; NULL unbinds: it stays open, unowned). */
void fo_tcp_conn_bind(fo_tcp_conn_t *c, const fo_tcp_owner_cbs_t *cbs, void *owner);
void *fo_tcp_conn_owner(const fo_tcp_conn_t *c);
/* Writes what is queued (best effort, without waiting) and closes; the owner is not told.
 * `why` is logged. The memory goes at the loop's safe point: `c` must not be used after. */
void fo_tcp_conn_close(fo_tcp_conn_t *c, const char *why);

/* Zero-copy send, as the UDP ring: write one datagram (at most *cap bytes) into the slot, then
 * commit it (framed and queued). When the queue is full the slot is a scratch buffer and the
 * commit drops (FO_EFULL, counted). A slot not committed is simply abandoned. */
uint8_t *fo_tcp_conn_slot(fo_tcp_conn_t *c, size_t *cap);
int fo_tcp_conn_commit(fo_tcp_conn_t *c, size_t len);
/* Copies buf into a slot and commits it. */
int fo_tcp_conn_send(fo_tcp_conn_t *c, const uint8_t *buf, size_t len);
/* Queued bytes over FO_TCP_QUEUE_SOFT: a sender should hold back what it can skip until the
 * owner's writable callback. */
bool fo_tcp_conn_congested(const fo_tcp_conn_t *c);
size_t fo_tcp_conn_queued(const fo_tcp_conn_t *c);

#endif
