/* SPDX-License-Identifier: MIT */
/* libFuzzer target for outbound SRTP (src/rtc/srtp_out.c behind fo_srtp_protect/_protect_rtcp):
 * the input is a sequence of packets [len:2][flags:1][bytes], flags bit 0 = RTCP, bit 1 = a
 * buffer without trailer room. Each packet is protected by the fast path and by libsrtp (over
 * nettle) from fresh sessions with the same key; both must agree on the result and on every byte, leave
 * the buffer untouched on failure and write nothing past the heap block (ASan); what succeeds
 * must unprotect at the peer to the same plaintext (or be refused as a replay). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/srtp.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

#define MAX_PKT 1500

static fo_srtp_keys_t keys, peer_keys;

static void init_once(void)
{
    static int done;
    if (done) return;
    done = 1;
    fo_log_set_level(FO_LOG_ERROR);
    CHECK(fo_srtp_global_init() == 0);
    for (int i = 0; i < FO_SRTP_MASTER_LEN; i++) {
        keys.local[i] = (uint8_t)(i * 29 + 7);
        keys.remote[i] = (uint8_t)(i * 31 + 1);
    }
    memcpy(peer_keys.local, keys.remote, FO_SRTP_MASTER_LEN);
    memcpy(peer_keys.remote, keys.local, FO_SRTP_MASTER_LEN);
}

static void one(fo_srtp_t *fast, fo_srtp_t *ref, fo_srtp_t *peer, const uint8_t *p, size_t n,
                int rtcp, int small)
{
    size_t cap = n + (small ? FO_SRTP_MAX_TRAILER - 1 : FO_SRTP_MAX_TRAILER);
    uint8_t *a = malloc(cap), *b = malloc(cap);
    CHECK(a && b);
    memcpy(a, p, n);
    memcpy(b, p, n);
    size_t la = n, lb = n;
    int ra = rtcp ? fo_srtp_protect_rtcp(fast, a, &la, cap) : fo_srtp_protect(fast, a, &la, cap);
    int rb = rtcp ? fo_srtp_protect_rtcp(ref, b, &lb, cap) : fo_srtp_protect(ref, b, &lb, cap);
    CHECK(ra == rb && la == lb && memcmp(a, b, la) == 0);
    if (ra != 0) {
        CHECK(la == n && memcmp(a, p, n) == 0);
    } else {
        CHECK(la <= cap && la == n + (rtcp ? 14 : 10));
        int ru = rtcp ? fo_srtp_unprotect_rtcp(peer, a, &la) : fo_srtp_unprotect(peer, a, &la);
        CHECK(ru == FO_EAGAIN || (ru == 0 && la == n && memcmp(a, p, n) == 0));
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    /* libsrtp over nettle is the reference: byte-identical to libsrtp's stock primitives (the
     * unit test checks), and switching to those costs ~8 ms of NSS self-tests per input. */
    if (fo_srtp_set_crypto("libsrtp+nettle") != 0) abort();
    fo_srtp_t *ref = fo_srtp_new(&keys);
    if (fo_srtp_set_crypto("nettle") != 0) abort();
    fo_srtp_t *fast = fo_srtp_new(&keys), *peer = fo_srtp_new(&peer_keys);
    CHECK(ref && fast && peer);
    while (size >= 3) {
        size_t n = (size_t)(data[0] << 8 | data[1]) % (MAX_PKT + 1);
        uint8_t flags = data[2];
        data += 3, size -= 3;
        if (n > size) n = size;
        one(fast, ref, peer, data, n, flags & 1, flags & 2);
        data += n, size -= n;
    }
    fo_srtp_free(ref);
    fo_srtp_free(fast);
    fo_srtp_free(peer);
    return 0;
}
