/* SPDX-License-Identifier: MIT */
/* The client table behind the HTTP front's per-client limits (see the header). One entry per
 * IPv4 address or IPv6 /64 (IPv4-mapped IPv6 addresses count as IPv4), made on first contact,
 * dropped by a sweep once it holds no connection, no ban, a full bucket and no failures. */
#include "fanout/clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/map.h"

#define KEY_MAX 9             /* family byte + 4 (IPv4) or 8 (IPv6 /64) */
#define SWEEP_MS 30000
#define LOG_EVERY_MS 60000    /* one line per client and kind */
#define MAX_CLIENTS 100000    /* beyond it new clients go untracked (and unlimited) */
#define MAX_EXEMPT 16

enum { LOG_CONNS, LOG_TIMEOUT, LOG_RATE, LOG_BANNED, LOG_KINDS };

typedef struct {
    uint8_t key[KEY_MAX];
    uint8_t klen;
    char text[INET6_ADDRSTRLEN + 4];
    int conns;
    double tokens;            /* signaling requests available */
    uint64_t refill_ms;
    uint32_t fails;
    uint64_t fails_since_ms;  /* start of the current failure window */
    uint64_t banned_until_ms;
    uint64_t last_seen_ms;
    uint64_t logged_ms[LOG_KINDS];
} client_t;

typedef struct {
    uint8_t addr[17];         /* family byte + the full address */
    size_t len;
} exempt_t;

struct fo_clients {
    fo_loop_t *loop;
    const fo_config_t *cfg;
    fo_map_t *table;
    exempt_t exempt[MAX_EXEMPT];
    size_t n_exempt;
    fo_timer_t sweep;
    fo_clients_stats_t st;
};

/* The address as family byte + bytes, IPv4-mapped IPv6 as IPv4. False for other families. */
static bool full_addr(const struct sockaddr *sa, uint8_t out[17], size_t *len)
{
    if (!sa) return false;
    if (sa->sa_family == AF_INET) {
        out[0] = 4;
        memcpy(out + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        *len = 5;
        return true;
    }
    if (sa->sa_family != AF_INET6) return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) {
        out[0] = 4;
        memcpy(out + 1, a->s6_addr + 12, 4);
        *len = 5;
        return true;
    }
    out[0] = 6;
    memcpy(out + 1, a->s6_addr, 16);
    *len = 17;
    return true;
}

static bool is_exempt(const fo_clients_t *c, const uint8_t *a, size_t len)
{
    for (size_t i = 0; i < c->n_exempt; i++)
        if (c->exempt[i].len == len && memcmp(c->exempt[i].addr, a, len) == 0) return true;
    return false;
}

static uint64_t now(const fo_clients_t *c) { return fo_loop_now(c->loop); }

/* The client of `sa`, made if new (NULL: exempt, unknown family, or the table is full). */
static client_t *client_of(fo_clients_t *c, const struct sockaddr *sa, bool create)
{
    uint8_t a[17];
    size_t len;
    if (!full_addr(sa, a, &len) || is_exempt(c, a, len)) return NULL;
    size_t klen = a[0] == 4 ? 5 : 9; /* IPv6: the /64 */
    client_t *cl = fo_map_get(c->table, a, klen);
    if (cl || !create) return cl;
    if (fo_map_size(c->table) >= MAX_CLIENTS || !(cl = calloc(1, sizeof *cl))) return NULL;
    memcpy(cl->key, a, klen);
    cl->klen = (uint8_t)klen;
    if (a[0] == 4) {
        inet_ntop(AF_INET, a + 1, cl->text, sizeof cl->text);
    } else {
        uint8_t p[16] = {0};
        memcpy(p, a + 1, 8);
        inet_ntop(AF_INET6, p, cl->text, sizeof cl->text);
        strcat(cl->text, "/64");
    }
    cl->tokens = c->cfg->http_signal_burst;
    cl->refill_ms = now(c);
    if (fo_map_put(c->table, cl->key, cl->klen, cl) != 0) {
        free(cl);
        return NULL;
    }
    c->st.clients = fo_map_size(c->table);
    return cl;
}

/* Logs `what` for this client unless that kind was logged in the last minute. */
static void log_once(fo_clients_t *c, client_t *cl, int kind, const char *what)
{
    uint64_t t = now(c);
    if (cl->logged_ms[kind] && t - cl->logged_ms[kind] < LOG_EVERY_MS) return;
    cl->logged_ms[kind] = t;
    FO_LOG(FO_LOG_WARN, "http", "client %s: %s (logged once a minute)", cl->text, what);
}

static bool banned(const fo_clients_t *c, const client_t *cl)
{
    return cl && cl->banned_until_ms > now(c);
}

/* --- the expiry sweep --------------------------------------------------------------------- */

typedef struct {
    fo_clients_t *c;
    client_t **drop;
    size_t n, cap;
} sweep_t;

static void sweep_one(void *val, void *user)
{
    sweep_t *s = user;
    client_t *cl = val;
    uint64_t t = now(s->c), quiet = (uint64_t)s->c->cfg->http_ban_window * 1000u;
    if (quiet < LOG_EVERY_MS) quiet = LOG_EVERY_MS;
    if (cl->conns > 0 || cl->banned_until_ms > t || t - cl->last_seen_ms < quiet) return;
    if (s->n < s->cap) s->drop[s->n++] = cl;
}

static void sweep_cb(fo_timer_t *timer)
{
    fo_clients_t *c = timer->user;
    sweep_t s = {.c = c, .cap = fo_map_size(c->table)};
    s.drop = s.cap ? malloc(s.cap * sizeof *s.drop) : NULL;
    if (s.drop) fo_map_foreach(c->table, sweep_one, &s);
    for (size_t i = 0; i < s.n; i++) free(fo_map_del(c->table, s.drop[i]->key, s.drop[i]->klen));
    free(s.drop);
    c->st.clients = fo_map_size(c->table);
    fo_timer_start(c->loop, &c->sweep, SWEEP_MS);
}

/* --- the interface ------------------------------------------------------------------------ */

fo_clients_t *fo_clients_new(fo_loop_t *loop, const fo_config_t *cfg)
{
    fo_clients_t *c = calloc(1, sizeof *c);
    if (!c || !(c->table = fo_map_new())) {
        free(c);
        return NULL;
    }
    c->loop = loop;
    c->cfg = cfg;
    char buf[sizeof cfg->http_exempt];
    snprintf(buf, sizeof buf, "%s", cfg->http_exempt);
    for (char *save = NULL, *tok = strtok_r(buf, " ,\t", &save); tok && c->n_exempt < MAX_EXEMPT;
         tok = strtok_r(NULL, " ,\t", &save)) {
        exempt_t *e = &c->exempt[c->n_exempt];
        uint8_t v6[16];
        if (inet_pton(AF_INET, tok, e->addr + 1) == 1) {
            e->addr[0] = 4;
            e->len = 5;
        } else if (inet_pton(AF_INET6, tok, v6) == 1) {
            static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            bool mapped = memcmp(v6, v4mapped, sizeof v4mapped) == 0;
            e->addr[0] = mapped ? 4 : 6;
            memcpy(e->addr + 1, mapped ? v6 + 12 : v6, mapped ? 4 : 16);
            e->len = mapped ? 5 : 17;
        } else {
            continue; /* checked by config */
        }
        c->n_exempt++;
    }
    fo_timer_init(&c->sweep, sweep_cb, c);
    fo_timer_start(loop, &c->sweep, SWEEP_MS);
    return c;
}

void fo_clients_free(fo_clients_t *c)
{
    if (!c) return;
    fo_timer_stop(c->loop, &c->sweep);
    fo_map_free_owning(c->table);
    free(c);
}

int fo_clients_max_connections(const fo_clients_t *c) { return c->cfg->http_max_connections; }

int fo_clients_accept(fo_clients_t *c, const struct sockaddr *addr)
{
    client_t *cl = client_of(c, addr, true);
    if (!cl) return 0;
    cl->last_seen_ms = now(c);
    if (banned(c, cl)) {
        c->st.banned_refused++;
        log_once(c, cl, LOG_BANNED, "banned: connection refused");
        return FO_EDENIED;
    }
    int cap = c->cfg->http_max_conns_per_client;
    if (cap > 0 && cl->conns >= cap) {
        c->st.conns_refused++;
        char why[96];
        snprintf(why, sizeof why, "%d connections open (http.max_conns_per_client): refused more", cl->conns);
        log_once(c, cl, LOG_CONNS, why);
        return FO_EBUSY;
    }
    return 0;
}

void fo_clients_opened(fo_clients_t *c, const struct sockaddr *addr)
{
    client_t *cl = client_of(c, addr, true);
    if (cl) cl->conns++;
}

void fo_clients_closed(fo_clients_t *c, const struct sockaddr *addr)
{
    client_t *cl = client_of(c, addr, false);
    if (cl && cl->conns > 0) {
        cl->conns--;
        cl->last_seen_ms = now(c);
    }
}

int fo_clients_request_timeout_ms(const fo_clients_t *c) { return c->cfg->http_request_timeout * 1000; }

void fo_clients_timed_out(fo_clients_t *c, const struct sockaddr *addr)
{
    c->st.timeouts++;
    client_t *cl = client_of(c, addr, true);
    if (cl) {
        char why[96];
        snprintf(why, sizeof why, "request not complete after %d s (http.request_timeout): closed",
                 c->cfg->http_request_timeout);
        log_once(c, cl, LOG_TIMEOUT, why);
    }
}

bool fo_clients_is_signaling(const char *method, const char *path)
{
    return strncmp(path, "/rtc/", 5) == 0 &&
           (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 ||
            strcmp(method, "DELETE") == 0);
}

int fo_clients_request(fo_clients_t *c, const struct sockaddr *addr, bool signaling,
                       int *retry_after_s)
{
    client_t *cl = client_of(c, addr, true);
    if (!cl) return 0;
    uint64_t t = now(c);
    cl->last_seen_ms = t;
    if (banned(c, cl)) {
        c->st.banned_refused++;
        *retry_after_s = (int)((cl->banned_until_ms - t + 999) / 1000);
        log_once(c, cl, LOG_BANNED, "banned: request refused");
        return FO_EDENIED;
    }
    double rate = c->cfg->http_signal_rate, burst = c->cfg->http_signal_burst;
    if (!signaling || rate <= 0) return 0;
    cl->tokens += (double)(t - cl->refill_ms) * rate / 1000.0;
    if (cl->tokens > burst) cl->tokens = burst;
    cl->refill_ms = t;
    if (cl->tokens >= 1.0) {
        cl->tokens -= 1.0;
        return 0;
    }
    c->st.rate_limited++;
    int wait = (int)((1.0 - cl->tokens) / rate + 0.999);
    *retry_after_s = wait < 1 ? 1 : wait;
    char why[96];
    snprintf(why, sizeof why, "over %g signaling requests/s (http.signal_rate): 429", rate);
    log_once(c, cl, LOG_RATE, why);
    return FO_EAGAIN;
}

void fo_clients_answered(fo_clients_t *c, const struct sockaddr *addr, int status)
{
    const fo_config_t *cfg = c->cfg;
    if (cfg->http_ban_failures <= 0) return;
    if (status != 400 && status != 401 && status != 413 && status != 415) return;
    client_t *cl = client_of(c, addr, true);
    if (!cl || banned(c, cl)) return;
    uint64_t t = now(c);
    if (!cl->fails || t - cl->fails_since_ms > (uint64_t)cfg->http_ban_window * 1000u) {
        cl->fails = 0;
        cl->fails_since_ms = t;
    }
    if (++cl->fails < (uint32_t)cfg->http_ban_failures) return;
    cl->fails = 0;
    cl->banned_until_ms = t + (uint64_t)cfg->http_ban_time * 1000u;
    c->st.bans++;
    FO_LOG(FO_LOG_WARN, "http", "client %s banned for %d s: %d failed requests within %d s "
           "(http.ban_failures, http.ban_window)", cl->text, cfg->http_ban_time,
           cfg->http_ban_failures, cfg->http_ban_window);
}

bool fo_clients_banned(fo_clients_t *c, const struct sockaddr *addr)
{
    return banned(c, client_of(c, addr, false));
}

typedef struct {
    const fo_clients_t *c;
    uint64_t n;
} count_t;

static void count_banned(void *val, void *user)
{
    count_t *k = user;
    if (banned(k->c, val)) k->n++;
}

void fo_clients_stats(const fo_clients_t *c, fo_clients_stats_t *out)
{
    *out = c->st;
    count_t k = {c, 0};
    fo_map_foreach(c->table, count_banned, &k);
    out->banned_now = k.n;
    out->clients = fo_map_size(c->table);
}
