/* SPDX-License-Identifier: MIT */
/* Authenticated alerts of a hibernated DTLS 1.2 session (see fo_dtls in dtls.h): once the SSL
 * context is freed, what is left to recognise the peer's close_notify or fatal alert is its
 * AES-GCM write key, the 4-byte implicit IV, the epoch and the highest record number seen.
 * This module owns that key and the record check (RFC 6347 4.1, RFC 5288 3): bounds-checked
 * parsing that never modifies its input, and a GCM context made on the stack for one record
 * and wiped after it (the only allocation is mbedtls's AES context inside it, freed at once).
 * Part of the DTLS adapter (mbedtls's GCM). No global state: any thread, one key per owner. */
#ifndef FO_DTLS_ALERT_H
#define FO_DTLS_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t key[32];  /* the peer's write key: client_write_key when we are the server */
    uint8_t iv[4];    /* the peer's implicit (salt) part of the GCM nonce */
    uint8_t key_len;  /* 16 (AES-128-GCM) or 32 (AES-256-GCM); 0: no key, nothing authenticates */
    uint16_t epoch;   /* the epoch the peer's records must carry (1 after the first handshake) */
    uint64_t seq_top; /* highest authenticated 48-bit record number of that epoch */
} fo_dtls_alert_key_t;

#define FO_DTLS_RECORD_HDR 13 /* type, version (2), epoch (2), sequence number (6), length (2) */

/* Whether a datagram starts like a DTLS record (RFC 7983: first byte 20..63, then version
 * 0xfe..): what fo_dtls_input and fo_dtls_alert_scan accept. */
static inline bool fo_dtls_record_like(const uint8_t *buf, size_t len)
{
    return len >= FO_DTLS_RECORD_HDR && buf[0] >= 20 && buf[0] <= 63 && buf[1] == 0xfe;
}

/* What fo_dtls_alert_scan found in one datagram. */
typedef struct {
    unsigned records;   /* records in the datagram (up to the first malformed one) */
    unsigned dropped;   /* of them not authentic alerts: other types or epochs, replayed, forged */
    uint8_t level, desc; /* of the last authentic alert (level 0 if none) */
} fo_dtls_alert_scan_t;

/* Scans every record of one datagram for an authentic alert from the peer: content type 21, the
 * key's epoch, a record number above seq_top, exactly one 2-byte alert, and a GCM tag that
 * verifies with AAD = epoch || seq || type || version || 2. An authentic one raises seq_top
 * (replays of it, or of anything older, are dropped). `buf` is only read. `out` may be NULL.
 * Returns 1 when an authentic close_notify (any level) or fatal alert was found (the scan stops
 * there), 0 otherwise (authentic warnings are reported in `out` and skipped), FO_EINVAL when
 * the datagram does not even start with a DTLS 1.2 record header. */
int fo_dtls_alert_scan(fo_dtls_alert_key_t *k, const uint8_t *buf, size_t len,
                       fo_dtls_alert_scan_t *out);

/* Wipes the key. */
void fo_dtls_alert_key_wipe(fo_dtls_alert_key_t *k);

#endif
