/* SPDX-License-Identifier: MIT */
/* ECDSA P-256 for the DTLS handshakes through nettle (hogweed), whose P-256 code is ~20 times
 * cheaper than mbedtls 2.28's generic bignum arithmetic (which also rebuilds its fixed-point
 * tables for every signature: the group is copied per operation). mbedtls keeps parsing
 * certificates and keys and driving the handshake; only the pk layer's sign and verify of a
 * P-256 key come here, by giving that key's mbedtls_pk_context a pk_info of ours (the EC key
 * info of mbedtls/pk_internal.h, copied, with sign_func and verify_func replaced). Everything
 * else about the key (type, size, writing it, freeing it) stays mbedtls's.
 * Used by dtls.c only. Any thread: there is no state but that table, made once. */
#ifndef FO_DTLS_ECDSA_H
#define FO_DTLS_ECDSA_H

#include <stdbool.h>

struct mbedtls_pk_context;

/* Routes `pk`'s ECDSA signatures and verifications through nettle when it is an EC key on
 * P-256; leaves any other key alone. Idempotent. Returns true when the key is routed. */
bool fo_dtls_ecdsa_adopt(struct mbedtls_pk_context *pk);

/* The same test without changing anything: whether `pk` is routed through nettle. */
bool fo_dtls_ecdsa_adopted(const struct mbedtls_pk_context *pk);

#endif
