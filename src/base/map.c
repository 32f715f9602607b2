/* SPDX-License-Identifier: MIT */
/* Chained hash map with FNV-1a over short keys. */
#include "fanout/map.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"

typedef struct node {
    struct node *next;
    uint32_t hash;
    uint8_t klen;
    uint8_t key[FO_MAP_KEY_MAX];
    void *val;
} node_t;

struct fo_map {
    node_t **buckets;
    size_t nb, n;
};

static uint32_t hash_bytes(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

fo_map_t *fo_map_new(void)
{
    fo_map_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->nb = 64;
    m->buckets = calloc(m->nb, sizeof *m->buckets);
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    return m;
}

static void free_map(fo_map_t *m, bool owning)
{
    if (!m) return;
    for (size_t i = 0; i < m->nb; i++) {
        for (node_t *n = m->buckets[i], *next; n; n = next) {
            next = n->next;
            if (owning) free(n->val);
            free(n);
        }
    }
    free(m->buckets);
    free(m);
}

void fo_map_free(fo_map_t *m) { free_map(m, false); }
void fo_map_free_owning(fo_map_t *m) { free_map(m, true); }

static node_t **find(const fo_map_t *m, const void *key, size_t klen, uint32_t h)
{
    node_t **pp = &m->buckets[h & (m->nb - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0) break;
    return pp;
}

static void grow(fo_map_t *m)
{
    size_t nb = m->nb * 2;
    node_t **b = calloc(nb, sizeof *b);
    if (!b) return; /* stay at the current size: slower, still correct */
    for (size_t i = 0; i < m->nb; i++) {
        for (node_t *n = m->buckets[i], *next; n; n = next) {
            next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nb = nb;
}

int fo_map_put(fo_map_t *m, const void *key, size_t klen, void *val)
{
    if (klen > FO_MAP_KEY_MAX) return FO_ETOOBIG;
    uint32_t h = hash_bytes(key, klen);
    node_t **pp = find(m, key, klen, h);
    if (*pp) {
        (*pp)->val = val;
        return 0;
    }
    node_t *n = malloc(sizeof *n);
    if (!n) return FO_ENOMEM;
    n->next = NULL;
    n->hash = h;
    n->klen = (uint8_t)klen;
    memcpy(n->key, key, klen);
    n->val = val;
    *pp = n;
    if (++m->n > m->nb) grow(m);
    return 0;
}

void *fo_map_get(const fo_map_t *m, const void *key, size_t klen)
{
    if (klen > FO_MAP_KEY_MAX) return NULL;
    node_t *n = *find(m, key, klen, hash_bytes(key, klen));
    return n ? n->val : NULL;
}

void *fo_map_del(fo_map_t *m, const void *key, size_t klen)
{
    if (klen > FO_MAP_KEY_MAX) return NULL;
    node_t **pp = find(m, key, klen, hash_bytes(key, klen));
    node_t *n = *pp;
    if (!n) return NULL;
    void *val = n->val;
    *pp = n->next;
    free(n);
    m->n--;
    return val;
}

size_t fo_map_size(const fo_map_t *m) { return m->n; }

void fo_map_foreach(const fo_map_t *m, void (*fn)(void *val, void *user), void *user)
{
    for (size_t i = 0; i < m->nb; i++)
        for (node_t *n = m->buckets[i]; n; n = n->next) fn(n->val, user);
}

size_t fo_map_values(const fo_map_t *m, void **out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < m->nb && k < max; i++)
        for (node_t *n = m->buckets[i]; n && k < max; n = n->next) out[k++] = n->val;
    return k;
}
