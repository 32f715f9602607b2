/* SPDX-License-Identifier: MIT */
/* ICE-TCP connections on the media loop. Reading: one shared buffer per carrier; each read is
 * prefixed with the connection's kept partial frame (at most one frame, ~2 KiB per connection)
 * and deframed in place (src/wire/tcpframe.c). Writing: datagrams are framed straight into the
 * connection's queue, a list of 16 KiB blocks from a shared pool, and written with one sendmsg
 * of all of it per flush (after each receive batch), so a TCP player costs a system call per
 * batch, not per packet; what the kernel does not take waits for EPOLLOUT. A queue over
 * FO_TCP_QUEUE_SOFT marks the connection congested (the transport's sender then skips whole
 * video frames) until it drains under FO_TCP_QUEUE_LOW; over FO_TCP_QUEUE_HARD frames are
 * dropped. Closed connections are freed at the loop's safe point. */
#include "fanout/tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/tcpframe.h"

#define BLOCK 16384                /* write queue allocation unit */
#define POOL_KEEP 256              /* idle blocks kept for reuse (4 MiB) */
#define WRITE_THROUGH (32 * 1024)  /* a queue this long is written at once, not at the flush */
#define READ_BUF (64 * 1024)
#define READS_PER_WAKE 4           /* reads of one connection per wake-up (fairness) */
#define ACCEPTS_PER_WAKE 64
#define MAX_IOV 64
#define SNIFF_BYTES 10             /* a framed STUN header up to its magic cookie */
#define SWEEP_MS 1000              /* pending connections' timeouts are checked this often */
#define ACCEPT_PAUSE_MS 100        /* out of descriptors: stop accepting this long */
#define LOG_EVERY_MS 10000         /* rate limit of the cap and descriptor warnings */
#define MAX_LISTENERS 2

enum { C_SNIFF, C_PENDING, C_BOUND, C_CLOSED };

typedef struct blk {
    struct blk *next;
    uint32_t head, tail; /* data[head..tail) is queued */
    uint8_t data[BLOCK];
} blk_t;

typedef struct {
    fo_tcp_conn_t *head, *tail;
    size_t n;
} list_t;

typedef struct listener listener_t;

struct fo_tcp_conn {
    fo_io_t io;
    fo_tcp_t *tcp;
    const listener_t *ls;      /* the listener that accepted it */
    int state;
    fo_addr_t addr;
    char ctx[64];              /* log context: "tcp <addr>" */
    uint64_t accepted_ms;
    fo_tcp_conn_t *prev, *next; /* in the list of its state (pending: accept order) */
    fo_tcp_conn_t *dirty_next;
    bool dirty, want_out, congested, scratch_out;
    fo_tcp_owner_cbs_t ocbs;
    void *owner;
    fo_tcpframe_t deframe;
    blk_t *qhead, *qtail;
    size_t queued;
    size_t kept;               /* bytes of a partial frame in kept_buf */
    uint8_t kept_buf[FO_TCPFRAME_HDR + FO_UDP_BUF];
};

struct listener {
    fo_io_t io;
    fo_tcp_t *tcp;
    int port;
    fo_tcp_tls_cb tls_cb; /* non-NULL: sniffing (one-port mode) */
    void *tls_user;
};

struct fo_tcp {
    fo_loop_t *loop;
    fo_tcp_cbs_t cbs;
    void *user;
    int max_pending;
    int pending_timeout_ms;
    listener_t ls[MAX_LISTENERS];
    int n_ls;
    list_t pending, bound, dead;
    fo_tcp_conn_t *dirty;
    bool reap_scheduled;
    blk_t *pool;
    size_t pool_n;
    fo_timer_t sweep, resume;
    uint64_t cap_logged_ms, fd_logged_ms, cap_hits;
    fo_tcp_stats_t st;
    uint8_t scratch[FO_UDP_BUF];
    uint8_t rbuf[FO_TCPFRAME_HDR + FO_UDP_BUF + READ_BUF];
};

/* --- lists, pool --- */

static void list_push(list_t *l, fo_tcp_conn_t *c)
{
    c->prev = l->tail;
    c->next = NULL;
    if (l->tail) l->tail->next = c;
    else l->head = c;
    l->tail = c;
    l->n++;
}

static void list_remove(list_t *l, fo_tcp_conn_t *c)
{
    if (c->prev) c->prev->next = c->next;
    else l->head = c->next;
    if (c->next) c->next->prev = c->prev;
    else l->tail = c->prev;
    c->prev = c->next = NULL;
    l->n--;
}

static list_t *list_of(fo_tcp_t *tcp, const fo_tcp_conn_t *c)
{
    return c->state == C_BOUND ? &tcp->bound : c->state == C_CLOSED ? &tcp->dead : &tcp->pending;
}

static blk_t *blk_get(fo_tcp_t *tcp)
{
    blk_t *b = tcp->pool;
    if (b) {
        tcp->pool = b->next;
        tcp->pool_n--;
    } else if (!(b = malloc(sizeof *b))) {
        return NULL;
    }
    b->next = NULL;
    b->head = b->tail = 0;
    return b;
}

static void blk_put(fo_tcp_t *tcp, blk_t *b)
{
    if (tcp->pool_n >= POOL_KEEP) {
        free(b);
        return;
    }
    b->next = tcp->pool;
    tcp->pool = b;
    tcp->pool_n++;
}

static void queue_clear(fo_tcp_conn_t *c)
{
    while (c->qhead) {
        blk_t *b = c->qhead;
        c->qhead = b->next;
        blk_put(c->tcp, b);
    }
    c->qtail = NULL;
    c->queued = 0;
}

/* --- closing --- */

static void reap_cb(void *arg)
{
    fo_tcp_t *tcp = arg;
    tcp->reap_scheduled = false;
    while (tcp->dead.head) {
        fo_tcp_conn_t *c = tcp->dead.head;
        list_remove(&tcp->dead, c);
        free(c);
    }
}

static void dirty_remove(fo_tcp_t *tcp, fo_tcp_conn_t *c)
{
    for (fo_tcp_conn_t **p = &tcp->dirty; *p; p = &(*p)->dirty_next)
        if (*p == c) {
            *p = c->dirty_next;
            break;
        }
    c->dirty = false;
}

static void conn_write(fo_tcp_conn_t *c);

/* Closes `c`: fd closed (unless handed over: fd < 0), memory freed at the safe point. `tell`:
 * whether the owner hears of it. */
static void conn_close(fo_tcp_conn_t *c, const char *why, bool tell)
{
    fo_tcp_t *tcp = c->tcp;
    if (c->state == C_CLOSED) return;
    FO_LOG(FO_LOG_DEBUG, c->ctx, "connection closed: %s", why);
    if (c->dirty) dirty_remove(tcp, c);
    if (c->io.fd >= 0) {
        fo_loop_io_del(tcp->loop, &c->io);
        close(c->io.fd);
        c->io.fd = -1;
    }
    queue_clear(c);
    list_remove(list_of(tcp, c), c);
    if (c->state == C_BOUND) tcp->st.bound--;
    else tcp->st.pending--;
    c->state = C_CLOSED;
    list_push(&tcp->dead, c);
    if (!tcp->reap_scheduled && fo_loop_defer(tcp->loop, reap_cb, tcp) == 0) tcp->reap_scheduled = true;
    void *owner = c->owner;
    c->owner = NULL;
    if (tell && owner && c->ocbs.closed) c->ocbs.closed(owner, c);
}

void fo_tcp_conn_close(fo_tcp_conn_t *c, const char *why)
{
    if (c->state == C_CLOSED) return;
    /* What is queued (a DTLS close_notify) goes if the kernel takes it now. */
    if (c->queued && !c->want_out) conn_write(c);
    conn_close(c, why, false);
}

/* --- writing --- */

static void set_want_out(fo_tcp_conn_t *c, bool on)
{
    if (c->want_out == on) return;
    c->want_out = on;
    fo_loop_io_mod(c->tcp->loop, &c->io, EPOLLIN | (on ? EPOLLOUT : 0));
}

static void mark_dirty(fo_tcp_conn_t *c)
{
    if (c->dirty) return;
    c->dirty = true;
    c->dirty_next = c->tcp->dirty;
    c->tcp->dirty = c;
}

/* Drops the first n queued bytes, giving emptied blocks back to the pool. */
static void consume(fo_tcp_conn_t *c, size_t n)
{
    c->queued -= n;
    while (c->qhead) {
        blk_t *b = c->qhead;
        size_t in = b->tail - b->head;
        if (n < in) {
            b->head += (uint32_t)n;
            return;
        }
        n -= in;
        if (b == c->qtail) { /* keep the last block for the next datagrams */
            b->head = b->tail = 0;
            return;
        }
        c->qhead = b->next;
        blk_put(c->tcp, b);
    }
}

/* Writes as much of the queue as the kernel takes, without waiting. */
static void conn_write(fo_tcp_conn_t *c)
{
    fo_tcp_t *tcp = c->tcp;
    while (c->queued > 0) {
        struct iovec iov[MAX_IOV];
        size_t n = 0, total = 0;
        for (blk_t *b = c->qhead; b && n < MAX_IOV; b = b->next) {
            if (b->tail == b->head) continue;
            iov[n++] = (struct iovec){b->data + b->head, b->tail - b->head};
            total += b->tail - b->head;
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t w = sendmsg(c->io.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            conn_close(c, strerror(errno), true);
            return;
        }
        tcp->st.tx_bytes += (uint64_t)w;
        tcp->st.tx_writes++;
        consume(c, (size_t)w);
        if ((size_t)w < total) break;
    }
    /* An idle connection holds no block: a fan-out batch borrows them from the pool. */
    if (c->queued == 0) queue_clear(c);
    set_want_out(c, c->queued > 0);
    if (c->congested && c->queued < FO_TCP_QUEUE_LOW) {
        c->congested = false;
        if (c->owner && c->ocbs.writable) c->ocbs.writable(c->owner, c);
    }
}

uint8_t *fo_tcp_conn_slot(fo_tcp_conn_t *c, size_t *cap)
{
    *cap = FO_UDP_BUF;
    c->scratch_out = true;
    if (c->state == C_CLOSED || c->queued >= FO_TCP_QUEUE_HARD) return c->tcp->scratch;
    blk_t *b = c->qtail;
    if (!b || BLOCK - b->tail < FO_TCPFRAME_HDR + FO_UDP_BUF) {
        blk_t *nb = blk_get(c->tcp);
        if (!nb) return c->tcp->scratch;
        if (b) b->next = nb;
        else c->qhead = nb;
        c->qtail = b = nb;
    }
    c->scratch_out = false;
    return b->data + b->tail + FO_TCPFRAME_HDR;
}

int fo_tcp_conn_commit(fo_tcp_conn_t *c, size_t len)
{
    if (c->scratch_out || len == 0 || len > FO_UDP_BUF) {
        c->scratch_out = false;
        c->tcp->st.tx_dropped++;
        return FO_EFULL;
    }
    blk_t *b = c->qtail;
    fo_tcpframe_header(b->data + b->tail, len);
    b->tail += (uint32_t)(FO_TCPFRAME_HDR + len);
    c->queued += FO_TCPFRAME_HDR + len;
    c->tcp->st.tx_frames++;
    if (c->queued >= FO_TCP_QUEUE_SOFT) c->congested = true;
    mark_dirty(c);
    /* A long burst (a keyframe to a new player) starts leaving before the batch ends, unless
     * the kernel is known to be full (then EPOLLOUT will say when). */
    if (c->queued >= WRITE_THROUGH && !c->want_out) conn_write(c);
    return 0;
}

int fo_tcp_conn_send(fo_tcp_conn_t *c, const uint8_t *buf, size_t len)
{
    size_t cap;
    uint8_t *slot = fo_tcp_conn_slot(c, &cap);
    if (len > cap) {
        fo_tcp_conn_commit(c, 0); /* counted as dropped */
        return FO_ETOOBIG;
    }
    memcpy(slot, buf, len);
    return fo_tcp_conn_commit(c, len);
}

bool fo_tcp_conn_congested(const fo_tcp_conn_t *c) { return c->congested; }
size_t fo_tcp_conn_queued(const fo_tcp_conn_t *c) { return c->queued; }

void fo_tcp_flush(fo_tcp_t *tcp)
{
    while (tcp->dirty) {
        fo_tcp_conn_t *c = tcp->dirty;
        tcp->dirty = c->dirty_next;
        c->dirty = false;
        if (!c->want_out) conn_write(c);
    }
}

/* --- reading --- */

static int frame_cb(void *user, uint8_t *frame, size_t len)
{
    fo_tcp_conn_t *c = user;
    fo_tcp_t *tcp = c->tcp;
    tcp->st.rx_frames++;
    tcp->st.rx_bytes += len;
    tcp->cbs.on_frame(tcp->user, c, frame, len);
    return c->state == C_CLOSED;
}

static void conn_readable(fo_tcp_conn_t *c)
{
    fo_tcp_t *tcp = c->tcp;
    for (int round = 0; round < READS_PER_WAKE && c->state != C_CLOSED; round++) {
        memcpy(tcp->rbuf, c->kept_buf, c->kept);
        ssize_t n = recv(c->io.fd, tcp->rbuf + c->kept, READ_BUF, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            conn_close(c, c->kept ? "peer closed in the middle of a frame" : "peer closed", true);
            break;
        }
        if (n < 0) {
            conn_close(c, strerror(errno), true);
            break;
        }
        size_t len = c->kept + (size_t)n;
        uint64_t oversized = c->deframe.oversized;
        size_t used = fo_tcpframe_each(&c->deframe, tcp->rbuf, len, frame_cb, c);
        tcp->st.rx_oversized += c->deframe.oversized - oversized;
        if (c->state == C_CLOSED) break;
        c->kept = len - used;
        memcpy(c->kept_buf, tcp->rbuf + used, c->kept);
        if ((size_t)n < READ_BUF) break;
    }
    if (tcp->cbs.on_batch_end) tcp->cbs.on_batch_end(tcp->user);
}

/* One-port mode: decides from the first bytes what the connection is. Edge-triggered (the
 * bytes are only peeked at, so a level-triggered socket would report them forever). */
static void conn_sniff(fo_tcp_conn_t *c)
{
    const listener_t *l = c->ls;
    uint8_t b[SNIFF_BYTES];
    ssize_t n = recv(c->io.fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(c, n == 0 ? "peer closed" : strerror(errno), false);
        return;
    }
    if (n < 0) return;
    if (b[0] == 0x16) { /* a TLS handshake record: HTTPS */
        int fd = c->io.fd;
        fo_loop_io_del(c->tcp->loop, &c->io);
        c->io.fd = -1;
        c->tcp->st.tls_handed_over++;
        fo_addr_t a = c->addr;
        conn_close(c, "TLS: handed to HTTPS", false);
        l->tls_cb(l->tls_user, fd, &a.u.sa, a.len);
        return;
    }
    if (n < SNIFF_BYTES) return; /* the rest comes with the next edge */
    uint32_t cookie = (uint32_t)b[6] << 24 | (uint32_t)b[7] << 16 | (uint32_t)b[8] << 8 | b[9];
    if (b[2] > 3 || cookie != 0x2112A442u) {
        c->tcp->st.garbage++;
        conn_close(c, "neither TLS nor a framed STUN message", false);
        return;
    }
    c->state = C_PENDING;
    fo_loop_io_mod(c->tcp->loop, &c->io, EPOLLIN);
    conn_readable(c);
}

static void conn_io_cb(fo_io_t *io, uint32_t events)
{
    fo_tcp_conn_t *c = io->user;
    if (c->state == C_CLOSED) return; /* an event of this iteration for a connection closed in it */
    if (c->state == C_SNIFF) {
        conn_sniff(c);
        return;
    }
    if (events & EPOLLOUT) conn_write(c);
    if (c->state != C_CLOSED && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) conn_readable(c);
}

/* --- accepting --- */

/* Closes the oldest connection still waiting for its first check. False if there is none. */
static bool evict_oldest(fo_tcp_t *tcp)
{
    fo_tcp_conn_t *c = tcp->pending.head;
    if (!c) return false;
    tcp->st.evicted++;
    conn_close(c, "evicted: too many connections waiting for an ICE check", false);
    return true;
}

static void sweep_cb(fo_timer_t *t)
{
    fo_tcp_t *tcp = t->user;
    uint64_t now = fo_loop_now(tcp->loop);
    while (tcp->pending.head &&
           tcp->pending.head->accepted_ms + (uint64_t)tcp->pending_timeout_ms <= now) {
        tcp->st.timed_out++;
        conn_close(tcp->pending.head, "no ICE check in time", false);
    }
    if (tcp->pending.head) fo_timer_start(tcp->loop, &tcp->sweep, SWEEP_MS);
}

static void resume_cb(fo_timer_t *t)
{
    fo_tcp_t *tcp = t->user;
    for (int i = 0; i < tcp->n_ls; i++) fo_loop_io_mod(tcp->loop, &tcp->ls[i].io, EPOLLIN);
}

static bool log_due(fo_tcp_t *tcp, uint64_t *last)
{
    uint64_t now = fo_loop_now(tcp->loop);
    if (*last && now - *last < LOG_EVERY_MS) return false;
    *last = now;
    return true;
}

static void accept_one(fo_tcp_t *tcp, listener_t *l, int fd, fo_addr_t *a)
{
    tcp->st.accepted++;
    fo_addr_unmap(a);
    if (tcp->st.pending >= (uint64_t)tcp->max_pending) {
        tcp->cap_hits++;
        if (log_due(tcp, &tcp->cap_logged_ms))
            FO_LOG(FO_LOG_WARN, "tcp",
                   "%d TCP connections are waiting for their first ICE check (rtc.tcp_max_pending):"
                   " closing the oldest to take new ones (%llu times so far)",
                   tcp->max_pending, (unsigned long long)tcp->cap_hits);
        evict_oldest(tcp);
    }
    fo_tcp_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        tcp->st.refused++;
        close(fd);
        return;
    }
    int one = 1, sndbuf = FO_TCP_SNDBUF;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    c->tcp = tcp;
    c->ls = l;
    c->addr = *a;
    c->state = l->tls_cb ? C_SNIFF : C_PENDING;
    c->accepted_ms = fo_loop_now(tcp->loop);
    char as[64];
    snprintf(c->ctx, sizeof c->ctx, "tcp %s", fo_addr_str(a, as, sizeof as));
    fo_tcpframe_init(&c->deframe, FO_UDP_BUF);
    c->io = (fo_io_t){.fd = fd, .cb = conn_io_cb, .user = c};
    if (fo_loop_io_add(tcp->loop, &c->io, EPOLLIN | (c->state == C_SNIFF ? EPOLLET : 0)) != 0) {
        tcp->st.refused++;
        close(fd);
        free(c);
        return;
    }
    list_push(&tcp->pending, c);
    tcp->st.pending++;
    if (!fo_timer_active(&tcp->sweep)) fo_timer_start(tcp->loop, &tcp->sweep, SWEEP_MS);
    FO_LOG(FO_LOG_DEBUG, c->ctx, "accepted on port %d", l->port);
}

static void listener_cb(fo_io_t *io, uint32_t events)
{
    (void)events;
    listener_t *l = io->user;
    fo_tcp_t *tcp = l->tcp;
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        fo_addr_t a;
        a.len = sizeof a.u;
        int fd = accept4(io->fd, &a.u.sa, &a.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(tcp, l, fd, &a);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: make room from the pending ones, else pause accepting (the
             * listening socket would stay readable and spin the loop). */
            if (log_due(tcp, &tcp->fd_logged_ms))
                FO_LOG(FO_LOG_WARN, "tcp", "accept: %s (%llu TCP connections open)", strerror(errno),
                       (unsigned long long)(tcp->st.pending + tcp->st.bound));
            if (evict_oldest(tcp)) continue;
            tcp->st.refused++;
            for (int k = 0; k < tcp->n_ls; k++) fo_loop_io_mod(tcp->loop, &tcp->ls[k].io, 0);
            fo_timer_start(tcp->loop, &tcp->resume, ACCEPT_PAUSE_MS);
        }
        break;
    }
}

int fo_tcp_listen(fo_tcp_t *tcp, const char *addr, int port, fo_tcp_tls_cb tls_cb, void *tls_user)
{
    if (tcp->n_ls == MAX_LISTENERS) return FO_EFULL;
    fo_addr_t bound;
    int fd = fo_addr_bind(addr, port, SOCK_STREAM, &bound);
    if (fd < 0 || listen(fd, 1024) != 0) {
        FO_LOG(FO_LOG_ERROR, "tcp", "cannot listen on %s port %d: %s", addr, port, strerror(errno));
        if (fd >= 0) close(fd);
        return FO_ESYS;
    }
    listener_t *l = &tcp->ls[tcp->n_ls];
    *l = (listener_t){.tcp = tcp, .port = fo_addr_port(&bound), .tls_cb = tls_cb, .tls_user = tls_user};
    l->io = (fo_io_t){.fd = fd, .cb = listener_cb, .user = l};
    if (fo_loop_io_add(tcp->loop, &l->io, EPOLLIN) != 0) {
        close(fd);
        return FO_ESYS;
    }
    tcp->n_ls++;
    return l->port;
}

int fo_tcp_port(const fo_tcp_t *tcp, int i) { return i >= 0 && i < tcp->n_ls ? tcp->ls[i].port : 0; }

/* --- life cycle --- */

fo_tcp_t *fo_tcp_new(fo_loop_t *loop, const fo_tcp_cbs_t *cbs, void *user, int max_pending,
                     int pending_timeout_ms)
{
    fo_tcp_t *tcp = calloc(1, sizeof *tcp);
    if (!tcp) return NULL;
    tcp->loop = loop;
    tcp->cbs = *cbs;
    tcp->user = user;
    tcp->max_pending = max_pending > 0 ? max_pending : 1;
    tcp->pending_timeout_ms = pending_timeout_ms > 0 ? pending_timeout_ms : 1;
    fo_timer_init(&tcp->sweep, sweep_cb, tcp);
    fo_timer_init(&tcp->resume, resume_cb, tcp);
    return tcp;
}

static void free_list(fo_tcp_t *tcp, list_t *l)
{
    while (l->head) {
        fo_tcp_conn_t *c = l->head;
        list_remove(l, c);
        if (c->io.fd >= 0) {
            fo_loop_io_del(tcp->loop, &c->io);
            close(c->io.fd);
        }
        queue_clear(c);
        free(c);
    }
}

void fo_tcp_free(fo_tcp_t *tcp)
{
    if (!tcp) return;
    fo_timer_stop(tcp->loop, &tcp->sweep);
    fo_timer_stop(tcp->loop, &tcp->resume);
    free_list(tcp, &tcp->pending);
    free_list(tcp, &tcp->bound);
    free_list(tcp, &tcp->dead);
    for (int i = 0; i < tcp->n_ls; i++) {
        fo_loop_io_del(tcp->loop, &tcp->ls[i].io);
        close(tcp->ls[i].io.fd);
    }
    while (tcp->pool) {
        blk_t *b = tcp->pool;
        tcp->pool = b->next;
        free(b);
    }
    free(tcp);
}

void fo_tcp_stats(const fo_tcp_t *tcp, fo_tcp_stats_t *out) { *out = tcp->st; }

/* --- connections --- */

const fo_addr_t *fo_tcp_conn_addr(const fo_tcp_conn_t *c) { return &c->addr; }
void *fo_tcp_conn_owner(const fo_tcp_conn_t *c) { return c->owner; }

void fo_tcp_conn_bind(fo_tcp_conn_t *c, const fo_tcp_owner_cbs_t *cbs, void *owner)
{
    if (c->state == C_CLOSED || c->state == C_SNIFF) return;
    fo_tcp_t *tcp = c->tcp;
    int want = owner ? C_BOUND : C_PENDING;
    if (c->state != want) {
        list_remove(list_of(tcp, c), c);
        if (c->state == C_BOUND) tcp->st.bound--, tcp->st.pending++;
        else tcp->st.pending--, tcp->st.bound++;
        c->state = want;
        list_push(list_of(tcp, c), c);
        if (want == C_PENDING) { /* unowned again: times out again */
            c->accepted_ms = fo_loop_now(tcp->loop);
            if (!fo_timer_active(&tcp->sweep)) fo_timer_start(tcp->loop, &tcp->sweep, SWEEP_MS);
        }
    }
    c->owner = owner;
    c->ocbs = cbs && owner ? *cbs : (fo_tcp_owner_cbs_t){0};
}
