/* SPDX-License-Identifier: MIT */
/* nettle's X25519 under mbedtls's ECDHE (DTLS key exchange). Debian's mbedtls 2.28 does X25519
 * in its generic bignum code: ~8 M instructions for the key pair and ~8 M for the shared secret,
 * three quarters of a whole DTLS set-up once ECDSA went to nettle (docs/benchmarks.md, "Set-up
 * CPU and connect time"); nettle does each in a small fraction of that. The packaged library
 * has no hook for another ECDH (MBEDTLS_ECDH_*_ALT are build options), so this module defines
 * two of its public functions itself, which the dynamic linker then binds libmbedtls's calls
 * to (an executable's definitions come first): mbedtls_ecdh_make_params (our server side's key
 * pair and ServerKeyExchange point) and mbedtls_ecdh_calc_secret (the shared secret, either
 * side). Both keep mbedtls's context exactly as mbedtls fills it (the private key in d, the
 * peer's point in Qp, little-endian X as RFC 7748 writes it) and hand every other group, and
 * anything unexpected, to mbedtls's own function (dlsym RTLD_NEXT). The rest of the handshake
 * (parsing the peer's point, the client side's key pair for a relay) stays mbedtls's. */
#ifndef FO_DTLS_X25519_H
#define FO_DTLS_X25519_H

#include <stdbool.h>

/* Whether the interposition is in place (mbedtls's own functions were found behind ours): call
 * once at start-up; logs the outcome. Without it every call falls through to mbedtls. */
bool fo_dtls_x25519_ready(void);

#endif
