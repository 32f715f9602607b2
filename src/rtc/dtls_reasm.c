/* SPDX-License-Identifier: MIT */
/* Fragmented-ClientHello reassembly for the DTLS server (see the header for why). */
#include "fanout/dtls_reasm.h"

#include <string.h>

#include "fanout/common.h"

#define REC_HDR 13
#define HS_HDR 12

static uint32_t be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static void put24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static void mark(fo_dtls_reasm_t *st, uint32_t off, uint32_t len)
{
    for (uint32_t i = off; i < off + len; i++) {
        uint8_t bit = (uint8_t)(1u << (i & 7));
        if (!(st->have[i >> 3] & bit)) {
            st->have[i >> 3] |= bit;
            st->got++;
        }
    }
}

int fo_dtls_reasm_feed(fo_dtls_reasm_t *st, const uint8_t *in, size_t len, uint8_t *out,
                       size_t cap, size_t *out_len)
{
    bool took = false;
    size_t pos = 0;
    while (pos + REC_HDR <= len) {
        const uint8_t *rec = in + pos;
        size_t rlen = (size_t)rec[11] << 8 | rec[12];
        if (pos + REC_HDR + rlen > len) break;
        pos += REC_HDR + rlen;
        /* handshake, epoch 0, one handshake header that is a ClientHello fragment */
        if (rec[0] != 22 || rec[3] != 0 || rec[4] != 0 || rlen < HS_HDR || rec[REC_HDR] != 1) continue;
        const uint8_t *hs = rec + REC_HDR;
        uint32_t total = be24(hs + 1), off = be24(hs + 6), flen = be24(hs + 9);
        uint16_t mseq = (uint16_t)(hs[4] << 8 | hs[5]);
        if (HS_HDR + (size_t)flen > rlen) goto bad;
        if (off == 0 && flen == total && !st->active) return FO_DTLS_REASM_PASS;
        if (total > FO_DTLS_REASM_MAX) goto toobig;
        if ((uint64_t)off + flen > total) goto bad;
        if (!st->active || st->msg_seq != mseq || st->total != total) {
            memset(st, 0, sizeof *st);
            st->active = true;
            st->total = total;
            st->msg_seq = mseq;
            memcpy(st->version, rec + 1, 2);
        }
        if (memcmp(rec + 5, st->rec_seq, 6) > 0) memcpy(st->rec_seq, rec + 5, 6);
        memcpy(st->body + off, hs + HS_HDR, flen);
        mark(st, off, flen);
        took = true;
    }
    if (!took) return FO_DTLS_REASM_PASS;
    if (st->got < st->total) return FO_EAGAIN;
    size_t n = REC_HDR + HS_HDR + st->total;
    if (n > cap) goto toobig;
    out[0] = 22;
    memcpy(out + 1, st->version, 2);
    out[3] = out[4] = 0;
    memcpy(out + 5, st->rec_seq, 6);
    out[11] = (uint8_t)((HS_HDR + st->total) >> 8);
    out[12] = (uint8_t)(HS_HDR + st->total);
    uint8_t *hs = out + REC_HDR;
    hs[0] = 1;
    put24(hs + 1, st->total);
    hs[4] = (uint8_t)(st->msg_seq >> 8);
    hs[5] = (uint8_t)st->msg_seq;
    put24(hs + 6, 0);
    put24(hs + 9, st->total);
    memcpy(hs + HS_HDR, st->body, st->total);
    *out_len = n;
    st->active = false;
    return FO_DTLS_REASM_DONE;
bad:
    st->active = false;
    return FO_EINVAL;
toobig:
    st->active = false;
    return FO_ETOOBIG;
}
