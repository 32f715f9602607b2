/* SPDX-License-Identifier: MIT */
/* The HTTPS server's certificate on disk: keeps a PEM certificate + key pair at configured
 * paths, generating a self-signed one (ECDSA P-256, with subjectAltNames for localhost and the
 * server's addresses) when there is none, so it survives restarts and a browser's exception for
 * it stays valid. An adapter over mbedtls's X.509 writer; the DTLS certificate is dtls.c's.
 * Start-up thread only. */
#ifndef FO_TLS_CERT_H
#define FO_TLS_CERT_H

#include <stdbool.h>
#include <stddef.h>

/* At most this many subjectAltNames (the three fixed ones included). */
#define FO_TLS_MAX_NAMES 16

/* Makes sure `cert_path` and `key_path` hold a certificate and its private key:
 *  - both files exist: they are checked to parse and to belong together; a self-signed
 *    certificate this module made that has expired is replaced;
 *  - neither exists: a self-signed certificate valid for 397 days is generated for the DNS names
 *    and IP literals in names[0..n) (copied into subjectAltName; "localhost", "127.0.0.1" and
 *    "::1" are always added) and written there (key mode 0600, certificate 0644, whatever the
 *    umask) through a temporary file of a fresh name (O_EXCL | O_NOFOLLOW: nothing already in the
 *    directory can redirect the key or decide its mode) and rename(); the parent directory
 *    must exist;
 *  - only one exists: an error (a half-configured pair is never overwritten).
 * Returns 0 or FO_ESYS / FO_ECRYPTO / FO_EINVAL with the reason in err. */
int fo_tls_cert_ensure(const char *cert_path, const char *key_path, const char *const *names,
                       size_t n, char *err, size_t errcap);

/* Whether the (first) certificate in `cert_path` is self-signed (issuer = subject): browsers
 * warn about it once, and the start-up lines say so. False when it cannot be read. */
bool fo_tls_cert_self_signed(const char *cert_path);

#endif
