/* SPDX-License-Identifier: MIT */
/* libFuzzer target for ClientHello reassembly: the input is split into datagrams (2-byte length
 * prefixes) fed in order to one state; a completed record must be well formed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/dtls_reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fo_dtls_reasm_t st;
    static uint8_t out[FO_DTLS_REASM_MAX + 64];
    memset(&st, 0, sizeof st);
    size_t pos = 0;
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos) len = size - pos;
        size_t n = 0;
        int rc = fo_dtls_reasm_feed(&st, data + pos, len, out, sizeof out, &n);
        if (rc == FO_DTLS_REASM_DONE) {
            size_t rec = (size_t)out[11] << 8 | out[12];
            if (n < 25 || rec + 13 != n || out[0] != 22 || out[13] != 1) abort();
        }
        pos += len;
    }
    return 0;
}
