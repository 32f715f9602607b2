/* SPDX-License-Identifier: MIT */
/* Batched UDP I/O on one non-blocking socket. Receive and send buffers are allocated once. */
#include "fanout/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"

#define RECV_ROUNDS 8 /* recvmmsg calls per wake-up before yielding to the loop */

struct fo_udp {
    fo_loop_t *loop;
    fo_io_t io;
    int port;
    fo_udp_recv_cb cb;
    void *user;
    fo_udp_stats_t stats;
    /* receive */
    uint8_t rbuf[FO_UDP_BATCH][FO_UDP_BUF];
    struct mmsghdr rmsg[FO_UDP_BATCH];
    struct iovec riov[FO_UDP_BATCH];
    fo_addr_t raddr[FO_UDP_BATCH];
    uint8_t rctl[FO_UDP_BATCH][FO_UDP_CTL_LEN];
    uint8_t sctl[FO_UDP_BATCH][FO_UDP_CTL_LEN];
    bool pktinfo; /* bound to 0.0.0.0: datagrams carry their destination (IP_PKTINFO) */
    /* send */
    uint8_t sbuf[FO_UDP_BATCH][FO_UDP_BUF];
    struct mmsghdr smsg[FO_UDP_BATCH];
    struct iovec siov[FO_UDP_BATCH];
    fo_addr_t saddr[FO_UDP_BATCH];
    size_t sn;
    void (*flush_hook)(void *user);
    void *flush_user;
};

bool fo_addr_equal(const fo_addr_t *a, const fo_addr_t *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family) return false;
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_port == b->u.in.sin_port &&
               a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    if (a->u.sa.sa_family == AF_INET6)
        return a->u.in6.sin6_port == b->u.in6.sin6_port &&
               memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
    return false;
}

uint32_t fo_addr_hash(const fo_addr_t *a)
{
    uint32_t h = 2166136261u;
    const uint8_t *p;
    size_t n;
    uint16_t port;
    if (a->u.sa.sa_family == AF_INET6) {
        p = (const uint8_t *)&a->u.in6.sin6_addr, n = 16, port = a->u.in6.sin6_port;
    } else {
        p = (const uint8_t *)&a->u.in.sin_addr, n = 4, port = a->u.in.sin_port;
    }
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    h = (h ^ (port & 0xff)) * 16777619u;
    h = (h ^ (port >> 8)) * 16777619u;
    return h;
}

const char *fo_addr_str(const fo_addr_t *a, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->u.sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
        snprintf(buf, cap, "[%s]:%u", ip, ntohs(a->u.in6.sin6_port));
    } else {
        inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof ip);
        snprintf(buf, cap, "%s:%u", ip, ntohs(a->u.in.sin_port));
    }
    return buf;
}

/* The address a received IPv4 datagram was sent to, from its IP_PKTINFO. */
static void read_local(struct msghdr *h, fo_addr_t *from)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            from->local = pi.ipi_addr;
        }
}

void fo_udp_set_source(struct msghdr *h, const fo_addr_t *to, uint8_t *ctl)
{
    if (!to->local.s_addr || to->u.sa.sa_family != AF_INET) {
        h->msg_control = NULL;
        h->msg_controllen = 0;
        return;
    }
    memset(ctl, 0, FO_UDP_CTL_LEN);
    h->msg_control = ctl;
    h->msg_controllen = FO_UDP_CTL_LEN;
    struct cmsghdr *c = CMSG_FIRSTHDR(h);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo pi = {.ipi_spec_dst = to->local};
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
}

int fo_addr_parse(const char *ip, int port, fo_addr_t *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, ip, &out->u.in.sin_addr) == 1) {
        out->u.in.sin_family = AF_INET;
        out->u.in.sin_port = htons((uint16_t)port);
        out->len = sizeof out->u.in;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &out->u.in6.sin6_addr) == 1) {
        out->u.in6.sin6_family = AF_INET6;
        out->u.in6.sin6_port = htons((uint16_t)port);
        out->len = sizeof out->u.in6;
        return 0;
    }
    return FO_EINVAL;
}

void fo_addr_unmap(fo_addr_t *a)
{
    if (a->u.sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr)) return;
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = a->u.in6.sin6_port};
    memcpy(&in.sin_addr, &a->u.in6.sin6_addr.s6_addr[12], 4);
    memset(&a->u, 0, sizeof a->u);
    a->u.in = in;
    a->len = sizeof in;
}

bool fo_addr_v6_advertisable(const struct in6_addr *a)
{
    return !(IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_MULTICAST(a) ||
             IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_SITELOCAL(a) || IN6_IS_ADDR_UNSPECIFIED(a));
}

int fo_addr_port(const fo_addr_t *a)
{
    return ntohs(a->u.sa.sa_family == AF_INET6 ? a->u.in6.sin6_port : a->u.in.sin_port);
}

static int bind_one(const fo_addr_t *a, int type)
{
    int fd = socket(a->u.sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1, off = 0;
    /* TCP listeners restart over TIME_WAIT; UDP must not (it would share the port) */
    if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* dual-stack: "::" also takes IPv4, as mapped addresses */
    if (a->u.sa.sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (bind(fd, &a->u.sa, a->len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int fo_addr_bind(const char *ip, int port, int type, fo_addr_t *bound)
{
    fo_addr_t a;
    if (fo_addr_parse(ip, port, &a) != 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = bind_one(&a, type);
    if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL) && a.u.sa.sa_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&a.u.in6.sin6_addr)) {
        FO_LOG(FO_LOG_WARN, NULL, "no IPv6 on this machine: listening on 0.0.0.0:%d instead of [::]:%d",
               port, port);
        fo_addr_parse("0.0.0.0", port, &a);
        fd = bind_one(&a, type);
    }
    if (fd < 0) return -1;
    bound->len = sizeof bound->u;
    getsockname(fd, &bound->u.sa, &bound->len);
    return fd;
}

static void udp_readable(fo_io_t *io, uint32_t events)
{
    fo_udp_t *u = io->user;
    (void)events;
    for (int round = 0; round < RECV_ROUNDS; round++) {
        for (int i = 0; i < FO_UDP_BATCH; i++) {
            u->riov[i] = (struct iovec){u->rbuf[i], FO_UDP_BUF};
            u->rmsg[i].msg_hdr = (struct msghdr){.msg_name = &u->raddr[i].u,
                                                 .msg_namelen = sizeof u->raddr[i].u,
                                                 .msg_iov = &u->riov[i],
                                                 .msg_iovlen = 1,
                                                 .msg_control = u->pktinfo ? u->rctl[i] : NULL,
                                                 .msg_controllen = u->pktinfo ? FO_UDP_CTL_LEN : 0};
        }
        int n = recvmmsg(u->io.fd, u->rmsg, FO_UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) break;
        for (int i = 0; i < n; i++) {
            if (u->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
                u->stats.rx_truncated++;
                continue;
            }
            size_t len = u->rmsg[i].msg_len;
            u->stats.rx_packets++;
            u->stats.rx_bytes += len;
            u->raddr[i].len = u->rmsg[i].msg_hdr.msg_namelen;
            u->raddr[i].local.s_addr = 0;
            if (u->pktinfo) read_local(&u->rmsg[i].msg_hdr, &u->raddr[i]);
            fo_addr_unmap(&u->raddr[i]); /* an IPv4 peer of a dual-stack socket */
            u->cb(u->user, u->rbuf[i], len, FO_UDP_BUF, &u->raddr[i]);
        }
        fo_udp_flush(u);
        if (n < FO_UDP_BATCH) break;
    }
}

fo_udp_t *fo_udp_new(fo_loop_t *loop, const char *addr, int port, fo_udp_recv_cb cb, void *user)
{
    fo_udp_t *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->loop = loop;
    u->cb = cb;
    u->user = user;
    fo_addr_t bound;
    int fd = fo_addr_bind(addr, port, SOCK_DGRAM, &bound);
    if (fd < 0) {
        if (errno == EINVAL)
            FO_LOG(FO_LOG_ERROR, NULL, "rtc listen address '%s' is not an IP address", addr);
        goto fail;
    }
    int bufsz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    /* Bound to every address: each datagram carries the address it was sent to, and replies
     * leave from it (IP_PKTINFO; on a dual-stack socket for its IPv4 peers, which is where a
     * host with several addresses needs it). */
    bool any = bound.u.sa.sa_family == AF_INET ? bound.u.in.sin_addr.s_addr == htonl(INADDR_ANY)
                                               : IN6_IS_ADDR_UNSPECIFIED(&bound.u.in6.sin6_addr);
    if (any) {
        int on = 1;
        u->pktinfo = setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) == 0;
    }
    u->port = fo_addr_port(&bound);
    u->io = (fo_io_t){.fd = fd, .cb = udp_readable, .user = u};
    if (fo_loop_io_add(loop, &u->io, EPOLLIN) != 0) goto fail;
    return u;
fail:
    FO_LOG(FO_LOG_ERROR, NULL, "udp %s:%d: %s", addr, port, strerror(errno));
    if (fd >= 0) close(fd);
    free(u);
    return NULL;
}

void fo_udp_free(fo_udp_t *u)
{
    if (!u) return;
    fo_udp_flush(u);
    fo_loop_io_del(u->loop, &u->io);
    close(u->io.fd);
    free(u);
}

int fo_udp_port(const fo_udp_t *u) { return u->port; }

uint8_t *fo_udp_slot(fo_udp_t *u, size_t *cap)
{
    if (u->sn == FO_UDP_BATCH) fo_udp_flush(u);
    *cap = FO_UDP_BUF;
    return u->sbuf[u->sn];
}

void fo_udp_commit(fo_udp_t *u, size_t len, const fo_addr_t *to)
{
    size_t i = u->sn;
    u->saddr[i] = *to;
    u->siov[i] = (struct iovec){u->sbuf[i], len};
    u->smsg[i].msg_hdr = (struct msghdr){.msg_name = &u->saddr[i].u,
                                         .msg_namelen = to->len,
                                         .msg_iov = &u->siov[i],
                                         .msg_iovlen = 1};
    fo_udp_set_source(&u->smsg[i].msg_hdr, to, u->sctl[i]);
    u->sn++;
    u->stats.tx_bytes += len;
}

void fo_udp_send(fo_udp_t *u, const uint8_t *buf, size_t len, const fo_addr_t *to)
{
    size_t cap;
    uint8_t *slot = fo_udp_slot(u, &cap);
    if (len > cap) {
        u->stats.tx_dropped++;
        return;
    }
    memcpy(slot, buf, len);
    fo_udp_commit(u, len, to);
}

size_t fo_udp_sendmmsg(int fd, struct mmsghdr *m, size_t n, uint64_t *bytes)
{
    size_t off = 0, sent = 0;
    while (off < n) {
        int k = sendmmsg(fd, m + off, (unsigned)(n - off), MSG_DONTWAIT);
        if (k > 0) {
            for (size_t i = off; bytes && i < off + (size_t)k; i++) *bytes += m[i].msg_len;
            sent += (size_t)k;
            off += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        /* Buffer full or this destination failed: drop the head and keep going, so one bad
         * peer does not take the rest of the batch with it. */
        off++;
    }
    return sent;
}

void fo_udp_flush(fo_udp_t *u)
{
    size_t sent = fo_udp_sendmmsg(u->io.fd, u->smsg, u->sn, NULL);
    u->stats.tx_packets += sent;
    u->stats.tx_dropped += u->sn - sent;
    u->sn = 0;
    if (u->flush_hook) u->flush_hook(u->flush_user);
}

int fo_udp_fd(const fo_udp_t *u) { return u->io.fd; }

void fo_udp_set_flush_hook(fo_udp_t *u, void (*cb)(void *user), void *user)
{
    u->flush_hook = cb;
    u->flush_user = user;
}

const fo_udp_stats_t *fo_udp_stats(const fo_udp_t *u) { return &u->stats; }
