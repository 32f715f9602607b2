/* SPDX-License-Identifier: MIT */
/* SRTP/SRTCP sessions (AES128_CM_HMAC_SHA1_80, the profile mbedtls's use_srtp negotiates). The
 * only user of libsrtp. One fo_srtp_t per transport: inbound is a libsrtp session, outbound our
 * own code over nettle (fanout/srtp_out.h), any SSRC. Not thread-safe, but the halves share no
 * state: protect on one thread (the transport's sender), unprotect on one (the loop). */
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

/* Initialises libsrtp once per process (idempotent; call from main before threads), puts
 * nettle's AES-CM and HMAC-SHA1 behind it (after libsrtp's self-test vectors pass; else the
 * stock ones stay, logged) and protects with our own outbound path over nettle (after its known
 * answers; else libsrtp protects, logged). FANOUT_SRTP_CRYPTO in the environment picks another
 * mode, for comparison: see fo_srtp_set_crypto. */
int fo_srtp_global_init(void);
void fo_srtp_global_shutdown(void);
/* Switches what sessions created from now on use (sessions already created keep theirs):
 *   "nettle"          inbound libsrtp over nettle, outbound our own code over nettle (default);
 *   "libsrtp+nettle"  libsrtp over nettle both ways (the engine before the outbound path);
 *   "libsrtp"         libsrtp with its stock (NSS) primitives both ways.
 * Main thread, no other thread creating sessions. Returns 0, FO_EINVAL (unknown name, or not
 * initialised) or FO_ECRYPTO (failed a self-test; then fo_srtp_crypto() says what is used). */
int fo_srtp_set_crypto(const char *name);
/* "nettle", "libsrtp+nettle" or "libsrtp": what new sessions use. */
const char *fo_srtp_crypto(void);

/* Creates the inbound and outbound halves from `keys` (copied; the caller may wipe them).
 * Outbound allows repeated indexes (needed for retransmissions) within 1024 of the highest sent;
 * inbound has a 1024-packet replay window. fo_srtp_global_init() must have succeeded. Returns
 * NULL on failure (logged). */
typedef struct fo_srtp fo_srtp_t;
fo_srtp_t *fo_srtp_new(const fo_srtp_keys_t *keys);
void fo_srtp_free(fo_srtp_t *s);

/* In place. *len is the plaintext length on input and the protected length on output; `cap`
 * must leave FO_SRTP_MAX_TRAILER spare bytes. Return 0 or FO_ECRYPTO/FO_ETOOBIG, or FO_EINVAL
 * for a packet shorter than an RTP header (12) / RTCP header + SSRC (8) or with CSRCs or a
 * header extension past its end, FO_EAGAIN for an RTP index more than 1023 behind the highest
 * sent on its SSRC (libsrtp refuses it too: drop quietly). No allocation per packet (beyond 8
 * SSRCs, or in the libsrtp modes, libsrtp allocates a stream the first time it sees an SSRC). */
int fo_srtp_protect(fo_srtp_t *s, uint8_t *buf, size_t *len, size_t cap);
int fo_srtp_protect_rtcp(fo_srtp_t *s, uint8_t *buf, size_t *len, size_t cap);
/* In place. Returns 0, FO_EAUTH (authentication failed), FO_EAGAIN (replayed: drop quietly),
 * FO_EINVAL (too short or malformed) or FO_ECRYPTO. *len is only changed on success. */
int fo_srtp_unprotect(fo_srtp_t *s, uint8_t *buf, size_t *len);
int fo_srtp_unprotect_rtcp(fo_srtp_t *s, uint8_t *buf, size_t *len);

#endif
