/* SPDX-License-Identifier: MIT */
/* RFC 8840 fragments: a line reader over (pointer, length), the few attributes ICE needs, and
 * the restart answer. No state beyond the caller's struct. */
#include "fanout/sdpfrag.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fanout/common.h"

typedef struct {
    const char *p;
    size_t n;
} span_t;

/* ice-char (RFC 8839): ALPHA / DIGIT / "+" / "/" */
static bool ice_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static bool ice_chars(span_t s, size_t min, size_t max)
{
    if (s.n < min || s.n > max) return false;
    for (size_t i = 0; i < s.n; i++)
        if (!ice_char(s.p[i])) return false;
    return true;
}

static bool digits(span_t s, size_t max_digits, uint64_t max)
{
    if (s.n == 0 || s.n > max_digits) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return false;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    return v <= max;
}

/* The next blank-separated token of *s. */
static bool token(span_t *s, span_t *t)
{
    while (s->n && (*s->p == ' ' || *s->p == '\t')) s->p++, s->n--;
    if (!s->n) return false;
    size_t i = 0;
    while (i < s->n && s->p[i] != ' ' && s->p[i] != '\t') i++;
    *t = (span_t){s->p, i};
    s->p += i;
    s->n -= i;
    return true;
}

static bool eq(span_t s, const char *lit) { return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0; }

static bool prefix(span_t *s, const char *lit)
{
    size_t k = strlen(lit);
    if (s->n < k || memcmp(s->p, lit, k) != 0) return false;
    s->p += k;
    s->n -= k;
    return true;
}

/* candidate-attribute (RFC 8839 5.1): foundation component-id transport priority address port
 * "typ" cand-type, then optional extensions (raddr, rport, tcptype, generation...). */
static bool candidate_ok(span_t v)
{
    span_t f, comp, tr, prio, addr, port, typ, type;
    if (!token(&v, &f) || !ice_chars(f, 1, 32)) return false;
    if (!token(&v, &comp) || !digits(comp, 3, 256) || eq(comp, "0")) return false;
    if (!token(&v, &tr) || tr.n > 32) return false;
    if (!token(&v, &prio) || !digits(prio, 10, 0xffffffffull)) return false;
    if (!token(&v, &addr) || addr.n > 255) return false;
    if (!token(&v, &port) || !digits(port, 5, 65535)) return false;
    if (!token(&v, &typ) || !eq(typ, "typ") || !token(&v, &type)) return false;
    return eq(type, "host") || eq(type, "srflx") || eq(type, "prflx") || eq(type, "relay");
}

/* Takes an ice-ufrag/ice-pwd value: the first one seen, and any later one must agree. */
static int credential(char *dst, size_t cap, span_t v, size_t min, const char **why, const char *what)
{
    if (!ice_chars(v, min, cap - 1)) return *why = what, FO_EINVAL;
    if (dst[0] && (strlen(dst) != v.n || memcmp(dst, v.p, v.n) != 0))
        return *why = "conflicting ICE credentials in one fragment", FO_EINVAL;
    memcpy(dst, v.p, v.n);
    dst[v.n] = '\0';
    return 0;
}

static int parse_line(fo_sdpfrag_t *out, span_t line, const char **why)
{
    for (size_t i = 0; i < line.n; i++) {
        unsigned char c = (unsigned char)line.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return *why = "control character in line", FO_EINVAL;
    }
    if (line.n < 2 || line.p[1] != '=' || line.p[0] < 'a' || line.p[0] > 'z')
        return *why = "not a <type>=<value> line", FO_EINVAL;
    span_t v = {line.p + 2, line.n - 2};
    if (line.p[0] == 'm') {
        span_t media, port, proto;
        if (!token(&v, &media) || !token(&v, &port) || !token(&v, &proto)) return *why = "bad m= line", FO_EINVAL;
        out->n_media++;
        return 0;
    }
    if (line.p[0] != 'a') return 0;
    if (prefix(&v, "ice-ufrag:")) return credential(out->ice_ufrag, sizeof out->ice_ufrag, v, 4, why, "bad ice-ufrag");
    if (prefix(&v, "ice-pwd:")) return credential(out->ice_pwd, sizeof out->ice_pwd, v, 22, why, "bad ice-pwd");
    if (prefix(&v, "candidate:")) {
        if (!candidate_ok(v)) return *why = "bad candidate", FO_EINVAL;
        out->n_candidates++;
        return 0;
    }
    if (eq(v, "end-of-candidates")) {
        out->end_of_candidates = true;
        return 0;
    }
    if (prefix(&v, "mid:") && !out->mid[0]) {
        size_t k = v.n < sizeof out->mid - 1 ? v.n : sizeof out->mid - 1;
        memcpy(out->mid, v.p, k);
        out->mid[k] = '\0';
    }
    return 0; /* a=ice-options, a=group and the rest: nothing ICE needs here */
}

int fo_sdpfrag_parse(const char *text, size_t len, fo_sdpfrag_t *out, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    *why = NULL;
    memset(out, 0, sizeof *out);
    if (len > FO_SDPFRAG_MAX_LEN) return *why = "fragment too large", FO_ETOOBIG;
    if (!text && len) return *why = "no input", FO_EINVAL;
    size_t lines = 0;
    span_t rest = {text, len};
    while (rest.n) {
        const char *nl = memchr(rest.p, '\n', rest.n);
        span_t line = {rest.p, nl ? (size_t)(nl - rest.p) : rest.n};
        rest.p += line.n + (nl ? 1 : 0);
        rest.n -= line.n + (nl ? 1 : 0);
        if (line.n && line.p[line.n - 1] == '\r') line.n--;
        if (!line.n) continue;
        int rc = parse_line(out, line, why);
        if (rc) return rc;
        lines++;
    }
    if (!lines) return *why = "empty fragment", FO_EINVAL;
    return 0;
}

int fo_sdpfrag_build_restart(char *out, size_t cap, const char *ufrag, const char *pwd)
{
    if (!ice_chars((span_t){ufrag, strlen(ufrag)}, 4, 256) || !ice_chars((span_t){pwd, strlen(pwd)}, 22, 256))
        return FO_EINVAL;
    int n = snprintf(out, cap, "a=ice-lite\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", ufrag, pwd);
    return n < 0 || (size_t)n >= cap ? FO_ETOOBIG : n;
}
