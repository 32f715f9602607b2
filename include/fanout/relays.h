/* SPDX-License-Identifier: MIT */
/* The operator's relays: streams pulled from WHEP URLs as local streams and local streams
 * pushed to WHIP URLs (SRS's "forward", for WebRTC), from [relay] pull/push in the config and
 * from the operator API (/api/v1/relays: GET lists them with their state, POST adds one,
 * DELETE /api/v1/relays/<id> removes it). Each is kept up: a relay that ends is started again
 * after a backoff (1 s doubling to 30 s; a push also waits for its local publisher). The
 * relays themselves are relay.h's. Loop thread only. */
#ifndef FO_RELAYS_H
#define FO_RELAYS_H

#include <stdbool.h>
#include <stddef.h>

#include "fanout/config.h"
#include "fanout/http.h"
#include "fanout/relay.h"

typedef struct fo_relays fo_relays_t;

/* `env` is copied (its pointers must outlive the relays). NULL on allocation failure. */
fo_relays_t *fo_relays_new(const fo_relay_env_t *env);
/* Adds relay.pull and relay.push of `cfg`. Returns 0 or the first error (logged). */
int fo_relays_configure(fo_relays_t *rs, const fo_config_t *cfg);
/* Stops every relay (the loop must run on for their ends). */
void fo_relays_shutdown(fo_relays_t *rs);
/* Frees; after the loop ended and the router was freed. NULL is a no-op. */
void fo_relays_free(fo_relays_t *rs);

/* Adds one; `id` (at least 17 bytes) receives its id. Returns 0, or FO_EINVAL with a static
 * reason in *why, FO_EFULL (too many), FO_ENOMEM. */
int fo_relays_add(fo_relays_t *rs, fo_relay_kind_t kind, const char *key, const char *url,
                  const char *bearer, char *id, size_t cap, const char **why);
/* Removes one (stopping it). Returns 0 or FO_ENOTFOUND. */
int fo_relays_remove(fo_relays_t *rs, const char *id);
size_t fo_relays_count(const fo_relays_t *rs);

/* GET/POST /api/v1/relays and DELETE /api/v1/relays/<id>. Returns false for other paths. */
bool fo_relays_handle(fo_relays_t *rs, const fo_http_req_t *req, fo_http_resp_t *resp);

#endif
