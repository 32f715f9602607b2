/* SPDX-License-Identifier: MIT */
/* SRTP/SRTCP sessions over libsrtp2 (AES128_CM_HMAC_SHA1_80, the profile mbedtls's use_srtp
 * negotiates). The only user of libsrtp. One fo_srtp_t per transport: an inbound and an
 * outbound libsrtp session, any SSRC. Not thread-safe: the transport's owner thread uses it. */
#ifndef FO_SRTP_H
#define FO_SRTP_H

#include <stddef.h>
#include <stdint.h>

#define FO_SRTP_KEY_LEN 16
#define FO_SRTP_SALT_LEN 14
#define FO_SRTP_MASTER_LEN (FO_SRTP_KEY_LEN + FO_SRTP_SALT_LEN)
/* Bytes protect may append (auth tag, SRTCP index); libsrtp's SRTP_MAX_TRAILER_LEN. */
#define FO_SRTP_MAX_TRAILER 144

/* Keying material as DTLS-SRTP (RFC 5764) exports it, already split by our role:
 * `local` protects what we send, `remote` unprotects what we receive. Each is key || salt. */
typedef struct {
    uint8_t local[FO_SRTP_MASTER_LEN];
    uint8_t remote[FO_SRTP_MASTER_LEN];
} fo_srtp_keys_t;

/* Initialises libsrtp once per process (idempotent; call from main before threads) and puts
 * nettle's AES-CM and HMAC-SHA1 behind it (after libsrtp's self-test vectors pass; else the
 * stock ones stay, logged). FANOUT_SRTP_CRYPTO=libsrtp in the environment keeps libsrtp's own
 * (NSS) primitives, for comparison. */
int fo_srtp_global_init(void);
void fo_srtp_global_shutdown(void);
/* Switches the primitives for sessions created from now on: "nettle" or "libsrtp" (sessions
 * already created keep theirs). Main thread, no other thread creating sessions. Returns 0,
 * FO_EINVAL (unknown name, or not initialised) or FO_ECRYPTO (failed the self-test; then
 * libsrtp's are in use). */
int fo_srtp_set_crypto(const char *name);
/* "nettle" or "libsrtp": what new sessions use. */
const char *fo_srtp_crypto(void);

/* Creates the two libsrtp sessions from `keys` (copied; the caller may wipe them). Outbound
 * allows repeated indexes (needed for retransmissions); inbound has a 1024-packet replay window.
 * fo_srtp_global_init() must have succeeded. Returns NULL on failure (logged). */
typedef struct fo_srtp fo_srtp_t;
fo_srtp_t *fo_srtp_new(const fo_srtp_keys_t *keys);
void fo_srtp_free(fo_srtp_t *s);

/* In place. *len is the plaintext length on input and the protected length on output; `cap`
 * must leave FO_SRTP_MAX_TRAILER spare bytes. Return 0 or FO_ECRYPTO/FO_ETOOBIG, or FO_EINVAL
 * for a packet shorter than an RTP header (12) / RTCP header + SSRC (8). No allocation per
 * packet (libsrtp allocates a stream the first time it sees an SSRC). */
int fo_srtp_protect(fo_srtp_t *s, uint8_t *buf, size_t *len, size_t cap);
int fo_srtp_protect_rtcp(fo_srtp_t *s, uint8_t *buf, size_t *len, size_t cap);
/* In place. Returns 0, FO_EAUTH (authentication failed), FO_EAGAIN (replayed: drop quietly),
 * FO_EINVAL (too short or malformed) or FO_ECRYPTO. *len is only changed on success. */
int fo_srtp_unprotect(fo_srtp_t *s, uint8_t *buf, size_t *len);
int fo_srtp_unprotect_rtcp(fo_srtp_t *s, uint8_t *buf, size_t *len);

#endif
