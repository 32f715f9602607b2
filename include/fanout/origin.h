/* SPDX-License-Identifier: MIT */
/* Which browsers' requests the operator surface (/api/, /metrics) answers: the Host and Origin
 * rules against cross-site requests and DNS rebinding (docs/security.md, "Operator API:
 * browsers"). Pure string checks (libc only, no allocation), fuzzed; the policy that uses them
 * is in api.c. Any thread.
 *
 * Lists (http.allowed_hosts, http.allowed_origins) are names separated by spaces or commas,
 * compared without regard to case. */
#ifndef FO_ORIGIN_H
#define FO_ORIGIN_H

#include <stdbool.h>

/* Whether a request whose Host header is `host` ("name[:port]", "[v6][:port]", "" when absent)
 * may be answered on the strength of loopback trust: an IPv4 or IPv6 literal, "localhost", or a
 * name in `allowed` ("*" there allows any). A DNS-rebinding page reaches the server under its
 * own DNS name, so it fails here. A malformed Host fails; an absent one passes (every browser
 * sends one). */
bool fo_origin_host_allowed(const char *host, const char *allowed);

typedef enum {
    FO_ORIGIN_NONE = 0, /* no Origin header: not a cross-origin browser request */
    FO_ORIGIN_SAME,     /* the server's own origin: scheme (tls) and authority == Host */
    FO_ORIGIN_LISTED,   /* in http.allowed_origins: may use the API cross-origin (CORS) */
    FO_ORIGIN_FOREIGN,  /* anything else, "null" and malformed values included */
} fo_origin_kind_t;

/* Classifies the Origin header `origin` ("" or NULL when absent) of a request that arrived with
 * Host `host` over TLS or not, against the `allowed` origins ("https://dash.example.org"). */
fo_origin_kind_t fo_origin_classify(const char *origin, const char *host, bool tls,
                                    const char *allowed);

/* Whether Sec-Fetch-Site `value` says the request was made by another site's page
 * ("cross-site", or "same-site": another port or subdomain). "" (absent), "same-origin" and
 * "none" (typed or bookmarked) are not. */
bool fo_origin_cross_site(const char *value);

#endif
