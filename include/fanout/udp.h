/* SPDX-License-Identifier: MIT */
/* The shared UDP socket: batched receive (recvmmsg, at most 32 datagrams a call and a few calls
 * per wake-up so one socket cannot starve the loop) and batched send (sendmmsg) from a ring of
 * send slots the caller writes into directly, so a forwarded packet is built once, in place.
 * Owned by one loop thread. */
#ifndef FO_UDP_H
#define FO_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fanout/loop.h"

/* A peer address. Compare with fo_addr_equal; hash with fo_addr_hash (both look at the peer
 * only). `local`, when set (s_addr != 0), is our address the peer's datagram was sent to
 * (IP_PKTINFO, on a socket bound to 0.0.0.0): what is sent to the peer goes out from it, not
 * from whatever source the routing table picks (a host with several addresses, or a browser on
 * this machine checking our 127.0.0.1 candidate from its LAN address, must see replies from the
 * address it sent to, or it drops them). */
typedef struct {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } u;
    socklen_t len;
    struct in_addr local;
} fo_addr_t;

/* Room fo_udp_set_source needs for its control message. */
#define FO_UDP_CTL_LEN CMSG_SPACE(sizeof(struct in_pktinfo))
/* Points h's control data at ctl (FO_UDP_CTL_LEN bytes) asking for `to->local` as the source
 * address, or clears it when `to` has no local address. Any thread. */
void fo_udp_set_source(struct msghdr *h, const fo_addr_t *to, uint8_t *ctl);

bool fo_addr_equal(const fo_addr_t *a, const fo_addr_t *b);
uint32_t fo_addr_hash(const fo_addr_t *a);
/* "1.2.3.4:5678" / "[::1]:5678" into buf; returns buf. */
const char *fo_addr_str(const fo_addr_t *a, char *buf, size_t cap);

#define FO_UDP_BUF 2048   /* per datagram buffer: MTU-sized packets plus the SRTP trailer */
#define FO_UDP_BATCH 32

typedef struct fo_udp fo_udp_t;

/* Called for each received datagram. buf is writable (decrypt in place) and has `cap` bytes;
 * it is reused after the call returns. */
typedef void (*fo_udp_recv_cb)(void *user, uint8_t *buf, size_t len, size_t cap,
                               const fo_addr_t *from);

typedef struct {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
    uint64_t tx_dropped;   /* send failed (buffer full, unreachable) */
    uint64_t rx_truncated; /* datagram larger than FO_UDP_BUF */
} fo_udp_stats_t;

/* Binds addr:port (IPv4 or IPv6 literal) and registers with the loop. NULL on failure
 * (logged). */
fo_udp_t *fo_udp_new(fo_loop_t *loop, const char *addr, int port, fo_udp_recv_cb cb, void *user);
void fo_udp_free(fo_udp_t *u);
/* The bound port (useful when port 0 was asked). */
int fo_udp_port(const fo_udp_t *u);

/* Returns the next send slot (FO_UDP_BUF bytes, set *cap). Write a datagram there, then
 * fo_udp_commit it, or just don't commit to abandon it. Flushes first when the ring is full. */
uint8_t *fo_udp_slot(fo_udp_t *u, size_t *cap);
void fo_udp_commit(fo_udp_t *u, size_t len, const fo_addr_t *to);
/* Copies buf into a slot and commits it. */
void fo_udp_send(fo_udp_t *u, const uint8_t *buf, size_t len, const fo_addr_t *to);
/* Sends everything committed (sendmmsg). Called after each receive batch and by timers that
 * send. */
void fo_udp_flush(fo_udp_t *u);

const fo_udp_stats_t *fo_udp_stats(const fo_udp_t *u);

/* Sends m[0..n) with sendmmsg on `fd` (non-blocking); a datagram the kernel refuses (buffer
 * full, ECONNREFUSED, EHOSTUNREACH) is dropped and the rest still go. Returns how many were
 * sent; adds their bytes to *bytes when given. fo_udp_flush and the send workers use it. */
size_t fo_udp_sendmmsg(int fd, struct mmsghdr *m, size_t n, uint64_t *bytes);

/* The socket (send workers send on it too; docs/workers.md). */
int fo_udp_fd(const fo_udp_t *u);
/* `cb(user)` runs at the end of every fo_udp_flush (the send workers publish their queues
 * then); NULL removes it. */
void fo_udp_set_flush_hook(fo_udp_t *u, void (*cb)(void *user), void *user);

#endif
