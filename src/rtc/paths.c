/* SPDX-License-Identifier: MIT */
/* Held peer addresses, their confirmation and the selected one (see paths.h for the rules).
 * A confirmation request is sent at the first valid check from an address, so it costs about
 * one round trip that overlaps the peer's own ICE and DTLS start; the peer's ClientHello waits
 * in the transport meanwhile. Retransmissions resend the same request (same transaction) after
 * 100, 200, 400 ... ms while the address has byte budget for them; without budget they wait
 * for its next datagram (a check, or a retransmitted ClientHello). */
#include "fanout/paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/limits.h"
#include "fanout/log.h"
#include "fanout/loglimit.h"
#include "fanout/tcp.h"

/* Our Binding requests' PRIORITY: a peer-reflexive host candidate, component 1 (RFC 8445
 * 5.1.2.1 with type preference 110). */
#define PROBE_PRIORITY ((110u << 24) | (65535u << 8) | 255u)
#define PROBE_MAX 256 /* longest request: a 63-byte remote ufrag fits */
_Static_assert(FO_PATHS_MAX >= 3, "eviction needs a slot that is neither selected nor wanted");

/* An open confirmation request. */
typedef struct {
    fo_stun_probe_t tx;
    uint8_t tries;       /* transmissions so far */
    bool starved;        /* a retransmission is due but the address has no budget for it */
    uint64_t due_ms;     /* next retransmission (or giving up after the last) */
    uint16_t len;
    uint8_t req[PROBE_MAX];
} probe_t;

typedef struct {
    bool confirmed;
    bool nominated;      /* sent USE-CANDIDATE */
    uint64_t seq;        /* order of its last valid check: the newest wins, the oldest goes */
    int64_t budget;      /* bytes it may still be sent while unconfirmed */
    probe_t *probe;      /* NULL when none is open */
} path_t;

struct fo_paths {
    const fo_paths_env_t *env;
    fo_paths_cbs_t cbs;
    void *user;
    const char *ctx;     /* the owner's log context */
    char *user_name;     /* "<remote ufrag>:<our ufrag>", then the remote pwd after its NUL */
    const char *remote_pwd;
    fo_path_t way[FO_PATHS_MAX]; /* the held paths (a UDP address or an ICE-TCP connection) */
    path_t path[FO_PATHS_MAX];
    size_t n;
    int selected;        /* confirmed index we send to, -1 none */
    int wanted;          /* newest nominated (else newest checked) index, -1 none */
    bool nominated;      /* some check carried USE-CANDIDATE */
    uint64_t seq;
    fo_rate_t probe_rate;
    fo_timer_t timer;
    fo_loglimit_t moved_log, new_log;
};

static void add_total(uint64_t *t)
{
    if (t) ++*t;
}

static void close_probe(fo_paths_t *p, path_t *pa)
{
    if (!pa->probe) return;
    fo_stun_probe_forget(p->env->stun, &pa->probe->tx);
    free(pa->probe);
    pa->probe = NULL;
}

static void send_raw(fo_paths_t *p, int i, const uint8_t *buf, size_t len);

/* Sends STUN to held address i: freely when confirmed, else from its budget. False when
 * refused. */
static bool send_stun(fo_paths_t *p, int i, const uint8_t *buf, size_t len)
{
    path_t *pa = &p->path[i];
    if (!pa->confirmed) {
        if (pa->budget < (int64_t)len) {
            add_total(p->env->refused);
            return false;
        }
        pa->budget -= (int64_t)len;
    }
    send_raw(p, i, buf, len);
    return true;
}

/* Sends to held path i on its carrier. */
static void send_raw(fo_paths_t *p, int i, const uint8_t *buf, size_t len)
{
    if (p->way[i].tcp) fo_tcp_conn_send(p->way[i].tcp, buf, len);
    else if (p->env->udp) fo_udp_send(p->env->udp, buf, len, &p->way[i].addr);
}

static uint64_t rto(unsigned tries)
{
    uint64_t ms = FO_PATHS_RTO_MS << (tries > 5 ? 5 : tries - 1);
    return ms > FO_PATHS_RTO_MAX_MS ? FO_PATHS_RTO_MAX_MS : ms;
}

/* Re-arms the timer for the earliest due request (starved ones wait for a check). */
static void arm(fo_paths_t *p)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < p->n; i++) {
        const probe_t *pr = p->path[i].probe;
        if (pr && !pr->starved && pr->due_ms < next) next = pr->due_ms;
    }
    uint64_t now = fo_loop_now(p->env->loop);
    if (next == UINT64_MAX) fo_timer_stop(p->env->loop, &p->timer);
    else fo_timer_start(p->env->loop, &p->timer, next > now ? next - now : 0);
}

/* (Re)transmits i's request if its budget allows. */
static void transmit(fo_paths_t *p, int i, uint64_t now)
{
    probe_t *pr = p->path[i].probe;
    if (!send_stun(p, i, pr->req, pr->len)) {
        pr->starved = true;
        return;
    }
    pr->starved = false;
    pr->tries++;
    pr->due_ms = now + rto(pr->tries);
    add_total(p->env->probes);
    char a[64];
    FO_LOG(FO_LOG_DEBUG, p->ctx, "confirming %s: binding request %u", fo_addr_str(&p->way[i].addr, a, sizeof a),
           (unsigned)pr->tries);
}

static void start_probe(fo_paths_t *p, int i, uint64_t now)
{
    path_t *pa = &p->path[i];
    if (pa->confirmed || pa->probe) return;
    if (!fo_rate_allow(&p->probe_rate, now, FO_PATHS_PROBES_PER_S)) return; /* at its next check */
    probe_t *pr = calloc(1, sizeof *pr);
    if (!pr) return;
    int n = fo_stun_probe_request(p->env->stun, pr->req, sizeof pr->req, p->user_name, p->remote_pwd,
                                  PROBE_PRIORITY, p->env->tie, &pr->tx);
    if (n <= 0) { /* the pool is full (FO_EFULL): try again at its next check */
        free(pr);
        return;
    }
    pr->len = (uint16_t)n;
    pa->probe = pr;
    /* The one thing an address gets beyond what it sent: our first request (so that answering
     * its checks never waits for the budget the request took). */
    pa->budget += n;
    transmit(p, i, now);
}

static void timer_fired(fo_timer_t *timer)
{
    fo_paths_t *p = timer->user;
    uint64_t now = fo_loop_now(p->env->loop);
    for (size_t i = 0; i < p->n; i++) {
        probe_t *pr = p->path[i].probe;
        if (!pr || pr->starved || pr->due_ms > now) continue;
        if (pr->tries >= FO_PATHS_TRIES) {
            char a[64];
            FO_LOG(FO_LOG_DEBUG, p->ctx, "%s did not confirm: no answer to %u binding requests",
                   fo_addr_str(&p->way[i].addr, a, sizeof a), (unsigned)pr->tries);
            close_probe(p, &p->path[i]);
            continue;
        }
        transmit(p, (int)i, now);
    }
    if (p->env->udp) fo_udp_flush(p->env->udp);
    arm(p);
}

/* Sends to the wanted address as soon as it is confirmed; until then stays where it is (or, with
 * nothing selected yet, takes the newest confirmed address: the peer answered from there). */
static void reselect(fo_paths_t *p, uint64_t now)
{
    int best = p->selected;
    if (p->wanted >= 0 && p->path[p->wanted].confirmed) {
        best = p->wanted;
    } else if (best < 0) {
        for (size_t i = 0; i < p->n; i++)
            if (p->path[i].confirmed && (best < 0 || p->path[i].seq > p->path[best].seq)) best = (int)i;
    }
    if (best == p->selected) return;
    bool first = p->selected < 0;
    p->selected = best;
    char a[64];
    /* A move to a nominated address is news; settling among a browser's first candidate
     * pairs before its nomination is not. */
    if (!first && p->path[best].nominated)
        FO_LOG_LIMITED(&p->moved_log, now, FO_LOG_INFO, p->ctx, "peer moved to %s %s",
                       p->way[best].tcp ? "tcp" : "udp", fo_addr_str(&p->way[best].addr, a, sizeof a));
    if (p->cbs.on_selected) p->cbs.on_selected(p->user, &p->way[best], first);
}

static void confirm(fo_paths_t *p, int i, uint64_t now)
{
    path_t *pa = &p->path[i];
    if (pa->confirmed) return;
    pa->confirmed = true;
    close_probe(p, pa);
    add_total(p->env->confirmed);
    char a[64];
    FO_LOG(FO_LOG_DEBUG, p->ctx, "%s confirmed", fo_addr_str(&p->way[i].addr, a, sizeof a));
    reselect(p, now);
    arm(p);
}

bool fo_path_equal(const fo_path_t *a, const fo_path_t *b)
{
    if (a->tcp || b->tcp) return a->tcp == b->tcp;
    return fo_addr_equal(&a->addr, &b->addr);
}

static int find(const fo_paths_t *p, const fo_path_t *w)
{
    for (size_t i = 0; i < p->n; i++)
        if (fo_path_equal(&p->way[i], w)) return (int)i;
    return -1;
}

/* The held UDP path with address a. */
static int find_udp(const fo_paths_t *p, const fo_addr_t *a)
{
    const fo_path_t w = {.addr = *a};
    return find(p, &w);
}

/* A slot for a new address: a free one, else the stalest that is neither selected nor wanted,
 * unconfirmed ones first (an attacker churning addresses evicts its own). */
static int take_slot(fo_paths_t *p, const fo_path_t *w)
{
    int i = -1;
    if (p->n < FO_PATHS_MAX) {
        i = (int)p->n++;
    } else {
        for (int k = 0; k < FO_PATHS_MAX; k++) {
            if (k == p->selected || k == p->wanted) continue;
            if (i < 0 || (p->path[k].confirmed < p->path[i].confirmed) ||
                (p->path[k].confirmed == p->path[i].confirmed && p->path[k].seq < p->path[i].seq))
                i = k;
        }
        close_probe(p, &p->path[i]);
        /* the router must forget it before it is overwritten (issue 15, item 1) */
        if (p->cbs.on_address) p->cbs.on_address(p->user, &p->way[i], false);
    }
    p->way[i] = *w;
    memset(&p->path[i], 0, sizeof p->path[i]);
    if (p->cbs.on_address) p->cbs.on_address(p->user, w, true);
    return i;
}

void fo_paths_on_check(fo_paths_t *p, const fo_path_t *from, const fo_paths_check_t *c)
{
    uint64_t now = fo_loop_now(p->env->loop);
    int i = find(p, from);
    if (i >= 0) {
        p->way[i].addr.local = from->addr.local; /* where it reached us now (replies leave from there) */
    } else {
        i = take_slot(p, from);
        char a[64];
        FO_LOG_LIMITED(&p->new_log, now, FO_LOG_DEBUG, p->ctx, "ICE check ok from %s %s%s",
                       from->tcp ? "tcp" : "udp", fo_addr_str(&from->addr, a, sizeof a),
                       c->nominated ? " (nominated)" : "");
    }
    path_t *pa = &p->path[i];
    pa->seq = ++p->seq;
    pa->nominated = pa->nominated || c->nominated;
    if (!pa->confirmed) pa->budget += (int64_t)c->len;
    if (c->reply) { /* a carrier that vouches for the path needs no budget */
        if (c->confirmed) send_raw(p, i, c->reply, c->reply_len);
        else send_stun(p, i, c->reply, c->reply_len);
    }
    /* Follow the newest nominated address; before any nomination, the newest checked one. */
    if (c->nominated || !p->nominated) {
        p->wanted = i;
        p->nominated = p->nominated || c->nominated;
    }
    if (c->confirmed) {
        confirm(p, i, now);
    } else if (!pa->confirmed) {
        if (!pa->probe) start_probe(p, i, now);
        else if (pa->probe->starved) transmit(p, i, now);
        arm(p);
    }
    reselect(p, now);
}

int fo_paths_on_response(fo_paths_t *p, const fo_addr_t *from, const uint8_t *buf, size_t len)
{
    int i = find_udp(p, from);
    if (i < 0 || !p->path[i].probe) return FO_ENOTFOUND;
    probe_t *pr = p->path[i].probe;
    int rc = fo_stun_probe_response(p->env->stun, &pr->tx, buf, len, p->remote_pwd);
    if (rc == 0) {
        confirm(p, i, fo_loop_now(p->env->loop));
    } else if (!pr->tx.open) { /* an authenticated refusal (e.g. 487): stop asking */
        close_probe(p, &p->path[i]);
        arm(p);
    }
    return rc;
}

void fo_paths_on_datagram(fo_paths_t *p, const fo_path_t *from, size_t len)
{
    int i = find(p, from);
    if (i < 0 || p->path[i].confirmed) return;
    p->path[i].budget += (int64_t)len;
    probe_t *pr = p->path[i].probe;
    if (pr && pr->starved) {
        transmit(p, i, fo_loop_now(p->env->loop));
        arm(p);
    }
}

void fo_paths_confirm(fo_paths_t *p, const fo_addr_t *addr)
{
    int i = find_udp(p, addr);
    if (i >= 0) confirm(p, i, fo_loop_now(p->env->loop));
}

/* Drops held path i without telling on_address; the selection follows. */
static void drop(fo_paths_t *p, int i)
{
    close_probe(p, &p->path[i]);
    size_t rest = p->n - (size_t)i - 1;
    memmove(&p->way[i], &p->way[i + 1], rest * sizeof p->way[0]);
    memmove(&p->path[i], &p->path[i + 1], rest * sizeof p->path[0]);
    p->n--;
    bool lost = p->selected == i;
    if (p->wanted == i) p->wanted = -1;
    else if (p->wanted > i) p->wanted--;
    if (lost) p->selected = -1;
    else if (p->selected > i) p->selected--;
    if (!lost) return;
    reselect(p, fo_loop_now(p->env->loop));
    if (p->selected < 0 && p->cbs.on_selected) p->cbs.on_selected(p->user, NULL, false);
}

void fo_paths_forget_tcp(fo_paths_t *p, const fo_tcp_conn_t *conn)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->way[i].tcp == conn) {
            drop(p, (int)i);
            return;
        }
}

int fo_paths_set_ice(fo_paths_t *p, const char *local_ufrag, const char *remote_ufrag,
                     const char *remote_pwd)
{
    size_t ul = strlen(remote_ufrag) + 1 + strlen(local_ufrag), pl = strlen(remote_pwd);
    char *u = malloc(ul + 1 + pl + 1);
    if (!u) return FO_ENOMEM;
    snprintf(u, ul + 1, "%s:%s", remote_ufrag, local_ufrag);
    memcpy(u + ul + 1, remote_pwd, pl + 1);
    /* open requests carry the old credentials: new ones go at the addresses' next checks */
    for (size_t i = 0; i < p->n; i++) close_probe(p, &p->path[i]);
    arm(p);
    free(p->user_name);
    p->user_name = u;
    p->remote_pwd = u + ul + 1;
    return 0;
}

const fo_path_t *fo_paths_selected(const fo_paths_t *p)
{
    return p->selected >= 0 ? &p->way[p->selected] : NULL;
}

const fo_path_t *fo_paths_wanted(const fo_paths_t *p)
{
    return p->wanted >= 0 ? &p->way[p->wanted] : NULL;
}

size_t fo_paths_all(const fo_paths_t *p, const fo_path_t **out)
{
    *out = p->way;
    return p->n;
}

bool fo_paths_is_confirmed(const fo_paths_t *p, const fo_addr_t *addr)
{
    int i = find_udp(p, addr);
    return i >= 0 && p->path[i].confirmed;
}

fo_paths_t *fo_paths_new(const fo_paths_env_t *env, const char *local_ufrag,
                         const char *remote_ufrag, const char *remote_pwd,
                         const fo_paths_cbs_t *cbs, void *user, const char *log_ctx)
{
    fo_paths_t *p = calloc(1, sizeof *p);
    size_t ul = strlen(remote_ufrag) + 1 + strlen(local_ufrag), pl = strlen(remote_pwd);
    if (!p || !(p->user_name = malloc(ul + 1 + pl + 1))) {
        free(p);
        return NULL;
    }
    snprintf(p->user_name, ul + 1, "%s:%s", remote_ufrag, local_ufrag);
    memcpy(p->user_name + ul + 1, remote_pwd, pl + 1);
    p->remote_pwd = p->user_name + ul + 1;
    p->env = env;
    p->cbs = *cbs;
    p->user = user;
    p->selected = p->wanted = -1;
    p->ctx = log_ctx ? log_ctx : "";
    fo_timer_init(&p->timer, timer_fired, p);
    return p;
}

void fo_paths_free(fo_paths_t *p)
{
    if (!p) return;
    fo_timer_stop(p->env->loop, &p->timer);
    for (size_t i = 0; i < p->n; i++) close_probe(p, &p->path[i]);
    free(p->user_name);
    free(p);
}
