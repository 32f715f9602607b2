/* SPDX-License-Identifier: MIT */
/* A peer's ICE/DTLS/SRTP path. State machine: NEW -(valid check)-> CHECKED -(DTLS done, keys
 * exported)-> CONNECTED -> CLOSED (close_notify, DTLS failure, consent or pending timeout).
 * Liveness uses one lazily re-armed timer, so a STUN check costs no timer operation. The client
 * role (relays) differs only in ICE: it sends the checks (ice_timer) and a valid response, not a
 * check, moves it to CHECKED; "last check" is then the last response. */
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
    fo_addr_t addrs[FO_TRANSPORT_MAX_ADDRS];
    size_t n_addrs;
    int selected;            /* index into addrs we send to, -1 none */
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
    bool dtls_server;        /* we are the DTLS server (always, but for a client role's option) */
    fo_transport_client_t *cli; /* the client role's ICE; NULL for the server role */
    fo_timer_t ice_timer;    /* client: check pacing */
};

struct reasm {
    fo_dtls_reasm_t st;
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

static void dtls_send_cb(void *user, const uint8_t *buf, size_t len)
{
    fo_transport_t *t = user;
    if (t->selected < 0) return;
    fo_udp_send(t->env->udp, buf, len, &t->addrs[t->selected]);
    t->stats.tx_packets++;
    t->stats.tx_bytes += len;
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
    fo_udp_flush(t->env->udp);
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

static fo_transport_t *create(const fo_transport_env_t *env, const char *fp_alg, const char *fp,
                              bool dtls_server, const fo_transport_cbs_t *cbs, void *user,
                              const char *log_ctx)
{
    fo_transport_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->env = env;
    t->cbs = *cbs;
    t->user = user;
    t->selected = -1;
    t->dtls_server = dtls_server;
    snprintf(t->ctx, sizeof t->ctx, "%s", log_ctx ? log_ctx : "");
    fo_dtls_io_t io = {.send_cb = dtls_send_cb, .timer_cb = dtls_timer_cb, .user = t};
    t->dtls = fo_dtls_new(env->dtls, dtls_server ? FO_DTLS_SERVER : FO_DTLS_CLIENT, &io, fp_alg, fp);
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

fo_transport_t *fo_transport_new(const fo_transport_env_t *env, const char *fp_alg,
                                 const char *fp, const fo_transport_cbs_t *cbs, void *user,
                                 const char *log_ctx)
{
    return create(env, fp_alg, fp, true, cbs, user, log_ctx);
}

void fo_transport_free(fo_transport_t *t)
{
    if (!t) return;
    fo_timer_stop(t->env->loop, &t->dtls_timer);
    fo_timer_stop(t->env->loop, &t->live_timer);
    fo_timer_stop(t->env->loop, &t->ice_timer);
    free(t->cli);
    fo_dtls_free(t->dtls);
    if (t->worker) /* its worker frees it after the packets queued before (docs/workers.md) */
        fo_workers_release(t->env->workers, t->worker, t->srtp);
    else
        fo_srtp_free(t->srtp);
    free(t->reasm);
    free(t);
}

void fo_transport_on_check(fo_transport_t *t, const fo_addr_t *from, bool nominated)
{
    if (t->state == FO_TS_CLOSED) return;
    t->stats.last_check_ms = fo_loop_now(t->env->loop);
    int idx = -1;
    for (size_t i = 0; i < t->n_addrs; i++)
        if (fo_addr_equal(&t->addrs[i], from)) idx = (int)i;
    if (idx < 0) {
        /* Remember a bounded set; the oldest non-selected one makes room. */
        if (t->n_addrs == FO_TRANSPORT_MAX_ADDRS) {
            int victim = t->selected == 0 ? 1 : 0;
            /* the router must forget it before it is overwritten (issue 15, item 1) */
            if (t->cbs.on_address) t->cbs.on_address(t->user, &t->addrs[victim], false);
            t->addrs[victim] = *from;
            idx = victim;
        } else {
            idx = (int)t->n_addrs++;
            t->addrs[idx] = *from;
        }
        if (t->cbs.on_address) t->cbs.on_address(t->user, from, true);
        char a[64];
        FO_LOG(FO_LOG_DEBUG, t->ctx, "ICE check ok from %s%s", fo_addr_str(from, a, sizeof a),
               nominated ? " (nominated)" : "");
    }
    /* Follow the newest nominated address; before any nomination, the newest checked one. */
    if (nominated || !t->nominated) {
        if (t->selected != idx && t->selected >= 0 && nominated) {
            char a[64];
            FO_LOG(FO_LOG_INFO, t->ctx, "peer moved to %s", fo_addr_str(from, a, sizeof a));
        }
        t->selected = idx;
        t->nominated = t->nominated || nominated;
    }
    if (t->state == FO_TS_NEW) t->state = FO_TS_CHECKED;
}

static void on_dtls(fo_transport_t *t, const uint8_t *buf, size_t len)
{
    if (t->state == FO_TS_CHECKED && t->dtls_server) {
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
    if (t->env->workers) t->worker = fo_workers_assign(t->env->workers);
    t->stats.connected_ms = fo_loop_now(t->env->loop);
    FO_LOG(FO_LOG_INFO, t->ctx, "connected (DTLS-SRTP) in %llu ms",
           (unsigned long long)(t->stats.connected_ms - t->stats.created_ms));
    fo_timer_start(t->env->loop, &t->live_timer, (uint64_t)t->env->consent_timeout_ms);
    if (t->cbs.on_connected) t->cbs.on_connected(t->user);
}

void fo_transport_on_datagram(fo_transport_t *t, uint8_t *buf, size_t len, const fo_addr_t *from)
{
    if (t->state == FO_TS_CLOSED || t->state == FO_TS_NEW) return;
    if (t->cli && !fo_addr_equal(from, &t->addrs[t->selected])) { /* its own socket: anyone */
        t->stats.rx_dropped++;
        return;
    }
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

const fo_addr_t *fo_transport_addr(const fo_transport_t *t)
{
    return t->selected >= 0 ? &t->addrs[t->selected] : NULL;
}

size_t fo_transport_addrs(const fo_transport_t *t, const fo_addr_t **out)
{
    *out = t->addrs;
    return t->n_addrs;
}

uint8_t *fo_transport_slot(fo_transport_t *t, size_t *cap)
{
    if (t->worker) return fo_workers_slot(t->env->workers, t->worker, cap);
    return fo_udp_slot(t->env->udp, cap);
}

static int commit(fo_transport_t *t, uint8_t *slot, size_t len, bool rtcp)
{
    if (t->state != FO_TS_CONNECTED) return FO_EAGAIN; /* a worker's slot is just not used */
    if (t->worker) {
        if (len + FO_SRTP_MAX_TRAILER > FO_UDP_BUF) return FO_ETOOBIG;
        int rc = fo_workers_commit(t->env->workers, t->worker, len, rtcp, t->srtp,
                                   &t->addrs[t->selected]);
        if (rc != 0) return rc;
        t->stats.tx_packets++;
        t->stats.tx_bytes += len + (rtcp ? 14 : 10); /* + SRTCP index and/or the 80-bit tag */
        return 0;
    }
    size_t n = len;
    int rc = rtcp ? fo_srtp_protect_rtcp(t->srtp, slot, &n, FO_UDP_BUF)
                  : fo_srtp_protect(t->srtp, slot, &n, FO_UDP_BUF);
    if (rc != 0) return rc;
    fo_udp_commit(t->env->udp, n, &t->addrs[t->selected]);
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

void fo_transport_flush(fo_transport_t *t) { fo_udp_flush(t->env->udp); }

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
    int n = fo_stun_build_request(t->env->stun, buf, sizeof buf, user, t->cli->remote_pwd, prio,
                                  t->cli->tie, true);
    if (n > 0) fo_udp_send(t->env->udp, buf, (size_t)n, to);
}

static void ice_timer_fired(fo_timer_t *timer)
{
    fo_transport_t *t = timer->user;
    if (t->state == FO_TS_CLOSED) return;
    if (t->state == FO_TS_NEW) {
        for (size_t i = 0; i < t->cli->n_cands; i++) send_check(t, &t->cli->cands[i]);
        fo_timer_start(t->env->loop, &t->ice_timer, CLIENT_CHECK_MS);
    } else {
        send_check(t, &t->addrs[t->selected]); /* consent freshness */
        fo_timer_start(t->env->loop, &t->ice_timer, (uint64_t)t->cli->check_ms);
    }
    fo_udp_flush(t->env->udp);
}

fo_transport_t *fo_transport_new_client(const fo_transport_env_t *env, const char *fp_alg,
                                        const char *fp, const fo_transport_client_t *cli,
                                        const fo_transport_cbs_t *cbs, void *user,
                                        const char *log_ctx)
{
    if (!env->stun || cli->n_cands == 0 || cli->n_cands > FO_TRANSPORT_MAX_ADDRS) return NULL;
    fo_transport_t *t = create(env, fp_alg, fp, cli->dtls_server, cbs, user, log_ctx);
    if (!t) return NULL;
    if (!(t->cli = malloc(sizeof *t->cli))) {
        fo_transport_free(t);
        return NULL;
    }
    *t->cli = *cli;
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

/* A valid response from one of the remote's candidates: the first selects the path. */
static void client_response(fo_transport_t *t, const fo_addr_t *from)
{
    bool known = false;
    for (size_t i = 0; i < t->cli->n_cands; i++) known |= fo_addr_equal(&t->cli->cands[i], from);
    if (!known || (t->state != FO_TS_NEW && !fo_addr_equal(from, &t->addrs[t->selected]))) {
        t->stats.rx_dropped++;
        return;
    }
    t->stats.last_check_ms = fo_loop_now(t->env->loop);
    if (t->state != FO_TS_NEW) return;
    t->addrs[0] = *from;
    t->n_addrs = 1;
    t->selected = 0;
    t->nominated = true;
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
}

void fo_transport_on_stun(fo_transport_t *t, const uint8_t *buf, size_t len, const fo_addr_t *from)
{
    if (!t->cli || t->state == FO_TS_CLOSED) return;
    if (fo_stun_is_response(buf, len)) {
        if (fo_stun_check_response(t->env->stun, buf, len, t->cli->remote_pwd, NULL) == 0)
            client_response(t, from);
        else
            t->stats.rx_dropped++;
        return;
    }
    uint8_t reply[512];
    size_t rlen = sizeof reply;
    int rc = fo_stun_answer_controlling(t->env->stun, buf, len, &from->u.sa, from->len, client_pwd_cb,
                                        t, t->cli->tie, reply, &rlen);
    if (rc == 0 || rlen > 0) {
        fo_udp_send(t->env->udp, reply, rlen, from);
        fo_udp_flush(t->env->udp);
    } else {
        t->stats.rx_dropped++;
    }
}
