/* SPDX-License-Identifier: MIT */
/* A small hash map from short byte keys (<= FO_MAP_KEY_MAX bytes: ICE ufrags, peer addresses,
 * session ids) to pointers. Chained; grows by doubling. Allocates per insert, never per lookup.
 * Not thread-safe: one owner thread. */
#ifndef FO_MAP_H
#define FO_MAP_H

#include <stddef.h>
#include <stdint.h>

#define FO_MAP_KEY_MAX 40

typedef struct fo_map fo_map_t;

fo_map_t *fo_map_new(void);
void fo_map_free(fo_map_t *m);
/* fo_map_free for a map that owns its values: free()s each one first. */
void fo_map_free_owning(fo_map_t *m);
/* Inserts or replaces. Returns 0, FO_ENOMEM or FO_ETOOBIG (key too long). */
int fo_map_put(fo_map_t *m, const void *key, size_t klen, void *val);
void *fo_map_get(const fo_map_t *m, const void *key, size_t klen);
/* Removes the entry if present and returns its value (NULL if none). */
void *fo_map_del(fo_map_t *m, const void *key, size_t klen);
size_t fo_map_size(const fo_map_t *m);
/* Calls fn for every entry; fn must not modify the map. */
void fo_map_foreach(const fo_map_t *m, void (*fn)(void *val, void *user), void *user);
/* Copies up to max values into out (for iterating while modifying). Returns how many. */
size_t fo_map_values(const fo_map_t *m, void **out, size_t max);

#endif
