/* SPDX-License-Identifier: MIT */
/* A peer's ICE/DTLS/SRTP transport. State machine: NEW -(valid check)-> CHECKED -(DTLS done,
 * keys exported)-> CONNECTED -> CLOSED (close_notify, DTLS failure, consent or pending timeout).
 * Liveness uses one lazily re-armed timer, so a STUN check costs no timer operation. The
 * carrier of each path (UDP address or ICE-TCP connection) matters in four places only:
 * where a slot comes from, where a committed packet goes, who protects it (a send worker for
 * UDP, the loop for TCP: workers never touch a TCP queue) and the TCP connection's life. */
#include "fanout/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/dtls_reasm.h"
#include "fanout/limits.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"

struct fo_transport {
    const fo_transport_env_t *env;
    fo_transport_cbs_t cbs;
    void *user;
    char ctx[256];
    fo_transport_state_t state;
    fo_path_t paths[FO_TRANSPORT_MAX_ADDRS];
    size_t n_paths;
    int selected;            /* index into paths we send to, -1 none */
    bool nominated;          /* selected came from a USE-CANDIDATE check */
    fo_dtls_t *dtls;
    bool peer_done;          /* told dtls that SRTP/SRTCP from the peer authenticated */
    fo_srtp_t *srtp;
    unsigned worker;         /* send worker owning srtp's outbound half; 0: the loop */
    struct reasm *reasm;     /* ClientHello reassembly, only while handshaking */
    fo_timer_t dtls_timer;
    fo_timer_t live_timer;
    fo_rate_t rate;          /* inbound packet-rate cap */
    fo_transport_stats_t stats;
};

struct reasm {
    fo_dtls_reasm_t st;
    uint8_t out[FO_DTLS_REASM_MAX + 64];
};

bool fo_path_equal(const fo_path_t *a, const fo_path_t *b)
{
    if (a->tcp || b->tcp) return a->tcp == b->tcp;
    return fo_addr_equal(&a->addr, &b->addr);
}

static const fo_path_t *selected_path(const fo_transport_t *t)
{
    return t->selected >= 0 ? &t->paths[t->selected] : NULL;
}

/* Sends a datagram that is not SRTP (DTLS) on the selected path, copying it. */
static void send_plain(fo_transport_t *t, const uint8_t *buf, size_t len)
{
    const fo_path_t *p = selected_path(t);
    if (!p) return;
    if (p->tcp) {
        if (fo_tcp_conn_send(p->tcp, buf, len) != 0) {
            t->stats.tx_dropped++;
            return;
        }
    } else if (t->env->udp) {
        fo_udp_send(t->env->udp, buf, len, &p->addr);
    }
    t->stats.tx_packets++;
    t->stats.tx_bytes += len;
}

static void close_with(fo_transport_t *t, const char *reason)
{
    if (t->state == FO_TS_CLOSED) return;
    t->state = FO_TS_CLOSED;
    fo_timer_stop(t->env->loop, &t->dtls_timer);
    fo_timer_stop(t->env->loop, &t->live_timer);
    FO_LOG(FO_LOG_INFO, t->ctx, "transport closed: %s", reason);
    if (t->cbs.on_closed) t->cbs.on_closed(t->user, reason);
}

static void dtls_send_cb(void *user, const uint8_t *buf, size_t len)
{
    send_plain(user, buf, len);
}

static void dtls_timer_cb(void *user, int ms)
{
    fo_transport_t *t = user;
    if (ms < 0) fo_timer_stop(t->env->loop, &t->dtls_timer);
    else fo_timer_start(t->env->loop, &t->dtls_timer, (uint64_t)ms);
}

static void dtls_timer_fired(fo_timer_t *timer)
{
    fo_transport_t *t = timer->user;
    int rc = fo_dtls_timeout(t->dtls);
    fo_transport_flush(t);
    if (rc != FO_EAGAIN && rc != 0) close_with(t, "DTLS handshake timed out");
}

static void live_timer_fired(fo_timer_t *timer)
{
    fo_transport_t *t = timer->user;
    uint64_t now = fo_loop_now(t->env->loop);
    uint64_t deadline;
    if (t->state == FO_TS_CONNECTED)
        deadline = t->stats.last_check_ms + (uint64_t)t->env->consent_timeout_ms;
    else
        deadline = t->stats.created_ms + (uint64_t)t->env->pending_timeout_ms;
    /* consent also applies while connecting, once checks have started */
    if (t->state != FO_TS_CONNECTED && t->stats.last_check_ms) {
        uint64_t c = t->stats.last_check_ms + (uint64_t)t->env->consent_timeout_ms;
        if (c < deadline) deadline = c;
    }
    if (now >= deadline) {
        close_with(t, t->state == FO_TS_CONNECTED ? "ICE consent expired (no STUN checks)"
                                                  : "did not connect in time");
        return;
    }
    fo_timer_start(t->env->loop, &t->live_timer, deadline - now);
}

fo_transport_t *fo_transport_new(const fo_transport_env_t *env, const char *fp_alg,
                                 const char *fp, const fo_transport_cbs_t *cbs, void *user,
                                 const char *log_ctx)
{
    fo_transport_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->env = env;
    t->cbs = *cbs;
    t->user = user;
    t->selected = -1;
    snprintf(t->ctx, sizeof t->ctx, "%s", log_ctx ? log_ctx : "");
    fo_dtls_io_t io = {.send_cb = dtls_send_cb, .timer_cb = dtls_timer_cb, .user = t};
    t->dtls = fo_dtls_new(env->dtls, FO_DTLS_SERVER, &io, fp_alg, fp);
    if (!t->dtls) {
        free(t);
        return NULL;
    }
    fo_dtls_set_log_ctx(t->dtls, t->ctx);
    fo_timer_init(&t->dtls_timer, dtls_timer_fired, t);
    fo_timer_init(&t->live_timer, live_timer_fired, t);
    t->stats.created_ms = fo_loop_now(env->loop);
    fo_timer_start(env->loop, &t->live_timer, (uint64_t)env->pending_timeout_ms);
    return t;
}

void fo_transport_free(fo_transport_t *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_paths; i++)
        if (t->paths[i].tcp) fo_tcp_conn_close(t->paths[i].tcp, "session ended");
    fo_timer_stop(t->env->loop, &t->dtls_timer);
    fo_timer_stop(t->env->loop, &t->live_timer);
    fo_dtls_free(t->dtls);
    if (t->worker) /* its worker frees it after the packets queued before (docs/workers.md) */
        fo_workers_release(t->env->workers, t->worker, t->srtp);
    else
        fo_srtp_free(t->srtp);
    free(t->reasm);
    free(t);
}

/* The send worker, if any, protects and sends for UDP paths only: a TCP connection's queue is
 * the loop's. Moving to TCP waits until the worker has done everything queued for us (a
 * fence), after which the loop owns the outbound SRTP context (docs/workers.md). */
static void follow_carrier(fo_transport_t *t)
{
    const fo_path_t *p = selected_path(t);
    if (!p || !t->env->workers || t->state != FO_TS_CONNECTED) return;
    if (p->tcp && t->worker) {
        fo_workers_fence(t->env->workers, t->worker);
        FO_LOG(FO_LOG_DEBUG, t->ctx, "ICE-TCP: outbound SRTP back from send worker %u to the loop", t->worker);
        t->worker = 0;
    } else if (!p->tcp && !t->worker) {
        t->worker = fo_workers_assign(t->env->workers);
    }
}

static void tcp_closed_cb(void *owner, fo_tcp_conn_t *c);
static void tcp_writable_cb(void *owner, fo_tcp_conn_t *c)
{
    (void)c;
    fo_transport_t *t = owner;
    if (t->state != FO_TS_CLOSED && t->cbs.on_writable) t->cbs.on_writable(t->user);
}
static const fo_tcp_owner_cbs_t tcp_owner_cbs = {.closed = tcp_closed_cb, .writable = tcp_writable_cb};

/* Forgets path i (its connection is gone or it made room); the router unindexes a UDP one, the
 * selection follows. */
static void drop_path(fo_transport_t *t, size_t i)
{
    if (!t->paths[i].tcp && t->cbs.on_address) t->cbs.on_address(t->user, &t->paths[i].addr, false);
    memmove(&t->paths[i], &t->paths[i + 1], (t->n_paths - i - 1) * sizeof t->paths[0]);
    t->n_paths--;
    if (t->selected == (int)i) {
        /* the newest remaining path, if any; media resumes when the peer's checks pick one */
        t->selected = t->n_paths ? (int)t->n_paths - 1 : -1;
        follow_carrier(t);
    } else if (t->selected > (int)i) {
        t->selected--;
    }
}

static void tcp_closed_cb(void *owner, fo_tcp_conn_t *c)
{
    fo_transport_t *t = owner;
    for (size_t i = 0; i < t->n_paths; i++)
        if (t->paths[i].tcp == c) {
            FO_LOG(FO_LOG_INFO, t->ctx, "ICE-TCP connection closed%s",
                   t->selected == (int)i ? ": it was the path in use" : "");
            drop_path(t, i);
            return;
        }
}

void fo_transport_on_check(fo_transport_t *t, const fo_path_t *path, bool nominated)
{
    if (t->state == FO_TS_CLOSED) return;
    t->stats.last_check_ms = fo_loop_now(t->env->loop);
    int idx = -1;
    for (size_t i = 0; i < t->n_paths; i++)
        if (fo_path_equal(&t->paths[i], path)) idx = (int)i;
    if (idx < 0) {
        /* Remember a bounded set; the oldest non-selected one makes room. */
        if (t->n_paths == FO_TRANSPORT_MAX_ADDRS) {
            size_t victim = t->selected == 0 ? 1 : 0;
            if (t->paths[victim].tcp) fo_tcp_conn_close(t->paths[victim].tcp, "a newer path took its place");
            drop_path(t, victim); /* the router forgets a UDP one first (issue 15, item 1) */
        }
        idx = (int)t->n_paths++;
        t->paths[idx] = *path;
        if (path->tcp) fo_tcp_conn_bind(path->tcp, &tcp_owner_cbs, t);
        else if (t->cbs.on_address) t->cbs.on_address(t->user, &path->addr, true);
        char a[64];
        FO_LOG(FO_LOG_DEBUG, t->ctx, "ICE check ok from %s %s%s", path->tcp ? "tcp" : "udp",
               fo_addr_str(&path->addr, a, sizeof a), nominated ? " (nominated)" : "");
    }
    /* Follow the newest nominated path; before any nomination, the newest checked one. */
    if (nominated || !t->nominated) {
        if (t->selected != idx && t->selected >= 0 && nominated) {
            char a[64];
            FO_LOG(FO_LOG_INFO, t->ctx, "peer moved to %s %s", path->tcp ? "tcp" : "udp",
                   fo_addr_str(&path->addr, a, sizeof a));
        }
        bool changed = t->selected != idx;
        t->selected = idx;
        t->nominated = t->nominated || nominated;
        if (changed) follow_carrier(t);
    }
    if (t->state == FO_TS_NEW) t->state = FO_TS_CHECKED;
}

static void on_dtls(fo_transport_t *t, const uint8_t *buf, size_t len)
{
    if (t->state == FO_TS_CHECKED) {
        /* mbedtls cannot take a fragmented ClientHello: put it together first. */
        if (!t->reasm && !(t->reasm = calloc(1, sizeof *t->reasm))) return;
        size_t n = 0;
        int r = fo_dtls_reasm_feed(&t->reasm->st, buf, len, t->reasm->out, sizeof t->reasm->out, &n);
        if (r == FO_EAGAIN || r < 0) return;
        if (r == FO_DTLS_REASM_DONE) {
            buf = t->reasm->out;
            len = n;
        }
    }
    int rc = fo_dtls_input(t->dtls, buf, len);
    if (rc == FO_EAGAIN || rc == FO_EINVAL) return; /* in progress / stray datagram dropped */
    if (rc == FO_ECLOSED) {
        close_with(t, "DTLS close_notify");
        return;
    }
    if (rc != 0) {
        close_with(t, rc == FO_EAUTH ? "DTLS fingerprint mismatch" : "DTLS handshake failed");
        return;
    }
    if (t->state != FO_TS_CHECKED) return; /* already connected: nothing to do */
    fo_srtp_keys_t keys;
    if (fo_dtls_srtp_keys(t->dtls, &keys) != 0 || !(t->srtp = fo_srtp_new(&keys))) {
        close_with(t, "SRTP setup failed");
        return;
    }
    memset(&keys, 0, sizeof keys);
    free(t->reasm);
    t->reasm = NULL;
    t->state = FO_TS_CONNECTED;
    follow_carrier(t); /* a send worker for a UDP path */
    t->stats.connected_ms = fo_loop_now(t->env->loop);
    FO_LOG(FO_LOG_INFO, t->ctx, "connected (DTLS-SRTP) in %llu ms",
           (unsigned long long)(t->stats.connected_ms - t->stats.created_ms));
    fo_timer_start(t->env->loop, &t->live_timer, (uint64_t)t->env->consent_timeout_ms);
    if (t->cbs.on_connected) t->cbs.on_connected(t->user);
}

void fo_transport_on_datagram(fo_transport_t *t, uint8_t *buf, size_t len, const fo_path_t *path)
{
    (void)path;
    if (t->state == FO_TS_CLOSED || t->state == FO_TS_NEW) return;
    /* Before any crypto, so a flood costs us a compare, not a decrypt. */
    if (!fo_rate_allow(&t->rate, fo_loop_now(t->env->loop), t->env->max_pps)) {
        t->stats.rx_dropped++;
        t->stats.rx_rate_dropped++;
        if (t->env->rx_rate_dropped) (*t->env->rx_rate_dropped)++;
        return;
    }
    uint8_t b = buf[0];
    if (b >= 20 && b <= 63) {
        on_dtls(t, buf, len);
        return;
    }
    if (b < 128 || b > 191 || t->state != FO_TS_CONNECTED) {
        t->stats.rx_dropped++;
        return;
    }
    size_t n = len;
    bool rtcp = fo_rtp_is_rtcp(buf, len);
    int rc = rtcp ? fo_srtp_unprotect_rtcp(t->srtp, buf, &n) : fo_srtp_unprotect(t->srtp, buf, &n);
    if (rc != 0) {
        t->stats.rx_dropped++;
        return;
    }
    t->stats.rx_packets++;
    t->stats.rx_bytes += len;
    if (!t->peer_done) { /* the peer has our last DTLS flight: dtls may hibernate */
        t->peer_done = true;
        fo_dtls_peer_done(t->dtls);
    }
    if (rtcp) {
        if (t->cbs.on_rtcp) t->cbs.on_rtcp(t->user, buf, n);
    } else if (t->cbs.on_rtp) {
        t->cbs.on_rtp(t->user, buf, n);
    }
}

fo_transport_state_t fo_transport_state(const fo_transport_t *t) { return t->state; }

const fo_path_t *fo_transport_path(const fo_transport_t *t) { return selected_path(t); }

const fo_addr_t *fo_transport_addr(const fo_transport_t *t)
{
    return t->selected >= 0 ? &t->paths[t->selected].addr : NULL;
}

size_t fo_transport_paths(const fo_transport_t *t, const fo_path_t **out)
{
    *out = t->paths;
    return t->n_paths;
}

bool fo_transport_congested(const fo_transport_t *t)
{
    const fo_path_t *p = selected_path(t);
    return p && p->tcp && fo_tcp_conn_congested(p->tcp);
}

uint8_t *fo_transport_slot(fo_transport_t *t, size_t *cap)
{
    const fo_path_t *p = selected_path(t);
    if (p && p->tcp) return fo_tcp_conn_slot(p->tcp, cap);
    if (t->worker) return fo_workers_slot(t->env->workers, t->worker, cap);
    if (t->env->udp) return fo_udp_slot(t->env->udp, cap);
    *cap = FO_UDP_BUF;
    return t->env->scratch;
}

static int commit(fo_transport_t *t, uint8_t *slot, size_t len, bool rtcp)
{
    const fo_path_t *p = selected_path(t);
    /* a slot of a worker or a connection that is not committed is just not used */
    if (t->state != FO_TS_CONNECTED || !p) return FO_EAGAIN;
    if (t->worker) {
        if (len + FO_SRTP_MAX_TRAILER > FO_UDP_BUF) return FO_ETOOBIG;
        int rc = fo_workers_commit(t->env->workers, t->worker, len, rtcp, t->srtp, &p->addr);
        if (rc != 0) return rc;
        t->stats.tx_packets++;
        t->stats.tx_bytes += len + (rtcp ? 14 : 10); /* + SRTCP index and/or the 80-bit tag */
        return 0;
    }
    size_t n = len;
    int rc = rtcp ? fo_srtp_protect_rtcp(t->srtp, slot, &n, FO_UDP_BUF)
                  : fo_srtp_protect(t->srtp, slot, &n, FO_UDP_BUF);
    if (rc != 0) return rc;
    if (p->tcp) {
        if (fo_tcp_conn_commit(p->tcp, n) != 0) {
            t->stats.tx_dropped++;
            return FO_EAGAIN;
        }
    } else {
        fo_udp_commit(t->env->udp, n, &p->addr);
    }
    t->stats.tx_packets++;
    t->stats.tx_bytes += n;
    return 0;
}

int fo_transport_commit_rtp(fo_transport_t *t, uint8_t *slot, size_t len)
{
    return commit(t, slot, len, false);
}

int fo_transport_commit_rtcp(fo_transport_t *t, uint8_t *slot, size_t len)
{
    return commit(t, slot, len, true);
}

int fo_transport_send_rtcp(fo_transport_t *t, const uint8_t *buf, size_t len)
{
    size_t cap;
    uint8_t *slot = fo_transport_slot(t, &cap);
    if (len + FO_SRTP_MAX_TRAILER > cap) return FO_ETOOBIG;
    memcpy(slot, buf, len);
    return fo_transport_commit_rtcp(t, slot, len);
}

void fo_transport_flush(fo_transport_t *t)
{
    /* the UDP flush hook flushes the send workers and the TCP queues too (router.c) */
    if (t->env->udp) fo_udp_flush(t->env->udp);
    else if (t->env->tcp) fo_tcp_flush(t->env->tcp);
}

void fo_transport_close(fo_transport_t *t)
{
    if (t->state == FO_TS_CLOSED) return;
    if (t->state == FO_TS_CONNECTED) fo_dtls_close(t->dtls);
    t->state = FO_TS_CLOSED;
    fo_timer_stop(t->env->loop, &t->dtls_timer);
    fo_timer_stop(t->env->loop, &t->live_timer);
}

const fo_transport_stats_t *fo_transport_stats(const fo_transport_t *t) { return &t->stats; }
