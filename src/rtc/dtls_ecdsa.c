/* SPDX-License-Identifier: MIT */
/* nettle's ECDSA P-256 behind mbedtls's pk interface (see the header). Signatures are DER
 * SEQUENCE { INTEGER r, INTEGER s } both ways, as mbedtls's own ECDSA writes and reads them;
 * errors are mbedtls's codes, so the handshake reacts exactly as before. */
#include "fanout/dtls_ecdsa.h"

#include <pthread.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/pk_internal.h>
#include <mbedtls/platform_util.h>
#include <nettle/bignum.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>

#define P256_BYTES 32
#define DER_SIG_MAX (2 + 2 * (2 + 1 + P256_BYTES)) /* 72 */

static mbedtls_pk_info_t nettle_eckey_info;
static pthread_once_t info_once = PTHREAD_ONCE_INIT;

/* mpi (at most 32 bytes) -> mpz */
static bool mpi_to_mpz(const mbedtls_mpi *x, mpz_t out)
{
    uint8_t b[P256_BYTES];
    if (mbedtls_mpi_size(x) > sizeof b || mbedtls_mpi_write_binary(x, b, sizeof b) != 0) return false;
    nettle_mpz_set_str_256_u(out, sizeof b, b);
    mbedtls_platform_zeroize(b, sizeof b);
    return true;
}

static bool is_p256(const mbedtls_ecp_keypair *kp) { return kp->grp.id == MBEDTLS_ECP_DP_SECP256R1; }

/* --- verify ----------------------------------------------------------------------------- */

/* One DER INTEGER, positive, at most 32 bytes once leading zeros are dropped. */
static bool read_int(unsigned char **p, const unsigned char *end, mpz_t out)
{
    size_t len;
    if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_INTEGER) != 0 || len == 0) return false;
    const unsigned char *v = *p;
    *p += len;
    if (v[0] & 0x80) return false; /* negative */
    while (len > 1 && v[0] == 0) v++, len--;
    if (len > P256_BYTES) return false;
    nettle_mpz_set_str_256_u(out, len, v);
    return true;
}

static int verify_cb(void *ctx, mbedtls_md_type_t md_alg, const unsigned char *hash,
                     size_t hash_len, const unsigned char *sig, size_t sig_len)
{
    (void)md_alg;
    const mbedtls_ecp_keypair *kp = ctx;
    unsigned char *p = (unsigned char *)sig;
    const unsigned char *end = sig + sig_len;
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
        return MBEDTLS_ERR_ECP_BAD_INPUT_DATA;
    if (p + len != end) return MBEDTLS_ERR_ECP_BAD_INPUT_DATA + MBEDTLS_ERR_ASN1_LENGTH_MISMATCH;
    struct dsa_signature s;
    struct ecc_point pub;
    mpz_t x, y;
    dsa_signature_init(&s);
    ecc_point_init(&pub, nettle_get_secp_256r1());
    mpz_inits(x, y, NULL);
    int ret = MBEDTLS_ERR_ECP_BAD_INPUT_DATA;
    if (!read_int(&p, end, s.r) || !read_int(&p, end, s.s)) goto out;
    if (p != end) {
        ret = MBEDTLS_ERR_ECP_BAD_INPUT_DATA + MBEDTLS_ERR_ASN1_LENGTH_MISMATCH;
        goto out;
    }
    /* ecc_point_set refuses a point off the curve (mbedtls checked it when parsing, too). */
    if (!mpi_to_mpz(&kp->Q.X, x) || !mpi_to_mpz(&kp->Q.Y, y) || !ecc_point_set(&pub, x, y))
        goto out;
    ret = ecdsa_verify(&pub, hash_len, hash, &s) ? 0 : MBEDTLS_ERR_ECP_VERIFY_FAILED;
out:
    mpz_clears(x, y, NULL);
    ecc_point_clear(&pub);
    dsa_signature_clear(&s);
    return ret;
}

/* --- sign ------------------------------------------------------------------------------- */

typedef struct {
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;
    int err;
} rng_t;

/* nettle's random function over mbedtls's RNG (the DRBG the configuration gave). */
static void rng_cb(void *ctx, size_t len, uint8_t *dst)
{
    rng_t *r = ctx;
    int ret = r->f_rng(r->p_rng, dst, len);
    if (ret != 0 && r->err == 0) r->err = ret;
}

/* DER INTEGER of a 32-byte big-endian value: leading zeros dropped, a zero added for the sign. */
static size_t put_int(unsigned char *out, const uint8_t v[P256_BYTES])
{
    size_t skip = 0;
    while (skip < P256_BYTES - 1 && v[skip] == 0) skip++;
    size_t n = P256_BYTES - skip, pad = v[skip] & 0x80 ? 1 : 0;
    out[0] = MBEDTLS_ASN1_INTEGER;
    out[1] = (unsigned char)(n + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v + skip, n);
    return 2 + pad + n;
}

static int sign_cb(void *ctx, mbedtls_md_type_t md_alg, const unsigned char *hash,
                   size_t hash_len, unsigned char *sig, size_t *sig_len,
                   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
    (void)md_alg;
    const mbedtls_ecp_keypair *kp = ctx;
    if (!f_rng) return MBEDTLS_ERR_ECP_BAD_INPUT_DATA;
    struct ecc_scalar key;
    struct dsa_signature s;
    mpz_t d;
    ecc_scalar_init(&key, nettle_get_secp_256r1());
    dsa_signature_init(&s);
    mpz_init(d);
    int ret = MBEDTLS_ERR_ECP_BAD_INPUT_DATA;
    rng_t rng = {f_rng, p_rng, 0};
    uint8_t r[P256_BYTES], sv[P256_BYTES];
    if (!mpi_to_mpz(&kp->d, d) || !ecc_scalar_set(&key, d)) goto out;
    ecdsa_sign(&key, &rng, rng_cb, hash_len, hash, &s);
    if (rng.err) {
        ret = rng.err;
        goto out;
    }
    nettle_mpz_get_str_256(sizeof r, r, s.r);
    nettle_mpz_get_str_256(sizeof sv, sv, s.s);
    unsigned char body[DER_SIG_MAX];
    size_t n = put_int(body, r);
    n += put_int(body + n, sv);
    sig[0] = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    sig[1] = (unsigned char)n; /* < 128: short form */
    memcpy(sig + 2, body, n);
    *sig_len = 2 + n;
    ret = 0;
out:
    mpz_clear(d);
    dsa_signature_clear(&s);
    ecc_scalar_clear(&key);
    return ret;
}

/* --- the pk_info ------------------------------------------------------------------------ */

static void make_info(void)
{
    nettle_eckey_info = *mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY);
    nettle_eckey_info.sign_func = sign_cb;
    nettle_eckey_info.verify_func = verify_cb;
}

bool fo_dtls_ecdsa_adopted(const struct mbedtls_pk_context *pk)
{
    return pk && pk->pk_info == &nettle_eckey_info;
}

bool fo_dtls_ecdsa_adopt(struct mbedtls_pk_context *pk)
{
    pthread_once(&info_once, make_info);
    if (!pk || !pk->pk_info) return false;
    if (pk->pk_info == &nettle_eckey_info) return true;
    /* Only mbedtls's plain EC key type: ECKEY_DH/ECDSA-only keys keep their own rules. */
    if (pk->pk_info != mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY) || !is_p256(mbedtls_pk_ec(*pk)))
        return false;
    pk->pk_info = &nettle_eckey_info;
    return true;
}
