/* SPDX-License-Identifier: MIT */
/* fo_srtp: round trips with crosswise keys, authentication and replay failures, buffer room,
 * known answers (RFC 3711 B.3 key derivation, recomputed here with mbedtls's AES and HMAC, and
 * libsrtp's reference packets for the same master key), and the cost of protect (printed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/aes.h>
#include <mbedtls/md.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/srtp.h"

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
    /* RFC 3711 B.3's session cipher key and salt. */
    static const uint8_t b3_key[16] = {0xc6, 0x1e, 0x7a, 0x93, 0x74, 0x4f, 0x39, 0xee,
                                       0x10, 0x73, 0x4a, 0xfe, 0x3f, 0xf7, 0xa0, 0x87};
    static const uint8_t b3_salt[14] = {0x30, 0xcb, 0xbc, 0x08, 0x86, 0x3d, 0x8c,
                                        0x85, 0xd4, 0x9d, 0xb3, 0x4a, 0x9a, 0xe1};
    assert_memory_equal(ck, b3_key, 16);
    assert_memory_equal(cs, b3_salt, 14);

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
        cmocka_unit_test(test_nettle_matches_libsrtp), cmocka_unit_test(test_protect_cost),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
