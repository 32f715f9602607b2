/* SPDX-License-Identifier: MIT */
/* Depacketizers for the recorder (see depack.h): one function per codec appends a packet's
 * payload to the frame buffer through put(), which checks room once; every read of the input
 * goes through fo_rd_t. A malformed packet marks the frame broken and the rest of the frame is
 * ignored until the next begin: the recorder then skips to a keyframe rather than write it. */
#include "fanout/depack.h"

#include <string.h>

#include "fanout/bytes.h"
#include "fanout/common.h"
#include "fanout/rtp.h"

static const uint8_t start_code[4] = {0, 0, 0, 1};

/* Appends n bytes; false (frame broken) when they do not fit. */
static bool put(fo_depack_t *d, const void *p, size_t n)
{
    if (d->cap - d->len < n) return false;
    if (n) memcpy(d->buf + d->len, p, n);
    d->len += n;
    return true;
}

size_t fo_leb128_write(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v && n < 8);
    return n;
}

size_t fo_leb128_read(const uint8_t *p, size_t len, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 8 && i < len; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* --- H.264, RFC 6184 §5.6-5.8 (packetization-mode 1) --- */

static int h264_nal(fo_depack_t *d, const uint8_t *nal, size_t n)
{
    if (n == 0 || (nal[0] & 0x80)) return FO_EINVAL; /* forbidden_zero_bit */
    if ((nal[0] & 0x1f) == 5) d->key = true;
    return put(d, start_code, 4) && put(d, nal, n) ? 0 : FO_ETOOBIG;
}

static int h264_add(fo_depack_t *d, const uint8_t *p, size_t len)
{
    fo_rd_t r = fo_rd_init(p, len);
    uint8_t ind = fo_rd_u8(&r);
    if (r.bad) return FO_EINVAL;
    uint8_t type = ind & 0x1f;
    if (type == 28) { /* FU-A */
        uint8_t fu = fo_rd_u8(&r);
        if (r.bad || ((fu & 0x80) && (fu & 0x40) && fo_rd_left(&r) == 0)) return FO_EINVAL;
        if (fu & 0x80) {
            if (d->fu_open) return FO_EINVAL; /* the previous one never ended */
            uint8_t hdr = (uint8_t)((ind & 0xe0) | (fu & 0x1f));
            if ((fu & 0x1f) == 5) d->key = true;
            if ((hdr & 0x80) || !put(d, start_code, 4) || !put(d, &hdr, 1)) return FO_EINVAL;
            d->fu_open = true;
        } else if (!d->fu_open) {
            return FO_EINVAL; /* a fragment whose start we do not have */
        }
        if (!put(d, p + r.pos, fo_rd_left(&r))) return FO_ETOOBIG;
        if (fu & 0x40) d->fu_open = false;
        return 0;
    }
    if (d->fu_open) return FO_EINVAL; /* a new unit before the fragmented one ended */
    if (type >= 1 && type <= 23) return h264_nal(d, p, len);
    if (type != 24) return FO_EINVAL; /* STAP-B, MTAP, FU-B: not in packetization-mode 1 */
    if (fo_rd_left(&r) == 0) return FO_EINVAL;
    while (fo_rd_left(&r) > 0) {
        uint16_t n = fo_rd_u16(&r);
        const uint8_t *u = fo_rd_take(&r, n);
        if (!u || n == 0) return FO_EINVAL;
        int rc = h264_nal(d, u, n);
        if (rc) return rc;
    }
    return 0;
}

/* --- VP8 and VP9: descriptors (rtp.c) stripped --- */

static int vp8_add(fo_depack_t *d, const uint8_t *p, size_t len)
{
    fo_rtp_desc_t desc;
    if (fo_rtp_vp8_desc(p, len, &desc) != 0) return FO_EINVAL;
    if (d->first) {
        if (!desc.start) return FO_EINVAL; /* the frame's first partition start is missing */
        d->key = (p[desc.len] & 0x01) == 0;
    }
    return put(d, p + desc.len, len - desc.len) ? 0 : FO_ETOOBIG;
}

static int vp9_add(fo_depack_t *d, const uint8_t *p, size_t len)
{
    fo_rtp_desc_t desc;
    if (fo_rtp_vp9_desc(p, len, &desc) != 0) return FO_EINVAL;
    if (desc.start) {
        if (d->vp9_in_frame || d->vp9_frames == FO_DEPACK_VP9_MAX_LAYERS) return FO_EINVAL;
        if (d->first) d->key = !desc.inter && !desc.inter_layer;
        d->vp9_start[d->vp9_frames++] = d->len;
        d->vp9_in_frame = true;
    } else if (!d->vp9_in_frame) {
        return FO_EINVAL; /* the layer frame's start is missing */
    }
    if (!put(d, p + desc.len, len - desc.len)) return FO_ETOOBIG;
    if (desc.end) d->vp9_in_frame = false;
    return 0;
}

/* Several spatial layer frames in one picture: a superframe index after them (VP9 bitstream
 * spec, Annex B): marker 110mmfff, the frame sizes little-endian, the marker again. */
static int vp9_end(fo_depack_t *d)
{
    if (d->vp9_in_frame || d->vp9_frames == 0) return FO_EINVAL;
    if (d->vp9_frames == 1) return 0;
    size_t max = 0;
    for (unsigned k = 0; k < d->vp9_frames; k++) {
        size_t end = k + 1 < d->vp9_frames ? d->vp9_start[k + 1] : d->len;
        if (end - d->vp9_start[k] > max) max = end - d->vp9_start[k];
    }
    unsigned mag = max <= 0xff ? 1 : max <= 0xffff ? 2 : max <= 0xffffff ? 3 : 4;
    uint8_t idx[2 + 4 * FO_DEPACK_VP9_MAX_LAYERS];
    size_t n = 0;
    uint8_t marker = (uint8_t)(0xc0 | (mag - 1) << 3 | (d->vp9_frames - 1));
    idx[n++] = marker;
    for (unsigned k = 0; k < d->vp9_frames; k++) {
        size_t end = k + 1 < d->vp9_frames ? d->vp9_start[k + 1] : d->len;
        size_t sz = end - d->vp9_start[k];
        for (unsigned m = 0; m < mag; m++) idx[n++] = (uint8_t)(sz >> (8 * m));
    }
    idx[n++] = marker;
    return put(d, idx, n) ? 0 : FO_ETOOBIG;
}

/* --- AV1, AV1 RTP payload format §4.4-4.5 --- */

/* The OBU whose raw bytes (header, maybe a size field, payload) are buf[obu_start..len) is
 * complete: rewrite it with obu_has_size_field set, or drop it when the container must not
 * carry it (temporal delimiter, tile list, padding). */
static int av1_finish_obu(fo_depack_t *d)
{
    uint8_t *o = d->buf + d->obu_start;
    size_t total = d->len - d->obu_start;
    d->obu_open = false;
    if (total == 0 || (o[0] & 0x80)) return FO_EINVAL; /* forbidden bit */
    size_t hdr = (o[0] & 0x04) ? 2 : 1;
    if (total < hdr) return FO_EINVAL;
    size_t pay_at = hdr;
    uint64_t pay_len = total - hdr;
    if (o[0] & 0x02) {
        size_t n = fo_leb128_read(o + hdr, total - hdr, &pay_len);
        if (!n || pay_len > total - hdr - n) return FO_EINVAL;
        pay_at = hdr + n;
    }
    unsigned type = (o[0] >> 3) & 0x0f;
    if (type == 2 || type == 8 || type == 15) { /* temporal delimiter, tile list, padding */
        d->len = d->obu_start;
        return 0;
    }
    uint8_t leb[8];
    size_t ln = fo_leb128_write(leb, pay_len);
    size_t need = d->obu_start + hdr + ln + (size_t)pay_len;
    if (need > d->cap) return FO_ETOOBIG;
    memmove(o + hdr + ln, o + pay_at, (size_t)pay_len);
    memcpy(o + hdr, leb, ln);
    o[0] |= 0x02;
    d->len = need;
    return 0;
}

static int av1_add(fo_depack_t *d, const uint8_t *p, size_t len)
{
    fo_rd_t r = fo_rd_init(p, len);
    uint8_t agg = fo_rd_u8(&r);
    if (r.bad) return FO_EINVAL;
    bool z = agg & 0x80, y = agg & 0x40;
    unsigned w = (agg >> 4) & 0x03;
    if (d->first) d->key = (agg & 0x08) && !z;
    if (z != d->obu_open) return FO_EINVAL; /* a continuation without its start, or a lost end */
    if (fo_rd_left(&r) == 0) return FO_EINVAL;
    for (unsigned k = 0; fo_rd_left(&r) > 0; k++) {
        uint64_t n;
        if (w == 0 || k + 1 < w) {
            size_t ln = fo_leb128_read(p + r.pos, fo_rd_left(&r), &n);
            if (!ln || !fo_rd_take(&r, ln) || n > fo_rd_left(&r)) return FO_EINVAL;
        } else {
            n = fo_rd_left(&r); /* the last of W elements has no length field */
        }
        if (w && k >= w) return FO_EINVAL;
        if (!(k == 0 && z)) {
            d->obu_start = d->len;
            d->obu_open = true;
        }
        if (!put(d, fo_rd_take(&r, (size_t)n), (size_t)n)) return FO_ETOOBIG;
        bool last = fo_rd_left(&r) == 0;
        if (!(last && y)) {
            int rc = av1_finish_obu(d);
            if (rc) return rc;
        }
    }
    return 0;
}

/* --- common --- */

int fo_depack_init(fo_depack_t *d, fo_codec_t codec, uint8_t *buf, size_t cap)
{
    memset(d, 0, sizeof *d);
    if (codec != FO_CODEC_OPUS && codec != FO_CODEC_VP8 && codec != FO_CODEC_VP9 &&
        codec != FO_CODEC_H264 && codec != FO_CODEC_AV1)
        return FO_EINVAL;
    d->codec = codec;
    d->buf = buf;
    d->cap = cap;
    return 0;
}

void fo_depack_begin(fo_depack_t *d)
{
    d->len = 0;
    d->open = true;
    d->broken = d->key = d->fu_open = d->obu_open = d->vp9_in_frame = false;
    d->first = true;
    d->obu_start = 0;
    d->vp9_frames = 0;
}

int fo_depack_add(fo_depack_t *d, const uint8_t *payload, size_t len)
{
    if (!d->open || d->broken) return FO_EINVAL;
    int rc;
    switch (d->codec) {
    case FO_CODEC_H264: rc = h264_add(d, payload, len); break;
    case FO_CODEC_VP8: rc = vp8_add(d, payload, len); break;
    case FO_CODEC_VP9: rc = vp9_add(d, payload, len); break;
    case FO_CODEC_AV1: rc = av1_add(d, payload, len); break;
    default:
        d->key = true;
        rc = len ? (put(d, payload, len) ? 0 : FO_ETOOBIG) : FO_EINVAL;
        break;
    }
    d->first = false;
    if (rc) d->broken = true;
    return rc;
}

void fo_depack_lost(fo_depack_t *d) { d->broken = true; }

int fo_depack_end(fo_depack_t *d, fo_depack_frame_t *out)
{
    bool ok = d->open && !d->broken && !d->first && !d->fu_open && !d->obu_open;
    d->open = false;
    if (ok && d->codec == FO_CODEC_VP9 && vp9_end(d) != 0) ok = false;
    if (!ok || d->len == 0) return FO_EINVAL;
    out->data = d->buf;
    out->len = d->len;
    out->key = d->key;
    return 0;
}
