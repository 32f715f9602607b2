/* SPDX-License-Identifier: MIT */
/* Outbound SRTP/SRTCP (RFC 3711, AES_CM_128_HMAC_SHA1_80 only) over nettle: the session keys
 * derived once from the local master key, and a small per-SSRC table (ROC, highest index sent,
 * SRTCP index). Used by src/rtc/srtp.c for fo_srtp_protect/_protect_rtcp; produces exactly the
 * bytes libsrtp produces as a sender with allow_repeat_tx and a 1024-packet window. Owns no
 * memory beyond the struct; knows nothing of inbound (libsrtp keeps that). Not thread-safe:
 * one thread (the transport's sender) per fo_srtp_out_t. */
#ifndef FO_SRTP_OUT_H
#define FO_SRTP_OUT_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/aes.h>
#include <nettle/hmac.h>

#include "fanout/srtp.h"

/* SSRCs one session can send with: a player's audio, video, RTX and feedback SSRCs fit. */
#define FO_SRTP_OUT_STREAMS 8
/* libsrtp's replay window as we configure it (sessions' window_size): a sender refuses to
 * protect an index more than this many behind the highest it has sent. */
#define FO_SRTP_WINDOW 1024

typedef struct {
    uint32_t ssrc;
    uint32_t rtcp_index; /* last SRTCP index sent; 0 before the first (libsrtp's rdb) */
    uint64_t index;      /* highest RTP index sent, ROC << 16 | SEQ (libsrtp's rdbx index) */
} fo_srtp_out_stream_t;

typedef struct {
    struct aes128_ctx aes;
    struct hmac_sha1_ctx mac; /* keyed once; nettle's digest leaves it at the inner state */
    uint8_t salt[16];         /* session salt in bytes 0..13: the IV before XORing in SSRC, index */
} fo_srtp_out_keys_t;

typedef struct {
    fo_srtp_out_keys_t rtp, rtcp;
    fo_srtp_out_stream_t streams[FO_SRTP_OUT_STREAMS];
    unsigned n;    /* streams in use; entries are never evicted (see fo_srtp_out_protect) */
    unsigned last; /* the entry the last packet used: consecutive packets share an SSRC */
} fo_srtp_out_t;

/* RFC 3711 4.3.1's AES-CM PRF with key derivation rate 0: n bytes (n <= 32) of the session key
 * with `label` (0x00 cipher key, 0x01 auth key, 0x02 salt; 0x03..0x05 for SRTCP) from master
 * key || salt. Any thread. */
void fo_srtp_out_kdf(const uint8_t master[FO_SRTP_MASTER_LEN], uint8_t label, uint8_t *out,
                     size_t n);

/* Derives the six session keys from `master` (not kept) and empties the SSRC table. */
void fo_srtp_out_init(fo_srtp_out_t *o, const uint8_t master[FO_SRTP_MASTER_LEN]);
/* Wipes keys and state (explicit_bzero). */
void fo_srtp_out_wipe(fo_srtp_out_t *o);

/* In place: encrypts and appends the 10-byte tag (RTP) or E||index and the tag (RTCP, +14).
 * The caller guarantees FO_SRTP_MAX_TRAILER spare bytes after *len and *len <= INT_MAX.
 * Returns 0 (*len updated), FO_EINVAL (shorter than 12 / 8 bytes, CSRCs or header extension
 * past the end: what libsrtp refuses as bad_param), FO_EAGAIN (RTP index more than
 * FO_SRTP_WINDOW - 1 behind the highest sent: libsrtp's replay_old), FO_ECRYPTO (SRTCP index
 * space exhausted) or FO_EFULL (a new SSRC and the table is full: nothing was touched, the
 * caller protects this SSRC elsewhere, always the same place). The buffer is unchanged on
 * failure. */
int fo_srtp_out_protect(fo_srtp_out_t *o, uint8_t *buf, size_t *len);
int fo_srtp_out_protect_rtcp(fo_srtp_out_t *o, uint8_t *buf, size_t *len);

/* Known answers: RFC 3711 B.3's session keys, and libsrtp's reference SRTP and SRTCP packets
 * (srtp_validate) for that master key. Returns 0 or FO_ECRYPTO. Any thread. */
int fo_srtp_out_self_test(void);

#endif
