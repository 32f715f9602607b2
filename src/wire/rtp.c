/* SPDX-License-Identifier: MIT */
/* RTP (RFC 3550) parsing, RFC 8285 header extensions, the per-player rewrite and keyframe
 * detection for VP8, VP9, H.264 and AV1. Owns no state: every function is a pure view over the
 * caller's bytes. Does not validate codec bitstreams beyond what keyframe detection needs, and
 * does not know about SRTP (callers hand it plaintext). */
#include "fanout/rtp.h"

#include <string.h>

#include "fanout/bytes.h"
#include "fanout/common.h"

static inline void wr_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#define EXT_ONE_BYTE 0xBEDE
#define EXT_TWO_BYTE 0x1000
static inline bool ext_is_one_byte(uint16_t profile) { return profile == EXT_ONE_BYTE; }
static inline bool ext_is_two_byte(uint16_t profile) { return (profile & 0xFFF0) == EXT_TWO_BYTE; }

/* Fills every field of *out (no memset: this runs per packet). The extension block must fit
 * exactly, padding must be 1..(bytes after the header); the elements inside the extension
 * block are not validated here: fo_rtp_ext_find and fo_rtp_rewrite stop at the first malformed
 * element, as RFC 8285 §4.2 asks of receivers. */
int fo_rtp_parse(const uint8_t *buf, size_t len, fo_rtp_view_t *out)
{
    fo_rd_t r = fo_rd_init(buf, len);
    uint8_t b0 = fo_rd_u8(&r), b1 = fo_rd_u8(&r);
    out->seq = fo_rd_u16(&r);
    out->ts = fo_rd_u32(&r);
    out->ssrc = fo_rd_u32(&r);
    if (r.bad || (b0 >> 6) != 2) return FO_EINVAL;
    out->marker = b1 >> 7;
    out->pt = b1 & 0x7f;
    out->csrc_count = b0 & 0x0f;
    if (!fo_rd_take(&r, (size_t)out->csrc_count * 4)) return FO_EINVAL;
    out->ext_profile = 0;
    out->ext = NULL;
    out->ext_len = 0;
    if (b0 & 0x10) {
        out->ext_profile = fo_rd_u16(&r);
        out->ext_len = (size_t)fo_rd_u16(&r) * 4;
        out->ext = fo_rd_take(&r, out->ext_len);
        if (r.bad) return FO_EINVAL;
    }
    size_t body = fo_rd_left(&r);
    out->padding_len = 0;
    if (b0 & 0x20) {
        /* The count includes itself, so 0 is malformed (libwebrtc rejects it too). */
        if (body == 0 || buf[len - 1] == 0 || buf[len - 1] > body) return FO_EINVAL;
        out->padding_len = buf[len - 1];
    }
    out->payload = buf + r.pos;
    out->payload_len = body - out->padding_len;
    out->buf = buf;
    out->len = len;
    return 0;
}

/* Walks RFC 8285 elements. `*pos` is the cursor into the element bytes; returns true with the
 * next element's id/data/len, false at the end or at the first malformed element (one-byte id
 * 15 also ends the walk, RFC 8285 §4.2). Padding bytes (0) are skipped. */
static bool ext_next(bool one_byte, fo_rd_t *r, uint8_t *id, const uint8_t **data, size_t *len)
{
    while (fo_rd_left(r) > 0) {
        uint8_t h = fo_rd_u8(r);
        if (h == 0) continue; /* padding */
        size_t n;
        if (one_byte) {
            *id = h >> 4;
            if (*id == 15) return false;
            if (*id == 0) return false; /* id 0 with a length: malformed */
            n = (size_t)(h & 0x0f) + 1;
        } else {
            *id = h;
            n = fo_rd_u8(r);
        }
        *data = fo_rd_take(r, n);
        if (r->bad) return false;
        *len = n;
        return true;
    }
    return false;
}

int fo_rtp_ext_find(const fo_rtp_view_t *v, uint8_t id, const uint8_t **data, size_t *len)
{
    bool one = ext_is_one_byte(v->ext_profile);
    if (!v->ext || (!one && !ext_is_two_byte(v->ext_profile)) || id == 0 || (one && id > 14))
        return FO_ENOTFOUND;
    fo_rd_t r = fo_rd_init(v->ext, v->ext_len);
    uint8_t eid;
    const uint8_t *d;
    size_t n;
    while (ext_next(one, &r, &eid, &d, &n)) {
        if (eid == id) {
            *data = d;
            *len = n;
            return 0;
        }
    }
    return FO_ENOTFOUND;
}

/* Counts the elements kept by `map` and their data bytes, and clears *one when one of them does
 * not fit the one-byte form. */
static void ext_kept_size(const fo_rtp_view_t *in, const uint8_t *map, size_t *count,
                          size_t *data, bool *one)
{
    bool one_in = ext_is_one_byte(in->ext_profile);
    fo_rd_t r = fo_rd_init(in->ext, in->ext_len);
    uint8_t id;
    const uint8_t *d;
    size_t n;
    while (ext_next(one_in, &r, &id, &d, &n)) {
        uint8_t nid = map[id];
        if (!nid) continue;
        (*count)++;
        *data += n;
        if (nid > 14 || n < 1 || n > 16) *one = false;
    }
}

/* Writes the kept elements at out (room already checked); returns the bytes written. */
static size_t ext_write(const fo_rtp_view_t *in, const uint8_t *map, bool one, uint8_t *out)
{
    bool one_in = ext_is_one_byte(in->ext_profile);
    fo_rd_t r = fo_rd_init(in->ext, in->ext_len);
    uint8_t *w = out;
    uint8_t id;
    const uint8_t *d;
    size_t n;
    while (ext_next(one_in, &r, &id, &d, &n)) {
        uint8_t nid = map[id];
        if (!nid) continue;
        if (one) {
            *w++ = (uint8_t)(nid << 4 | (n - 1));
        } else {
            *w++ = nid;
            *w++ = (uint8_t)n;
        }
        memcpy(w, d, n);
        w += n;
    }
    return (size_t)(w - out);
}

/* One pass to size the kept extensions (so capacity is checked once), one pass to write them,
 * one memcpy for payload + padding. Extensions of a profile other than RFC 8285's are dropped:
 * we cannot know their ids. */
int fo_rtp_rewrite(const fo_rtp_view_t *in, const fo_rtp_rewrite_t *rw, uint8_t *out, size_t cap)
{
    size_t csrc = (size_t)in->csrc_count * 4;
    size_t count = 0, data = 0;
    bool one = true;
    bool keep = rw->ext_map && in->ext &&
                (ext_is_one_byte(in->ext_profile) || ext_is_two_byte(in->ext_profile));
    if (keep) ext_kept_size(in, rw->ext_map, &count, &data, &one);
    if (rw->tw_id) {
        count++;
        data += 2;
        if (rw->tw_id > 14) one = false;
    }
    bool rid = rw->rid_id && rw->rid_len && rw->rid_len <= 16;
    if (rid) {
        count++;
        data += rw->rid_len;
        if (rw->rid_id > 14) one = false;
    }
    size_t ext_data = count ? data + count * (one ? 1 : 2) : 0;
    size_t ext_padded = (ext_data + 3) & ~(size_t)3;
    size_t ext_total = ext_data ? 4 + ext_padded : 0;
    size_t tail = in->payload_len + in->padding_len;
    size_t total = FO_RTP_MIN_HEADER + csrc + ext_total + tail;
    if (total > cap || total > INT32_MAX || ext_padded / 4 > 0xFFFF) return FO_ETOOBIG;

    out[0] = (uint8_t)(0x80 | (in->padding_len ? 0x20 : 0) | (ext_data ? 0x10 : 0) |
                       in->csrc_count);
    out[1] = (uint8_t)((in->marker ? 0x80 : 0) | (rw->pt & 0x7f));
    wr_u16(out + 2, rw->seq);
    wr_u32(out + 4, rw->ts);
    wr_u32(out + 8, rw->ssrc);
    uint8_t *w = out + FO_RTP_MIN_HEADER;
    if (csrc) {
        memcpy(w, in->buf + FO_RTP_MIN_HEADER, csrc);
        w += csrc;
    }
    if (ext_data) {
        wr_u16(w, one ? EXT_ONE_BYTE : EXT_TWO_BYTE);
        wr_u16(w + 2, (uint16_t)(ext_padded / 4));
        size_t n = keep ? ext_write(in, rw->ext_map, one, w + 4) : 0;
        uint8_t *e = w + 4 + n;
        if (rw->tw_id) {
            if (one) {
                *e++ = (uint8_t)(rw->tw_id << 4 | 1);
            } else {
                *e++ = rw->tw_id;
                *e++ = 2;
            }
            wr_u16(e, rw->tw_seq);
            e += 2;
        }
        if (rid) {
            if (one) {
                *e++ = (uint8_t)(rw->rid_id << 4 | (rw->rid_len - 1));
            } else {
                *e++ = rw->rid_id;
                *e++ = rw->rid_len;
            }
            memcpy(e, rw->rid, rw->rid_len);
            e += rw->rid_len;
        }
        memset(e, 0, ext_padded - (size_t)(e - (w + 4)));
        w += ext_total;
    }
    if (tail) memcpy(w, in->payload, tail);
    return (int)total;
}

size_t fo_rtp_write_header(uint8_t *out, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
                           uint32_t ssrc)
{
    out[0] = 0x80;
    out[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
    wr_u16(out + 2, seq);
    wr_u32(out + 4, ts);
    wr_u32(out + 8, ssrc);
    return FO_RTP_MIN_HEADER;
}

void fo_rtp_set_seq(uint8_t *pkt, uint16_t seq) { wr_u16(pkt + 2, seq); }
void fo_rtp_set_ssrc(uint8_t *pkt, uint32_t ssrc) { wr_u32(pkt + 8, ssrc); }

int fo_rtp_vp8_desc(const uint8_t *p, size_t len, fo_rtp_desc_t *out)
{
    fo_rd_t r = fo_rd_init(p, len);
    uint8_t d = fo_rd_u8(&r);
    if (d & 0x80) {
        uint8_t x = fo_rd_u8(&r);
        if (x & 0x80) fo_rd_take(&r, (fo_rd_u8(&r) & 0x80) ? 1 : 0); /* I: 7 or 15-bit PictureID */
        if (x & 0x40) fo_rd_u8(&r);                              /* L: TL0PICIDX */
        if (x & 0x30) fo_rd_u8(&r);                              /* T/K: TID|Y|KEYIDX */
    }
    if (r.bad || fo_rd_left(&r) == 0) return FO_EINVAL;
    *out = (fo_rtp_desc_t){.len = r.pos, .start = (d & 0x10) && (d & 0x07) == 0};
    return 0;
}

/* The VP8 frame tag (RFC 6386 §9.1) after the descriptor: a key frame has P (bit 0 of the first
 * byte) clear and carries the start code 9d 01 2a after the 3-byte tag; we also require that
 * 10-byte key frame header to be present, as libwebrtc does. */
static bool vp8_is_keyframe(const uint8_t *p, size_t len)
{
    fo_rtp_desc_t d;
    if (fo_rtp_vp8_desc(p, len, &d) != 0 || !d.start || len - d.len < 10) return false;
    const uint8_t *h = p + d.len;
    return (h[0] & 0x01) == 0 && h[3] == 0x9d && h[4] == 0x01 && h[5] == 0x2a;
}

static bool h264_nal_is_key(uint8_t nal) { return (nal & 0x1f) == 5 || (nal & 0x1f) == 7; }

/* RFC 6184 §5.6-5.8: single NAL unit, STAP-A (every aggregated unit must fit) or FU-A start. */
static bool h264_is_keyframe(const uint8_t *p, size_t len)
{
    fo_rd_t r = fo_rd_init(p, len);
    uint8_t nal = fo_rd_u8(&r);
    if (r.bad) return false;
    uint8_t type = nal & 0x1f;
    if (type >= 1 && type <= 23) return h264_nal_is_key(nal);
    if (type == 24) {
        bool key = false;
        if (fo_rd_left(&r) == 0) return false;
        while (fo_rd_left(&r) > 0) {
            uint16_t n = fo_rd_u16(&r);
            const uint8_t *u = fo_rd_take(&r, n);
            if (!u || n == 0) return false;
            key = key || h264_nal_is_key(u[0]);
        }
        return key;
    }
    if (type == 28) {
        uint8_t fu = fo_rd_u8(&r);
        return !r.bad && (fu & 0x80) && h264_nal_is_key(fu);
    }
    return false;
}

/* RFC 9628 §4.2 scalability structure: N_S+1 optional resolutions, optional picture group. */
static void vp9_skip_ss(fo_rd_t *r)
{
    uint8_t v = fo_rd_u8(r);
    unsigned ns = (unsigned)(v >> 5) + 1;
    if (v & 0x10) fo_rd_take(r, ns * 4);
    if (v & 0x08) {
        unsigned ng = fo_rd_u8(r);
        for (unsigned i = 0; i < ng && !r->bad; i++) fo_rd_take(r, (fo_rd_u8(r) >> 2) & 0x03);
    }
}

/* |I|P|L|F|B|E|V|Z|, then the picture ID, the layer byte (and TL0PICIDX in non-flexible mode),
 * the reference P_DIFFs (flexible mode, P set) and the scalability structure (V). */
int fo_rtp_vp9_desc(const uint8_t *p, size_t len, fo_rtp_desc_t *out)
{
    fo_rd_t r = fo_rd_init(p, len);
    uint8_t d = fo_rd_u8(&r);
    bool i = d & 0x80, pb = d & 0x40, l = d & 0x20, f = d & 0x10;
    if (i) fo_rd_take(&r, (fo_rd_u8(&r) & 0x80) ? 1 : 0);
    bool dep = false;
    if (l) {
        dep = fo_rd_u8(&r) & 0x01;
        if (!f) fo_rd_u8(&r); /* TL0PICIDX, non-flexible mode only */
    }
    if (f && pb) {
        for (int k = 0; k < 3; k++)
            if (!(fo_rd_u8(&r) & 0x01)) break; /* P_DIFF | N */
    }
    if (d & 0x02) vp9_skip_ss(&r);
    if (r.bad || fo_rd_left(&r) == 0) return FO_EINVAL;
    *out = (fo_rtp_desc_t){.len = r.pos, .start = d & 0x08, .end = d & 0x04, .inter = pb, .inter_layer = dep};
    return 0;
}

/* Key frame start: B set, P clear, and not inter-layer predicted (D clear), so the packet does
 * not depend on a lower spatial layer. */
static bool vp9_is_keyframe(const uint8_t *p, size_t len)
{
    fo_rtp_desc_t d;
    return fo_rtp_vp9_desc(p, len, &d) == 0 && d.start && !d.inter && !d.inter_layer;
}

/* AV1 RTP spec §4.4 aggregation header |Z|Y|W|W|N|-|-|-|: N marks the first packet of a coded
 * video sequence, which cannot begin with a continued OBU (Z). Some OBU data must follow. */
static bool av1_is_keyframe(const uint8_t *p, size_t len)
{
    return len >= 2 && (p[0] & 0x08) && !(p[0] & 0x80);
}

bool fo_rtp_is_keyframe(fo_codec_t codec, const uint8_t *payload, size_t len)
{
    if (!payload || len == 0) return false;
    switch (codec) {
    case FO_CODEC_VP8: return vp8_is_keyframe(payload, len);
    case FO_CODEC_VP9: return vp9_is_keyframe(payload, len);
    case FO_CODEC_H264: return h264_is_keyframe(payload, len);
    case FO_CODEC_AV1: return av1_is_keyframe(payload, len);
    default: return false;
    }
}
