/* SPDX-License-Identifier: MIT */
/* Reassembly of a fragmented DTLS ClientHello (RFC 6347 §4.2.3) into one record, because
 * mbedtls 2.28's server refuses fragmented ClientHellos ("ClientHello fragmentation not
 * supported") and current browsers send ones larger than a datagram (DTLS 1.3 capable hellos
 * with post-quantum key shares: 1200 + 263 bytes from Chromium 156). The reassembled record is
 * what the transcript hash covers anyway (the message as if sent unfragmented).
 * Pure: libc only, no allocation (the caller owns the state). Any thread. */
#ifndef FO_DTLS_REASM_H
#define FO_DTLS_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FO_DTLS_REASM_MAX 8192 /* largest ClientHello body we reassemble */

typedef struct {
    bool active;
    uint32_t total;               /* handshake message length */
    uint32_t got;                 /* bytes covered so far */
    uint16_t msg_seq;
    uint8_t version[2];
    uint8_t rec_seq[6];           /* highest record sequence number seen */
    uint8_t body[FO_DTLS_REASM_MAX];
    uint8_t have[FO_DTLS_REASM_MAX / 8];
} fo_dtls_reasm_t;

enum { FO_DTLS_REASM_PASS = 0, FO_DTLS_REASM_DONE = 1 };

/* Feeds one datagram. Returns:
 *   FO_DTLS_REASM_PASS  not a fragment of a ClientHello (an unfragmented one included):
 *                       hand the datagram to DTLS unchanged;
 *   FO_EAGAIN           a fragment was taken; more are needed (drop the datagram);
 *   FO_DTLS_REASM_DONE  the ClientHello is complete: out[0..*out_len) is one DTLS record that
 *                       holds it unfragmented; hand that to DTLS instead;
 *   FO_EINVAL / FO_ETOOBIG  malformed or too large (drop; the state is reset).
 * `out` needs FO_DTLS_REASM_MAX + 25 bytes. */
int fo_dtls_reasm_feed(fo_dtls_reasm_t *st, const uint8_t *in, size_t len, uint8_t *out,
                       size_t cap, size_t *out_len);

#endif
