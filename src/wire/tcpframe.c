/* SPDX-License-Identifier: MIT */
/* RFC 4571 deframing: length headers, oversized frames skipped across calls, empty frames
 * skipped. No state but the caller's fo_tcpframe_t. */
#include "fanout/tcpframe.h"

void fo_tcpframe_init(fo_tcpframe_t *d, size_t max)
{
    *d = (fo_tcpframe_t){.max = max == 0 || max > FO_TCPFRAME_MAX ? FO_TCPFRAME_MAX : max};
}

int fo_tcpframe_next(fo_tcpframe_t *d, const uint8_t *buf, size_t len, size_t *used, size_t *off,
                     size_t *flen)
{
    size_t pos = 0;
    *off = 0;
    *flen = 0;
    for (;;) {
        if (d->skip) { /* the rest of an oversized frame */
            size_t n = len - pos < d->skip ? len - pos : d->skip;
            d->skip -= n;
            pos += n;
            if (d->skip) break;
        }
        if (len - pos < FO_TCPFRAME_HDR) break;
        size_t n = (size_t)buf[pos] << 8 | buf[pos + 1];
        if (n == 0) {
            d->empty++;
            pos += FO_TCPFRAME_HDR;
            continue;
        }
        if (n > d->max) {
            d->oversized++;
            d->skip = n;
            pos += FO_TCPFRAME_HDR;
            continue;
        }
        if (len - pos - FO_TCPFRAME_HDR < n) break;
        *off = pos + FO_TCPFRAME_HDR;
        *flen = n;
        *used = pos + FO_TCPFRAME_HDR + n;
        d->frames++;
        return 1;
    }
    *used = pos;
    return 0;
}

size_t fo_tcpframe_each(fo_tcpframe_t *d, uint8_t *buf, size_t len, fo_tcpframe_cb cb, void *user)
{
    size_t pos = 0, used, off, flen;
    while (fo_tcpframe_next(d, buf + pos, len - pos, &used, &off, &flen) == 1) {
        pos += used;
        if (cb(user, buf + pos - flen, flen) != 0) return pos;
    }
    return pos + used;
}
