/* SPDX-License-Identifier: MIT */
/* SRTP adapter over libsrtp2 (2.5, Debian's NSS build): owns the inbound and outbound libsrtp
 * sessions of one transport, keyed with AES128_CM_HMAC_SHA1_80. It knows nothing of DTLS (the
 * keys come in through fo_srtp_keys_t) nor of sockets and buffers (the caller owns them; every
 * call works in place). The hot path allocates nothing and logs at debug, rate-limited. */
#include "fanout/srtp.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "fanout/common.h"
#include "fanout/log.h"

_Static_assert(FO_SRTP_MAX_TRAILER == SRTP_MAX_TRAILER_LEN, "FO_SRTP_MAX_TRAILER is libsrtp's");
_Static_assert(FO_SRTP_MASTER_LEN == SRTP_AES_ICM_128_KEY_LEN_WSALT, "AES-128 key + 112-bit salt");

/* Packets may arrive up to this many indexes late (video bursts and NACK retransmissions are
 * reordered); 1024 is what browsers use too. */
#define SRTP_REPLAY_WINDOW 1024
/* Smallest RTP header and smallest RTCP packet (header + sender SSRC). */
#define RTP_MIN_LEN 12
#define RTCP_MIN_LEN 8

struct fo_srtp {
    srtp_t in, out;
    unsigned errors; /* failures seen, for rate-limited logging */
};

static bool initialised;

int fo_srtp_global_init(void)
{
    if (initialised) return 0;
    srtp_err_status_t st = srtp_init();
    if (st != srtp_err_status_ok) {
        FO_LOG(FO_LOG_ERROR, "srtp", "srtp_init failed (libsrtp status %d)", (int)st);
        return FO_ECRYPTO;
    }
    initialised = true;
    FO_LOG(FO_LOG_DEBUG, "srtp", "%s", srtp_get_version_string());
    return 0;
}

void fo_srtp_global_shutdown(void)
{
    if (!initialised) return;
    srtp_shutdown();
    initialised = false;
}

static srtp_t session(const uint8_t key[FO_SRTP_MASTER_LEN], srtp_ssrc_type_t type)
{
    srtp_policy_t pol;
    unsigned char k[FO_SRTP_MASTER_LEN];
    memset(&pol, 0, sizeof pol);
    memcpy(k, key, sizeof k); /* srtp_create takes a non-const key; it copies what it derives */
    srtp_crypto_policy_set_rtp_default(&pol.rtp);
    srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
    pol.ssrc.type = type;
    pol.key = k;
    pol.window_size = SRTP_REPLAY_WINDOW;
    /* Outbound: NACK retransmissions re-send the same index with the same payload. */
    pol.allow_repeat_tx = type == ssrc_any_outbound;
    srtp_t s = NULL;
    srtp_err_status_t st = srtp_create(&s, &pol);
    memset(k, 0, sizeof k);
    if (st != srtp_err_status_ok) {
        FO_LOG(FO_LOG_ERROR, "srtp", "srtp_create(%s) failed (libsrtp status %d)",
               type == ssrc_any_outbound ? "outbound" : "inbound", (int)st);
        return NULL;
    }
    return s;
}

fo_srtp_t *fo_srtp_new(const fo_srtp_keys_t *keys)
{
    if (!keys) return NULL;
    if (!initialised) { /* a lazy srtp_init here could race between worker threads */
        FO_LOG(FO_LOG_ERROR, "srtp", "fo_srtp_global_init() was not called");
        return NULL;
    }
    fo_srtp_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->in = session(keys->remote, ssrc_any_inbound);
    s->out = session(keys->local, ssrc_any_outbound);
    if (!s->in || !s->out) {
        fo_srtp_free(s);
        return NULL;
    }
    return s;
}

void fo_srtp_free(fo_srtp_t *s)
{
    if (!s) return;
    if (s->in) srtp_dealloc(s->in);
    if (s->out) srtp_dealloc(s->out);
    free(s);
}

/* Maps libsrtp's status; logs the first few failures and then one in 1024. */
static int map_status(fo_srtp_t *s, srtp_err_status_t st, const char *what)
{
    int err;
    switch (st) {
    case srtp_err_status_ok: return 0;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old: err = FO_EAGAIN; break;
    case srtp_err_status_auth_fail: err = FO_EAUTH; break;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err: err = FO_EINVAL; break;
    default: err = FO_ECRYPTO; break;
    }
    if (err != FO_EAGAIN && (s->errors++ < 8 || (s->errors & 1023) == 0))
        FO_LOG(FO_LOG_DEBUG, "srtp", "%s failed (libsrtp status %d, %u failures so far)", what,
               (int)st, s->errors);
    return err;
}

/* libsrtp takes an int length; this also refuses lengths that would not leave the trailer room.
 * RTCP's extra 4 bytes (the SRTCP index) are inside FO_SRTP_MAX_TRAILER: it counts a 128-byte
 * MKI we never configure, so at most 4 + 10 bytes are appended. */
static int room(size_t len, size_t cap)
{
    if (len > cap || cap - len < FO_SRTP_MAX_TRAILER || len > INT_MAX - FO_SRTP_MAX_TRAILER)
        return FO_ETOOBIG;
    return 0;
}

int fo_srtp_protect(fo_srtp_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    if (room(*len, cap)) return FO_ETOOBIG;
    if (*len < RTP_MIN_LEN) return FO_EINVAL;
    int n = (int)*len;
    int err = map_status(s, srtp_protect(s->out, buf, &n), "protect");
    if (err == 0) *len = (size_t)n;
    return err;
}

int fo_srtp_protect_rtcp(fo_srtp_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    if (room(*len, cap)) return FO_ETOOBIG;
    if (*len < RTCP_MIN_LEN) return FO_EINVAL;
    int n = (int)*len;
    int err = map_status(s, srtp_protect_rtcp(s->out, buf, &n), "protect_rtcp");
    if (err == 0) *len = (size_t)n;
    return err;
}

int fo_srtp_unprotect(fo_srtp_t *s, uint8_t *buf, size_t *len)
{
    if (*len < RTP_MIN_LEN || *len > INT_MAX) return FO_EINVAL;
    int n = (int)*len;
    int err = map_status(s, srtp_unprotect(s->in, buf, &n), "unprotect");
    if (err == 0) *len = (size_t)n;
    return err;
}

int fo_srtp_unprotect_rtcp(fo_srtp_t *s, uint8_t *buf, size_t *len)
{
    if (*len < RTCP_MIN_LEN || *len > INT_MAX) return FO_EINVAL;
    int n = (int)*len;
    int err = map_status(s, srtp_unprotect_rtcp(s->in, buf, &n), "unprotect_rtcp");
    if (err == 0) *len = (size_t)n;
    return err;
}
