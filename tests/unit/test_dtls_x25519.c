/* SPDX-License-Identifier: MIT */
/* dtls_x25519: mbedtls's ECDHE functions, as libmbedtls calls them, give RFC 7748's test
 * vector (6.1) through nettle: the ServerKeyExchange point of Alice's key, and the shared secret
 * with Bob's point; a context whose key pair mbedtls made itself (a relay's client side) agrees
 * with ours; a small-order point is refused; other groups still go to mbedtls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/entropy.h>

#include "fanout/dtls_x25519.h"

static const uint8_t alice_priv[32] = {0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1,
                                       0x72, 0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0,
                                       0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a};
static const uint8_t alice_pub[32] = {0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d,
                                      0xdc, 0xb4, 0x3e, 0xf7, 0x5a, 0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38,
                                      0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
static const uint8_t bob_pub[32] = {0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61,
                                    0xc2, 0xec, 0xe4, 0x35, 0x37, 0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78,
                                    0x67, 0x4d, 0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88, 0x2b, 0x4f};
static const uint8_t shared[32] = {0x4a, 0x5d, 0x9d, 0x5b, 0xa4, 0xce, 0x2d, 0xe1, 0x72, 0x8e, 0x3b,
                                   0xf4, 0x80, 0x35, 0x0f, 0x25, 0xe0, 0x7e, 0x21, 0xc9, 0x47, 0xd1,
                                   0x9e, 0x33, 0x76, 0xf0, 0x9b, 0x3c, 0x1e, 0x16, 0x17, 0x42};

/* An "RNG" that hands out Alice's private key. */
static int alice_rng(void *p, unsigned char *out, size_t len)
{
    (void)p;
    assert_int_equal(len, 32);
    memcpy(out, alice_priv, 32);
    return 0;
}

static int real_rng(void *p, unsigned char *out, size_t len) { return mbedtls_ctr_drbg_random(p, out, len); }

/* The ClientKeyExchange's ECPoint: a length byte and the point. */
static void peer_point(mbedtls_ecdh_context *ctx, const uint8_t pub[32])
{
    uint8_t msg[33] = {32};
    memcpy(msg + 1, pub, 32);
    assert_int_equal(mbedtls_ecdh_read_public(ctx, msg, sizeof msg), 0);
}

static void test_rfc7748_vector(void **state)
{
    (void)state;
    assert_true(fo_dtls_x25519_ready());
    mbedtls_ecdh_context ctx;
    mbedtls_ecdh_init(&ctx);
    assert_int_equal(mbedtls_ecdh_setup(&ctx, MBEDTLS_ECP_DP_CURVE25519), 0);
    uint8_t params[128];
    size_t n = 0;
    assert_int_equal(mbedtls_ecdh_make_params(&ctx, &n, params, sizeof params, alice_rng, NULL), 0);
    static const uint8_t head[4] = {3, 0, 29, 32}; /* named_curve x25519, a 32-byte point */
    assert_int_equal(n, 36);
    assert_memory_equal(params, head, 4);
    assert_memory_equal(params + 4, alice_pub, 32);
    peer_point(&ctx, bob_pub);
    uint8_t z[64];
    assert_int_equal(mbedtls_ecdh_calc_secret(&ctx, &n, z, sizeof z, alice_rng, NULL), 0);
    assert_int_equal(n, 32);
    assert_memory_equal(z, shared, 32);
    mbedtls_ecdh_free(&ctx);
}

/* mbedtls's own key pair (the client side: read_params + make_public), our secret: both sides
 * of one exchange agree, whichever made which key. */
static void test_agrees_with_mbedtls(void **state)
{
    (void)state;
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0), 0);
    mbedtls_ecdh_context srv, cli;
    mbedtls_ecdh_init(&srv);
    mbedtls_ecdh_init(&cli);
    assert_int_equal(mbedtls_ecdh_setup(&srv, MBEDTLS_ECP_DP_CURVE25519), 0);
    uint8_t params[128], pub[64], zs[32], zc[32];
    size_t n = 0, pn = 0, ns = 0, nc = 0;
    assert_int_equal(mbedtls_ecdh_make_params(&srv, &n, params, sizeof params, real_rng, &drbg), 0);
    const unsigned char *p = params;
    assert_int_equal(mbedtls_ecdh_read_params(&cli, &p, params + n), 0);
    assert_int_equal(mbedtls_ecdh_make_public(&cli, &pn, pub, sizeof pub, real_rng, &drbg), 0);
    assert_int_equal(mbedtls_ecdh_read_public(&srv, pub, pn), 0);
    assert_int_equal(mbedtls_ecdh_calc_secret(&srv, &ns, zs, sizeof zs, real_rng, &drbg), 0);
    assert_int_equal(mbedtls_ecdh_calc_secret(&cli, &nc, zc, sizeof zc, real_rng, &drbg), 0);
    assert_int_equal(ns, 32);
    assert_int_equal(nc, 32);
    assert_memory_equal(zs, zc, 32);
    mbedtls_ecdh_free(&srv);
    mbedtls_ecdh_free(&cli);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
}

static void test_small_order_point_refused(void **state)
{
    (void)state;
    mbedtls_ecdh_context ctx;
    mbedtls_ecdh_init(&ctx);
    assert_int_equal(mbedtls_ecdh_setup(&ctx, MBEDTLS_ECP_DP_CURVE25519), 0);
    uint8_t params[128], z[32];
    size_t n = 0;
    assert_int_equal(mbedtls_ecdh_make_params(&ctx, &n, params, sizeof params, alice_rng, NULL), 0);
    static const uint8_t zero[32] = {0}; /* u = 0: every scalar gives an all-zero secret */
    peer_point(&ctx, zero);
    assert_int_not_equal(mbedtls_ecdh_calc_secret(&ctx, &n, z, sizeof z, alice_rng, NULL), 0);
    mbedtls_ecdh_free(&ctx);
}

/* P-256 still goes to mbedtls (a browser that offers no X25519). */
static void test_other_groups_to_mbedtls(void **state)
{
    (void)state;
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0), 0);
    mbedtls_ecdh_context ctx;
    mbedtls_ecdh_init(&ctx);
    assert_int_equal(mbedtls_ecdh_setup(&ctx, MBEDTLS_ECP_DP_SECP256R1), 0);
    uint8_t params[256];
    size_t n = 0;
    assert_int_equal(mbedtls_ecdh_make_params(&ctx, &n, params, sizeof params, real_rng, &drbg), 0);
    assert_int_equal(n, 3 + 1 + 65); /* secp256r1 (23), an uncompressed point */
    assert_int_equal(params[2], 23);
    mbedtls_ecdh_free(&ctx);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7748_vector),
        cmocka_unit_test(test_agrees_with_mbedtls),
        cmocka_unit_test(test_small_order_point_refused),
        cmocka_unit_test(test_other_groups_to_mbedtls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
