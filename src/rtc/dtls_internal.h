/* SPDX-License-Identifier: MIT */
/* The DTLS module's private parts, shared by its two files: dtls.c (the context's
 * configurations and the sessions) and dtls_cert.c (our certificate and key: made, loaded,
 * written as PEM). Only they include this header (it is not under include/fanout/). */
#ifndef FO_DTLS_INTERNAL_H
#define FO_DTLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/pool.h"

struct fo_dtls_ctx {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf[2]; /* indexed by fo_dtls_role_t */
    char fingerprint[3 * 32];
    fo_pool_t *pool; /* handshakes of sessions with io.loop run there; NULL: inline */
    size_t released; /* bytes freed by settling sessions since the last malloc_trim */
    int hibernate_ms;
};

/* Makes a self-signed ECDSA P-256 certificate and key into ctx->cert and ctx->key, or loads
 * them from PEM files (checking that they belong together). 0 or FO_ECRYPTO (logged). */
int fo_dtls_cert_generate(fo_dtls_ctx_t *ctx);
int fo_dtls_cert_load(fo_dtls_ctx_t *ctx, const char *cert_path, const char *key_path);
/* "AB:CD:..." of d[0..n) into out (3n bytes). */
void fo_dtls_hex_colons(const uint8_t *d, size_t n, char *out);
/* Logs an mbedtls error code with its text (when `level` is on). */
void fo_dtls_log_mbedtls(fo_log_level_t level, const char *who, const char *what, int ret);

#endif
