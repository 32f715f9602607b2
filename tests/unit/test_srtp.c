/* SPDX-License-Identifier: MIT */
/* fo_srtp: round trips with crosswise keys, authentication and replay failures, buffer room,
 * known answers (RFC 3711 B.3 key derivation, recomputed here with mbedtls's AES and HMAC, and
 * libsrtp's reference packets for the same master key), the outbound fast path (srtp_out.c)
 * byte for byte against libsrtp over long random packet sequences, and the cost of protect
 * (printed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/aes.h>
#include <mbedtls/md.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "fanout/srtp_out.h"

#define CAP (1500 + FO_SRTP_MAX_TRAILER)

typedef struct {
    fo_srtp_t *a, *b; /* a's local key is b's remote key and the other way round */
} pair_t;

static int setup(void **state)
{
    static pair_t p;
    fo_srtp_keys_t ka, kb;
    for (int i = 0; i < FO_SRTP_MASTER_LEN; i++) {
        ka.local[i] = (uint8_t)(i * 7 + 1);
        ka.remote[i] = (uint8_t)(i * 13 + 5);
    }
    memcpy(kb.local, ka.remote, FO_SRTP_MASTER_LEN);
    memcpy(kb.remote, ka.local, FO_SRTP_MASTER_LEN);
    if (fo_srtp_global_init() != 0 || fo_srtp_global_init() != 0) return -1; /* idempotent */
    p.a = fo_srtp_new(&ka);
    p.b = fo_srtp_new(&kb);
    if (!p.a || !p.b) return -1;
    *state = &p;
    return 0;
}

static int teardown(void **state)
{
    pair_t *p = *state;
    fo_srtp_free(p->a);
    fo_srtp_free(p->b);
    fo_srtp_global_shutdown();
    return 0;
}

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t len)
{
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    uint32_t ts = seq * 3000u;
    buf[4] = (uint8_t)(ts >> 24), buf[5] = (uint8_t)(ts >> 16), buf[6] = (uint8_t)(ts >> 8),
    buf[7] = (uint8_t)ts;
    buf[8] = (uint8_t)(ssrc >> 24), buf[9] = (uint8_t)(ssrc >> 16), buf[10] = (uint8_t)(ssrc >> 8),
    buf[11] = (uint8_t)ssrc;
    for (size_t i = 12; i < len; i++)
        buf[i] = (uint8_t)(i ^ seq);
    return len;
}

/* A receiver report with one report block: 32 bytes. */
static size_t make_rtcp(uint8_t *buf, uint32_t ssrc)
{
    memset(buf, 0, 32);
    buf[0] = 0x81;
    buf[1] = 201;
    buf[3] = 7;
    buf[4] = (uint8_t)(ssrc >> 24), buf[5] = (uint8_t)(ssrc >> 16), buf[6] = (uint8_t)(ssrc >> 8),
    buf[7] = (uint8_t)ssrc;
    for (int i = 8; i < 32; i++)
        buf[i] = (uint8_t)(i * 3);
    return 32;
}

static void test_rtp_roundtrip(void **state)
{
    pair_t *p = *state;
    uint8_t buf[CAP], ref[CAP];
    for (uint16_t seq = 1000; seq < 1010; seq++) {
        size_t len = make_rtp(buf, seq, 0x11223344, 1200);
        memcpy(ref, buf, len);
        assert_int_equal(fo_srtp_protect(p->a, buf, &len, sizeof buf), 0);
        assert_int_equal(len, 1210);                       /* 80-bit tag */
        assert_memory_equal(buf, ref, 12);                 /* header in clear */
        assert_memory_not_equal(buf + 12, ref + 12, 1188); /* payload not */
        /* a cannot read its own output (its inbound key is b's outbound key) */
        uint8_t copy[CAP];
        size_t clen = len;
        memcpy(copy, buf, len);
        assert_int_equal(fo_srtp_unprotect(p->a, copy, &clen), FO_EAUTH);
        assert_int_equal(fo_srtp_unprotect(p->b, buf, &len), 0);
        assert_int_equal(len, 1200);
        assert_memory_equal(buf, ref, 1200);
    }
    /* And the other direction, another SSRC. */
    size_t len = make_rtp(buf, 7, 0xdeadbeef, 100);
    memcpy(ref, buf, len);
    assert_int_equal(fo_srtp_protect(p->b, buf, &len, sizeof buf), 0);
    assert_int_equal(fo_srtp_unprotect(p->a, buf, &len), 0);
    assert_int_equal(len, 100);
    assert_memory_equal(buf, ref, 100);
}

static void test_rtcp_roundtrip(void **state)
{
    pair_t *p = *state;
    uint8_t buf[CAP], ref[CAP];
    for (int i = 0; i < 3; i++) {
        size_t len = make_rtcp(buf, 0x55667788);
        memcpy(ref, buf, len);
        assert_int_equal(fo_srtp_protect_rtcp(p->b, buf, &len, sizeof buf), 0);
        assert_int_equal(len, 32 + 4 + 10); /* E||index, 80-bit tag */
        assert_int_equal(fo_srtp_unprotect_rtcp(p->a, buf, &len), 0);
        assert_int_equal(len, 32);
        assert_memory_equal(buf, ref, 32);
    }
}

static void test_tamper(void **state)
{
    pair_t *p = *state;
    uint8_t buf[CAP];
    const size_t where[] = {3, 20, 1205}; /* header, payload, tag */
    for (size_t i = 0; i < FO_ARRAY_LEN(where); i++) {
        size_t len = make_rtp(buf, (uint16_t)(2000 + i), 0x11223344, 1200);
        assert_int_equal(fo_srtp_protect(p->a, buf, &len, sizeof buf), 0);
        buf[where[i]] ^= 0x01;
        size_t before = len;
        assert_int_equal(fo_srtp_unprotect(p->b, buf, &len), FO_EAUTH);
        assert_int_equal(len, before);
    }
    size_t len = make_rtcp(buf, 0x55667788);
    assert_int_equal(fo_srtp_protect_rtcp(p->a, buf, &len, sizeof buf), 0);
    buf[10] ^= 0x80;
    assert_int_equal(fo_srtp_unprotect_rtcp(p->b, buf, &len), FO_EAUTH);
}

static void test_replay(void **state)
{
    pair_t *p = *state;
    uint8_t buf[CAP], copy[CAP];
    const uint32_t ssrc = 0x0badcafe;

    size_t len = make_rtp(buf, 5000, ssrc, 300);
    assert_int_equal(fo_srtp_protect(p->a, buf, &len, sizeof buf), 0);
    memcpy(copy, buf, len);
    size_t clen = len;
    assert_int_equal(fo_srtp_unprotect(p->b, buf, &len), 0);
    assert_int_equal(fo_srtp_unprotect(p->b, copy, &clen), FO_EAGAIN);

    /* The window is 1024 packets (libsrtp's default is 128): 900 late is accepted, 1100 late
     * is not. */
    uint8_t late[CAP], old[CAP];
    size_t llen = make_rtp(late, 5600, ssrc, 300), olen = make_rtp(old, 5400, ssrc, 300);
    assert_int_equal(fo_srtp_protect(p->a, old, &olen, sizeof old), 0);
    assert_int_equal(fo_srtp_protect(p->a, late, &llen, sizeof late), 0);
    len = make_rtp(buf, 6500, ssrc, 300);
    assert_int_equal(fo_srtp_protect(p->a, buf, &len, sizeof buf), 0);
    assert_int_equal(fo_srtp_unprotect(p->b, buf, &len), 0);
    assert_int_equal(fo_srtp_unprotect(p->b, late, &llen), 0);
    assert_int_equal(fo_srtp_unprotect(p->b, old, &olen), FO_EAGAIN);

    /* Outbound repeats are allowed (NACK retransmissions) and give the same bytes. */
    uint8_t r1[CAP], r2[CAP];
    size_t l1 = make_rtp(r1, 7000, ssrc, 300), l2 = make_rtp(r2, 7000, ssrc, 300);
    assert_int_equal(fo_srtp_protect(p->a, r1, &l1, sizeof r1), 0);
    assert_int_equal(fo_srtp_protect(p->a, r2, &l2, sizeof r2), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(r1, r2, l1);

    len = make_rtcp(buf, ssrc);
    assert_int_equal(fo_srtp_protect_rtcp(p->a, buf, &len, sizeof buf), 0);
    memcpy(copy, buf, len);
    clen = len;
    assert_int_equal(fo_srtp_unprotect_rtcp(p->b, buf, &len), 0);
    assert_int_equal(fo_srtp_unprotect_rtcp(p->b, copy, &clen), FO_EAGAIN);
}

static void test_room_and_sizes(void **state)
{
    pair_t *p = *state;
    uint8_t buf[CAP];
    size_t len = make_rtp(buf, 9000, 1, 1000);
    assert_int_equal(fo_srtp_protect(p->a, buf, &len, 1000 + FO_SRTP_MAX_TRAILER - 1), FO_ETOOBIG);
    assert_int_equal(len, 1000);
    assert_int_equal(fo_srtp_protect(p->a, buf, &len, 999), FO_ETOOBIG);
    assert_int_equal(fo_srtp_protect(p->a, buf, &len, 1000 + FO_SRTP_MAX_TRAILER), 0);
    len = make_rtcp(buf, 1);
    assert_int_equal(fo_srtp_protect_rtcp(p->a, buf, &len, 32 + FO_SRTP_MAX_TRAILER - 1),
                     FO_ETOOBIG);
    assert_int_equal(fo_srtp_protect_rtcp(p->a, buf, &len, 32 + FO_SRTP_MAX_TRAILER), 0);

    /* Too short to be RTP / RTCP. */
    len = 11;
    assert_int_equal(fo_srtp_protect(p->a, buf, &len, sizeof buf), FO_EINVAL);
    assert_int_equal(fo_srtp_unprotect(p->b, buf, &len), FO_EINVAL);
    len = 7;
    assert_int_equal(fo_srtp_protect_rtcp(p->a, buf, &len, sizeof buf), FO_EINVAL);
    assert_int_equal(fo_srtp_unprotect_rtcp(p->b, buf, &len), FO_EINVAL);
    /* A header with no room for a tag. */
    len = make_rtp(buf, 9001, 1, 14);
    assert_true(fo_srtp_unprotect(p->b, buf, &len) < 0);

    assert_null(fo_srtp_new(NULL));
    fo_srtp_free(NULL);
}

/* --- known answers ----------------------------------------------------------------------- */

static const uint8_t kat_master[FO_SRTP_MASTER_LEN] = {
    /* RFC 3711 B.3 master key || master salt */
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41,
    0x39, 0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
};

/* RFC 3711 B.3's session cipher key, salt and authentication key for that master. */
static const uint8_t b3_key[16] = {0xc6, 0x1e, 0x7a, 0x93, 0x74, 0x4f, 0x39, 0xee,
                                   0x10, 0x73, 0x4a, 0xfe, 0x3f, 0xf7, 0xa0, 0x87};
static const uint8_t b3_salt[14] = {0x30, 0xcb, 0xbc, 0x08, 0x86, 0x3d, 0x8c,
                                    0x85, 0xd4, 0x9d, 0xb3, 0x4a, 0x9a, 0xe1};
static const uint8_t b3_auth[20] = {0xce, 0xbe, 0x32, 0x1f, 0x6f, 0xf7, 0x71, 0x6b, 0x6f, 0xd4,
                                    0xab, 0x49, 0xaf, 0x25, 0x6a, 0x15, 0x6d, 0x38, 0xba, 0xa4};

/* RFC 3711 4.3: PRF(master key, (label || 0) XOR salt), AES-CM keystream with that IV. */
static void kdf(uint8_t label, uint8_t *out, size_t n)
{
    mbedtls_aes_context aes;
    uint8_t iv[16] = {0}, stream[16], zero[32] = {0};
    size_t off = 0;
    memcpy(iv, kat_master + 16, 14);
    iv[7] ^= label;
    mbedtls_aes_init(&aes);
    assert_int_equal(mbedtls_aes_setkey_enc(&aes, kat_master, 128), 0);
    assert_int_equal(mbedtls_aes_crypt_ctr(&aes, n, &off, iv, stream, zero, out), 0);
    mbedtls_aes_free(&aes);
}

/* SRTP with AES-CM and HMAC-SHA1-80 written out from RFC 3711 3.1, 4.1.1, 4.2 (ROC 0). */
static size_t reference_protect(const uint8_t *pkt, size_t len, uint8_t *out)
{
    uint8_t ck[16], cs[14], ak[20];
    kdf(0x00, ck, sizeof ck);
    kdf(0x02, cs, sizeof cs);
    kdf(0x01, ak, sizeof ak);
    assert_memory_equal(ck, b3_key, 16);
    assert_memory_equal(cs, b3_salt, 14);
    assert_memory_equal(ak, b3_auth, 20);

    uint8_t iv[16] = {0}, stream[16];
    memcpy(iv, cs, 14);
    for (int i = 0; i < 4; i++)
        iv[4 + i] ^= pkt[8 + i];        /* SSRC */
    iv[12] ^= pkt[2], iv[13] ^= pkt[3]; /* index = ROC(0) || SEQ */
    mbedtls_aes_context aes;
    size_t off = 0;
    mbedtls_aes_init(&aes);
    assert_int_equal(mbedtls_aes_setkey_enc(&aes, ck, 128), 0);
    memcpy(out, pkt, 12);
    assert_int_equal(mbedtls_aes_crypt_ctr(&aes, len - 12, &off, iv, stream, pkt + 12, out + 12),
                     0);
    mbedtls_aes_free(&aes);

    uint8_t mac[20], auth_in[64];
    assert_true(len + 4 <= sizeof auth_in);
    memcpy(auth_in, out, len);
    memset(auth_in + len, 0, 4); /* ROC */
    assert_int_equal(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), ak, sizeof ak,
                                     auth_in, len + 4, mac),
                     0);
    memcpy(out + len, mac, 10);
    return len + 10;
}

static void test_known_answer(void **state)
{
    (void)state;
    /* libsrtp's srtp_validate() reference packets for this master key and SSRC 0xcafebabe. */
    static const uint8_t rtp_plain[28] = {
        0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab,
        0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
    static const uint8_t rtp_cipher[38] = {
        0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e,
        0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d,
        0x24, 0x02, 0xb7, 0x8d, 0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};
    static const uint8_t rtcp_plain[24] = {0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe,
                                           0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
                                           0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
    static const uint8_t rtcp_cipher[38] = {
        0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28, 0x03, 0x5b, 0xe4,
        0x87, 0xb9, 0xbd, 0xbe, 0xf8, 0x90, 0x41, 0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00,
        0x00, 0x01, 0x99, 0x3e, 0x08, 0xcd, 0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98};

    uint8_t ref[64];
    assert_int_equal(reference_protect(rtp_plain, sizeof rtp_plain, ref), sizeof rtp_cipher);
    assert_memory_equal(ref, rtp_cipher, sizeof rtp_cipher);

    fo_srtp_keys_t k;
    memcpy(k.local, kat_master, sizeof k.local);
    memcpy(k.remote, kat_master, sizeof k.remote);
    fo_srtp_t *s = fo_srtp_new(&k);
    assert_non_null(s);
    uint8_t buf[sizeof rtp_plain + FO_SRTP_MAX_TRAILER];
    size_t len = sizeof rtp_plain;
    memcpy(buf, rtp_plain, len);
    assert_int_equal(fo_srtp_protect(s, buf, &len, sizeof buf), 0);
    assert_int_equal(len, sizeof rtp_cipher);
    assert_memory_equal(buf, rtp_cipher, len);
    assert_int_equal(fo_srtp_unprotect(s, buf, &len), 0);
    assert_memory_equal(buf, rtp_plain, sizeof rtp_plain);

    uint8_t rbuf[sizeof rtcp_plain + FO_SRTP_MAX_TRAILER];
    len = sizeof rtcp_plain;
    memcpy(rbuf, rtcp_plain, len);
    assert_int_equal(fo_srtp_protect_rtcp(s, rbuf, &len, sizeof rbuf), 0);
    assert_int_equal(len, sizeof rtcp_cipher);
    assert_memory_equal(rbuf, rtcp_cipher, len);
    assert_int_equal(fo_srtp_unprotect_rtcp(s, rbuf, &len), 0);
    assert_memory_equal(rbuf, rtcp_plain, sizeof rtcp_plain);
    fo_srtp_free(s);
}

/* --- the outbound fast path against libsrtp --------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13; /* xorshift64 */
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static void test_kdf_vectors(void **state)
{
    (void)state;
    /* RFC 3711 B.3: master key, salt and the derived session cipher key, salt and auth key. */
    uint8_t key[16], salt[14], auth[20];
    fo_srtp_out_kdf(kat_master, 0x00, key, sizeof key);
    fo_srtp_out_kdf(kat_master, 0x02, salt, sizeof salt);
    fo_srtp_out_kdf(kat_master, 0x01, auth, sizeof auth);
    assert_memory_equal(key, b3_key, 16);
    assert_memory_equal(salt, b3_salt, 14);
    assert_memory_equal(auth, b3_auth, 20);
    /* Every label against the mbedtls recomputation above (SRTCP's too, and a 32-byte run). */
    for (uint8_t label = 0; label <= 5; label++) {
        uint8_t a[32], b[32];
        fo_srtp_out_kdf(kat_master, label, a, sizeof a);
        kdf(label, b, sizeof b);
        assert_memory_equal(a, b, sizeof a);
    }
    assert_int_equal(fo_srtp_out_self_test(), 0);
}

typedef struct {
    fo_srtp_t *fast, *ref, *peer; /* fast path, libsrtp (stock), receiver of fast's output */
} trio_t;

static trio_t trio_new(void)
{
    fo_srtp_keys_t k, kp;
    for (int i = 0; i < FO_SRTP_MASTER_LEN; i++) {
        k.local[i] = (uint8_t)rnd();
        k.remote[i] = (uint8_t)rnd();
    }
    memcpy(kp.local, k.remote, FO_SRTP_MASTER_LEN);
    memcpy(kp.remote, k.local, FO_SRTP_MASTER_LEN);
    trio_t t;
    assert_int_equal(fo_srtp_set_crypto("libsrtp"), 0);
    t.ref = fo_srtp_new(&k);
    assert_int_equal(fo_srtp_set_crypto("nettle"), 0);
    t.fast = fo_srtp_new(&k);
    t.peer = fo_srtp_new(&kp);
    assert_non_null(t.ref), assert_non_null(t.fast), assert_non_null(t.peer);
    return t;
}

static void trio_free(trio_t *t)
{
    fo_srtp_free(t->fast), fo_srtp_free(t->ref), fo_srtp_free(t->peer);
}

/* An RTP packet with random CSRCs, header extension (one-byte or two-byte profile) and payload
 * length; returns its length. */
static size_t random_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq)
{
    unsigned cc = rnd() % 4 == 0 ? rnd() % 16 : 0, x = rnd() % 3 == 0;
    buf[0] = (uint8_t)(0x80 | (x ? 0x10 : 0) | cc);
    buf[1] = (uint8_t)(rnd() & 0xff);
    buf[2] = (uint8_t)(seq >> 8), buf[3] = (uint8_t)seq;
    uint32_t ts = rnd();
    buf[4] = (uint8_t)(ts >> 24), buf[5] = (uint8_t)(ts >> 16), buf[6] = (uint8_t)(ts >> 8);
    buf[7] = (uint8_t)ts;
    buf[8] = (uint8_t)(ssrc >> 24), buf[9] = (uint8_t)(ssrc >> 16), buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    size_t n = 12;
    for (unsigned i = 0; i < 4 * cc; i++) buf[n++] = (uint8_t)rnd();
    if (x) {
        unsigned words = rnd() % 8;
        uint16_t profile = rnd() % 2 ? 0xBEDE : 0x1000;
        buf[n++] = (uint8_t)(profile >> 8), buf[n++] = (uint8_t)profile;
        buf[n++] = 0, buf[n++] = (uint8_t)words;
        for (unsigned i = 0; i < 4 * words; i++) buf[n++] = (uint8_t)rnd();
    }
    size_t payload = rnd() % 8 == 0 ? rnd() % 16 : rnd() % 1300;
    for (size_t i = 0; i < payload; i++) buf[n++] = (uint8_t)rnd();
    return n;
}

/* Protects the same bytes with the fast path and with libsrtp: same result, same output; the
 * peer then unprotects the fast path's packet (0, or FO_EAGAIN for a replayed index). Returns
 * what protect returned. */
static int protect_both(trio_t *t, const uint8_t *pkt, size_t n, bool rtcp, unsigned *replays)
{
    static uint8_t a[CAP], b[CAP];
    assert_true(n <= CAP - FO_SRTP_MAX_TRAILER);
    memcpy(a, pkt, n), memcpy(b, pkt, n);
    size_t la = n, lb = n;
    int ra = rtcp ? fo_srtp_protect_rtcp(t->fast, a, &la, sizeof a)
                  : fo_srtp_protect(t->fast, a, &la, sizeof a);
    int rb = rtcp ? fo_srtp_protect_rtcp(t->ref, b, &lb, sizeof b)
                  : fo_srtp_protect(t->ref, b, &lb, sizeof b);
    assert_int_equal(ra, rb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    if (ra != 0) {
        assert_memory_equal(a, pkt, n); /* untouched on failure */
        return ra;
    }
    int ru = rtcp ? fo_srtp_unprotect_rtcp(t->peer, a, &la) : fo_srtp_unprotect(t->peer, a, &la);
    if (ru == FO_EAGAIN) {
        (*replays)++;
    } else {
        assert_int_equal(ru, 0);
        assert_int_equal(la, n);
        assert_memory_equal(a, pkt, n);
    }
    return 0;
}

/* Several SSRCs interleaved (more than the fast path's table when `n_ssrc` > 8), starting just
 * before the sequence wrap: in order, small gaps, repeats (NACK retransmissions on the original
 * SSRC), old sequence numbers inside and beyond libsrtp's window (across the wrap too), and
 * large jumps either way. */
static void rtp_sequence(unsigned n_ssrc, unsigned packets)
{
    trio_t t = trio_new();
    uint32_t ssrc[16];
    uint16_t next[16];
    assert_true(n_ssrc <= 16);
    for (unsigned i = 0; i < n_ssrc; i++) {
        ssrc[i] = rnd();
        next[i] = (uint16_t)(i % 3 == 0 ? 65536 - 200 - rnd() % 400 : rnd());
    }
    static uint8_t pkt[CAP];
    unsigned ok = 0, old = 0, replays = 0, wraps = 0;
    for (unsigned k = 0; k < packets; k++) {
        unsigned i = rnd() % 10 < 6 ? k / 7 % n_ssrc : rnd() % n_ssrc;
        unsigned what = rnd() % 100;
        uint16_t seq, prev = next[i];
        if (what < 70) { /* next, sometimes after a gap */
            seq = next[i];
            next[i] = (uint16_t)(next[i] + 1 + (rnd() % 10 == 0 ? rnd() % 50 : 0));
        } else if (what < 82) { /* a retransmission of a recent one */
            seq = (uint16_t)(next[i] - 1 - rnd() % 64);
        } else if (what < 92) { /* an old one, near and past the window's edge */
            seq = (uint16_t)(next[i] - 1 - (FO_SRTP_WINDOW - 40) - rnd() % 80);
        } else if (what < 97) { /* anything (ahead of next: the new highest) */
            seq = (uint16_t)rnd();
            if ((int16_t)(seq - next[i]) >= 0) next[i] = (uint16_t)(seq + 1);
        } else { /* a jump forward */
            seq = (uint16_t)(next[i] + 1000 + rnd() % 30000);
            next[i] = (uint16_t)(seq + 1);
        }
        if (next[i] < prev && (int16_t)(next[i] - prev) > 0) wraps++; /* ROC + 1 */
        size_t n = random_rtp(pkt, ssrc[i], seq);
        int rc = protect_both(&t, pkt, n, false, &replays);
        if (rc == 0) ok++;
        else if (rc == FO_EAGAIN) old++;
        else fail_msg("protect: %d", rc);
    }
    printf("%u SSRCs: %u protected, %u too old, %u replays at the peer, %u wraps\n", n_ssrc, ok,
           old, replays, wraps);
    /* The sequences above must reach every case. */
    assert_true(ok > packets / 2);
    assert_true(old > 0);
    assert_true(replays > 0);
    assert_true(wraps >= n_ssrc / 3);
    trio_free(&t);
}

static void test_fast_rtp_matches_libsrtp(void **state)
{
    (void)state;
    rtp_sequence(3, 6000);
    rtp_sequence(FO_SRTP_OUT_STREAMS, 6000);
    rtp_sequence(13, 6000); /* 5 SSRCs through the overflow libsrtp session */
}

static void test_fast_rtcp_matches_libsrtp(void **state)
{
    (void)state;
    trio_t t = trio_new();
    uint32_t ssrc[11];
    for (unsigned i = 0; i < FO_ARRAY_LEN(ssrc); i++) ssrc[i] = rnd();
    static uint8_t pkt[CAP];
    unsigned replays = 0;
    for (unsigned k = 0; k < 3000; k++) {
        /* mostly 4 SSRCs (the table), sometimes the others (the overflow session) */
        uint32_t s = ssrc[rnd() % 10 ? rnd() % 4 : rnd() % FO_ARRAY_LEN(ssrc)];
        size_t n = 8 + (rnd() % 4 == 0 ? rnd() % 8 : rnd() % 600);
        for (size_t i = 0; i < n; i++) pkt[i] = (uint8_t)rnd();
        pkt[0] = 0x80, pkt[1] = (uint8_t)(200 + rnd() % 7);
        pkt[4] = (uint8_t)(s >> 24), pkt[5] = (uint8_t)(s >> 16), pkt[6] = (uint8_t)(s >> 8);
        pkt[7] = (uint8_t)s;
        assert_int_equal(protect_both(&t, pkt, n, true, &replays), 0);
    }
    assert_int_equal(replays, 0);
    trio_free(&t);
}

/* The three modes of fo_srtp_set_crypto produce the same bytes. */
static void test_modes_agree(void **state)
{
    (void)state;
    static const char *const modes[] = {"libsrtp", "libsrtp+nettle", "nettle"};
    fo_srtp_t *s[3];
    fo_srtp_keys_t k;
    for (int i = 0; i < FO_SRTP_MASTER_LEN; i++) k.local[i] = k.remote[i] = (uint8_t)rnd();
    for (int m = 0; m < 3; m++) {
        assert_int_equal(fo_srtp_set_crypto(modes[m]), 0);
        assert_string_equal(fo_srtp_crypto(), modes[m]);
        assert_non_null(s[m] = fo_srtp_new(&k));
    }
    static uint8_t pkt[CAP], out[3][CAP];
    for (unsigned n = 0; n < 500; n++) {
        bool rtcp = n % 5 == 4;
        size_t len = rtcp ? make_rtcp(pkt, 7 + n % 2) : random_rtp(pkt, 1 + n % 3, (uint16_t)n);
        size_t l[3];
        for (int m = 0; m < 3; m++) {
            memcpy(out[m], pkt, len);
            l[m] = len;
            assert_int_equal(rtcp ? fo_srtp_protect_rtcp(s[m], out[m], &l[m], CAP)
                                  : fo_srtp_protect(s[m], out[m], &l[m], CAP),
                             0);
        }
        assert_int_equal(l[0], l[1]), assert_int_equal(l[0], l[2]);
        assert_memory_equal(out[0], out[1], l[0]);
        assert_memory_equal(out[0], out[2], l[0]);
    }
    for (int m = 0; m < 3; m++) fo_srtp_free(s[m]);
    assert_string_equal(fo_srtp_crypto(), "nettle");
}

/* Malformed RTP: the fast path refuses exactly what libsrtp refuses, never writes, and never
 * reads past the packet (ASan: the packet is copied to a heap block of exactly its length plus
 * the trailer room). */
static void test_fast_malformed(void **state)
{
    (void)state;
    trio_t t = trio_new();
    static const struct {
        uint8_t b0;
        size_t len;
        uint16_t ext_words;
        int rc;
    } cases[] = {
        {0x80, 11, 0, FO_EINVAL},      /* shorter than a header */
        {0x80, 12, 0, 0},              /* a bare header: nothing to encrypt */
        {0x81, 15, 0, FO_EINVAL},      /* one CSRC, cut */
        {0x81, 16, 0, 0},              /* one CSRC, no payload */
        {0x8f, 71, 0, FO_EINVAL},      /* 15 CSRCs, one byte short */
        {0x8f, 72, 0, 0},              /* 15 CSRCs */
        {0x90, 15, 0, FO_EINVAL},      /* X, the extension header cut */
        {0x90, 16, 0, 0},              /* X, empty extension */
        {0x90, 16, 1, FO_EINVAL},      /* X, one word announced, none there */
        {0x90, 23, 2, FO_EINVAL},      /* X, two words announced, 7 bytes there */
        {0x90, 24, 2, 0},              /* exactly */
        {0x92, 31, 2, FO_EINVAL},      /* CSRCs and extension, one short */
        {0x92, 100, 2, 0},             /* CSRCs, extension and payload */
        {0x90, 16, 0xffff, FO_EINVAL}, /* the largest extension length */
        {0x10, 40, 1, 0},              /* version 0: libsrtp does not check it either */
    };
    unsigned replays = 0;
    for (size_t i = 0; i < FO_ARRAY_LEN(cases); i++) {
        uint8_t hdr[CAP];
        memset(hdr, 0x5a, sizeof hdr);
        hdr[0] = cases[i].b0, hdr[1] = 96, hdr[2] = 0, hdr[3] = (uint8_t)(i + 1);
        hdr[8] = 0x77, hdr[9] = 0x66, hdr[10] = 0x55, hdr[11] = 0x44;
        size_t ext_at = 12 + 4 * (cases[i].b0 & 0x0f);
        if ((cases[i].b0 & 0x10) && ext_at + 4 <= sizeof hdr) {
            hdr[ext_at] = 0xbe, hdr[ext_at + 1] = 0xde;
            hdr[ext_at + 2] = (uint8_t)(cases[i].ext_words >> 8);
            hdr[ext_at + 3] = (uint8_t)cases[i].ext_words;
        }
        size_t len = cases[i].len, cap = len + FO_SRTP_MAX_TRAILER;
        uint8_t *heap = malloc(cap);
        assert_non_null(heap);
        memcpy(heap, hdr, len);
        int rc = fo_srtp_protect(t.fast, heap, &len, cap);
        if (rc != cases[i].rc) fail_msg("case %zu: %d, expected %d", i, rc, cases[i].rc);
        if (rc) {
            assert_int_equal(len, cases[i].len);
            assert_memory_equal(heap, hdr, len);
        }
        free(heap);
        assert_int_equal(protect_both(&t, hdr, cases[i].len, false, &replays), cases[i].rc);
    }
    /* No trailer room: refused before anything is read. */
    uint8_t buf[64];
    size_t len = make_rtp(buf, 1, 2, 40);
    assert_int_equal(fo_srtp_protect(t.fast, buf, &len, sizeof buf), FO_ETOOBIG);
    assert_int_equal(fo_srtp_protect_rtcp(t.fast, buf, &len, sizeof buf), FO_ETOOBIG);
    len = 7;
    assert_int_equal(fo_srtp_protect_rtcp(t.fast, buf, &len, CAP), FO_EINVAL);
    trio_free(&t);
}

/* The engine directly: the SRTCP index stops where libsrtp's does; the table does not evict. */
static void test_fast_limits(void **state)
{
    (void)state;
    fo_srtp_out_t *o = malloc(sizeof *o);
    assert_non_null(o);
    fo_srtp_out_init(o, kat_master);
    uint8_t buf[64 + FO_SRTP_MAX_TRAILER];
    size_t len = make_rtcp(buf, 0xcafe);
    assert_int_equal(fo_srtp_out_protect_rtcp(o, buf, &len), 0);
    assert_int_equal(o->n, 1);
    o->streams[0].rtcp_index = 0x7ffffffe;
    len = make_rtcp(buf, 0xcafe);
    assert_int_equal(fo_srtp_out_protect_rtcp(o, buf, &len), 0);
    assert_int_equal(buf[32], 0xff), assert_int_equal(buf[35], 0xff); /* E || 0x7fffffff */
    len = make_rtcp(buf, 0xcafe);
    assert_int_equal(fo_srtp_out_protect_rtcp(o, buf, &len), FO_ECRYPTO);
    for (uint32_t s = 1; s < FO_SRTP_OUT_STREAMS; s++) {
        len = make_rtp(buf, 1, s, 40);
        assert_int_equal(fo_srtp_out_protect(o, buf, &len), 0);
    }
    uint8_t before[64];
    len = make_rtp(buf, 1, 0xfeed, 40);
    memcpy(before, buf, 40);
    assert_int_equal(fo_srtp_out_protect(o, buf, &len), FO_EFULL);
    assert_int_equal(len, 40);
    assert_memory_equal(buf, before, 40);
    len = make_rtp(buf, 2, 3, 40); /* a known SSRC still works */
    assert_int_equal(fo_srtp_out_protect(o, buf, &len), 0);
    fo_srtp_out_wipe(o);
    free(o);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* nettle's primitives (the default) and libsrtp's own (NSS) interoperate byte for byte: each
 * protects, the other unprotects, RTP of every length from a bare header to 1400 bytes (partial
 * AES blocks) and RTCP, in both directions; and protect gives identical bytes. */
static void test_nettle_matches_libsrtp(void **state)
{
    (void)state;
    const char *was = fo_srtp_crypto(); /* a static string; restored at the end */
    if (!getenv("FANOUT_SRTP_CRYPTO")) assert_string_equal(was, "nettle");
    fo_srtp_keys_t ka, kb;
    for (int i = 0; i < FO_SRTP_MASTER_LEN; i++) {
        ka.local[i] = (uint8_t)(i * 11 + 3);
        ka.remote[i] = (uint8_t)(i * 17 + 9);
    }
    memcpy(kb.local, ka.remote, FO_SRTP_MASTER_LEN);
    memcpy(kb.remote, ka.local, FO_SRTP_MASTER_LEN);
    assert_int_equal(fo_srtp_set_crypto("libsrtp"), 0);
    assert_string_equal(fo_srtp_crypto(), "libsrtp");
    fo_srtp_t *stock_a = fo_srtp_new(&ka), *stock_b = fo_srtp_new(&kb);
    assert_int_equal(fo_srtp_set_crypto("nettle"), 0);
    assert_string_equal(fo_srtp_crypto(), "nettle");
    fo_srtp_t *fast_a = fo_srtp_new(&ka), *fast_b = fo_srtp_new(&kb);
    assert_non_null(stock_a), assert_non_null(stock_b), assert_non_null(fast_a);
    assert_non_null(fast_b);
    assert_int_equal(fo_srtp_set_crypto("rot13"), FO_EINVAL);

    uint8_t x[CAP], y[CAP];
    for (size_t n = 12; n <= 1400; n += (n < 80 ? 1 : 37)) {
        uint16_t seq = (uint16_t)(100 + n);
        size_t lx = make_rtp(x, seq, 0x1234, n), ly = make_rtp(y, seq, 0x1234, n);
        assert_int_equal(fo_srtp_protect(stock_a, x, &lx, sizeof x), 0);
        assert_int_equal(fo_srtp_protect(fast_a, y, &ly, sizeof y), 0);
        assert_int_equal(lx, ly);
        assert_memory_equal(x, y, lx);
        assert_int_equal(fo_srtp_unprotect(fast_b, x, &lx), 0);
        assert_int_equal(fo_srtp_unprotect(stock_b, y, &ly), 0);
        make_rtp(y, seq, 0x1234, n);
        assert_int_equal(lx, n);
        assert_memory_equal(x, y, n);
        /* the other way */
        lx = make_rtp(x, seq, 0x5678, n);
        assert_int_equal(fo_srtp_protect(fast_b, x, &lx, sizeof x), 0);
        assert_int_equal(fo_srtp_unprotect(stock_a, x, &lx), 0);
        assert_int_equal(lx, n);
        x[n - 1] ^= 1; /* and a forgery fails under nettle's HMAC */
        lx = make_rtp(x, (uint16_t)(seq + 5000), 0x5678, n);
        assert_int_equal(fo_srtp_protect(stock_b, x, &lx, sizeof x), 0);
        x[lx - 1] ^= 1;
        assert_int_equal(fo_srtp_unprotect(fast_a, x, &lx), FO_EAUTH);
    }
    for (int i = 0; i < 4; i++) {
        size_t lx = make_rtcp(x, 0x99), ly = make_rtcp(y, 0x99);
        assert_int_equal(fo_srtp_protect_rtcp(stock_a, x, &lx, sizeof x), 0);
        assert_int_equal(fo_srtp_protect_rtcp(fast_a, y, &ly, sizeof y), 0);
        assert_int_equal(lx, ly);
        assert_memory_equal(x, y, lx);
        assert_int_equal(fo_srtp_unprotect_rtcp(fast_b, x, &lx), 0);
        assert_int_equal(fo_srtp_unprotect_rtcp(stock_b, y, &ly), 0);
        assert_int_equal(lx, 32);
    }
    fo_srtp_free(stock_a), fo_srtp_free(stock_b), fo_srtp_free(fast_a), fo_srtp_free(fast_b);
    assert_int_equal(fo_srtp_set_crypto(was), 0);
}

/* Informative only: the cost that fan-out pays per player per packet. */
static void test_protect_cost(void **state)
{
    pair_t *p = *state;
    enum { N = 50000 };
    uint8_t buf[CAP];
    make_rtp(buf, 0, 0x42, 1200);
    double best = 1e9;
    for (int round = 0; round < 3; round++) {
        double t0 = now_s();
        for (int i = 0; i < N; i++) {
            size_t len = 1200;
            buf[0] = 0x80, buf[1] = 96, buf[2] = (uint8_t)(i >> 8), buf[3] = (uint8_t)i;
            buf[8] = 0x42, buf[9] = (uint8_t)round;
            assert_int_equal(fo_srtp_protect(p->a, buf, &len, sizeof buf), 0);
        }
        double us = (now_s() - t0) * 1e6 / N;
        if (us < best) best = us;
    }
    printf("fo_srtp_protect, 1200-byte RTP, AES_CM_128_HMAC_SHA1_80 (%s): %.2f us/packet (best of "
           "3 x %d)\n",
           fo_srtp_crypto(), best, N);
}

int main(void)
{
    fo_log_set_level(FO_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtp_roundtrip),  cmocka_unit_test(test_rtcp_roundtrip),
        cmocka_unit_test(test_tamper),         cmocka_unit_test(test_replay),
        cmocka_unit_test(test_room_and_sizes), cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_nettle_matches_libsrtp), cmocka_unit_test(test_kdf_vectors),
        cmocka_unit_test(test_fast_rtp_matches_libsrtp),
        cmocka_unit_test(test_fast_rtcp_matches_libsrtp), cmocka_unit_test(test_fast_malformed),
        cmocka_unit_test(test_modes_agree),
        cmocka_unit_test(test_fast_limits), cmocka_unit_test(test_protect_cost),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
