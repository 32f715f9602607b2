/* SPDX-License-Identifier: MIT */
/* Host and Origin checks for the operator surface (see origin.h). */
#include "fanout/origin.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 256

/* Whether the space/comma separated `list` holds `word` (len bytes), ignoring case; a trailing
 * '/' on a list entry is ignored (origins are sometimes written with one). */
static bool list_has(const char *list, const char *word, size_t len)
{
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        size_t n = strcspn(p, " ,\t");
        size_t m = n && p[n - 1] == '/' ? n - 1 : n;
        if (m && m == len && strncasecmp(p, word, len) == 0) return true;
        p += n;
    }
    return false;
}

/* ":digits" (1-5 of them) or nothing at all. */
static bool port_ok(const char *p)
{
    if (!*p) return true;
    if (*p++ != ':') return false;
    size_t n = strspn(p, "0123456789");
    return n >= 1 && n <= 5 && !p[n];
}

/* The host part of "name[:port]" or "[v6][:port]" into out (without brackets); false when
 * malformed. *v6 tells the bracketed form. */
static bool split_host(const char *host, char out[NAME_MAX_LEN], bool *v6)
{
    const char *end;
    *v6 = host[0] == '[';
    if (*v6) {
        end = strchr(host, ']');
        if (!end) return false;
        host++;
    } else {
        end = host + strcspn(host, ":");
    }
    size_t n = (size_t)(end - host);
    if (n == 0 || n >= NAME_MAX_LEN) return false;
    memcpy(out, host, n);
    out[n] = '\0';
    return port_ok(*v6 ? end + 1 : end);
}

/* A DNS name's characters (letters, digits, '-', '.', '_'): nothing a list entry or a header
 * could be confused with. */
static bool name_chars(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.' || *s == '_'))
            return false;
    return true;
}

bool fo_origin_host_allowed(const char *host, const char *allowed)
{
    if (!host || !*host) return true;
    char name[NAME_MAX_LEN];
    bool v6;
    unsigned char addr[16];
    if (!split_host(host, name, &v6)) return false;
    if (v6) return inet_pton(AF_INET6, name, addr) == 1;
    if (inet_pton(AF_INET, name, addr) == 1) return true;
    if (!name_chars(name)) return false;
    if (strcasecmp(name, "localhost") == 0) return true;
    return list_has(allowed, "*", 1) || list_has(allowed, name, strlen(name));
}

fo_origin_kind_t fo_origin_classify(const char *origin, const char *host, bool tls,
                                    const char *allowed)
{
    if (!origin || !*origin) return FO_ORIGIN_NONE;
    if (strcmp(origin, "null") != 0 && list_has(allowed, origin, strlen(origin))) return FO_ORIGIN_LISTED;
    const char *scheme = tls ? "https://" : "http://";
    size_t sl = strlen(scheme);
    if (strncasecmp(origin, scheme, sl) != 0) return FO_ORIGIN_FOREIGN;
    const char *authority = origin + sl;
    /* an origin is scheme://host[:port]: nothing after the authority, no userinfo */
    if (!*authority || strpbrk(authority, "/?#@ \t\\")) return FO_ORIGIN_FOREIGN;
    return host && strcasecmp(authority, host) == 0 ? FO_ORIGIN_SAME : FO_ORIGIN_FOREIGN;
}

bool fo_origin_cross_site(const char *value)
{
    return value && (strcasecmp(value, "cross-site") == 0 || strcasecmp(value, "same-site") == 0);
}
