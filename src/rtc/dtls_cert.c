/* SPDX-License-Identifier: MIT */
/* Our DTLS certificate and key: a self-signed ECDSA P-256 one made at start-up, or a PEM pair
 * loaded (and checked to match), written back as PEM on request (fo_dtls_ctx_write_pem). Runs
 * at start-up on the thread creating the context. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "dtls_internal.h"
#include "fanout/common.h"

void fo_dtls_log_mbedtls(fo_log_level_t level, const char *who, const char *what, int ret)
{
    if (level > fo_log_level_current) return;
    char text[160];
    mbedtls_strerror(ret, text, sizeof text);
    fo_log_write(level, who, "%s: %s (-0x%04x)", what, text, (unsigned)-ret);
}

int fo_dtls_cert_generate(fo_dtls_ctx_t *ctx)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    unsigned char der[1024];
    int ret;

    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    if ((ret = mbedtls_pk_setup(&ctx->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
        (ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(ctx->key),
                                   mbedtls_ctr_drbg_random, &ctx->drbg)) != 0)
        goto fail;

    /* 64-bit random serial, positive and non-zero (RFC 5280 4.1.2.2). */
    unsigned char sbytes[8];
    if ((ret = mbedtls_ctr_drbg_random(&ctx->drbg, sbytes, sizeof sbytes)) != 0) goto fail;
    sbytes[0] = (unsigned char)((sbytes[0] & 0x7f) | 0x01);
    if ((ret = mbedtls_mpi_read_binary(&serial, sbytes, sizeof sbytes)) != 0) goto fail;

    /* Valid from a day ago (peers with skewed clocks) for a year. */
    char not_before[16], not_after[16];
    struct tm tm;
    time_t t = time(NULL) - 86400;
    gmtime_r(&t, &tm);
    strftime(not_before, sizeof not_before, "%Y%m%d%H%M%S", &tm);
    t += 86400 + 365 * 86400;
    gmtime_r(&t, &tm);
    strftime(not_after, sizeof not_after, "%Y%m%d%H%M%S", &tm);

    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &ctx->key);
    mbedtls_x509write_crt_set_issuer_key(&w, &ctx->key);
    if ((ret = mbedtls_x509write_crt_set_subject_name(&w, "CN=fanout")) != 0 ||
        (ret = mbedtls_x509write_crt_set_issuer_name(&w, "CN=fanout")) != 0 ||
        (ret = mbedtls_x509write_crt_set_serial(&w, &serial)) != 0 ||
        (ret = mbedtls_x509write_crt_set_validity(&w, not_before, not_after)) != 0)
        goto fail;
    /* Writes at the end of the buffer and returns the length. */
    ret = mbedtls_x509write_crt_der(&w, der, sizeof der, mbedtls_ctr_drbg_random, &ctx->drbg);
    if (ret < 0) goto fail;
    ret = mbedtls_x509_crt_parse_der(&ctx->cert, der + sizeof der - ret, (size_t)ret);

fail:
    if (ret != 0) fo_dtls_log_mbedtls(FO_LOG_ERROR, "dtls", "generating the certificate", ret);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    return ret == 0 ? 0 : FO_ECRYPTO;
}

int fo_dtls_cert_load(fo_dtls_ctx_t *ctx, const char *cert_path, const char *key_path)
{
    int ret = mbedtls_x509_crt_parse_file(&ctx->cert, cert_path);
    if (ret != 0) {
        fo_dtls_log_mbedtls(FO_LOG_ERROR, "dtls", cert_path, ret);
        return FO_ECRYPTO;
    }
    ret = mbedtls_pk_parse_keyfile(&ctx->key, key_path, NULL);
    if (ret != 0) {
        fo_dtls_log_mbedtls(FO_LOG_ERROR, "dtls", key_path, ret);
        return FO_ECRYPTO;
    }
    ret = mbedtls_pk_check_pair(&ctx->cert.pk, &ctx->key);
    if (ret != 0) {
        FO_LOG(FO_LOG_ERROR, "dtls", "%s does not hold the key of %s", key_path, cert_path);
        return FO_ECRYPTO;
    }
    return 0;
}

void fo_dtls_hex_colons(const uint8_t *d, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        *out++ = hex[d[i] >> 4];
        *out++ = hex[d[i] & 15];
        *out++ = i + 1 < n ? ':' : '\0';
    }
}

static int write_file(const char *path, const unsigned char *buf, size_t len, mode_t mode)
{
    FILE *f = NULL;
    /* umask can only narrow the mode; the key must never be readable by others. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd >= 0) f = fdopen(fd, "wb");
    if (!f) {
        if (fd >= 0) close(fd);
        FO_LOG(FO_LOG_ERROR, "dtls", "cannot write %s", path);
        return FO_ESYS;
    }
    bool ok = fwrite(buf, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok) FO_LOG(FO_LOG_ERROR, "dtls", "cannot write %s", path);
    return ok ? 0 : FO_ESYS;
}

int fo_dtls_ctx_write_pem(fo_dtls_ctx_t *ctx, const char *cert_path, const char *key_path)
{
    unsigned char buf[4096];
    size_t olen = 0;
    int ret =
        mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
                                 ctx->cert.raw.p, ctx->cert.raw.len, buf, sizeof buf, &olen);
    if (ret != 0) {
        fo_dtls_log_mbedtls(FO_LOG_ERROR, "dtls", "encoding the certificate", ret);
        return FO_ECRYPTO;
    }
    /* olen counts the terminating NUL. */
    if ((ret = write_file(cert_path, buf, olen - 1, 0644)) != 0) return ret;
    ret = mbedtls_pk_write_key_pem(&ctx->key, buf, sizeof buf);
    if (ret != 0) {
        fo_dtls_log_mbedtls(FO_LOG_ERROR, "dtls", "encoding the key", ret);
        return FO_ECRYPTO;
    }
    ret = write_file(key_path, buf, strlen((char *)buf), 0600);
    mbedtls_platform_zeroize(buf, sizeof buf);
    return ret;
}

