/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the alert check of hibernated DTLS sessions: the input is one datagram,
 * scanned with a fixed AES-128-GCM key (the corpus holds records sealed with it, so mutations
 * reach the authenticated path). The record number may only grow, and only on success. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/dtls_alert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fo_dtls_alert_key_t k = {.key_len = 16, .epoch = 1, .seq_top = 0};
    for (int i = 0; i < 16; i++) k.key[i] = (uint8_t)(0x11 * i + 3);
    memcpy(k.iv, "\x0a\x0b\x0c\x0d", 4);
    fo_dtls_alert_scan_t out;
    int rc = fo_dtls_alert_scan(&k, data, size, &out);
    if (rc != 0 && rc != 1 && rc != FO_EINVAL) abort();
    if (out.dropped > out.records) abort();
    if (k.seq_top == 0 && out.level != 0) abort(); /* authentic alerts always move it */
    return 0;
}
