/* SPDX-License-Identifier: MIT */
/* Admission caps and the per-client and per-session tables. Client addresses are parsed
 * (inet_pton), so spellings cannot dodge the count; an IPv4-mapped IPv6 address is its IPv4
 * address, and an IPv6 client is its /64. Every session id maps to its entry (client, still
 * connecting, publisher) so that connect and release need nothing but the id. A client entry
 * lives while it has sessions or its offer bucket is not yet full again; idle ones are swept
 * when the table grows, so a flood of distinct addresses costs bounded memory. */
#include "fanout/limits.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/map.h"

#define SWEEP_MIN 4096        /* table size that triggers a sweep of idle clients */
#define IDLE_MS 2000          /* a client without sessions and offers for this long is idle */

typedef struct {
    uint8_t b[17]; /* family (4 or 6), then the address */
    size_t len;
} addr_key_t;

typedef struct {
    addr_key_t key;            /* the client: an IPv4 address or an IPv6 /64 */
    uint32_t sessions, pending, publishers;
    fo_rate_t offers;
    uint64_t last_ms;          /* last offer */
} client_t;

typedef struct {
    client_t *client;          /* NULL: unknown address, in the totals only */
    bool pending, publisher;
} held_t;

struct fo_limits {
    const fo_config_t *cfg;
    fo_map_t *clients;         /* client key -> client_t */
    fo_map_t *by_id;           /* session id -> held_t */
    size_t pending;            /* all sessions still connecting */
    size_t sweep_at;
    addr_key_t exempt[8];
    size_t n_exempt;
};

/* The whole address. */
static bool parse_addr(const char *ip, addr_key_t *k)
{
    if (!ip || !*ip) return false;
    if (inet_pton(AF_INET, ip, k->b + 1) == 1) {
        k->b[0] = 4;
        k->len = 5;
        return true;
    }
    if (inet_pton(AF_INET6, ip, k->b + 1) != 1) return false;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(k->b + 1, mapped, sizeof mapped) == 0) { /* ::ffff:a.b.c.d is a.b.c.d */
        memmove(k->b + 1, k->b + 13, 4);
        k->b[0] = 4;
        k->len = 5;
        return true;
    }
    k->b[0] = 6;
    k->len = 17;
    return true;
}

/* The client an address belongs to: itself (IPv4) or its /64. */
static addr_key_t client_key(const addr_key_t *a)
{
    addr_key_t k = *a;
    if (k.b[0] == 6) k.len = 1 + 8;
    return k;
}

fo_limits_t *fo_limits_new(const fo_config_t *cfg)
{
    fo_limits_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->cfg = cfg;
    l->clients = fo_map_new();
    l->by_id = fo_map_new();
    l->sweep_at = SWEEP_MIN;
    if (!l->clients || !l->by_id) {
        fo_limits_free(l);
        return NULL;
    }
    char buf[sizeof cfg->limits_exempt];
    snprintf(buf, sizeof buf, "%s", cfg->limits_exempt);
    for (char *save = NULL, *tok = strtok_r(buf, " ,\t", &save); tok && l->n_exempt < FO_ARRAY_LEN(l->exempt);
         tok = strtok_r(NULL, " ,\t", &save))
        if (parse_addr(tok, &l->exempt[l->n_exempt])) l->n_exempt++;
    return l;
}

void fo_limits_free(fo_limits_t *l)
{
    if (!l) return;
    fo_map_free_owning(l->by_id);
    fo_map_free_owning(l->clients);
    free(l);
}

static bool exempt(const fo_limits_t *l, const addr_key_t *a)
{
    for (size_t i = 0; i < l->n_exempt; i++)
        if (l->exempt[i].len == a->len && memcmp(l->exempt[i].b, a->b, a->len) == 0) return true;
    return false;
}

static client_t *find(const fo_limits_t *l, const char *ip)
{
    addr_key_t a;
    if (!parse_addr(ip, &a)) return NULL;
    addr_key_t k = client_key(&a);
    return fo_map_get(l->clients, k.b, k.len);
}

/* Frees clients with no sessions whose last offer is IDLE_MS old (their offer bucket would be
 * full again: forgetting them forgets nothing). */
static void sweep(fo_limits_t *l, uint64_t now)
{
    size_t n = fo_map_size(l->clients);
    void **all = malloc(n * sizeof *all);
    if (!all) return;
    n = fo_map_values(l->clients, all, n);
    for (size_t i = 0; i < n; i++) {
        client_t *c = all[i];
        if (!c->sessions && now - c->last_ms >= IDLE_MS) free(fo_map_del(l->clients, c->key.b, c->key.len));
    }
    free(all);
    l->sweep_at = fo_map_size(l->clients) * 2 > SWEEP_MIN ? fo_map_size(l->clients) * 2 : SWEEP_MIN;
}

static client_t *find_or_add(fo_limits_t *l, const addr_key_t *k, uint64_t now)
{
    client_t *c = fo_map_get(l->clients, k->b, k->len);
    if (c) return c;
    if (fo_map_size(l->clients) >= l->sweep_at) sweep(l, now);
    if (!(c = calloc(1, sizeof *c))) return NULL;
    c->key = *k;
    c->last_ms = now;
    if (fo_map_put(l->clients, k->b, k->len, c) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

size_t fo_limits_ip_sessions(const fo_limits_t *l, const char *client_ip)
{
    const client_t *c = find(l, client_ip);
    return c ? c->sessions : 0;
}

size_t fo_limits_ip_pending(const fo_limits_t *l, const char *client_ip)
{
    const client_t *c = find(l, client_ip);
    return c ? c->pending : 0;
}

size_t fo_limits_pending(const fo_limits_t *l) { return l->pending; }
size_t fo_limits_clients(const fo_limits_t *l) { return fo_map_size(l->clients); }

/* The per-client caps; 0 or FO_EAGAIN with msg. Takes an offer token. */
static int check_client(fo_limits_t *l, const fo_limits_offer_t *o, char *msg, size_t cap)
{
    const fo_config_t *c = l->cfg;
    addr_key_t a;
    if (!parse_addr(o->client_ip, &a) || exempt(l, &a)) return 0;
    addr_key_t k = client_key(&a);
    client_t *cl = find_or_add(l, &k, o->now_ms);
    if (!cl) return 0; /* out of memory: let the global caps decide */
    cl->last_ms = o->now_ms;
    const char *who = o->client_ip, *net = k.b[0] == 6 ? " (its /64)" : "";
    if (!fo_rate_allow(&cl->offers, o->now_ms, c->offer_rate_per_ip)) {
        snprintf(msg, cap, "too many offers from %s%s: more than %d a second (rtc.offer_rate_per_ip)",
                 who, net, c->offer_rate_per_ip);
        return FO_EAGAIN;
    }
    if (cl->sessions >= (uint32_t)c->max_sessions_per_ip) {
        snprintf(msg, cap, "too many sessions from %s%s: %d (rtc.max_sessions_per_ip)", who, net,
                 c->max_sessions_per_ip);
        return FO_EAGAIN;
    }
    if (cl->pending >= (uint32_t)c->max_pending_per_ip) {
        snprintf(msg, cap, "too many sessions still connecting from %s%s: %d (rtc.max_pending_per_ip)",
                 who, net, c->max_pending_per_ip);
        return FO_EAGAIN;
    }
    if (!o->play && cl->publishers >= (uint32_t)c->max_publishers_per_ip) {
        snprintf(msg, cap, "too many publishers from %s%s: %d (rtc.max_publishers_per_ip)", who, net,
                 c->max_publishers_per_ip);
        return FO_EAGAIN;
    }
    return 0;
}

int fo_limits_check(fo_limits_t *l, const fo_limits_offer_t *o, char *msg, size_t cap)
{
    const fo_config_t *c = l->cfg;
    /* The client's own caps first: its offer token is taken whatever else happens, and a
     * client over its share hears so (429) rather than that the server is full. */
    int rc = check_client(l, o, msg, cap);
    if (rc) return rc;
    if (o->sessions >= (size_t)c->max_sessions) {
        snprintf(msg, cap, "server full: %d sessions (rtc.max_sessions)", c->max_sessions);
        return FO_EFULL;
    }
    if (l->pending >= (size_t)c->max_pending) {
        snprintf(msg, cap, "server busy: %d sessions still connecting (rtc.max_pending)", c->max_pending);
        return FO_EFULL;
    }
    if (!o->play && o->publishers >= (size_t)c->max_publishers) {
        snprintf(msg, cap, "server full: %d publishers (rtc.max_publishers)", c->max_publishers);
        return FO_EFULL;
    }
    if (o->play && o->stream_players >= (size_t)c->max_players_per_stream) {
        snprintf(msg, cap, "stream full: %d players (rtc.max_players_per_stream)",
                 c->max_players_per_stream);
        return FO_EFULL;
    }
    return 0;
}

int fo_limits_acquire(fo_limits_t *l, const char *id, const char *client_ip, bool publisher)
{
    held_t *h = calloc(1, sizeof *h);
    if (!h) return FO_ENOMEM;
    addr_key_t a;
    if (parse_addr(client_ip, &a)) {
        addr_key_t k = client_key(&a);
        /* exempt clients are counted too (fo_limits_ip_sessions), just never refused */
        if (!(h->client = find_or_add(l, &k, 0))) {
            free(h);
            return FO_ENOMEM;
        }
    }
    if (fo_map_put(l->by_id, id, strlen(id), h) != 0) {
        free(h);
        return FO_ENOMEM;
    }
    h->pending = true;
    h->publisher = publisher;
    l->pending++;
    if (h->client) {
        h->client->sessions++;
        h->client->pending++;
        h->client->publishers += publisher;
    }
    return 0;
}

void fo_limits_connected(fo_limits_t *l, const char *id)
{
    held_t *h = fo_map_get(l->by_id, id, strlen(id));
    if (!h || !h->pending) return;
    h->pending = false;
    l->pending--;
    if (h->client) h->client->pending--;
}

void fo_limits_release(fo_limits_t *l, const char *id)
{
    fo_limits_connected(l, id);
    held_t *h = fo_map_del(l->by_id, id, strlen(id));
    if (!h) return;
    if (h->client) {
        h->client->sessions--;
        h->client->publishers -= h->publisher;
        /* kept until idle: its offer bucket still counts */
    }
    free(h);
}
