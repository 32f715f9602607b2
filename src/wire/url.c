/* SPDX-License-Identifier: MIT */
/* Stream URL and query-string parsing. Pure and bounded: every copy checks its destination. */
#include "fanout/url.h"

#include <string.h>

#include "fanout/common.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int fo_url_decode(const char *src, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= len) return FO_EINVAL;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0) return FO_EINVAL;
            c = (char)(hi << 4 | lo);
            if (c == '\0') return FO_EINVAL;
            i += 2;
        }
        if (o + 1 >= cap) return FO_ETOOBIG;
        out[o++] = c;
    }
    if (cap == 0) return FO_ETOOBIG;
    out[o] = '\0';
    return (int)o;
}

int fo_url_query_get(const char *query, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        size_t klen = eq ? (size_t)(eq - p) : seg;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            if (!eq) {
                if (cap == 0) return FO_ETOOBIG;
                out[0] = '\0';
                return 0;
            }
            return fo_url_decode(eq + 1, seg - klen - 1, out, cap);
        }
        p = end ? end + 1 : NULL;
    }
    return FO_ENOTFOUND;
}

static int segment_ok(const char *s)
{
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '~'))
            return 0;
    }
    return 1;
}

int fo_url_parse_stream(const char *url, fo_url_t *out, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    memset(out, 0, sizeof *out);
    if (!url || !*url) return *why = "empty stream url", FO_EINVAL;
    size_t total = strlen(url);
    if (total > FO_URL_MAX) return *why = "stream url too long", FO_ETOOBIG;

    const char *sep = strstr(url, "://");
    if (!sep || sep == url || (size_t)(sep - url) >= sizeof out->scheme)
        return *why = "stream url has no scheme", FO_EINVAL;
    memcpy(out->scheme, url, (size_t)(sep - url));
    const char *p = sep + 3;

    /* authority: host[:port] or [v6]:port, up to '/' */
    const char *slash = strchr(p, '/');
    if (!slash) return *why = "stream url has no path", FO_EINVAL;
    const char *auth_end = slash;
    const char *host = p, *host_end;
    const char *port = NULL;
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (!host_end) return *why = "bad IPv6 host", FO_EINVAL;
        if (host_end + 1 < auth_end) {
            if (host_end[1] != ':') return *why = "bad host", FO_EINVAL;
            port = host_end + 2;
        }
    } else {
        host_end = memchr(p, ':', (size_t)(auth_end - p));
        if (host_end) port = host_end + 1;
        else host_end = auth_end;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0) return *why = "stream url has no host", FO_EINVAL;
    if (hlen >= sizeof out->host) return *why = "host too long", FO_ETOOBIG;
    memcpy(out->host, host, hlen);
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)out->host[i] <= ' ' || out->host[i] == '@' || out->host[i] == '?')
            return *why = "bad host", FO_EINVAL;
    if (port) {
        unsigned v = 0;
        if (port >= auth_end) return *why = "bad port", FO_EINVAL;
        for (const char *q = port; q < auth_end; q++) {
            if (*q < '0' || *q > '9') return *why = "bad port", FO_EINVAL;
            v = v * 10 + (unsigned)(*q - '0');
            if (v > 65535) return *why = "bad port", FO_EINVAL;
        }
        if (v == 0) return *why = "bad port", FO_EINVAL;
        out->port = (uint16_t)v;
    }

    /* path, then query */
    const char *path = slash + 1;
    const char *qm = strchr(path, '?');
    const char *frag = strchr(path, '#');
    size_t plen = qm ? (size_t)(qm - path) : frag ? (size_t)(frag - path) : strlen(path);
    if (qm) {
        const char *qend = frag && frag > qm ? frag : qm + strlen(qm);
        size_t qlen = (size_t)(qend - qm - 1);
        if (qlen >= sizeof out->query) return *why = "query too long", FO_ETOOBIG;
        memcpy(out->query, qm + 1, qlen);
    }
    while (plen > 0 && path[plen - 1] == '/') plen--; /* tolerate a trailing slash */
    char decoded[sizeof out->key];
    int dl = fo_url_decode(path, plen, decoded, sizeof decoded);
    if (dl == FO_ETOOBIG) return *why = "stream path too long", FO_ETOOBIG;
    if (dl < 0) return *why = "bad percent-encoding in path", FO_EINVAL;
    char *last = strrchr(decoded, '/');
    if (!last) return *why = "stream url needs /app/stream", FO_EINVAL;
    *last = '\0';
    const char *app = decoded, *stream = last + 1;
    if (strlen(app) >= sizeof out->app) return *why = "app name too long", FO_ETOOBIG;
    if (strlen(stream) >= sizeof out->stream) return *why = "stream name too long", FO_ETOOBIG;
    /* every segment of app must be valid */
    size_t alen = strlen(app), slen = strlen(stream);
    char tmp[sizeof out->app];
    memcpy(tmp, app, alen + 1);
    for (char *save = NULL, *tok = strtok_r(tmp, "/", &save); ; tok = strtok_r(NULL, "/", &save)) {
        if (!tok) break;
        if (!segment_ok(tok)) return *why = "bad app name", FO_EINVAL;
    }
    if (!*app || app[0] == '/' || strstr(app, "//")) return *why = "bad app name", FO_EINVAL;
    if (!segment_ok(stream)) return *why = "bad stream name", FO_EINVAL;
    memcpy(out->app, app, alen + 1);
    memcpy(out->stream, stream, slen + 1);
    memcpy(out->key, app, alen);
    out->key[alen] = '/';
    memcpy(out->key + alen + 1, stream, slen + 1);
    return 0;
}
