/* SPDX-License-Identifier: MIT */
/* SRTP adapter over libsrtp2 (2.5, Debian's NSS build): owns the inbound and outbound halves of
 * one transport's SRTP, keyed with AES128_CM_HMAC_SHA1_80. It knows nothing of DTLS (the keys
 * come in through fo_srtp_keys_t) nor of sockets and buffers (the caller owns them; every call
 * works in place). The hot path allocates nothing and logs at debug, rate-limited.
 *
 * Inbound (unprotect, replay windows) is libsrtp's, with nettle's AES-CM and HMAC-SHA1 swapped
 * in behind it (srtp_replace_cipher_type/srtp_replace_auth_type): Debian's NSS ones cost ~8-11
 * us per 1200-byte packet, mostly per-call overhead; nettle ~1.3 us. libsrtp runs its own test
 * vectors on each replacement and refuses a failing one.
 *
 * Outbound (protect: once per player per forwarded packet) is src/rtc/srtp_out.c, our own code over
 * nettle, when the crypto is "nettle": libsrtp's generic per-packet path (stream list lookup,
 * srtp_protect_mki) measured 13.5 % of the server at 1000 players, more than the crypto, while
 * the KDF and transforms are small and pinned by RFC 3711 test vectors (self-tested here before
 * use) and byte-exact cross-checks against libsrtp (tests). Only SSRCs beyond its table go to
 * an outbound libsrtp session, created then. "libsrtp" keeps libsrtp (NSS) for everything. */
#include "fanout/srtp.h"

#include <limits.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/aes.h>
#include <nettle/ctr.h>
#include <nettle/hmac.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/srtp_out.h"

_Static_assert(FO_SRTP_MAX_TRAILER == SRTP_MAX_TRAILER_LEN, "FO_SRTP_MAX_TRAILER is libsrtp's");
_Static_assert(FO_SRTP_MASTER_LEN == SRTP_AES_ICM_128_KEY_LEN_WSALT, "AES-128 key + 112-bit salt");

/* Smallest RTP header and smallest RTCP packet (header + sender SSRC). */
#define RTP_MIN_LEN 12
#define RTCP_MIN_LEN 8

/* With send workers the inbound half is the loop thread's and the outbound half the worker's
 * (docs/workers.md): they share no field and the outbound half starts on its own cache line. */
struct fo_srtp {
    srtp_t in;
    unsigned errors_in; /* failures seen, for rate-limited logging */
    struct {
        alignas(64) bool fast; /* protect with fast_state (else everything through `lib`) */
        unsigned errors;
        srtp_t lib; /* libsrtp: every SSRC, or (fast) the SSRCs past fast_state's table */
        uint8_t master[FO_SRTP_MASTER_LEN]; /* (fast) to create `lib` when first needed */
        fo_srtp_out_t fast_state;
    } out;
};

static bool initialised;
static bool fast_out;     /* new sessions protect with srtp_out.c */
static bool prims_set;    /* which primitives are behind libsrtp is known: */
static bool prims_nettle; /* nettle's (else libsrtp's stock) */

/* ------------------------------------------------------------------------------------------ */
/* nettle behind libsrtp: AES-128 in counter mode (RFC 3711 4.1.1) and HMAC-SHA1 (4.2) */

/* libsrtp's own implementations, exported by its shared library (not declared in the installed
 * headers): restoring them, and their test vectors for ours. */
extern const srtp_cipher_type_t srtp_aes_icm_128;
extern const srtp_auth_type_t srtp_hmac;

typedef struct {
    struct aes128_ctx aes;
    uint8_t offset[16]; /* the salt, shifted left 16 bits: set_iv XORs the IV onto it */
    uint8_t ctr[16];    /* the next counter block */
    uint8_t ks[16];     /* keystream of the last partial block, ks_used bytes of it used */
    unsigned ks_used;
} icm_state_t;

typedef struct {
    srtp_cipher_t c;
    icm_state_t st;
} icm_t;

static srtp_cipher_type_t icm_type; /* filled in by use_nettle (test_data from libsrtp's) */
static srtp_auth_type_t hmac_type;

static srtp_err_status_t icm_alloc(srtp_cipher_pointer_t *cp, int key_len, int tag_len)
{
    (void)tag_len;
    if (key_len != SRTP_AES_ICM_128_KEY_LEN_WSALT) return srtp_err_status_bad_param;
    icm_t *x = calloc(1, sizeof *x);
    if (!x) return srtp_err_status_alloc_fail;
    x->c.type = &icm_type;
    x->c.state = &x->st;
    x->c.key_len = key_len;
    x->c.algorithm = SRTP_AES_ICM_128;
    *cp = &x->c;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_dealloc(srtp_cipher_pointer_t cp)
{
    icm_t *x = (icm_t *)cp;
    explicit_bzero(x, sizeof *x); /* key schedule */
    free(x);
    return srtp_err_status_ok;
}

/* key: the 16-byte key, then the 14-byte salt. */
static srtp_err_status_t icm_init(void *state, const uint8_t *key)
{
    icm_state_t *s = state;
    aes128_set_encrypt_key(&s->aes, key);
    memset(s->offset, 0, sizeof s->offset);
    memcpy(s->offset, key + AES128_KEY_SIZE, SRTP_SALT_LEN);
    s->ks_used = sizeof s->ks;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t dir)
{
    (void)dir; /* counter mode: the same either way */
    icm_state_t *s = state;
    for (int i = 0; i < 16; i++) s->ctr[i] = s->offset[i] ^ iv[i];
    s->ks_used = sizeof s->ks;
    return srtp_err_status_ok;
}

/* XORs the keystream onto buf in place, continuing where the last call stopped (libsrtp calls
 * once per packet, but a cipher should not care). */
static srtp_err_status_t icm_crypt(void *state, uint8_t *buf, unsigned int *len)
{
    icm_state_t *s = state;
    size_t n = *len, i = 0;
    while (i < n && s->ks_used < sizeof s->ks) buf[i++] ^= s->ks[s->ks_used++];
    size_t whole = (n - i) & ~(size_t)15;
    if (whole) {
        ctr_crypt(&s->aes, (nettle_cipher_func *)aes128_encrypt, AES_BLOCK_SIZE, s->ctr, whole,
                  buf + i, buf + i);
        i += whole;
    }
    if (i < n) { /* tail: one more block of keystream, keep the rest for a next call */
        memset(s->ks, 0, sizeof s->ks);
        ctr_crypt(&s->aes, (nettle_cipher_func *)aes128_encrypt, AES_BLOCK_SIZE, s->ctr,
                  sizeof s->ks, s->ks, s->ks);
        s->ks_used = 0;
        while (i < n) buf[i++] ^= s->ks[s->ks_used++];
    }
    return srtp_err_status_ok;
}

typedef struct {
    srtp_auth_t a;
    struct hmac_sha1_ctx h;
} sha1_mac_t;

static srtp_err_status_t sha1_mac_alloc(srtp_auth_pointer_t *ap, int key_len, int out_len)
{
    if (key_len < 0 || key_len > SHA1_DIGEST_SIZE || out_len < 0 || out_len > SHA1_DIGEST_SIZE)
        return srtp_err_status_bad_param;
    sha1_mac_t *x = calloc(1, sizeof *x);
    if (!x) return srtp_err_status_alloc_fail;
    x->a.type = &hmac_type;
    x->a.state = &x->h;
    x->a.out_len = out_len;
    x->a.key_len = key_len;
    x->a.prefix_len = 0;
    *ap = &x->a;
    return srtp_err_status_ok;
}

static srtp_err_status_t sha1_mac_dealloc(srtp_auth_pointer_t ap)
{
    sha1_mac_t *x = (sha1_mac_t *)ap;
    explicit_bzero(x, sizeof *x);
    free(x);
    return srtp_err_status_ok;
}

static srtp_err_status_t sha1_mac_init(void *state, const uint8_t *key, int key_len)
{
    hmac_sha1_set_key(state, (size_t)key_len, key);
    return srtp_err_status_ok;
}

/* Restarts the MAC: nettle keeps the keyed inner hash, so this is a copy. */
static srtp_err_status_t sha1_mac_start(void *state)
{
    struct hmac_sha1_ctx *h = state;
    h->state = h->inner;
    return srtp_err_status_ok;
}

static srtp_err_status_t sha1_mac_update(void *state, const uint8_t *buf, int len)
{
    hmac_sha1_update(state, (size_t)len, buf);
    return srtp_err_status_ok;
}

/* Digests everything since start plus buf, truncated to tag_len (digest also restarts). */
static srtp_err_status_t sha1_mac_compute(void *state, const uint8_t *buf, int len, int tag_len,
                                      uint8_t *tag)
{
    if (tag_len < 0 || tag_len > SHA1_DIGEST_SIZE) return srtp_err_status_bad_param;
    hmac_sha1_update(state, (size_t)len, buf);
    hmac_sha1_digest(state, (size_t)tag_len, tag);
    return srtp_err_status_ok;
}

/* Puts nettle's AES-CM and HMAC-SHA1 behind libsrtp's ids, or its stock ones back; libsrtp
 * self-tests each replacement. */
static int use_primitives(bool nettle)
{
    icm_type = (srtp_cipher_type_t){
        .alloc = icm_alloc,
        .dealloc = icm_dealloc,
        .init = icm_init,
        .set_aad = NULL,
        .encrypt = icm_crypt,
        .decrypt = icm_crypt,
        .set_iv = icm_set_iv,
        .get_tag = NULL,
        .description = "AES-128 counter mode (nettle)",
        .test_data = srtp_aes_icm_128.test_data,
        .id = SRTP_AES_ICM_128,
    };
    hmac_type = (srtp_auth_type_t){
        .alloc = sha1_mac_alloc,
        .dealloc = sha1_mac_dealloc,
        .init = sha1_mac_init,
        .compute = sha1_mac_compute,
        .update = sha1_mac_update,
        .start = sha1_mac_start,
        .description = "HMAC-SHA1 (nettle)",
        .test_data = srtp_hmac.test_data,
        .id = SRTP_HMAC_SHA1,
    };
    const srtp_cipher_type_t *ct = nettle ? &icm_type : &srtp_aes_icm_128;
    const srtp_auth_type_t *at = nettle ? &hmac_type : &srtp_hmac;
    srtp_err_status_t st = srtp_replace_cipher_type(ct, SRTP_AES_ICM_128);
    if (st == srtp_err_status_ok) st = srtp_cipher_type_self_test(ct);
    if (st == srtp_err_status_ok) st = srtp_replace_auth_type(at, SRTP_HMAC_SHA1);
    if (st == srtp_err_status_ok) st = srtp_auth_type_self_test(at);
    if (st != srtp_err_status_ok) {
        FO_LOG(FO_LOG_ERROR, "srtp", "%s crypto failed libsrtp's self-test (libsrtp status %d)",
               nettle ? "nettle" : "libsrtp", (int)st);
        if (nettle) { /* back to what works */
            srtp_replace_cipher_type(&srtp_aes_icm_128, SRTP_AES_ICM_128);
            srtp_replace_auth_type(&srtp_hmac, SRTP_HMAC_SHA1);
        }
        prims_set = true, prims_nettle = false;
        return FO_ECRYPTO;
    }
    prims_set = true, prims_nettle = nettle;
    return 0;
}

/* What new sessions use: nettle's or libsrtp's primitives behind libsrtp (replaced only when they
 * change), and with `fast` (nettle only) srtp_out.c for protect, once its known answers pass.
 * Sessions created before keep what they were created with. */
static int use_crypto(bool nettle, bool fast)
{
    fast_out = false;
    if (!prims_set || prims_nettle != nettle) {
        int err = use_primitives(nettle);
        if (err) return err;
    }
    if (fast && fo_srtp_out_self_test() != 0) {
        FO_LOG(FO_LOG_ERROR, "srtp",
               "outbound SRTP over nettle failed its known answers: protecting with libsrtp");
        return FO_ECRYPTO;
    }
    fast_out = fast;
    return 0;
}

int fo_srtp_set_crypto(const char *name)
{
    if (!initialised) return FO_EINVAL;
    if (!name || strcmp(name, "nettle") == 0) return use_crypto(true, true);
    if (strcmp(name, "libsrtp+nettle") == 0) return use_crypto(true, false);
    if (strcmp(name, "libsrtp") == 0) return use_crypto(false, false);
    return FO_EINVAL;
}

const char *fo_srtp_crypto(void)
{
    return !prims_nettle ? "libsrtp" : fast_out ? "nettle" : "libsrtp+nettle";
}

/* ------------------------------------------------------------------------------------------ */

int fo_srtp_global_init(void)
{
    if (initialised) return 0;
    srtp_err_status_t st = srtp_init();
    if (st != srtp_err_status_ok) {
        FO_LOG(FO_LOG_ERROR, "srtp", "srtp_init failed (libsrtp status %d)", (int)st);
        return FO_ECRYPTO;
    }
    initialised = true;
    const char *want = getenv("FANOUT_SRTP_CRYPTO");
    int err = fo_srtp_set_crypto(want && *want ? want : "nettle");
    if (err == FO_EINVAL)
        FO_LOG(FO_LOG_WARN, "srtp", "FANOUT_SRTP_CRYPTO=%s: expected nettle, libsrtp+nettle or "
               "libsrtp", want);
    FO_LOG(FO_LOG_DEBUG, "srtp", "%s, %s crypto", srtp_get_version_string(), fo_srtp_crypto());
    return 0;
}

void fo_srtp_global_shutdown(void)
{
    if (!initialised) return;
    srtp_shutdown();
    initialised = false;
    fast_out = prims_set = prims_nettle = false;
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
    /* Packets may arrive up to this many indexes late (video bursts and NACK retransmissions
     * are reordered); 1024 is what browsers use too. */
    pol.window_size = FO_SRTP_WINDOW;
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
    /* aligned_alloc: the outbound half's alignas(64); the size is a multiple of it. */
    fo_srtp_t *s = aligned_alloc(alignof(fo_srtp_t), sizeof *s);
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    s->in = session(keys->remote, ssrc_any_inbound);
    s->out.fast = fast_out;
    if (s->out.fast) {
        fo_srtp_out_init(&s->out.fast_state, keys->local);
        memcpy(s->out.master, keys->local, sizeof s->out.master);
    } else {
        s->out.lib = session(keys->local, ssrc_any_outbound);
    }
    if (!s->in || (!s->out.fast && !s->out.lib)) {
        fo_srtp_free(s);
        return NULL;
    }
    return s;
}

void fo_srtp_free(fo_srtp_t *s)
{
    if (!s) return;
    if (s->in) srtp_dealloc(s->in);
    if (s->out.lib) srtp_dealloc(s->out.lib);
    explicit_bzero(&s->out, sizeof s->out);
    free(s);
}

/* Counts a failure (a replay, FO_EAGAIN, is not one); true for the first few and then one in
 * 1024, which are logged. */
static bool log_due(unsigned *errors, int err)
{
    return err != FO_EAGAIN && ((*errors)++ < 8 || (*errors & 1023) == 0);
}

/* Maps libsrtp's status; logs the first few failures and then one in 1024. */
static int map_status(unsigned *errors, srtp_err_status_t st, const char *what)
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
    if (log_due(errors, err))
        FO_LOG(FO_LOG_DEBUG, "srtp", "%s failed (libsrtp status %d, %u failures so far)", what,
               (int)st, *errors);
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

/* Counts and logs (rate-limited) a failure of ours, as map_status does for libsrtp's. */
static int note(unsigned *errors, int err, const char *what)
{
    if (log_due(errors, err))
        FO_LOG(FO_LOG_DEBUG, "srtp", "%s failed (%s, %u failures so far)", what,
               fo_strerror(err), *errors);
    return err;
}

/* The outbound libsrtp session: without fast mode the one made with the session; in fast mode
 * the one for SSRCs past the table, created the first time one comes (on the sending thread;
 * srtp_create only reads libsrtp's global tables). */
static srtp_t overflow(fo_srtp_t *s)
{
    if (!s->out.lib) {
        s->out.lib = session(s->out.master, ssrc_any_outbound);
        if (s->out.lib)
            FO_LOG(FO_LOG_DEBUG, "srtp", "more than %d outbound SSRCs: the others go through "
                   "libsrtp", FO_SRTP_OUT_STREAMS);
    }
    return s->out.lib;
}

/* Our own engine first in fast mode (FO_EFULL: an SSRC past its table), else libsrtp. */
static inline int protect(fo_srtp_t *s, uint8_t *buf, size_t *len, size_t cap, bool rtcp)
{
    const char *what = rtcp ? "protect_rtcp" : "protect";
    if (room(*len, cap)) return FO_ETOOBIG;
    if (*len < (rtcp ? RTCP_MIN_LEN : RTP_MIN_LEN)) return FO_EINVAL;
    if (s->out.fast) {
        int err = rtcp ? fo_srtp_out_protect_rtcp(&s->out.fast_state, buf, len)
                       : fo_srtp_out_protect(&s->out.fast_state, buf, len);
        if (err != FO_EFULL) return err ? note(&s->out.errors, err, what) : 0;
    }
    srtp_t lib = overflow(s);
    if (!lib) return note(&s->out.errors, FO_ENOMEM, what);
    int n = (int)*len;
    srtp_err_status_t st = rtcp ? srtp_protect_rtcp(lib, buf, &n) : srtp_protect(lib, buf, &n);
    int err = map_status(&s->out.errors, st, what);
    if (err == 0) *len = (size_t)n;
    return err;
}

int fo_srtp_protect(fo_srtp_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    return protect(s, buf, len, cap, false);
}

int fo_srtp_protect_rtcp(fo_srtp_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    return protect(s, buf, len, cap, true);
}

int fo_srtp_unprotect(fo_srtp_t *s, uint8_t *buf, size_t *len)
{
    if (*len < RTP_MIN_LEN || *len > INT_MAX) return FO_EINVAL;
    int n = (int)*len;
    int err = map_status(&s->errors_in, srtp_unprotect(s->in, buf, &n), "unprotect");
    if (err == 0) *len = (size_t)n;
    return err;
}

int fo_srtp_unprotect_rtcp(fo_srtp_t *s, uint8_t *buf, size_t *len)
{
    if (*len < RTCP_MIN_LEN || *len > INT_MAX) return FO_EINVAL;
    int n = (int)*len;
    int err = map_status(&s->errors_in, srtp_unprotect_rtcp(s->in, buf, &n), "unprotect_rtcp");
    if (err == 0) *len = (size_t)n;
    return err;
}
