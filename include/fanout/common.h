/* SPDX-License-Identifier: MIT */
/* Shared error codes and small helpers every module uses. Owns nothing at run time.
 * Convention: functions return 0 on success and a negative FO_E* code on failure;
 * fo_strerror() gives the text. FO_EAGAIN means "would block", which is not an error. */
#ifndef FO_COMMON_H
#define FO_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum {
    FO_OK = 0,
    FO_ERR = -1,       /* generic failure */
    FO_EAGAIN = -2,    /* would block / not ready yet */
    FO_EINVAL = -3,    /* malformed input (the sender's fault) */
    FO_ENOMEM = -4,    /* allocation or pool exhausted */
    FO_ENOTFOUND = -5, /* no such object */
    FO_EBUSY = -6,     /* resource already taken (stream has a publisher) */
    FO_ETOOBIG = -7,   /* input larger than allowed */
    FO_EFULL = -8,     /* capacity limit reached */
    FO_ECRYPTO = -9,   /* TLS/SRTP failure */
    FO_EAUTH = -10,    /* credentials or fingerprint do not match */
    FO_ECODEC = -11,   /* no common codec */
    FO_ECLOSED = -12,  /* peer closed */
    FO_ESYS = -13,     /* system call failed, see errno */
    FO_ETIMEDOUT = -14, /* no answer in time */
    FO_EUNREACH = -15, /* cannot resolve or connect to a remote host */
    FO_EDENIED = -16,  /* refused by policy (a banned client) */
};

/* Text for an FO_E* code; never NULL; static storage. Any thread. */
const char *fo_strerror(int err);
/* Hands the heap's free pages back to the system (glibc's malloc_trim; a no-op elsewhere). A
 * walk of the free lists: call it after much has been freed, never per packet. */
void fo_heap_trim(void);

/* Randomness from the kernel (getrandom; rand() only if that fails): ICE credentials, ids,
 * SSRCs and initial sequence numbers. */
/* `len` (at most 64) letters and digits, NUL-terminated: out has len + 1 bytes. */
void fo_random_token(char *out, size_t len);
/* A random 32-bit number, never 0 (an SSRC). */
uint32_t fo_rand32(void);

#define FO_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
