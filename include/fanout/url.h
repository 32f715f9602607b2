/* SPDX-License-Identifier: MIT */
/* Stream URLs (webrtc://host[:port]/app/stream[?k=v&...]) and URL query strings: parsing and
 * validation. Pure: libc only, no allocation. Any thread. */
#ifndef FO_URL_H
#define FO_URL_H

#include <stddef.h>
#include <stdint.h>

#define FO_URL_MAX 2048

typedef struct {
    char scheme[16];   /* "webrtc", "http", "https" */
    char host[256];    /* without brackets for IPv6 */
    uint16_t port;     /* 0 when absent */
    char app[64];
    char stream[128];
    char key[194];     /* "app/stream", the registry key */
    char query[1024];  /* after '?', verbatim, "" if none */
} fo_url_t;

/* Parses a stream URL. app and stream are one path segment each of [A-Za-z0-9_.~-] (after
 * percent-decoding; "." and ".." refused); a longer path keeps its last segment as stream and
 * joins the rest as app ("a/b/c" -> app "a/b", stream "c"). Returns 0 or FO_EINVAL/FO_ETOOBIG
 * with a static reason in *why. */
int fo_url_parse_stream(const char *url, fo_url_t *out, const char **why);

/* Finds `name` in a query string ("a=1&b=2", no leading '?') and percent-decodes its value
 * into out[0..cap). Returns the decoded length, FO_ENOTFOUND, or FO_ETOOBIG/FO_EINVAL. */
int fo_url_query_get(const char *query, const char *name, char *out, size_t cap);

/* Percent-decodes src[0..len) into out[0..cap) ('+' stays '+'). Returns length or negative. */
int fo_url_decode(const char *src, size_t len, char *out, size_t cap);

#endif
