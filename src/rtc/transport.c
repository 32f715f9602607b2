/* SPDX-License-Identifier: MIT */
/* A peer's ICE/DTLS/SRTP transport. State machine: NEW -(valid check)-> CHECKED -(DTLS done,
 * keys exported)-> CONNECTED -> CLOSED (close_notify, DTLS failure, consent or pending timeout).
 * Where DTLS and media go is paths.c's: a confirmed path only. A ClientHello that arrives
 * before any path is confirmed waits (one, the latest) and is handed to DTLS when one is, so
 * no handshake flight goes to an unconfirmed address and no handshake work is done for one.
 * Liveness uses one lazily re-armed timer, so a STUN check costs no timer operation. The
 * carrier of each path (UDP address or ICE-TCP connection) matters in four places only:
 * where a slot comes from, where a committed packet goes, who protects it (a send worker for
 * UDP, the loop for TCP: workers never touch a TCP queue) and the TCP connection's life. The client
 * role (relays) differs only in ICE: it sends the checks (ice_timer) and a valid response, not a
 * check, holds and confirms the address and moves it to CHECKED; "last check" is then the last
 * response. */
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
    fo_paths_t *paths;       /* the peer's paths and the one we send to */
    fo_dtls_t *dtls;
    bool peer_done;          /* told dtls that SRTP/SRTCP from the peer authenticated */
    fo_srtp_t *srtp;
    unsigned worker;         /* send worker owning srtp's outbound half; 0: the loop */
    struct reasm *reasm;     /* ClientHello reassembly, only while handshaking */
    fo_timer_t dtls_timer;
    fo_timer_t live_timer;
    fo_rate_t rate;          /* inbound packet-rate cap */
    fo_rate_t check_rate;    /* ICE checks answered */
    fo_transport_stats_t stats;
    bool dtls_server;        /* we are the DTLS server (always, but for a client role's option) */
    fo_transport_client_t *cli; /* the client role's ICE; NULL for the server role */
    fo_timer_t ice_timer;    /* client: check pacing */
    struct early *early;     /* SRTP that came before our handshake finished, while handshaking */
};

/* The peer's side of the handshake ends before ours: it may send SRTP (a browser's first video,
 * an origin's instant-start burst to a relay) while our last handshake step still runs (on the
 * handshake pool). Those packets wait here, bounded, and go in once we are connected; dropping
 * them cost the first keyframe (a relay's cold pull waited for the publisher's next one). */
#define EARLY_MAX 32
struct early {
    size_t n;
    uint16_t len[EARLY_MAX];
    uint8_t buf[EARLY_MAX][FO_UDP_BUF];
};

struct reasm {
    fo_dtls_reasm_t st;
    size_t held;             /* out[0..held) is a ClientHello waiting for a confirmed address */
    uint8_t out[FO_DTLS_REASM_MAX + 64];
};

static void close_with(fo_transport_t *t, const char *reason)
{
    if (t->state == FO_TS_CLOSED) return;
    t->state = FO_TS_CLOSED;
    fo_timer_stop(t->env->loop, &t->dtls_timer);
    fo_timer_stop(t->env->loop, &t->live_timer);
    fo_timer_stop(t->env->loop, &t->ice_timer);
    FO_LOG(FO_LOG_INFO, t->ctx, "transport closed: %s", reason);
    if (t->cbs.on_closed) t->cbs.on_closed(t->user, reason);
}

/* Sends a datagram that is not SRTP (DTLS) on the selected path, copying it. */
static void send_plain(fo_transport_t *t, const uint8_t *buf, size_t len)
{
    const fo_path_t *p = fo_paths_selected(t->paths);
    if (!p) return; /* DTLS starts only once a path is confirmed; its connection may close */
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

static void dtls_send_cb(void *user, const uint8_t *buf, size_t len) { send_plain(user, buf, len); }

static void dtls_timer_cb(void *user, int ms)
{
    fo_transport_t *t = user;
    if (ms < 0) fo_timer_stop(t->env->loop, &t->dtls_timer);
    else fo_timer_start(t->env->loop, &t->dtls_timer, (uint64_t)ms);
}

static void dtls_result_cb(void *user, int rc);

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

static void on_dtls_input(fo_transport_t *t, const uint8_t *buf, size_t len);
static void keep_early(fo_transport_t *t, const uint8_t *buf, size_t len);
static void replay_early(fo_transport_t *t);
static void on_srtp(fo_transport_t *t, uint8_t *buf, size_t len);

/* The send worker, if any, protects and sends for UDP paths only: a TCP connection's queue is
 * the loop's. Moving to TCP waits until the worker has done everything queued for us (a
 * fence), after which the loop owns the outbound SRTP context (docs/workers.md). */
static void follow_carrier(fo_transport_t *t)
{
    const fo_path_t *p = fo_paths_selected(t->paths);
    if (!p || !t->env->workers || t->state != FO_TS_CONNECTED) return;
    if (p->tcp && t->worker) {
        fo_workers_fence(t->env->workers, t->worker);
        FO_LOG(FO_LOG_DEBUG, t->ctx, "ICE-TCP: outbound SRTP back from send worker %u to the loop", t->worker);
        t->worker = 0;
    } else if (!p->tcp && !t->worker) {
        t->worker = fo_workers_assign(t->env->workers);
    }
}

static void tcp_closed_cb(void *owner, fo_tcp_conn_t *c)
{
    fo_transport_t *t = owner;
    const fo_path_t *sel = fo_paths_selected(t->paths);
    FO_LOG(FO_LOG_INFO, t->ctx, "ICE-TCP connection closed%s",
           sel && sel->tcp == c ? ": it was the path in use" : "");
    fo_paths_forget_tcp(t->paths, c);
}

static void tcp_writable_cb(void *owner, fo_tcp_conn_t *c)
{
    (void)c;
    fo_transport_t *t = owner;
    if (t->state != FO_TS_CLOSED && t->cbs.on_writable) t->cbs.on_writable(t->user);
}
static const fo_tcp_owner_cbs_t tcp_owner_cbs = {.closed = tcp_closed_cb, .writable = tcp_writable_cb};

/* A path is held now, or forgotten to make room: the router indexes UDP addresses; a TCP
 * connection is bound to us, or closed. */
static void paths_address_cb(void *user, const fo_path_t *path, bool held)
{
    fo_transport_t *t = user;
    if (path->tcp) {
        if (held) fo_tcp_conn_bind(path->tcp, &tcp_owner_cbs, t);
        else fo_tcp_conn_close(path->tcp, "a newer path took its place");
    } else if (t->cbs.on_address && !t->cli) {
        /* A client's address is on the relay's own socket: nothing for the shared port's index. */
        t->cbs.on_address(t->user, &path->addr, held);
    }
}

/* The selected path changed. The first: a ClientHello that waited for a confirmed path goes
 * to DTLS now. */
static void paths_selected_cb(void *user, const fo_path_t *path, bool first)
{
    fo_transport_t *t = user;
    if (path) follow_carrier(t);
    if (!path || !first || t->state != FO_TS_CHECKED || !t->reasm || !t->reasm->held) return;
    size_t len = t->reasm->held;
    t->reasm->held = 0;
    on_dtls_input(t, t->reasm->out, len);
    fo_transport_flush(t);
}

static fo_transport_t *create(const fo_transport_env_t *env, const char *fp_alg, const char *fp,
                              const fo_transport_ice_t *ice, const fo_transport_client_t *cli,
                              const fo_transport_cbs_t *cbs, void *user, const char *log_ctx)
{
    fo_transport_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->env = env;
    t->cbs = *cbs;
    t->user = user;
    t->dtls_server = !cli || cli->dtls_server;
    if (cli) { /* before the paths: they report addresses by whether this is set */
        if (!(t->cli = malloc(sizeof *t->cli))) {
            free(t);
            return NULL;
        }
        *t->cli = *cli;
    }
    snprintf(t->ctx, sizeof t->ctx, "%s", log_ctx ? log_ctx : "");
    fo_dtls_io_t io = {.send_cb = dtls_send_cb, .timer_cb = dtls_timer_cb, .user = t,
                       .result_cb = dtls_result_cb, .loop = env->loop};
    fo_paths_cbs_t pcbs = {.on_address = paths_address_cb, .on_selected = paths_selected_cb};
    t->dtls = fo_dtls_new(env->dtls, t->dtls_server ? FO_DTLS_SERVER : FO_DTLS_CLIENT, &io, fp_alg, fp);
    t->paths = fo_paths_new(&env->paths, ice->local_ufrag, ice->remote_ufrag, ice->remote_pwd,
                            &pcbs, t, t->ctx);
    if (!t->dtls || !t->paths) {
        fo_dtls_free(t->dtls);
        fo_paths_free(t->paths);
        free(t->cli);
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

fo_transport_t *fo_transport_new(const fo_transport_env_t *env, const char *fp_alg,
                                 const char *fp, const fo_transport_ice_t *ice,
                                 const fo_transport_cbs_t *cbs, void *user, const char *log_ctx)
{
    return create(env, fp_alg, fp, ice, NULL, cbs, user, log_ctx);
}

void fo_transport_free(fo_transport_t *t)
{
    if (!t) return;
    fo_timer_stop(t->env->loop, &t->dtls_timer);
    fo_timer_stop(t->env->loop, &t->live_timer);
    fo_timer_stop(t->env->loop, &t->ice_timer);
    free(t->cli);
    fo_dtls_free(t->dtls);
    const fo_path_t *all;
    size_t n = t->paths ? fo_paths_all(t->paths, &all) : 0;
    for (size_t i = 0; i < n; i++)
        if (all[i].tcp) fo_tcp_conn_close(all[i].tcp, "session ended");
    fo_paths_free(t->paths);
    if (t->worker) /* its worker frees it after the packets queued before (docs/workers.md) */
        fo_workers_release(t->env->workers, t->worker, t->srtp);
    else
        fo_srtp_free(t->srtp);
    free(t->reasm);
    free(t->early);
    free(t);
}

void fo_transport_on_check(fo_transport_t *t, const fo_path_t *from, const fo_paths_check_t *c)
{
    if (t->state == FO_TS_CLOSED || t->cli) return; /* a client answers its checks itself */
    uint64_t now = fo_loop_now(t->env->loop);
    /* After validation (which needs the session's password), so only its holder can use up
     * its budget: an on-path observer who saw the ufrag cannot starve consent. */
    if (!fo_rate_allow(&t->check_rate, now, FO_TRANSPORT_CHECKS_PER_S)) {
        t->stats.checks_limited++;
        if (t->env->totals) t->env->totals->checks_limited++;
        return;
    }
    t->stats.last_check_ms = now;
    if (t->state != FO_TS_CONNECTED) { /* the checks of the connect phase: their timing matters */
        char a[64];
        FO_LOG(FO_LOG_DEBUG, t->ctx, "ICE check from %s %s%s, %llu ms after the offer",
               from->tcp ? "tcp" : "udp", fo_addr_str(&from->addr, a, sizeof a),
               c->nominated ? " (USE-CANDIDATE)" : "",
               (unsigned long long)(now - t->stats.created_ms));
    }
    fo_paths_check_t cc = *c;
    cc.confirmed = cc.confirmed || from->tcp; /* the connection's handshake proved the peer */
    fo_paths_on_check(t->paths, from, &cc);
    if (t->state == FO_TS_NEW) t->state = FO_TS_CHECKED;
}

int fo_transport_set_ice(fo_transport_t *t, const fo_transport_ice_t *ice)
{
    return fo_paths_set_ice(t->paths, ice->local_ufrag, ice->remote_ufrag, ice->remote_pwd);
}
static int client_response(fo_transport_t *t, const fo_addr_t *from, const uint8_t *buf, size_t len);

int fo_transport_on_stun_response(fo_transport_t *t, const fo_addr_t *from, const uint8_t *buf,
                                  size_t len)
{
    if (t->state == FO_TS_CLOSED) return FO_ECLOSED;
    /* A client sends no confirmation requests of paths.h's kind: its own checks confirm. */
    if (t->cli) return client_response(t, from, buf, len);
    return fo_paths_on_response(t->paths, from, buf, len);
}

static void dtls_result(fo_transport_t *t, int rc);

/* After each of an offloaded handshake's jobs (include/fanout/dtls.h, "Offload"): its outcome,
 * and its flight goes out now rather than after the next received batch. */
static void dtls_result_cb(void *user, int rc)
{
    fo_transport_t *t = user;
    if (rc != FO_EAGAIN && t->state != FO_TS_CLOSED) dtls_result(t, rc);
    fo_transport_flush(t);
}

static void on_dtls(fo_transport_t *t, const uint8_t *buf, size_t len)
{
    if (t->state == FO_TS_CHECKED && t->dtls_server) {
        /* Handshake datagrams are few: their timing is worth a debug line (connect time). */
        FO_LOG(FO_LOG_DEBUG, t->ctx, "DTLS in: %zu bytes, first record type %u, %llu ms after the offer",
               len, buf[0], (unsigned long long)(fo_loop_now(t->env->loop) - t->stats.created_ms));
        /* mbedtls cannot take a fragmented ClientHello: put it together first. */
        if (!t->reasm && !(t->reasm = calloc(1, sizeof *t->reasm))) return;
        size_t n = 0;
        int r = fo_dtls_reasm_feed(&t->reasm->st, buf, len, t->reasm->out, sizeof t->reasm->out, &n);
        if (r == FO_EAGAIN || r < 0) return;
        if (r == FO_DTLS_REASM_DONE) {
            FO_LOG(FO_LOG_DEBUG, t->ctx, "DTLS: fragmented ClientHello reassembled (%zu bytes)", n);
            buf = t->reasm->out;
            len = n;
        }
        if (!fo_paths_selected(t->paths)) { /* nowhere to answer yet: keep the latest */
            if (len > sizeof t->reasm->out) return;
            if (buf != t->reasm->out) memcpy(t->reasm->out, buf, len);
            t->reasm->held = len;
            return;
        }
        t->reasm->held = 0;
    }
    on_dtls_input(t, buf, len);
}

/* A DTLS datagram (a whole ClientHello while handshaking) for mbedtls. */
static void on_dtls_input(fo_transport_t *t, const uint8_t *buf, size_t len)
{
    int rc = fo_dtls_input(t->dtls, buf, len);
    if (rc == FO_EAGAIN || rc == FO_EINVAL) return; /* in progress / stray datagram dropped */
    dtls_result(t, rc);
}

/* What the DTLS session said about a datagram (now, or later from its handshake job). */
static void dtls_result(fo_transport_t *t, int rc)
{
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
    if (t->early) {
        FO_LOG(FO_LOG_DEBUG, t->ctx, "%zu SRTP datagrams from before the handshake ended go in now", t->early->n);
        replay_early(t);
    }
}

void fo_transport_on_datagram(fo_transport_t *t, uint8_t *buf, size_t len, const fo_path_t *from)
{
    if (t->state == FO_TS_CLOSED || t->state == FO_TS_NEW) return;
    if (t->cli && (from->tcp || !fo_paths_is_confirmed(t->paths, &from->addr))) { /* its own socket: anyone's */
        t->stats.rx_dropped++;
        return;
    }
    /* While connecting, what the peer sends funds retransmissions of our confirmation request
     * (not on the media path: connected peers send from confirmed addresses). */
    if (t->state == FO_TS_CHECKED) fo_paths_on_datagram(t->paths, from, len);
    /* Before any crypto, so a flood costs us a compare, not a decrypt. */
    if (!fo_rate_allow(&t->rate, fo_loop_now(t->env->loop), t->env->max_pps)) {
        t->stats.rx_dropped++;
        t->stats.rx_rate_dropped++;
        if (t->env->totals) t->env->totals->rx_rate_dropped++;
        return;
    }
    uint8_t b = buf[0];
    if (b >= 20 && b <= 63) {
        on_dtls(t, buf, len);
        return;
    }
    if (b < 128 || b > 191) {
        t->stats.rx_dropped++;
        return;
    }
    if (t->state != FO_TS_CONNECTED) {
        keep_early(t, buf, len);
        return;
    }
    on_srtp(t, buf, len);
}

/* Keeps an SRTP/SRTCP datagram that came before we were connected (struct early). */
static void keep_early(fo_transport_t *t, const uint8_t *buf, size_t len)
{
    if (!t->early && !(t->early = calloc(1, sizeof *t->early))) {
        t->stats.rx_dropped++;
        return;
    }
    struct early *e = t->early;
    if (e->n == EARLY_MAX || len > FO_UDP_BUF) {
        t->stats.rx_dropped++;
        return;
    }
    memcpy(e->buf[e->n], buf, len);
    e->len[e->n++] = (uint16_t)len;
}

/* The kept datagrams, in order, once connected. */
static void replay_early(fo_transport_t *t)
{
    struct early *e = t->early;
    t->early = NULL;
    for (size_t i = 0; e && i < e->n && t->state == FO_TS_CONNECTED; i++) on_srtp(t, e->buf[i], e->len[i]);
    free(e);
}

/* An SRTP or SRTCP datagram while connected: authenticated, decrypted in place, handed up. */
static void on_srtp(fo_transport_t *t, uint8_t *buf, size_t len)
{
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

const fo_path_t *fo_transport_path(const fo_transport_t *t) { return fo_paths_selected(t->paths); }

const fo_addr_t *fo_transport_addr(const fo_transport_t *t)
{
    const fo_path_t *p = fo_paths_selected(t->paths);
    if (!p) p = fo_paths_wanted(t->paths);
    return p ? &p->addr : NULL;
}

size_t fo_transport_paths(const fo_transport_t *t, const fo_path_t **out)
{
    return fo_paths_all(t->paths, out);
}

bool fo_transport_congested(const fo_transport_t *t)
{
    const fo_path_t *p = fo_paths_selected(t->paths);
    return p && p->tcp && fo_tcp_conn_congested(p->tcp);
}

uint8_t *fo_transport_slot(fo_transport_t *t, size_t *cap)
{
    if (t->worker) return fo_workers_slot(t->env->workers, t->worker, cap);
    const fo_path_t *p = fo_paths_selected(t->paths);
    if (p && p->tcp) return fo_tcp_conn_slot(p->tcp, cap);
    if (t->env->udp) return fo_udp_slot(t->env->udp, cap);
    *cap = FO_UDP_BUF;
    return t->env->scratch;
}

static int commit(fo_transport_t *t, uint8_t *slot, size_t len, bool rtcp)
{
    const fo_path_t *p = fo_paths_selected(t->paths);
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
    fo_timer_stop(t->env->loop, &t->ice_timer);
}

const fo_transport_stats_t *fo_transport_stats(const fo_transport_t *t) { return &t->stats; }

/* --- the client role --- */

#define CLIENT_CHECK_MS 50 /* check pacing until a candidate answers */

/* Sends a check (nominating) to `to` as the controlling agent. */
static void send_check(fo_transport_t *t, const fo_addr_t *to)
{
    char user[200];
    uint8_t buf[512];
    snprintf(user, sizeof user, "%s:%s", t->cli->remote_ufrag, t->cli->local_ufrag);
    /* host candidate priority for component 1 (RFC 8445 5.1.2.1): type preference 126 */
    uint32_t prio = (126u << 24) | (65535u << 8) | 255u;
    int n = fo_stun_build_request(t->env->paths.stun, buf, sizeof buf, user, t->cli->remote_pwd,
                                  prio, t->cli->tie, true);
    if (n > 0) fo_udp_send(t->env->udp, buf, (size_t)n, to);
}

static void ice_timer_fired(fo_timer_t *timer)
{
    fo_transport_t *t = timer->user;
    if (t->state == FO_TS_CLOSED) return;
    const fo_path_t *sel = fo_paths_selected(t->paths);
    if (!sel) {
        for (size_t i = 0; i < t->cli->n_cands; i++) send_check(t, &t->cli->cands[i]);
        fo_timer_start(t->env->loop, &t->ice_timer, CLIENT_CHECK_MS);
    } else {
        send_check(t, &sel->addr); /* consent freshness */
        fo_timer_start(t->env->loop, &t->ice_timer, (uint64_t)t->cli->check_ms);
    }
    fo_udp_flush(t->env->udp);
}

fo_transport_t *fo_transport_new_client(const fo_transport_env_t *env, const char *fp_alg,
                                        const char *fp, const fo_transport_client_t *cli,
                                        const fo_transport_cbs_t *cbs, void *user,
                                        const char *log_ctx)
{
    if (!env->paths.stun || cli->n_cands == 0 || cli->n_cands > FO_TRANSPORT_MAX_ADDRS) return NULL;
    fo_transport_ice_t ice = {.local_ufrag = cli->local_ufrag, .remote_ufrag = cli->remote_ufrag,
                              .remote_pwd = cli->remote_pwd};
    fo_transport_t *t = create(env, fp_alg, fp, &ice, cli, cbs, user, log_ctx);
    if (!t) return NULL;
    if (t->cli->check_ms <= 0) t->cli->check_ms = 1000;
    fo_timer_init(&t->ice_timer, ice_timer_fired, t);
    fo_timer_start(env->loop, &t->ice_timer, 0);
    return t;
}

bool fo_transport_is_client(const fo_transport_t *t) { return t->cli != NULL; }

/* Our password for checks from the remote, whose USERNAME is "ourUfrag:theirUfrag". */
static const char *client_pwd_cb(void *user, const char *username, size_t len)
{
    fo_transport_t *t = user;
    size_t ul = strlen(t->cli->local_ufrag);
    if (len > ul && memcmp(username, t->cli->local_ufrag, ul) == 0 && username[ul] == ':')
        return t->cli->local_pwd;
    return NULL;
}

/* A response to one of our checks: valid (integrity with the remote's password) and from one of
 * the remote's candidates, the first proves and selects that address (paths.h: our own check
 * succeeded, so it is held confirmed with no request of paths' kind); later ones, from that
 * address only, keep consent. */
static int client_response(fo_transport_t *t, const fo_addr_t *from, const uint8_t *buf, size_t len)
{
    if (fo_stun_check_response(t->env->paths.stun, buf, len, t->cli->remote_pwd, NULL) != 0) {
        t->stats.rx_dropped++;
        return FO_EAUTH;
    }
    const fo_path_t *sel = fo_paths_selected(t->paths);
    bool known = false;
    for (size_t i = 0; i < t->cli->n_cands; i++) known |= fo_addr_equal(&t->cli->cands[i], from);
    if (!known || (sel && (sel->tcp || !fo_addr_equal(from, &sel->addr)))) {
        t->stats.rx_dropped++;
        return FO_ENOTFOUND;
    }
    t->stats.last_check_ms = fo_loop_now(t->env->loop);
    if (sel) return 0;
    fo_paths_check_t c = {.nominated = true, .confirmed = true, .len = len};
    const fo_path_t way = {.addr = *from};
    fo_paths_on_check(t->paths, &way, &c);
    if (!fo_paths_selected(t->paths)) return FO_ERR; /* cannot happen: it was just confirmed */
    t->state = FO_TS_CHECKED;
    char a[64];
    FO_LOG(FO_LOG_INFO, t->ctx, "ICE connected to %s in %llu ms", fo_addr_str(from, a, sizeof a),
           (unsigned long long)(t->stats.last_check_ms - t->stats.created_ms));
    fo_timer_start(t->env->loop, &t->ice_timer, (uint64_t)t->cli->check_ms);
    if (!t->dtls_server) {
        int rc = fo_dtls_start(t->dtls);
        if (rc != 0 && rc != FO_EAGAIN) close_with(t, "DTLS handshake failed to start");
    }
    fo_udp_flush(t->env->udp);
    return 0;
}

void fo_transport_on_stun(fo_transport_t *t, const uint8_t *buf, size_t len, const fo_addr_t *from)
{
    if (!t->cli || t->state == FO_TS_CLOSED) return;
    fo_stun_class_t cls = fo_stun_class(buf, len);
    if (cls == FO_STUN_RESPONSE) {
        (void)fo_transport_on_stun_response(t, from, buf, len);
        return;
    }
    if (cls != FO_STUN_REQUEST ||
        !fo_rate_allow(&t->check_rate, fo_loop_now(t->env->loop), FO_TRANSPORT_CHECKS_PER_S)) {
        t->stats.rx_dropped++;
        return;
    }
    uint8_t reply[512];
    size_t rlen = sizeof reply;
    int rc = fo_stun_answer_controlling(t->env->paths.stun, t->cli->tie, buf, len, &from->u.sa,
                                        from->len, client_pwd_cb, t, reply, &rlen);
    if (rc == 0 || rlen > 0) {
        fo_udp_send(t->env->udp, reply, rlen, from);
        fo_udp_flush(t->env->udp);
    } else {
        t->stats.rx_dropped++;
    }
}
