/* SPDX-License-Identifier: MIT */
/* Error texts for the FO_E* codes; the heap trim; random tokens and numbers. */
#include "fanout/common.h"

#include <stdlib.h>
#include <sys/random.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void fo_random_token(char *out, size_t len)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint8_t rnd[64];
    if (len > sizeof rnd) len = sizeof rnd;
    if (getrandom(rnd, len, 0) != (ssize_t)len)
        for (size_t i = 0; i < len; i++) rnd[i] = (uint8_t)rand();
    for (size_t i = 0; i < len; i++) out[i] = set[rnd[i] % (sizeof set - 1)];
    out[len] = '\0';
}

uint32_t fo_rand32(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof v, 0) != sizeof v) v = (uint32_t)rand();
    return v ? v : 1;
}

void fo_heap_trim(void)
{
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

const char *fo_strerror(int err)
{
    switch (err) {
    case FO_OK: return "success";
    case FO_EAGAIN: return "would block";
    case FO_EINVAL: return "malformed input";
    case FO_ENOMEM: return "out of memory";
    case FO_ENOTFOUND: return "not found";
    case FO_EBUSY: return "busy";
    case FO_ETOOBIG: return "too large";
    case FO_EFULL: return "capacity reached";
    case FO_ECRYPTO: return "crypto failure";
    case FO_EAUTH: return "authentication failed";
    case FO_ECODEC: return "no common codec";
    case FO_ECLOSED: return "closed by peer";
    case FO_ESYS: return "system error";
    case FO_ETIMEDOUT: return "timed out";
    case FO_EUNREACH: return "unreachable";
    case FO_EDENIED: return "denied";
    default: return "error";
    }
}
