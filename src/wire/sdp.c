/* SPDX-License-Identifier: MIT */
/* SDP offers in, answers out: a line-by-line parser over (pointer, length) spans that never
 * allocates and never writes to its input, codec/extension negotiation for the two roles, and a
 * bounded answer writer. Owns no state; everything lives in caller-owned structs. Transport
 * decisions (which address, which certificate) belong to the caller, not here. */
#include "fanout/sdp.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fanout/common.h"

/* ---- spans: a view of part of the input; every read goes through these helpers ---- */

typedef struct {
    const char *p;
    size_t n;
} span_t;

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static span_t span_trim(span_t s)
{
    while (s.n && is_blank(s.p[0])) s.p++, s.n--;
    while (s.n && is_blank(s.p[s.n - 1])) s.n--;
    return s;
}

/* Takes the next blank-separated token off the front of *s; false when none is left. */
static bool span_token(span_t *s, span_t *tok)
{
    *s = span_trim(*s);
    if (!s->n) return false;
    size_t i = 0;
    while (i < s->n && !is_blank(s->p[i])) i++;
    tok->p = s->p;
    tok->n = i;
    s->p += i;
    s->n -= i;
    return true;
}

/* Splits *s at the first `c`: *head gets what precedes it, *s what follows. False if absent. */
static bool span_split(span_t *s, char c, span_t *head)
{
    const char *q = s->n ? memchr(s->p, c, s->n) : NULL;
    if (!q) return false;
    head->p = s->p;
    head->n = (size_t)(q - s->p);
    s->n -= head->n + 1;
    s->p = q + 1;
    return true;
}

/* Consumes `prefix` from the front of *s when it is there (case-sensitive). */
static bool span_eat(span_t *s, const char *prefix)
{
    size_t k = strlen(prefix);
    if (s->n < k || memcmp(s->p, prefix, k) != 0) return false;
    s->p += k;
    s->n -= k;
    return true;
}

static bool span_eq(span_t s, const char *lit)
{
    size_t k = strlen(lit);
    return s.n == k && memcmp(s.p, lit, k) == 0;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static bool span_eq_ci(span_t s, const char *lit)
{
    size_t k = strlen(lit);
    if (s.n != k) return false;
    for (size_t i = 0; i < k; i++)
        if (lower(s.p[i]) != lower(lit[i])) return false;
    return true;
}

/* Copies s into dst[0..cap), truncating, always NUL-terminated (cap > 0). */
static void span_copy(char *dst, size_t cap, span_t s)
{
    size_t k = s.n < cap - 1 ? s.n : cap - 1;
    memcpy(dst, s.p, k);
    dst[k] = '\0';
}

/* Decimal, at least one digit, nothing else, value <= max. */
static bool span_uint(span_t s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s.n) return false;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return false;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
        if (v > max) return false;
    }
    *out = v;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Looks `key` up in an fmtp parameter list ("a=1;b=2", blanks allowed around items). */
static bool fmtp_param(span_t params, const char *key, span_t *val)
{
    while (params.n) {
        span_t item;
        if (!span_split(&params, ';', &item)) {
            item = params;
            params.n = 0;
        }
        span_t k;
        if (!span_split(&item, '=', &k)) continue;
        if (span_eq_ci(span_trim(k), key)) {
            *val = span_trim(item);
            return true;
        }
    }
    return false;
}

static span_t cstr(const char *s) { return (span_t){s, strlen(s)}; }

/* ---- parser ---- */

typedef struct {
    fo_sdp_t *out;
    fo_sdp_media_t *m;               /* current media, NULL before the first m= */
    const char *why;
    /* session-level values media inherit */
    char ufrag[64], pwd[128], fp_alg[16], fp[160];
    fo_setup_t setup;
    fo_dir_t dir;
    bool dir_set;
    bool media_dir_set[FO_SDP_MAX_MEDIA];
    span_t bundle[4];                /* values of a=group:BUNDLE lines (views of the input) */
    size_t n_bundle;
    bool seen_o;
} parser_t;

static fo_codec_t codec_from_name(span_t n)
{
    static const struct {
        const char *name;
        fo_codec_t codec;
    } map[] = {{"opus", FO_CODEC_OPUS}, {"VP8", FO_CODEC_VP8},       {"VP9", FO_CODEC_VP9},
               {"H264", FO_CODEC_H264}, {"AV1", FO_CODEC_AV1},       {"AV1X", FO_CODEC_AV1},
               {"rtx", FO_CODEC_RTX},   {"red", FO_CODEC_RED},       {"ulpfec", FO_CODEC_ULPFEC}};
    for (size_t i = 0; i < FO_ARRAY_LEN(map); i++)
        if (span_eq_ci(n, map[i].name)) return map[i].codec;
    return FO_CODEC_OTHER;
}

static fo_sdp_codec_t *codec_by_pt(fo_sdp_media_t *m, uint64_t pt)
{
    for (size_t i = 0; i < m->n_codecs; i++)
        if (m->codecs[i].pt == pt) return &m->codecs[i];
    return NULL;
}

/* "<pt> rest" -> the codec entry of this media for pt (NULL if pt not in the m= line) and rest.
 * False when the line is malformed. */
static bool pt_prefix(parser_t *ps, span_t *v, fo_sdp_codec_t **c)
{
    span_t tok;
    uint64_t pt;
    if (!span_token(v, &tok) || !span_uint(tok, 127, &pt)) return false;
    *c = codec_by_pt(ps->m, pt);
    *v = span_trim(*v);
    return true;
}

static int parse_rtpmap(parser_t *ps, span_t v)
{
    fo_sdp_codec_t *c;
    span_t name, clock;
    uint64_t clk, ch = 0;
    if (!pt_prefix(ps, &v, &c) || !span_split(&v, '/', &name) || !name.n) return -1;
    if (!span_split(&v, '/', &clock)) {
        clock = v;
        v.n = 0;
    } else if (!span_uint(v, 255, &ch)) {
        return -1;
    }
    if (!span_uint(clock, UINT32_MAX, &clk)) return -1;
    if (!c) return 0; /* not among the m= formats (or beyond what we keep) */
    span_copy(c->name, sizeof c->name, name);
    c->codec = codec_from_name(name);
    c->clock = (uint32_t)clk;
    c->channels = (uint8_t)ch;
    return 0;
}

/* The fmtp parameters we read (apt, H.264's mode and profile) from the list `v`. */
static void fmtp_read(fo_sdp_codec_t *c, span_t v)
{
    span_t val;
    uint64_t n;
    if (fmtp_param(v, "apt", &val) && span_uint(val, 127, &n)) c->apt = (uint8_t)n;
    if (fmtp_param(v, "packetization-mode", &val) && span_uint(val, 2, &n))
        c->h264_pmode = (uint8_t)n;
    if (fmtp_param(v, "profile-level-id", &val) && val.n == 6) {
        uint32_t pl = 0;
        size_t i = 0;
        for (; i < 6 && hexval(val.p[i]) >= 0; i++) pl = pl << 4 | (uint32_t)hexval(val.p[i]);
        if (i == 6) c->h264_profile_level = pl;
    }
}

static int parse_fmtp(parser_t *ps, span_t v)
{
    fo_sdp_codec_t *c;
    if (!pt_prefix(ps, &v, &c)) return -1;
    if (!c) return 0;
    span_copy(c->fmtp, sizeof c->fmtp, v);
    fmtp_read(c, v);
    return 0;
}

static int parse_rtcp_fb(parser_t *ps, span_t v)
{
    span_t tok, param = {"", 0};
    fo_sdp_codec_t *c = NULL;
    bool all = span_eat(&v, "*");
    if (!all && !pt_prefix(ps, &v, &c)) return -1;
    if (!span_token(&v, &tok)) return -1;
    span_token(&v, &param);
    uint8_t bit = 0;
    if (span_eq(tok, "nack")) bit = param.n == 0 ? FO_FB_NACK : span_eq(param, "pli") ? FO_FB_PLI : 0;
    else if (span_eq(tok, "ccm") && span_eq(param, "fir")) bit = FO_FB_FIR;
    else if (span_eq(tok, "goog-remb")) bit = FO_FB_REMB;
    else if (span_eq(tok, "transport-cc")) bit = FO_FB_TWCC;
    if (all)
        for (size_t i = 0; i < ps->m->n_codecs; i++) ps->m->codecs[i].fb |= bit;
    else if (c)
        c->fb |= bit;
    return 0;
}

static bool parse_dir(span_t s, fo_dir_t *d)
{
    if (span_eq(s, "sendrecv")) *d = FO_DIR_SENDRECV;
    else if (span_eq(s, "sendonly")) *d = FO_DIR_SENDONLY;
    else if (span_eq(s, "recvonly")) *d = FO_DIR_RECVONLY;
    else if (span_eq(s, "inactive")) *d = FO_DIR_INACTIVE;
    else return false;
    return true;
}

static int parse_extmap(parser_t *ps, span_t v)
{
    span_t idtok, uri, id;
    uint64_t n;
    fo_dir_t d = FO_DIR_SENDRECV;
    if (!span_token(&v, &idtok) || !span_token(&v, &uri)) return -1;
    if (span_split(&idtok, '/', &id)) {
        if (!parse_dir(idtok, &d)) return -1;
    } else {
        id = idtok;
    }
    if (!span_uint(id, 255, &n) || n == 0) return -1;
    fo_sdp_media_t *m = ps->m;
    if (m->n_ext == FO_SDP_MAX_EXT) return 0; /* extras are ignored */
    m->ext[m->n_ext].id = (uint8_t)n;
    m->ext[m->n_ext].dir = d;
    span_copy(m->ext[m->n_ext].uri, sizeof m->ext[0].uri, uri);
    m->n_ext++;
    return 0;
}

static int parse_ssrc(parser_t *ps, span_t v)
{
    span_t tok, attr;
    uint64_t ssrc;
    fo_sdp_media_t *m = ps->m;
    if (!span_token(&v, &tok) || !span_uint(tok, UINT32_MAX, &ssrc)) return -1;
    v = span_trim(v);
    if (!span_split(&v, ':', &attr)) {
        attr = v;
        v.n = 0;
    }
    size_t i = 0;
    while (i < m->n_ssrcs && m->ssrcs[i].ssrc != ssrc) i++;
    if (i == m->n_ssrcs) {
        if (m->n_ssrcs == FO_SDP_MAX_SSRCS) return 0;
        m->ssrcs[m->n_ssrcs++].ssrc = (uint32_t)ssrc;
    }
    if (span_eq(attr, "cname")) span_copy(m->ssrcs[i].cname, sizeof m->ssrcs[i].cname, v);
    else if (span_eq(attr, "msid") && !m->msid[0]) span_copy(m->msid, sizeof m->msid, v);
    return 0;
}

static int parse_ssrc_group(parser_t *ps, span_t v)
{
    span_t tok, a, b;
    uint64_t x, y;
    fo_sdp_media_t *m = ps->m;
    if (!span_token(&v, &tok)) return -1;
    if (!span_eq(tok, "FID")) return 0;
    if (!span_token(&v, &a) || !span_token(&v, &b) || !span_uint(a, UINT32_MAX, &x) ||
        !span_uint(b, UINT32_MAX, &y))
        return -1;
    if (m->n_fid == FO_SDP_MAX_SSRCS) return 0;
    m->fid[m->n_fid][0] = (uint32_t)x;
    m->fid[m->n_fid][1] = (uint32_t)y;
    m->n_fid++;
    return 0;
}

static bool rid_ok(span_t id)
{
    if (id.n == 0 || id.n >= FO_SDP_RID_LEN) return false;
    for (size_t i = 0; i < id.n; i++) {
        char c = id.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* a=rid:<id> send [restrictions]: the sending rids. (Receiving rids need no restriction we
 * honour: a=simulcast:recv names them.) */
static int parse_rid(parser_t *ps, span_t v)
{
    span_t id, dir;
    fo_sdp_media_t *m = ps->m;
    if (!span_token(&v, &id) || !span_token(&v, &dir)) return -1;
    if (!span_eq(dir, "send") || !rid_ok(id) || m->n_rids == FO_ARRAY_LEN(m->rids)) return 0;
    span_copy(m->rids[m->n_rids++], FO_SDP_RID_LEN, id);
    return 0;
}

/* The first alternative of each stream of a simulcast list "q;h;f" (paused "~" dropped). */
static size_t sim_list(span_t list, char out[][FO_SDP_RID_LEN], size_t max)
{
    size_t n = 0;
    span_eat(&list, "rid=");
    while (list.n && n < max) {
        span_t stream = list, alt;
        if (!span_split(&list, ';', &stream)) list.n = 0;
        alt = stream;
        if (!span_split(&stream, ',', &alt)) alt = stream;
        if (alt.n && alt.p[0] == '~') {
            alt.p++;
            alt.n--;
        }
        if (rid_ok(alt)) span_copy(out[n++], FO_SDP_RID_LEN, alt);
    }
    return n;
}

/* a=simulcast:send q;h;f [recv a;b] (RFC 8853; either direction first), or Firefox's older
 * "send rid=q;h;f". */
static int parse_simulcast(parser_t *ps, span_t v)
{
    span_t dir, list;
    fo_sdp_media_t *m = ps->m;
    bool any = false;
    while (span_token(&v, &dir)) {
        if (!span_token(&v, &list)) return any ? 0 : -1;
        any = true;
        if (span_eq(dir, "send")) m->n_sim = sim_list(list, m->sim, FO_ARRAY_LEN(m->sim));
        else if (span_eq(dir, "recv"))
            m->n_recv_rids = sim_list(list, m->recv_rids, FO_ARRAY_LEN(m->recv_rids));
    }
    return any ? 0 : -1;
}

/* a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
 * Kept: component 1, UDP, an IP literal. Anything else is skipped, never an error. */
static int parse_candidate(parser_t *ps, span_t v)
{
    span_t found, comp, tr, prio, addr, port;
    uint64_t c, p, pr;
    fo_sdp_media_t *m = ps->m;
    if (m->n_cands == FO_SDP_MAX_CANDIDATES || !span_token(&v, &found) || !span_token(&v, &comp) ||
        !span_token(&v, &tr) || !span_token(&v, &prio) || !span_token(&v, &addr) ||
        !span_token(&v, &port) || !span_uint(comp, 256, &c) || c != 1 || !span_eq_ci(tr, "udp") ||
        !span_uint(prio, UINT32_MAX, &pr) || !span_uint(port, 65535, &p) || p == 0 ||
        addr.n >= sizeof m->cands[0].addr)
        return 0;
    fo_sdp_cand_t *cd = &m->cands[m->n_cands];
    span_copy(cd->addr, sizeof cd->addr, addr);
    unsigned char bin[16];
    if (inet_pton(AF_INET, cd->addr, bin) != 1 && inet_pton(AF_INET6, cd->addr, bin) != 1) return 0;
    cd->port = (uint16_t)p;
    cd->priority = (uint32_t)pr;
    m->n_cands++;
    return 0;
}

static int parse_setup(span_t v, fo_setup_t *s)
{
    if (span_eq(v, "actpass")) *s = FO_SETUP_ACTPASS;
    else if (span_eq(v, "active")) *s = FO_SETUP_ACTIVE;
    else if (span_eq(v, "passive")) *s = FO_SETUP_PASSIVE;
    else return -1;
    return 0;
}

static int parse_fingerprint(span_t v, char *alg, size_t alg_cap, char *fp, size_t fp_cap)
{
    span_t a, f;
    if (!span_token(&v, &a) || !span_token(&v, &f)) return -1;
    span_copy(alg, alg_cap, a);
    span_copy(fp, fp_cap, f);
    return 0;
}

/* Attributes valid at session level (and, for the transport ones, at media level too).
 * Returns 1 when handled, 0 when not a transport/session attribute, -1 when malformed. */
static int parse_transport_attr(parser_t *ps, span_t name, span_t v)
{
    fo_sdp_media_t *m = ps->m;
    if (span_eq(name, "ice-ufrag")) {
        span_copy(m ? m->ice_ufrag : ps->ufrag, m ? sizeof m->ice_ufrag : sizeof ps->ufrag, v);
        return v.n ? 1 : -1;
    }
    if (span_eq(name, "ice-pwd")) {
        span_copy(m ? m->ice_pwd : ps->pwd, m ? sizeof m->ice_pwd : sizeof ps->pwd, v);
        return v.n ? 1 : -1;
    }
    if (span_eq(name, "fingerprint"))
        return parse_fingerprint(v, m ? m->fp_alg : ps->fp_alg, sizeof ps->fp_alg,
                                 m ? m->fp : ps->fp, sizeof ps->fp) == 0 ? 1 : -1;
    if (span_eq(name, "setup")) return parse_setup(v, m ? &m->setup : &ps->setup) == 0 ? 1 : -1;
    fo_dir_t d;
    if (!v.n && parse_dir(name, &d)) {
        if (m) {
            m->dir = d;
            ps->media_dir_set[ps->out->n_media - 1] = true;
        } else {
            ps->dir = d;
            ps->dir_set = true;
        }
        return 1;
    }
    return 0;
}

static int parse_attr(parser_t *ps, span_t a)
{
    span_t name = a, v = {"", 0};
    if (span_split(&a, ':', &name)) v = span_trim(a);
    int r = parse_transport_attr(ps, name, v);
    if (r) return r > 0 ? 0 : (ps->why = "bad transport attribute", -1);
    fo_sdp_media_t *m = ps->m;
    if (!m) {
        if (span_eq(name, "ice-lite")) ps->out->ice_lite = true;
        else if (span_eq(name, "group") && span_eat(&v, "BUNDLE") &&
                 ps->n_bundle < FO_ARRAY_LEN(ps->bundle))
            ps->bundle[ps->n_bundle++] = v;
        return 0; /* other session attributes are not ours to judge */
    }
    static const struct {
        const char *name;
        int (*fn)(parser_t *, span_t);
        const char *why;
    } media_attrs[] = {
        {"rtpmap", parse_rtpmap, "bad rtpmap"},        {"fmtp", parse_fmtp, "bad fmtp"},
        {"rtcp-fb", parse_rtcp_fb, "bad rtcp-fb"},     {"extmap", parse_extmap, "bad extmap"},
        {"ssrc", parse_ssrc, "bad ssrc"},              {"ssrc-group", parse_ssrc_group, "bad ssrc-group"},
        {"rid", parse_rid, "bad rid"},                 {"simulcast", parse_simulcast, "bad simulcast"},
        {"candidate", parse_candidate, "bad candidate"},
    };
    for (size_t i = 0; i < FO_ARRAY_LEN(media_attrs); i++) {
        if (!span_eq(name, media_attrs[i].name)) continue;
        if (media_attrs[i].fn(ps, v) == 0) return 0;
        ps->why = media_attrs[i].why;
        return -1;
    }
    if (span_eq(name, "mid")) span_copy(m->mid, sizeof m->mid, v);
    else if (span_eq(name, "msid")) span_copy(m->msid, sizeof m->msid, v);
    else if (span_eq(name, "rtcp-mux")) m->rtcp_mux = true;
    else if (span_eq(name, "rtcp-rsize")) m->rtcp_rsize = true;
    else if (span_eq(name, "bundle-only")) m->bundle_only = true;
    return 0;
}

static bool proto_is_rtp(const char *proto) { return strstr(proto, "RTP/") != NULL; }

static int parse_mline(parser_t *ps, span_t v)
{
    span_t media, port, proto, tok;
    uint64_t n;
    if (ps->out->n_media == FO_SDP_MAX_MEDIA) {
        ps->why = "too many m= lines";
        return FO_ETOOBIG;
    }
    ps->why = "bad m= line";
    if (!span_token(&v, &media) || !span_token(&v, &port) || !span_token(&v, &proto))
        return FO_EINVAL;
    span_t pnum = port, count;
    if (span_split(&pnum, '/', &count)) pnum = count; /* "port/number" */
    if (!span_uint(pnum, 65535, &n)) return FO_EINVAL;
    fo_sdp_media_t *m = ps->m = &ps->out->media[ps->out->n_media++];
    span_copy(m->media, sizeof m->media, media);
    m->kind = span_eq(media, "audio") ? FO_KIND_AUDIO
              : span_eq(media, "video") ? FO_KIND_VIDEO
                                        : FO_KIND_OTHER;
    m->port = (uint16_t)n;
    span_copy(m->proto, sizeof m->proto, proto);
    v = span_trim(v);
    if (!v.n) {
        ps->why = "m= line without formats";
        return FO_EINVAL;
    }
    if (!proto_is_rtp(m->proto)) {
        span_copy(m->fmt_app, sizeof m->fmt_app, v);
        return 0;
    }
    while (span_token(&v, &tok)) {
        if (!span_uint(tok, 127, &n)) {
            ps->why = "bad payload type";
            return FO_EINVAL;
        }
        if (m->n_codecs == FO_SDP_MAX_CODECS || codec_by_pt(m, n)) continue;
        m->codecs[m->n_codecs++].pt = (uint8_t)n;
    }
    return 0;
}

/* One line, without its line end. Returns 0 or an FO_E* code with ps->why set. */
static int parse_line(parser_t *ps, span_t line, bool first)
{
    for (size_t i = 0; i < line.n; i++) {
        unsigned char c = (unsigned char)line.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            ps->why = "control character in line";
            return FO_EINVAL;
        }
    }
    if (line.n < 2 || line.p[1] != '=' || line.p[0] < 'a' || line.p[0] > 'z') {
        ps->why = "not a <type>=<value> line";
        return FO_EINVAL;
    }
    char type = line.p[0];
    span_t v = {line.p + 2, line.n - 2};
    if (first != (type == 'v')) {
        ps->why = first ? "does not start with v=0" : "repeated v= line";
        return FO_EINVAL;
    }
    span_t tok;
    switch (type) {
    case 'v':
        if (span_eq(v, "0")) return 0;
        ps->why = "unsupported version";
        return FO_EINVAL;
    case 'o': {
        int k = 0;
        while (span_token(&v, &tok)) k++;
        if (k != 6 || ps->m || ps->seen_o) {
            ps->why = "bad o= line";
            return FO_EINVAL;
        }
        ps->seen_o = true;
        return 0;
    }
    case 'm': return parse_mline(ps, v);
    case 'a': return parse_attr(ps, v) == 0 ? 0 : FO_EINVAL;
    default: return 0; /* s= t= c= b= i= ...: nothing we need */
    }
}

static bool in_bundle(const parser_t *ps, const char *mid)
{
    if (!mid[0]) return false;
    for (size_t i = 0; i < ps->n_bundle; i++) {
        span_t g = ps->bundle[i], tok;
        while (span_token(&g, &tok))
            if (span_eq(tok, mid)) return true;
    }
    return false;
}

/* Media-level values fall back on the session's; then every live media needs ICE credentials
 * and a fingerprint. Media the offerer disabled (port 0) may lack them. */
static int finish(parser_t *ps)
{
    fo_sdp_t *out = ps->out;
    if (!ps->seen_o) return ps->why = "no o= line", FO_EINVAL;
    if (!out->n_media) return ps->why = "no m= line", FO_EINVAL;
    for (size_t i = 0; i < out->n_media; i++) {
        fo_sdp_media_t *m = &out->media[i];
        if (!m->ice_ufrag[0]) memcpy(m->ice_ufrag, ps->ufrag, sizeof ps->ufrag);
        if (!m->ice_pwd[0]) memcpy(m->ice_pwd, ps->pwd, sizeof ps->pwd);
        if (!m->fp[0]) {
            memcpy(m->fp_alg, ps->fp_alg, sizeof ps->fp_alg);
            memcpy(m->fp, ps->fp, sizeof ps->fp);
        }
        if (m->setup == FO_SETUP_NONE) m->setup = ps->setup;
        if (!ps->media_dir_set[i] && ps->dir_set) m->dir = ps->dir;
        m->bundled = in_bundle(ps, m->mid);
    }
    for (size_t i = 0; i < out->n_media; i++) {
        fo_sdp_media_t *m = &out->media[i];
        if (m->port == 0 && m->bundle_only && m->bundled) {
            /* Firefox's max-bundle offers every m-line but the first this way; it takes the
             * transport of the group's first live m-line (the BUNDLE tag). */
            const fo_sdp_media_t *tag = NULL;
            for (size_t j = 0; j < out->n_media && !tag; j++)
                if (j != i && out->media[j].port && out->media[j].bundled) tag = &out->media[j];
            if (tag) {
                if (!m->ice_ufrag[0]) memcpy(m->ice_ufrag, tag->ice_ufrag, sizeof m->ice_ufrag);
                if (!m->ice_pwd[0]) memcpy(m->ice_pwd, tag->ice_pwd, sizeof m->ice_pwd);
                if (!m->fp[0]) {
                    memcpy(m->fp_alg, tag->fp_alg, sizeof m->fp_alg);
                    memcpy(m->fp, tag->fp, sizeof m->fp);
                }
                m->port = 9;
            }
        }
        if (m->port == 0) continue;
        if (!m->ice_ufrag[0]) return ps->why = "no ice-ufrag", FO_EINVAL;
        if (!m->ice_pwd[0]) return ps->why = "no ice-pwd", FO_EINVAL;
        if (!m->fp[0]) return ps->why = "no fingerprint", FO_EINVAL;
    }
    return 0;
}

int fo_sdp_parse(const char *text, size_t len, fo_sdp_t *out, const char **why)
{
    static parser_t zero;
    const char *dummy;
    if (!why) why = &dummy;
    if (!out) return *why = "no output", FO_EINVAL;
    memset(out, 0, sizeof *out);
    if (!text && len) return *why = "no input", FO_EINVAL;
    if (len > FO_SDP_MAX_LEN) return *why = "offer too large", FO_ETOOBIG;
    parser_t ps = zero;
    ps.out = out;
    span_t rest = {text, len};
    bool first = true;
    int line_no = 0, rc = 0;
    while (rest.n) {
        span_t line;
        if (!span_split(&rest, '\n', &line)) {
            line = rest;
            rest.n = 0;
        }
        line_no++;
        if (line.n && line.p[line.n - 1] == '\r') line.n--;
        if (!line.n) continue; /* blank lines (a trailing one, mostly) are harmless */
        rc = parse_line(&ps, line, first);
        if (rc) {
            out->err_line = line_no;
            break;
        }
        first = false;
    }
    if (rc == 0 && first) ps.why = "empty", rc = FO_EINVAL;
    if (rc == 0) rc = finish(&ps);
    *why = rc ? ps.why : NULL;
    return rc;
}

/* ---- lookups and compatibility ---- */

/* Entries in use, bounded even when the caller filled the struct by hand. */
static size_t n_codecs(const fo_sdp_media_t *m)
{
    return m->n_codecs < FO_SDP_MAX_CODECS ? m->n_codecs : FO_SDP_MAX_CODECS;
}

const fo_sdp_codec_t *fo_sdp_codec_by_pt(const fo_sdp_media_t *m, uint8_t pt)
{
    size_t n = n_codecs(m);
    for (size_t i = 0; i < n; i++)
        if (m->codecs[i].pt == pt) return &m->codecs[i];
    return NULL;
}

uint8_t fo_sdp_rtx_for(const fo_sdp_media_t *m, uint8_t pt)
{
    size_t n = n_codecs(m);
    for (size_t i = 0; i < n; i++)
        if (m->codecs[i].codec == FO_CODEC_RTX && m->codecs[i].apt == pt && m->codecs[i].pt != pt)
            return m->codecs[i].pt;
    return 0;
}

/* H.264 profile from profile_idc and constraint flags, as in RFC 6184 table 5 / libwebrtc's
 * h264_profile_level_id: patterns are over the constraint byte, MSB first. */
static int h264_profile(uint32_t pl)
{
    static const struct {
        uint8_t idc, mask, value;
        int profile;
    } tab[] = {
        {0x42, 0x4f, 0x40, 1}, /* constrained baseline: x1xx0000 */
        {0x4d, 0x8f, 0x80, 1}, /* 1xxx0000 */
        {0x58, 0xcf, 0xc0, 1}, /* 11xx0000 */
        {0x42, 0x4f, 0x00, 2}, /* baseline: x0xx0000 */
        {0x58, 0xcf, 0x80, 2}, /* 10xx0000 */
        {0x4d, 0xaf, 0x00, 3}, /* main: 0x0x0000 */
        {0x64, 0xff, 0x00, 4}, /* high */
        {0x64, 0xff, 0x0c, 5}, /* constrained high */
        {0xf4, 0xff, 0x00, 6}, /* predictive high 4:4:4 */
    };
    uint8_t idc = (uint8_t)(pl >> 16), flags = (uint8_t)(pl >> 8);
    for (size_t i = 0; i < FO_ARRAY_LEN(tab); i++)
        if (tab[i].idc == idc && (flags & tab[i].mask) == tab[i].value) return tab[i].profile;
    return 0x10000 | (int)(pl >> 8); /* unknown: the exact idc and flags must match */
}

/* Integer fmtp parameter, `def` when absent or not a number. */
static uint64_t fmtp_uint(const char *fmtp, const char *key, uint64_t def)
{
    span_t v;
    uint64_t n;
    return fmtp_param(cstr(fmtp), key, &v) && span_uint(v, UINT32_MAX, &n) ? n : def;
}

void fo_sdp_format_of(const fo_sdp_codec_t *c, fo_sdp_format_t *out)
{
    *out = (fo_sdp_format_t){.pt = c->pt, .codec = c->codec, .clock = c->clock};
    switch (c->codec) {
    case FO_CODEC_H264:
        out->h264_pmode = c->h264_pmode;
        out->profile = (uint32_t)h264_profile(c->h264_profile_level);
        break;
    case FO_CODEC_VP9: out->profile = (uint32_t)fmtp_uint(c->fmtp, "profile-id", 0); break;
    case FO_CODEC_AV1: out->profile = (uint32_t)fmtp_uint(c->fmtp, "profile", 0); break;
    default: break;
    }
    snprintf(out->name, sizeof out->name, "%s", c->name);
}

bool fo_sdp_format_compatible(const fo_sdp_format_t *a, const fo_sdp_format_t *b)
{
    if (a->codec != b->codec || a->clock != b->clock || a->profile != b->profile ||
        a->h264_pmode != b->h264_pmode)
        return false;
    return a->codec != FO_CODEC_OTHER || strcasecmp(a->name, b->name) == 0;
}

bool fo_sdp_codec_compatible(const fo_sdp_codec_t *a, const fo_sdp_codec_t *b)
{
    fo_sdp_format_t fa, fb;
    fo_sdp_format_of(a, &fa);
    fo_sdp_format_of(b, &fb);
    return fo_sdp_format_compatible(&fa, &fb);
}

/* ---- negotiation ---- */

static const char TWCC_URI[] = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
static const char RID_URI[] = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";

static bool usable(const fo_sdp_codec_t *c, fo_codec_t want)
{
    if (c->codec != want) return false;
    if (want == FO_CODEC_OPUS) return c->clock == 48000;
    if (c->clock != 90000) return false;
    return want != FO_CODEC_H264 || c->h264_pmode == 1;
}

static void add_pt(const fo_sdp_media_t *m, fo_sdp_answer_media_t *out, uint8_t pt)
{
    for (size_t i = 0; i < out->n_pts; i++)
        if (out->pts[i] == pt) return;
    if (out->n_pts < FO_SDP_MAX_CODECS) out->pts[out->n_pts++] = pt;
    uint8_t rtx = fo_sdp_rtx_for(m, pt);
    if (rtx && out->n_pts < FO_SDP_MAX_CODECS) out->pts[out->n_pts++] = rtx;
}

/* Publish: the one H.264 entry we want to receive: pm=1, 42e01f, else any 42xxxx/4dxxxx. */
static const fo_sdp_codec_t *pick_h264(const fo_sdp_media_t *m)
{
    const fo_sdp_codec_t *any = NULL;
    for (size_t i = 0; i < n_codecs(m); i++) {
        const fo_sdp_codec_t *c = &m->codecs[i];
        if (!usable(c, FO_CODEC_H264)) continue;
        if (c->h264_profile_level == 0x42e01f) return c;
        uint32_t idc = c->h264_profile_level >> 16;
        if (!any && (idc == 0x42 || idc == 0x4d)) any = c;
    }
    return any;
}

static void pick_codecs(const fo_sdp_media_t *m, fo_sdp_role_t role, const fo_codec_t *prefs,
                        size_t n_prefs, fo_sdp_answer_media_t *out)
{
    static const fo_codec_t audio_pref = FO_CODEC_OPUS;
    if (m->kind == FO_KIND_AUDIO) {
        prefs = &audio_pref;
        n_prefs = 1;
    }
    for (size_t p = 0; p < n_prefs && prefs; p++) {
        fo_codec_t want = prefs[p];
        if (m->kind == FO_KIND_VIDEO && (want == FO_CODEC_OPUS || want == FO_CODEC_RTX))
            continue;
        if (role == FO_SDP_ROLE_PUBLISH && want == FO_CODEC_H264) {
            const fo_sdp_codec_t *c = pick_h264(m);
            if (c) add_pt(m, out, c->pt);
        } else {
            for (size_t i = 0; i < n_codecs(m); i++) {
                if (!usable(&m->codecs[i], want)) continue;
                add_pt(m, out, m->codecs[i].pt);
                if (role == FO_SDP_ROLE_PUBLISH) break;
            }
        }
        if (role == FO_SDP_ROLE_PUBLISH && out->n_pts) return;
    }
}

/* Simulcast layers: the a=simulcast:send streams that have an a=rid:<id> send line. */
static void pick_rids(const fo_sdp_media_t *m, fo_sdp_answer_media_t *out)
{
    for (size_t i = 0; i < m->n_sim && out->n_rids < FO_SDP_MAX_RIDS; i++)
        for (size_t j = 0; j < m->n_rids; j++)
            if (strcmp(m->sim[i], m->rids[j]) == 0) {
                snprintf(out->rids[out->n_rids++], FO_SDP_RID_LEN, "%s", m->sim[i]);
                break;
            }
    if (out->n_rids < 2) out->n_rids = 0; /* one layer is not simulcast */
}

int fo_sdp_negotiate(const fo_sdp_media_t *m, fo_sdp_role_t role, const fo_codec_t *prefs,
                     size_t n_prefs, const char *const *ext_uris, fo_sdp_answer_media_t *out)
{
    if (!m || !out) return FO_EINVAL;
    memset(out, 0, sizeof *out);
    bool publish = role == FO_SDP_ROLE_PUBLISH;
    out->dir = publish ? FO_DIR_RECVONLY : FO_DIR_SENDONLY;
    if (m->port == 0 || m->kind == FO_KIND_OTHER || !proto_is_rtp(m->proto)) return 0;
    /* A publisher must send and a player must receive; anything else has no use here. */
    if (publish ? (m->dir == FO_DIR_RECVONLY || m->dir == FO_DIR_INACTIVE)
                : (m->dir == FO_DIR_SENDONLY || m->dir == FO_DIR_INACTIVE))
        return 0;
    pick_codecs(m, role, prefs, n_prefs, out);
    if (!out->n_pts) return FO_ECODEC;
    out->accept = true;
    bool twcc = false, rid_ext = false;
    for (size_t i = 0; i < m->n_ext && i < FO_SDP_MAX_EXT && ext_uris; i++) {
        for (const char *const *u = ext_uris; *u; u++) {
            if (strcmp(*u, m->ext[i].uri) != 0) continue;
            out->ext_ids[out->n_ext++] = m->ext[i].id;
            twcc |= strcmp(*u, TWCC_URI) == 0;
            rid_ext |= strcmp(*u, RID_URI) == 0;
            break;
        }
    }
    /* transport-cc feedback without the sequence-number extension would promise feedback we
     * cannot give. */
    out->fb_mask = FO_FB_NACK | FO_FB_PLI | FO_FB_FIR | FO_FB_REMB | (twcc ? FO_FB_TWCC : 0);
    if (publish && m->kind == FO_KIND_VIDEO && rid_ext) pick_rids(m, out);
    return 0;
}

/* ---- answer ---- */

typedef struct {
    char *buf;
    size_t cap, len;
    bool over;
} writer_t;

__attribute__((format(printf, 2, 3))) static void wr(writer_t *w, const char *fmt, ...)
{
    if (w->over) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->cap - w->len) {
        w->over = true;
        w->buf[w->len] = '\0';
        return;
    }
    w->len += (size_t)n;
}

static const char *dir_name(fo_dir_t d)
{
    switch (d) {
    case FO_DIR_SENDONLY: return "sendonly";
    case FO_DIR_RECVONLY: return "recvonly";
    case FO_DIR_INACTIVE: return "inactive";
    default: return "sendrecv";
    }
}

/* Strings we put into the answer must be one token: no blanks, no line breaks. */
static bool token_ok(const char *s, size_t max)
{
    if (!s || !s[0]) return false;
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= ' ' || s[n] == 0x7f || n >= max) return false;
    return true;
}

static bool addr_ok(const char *s)
{
    if (!token_ok(s, 45)) return false;
    for (const char *p = s; *p; p++)
        if (hexval(*p) < 0 && *p != '.' && *p != ':') return false;
    return true;
}

static void write_codec(writer_t *w, const fo_sdp_codec_t *c, uint8_t fb_mask)
{
    static const struct {
        uint8_t bit;
        const char *text;
    } fbs[] = {{FO_FB_NACK, "nack"},     {FO_FB_PLI, "nack pli"},       {FO_FB_FIR, "ccm fir"},
               {FO_FB_REMB, "goog-remb"}, {FO_FB_TWCC, "transport-cc"}};
    wr(w, "a=rtpmap:%u %s/%u", c->pt, c->name, (unsigned)c->clock);
    wr(w, c->channels ? "/%u\r\n" : "\r\n", c->channels);
    if (c->fmtp[0]) wr(w, "a=fmtp:%u %s\r\n", c->pt, c->fmtp);
    for (size_t i = 0; i < FO_ARRAY_LEN(fbs); i++)
        if (c->fb & fb_mask & fbs[i].bit) wr(w, "a=rtcp-fb:%u %s\r\n", c->pt, fbs[i].text);
}

static void write_ssrcs(writer_t *w, const fo_sdp_answer_media_t *a, const char *stream,
                        const char *track)
{
    const char *cname = a->cname[0] ? a->cname : "fanout";
    if (a->rtx_ssrc) wr(w, "a=ssrc-group:FID %u %u\r\n", (unsigned)a->ssrc, (unsigned)a->rtx_ssrc);
    uint32_t ssrcs[2] = {a->ssrc, a->rtx_ssrc};
    for (size_t i = 0; i < 2; i++) {
        if (!ssrcs[i]) continue;
        wr(w, "a=ssrc:%u cname:%s\r\n", (unsigned)ssrcs[i], cname);
        wr(w, "a=ssrc:%u msid:%s %s\r\n", (unsigned)ssrcs[i], stream, track);
    }
}

/* Host candidates, component 1 (rtcp-mux). Priorities (RFC 8445 5.1.2.1): UDP type preference
 * 126, ICE-TCP 90 (as browsers rank their own TCP host candidates), then by address and port
 * order. */
static void write_candidates(writer_t *w, const fo_sdp_answer_t *ans)
{
    size_t n = ans->n_candidates < FO_SDP_MAX_CANDIDATES ? ans->n_candidates : FO_SDP_MAX_CANDIDATES;
    size_t foundation = 1;
    for (size_t i = 0; i < n && ans->port; i++)
        wr(w, "a=candidate:%zu 1 udp %u %s %u typ host generation 0\r\n", foundation++,
           (unsigned)(2130706431u - 256u * (unsigned)i), ans->candidates[i], ans->port);
    for (size_t j = 0; j < ans->n_tcp_ports && j < FO_SDP_MAX_TCP_PORTS; j++)
        for (size_t i = 0; i < n; i++)
            wr(w, "a=candidate:%zu 1 tcp %u %s %u typ host tcptype passive generation 0\r\n",
               foundation++, (90u << 24) | ((65535u - 256u * (unsigned)i - 16u * (unsigned)j) << 8) | 255u,
               ans->candidates[i], ans->tcp_ports[j]);
}

static void write_media(writer_t *w, const fo_sdp_media_t *m, const fo_sdp_answer_media_t *a,
                        const fo_sdp_answer_t *ans, const char *ip)
{
    static const char *const ext_dir[] = {"", "/recvonly", "/sendonly", "/inactive"};
    wr(w, "m=%s 9 %s", m->media, m->proto);
    size_t n_pts = a->n_pts < FO_SDP_MAX_CODECS ? a->n_pts : FO_SDP_MAX_CODECS;
    for (size_t i = 0; i < n_pts; i++)
        if (fo_sdp_codec_by_pt(m, a->pts[i])) wr(w, " %u", a->pts[i]);
    wr(w, "\r\nc=IN %s\r\n", ip);
    wr(w, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", ans->ice_ufrag, ans->ice_pwd);
    wr(w, "a=fingerprint:sha-256 %s\r\na=setup:passive\r\n", ans->fingerprint);
    if (m->mid[0]) wr(w, "a=mid:%s\r\n", m->mid);
    for (size_t i = 0; i < a->n_ext && i < FO_SDP_MAX_EXT; i++)
        for (size_t j = 0; j < m->n_ext && j < FO_SDP_MAX_EXT; j++)
            if (m->ext[j].id == a->ext_ids[i]) {
                wr(w, "a=extmap:%u%s %s\r\n", m->ext[j].id, ext_dir[m->ext[j].dir & 3], m->ext[j].uri);
                break;
            }
    wr(w, "a=%s\r\na=rtcp-mux\r\n", dir_name(a->dir));
    if (m->rtcp_rsize) wr(w, "a=rtcp-rsize\r\n");
    for (size_t i = 0; i < n_pts; i++) {
        const fo_sdp_codec_t *c = fo_sdp_codec_by_pt(m, a->pts[i]);
        if (c) write_codec(w, c, a->fb_mask);
    }
    if (a->dir == FO_DIR_SENDONLY || a->dir == FO_DIR_SENDRECV) {
        const char *stream = token_ok(a->msid_stream, sizeof a->msid_stream) ? a->msid_stream : "-";
        char track[80];
        if (token_ok(a->msid_track, sizeof a->msid_track))
            snprintf(track, sizeof track, "%s", a->msid_track);
        else
            snprintf(track, sizeof track, "fanout-%.64s", m->mid[0] ? m->mid : "track");
        wr(w, "a=msid:%s %s\r\n", stream, track);
        if (!a->n_rids) write_ssrcs(w, a, stream, track); /* layers: SSRCs told by rid (RFC 8852) */
    }
    if (a->n_rids && a->dir == FO_DIR_SENDONLY) {
        for (size_t i = 0; i < a->n_rids && i < FO_SDP_MAX_RIDS; i++) wr(w, "a=rid:%s send\r\n", a->rids[i]);
        wr(w, "a=simulcast:send");
        for (size_t i = 0; i < a->n_rids && i < FO_SDP_MAX_RIDS; i++) wr(w, "%s%s", i ? ";" : " ", a->rids[i]);
        wr(w, "\r\n");
    }
    if (a->n_rids && a->dir == FO_DIR_RECVONLY) {
        for (size_t i = 0; i < a->n_rids && i < FO_SDP_MAX_RIDS; i++) wr(w, "a=rid:%s recv\r\n", a->rids[i]);
        wr(w, "a=simulcast:recv");
        for (size_t i = 0; i < a->n_rids && i < FO_SDP_MAX_RIDS; i++) wr(w, "%s%s", i ? ";" : " ", a->rids[i]);
        wr(w, "\r\n");
    }
    write_candidates(w, ans);
    wr(w, "a=end-of-candidates\r\n");
}

static void write_rejected(writer_t *w, const fo_sdp_media_t *m)
{
    char first[8] = "0";
    if (proto_is_rtp(m->proto)) {
        if (m->n_codecs) snprintf(first, sizeof first, "%u", m->codecs[0].pt);
        wr(w, "m=%s 0 %s %s\r\n", m->media, m->proto, first);
    } else {
        wr(w, "m=%s 0 %s %s\r\n", m->media, m->proto, m->fmt_app[0] ? m->fmt_app : first);
    }
    wr(w, "c=IN IP4 0.0.0.0\r\n");
    if (m->mid[0]) wr(w, "a=mid:%s\r\n", m->mid);
    wr(w, "a=inactive\r\n");
}

int fo_sdp_build_answer(const fo_sdp_t *offer, const fo_sdp_answer_t *ans, char *out, size_t cap)
{
    if (!offer || !ans || !out || cap == 0) return FO_EINVAL;
    out[0] = '\0';
    if (cap > INT32_MAX) cap = INT32_MAX;
    if (!token_ok(ans->ice_ufrag, 256) || !token_ok(ans->ice_pwd, 256) ||
        !token_ok(ans->fingerprint, 200) || ans->n_candidates > FO_SDP_MAX_CANDIDATES)
        return FO_EINVAL;
    for (size_t i = 0; i < ans->n_candidates; i++)
        if (!addr_ok(ans->candidates[i])) return FO_EINVAL;
    const char *ip = ans->n_candidates && strchr(ans->candidates[0], ':') ? "IP6 ::" : "IP4 0.0.0.0";
    size_t n = offer->n_media < FO_SDP_MAX_MEDIA ? offer->n_media : FO_SDP_MAX_MEDIA;
    writer_t w = {out, cap, 0, false};
    wr(&w, "v=0\r\no=- %llu 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n",
       (unsigned long long)(ans->session_id & INT64_MAX));
    const char *sep = "a=group:BUNDLE";
    for (size_t i = 0; i < n; i++) {
        if (!ans->media[i].accept || !offer->media[i].mid[0]) continue;
        wr(&w, "%s %s", sep, offer->media[i].mid);
        sep = "";
    }
    if (!sep[0]) wr(&w, "\r\n");
    wr(&w, "a=msid-semantic: WMS *\r\n");
    for (size_t i = 0; i < n; i++) {
        if (ans->media[i].accept) write_media(&w, &offer->media[i], &ans->media[i], ans, ip);
        else write_rejected(&w, &offer->media[i]);
    }
    return w.over ? FO_ETOOBIG : (int)w.len;
}

/* ---- the publisher's codec first ---- */

void fo_sdp_answer_prefer(const fo_sdp_media_t *m, fo_sdp_answer_media_t *am,
                          const fo_sdp_format_t *want)
{
    size_t n = am->n_pts < FO_SDP_MAX_CODECS ? am->n_pts : FO_SDP_MAX_CODECS;
    for (size_t i = 0; i < n; i++) {
        const fo_sdp_codec_t *c = fo_sdp_codec_by_pt(m, am->pts[i]);
        fo_sdp_format_t f;
        if (!c || c->codec == FO_CODEC_RTX) continue;
        fo_sdp_format_of(c, &f);
        if (!fo_sdp_format_compatible(&f, want)) continue;
        uint8_t rtx = fo_sdp_rtx_for(m, c->pt), front[2] = {c->pt, 0};
        size_t k = 1;
        for (size_t j = 0; j < n && rtx; j++)
            if (am->pts[j] == rtx) front[k++] = rtx;
        uint8_t rest[FO_SDP_MAX_CODECS];
        size_t r = 0;
        for (size_t j = 0; j < n; j++)
            if (am->pts[j] != front[0] && (k < 2 || am->pts[j] != front[1])) rest[r++] = am->pts[j];
        memcpy(am->pts, front, k);
        memcpy(am->pts + k, rest, r);
        return;
    }
}

/* ---- offers ---- */

int fo_sdp_build_offer(const fo_sdp_offer_t *o, char *out, size_t cap)
{
    if (!o || !out || cap == 0) return FO_EINVAL;
    out[0] = '\0';
    if (cap > INT32_MAX) cap = INT32_MAX;
    if (!token_ok(o->ice_ufrag, 256) || !token_ok(o->ice_pwd, 256) || !token_ok(o->fingerprint, 200) ||
        o->n_media == 0 || o->n_media > FO_SDP_MAX_MEDIA)
        return FO_EINVAL;
    for (size_t i = 0; i < o->n_media; i++) {
        const fo_sdp_offer_media_t *m = &o->media[i];
        if (!token_ok(m->mid, 64) || m->kind > FO_KIND_VIDEO || !m->n_codecs ||
            m->n_codecs > FO_SDP_MAX_CODECS)
            return FO_EINVAL;
        if (m->dir != FO_DIR_RECVONLY &&
            (!token_ok(m->cname, 64) || !token_ok(m->msid_stream, 64) || !token_ok(m->msid_track, 64) || !m->ssrc))
            return FO_EINVAL;
    }
    writer_t w = {out, cap, 0, false};
    wr(&w, "v=0\r\no=- %llu 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE",
       (unsigned long long)(o->session_id & INT64_MAX));
    for (size_t i = 0; i < o->n_media; i++) wr(&w, " %s", o->media[i].mid);
    wr(&w, "\r\na=msid-semantic: WMS *\r\n");
    for (size_t i = 0; i < o->n_media; i++) {
        const fo_sdp_offer_media_t *m = &o->media[i];
        wr(&w, "m=%s 9 UDP/TLS/RTP/SAVPF", m->kind == FO_KIND_AUDIO ? "audio" : "video");
        for (size_t c = 0; c < m->n_codecs; c++) wr(&w, " %u", m->codecs[c].pt);
        wr(&w, "\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n");
        wr(&w, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", o->ice_ufrag, o->ice_pwd);
        wr(&w, "a=fingerprint:sha-256 %s\r\na=setup:actpass\r\na=mid:%s\r\n", o->fingerprint, m->mid);
        for (size_t e = 0; m->ext_uris && m->ext_uris[e] && e < FO_SDP_MAX_EXT; e++)
            if (token_ok(m->ext_uris[e], 127)) wr(&w, "a=extmap:%zu %s\r\n", e + 1, m->ext_uris[e]);
        wr(&w, "a=%s\r\na=rtcp-mux\r\na=rtcp-rsize\r\n", dir_name(m->dir));
        for (size_t c = 0; c < m->n_codecs; c++) {
            const fo_sdp_codec_t *k = &m->codecs[c];
            if (!token_ok(k->name, sizeof k->name) || strpbrk(k->fmtp, "\r\n")) return FO_EINVAL;
            write_codec(&w, k, 0xff);
        }
        if (m->dir == FO_DIR_RECVONLY && m->n_recv_rids > 1 && m->n_recv_rids <= FO_SDP_MAX_RIDS) {
            for (size_t r = 0; r < m->n_recv_rids; r++)
                if (token_ok(m->recv_rids[r], FO_SDP_RID_LEN - 1)) wr(&w, "a=rid:%s recv\r\n", m->recv_rids[r]);
            wr(&w, "a=simulcast:recv");
            for (size_t r = 0; r < m->n_recv_rids; r++) wr(&w, "%s%s", r ? ";" : " ", m->recv_rids[r]);
            wr(&w, "\r\n");
        }
        if (m->dir != FO_DIR_RECVONLY) {
            fo_sdp_answer_media_t a = {.ssrc = m->ssrc, .rtx_ssrc = m->rtx_ssrc};
            snprintf(a.cname, sizeof a.cname, "%s", m->cname);
            wr(&w, "a=msid:%s %s\r\n", m->msid_stream, m->msid_track);
            write_ssrcs(&w, &a, m->msid_stream, m->msid_track);
        }
    }
    return w.over ? FO_ETOOBIG : (int)w.len;
}

static void add_codec(fo_sdp_codec_t *out, size_t max, size_t *n, uint8_t pt, fo_codec_t codec,
                      const char *name, uint32_t clock, uint8_t channels, const char *fmtp, uint8_t fb)
{
    if (*n >= max) return;
    fo_sdp_codec_t *c = &out[(*n)++];
    memset(c, 0, sizeof *c);
    c->pt = pt;
    c->codec = codec;
    c->clock = clock;
    c->channels = channels;
    c->fb = fb;
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->fmtp, sizeof c->fmtp, "%s", fmtp);
    fmtp_read(c, cstr(c->fmtp));
}

size_t fo_sdp_receive_codecs(fo_kind_t kind, const fo_codec_t *prefs, size_t n_prefs,
                             fo_sdp_codec_t *out, size_t max)
{
    size_t n = 0;
    if (kind == FO_KIND_AUDIO) {
        add_codec(out, max, &n, 111, FO_CODEC_OPUS, "opus", 48000, 2, "minptime=10;useinbandfec=1",
                  FO_FB_TWCC);
        return n;
    }
    static const struct {
        fo_codec_t codec;
        const char *name, *fmtp;
    } table[] = {
        {FO_CODEC_VP8, "VP8", ""},
        {FO_CODEC_H264, "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
        {FO_CODEC_H264, "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"},
        {FO_CODEC_H264, "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f"},
        {FO_CODEC_H264, "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f"},
        {FO_CODEC_H264, "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f"},
        {FO_CODEC_VP9, "VP9", "profile-id=0"},
        {FO_CODEC_VP9, "VP9", "profile-id=2"},
        {FO_CODEC_AV1, "AV1", ""},
    };
    const uint8_t fb = FO_FB_NACK | FO_FB_PLI | FO_FB_FIR | FO_FB_REMB | FO_FB_TWCC;
    uint8_t pt = 96;
    for (size_t p = 0; p < n_prefs; p++)
        for (size_t i = 0; i < FO_ARRAY_LEN(table); i++) {
            if (table[i].codec != prefs[p] || pt > 125) continue;
            add_codec(out, max, &n, pt, table[i].codec, table[i].name, 90000, 0, table[i].fmtp, fb);
            char apt[16];
            snprintf(apt, sizeof apt, "apt=%u", pt);
            add_codec(out, max, &n, (uint8_t)(pt + 1), FO_CODEC_RTX, "rtx", 90000, 0, apt, 0);
            pt = (uint8_t)(pt + 2);
        }
    return n;
}
