/* SPDX-License-Identifier: MIT */
/* RTX (RFC 4588) packet format: wrapping a packet for retransmission on the RTX stream (own
 * SSRC, RTX payload type, own sequence numbers, the original sequence number (OSN) in the first
 * two payload bytes) and unwrapping a received one back to the original packet.
 * Pure: libc only, never allocates. Any thread. */
#ifndef FO_RTX_H
#define FO_RTX_H

#include <stddef.h>
#include <stdint.h>

#include "fanout/rtp.h"

/* Writes `in` rewritten by `rw` (rw->ssrc/pt/seq are the RTX stream's) with `osn` prepended to
 * the payload into out[0..cap). Returns the length or FO_ETOOBIG. */
int fo_rtx_wrap(const fo_rtp_view_t *in, const fo_rtp_rewrite_t *rw, uint16_t osn, uint8_t *out,
                size_t cap);

/* Restores the original of RTX packet `in`: SSRC `ssrc`, payload type `pt`, the sequence number
 * from the OSN, payload without it; extensions per ext_map as in fo_rtp_rewrite. Sets *osn.
 * Returns the length, FO_EINVAL when the payload has no OSN (padding-only probes), or
 * FO_ETOOBIG. */
int fo_rtx_unwrap(const fo_rtp_view_t *in, uint32_t ssrc, uint8_t pt, const uint8_t *ext_map,
                  uint8_t *out, size_t cap, uint16_t *osn);

#endif
