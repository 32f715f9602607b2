/* SPDX-License-Identifier: MIT */
/* RTX wrap/unwrap on top of fo_rtp_rewrite, so header and extension handling stay in rtp.c. */
#include "fanout/rtx.h"

#include <string.h>

#include "fanout/common.h"

int fo_rtx_wrap(const fo_rtp_view_t *in, const fo_rtp_rewrite_t *rw, uint16_t osn, uint8_t *out,
                size_t cap)
{
    if (cap < 2) return FO_ETOOBIG;
    int n = fo_rtp_rewrite(in, rw, out, cap - 2);
    if (n < 0) return n;
    size_t off = (size_t)n - in->payload_len - in->padding_len;
    memmove(out + off + 2, out + off, (size_t)n - off);
    out[off] = (uint8_t)(osn >> 8);
    out[off + 1] = (uint8_t)osn;
    return n + 2;
}

int fo_rtx_unwrap(const fo_rtp_view_t *in, uint32_t ssrc, uint8_t pt, const uint8_t *ext_map,
                  uint8_t *out, size_t cap, uint16_t *osn)
{
    if (in->payload_len < 2) return FO_EINVAL;
    *osn = (uint16_t)(in->payload[0] << 8 | in->payload[1]);
    fo_rtp_view_t v = *in;
    v.payload += 2;
    v.payload_len -= 2;
    fo_rtp_rewrite_t rw = {.ssrc = ssrc, .pt = pt, .seq = *osn, .ts = in->ts, .ext_map = ext_map};
    return fo_rtp_rewrite(&v, &rw, out, cap);
}
