/* SPDX-License-Identifier: MIT */
/* Admission caps for new sessions and the per-IP session table. Client IPs are keyed by their
 * binary address (inet_pton), so "::ffff:1.2.3.4"-style spellings of one IPv4 address differ
 * but "1.2.3.4" and " 1.2.3.4" cannot be used to dodge the count. Every session id maps to the
 * IP it was counted against so release needs nothing but the id. */
#include "fanout/limits.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/map.h"

typedef struct {
    uint8_t key[17];
    size_t klen;
} ipkey_t;

struct fo_limits {
    const fo_config_t *cfg;
    fo_map_t *by_ip; /* ipkey -> (uintptr_t) sessions */
    fo_map_t *by_id; /* session id -> ipkey_t* */
    ipkey_t exempt[8];
    size_t n_exempt;
};

static bool ip_key(const char *ip, ipkey_t *k)
{
    if (!ip || !*ip) return false;
    if (inet_pton(AF_INET, ip, k->key + 1) == 1) {
        k->key[0] = 4;
        k->klen = 5;
        return true;
    }
    if (inet_pton(AF_INET6, ip, k->key + 1) == 1) {
        k->key[0] = 6;
        k->klen = 17;
        return true;
    }
    return false;
}

fo_limits_t *fo_limits_new(const fo_config_t *cfg)
{
    fo_limits_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->cfg = cfg;
    l->by_ip = fo_map_new();
    l->by_id = fo_map_new();
    if (!l->by_ip || !l->by_id) {
        fo_limits_free(l);
        return NULL;
    }
    char buf[sizeof cfg->limits_exempt];
    snprintf(buf, sizeof buf, "%s", cfg->limits_exempt);
    for (char *save = NULL, *tok = strtok_r(buf, " ,\t", &save); tok && l->n_exempt < FO_ARRAY_LEN(l->exempt);
         tok = strtok_r(NULL, " ,\t", &save))
        if (ip_key(tok, &l->exempt[l->n_exempt])) l->n_exempt++;
    return l;
}

void fo_limits_free(fo_limits_t *l)
{
    if (!l) return;
    fo_map_free_owning(l->by_id);
    fo_map_free(l->by_ip);
    free(l);
}

static bool exempt(const fo_limits_t *l, const ipkey_t *k)
{
    for (size_t i = 0; i < l->n_exempt; i++)
        if (l->exempt[i].klen == k->klen && memcmp(l->exempt[i].key, k->key, k->klen) == 0) return true;
    return false;
}

size_t fo_limits_ip_sessions(const fo_limits_t *l, const char *client_ip)
{
    ipkey_t k;
    if (!ip_key(client_ip, &k)) return 0;
    return (size_t)(uintptr_t)fo_map_get(l->by_ip, k.key, k.klen);
}

int fo_limits_check(const fo_limits_t *l, const fo_limits_offer_t *o, char *msg, size_t cap)
{
    const fo_config_t *c = l->cfg;
    if (o->sessions >= (size_t)c->max_sessions) {
        snprintf(msg, cap, "server full: %d sessions (rtc.max_sessions)", c->max_sessions);
        return FO_EFULL;
    }
    if (o->pending >= (size_t)c->max_pending) {
        snprintf(msg, cap, "server busy: %d sessions still connecting (rtc.max_pending)", c->max_pending);
        return FO_EFULL;
    }
    if (o->play && o->stream_players >= (size_t)c->max_players_per_stream) {
        snprintf(msg, cap, "stream full: %d players (rtc.max_players_per_stream)",
                 c->max_players_per_stream);
        return FO_EFULL;
    }
    ipkey_t k;
    if (ip_key(o->client_ip, &k) && !exempt(l, &k) &&
        (size_t)(uintptr_t)fo_map_get(l->by_ip, k.key, k.klen) >= (size_t)c->max_sessions_per_ip) {
        snprintf(msg, cap, "too many sessions from %s: %d (rtc.max_sessions_per_ip)", o->client_ip,
                 c->max_sessions_per_ip);
        return FO_EAGAIN;
    }
    return 0;
}

int fo_limits_acquire(fo_limits_t *l, const char *id, const char *client_ip)
{
    ipkey_t k;
    if (!ip_key(client_ip, &k)) return 0; /* unknown address: nothing to count */
    ipkey_t *held = malloc(sizeof *held);
    if (!held) return FO_ENOMEM;
    *held = k;
    if (fo_map_put(l->by_id, id, strlen(id), held) != 0) {
        free(held);
        return FO_ENOMEM;
    }
    uintptr_t n = (uintptr_t)fo_map_get(l->by_ip, k.key, k.klen);
    if (fo_map_put(l->by_ip, k.key, k.klen, (void *)(n + 1)) != 0) {
        free(fo_map_del(l->by_id, id, strlen(id)));
        return FO_ENOMEM;
    }
    return 0;
}

void fo_limits_release(fo_limits_t *l, const char *id)
{
    ipkey_t *k = fo_map_del(l->by_id, id, strlen(id));
    if (!k) return;
    uintptr_t n = (uintptr_t)fo_map_get(l->by_ip, k->key, k->klen);
    if (n <= 1) fo_map_del(l->by_ip, k->key, k->klen);
    else fo_map_put(l->by_ip, k->key, k->klen, (void *)(n - 1));
    free(k);
}

