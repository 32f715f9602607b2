/* SPDX-License-Identifier: MIT */
/* Registry, demultiplexing and offer handling. Sessions are indexed three ways (id, ICE ufrag,
 * peer UDP addresses) and unindexed in one place, session_ended, then freed at the loop's safe
 * point. Datagrams come from two carriers: the shared UDP socket (a peer is known by its
 * address) and ICE-TCP connections (a connection knows its transport once a check bound it);
 * both go through the same demultiplexing (on_datagram_path) into the same transports. */
#include "fanout/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fanout/candidates.h"
#include "fanout/common.h"
#include "fanout/limits.h"
#include "fanout/log.h"
#include "fanout/map.h"
#include "fanout/record.h"
#include "fanout/stun.h"
#include "fanout/tcp.h"
#include "fanout/udp.h"
#include "fanout/workers.h"

#define TCP_PENDING_TIMEOUT_MS 10000 /* a TCP connection's first ICE check must come this soon */

struct fo_router {
    fo_loop_t *loop;
    const fo_config_t *cfg;
    fo_udp_t *udp;         /* NULL with rtc.udp = false */
    fo_tcp_t *tcp;         /* NULL without ICE-TCP */
    uint8_t scratch[FO_UDP_BUF];
    fo_workers_t *workers; /* NULL with rtc.workers = 1 */
    fo_stun_t *stun;
    fo_stream_env_t env;
    fo_map_t *streams;     /* key -> fo_stream_t (keys may exceed FO_MAP_KEY_MAX: hashed) */
    fo_map_t *by_id;       /* session id -> session */
    fo_map_t *by_ufrag;    /* our ufrag -> session */
    fo_map_t *by_addr;     /* peer address -> session */
    fo_map_t *holds;       /* session id -> (void *)1: offers waiting for their callback */
    fo_codec_t video_prefs[8];
    size_t n_video_prefs;
    char cand_buf[FO_SDP_MAX_CANDIDATES][FO_CANDIDATE_LEN];
    const char *cands[FO_SDP_MAX_CANDIDATES];
    size_t n_cands;
    fo_session_t *stun_match; /* set by the STUN password callback */
    bool stun_old;            /* ... which matched the session's previous ICE generation */
    fo_limits_t *limits;
    fo_record_t *record;
    uint64_t sessions_high;   /* most sessions at once since the last malloc_trim */
    fo_router_ended_cb ended_cb;
    fo_router_session_cb observer;
    void *observer_user;
    fo_udp_t **extra_udp;     /* relays' sockets, flushed with the shared one */
    size_t n_extra, cap_extra;
    bool in_flush;
    void *ended_user;
    fo_router_stats_t stats;
    uint64_t ended[FO_END_N]; /* sessions ended, by kind */
};

static const char *const publish_exts[] = {
    "urn:ietf:params:rtp-hdrext:sdes:mid",
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    /* simulcast: which layer (and which layer an RTX stream repairs) a new SSRC carries */
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", NULL};
/* Players: transport-wide sequence numbers on what we send them, so their TWCC feedback gives
 * us a per-player bandwidth estimate (bwe.c). */
static const char *const play_exts[] = {
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", NULL};
/* A player that asks for every simulcast layer (a=simulcast:recv: a relay pulling the stream)
 * of a simulcast publisher: each layer goes out with its rid. */
static const char *const play_layered_exts[] = {
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", NULL};



/* Stream keys can be up to ~190 bytes; the map takes 40, so index by a 64-bit digest of the
 * key and check the full key on lookup. */
typedef struct {
    uint64_t h1, h2;
} keydigest_t;

static keydigest_t digest(const char *key)
{
    keydigest_t d = {1469598103934665603ull, 1099511628211ull ^ 0x9e3779b97f4a7c15ull};
    for (const char *p = key; *p; p++) {
        d.h1 = (d.h1 ^ (uint8_t)*p) * 1099511628211ull;
        d.h2 = (d.h2 ^ (uint8_t)*p) * 0x100000001b3ull + 0x9e37ull;
    }
    return d;
}

static size_t addr_key(const fo_addr_t *a, uint8_t key[20])
{
    if (a->u.sa.sa_family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, &a->u.in6.sin6_port, 2);
        memcpy(key + 3, &a->u.in6.sin6_addr, 16);
        return 19;
    }
    key[0] = 4;
    memcpy(key + 1, &a->u.in.sin_port, 2);
    memcpy(key + 3, &a->u.in.sin_addr, 4);
    return 7;
}

/* Sends everything queued on every carrier: the UDP ring (whose flush hook also publishes the
 * send workers' rings, writes the TCP queues and flushes the relays' sockets, flush_hook_cb),
 * or, with UDP media off, the rest alone. */
static void flush_all(fo_router_t *r) { fo_router_flush(r); }

/* --- callbacks from streams --- */

static void defer_free_session(void *arg) { fo_session_free(arg); }
static void defer_free_stream(void *arg) { fo_stream_free(arg); }

/* Removes an address from the index if it points at `s` (a newer session may have taken the
 * 5-tuple over: then it is that session's to remove). */
static void unindex_address(fo_router_t *r, fo_session_t *s, const fo_addr_t *addr)
{
    uint8_t k[20];
    size_t kl = addr_key(addr, k);
    if (fo_map_get(r->by_addr, k, kl) == s) fo_map_del(r->by_addr, k, kl);
}

static void session_ended(void *user, fo_session_t *s)
{
    fo_router_t *r = user;
    const char *id = fo_session_id(s), *ufrag = fo_session_ufrag(s), *old = fo_session_old_ufrag(s);
    fo_map_del(r->by_id, id, strlen(id));
    fo_map_del(r->by_ufrag, ufrag, strlen(ufrag));
    if (old[0]) fo_map_del(r->by_ufrag, old, strlen(old));
    fo_limits_release(r->limits, id);
    if (r->ended_cb) r->ended_cb(r->ended_user, id, fo_stream_key(fo_session_stream(s)), fo_session_role(s));
    if (r->observer) r->observer(r->observer_user, s, false);
    /* What the transport holds now is exactly what was indexed for it: it reported every
     * address it forgot (session_address), so nothing here can outlive the session. Its TCP
     * connections are closed with it. */
    const fo_path_t *paths;
    size_t n = fo_transport_paths(fo_session_transport(s), &paths);
    for (size_t i = 0; i < n; i++)
        if (!paths[i].tcp) unindex_address(r, s, &paths[i].addr);
    const fo_transport_stats_t *ts = fo_transport_stats(fo_session_transport(s));
    FO_LOG(FO_LOG_INFO, id,
           "session ended: rx %llu packets, dropped %llu (over rate %llu), tx %llu, checks over the cap %llu",
           (unsigned long long)ts->rx_packets, (unsigned long long)ts->rx_dropped,
           (unsigned long long)ts->rx_rate_dropped, (unsigned long long)ts->tx_packets,
           (unsigned long long)ts->checks_limited);
    if (fo_session_role(s) == FO_ROLE_PUBLISH) r->stats.publishers--;
    else r->stats.players--;
    r->stats.sessions--;
    r->ended[fo_router_end_kind(fo_session_end_reason(s))]++;
    /* glibc keeps freed session memory (DTLS buffers, SRTP contexts) resident for reuse, pinned
     * by live chunks above it. Once most of a crowd has gone, hand the free pages back (a heap
     * walk of a few ms, at most once per halving of the crowd twice over). */
    if (r->sessions_high >= 64 && r->stats.sessions <= r->sessions_high / 4) {
        fo_heap_trim();
        r->sessions_high = r->stats.sessions;
    }
    flush_all(r); /* the close_notify */
    fo_loop_defer(r->loop, defer_free_session, s);
}

static void session_address(void *user, fo_session_t *s, const fo_addr_t *addr, bool held)
{
    fo_router_t *r = user;
    if (!held) {
        unindex_address(r, s, addr);
        return;
    }
    uint8_t k[20];
    size_t kl = addr_key(addr, k);
    fo_session_t *old = fo_map_get(r->by_addr, k, kl);
    if (old && old != s) {
        /* The same 5-tuple now belongs to a newer session (a page reload reusing a port). */
        FO_LOG_LIMITED(fo_session_loglimit(s), fo_loop_now(r->loop), FO_LOG_INFO, fo_session_id(s),
                       "address taken over from session %s", fo_session_id(old));
    }
    fo_map_put(r->by_addr, k, kl, s);
}

static void session_connected(void *user, fo_session_t *s)
{
    fo_router_t *r = user;
    fo_limits_connected(r->limits, fo_session_id(s));
}

static void stream_idle(void *user, fo_stream_t *st)
{
    fo_router_t *r = user;
    keydigest_t d = digest(fo_stream_key(st));
    if (fo_map_get(r->streams, &d, sizeof d) == st) fo_map_del(r->streams, &d, sizeof d);
    r->stats.streams--;
    FO_LOG(FO_LOG_INFO, fo_stream_key(st), "stream idle, removed");
    fo_loop_defer(r->loop, defer_free_stream, st);
}

/* --- UDP demux --- */

static const char *stun_pwd_cb(void *user, const char *username, size_t len)
{
    fo_router_t *r = user;
    const char *colon = memchr(username, ':', len);
    size_t ulen = colon ? (size_t)(colon - username) : len;
    fo_session_t *s = fo_map_get(r->by_ufrag, username, ulen);
    const char *pwd = s ? fo_session_pwd_for(s, username, ulen, &r->stun_old) : NULL;
    r->stun_match = pwd ? s : NULL;
    return pwd;
}

/* A STUN response: only one answering our confirmation request to that very address counts
 * (the address is looked up by its source; the transaction id and integrity by libnice). */
static void on_stun_response(fo_router_t *r, const uint8_t *buf, size_t len, const fo_addr_t *from)
{
    uint8_t k[20];
    size_t kl = addr_key(from, k);
    fo_session_t *s = fo_map_get(r->by_addr, k, kl);
    if (s && fo_transport_on_stun_response(fo_session_transport(s), from, buf, len) == 0)
        r->stats.stun_responses++;
    else
        r->stats.stun_responses_bad++;
}

/* Whether a STUN message names a session of ours: the cheap part of validation, done first so
 * that a flood of well-formed checks for unknown ufrags costs a lookup, not a CRC and a parse. */
static bool stun_for_us(fo_router_t *r, const uint8_t *buf, size_t len)
{
    const char *user;
    size_t ulen;
    if (fo_stun_username(buf, len, &user, &ulen) != 0) return false;
    const char *colon = memchr(user, ':', ulen);
    return fo_map_get(r->by_ufrag, user, colon ? (size_t)(colon - user) : ulen) != NULL;
}

/* A check with the credentials of an ICE restart arrived: the previous generation's retire. */
static void retire_old_ice(fo_router_t *r, fo_session_t *s)
{
    const char *old = fo_session_old_ufrag(s);
    if (!old[0]) return;
    if (fo_map_get(r->by_ufrag, old, strlen(old)) == s) fo_map_del(r->by_ufrag, old, strlen(old));
    FO_LOG(FO_LOG_DEBUG, fo_session_id(s), "first check of the new ICE generation: ufrag %s retired", old);
    fo_session_forget_old_ice(s);
}

static void on_stun(fo_router_t *r, const uint8_t *buf, size_t len, const fo_path_t *p)
{
    if (fo_stun_class(buf, len) == FO_STUN_RESPONSE) {
        /* only UDP addresses are confirmed by a response (a connection needs no proof) */
        if (!p->tcp) on_stun_response(r, buf, len, &p->addr);
        else r->stats.stun_responses_bad++;
        return;
    }
    if (!stun_for_us(r, buf, len)) {
        r->stats.stun_unknown++;
        /* nothing goes to an address that has not passed a check (no amplification); a TCP
         * connection whose first message names nobody serves nobody */
        if (p->tcp && !fo_tcp_conn_owner(p->tcp)) fo_tcp_conn_close(p->tcp, "its first ICE check was not for us");
        return;
    }
    uint8_t reply[512];
    size_t rlen = sizeof reply;
    fo_stun_check_t check = {0};
    r->stun_match = NULL;
    int rc = fo_stun_answer(r->stun, buf, len, &p->addr.u.sa, p->addr.len, stun_pwd_cb, r, reply,
                            &rlen, &check);
    fo_session_t *s = r->stun_match;
    fo_transport_t *owner = p->tcp ? fo_tcp_conn_owner(p->tcp) : NULL;
    if (rc != 0 || !s || (owner && owner != fo_session_transport(s))) {
        r->stats.stun_bad++;
        /* Nothing goes to an address that has not passed a check (no reflection). A TCP
         * connection whose first message is not a valid check serves nobody. */
        if (p->tcp && !owner) fo_tcp_conn_close(p->tcp, "its first ICE check was not valid");
        return;
    }
    r->stats.stun_ok++;
    if (!r->stun_old) retire_old_ice(r, s);
    /* The transport answers, within what paths.h lets an unconfirmed address receive. */
    fo_paths_check_t c = {.nominated = check.use_candidate, .len = len, .reply = reply, .reply_len = rlen};
    fo_transport_on_check(fo_session_transport(s), p, &c);
}

/* fo_udp_flush's hook on the shared socket: what the loop queued for the send workers is
 * published with it, the TCP queues are written, and what it queued on relays' sockets
 * (pushes) goes out too. */
static void flush_hook_cb(void *user)
{
    fo_router_t *r = user;
    if (r->workers) fo_workers_flush(r->workers);
    if (r->tcp) fo_tcp_flush(r->tcp);
    if (r->in_flush || !r->n_extra) return;
    r->in_flush = true; /* their hooks flush us: once is enough */
    for (size_t i = 0; i < r->n_extra; i++) fo_udp_flush(r->extra_udp[i]);
    r->in_flush = false;
}

/* The demultiplexer (RFC 7983) for both carriers: STUN is answered here; the rest goes to the
 * transport that owns the path (a UDP address checked before, a TCP connection bound by a
 * check). */
static void on_datagram_path(fo_router_t *r, uint8_t *buf, size_t len, const fo_path_t *p)
{
    if (len == 0) return;
    if (buf[0] <= 3) {
        on_stun(r, buf, len, p);
        return;
    }
    fo_transport_t *t = NULL;
    if (p->tcp) {
        t = fo_tcp_conn_owner(p->tcp);
    } else {
        uint8_t k[20];
        size_t kl = addr_key(&p->addr, k);
        fo_session_t *s = fo_map_get(r->by_addr, k, kl);
        t = s ? fo_session_transport(s) : NULL;
    }
    if (!t) {
        r->stats.rx_unknown++;
        if (p->tcp) fo_tcp_conn_close(p->tcp, "media before an ICE check");
        return;
    }
    fo_transport_on_datagram(t, buf, len, p);
}

void fo_router_flush(fo_router_t *r)
{
    if (r->in_flush) return;
    if (r->udp) fo_udp_flush(r->udp);
    else flush_hook_cb(r); /* UDP media off: the TCP queues and the relays' sockets */
}

int fo_router_add_socket(fo_router_t *r, fo_udp_t *u)
{
    if (r->n_extra == r->cap_extra) {
        size_t cap = r->cap_extra ? r->cap_extra * 2 : 8;
        fo_udp_t **a = realloc(r->extra_udp, cap * sizeof *a);
        if (!a) return FO_ENOMEM;
        r->extra_udp = a;
        r->cap_extra = cap;
    }
    r->extra_udp[r->n_extra++] = u;
    return 0;
}

void fo_router_remove_socket(fo_router_t *r, fo_udp_t *u)
{
    for (size_t i = 0; i < r->n_extra; i++)
        if (r->extra_udp[i] == u) {
            r->extra_udp[i] = r->extra_udp[--r->n_extra];
            return;
        }
}

static void on_datagram(void *user, uint8_t *buf, size_t len, size_t cap, const fo_addr_t *from)
{
    (void)cap;
    fo_path_t p = {.addr = *from};
    on_datagram_path(user, buf, len, &p);
}

static void on_tcp_frame(void *user, fo_tcp_conn_t *c, uint8_t *buf, size_t len)
{
    fo_path_t p = {.addr = *fo_tcp_conn_addr(c), .tcp = c};
    on_datagram_path(user, buf, len, &p);
}

static void on_tcp_batch_end(void *user) { flush_all(user); }

void fo_router_input(fo_router_t *r, uint8_t *buf, size_t len, const fo_addr_t *from)
{
    on_datagram(r, buf, len, len, from);
}

/* --- candidates --- */

/* rtc.candidate, already resolved to addresses by main (fo_candidates_expand): a name here is
 * refused rather than looked up on the loop. */
static int resolve_candidates(fo_router_t *r, const char *spec)
{
    char err[300];
    if (fo_candidates_expand(spec, 0, r->cand_buf, FO_SDP_MAX_CANDIDATES, &r->n_cands, err,
                             sizeof err) != 0) {
        FO_LOG(FO_LOG_ERROR, NULL, "%s", err);
        return FO_EINVAL;
    }
    for (size_t i = 0; i < r->n_cands; i++) r->cands[i] = r->cand_buf[i];
    return 0;
}

/* --- lifecycle --- */

fo_router_t *fo_router_new(fo_loop_t *loop, const fo_config_t *cfg, fo_dtls_ctx_t *dtls)
{
    fo_router_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->loop = loop;
    r->cfg = cfg;
    int n = fo_config_video_codecs(cfg, r->video_prefs, FO_ARRAY_LEN(r->video_prefs));
    if (n < 0) {
        FO_LOG(FO_LOG_ERROR, NULL, "rtc.video_codecs: '%s' names an unknown codec", cfg->video_codecs);
        goto fail;
    }
    r->n_video_prefs = (size_t)n;
    r->streams = fo_map_new();
    r->by_id = fo_map_new();
    r->by_ufrag = fo_map_new();
    r->by_addr = fo_map_new();
    r->holds = fo_map_new();
    r->stun = fo_stun_new();
    r->limits = fo_limits_new(cfg);
    r->record = fo_record_new(loop, cfg);
    if (!r->streams || !r->by_id || !r->by_ufrag || !r->by_addr || !r->holds || !r->stun || !r->limits ||
        !r->record)
        goto fail;
    if (cfg->udp) {
        r->udp = fo_udp_new(loop, cfg->rtc_listen, cfg->rtc_port, on_datagram, r);
        if (!r->udp) goto fail;
        int workers = fo_config_workers(cfg);
        if (workers > 1) { /* docs/workers.md */
            r->workers = fo_workers_new(workers, fo_udp_fd(r->udp));
            if (!r->workers) goto fail;
        }
        fo_udp_set_flush_hook(r->udp, flush_hook_cb, r);
    }
    int tcp_port = fo_config_tcp_port(cfg);
    if (tcp_port > 0 || cfg->tcp_on_https) {
        fo_tcp_cbs_t tcbs = {.on_frame = on_tcp_frame, .on_batch_end = on_tcp_batch_end};
        r->tcp = fo_tcp_new(loop, &tcbs, r, cfg->tcp_max_pending, TCP_PENDING_TIMEOUT_MS);
        if (!r->tcp) goto fail;
        if (tcp_port > 0 && fo_tcp_listen(r->tcp, cfg->rtc_listen, tcp_port, NULL, NULL) < 0) goto fail;
    }
    if (resolve_candidates(r, cfg->candidate) != 0) goto fail;
    r->env = (fo_stream_env_t){
        .transport = {.loop = loop,
                      .udp = r->udp,
                      .tcp = r->tcp,
                      .scratch = r->scratch,
                      .dtls = dtls,
                      .workers = r->workers,
                      .consent_timeout_ms = cfg->consent_timeout * 1000,
                      .pending_timeout_ms = cfg->pending_timeout * 1000,
                      .max_pps = cfg->max_pps,
                      .totals = &r->stats.t,
                      .paths = {.loop = loop,
                                .udp = r->udp,
                                .stun = r->stun,
                                .tie = ((uint64_t)fo_rand32() << 32) | fo_rand32(),
                                .probes = &r->stats.t.probes,
                                .confirmed = &r->stats.t.confirmed,
                                .refused = &r->stats.t.refused}},
        .publisher_grace_ms = cfg->publisher_grace * 1000,
        .max_bitrate_kbps = cfg->max_bitrate_kbps,
        .instant_start = cfg->instant_start != 0,
        .record = r->record,
        .session_ended = session_ended,
        .session_address = session_address,
        .session_connected = session_connected,
        .history_bytes = (size_t)cfg->history_kb * 1024,
        .stream_idle = stream_idle,
        .user = r,
    };
    return r;
fail:
    fo_router_free(r);
    return NULL;
}

static void free_session_cb(void *val, void *user)
{
    (void)user;
    fo_session_free(val);
}

static void free_stream_cb(void *val, void *user)
{
    (void)user;
    fo_stream_free(val);
}

void fo_router_free(fo_router_t *r)
{
    if (!r) return;
    if (r->by_id) fo_map_foreach(r->by_id, free_session_cb, NULL);
    if (r->streams) fo_map_foreach(r->streams, free_stream_cb, NULL);
    fo_map_free(r->by_id);
    fo_map_free(r->by_ufrag);
    fo_map_free(r->by_addr);
    fo_map_free(r->holds);
    fo_map_free(r->streams);
    fo_record_free(r->record); /* after every stream: their recordings are stopping */
    /* after every session (their release slots are queued, their connections closed), before
     * the socket */
    if (r->udp) fo_udp_set_flush_hook(r->udp, NULL, NULL);
    fo_workers_free(r->workers);
    fo_udp_free(r->udp);
    fo_tcp_free(r->tcp);
    free(r->extra_udp);
    fo_stun_free(r->stun);
    fo_limits_free(r->limits);
    free(r);
}

void fo_router_shutdown(fo_router_t *r)
{
    const fo_router_stats_t *c = &r->stats;
    FO_LOG(FO_LOG_INFO, NULL,
           "counters: sessions %llu, rx_unknown %llu, stun_unknown %llu, stun_bad %llu, stun_ok %llu, "
           "offers_limited %llu, rx_rate_dropped %llu, checks_limited %llu, addr_probes %llu, "
           "addr_confirmed %llu, addr_refused %llu, stun_responses_bad %llu",
           (unsigned long long)c->sessions, (unsigned long long)c->rx_unknown,
           (unsigned long long)c->stun_unknown,
           (unsigned long long)c->stun_bad, (unsigned long long)c->stun_ok,
           (unsigned long long)c->offers_limited, (unsigned long long)c->t.rx_rate_dropped,
           (unsigned long long)c->t.checks_limited, (unsigned long long)c->t.probes,
           (unsigned long long)c->t.confirmed, (unsigned long long)c->t.refused,
           (unsigned long long)c->stun_responses_bad);
    size_t n = fo_map_size(r->by_id);
    if (!n) return;
    void **all = malloc(n * sizeof *all);
    if (!all) return;
    n = fo_map_values(r->by_id, all, n);
    for (size_t i = 0; i < n; i++) fo_session_end(all[i], "server shutting down");
    free(all);
    flush_all(r);
}

int fo_router_end_session(fo_router_t *r, const char *id)
{
    fo_session_t *s = fo_map_get(r->by_id, id, strlen(id));
    if (!s) return FO_ENOTFOUND;
    fo_session_end(s, "ended by request");
    return 0;
}

void fo_router_set_observer(fo_router_t *r, fo_router_session_cb cb, void *user)
{
    r->observer = cb;
    r->observer_user = user;
}

void fo_router_set_ended_cb(fo_router_t *r, fo_router_ended_cb cb, void *user)
{
    r->ended_cb = cb;
    r->ended_user = user;
}

int fo_router_udp_port(const fo_router_t *r) { return r->udp ? fo_udp_port(r->udp) : 0; }

int fo_router_tcp_port(const fo_router_t *r, int i) { return r->tcp ? fo_tcp_port(r->tcp, i) : 0; }

int fo_router_listen_tls(fo_router_t *r, const char *addr, int port, fo_tcp_tls_cb cb, void *user)
{
    if (!r->tcp) return FO_EINVAL;
    return fo_tcp_listen(r->tcp, addr, port, cb, user);
}

void fo_router_tcp_stats(const fo_router_t *r, fo_tcp_stats_t *out)
{
    if (r->tcp) fo_tcp_stats(r->tcp, out);
    else memset(out, 0, sizeof *out);
}

size_t fo_router_candidates(const fo_router_t *r, const char *const **out)
{
    *out = r->cands;
    return r->n_cands;
}

void fo_router_stats(const fo_router_t *r, fo_router_stats_t *out) { *out = r->stats; }

/* --- offers --- */

static int fail_with(fo_offer_result_t *res, int http, int err, const char *fmt, const char *arg)
{
    res->http_status = http;
    res->err = err;
    snprintf(res->msg, sizeof res->msg, fmt, arg ? arg : "");
    return err;
}

static int check_limits(fo_router_t *r, fo_role_t role, const char *key, const char *client_ip,
                        fo_offer_result_t *res)
{
    fo_stream_t *st = fo_router_stream(r, key);
    fo_limits_offer_t o = {.play = role == FO_ROLE_PLAY,
                           .client_ip = client_ip,
                           .now_ms = fo_loop_now(r->loop),
                           .sessions = fo_map_size(r->by_id) + fo_map_size(r->holds),
                           .publishers = r->stats.publishers,
                           .stream_players = st ? fo_stream_players(st) : 0};
    char why[200];
    int rc = fo_limits_check(r->limits, &o, why, sizeof why);
    if (rc == 0) return 0;
    r->stats.offers_limited++;
    FO_LOG(FO_LOG_INFO, key, "offer refused: %s", why);
    return fail_with(res, rc == FO_EAGAIN ? 429 : 503, rc == FO_EAGAIN ? FO_EAGAIN : FO_EFULL,
                     "%s", why);
}

/* A publish for a stream that has a publisher: true after ending that publisher when it has
 * been silent for rtc.publisher_takeover (its players stay and get the new one), else false
 * with the 409 in *res (and how long until the silent one may be replaced). */
static bool take_over(fo_router_t *r, fo_stream_t *st, fo_offer_result_t *res)
{
    uint64_t limit = (uint64_t)r->cfg->publisher_takeover * 1000;
    uint64_t silent = fo_stream_publisher_silent_ms(st, fo_loop_now(r->loop));
    fo_session_t *old = fo_stream_publisher(st);
    if (limit && silent >= limit) {
        FO_LOG(FO_LOG_INFO, fo_stream_key(st), "publisher %s sent nothing for %.1f s: replaced by the new one",
               fo_session_id(old), (double)silent / 1000.0);
        fo_session_end(old, "replaced by a new publisher (silent)");
        return true;
    }
    res->http_status = 409;
    res->err = FO_EBUSY;
    if (limit && silent >= FO_STREAM_STALL_MS) {
        res->retry_after_s = (int)((limit - silent + 999) / 1000);
        snprintf(res->msg, sizeof res->msg,
                 "stream busy: %s has a publisher, silent for %.1f s: it can be replaced in %d s",
                 fo_stream_key(st), (double)silent / 1000.0, res->retry_after_s);
    } else {
        snprintf(res->msg, sizeof res->msg, "stream busy: %s already has a publisher", fo_stream_key(st));
    }
    return false;
}

int fo_router_offer(fo_router_t *r, fo_role_t role, const char *key, const char *offer,
                    size_t len, const char *candidate, fo_offer_result_t *res)
{
    return fo_router_offer_from(r, role, key, offer, len, candidate, NULL, res);
}

/* A fresh session id, unused by sessions and holds. */
static void new_session_id(const fo_router_t *r, char id[17])
{
    do fo_random_token(id, 16);
    while (fo_map_get(r->by_id, id, 16) || fo_map_get(r->holds, id, 16));
}

/* After every check passed: holds a place for the offer under a fresh id (counted against
 * the caps like a session still connecting). */
static int hold(fo_router_t *r, const char *client_ip, bool publisher, fo_offer_result_t *res)
{
    char id[17];
    new_session_id(r, id);
    if (fo_map_put(r->holds, id, strlen(id), (void *)1) != 0) return fail_with(res, 500, FO_ENOMEM, "out of memory%s", NULL);
    if (fo_limits_acquire(r->limits, id, client_ip, publisher) != 0)
        FO_LOG(FO_LOG_WARN, id, "out of memory counting the held offer against %s", client_ip);
    res->http_status = 200;
    snprintf(res->session_id, sizeof res->session_id, "%s", id);
    return 0;
}

/* The offer steps: caps, SDP, codecs, the stream's state; then either a hold (hold_only) or
 * the session, with id `held_id` when it was held before (else a fresh one). */
static int do_offer(fo_router_t *r, const fo_offer_t *o, const char *held_id, bool hold_only,
                    fo_offer_result_t *res)
{
    fo_role_t role = o->role;
    const char *key = o->key, *candidate = o->candidate, *client_ip = o->client_ip;
    size_t len = o->len;
    memset(res, 0, sizeof *res);
    if (check_limits(r, role, key, client_ip, res) != 0) return res->err;
    if (len > FO_SDP_MAX_LEN) return fail_with(res, 413, FO_ETOOBIG, "SDP offer too large%s", NULL);

    fo_sdp_t *sdp = malloc(sizeof *sdp);
    fo_sdp_answer_t *ans = calloc(1, sizeof *ans);
    char *answer = malloc(FO_SDP_MAX_LEN);
    int rc = 0;
    if (!sdp || !ans || !answer) {
        rc = fail_with(res, 500, FO_ENOMEM, "out of memory%s", NULL);
        goto out;
    }
    const char *why = "malformed";
    if (fo_sdp_parse(o->sdp, len, sdp, &why) != 0) {
        rc = fail_with(res, 400, FO_EINVAL, "bad SDP offer: %s", why);
        goto out;
    }
    fo_sdp_role_t srole = role == FO_ROLE_PUBLISH ? FO_SDP_ROLE_PUBLISH : FO_SDP_ROLE_PLAY;
    fo_stream_t *known = fo_router_stream(r, key);
    size_t accepted = 0;
    bool seen[2] = {false, false};
    for (size_t m = 0; m < sdp->n_media; m++) {
        fo_sdp_answer_media_t *am = &ans->media[m];
        const fo_sdp_media_t *om = &sdp->media[m];
        unsigned layers = role == FO_ROLE_PLAY && om->kind == FO_KIND_VIDEO && om->n_recv_rids > 1 && known
                              ? fo_stream_video_layers(known) : 0;
        fo_sdp_negotiate(om, srole, r->video_prefs, r->n_video_prefs,
                         role == FO_ROLE_PUBLISH ? publish_exts : layers > 1 ? play_layered_exts : play_exts, am);
        if (layers > 1 && am->accept) { /* publisher layer i goes out as the offer's rid i */
            size_t n = layers < om->n_recv_rids ? layers : om->n_recv_rids;
            for (size_t i = 0; i < n && i < FO_SDP_MAX_RIDS; i++)
                snprintf(am->rids[i], sizeof am->rids[i], "%s", om->recv_rids[i]);
            am->n_rids = n;
        }
        /* One track per kind: later m-lines of a kind already taken are rejected. */
        if (am->accept && om->kind <= FO_KIND_VIDEO) {
            if (seen[om->kind]) am->accept = false;
            seen[om->kind] = true;
        }
        if (!am->accept) continue;
        accepted++;
        if (role == FO_ROLE_PLAY) {
            /* the publisher's codec first: a relay pulling this stream takes it as its codec */
            const fo_sdp_codec_t *src = known && om->kind <= FO_KIND_VIDEO ? fo_stream_codec(known, om->kind) : NULL;
            if (src) {
                fo_sdp_format_t want;
                fo_sdp_format_of(src, &want);
                fo_sdp_answer_prefer(om, am, &want);
            }
            am->ssrc = fo_rand32();
            /* Retransmissions go on their own SSRC when the player takes RTX (RFC 4588). */
            for (size_t i = 0; i < am->n_pts; i++) {
                const fo_sdp_codec_t *c = fo_sdp_codec_by_pt(om, am->pts[i]);
                if (c && c->codec == FO_CODEC_RTX) am->rtx_ssrc = fo_rand32();
            }
            snprintf(am->cname, sizeof am->cname, "fanout");
            snprintf(am->msid_stream, sizeof am->msid_stream, "fanout");
            snprintf(am->msid_track, sizeof am->msid_track, "%s-%08x",
                     om->kind == FO_KIND_AUDIO ? "audio" : "video", am->ssrc);
        }
    }
    if (!accepted) {
        rc = fail_with(res, 400, FO_ECODEC, "no usable audio/video in the offer (Opus, %s)",
                       "VP8/H.264/VP9/AV1");
        goto out;
    }

    keydigest_t d = digest(key);
    fo_stream_t *st = fo_map_get(r->streams, &d, sizeof d);
    if (st && strcmp(fo_stream_key(st), key) != 0) {
        rc = fail_with(res, 500, FO_ERR, "stream key collision%s", NULL);
        goto out;
    }
    if (role == FO_ROLE_PUBLISH && st && fo_stream_publisher(st) &&
        fo_session_is_client(fo_stream_publisher(st))) {
        /* A relay was the source (the cluster let this publish claim the stream): the local
         * publisher takes over; players stay. Ending it may retire an idle stream: look again. */
        fo_session_end(fo_stream_publisher(st), "relay replaced by a local publisher");
        st = fo_map_get(r->streams, &d, sizeof d);
    }
    if (role == FO_ROLE_PUBLISH && st && fo_stream_publisher(st)) {
        if (!take_over(r, st, res)) {
            rc = res->err;
            goto out;
        }
        st = fo_router_stream(r, key); /* the stream may have gone with its publisher */
    }
    if (role == FO_ROLE_PLAY && st) {
        const char *bad = fo_stream_check_player(st, sdp, ans);
        if (bad) {
            rc = fail_with(res, 400, FO_ECODEC, "%s", bad);
            goto out;
        }
    }
    if (hold_only) {
        rc = hold(r, client_ip, role == FO_ROLE_PUBLISH, res);
        goto out;
    }

    char ufrag[9], pwd[25], id[17];
    fo_random_token(ufrag, 8);
    fo_random_token(pwd, 24);
    if (held_id) snprintf(id, sizeof id, "%s", held_id);
    else new_session_id(r, id);
    ans->ice_ufrag = ufrag;
    ans->ice_pwd = pwd;
    ans->fingerprint = fo_dtls_ctx_fingerprint(r->env.transport.dtls);
    ans->port = (uint16_t)fo_router_udp_port(r);
    for (int i = 0; i < FO_SDP_MAX_TCP_PORTS; i++)
        if (fo_router_tcp_port(r, i) > 0) ans->tcp_ports[ans->n_tcp_ports++] = (uint16_t)fo_router_tcp_port(r, i);
    ans->session_id = ((uint64_t)fo_rand32() << 31) | fo_rand32();
    /* candidate override: "ip" or "ip:port" (IPv6 as [ip]:port) */
    char cand[80] = "";
    if (candidate && *candidate) {
        snprintf(cand, sizeof cand, "%s", candidate);
        char *colon = strrchr(cand, ':');
        if (cand[0] == '[') {
            char *end = strchr(cand, ']');
            if (end && end[1] == ':') ans->port = (uint16_t)atoi(end + 2);
            if (end) *end = '\0';
            memmove(cand, cand + 1, strlen(cand));
        } else if (colon && strchr(cand, ':') == colon) {
            *colon = '\0';
            int p = atoi(colon + 1);
            if (p > 0 && p < 65536 && ans->port) ans->port = (uint16_t)p;
        }
        if (!fo_candidates_is_ip(cand)) {
            rc = fail_with(res, 400, FO_EINVAL, "candidate override '%s' is not an IP address", cand);
            goto out;
        }
        ans->candidates[0] = cand;
        ans->n_candidates = 1;
    } else {
        for (size_t i = 0; i < r->n_cands; i++) ans->candidates[i] = r->cands[i];
        ans->n_candidates = r->n_cands;
    }
    int alen = fo_sdp_build_answer(sdp, ans, answer, FO_SDP_MAX_LEN);
    if (alen < 0) {
        FO_LOG(FO_LOG_ERROR, key, "could not build the answer: %s (%zu candidate(s), first %s, %zu m-lines)",
               alen == FO_ETOOBIG ? "longer than the SDP limit" : "a candidate or an ICE/DTLS value is malformed",
               ans->n_candidates, ans->n_candidates ? ans->candidates[0] : "none", sdp->n_media);
        rc = fail_with(res, 500, FO_ERR, "could not build the answer%s", NULL);
        goto out;
    }

    bool new_stream = false;
    if (!st) {
        st = fo_stream_new(&r->env, key);
        if (!st || fo_map_put(r->streams, &d, sizeof d, st) != 0) {
            fo_stream_free(st);
            rc = fail_with(res, 500, FO_ENOMEM, "out of memory%s", NULL);
            goto out;
        }
        new_stream = true;
        r->stats.streams++;
    }
    int err = 0;
    fo_session_t *s = fo_session_new(st, role, id, sdp, ans, &err);
    if (!s || fo_map_put(r->by_id, id, strlen(id), s) != 0 ||
        fo_map_put(r->by_ufrag, ufrag, strlen(ufrag), s) != 0) {
        if (s) {
            fo_map_del(r->by_id, id, strlen(id));
            fo_session_free(s);
        }
        if (new_stream) {
            fo_map_del(r->streams, &d, sizeof d);
            fo_stream_free(st);
            r->stats.streams--;
        }
        rc = fail_with(res, err == FO_EBUSY ? 409 : 500, err ? err : FO_ENOMEM,
                       "could not create the session: %s", fo_strerror(err ? err : FO_ENOMEM));
        goto out;
    }
    if (fo_limits_acquire(r->limits, id, client_ip, role == FO_ROLE_PUBLISH) != 0)
        FO_LOG(FO_LOG_WARN, id, "out of memory counting the session against %s", client_ip);
    r->stats.sessions++;
    if (r->stats.sessions > r->sessions_high) r->sessions_high = r->stats.sessions;
    if (role == FO_ROLE_PUBLISH) r->stats.publishers++;
    else r->stats.players++;
    if (r->observer) r->observer(r->observer_user, s, true);
    res->http_status = 200;
    snprintf(res->session_id, sizeof res->session_id, "%s", id);
    res->answer = answer;
    answer = NULL;
out:
    free(sdp);
    free(ans);
    free(answer);
    return rc;
}

int fo_router_offer_from(fo_router_t *r, fo_role_t role, const char *key, const char *sdp,
                         size_t len, const char *candidate, const char *client_ip,
                         fo_offer_result_t *res)
{
    fo_offer_t o = {role, key, sdp, len, candidate, client_ip};
    return do_offer(r, &o, NULL, false, res);
}

int fo_router_offer_hold(fo_router_t *r, const fo_offer_t *o, fo_offer_result_t *res)
{
    return do_offer(r, o, NULL, true, res);
}

/* Ends a hold: its place and its count against the client's IP. Whether there was one. */
static bool unhold(fo_router_t *r, const char *id)
{
    if (!fo_map_del(r->holds, id, strlen(id))) return false;
    fo_limits_release(r->limits, id);
    return true;
}

int fo_router_offer_take(fo_router_t *r, const char *held_id, const fo_offer_t *o, fo_offer_result_t *res)
{
    if (!unhold(r, held_id)) { /* a programming error: say so rather than create a session */
        memset(res, 0, sizeof *res);
        return fail_with(res, 500, FO_ENOTFOUND, "no offer held as %s", held_id);
    }
    return do_offer(r, o, held_id, false, res);
}

void fo_router_offer_release(fo_router_t *r, const char *held_id) { unhold(r, held_id); }

size_t fo_router_offers_held(const fo_router_t *r) { return fo_map_size(r->holds); }

int fo_router_ice_restart(fo_router_t *r, const char *id, const char *remote_ufrag,
                          const char *remote_pwd, char ufrag[9], char pwd[25])
{
    fo_session_t *s = fo_map_get(r->by_id, id, strlen(id));
    if (!s) return FO_ENOTFOUND;
    retire_old_ice(r, s); /* a second restart before any check of the first */
    fo_random_token(ufrag, 8);
    fo_random_token(pwd, 24);
    if (fo_map_put(r->by_ufrag, ufrag, strlen(ufrag), s) != 0) return FO_ENOMEM;
    fo_session_restart_ice(s, ufrag, pwd, remote_ufrag, remote_pwd);
    return 0;
}

fo_session_t *fo_router_session(const fo_router_t *r, const char *id)
{
    return fo_map_get(r->by_id, id, strlen(id));
}

fo_stream_t *fo_router_stream(const fo_router_t *r, const char *key)
{
    keydigest_t d = digest(key);
    fo_stream_t *st = fo_map_get(r->streams, &d, sizeof d);
    return st && strcmp(fo_stream_key(st), key) == 0 ? st : NULL;
}

size_t fo_router_list_sessions(const fo_router_t *r, fo_session_t **out, size_t max)
{
    fo_map_values(r->by_id, (void **)out, max);
    return fo_map_size(r->by_id);
}

size_t fo_router_list_streams(const fo_router_t *r, fo_stream_t **out, size_t max)
{
    fo_map_values(r->streams, (void **)out, max);
    return fo_map_size(r->streams);
}

/* --- for the operator API and metrics --- */

fo_end_kind_t fo_router_end_kind(const char *reason)
{
    static const struct {
        const char *prefix;
        fo_end_kind_t kind;
    } table[] = {
        {"DTLS close_notify", FO_END_PEER_CLOSED}, {"DTLS", FO_END_DTLS_FAILED},
        {"SRTP", FO_END_DTLS_FAILED},              {"ICE consent", FO_END_CONSENT},
        {"did not connect", FO_END_CONNECT_TIMEOUT}, {"publisher left", FO_END_PUBLISHER_LEFT},
        {"replaced", FO_END_REPLACED},
        {"server shutting down", FO_END_SHUTDOWN}, {"ended by request", FO_END_API},
        {"kicked", FO_END_API},                    {"WHIP", FO_END_API},
        {"WHEP", FO_END_API},
    };
    for (size_t i = 0; reason && i < FO_ARRAY_LEN(table); i++)
        if (strncmp(reason, table[i].prefix, strlen(table[i].prefix)) == 0) return table[i].kind;
    return FO_END_OTHER;
}

const char *fo_router_end_kind_name(fo_end_kind_t k)
{
    static const char *const names[FO_END_N] = {"api",          "peer_closed",    "dtls_failed",
                                                "consent_expired", "connect_timeout", "publisher_left",
                                                "replaced",     "shutdown",       "other"};
    return (unsigned)k < FO_END_N ? names[k] : "other";
}

void fo_router_end_counts(const fo_router_t *r, uint64_t out[FO_END_N])
{
    memcpy(out, r->ended, sizeof r->ended);
}

int fo_router_end_session_why(fo_router_t *r, const char *id, const char *reason)
{
    fo_session_t *s = fo_map_get(r->by_id, id, strlen(id));
    if (!s) return FO_ENOTFOUND;
    fo_session_end(s, reason);
    return 0;
}

fo_loop_t *fo_router_loop(const fo_router_t *r) { return r->loop; }
fo_record_t *fo_router_record(const fo_router_t *r) { return r->record; }
const fo_config_t *fo_router_config(const fo_router_t *r) { return r->cfg; }

void fo_router_udp_stats(const fo_router_t *r, fo_udp_stats_t *out)
{
    if (!r->udp) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = *fo_udp_stats(r->udp);
    if (!r->workers) return;
    /* what the send workers sent went out on the same socket: count it there too */
    fo_workers_stats_t w;
    fo_workers_stats(r->workers, &w);
    out->tx_packets += w.tx_packets;
    out->tx_bytes += w.tx_bytes;
    out->tx_dropped += w.tx_dropped;
}

/* --- client-role sessions (relays) --- */

fo_session_t *fo_router_add_client(fo_router_t *r, fo_role_t role, const char *key,
                                   const fo_sdp_t *remote, const fo_sdp_answer_t *acc,
                                   const fo_transport_env_t *env, const fo_transport_client_t *cli,
                                   int *err)
{
    keydigest_t d = digest(key);
    fo_stream_t *st = fo_map_get(r->streams, &d, sizeof d);
    if (st && strcmp(fo_stream_key(st), key) != 0) {
        *err = FO_ERR;
        return NULL;
    }
    if (role == FO_ROLE_PUBLISH && st && fo_stream_publisher(st)) {
        *err = FO_EBUSY;
        return NULL;
    }
    bool new_stream = false;
    if (!st) {
        st = fo_stream_new(&r->env, key);
        if (!st || fo_map_put(r->streams, &d, sizeof d, st) != 0) {
            fo_stream_free(st);
            *err = FO_ENOMEM;
            return NULL;
        }
        new_stream = true;
        r->stats.streams++;
    }
    char id[17];
    fo_random_token(id, 16);
    fo_session_t *s = fo_session_new_client(st, role, id, remote, acc, env, cli, err);
    if (!s || fo_map_put(r->by_id, id, strlen(id), s) != 0) {
        if (s) {
            fo_session_free(s);
            *err = FO_ENOMEM;
        }
        if (new_stream) {
            fo_map_del(r->streams, &d, sizeof d);
            fo_stream_free(st);
            r->stats.streams--;
        }
        return NULL;
    }
    r->stats.sessions++;
    if (role == FO_ROLE_PUBLISH) r->stats.publishers++;
    else r->stats.players++;
    if (r->observer) r->observer(r->observer_user, s, true);
    return s;
}

const fo_transport_env_t *fo_router_transport_env(const fo_router_t *r) { return &r->env.transport; }

size_t fo_router_video_prefs(const fo_router_t *r, const fo_codec_t **out)
{
    *out = r->video_prefs;
    return r->n_video_prefs;
}

static void history_mem_cb(void *val, void *user) { fo_stream_history_mem(val, user); }

void fo_router_history_mem(const fo_router_t *r, fo_history_mem_t *out)
{
    *out = (fo_history_mem_t){0};
    fo_map_foreach(r->streams, history_mem_cb, out);
}
