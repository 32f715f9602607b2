/* SPDX-License-Identifier: MIT */
/* Error texts for the FO_E* codes; the heap trim. */
#include "fanout/common.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

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
