/* SPDX-License-Identifier: MIT */
/* RTCP (RFC 3550 §6, RFC 4585, RFC 5104, draft-alvestrand-rmcat-remb): splits a compound packet
 * into per-packet views, reads report blocks, NACK, FIR and REMB, and builds the packets the
 * server sends. Owns no state; does not interpret TWCC feedback (the raw FCI is handed out) and
 * knows nothing of SRTCP (callers hand it plaintext). */
#include "fanout/rtcp.h"

#include <string.h>

#include "fanout/bytes.h"
#include "fanout/common.h"

/* The writer mirrors the reader: a failed write sets `bad` and writes nothing more, so a
 * builder checks capacity once at the end. */
typedef struct {
    uint8_t *p;
    size_t cap;
    size_t pos;
    bool bad;
} wr_t;

static inline bool wr_need(wr_t *w, size_t n)
{
    if (w->bad || w->cap - w->pos < n) {
        w->bad = true;
        return false;
    }
    return true;
}

static inline void wr_u8(wr_t *w, uint8_t v)
{
    if (wr_need(w, 1)) w->p[w->pos++] = v;
}

static inline void wr_u16(wr_t *w, uint16_t v)
{
    wr_u8(w, (uint8_t)(v >> 8));
    wr_u8(w, (uint8_t)v);
}

static inline void wr_u32(wr_t *w, uint32_t v)
{
    wr_u16(w, (uint16_t)(v >> 16));
    wr_u16(w, (uint16_t)v);
}

static inline void wr_bytes(wr_t *w, const void *src, size_t n)
{
    if (n && wr_need(w, n)) {
        memcpy(w->p + w->pos, src, n);
        w->pos += n;
    }
}

/* Writes the common header with a placeholder length; wr_finish fills it in. */
static wr_t wr_begin(uint8_t *buf, size_t cap, uint8_t count, uint8_t pt)
{
    wr_t w = {buf, buf ? cap : 0, 0, false};
    wr_u8(&w, (uint8_t)(0x80 | (count & 0x1f)));
    wr_u8(&w, pt);
    wr_u16(&w, 0);
    return w;
}

static int wr_finish(wr_t *w)
{
    /* RTCP packets are whole 32-bit words; length is words minus one (RFC 3550 §6.4.1). */
    while (!w->bad && (w->pos & 3)) wr_u8(w, 0);
    if (w->bad || w->pos > 4 * 65536) return FO_ETOOBIG;
    w->p[2] = (uint8_t)((w->pos / 4 - 1) >> 8);
    w->p[3] = (uint8_t)(w->pos / 4 - 1);
    return (int)w->pos;
}

/* Fills the fields of one packet whose header is at body-4 and whose `body` bytes (padding
 * removed) follow. Returns false when the packet's own structure does not fit. */
static bool parse_one(uint8_t b0, uint8_t pt, const uint8_t *body, size_t body_len,
                      fo_rtcp_pkt_t *p)
{
    fo_rd_t r = fo_rd_init(body, body_len);
    p->pt = pt;
    p->count = b0 & 0x1f;
    p->sender_ssrc = 0;
    p->media_ssrc = 0;
    p->ntp = 0;
    p->rtp_ts = p->packet_count = p->octet_count = 0;
    p->reports = NULL;
    p->fci = NULL;
    p->fci_len = 0;
    switch (pt) {
    case FO_RTCP_SR:
        p->sender_ssrc = fo_rd_u32(&r);
        p->ntp = fo_rd_u64(&r);
        p->rtp_ts = fo_rd_u32(&r);
        p->packet_count = fo_rd_u32(&r);
        p->octet_count = fo_rd_u32(&r);
        p->reports = fo_rd_take(&r, (size_t)p->count * 24);
        break;
    case FO_RTCP_RR:
        p->sender_ssrc = fo_rd_u32(&r);
        p->reports = fo_rd_take(&r, (size_t)p->count * 24);
        break;
    case FO_RTCP_SDES:
        if (p->count) p->sender_ssrc = fo_rd_u32(&r);
        break;
    case FO_RTCP_BYE:
        if (p->count) p->sender_ssrc = fo_rd_u32(&r);
        fo_rd_take(&r, p->count ? (size_t)(p->count - 1) * 4 : 0);
        break;
    case FO_RTCP_RTPFB:
    case FO_RTCP_PSFB:
        p->sender_ssrc = fo_rd_u32(&r);
        p->media_ssrc = fo_rd_u32(&r);
        p->fci_len = fo_rd_left(&r);
        p->fci = fo_rd_take(&r, p->fci_len);
        break;
    case FO_RTCP_APP:
    case FO_RTCP_XR:
        p->sender_ssrc = fo_rd_u32(&r);
        break;
    default: break; /* unknown types are handed out raw */
    }
    return !r.bad;
}

/* RFC 3550 §6.4 / A.2: walk the length fields. The first packet must be version 2 and whole;
 * after that, a malformed packet ends the walk and what came before is returned (as libwebrtc
 * does), since the valid prefix is still the sender's honest report. Padding (P) is taken off
 * the packet that carries it. */
int fo_rtcp_parse(const uint8_t *buf, size_t len, fo_rtcp_pkt_t *pkts, size_t max, size_t *n)
{
    fo_rd_t r = fo_rd_init(buf, len);
    size_t got = 0;
    *n = 0;
    while (fo_rd_left(&r) > 0) {
        const uint8_t *raw = r.p + r.pos;
        uint8_t b0 = fo_rd_u8(&r), pt = fo_rd_u8(&r);
        size_t size = ((size_t)fo_rd_u16(&r) + 1) * 4;
        const uint8_t *body = fo_rd_take(&r, size - 4);
        if (r.bad || (b0 >> 6) != 2) break;
        size_t body_len = size - 4;
        if (b0 & 0x20) {
            if (body_len == 0 || body[body_len - 1] == 0 || body[body_len - 1] > body_len) break;
            body_len -= body[body_len - 1];
        }
        fo_rtcp_pkt_t spare, *p = got < max ? &pkts[got] : &spare;
        if (!parse_one(b0, pt, body, body_len, p)) break;
        if (got == max) {
            *n = got;
            return FO_ETOOBIG;
        }
        p->raw = raw;
        p->raw_len = size;
        got++;
    }
    *n = got;
    return got ? 0 : FO_EINVAL;
}

int fo_rtcp_report_get(const fo_rtcp_pkt_t *p, unsigned i, fo_rtcp_report_t *out)
{
    if ((p->pt != FO_RTCP_SR && p->pt != FO_RTCP_RR) || !p->reports || i >= p->count)
        return FO_EINVAL;
    fo_rd_t r = fo_rd_init(p->reports, (size_t)p->count * 24);
    fo_rd_take(&r, (size_t)i * 24);
    out->ssrc = fo_rd_u32(&r);
    out->fraction_lost = fo_rd_u8(&r);
    uint32_t lost = fo_rd_u24(&r);
    out->cumulative_lost = (int32_t)(lost ^ 0x800000) - 0x800000; /* sign-extend 24 bits */
    out->highest_seq = fo_rd_u32(&r);
    out->jitter = fo_rd_u32(&r);
    out->lsr = fo_rd_u32(&r);
    out->dlsr = fo_rd_u32(&r);
    return r.bad ? FO_EINVAL : 0;
}

/* RFC 4585 §6.2.1: each FCI entry is PID then BLP, bit i meaning PID+i+1 was lost too.
 * A trailing partial entry is ignored. */
size_t fo_rtcp_nack_seqs(const fo_rtcp_pkt_t *p, uint16_t *seqs, size_t max)
{
    if (p->pt != FO_RTCP_RTPFB || p->count != FO_RTCP_FMT_NACK || !p->fci) return 0;
    fo_rd_t r = fo_rd_init(p->fci, p->fci_len & ~(size_t)3);
    size_t n = 0;
    while (fo_rd_left(&r) >= 4 && n < max) {
        uint16_t pid = fo_rd_u16(&r), blp = fo_rd_u16(&r);
        seqs[n++] = pid;
        for (unsigned b = 0; b < 16 && n < max; b++)
            if (blp & (1u << b)) seqs[n++] = (uint16_t)(pid + b + 1);
    }
    return n;
}

/* RFC 5104 §4.3.1.1: FCI entries of SSRC(4), Seq nr(1), Reserved(3). */
int fo_rtcp_fir_get(const fo_rtcp_pkt_t *p, unsigned i, uint32_t *ssrc, uint8_t *seq_nr)
{
    if (p->pt != FO_RTCP_PSFB || p->count != FO_RTCP_FMT_FIR || !p->fci) return FO_EINVAL;
    fo_rd_t r = fo_rd_init(p->fci, p->fci_len);
    if (i >= p->fci_len / 8) return FO_EINVAL;
    fo_rd_take(&r, (size_t)i * 8);
    *ssrc = fo_rd_u32(&r);
    *seq_nr = fo_rd_u8(&r);
    return r.bad ? FO_EINVAL : 0;
}

/* draft-alvestrand-rmcat-remb §2.2: "REMB", Num SSRC(8), BR Exp(6), BR Mantissa(18), SSRCs.
 * A bitrate that overflows 64 bits is malformed (libwebrtc rejects it the same way). */
int fo_rtcp_remb_get(const fo_rtcp_pkt_t *p, uint64_t *bps, uint32_t *ssrcs, size_t max,
                     size_t *n)
{
    if (p->pt != FO_RTCP_PSFB || p->count != FO_RTCP_FMT_AFB || !p->fci) return FO_EINVAL;
    fo_rd_t r = fo_rd_init(p->fci, p->fci_len);
    const uint8_t *id = fo_rd_take(&r, 4);
    if (!id || memcmp(id, "REMB", 4) != 0) return FO_EINVAL;
    unsigned num = fo_rd_u8(&r);
    uint32_t br = fo_rd_u24(&r);
    if (r.bad || fo_rd_left(&r) < (size_t)num * 4) return FO_EINVAL;
    unsigned exp = br >> 18;
    uint64_t mantissa = br & 0x3ffff;
    if ((mantissa << exp) >> exp != mantissa) return FO_EINVAL;
    *bps = mantissa << exp;
    size_t k = 0;
    for (; k < num && k < max; k++) ssrcs[k] = fo_rd_u32(&r);
    *n = k;
    return 0;
}

static void wr_report(wr_t *w, const fo_rtcp_report_t *r)
{
    int32_t lost = r->cumulative_lost;
    if (lost > 0x7fffff) lost = 0x7fffff;
    if (lost < -0x800000) lost = -0x800000;
    uint32_t lost24 = (uint32_t)lost & 0xffffff;
    wr_u32(w, r->ssrc);
    wr_u32(w, (uint32_t)r->fraction_lost << 24 | lost24);
    wr_u32(w, r->highest_seq);
    wr_u32(w, r->jitter);
    wr_u32(w, r->lsr);
    wr_u32(w, r->dlsr);
}

int fo_rtcp_build_sr(uint8_t *buf, size_t cap, uint32_t ssrc, uint64_t ntp, uint32_t rtp_ts,
                     uint32_t packets, uint32_t octets, const fo_rtcp_report_t *r, size_t n)
{
    if (n > 31) return FO_ETOOBIG;
    wr_t w = wr_begin(buf, cap, (uint8_t)n, FO_RTCP_SR);
    wr_u32(&w, ssrc);
    wr_u32(&w, (uint32_t)(ntp >> 32));
    wr_u32(&w, (uint32_t)ntp);
    wr_u32(&w, rtp_ts);
    wr_u32(&w, packets);
    wr_u32(&w, octets);
    for (size_t i = 0; i < n; i++) wr_report(&w, &r[i]);
    return wr_finish(&w);
}

int fo_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc, const fo_rtcp_report_t *r, size_t n)
{
    if (n > 31) return FO_ETOOBIG;
    wr_t w = wr_begin(buf, cap, (uint8_t)n, FO_RTCP_RR);
    wr_u32(&w, ssrc);
    for (size_t i = 0; i < n; i++) wr_report(&w, &r[i]);
    return wr_finish(&w);
}

/* One chunk: SSRC, CNAME item, then at least one zero octet ending the item list, padded to a
 * word (RFC 3550 §6.5). A CNAME over 255 bytes does not fit its length octet. */
int fo_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname)
{
    size_t len = cname ? strlen(cname) : 0;
    if (len > 255) return FO_ETOOBIG;
    wr_t w = wr_begin(buf, cap, 1, FO_RTCP_SDES);
    wr_u32(&w, ssrc);
    wr_u8(&w, 1); /* CNAME */
    wr_u8(&w, (uint8_t)len);
    wr_bytes(&w, cname, len);
    wr_u8(&w, 0); /* END; wr_finish pads the rest of the word with zeros */
    return wr_finish(&w);
}

int fo_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, size_t n)
{
    if (n > 31) return FO_ETOOBIG;
    wr_t w = wr_begin(buf, cap, (uint8_t)n, FO_RTCP_BYE);
    for (size_t i = 0; i < n; i++) wr_u32(&w, ssrcs[i]);
    return wr_finish(&w);
}

int fo_rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender, uint32_t media)
{
    wr_t w = wr_begin(buf, cap, FO_RTCP_FMT_PLI, FO_RTCP_PSFB);
    wr_u32(&w, sender);
    wr_u32(&w, media);
    return wr_finish(&w);
}

/* RFC 5104 §4.3.1.2: the header's media source is unused and SHALL be 0; the FCI names it. */
int fo_rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender, uint32_t media, uint8_t seq_nr)
{
    wr_t w = wr_begin(buf, cap, FO_RTCP_FMT_FIR, FO_RTCP_PSFB);
    wr_u32(&w, sender);
    wr_u32(&w, 0);
    wr_u32(&w, media);
    wr_u8(&w, seq_nr);
    return wr_finish(&w); /* the 3 reserved octets come from the word padding */
}

/* Greedy cover, which is optimal for fixed-width windows: take the oldest sequence number not
 * yet covered as PID, mark everything in PID+1..PID+16 in BLP, repeat. "Oldest" is measured as
 * the offset from a reference chosen so that a list spanning the 65535→0 wrap (but less than
 * half the number space) sorts in sending order. No allocation and the input is const, so each
 * pair costs one scan: O(n × pairs), fine for NACK lists of a few hundred. */
int fo_rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender, uint32_t media,
                       const uint16_t *seqs, size_t n)
{
    if (n == 0) return FO_EINVAL;
    int32_t lo = 0;
    for (size_t i = 1; i < n; i++) {
        int32_t d = (int16_t)(uint16_t)(seqs[i] - seqs[0]);
        if (d < lo) lo = d;
    }
    uint16_t ref = (uint16_t)(seqs[0] + lo);
    wr_t w = wr_begin(buf, cap, FO_RTCP_FMT_NACK, FO_RTCP_RTPFB);
    wr_u32(&w, sender);
    wr_u32(&w, media);
    uint32_t next = 0; /* offsets below this are already covered */
    while (!w.bad) {
        uint32_t pid = UINT32_MAX;
        for (size_t i = 0; i < n; i++) {
            uint32_t o = (uint16_t)(seqs[i] - ref);
            if (o >= next && o < pid) pid = o;
        }
        if (pid == UINT32_MAX) break;
        uint16_t blp = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t o = (uint16_t)(seqs[i] - ref);
            if (o > pid && o <= pid + 16) blp |= (uint16_t)(1u << (o - pid - 1));
        }
        wr_u16(&w, (uint16_t)(ref + pid));
        wr_u16(&w, blp);
        next = pid + 17;
    }
    return wr_finish(&w);
}

/* The smallest exponent whose mantissa fits 18 bits; the bitrate is rounded down, never up, so
 * the sender is not told it may send more than estimated. */
int fo_rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender, uint64_t bps,
                       const uint32_t *ssrcs, size_t n)
{
    if (n > 255) return FO_ETOOBIG;
    unsigned exp = 0;
    while ((bps >> exp) > 0x3ffff) exp++;
    uint32_t mantissa = (uint32_t)(bps >> exp);
    wr_t w = wr_begin(buf, cap, FO_RTCP_FMT_AFB, FO_RTCP_PSFB);
    wr_u32(&w, sender);
    wr_u32(&w, 0); /* media source unused, SHALL be 0 */
    wr_bytes(&w, "REMB", 4);
    wr_u8(&w, (uint8_t)n);
    wr_u8(&w, (uint8_t)(exp << 2 | mantissa >> 16));
    wr_u16(&w, (uint16_t)mantissa);
    for (size_t i = 0; i < n; i++) wr_u32(&w, ssrcs[i]);
    return wr_finish(&w);
}

/* NTP era 0 starts 1900-01-01; 2208988800 s before the Unix epoch. The seconds wrap in 2036 as
 * the 32-bit NTP field does (RFC 5905 era 1), which peers handle since only differences count. */
uint64_t fo_ntp_from_unix_us(uint64_t us)
{
    uint64_t sec = us / 1000000 + 2208988800u;
    uint64_t frac = ((us % 1000000) << 32) / 1000000;
    return (sec & 0xffffffffu) << 32 | frac;
}
