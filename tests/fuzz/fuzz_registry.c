/* SPDX-License-Identifier: MIT */
/* libFuzzer target for what the cluster reads back from Redis and from its configuration: the
 * first input byte picks the parser, the rest is its text. 0: a node value (JSON from another
 * node, fo_registry_parse_node); 1: a Redis URL (fo_redis_url_parse); 2: an API URL and a node
 * id (the validators every registry value passes); 3: a relay.pull/push list. Checks that an
 * accepted node value formats back into one that parses to the same node, and that parsed
 * fields are NUL-terminated inside their arrays. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/config.h"
#include "fanout/redis.h"
#include "fanout/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 14) return 0;
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 4) {
    case 0: {
        fo_node_info_t n, m;
        const char *why = NULL;
        if (fo_registry_parse_node(text, size - 1, &n, &why) == 0) {
            char out[1024];
            if (!fo_registry_node_id_ok(n.id) || !fo_registry_api_url_ok(n.api)) abort();
            int k = fo_registry_format_node(&n, out, sizeof out);
            if (k < 0 || fo_registry_parse_node(out, (size_t)k, &m, NULL) != 0) abort();
            if (strcmp(n.id, m.id) || strcmp(n.api, m.api) || n.players != m.players || n.draining != m.draining)
                abort();
        } else if (!why) {
            abort();
        }
        break;
    }
    case 1: {
        fo_redis_addr_t a;
        const char *why = NULL;
        if (fo_redis_url_parse(text, &a, &why) == 0) {
            if (strnlen(a.host, sizeof a.host) == sizeof a.host || !a.host[0] || a.port < 1 || a.port > 65535 ||
                strnlen(a.password, sizeof a.password) == sizeof a.password || a.db < 0)
                abort();
        } else if (!why) {
            abort();
        }
        break;
    }
    case 2:
        if (fo_registry_api_url_ok(text) && (strlen(text) >= FO_NODE_API_MAX || text[strlen(text) - 1] == '/'))
            abort();
        if (fo_registry_node_id_ok(text) && strlen(text) >= FO_NODE_ID_MAX) abort();
        break;
    default: {
        char key[200], url[1024];
        const char *why = NULL;
        for (size_t i = 0; i < 64 && fo_config_relay_item(text, i, key, sizeof key, url, sizeof url, &why) == 0; i++)
            if (!strchr(key, '/') || strncmp(url, "http", 4) != 0) abort();
        break;
    }
    }
    free(text);
    return 0;
}
