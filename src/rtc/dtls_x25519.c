/* SPDX-License-Identifier: MIT */
/* nettle's X25519 under mbedtls's ECDHE (see the header). The wire format is RFC 8422's:
 * ServerECDHParams = ECParameters (named_curve 3, x25519 = 29) + ECPoint (a length byte, then
 * the 32-byte little-endian u-coordinate), as mbedtls_ecp_tls_write_group/_point write it. */
#include "fanout/dtls_x25519.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include <mbedtls/ecdh.h>
#include <mbedtls/platform_util.h>
#include <nettle/curve25519.h>

#include "fanout/log.h"

typedef int (*rng_fn)(void *, unsigned char *, size_t);
typedef int (*make_params_fn)(mbedtls_ecdh_context *, size_t *, unsigned char *, size_t, rng_fn, void *);
typedef int (*calc_secret_fn)(mbedtls_ecdh_context *, size_t *, unsigned char *, size_t, rng_fn, void *);

static make_params_fn next_make_params;
static calc_secret_fn next_calc_secret;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void find_next(void)
{
    next_make_params = (make_params_fn)dlsym(RTLD_NEXT, "mbedtls_ecdh_make_params");
    next_calc_secret = (calc_secret_fn)dlsym(RTLD_NEXT, "mbedtls_ecdh_calc_secret");
}

bool fo_dtls_x25519_ready(void)
{
    pthread_once(&once, find_next);
    bool ok = next_make_params && next_calc_secret;
    FO_LOG(ok ? FO_LOG_DEBUG : FO_LOG_WARN, "dtls", "X25519 %s", ok ? "through nettle" : "through mbedtls (its functions were not found)");
    return ok;
}

static bool ours(const mbedtls_ecdh_context *ctx)
{
    return ctx->grp.id == MBEDTLS_ECP_DP_CURVE25519 && next_make_params && next_calc_secret;
}

int mbedtls_ecdh_make_params(mbedtls_ecdh_context *ctx, size_t *olen, unsigned char *buf, size_t blen,
                             int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
    pthread_once(&once, find_next);
    if (!ours(ctx))
        return next_make_params ? next_make_params(ctx, olen, buf, blen, f_rng, p_rng)
                                : MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE;
    if (blen < 4 + CURVE25519_SIZE || !f_rng) return MBEDTLS_ERR_ECP_BAD_INPUT_DATA;
    uint8_t d[CURVE25519_SIZE], q[CURVE25519_SIZE];
    int rc = f_rng(p_rng, d, sizeof d);
    if (rc != 0) return rc;
    d[0] &= 248; /* RFC 7748 5: the scalar mbedtls keeps, clamped as its own key generation does */
    d[31] &= 127;
    d[31] |= 64;
    curve25519_mul_g(q, d);
    rc = mbedtls_mpi_read_binary_le(&ctx->d, d, sizeof d);
    if (rc == 0) rc = mbedtls_mpi_read_binary_le(&ctx->Q.X, q, sizeof q);
    if (rc == 0) rc = mbedtls_mpi_lset(&ctx->Q.Z, 1);
    mbedtls_platform_zeroize(d, sizeof d);
    if (rc != 0) return rc;
    buf[0] = 3; /* named_curve */
    buf[1] = 0;
    buf[2] = 29; /* x25519 */
    buf[3] = CURVE25519_SIZE;
    memcpy(buf + 4, q, sizeof q);
    *olen = 4 + CURVE25519_SIZE;
    return 0;
}

int mbedtls_ecdh_calc_secret(mbedtls_ecdh_context *ctx, size_t *olen, unsigned char *buf, size_t blen,
                             int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
    pthread_once(&once, find_next);
    if (!ours(ctx) || mbedtls_mpi_size(&ctx->d) > CURVE25519_SIZE ||
        mbedtls_mpi_size(&ctx->Qp.X) > CURVE25519_SIZE)
        return next_calc_secret ? next_calc_secret(ctx, olen, buf, blen, f_rng, p_rng)
                                : MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE;
    if (blen < CURVE25519_SIZE) return MBEDTLS_ERR_ECP_BAD_INPUT_DATA;
    uint8_t d[CURVE25519_SIZE], p[CURVE25519_SIZE], z[CURVE25519_SIZE];
    int rc = mbedtls_mpi_write_binary_le(&ctx->d, d, sizeof d);
    if (rc == 0) rc = mbedtls_mpi_write_binary_le(&ctx->Qp.X, p, sizeof p);
    if (rc == 0) {
        curve25519_mul(z, d, p);
        /* an all-zero secret: the peer sent a small-order point (RFC 7748 6.1), as mbedtls refuses */
        uint8_t any = 0;
        for (size_t i = 0; i < sizeof z; i++) any |= z[i];
        if (!any) rc = MBEDTLS_ERR_ECP_INVALID_KEY;
    }
    if (rc == 0) rc = mbedtls_mpi_read_binary_le(&ctx->z, z, sizeof z);
    if (rc == 0) {
        memcpy(buf, z, sizeof z);
        *olen = sizeof z;
    }
    mbedtls_platform_zeroize(d, sizeof d);
    mbedtls_platform_zeroize(z, sizeof z);
    return rc;
}
