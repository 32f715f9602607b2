/* SPDX-License-Identifier: MIT */
/* Fragmented ClientHello reassembly: fragments in and out of order, duplicates, pass-through of
 * unfragmented hellos and other records, malformed and oversized input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/common.h"
#include "fanout/dtls_reasm.h"

static uint8_t body[1400];

/* One record holding body[off..off+len) of a ClientHello of total length `total`. */
static size_t fragment(uint8_t *out, uint32_t total, uint32_t off, uint32_t len, uint8_t recseq)
{
    uint8_t *r = out;
    r[0] = 22, r[1] = 0xfe, r[2] = 0xfd, r[3] = r[4] = 0;
    memset(r + 5, 0, 6);
    r[10] = recseq;
    r[11] = (uint8_t)((12 + len) >> 8), r[12] = (uint8_t)(12 + len);
    uint8_t *h = r + 13;
    h[0] = 1;
    h[1] = (uint8_t)(total >> 16), h[2] = (uint8_t)(total >> 8), h[3] = (uint8_t)total;
    h[4] = 0, h[5] = 0;
    h[6] = (uint8_t)(off >> 16), h[7] = (uint8_t)(off >> 8), h[8] = (uint8_t)off;
    h[9] = (uint8_t)(len >> 16), h[10] = (uint8_t)(len >> 8), h[11] = (uint8_t)len;
    memcpy(h + 12, body + off, len);
    return 13 + 12 + len;
}

static void check_complete(const uint8_t *out, size_t n, uint8_t recseq)
{
    assert_int_equal(n, 13 + 12 + sizeof body);
    assert_int_equal(out[0], 22);
    assert_int_equal(out[10], recseq);
    assert_int_equal((out[11] << 8) | out[12], 12 + sizeof body);
    assert_int_equal(out[13], 1);
    assert_int_equal((out[14] << 16) | (out[15] << 8) | out[16], sizeof body);
    assert_int_equal((out[19] << 16) | (out[20] << 8) | out[21], 0);
    assert_int_equal((out[22] << 16) | (out[23] << 8) | out[24], sizeof body);
    assert_memory_equal(out + 25, body, sizeof body);
}

static fo_dtls_reasm_t st;
static uint8_t in[2048], out[FO_DTLS_REASM_MAX + 64];

static void test_two_fragments(void **state)
{
    (void)state;
    memset(&st, 0, sizeof st);
    size_t n, outlen = 0;
    n = fragment(in, sizeof body, 0, 1000, 1);
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n, out, sizeof out, &outlen), FO_EAGAIN);
    n = fragment(in, sizeof body, 1000, 400, 2);
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n, out, sizeof out, &outlen), FO_DTLS_REASM_DONE);
    check_complete(out, outlen, 2);
}

static void test_out_of_order_and_duplicates(void **state)
{
    (void)state;
    memset(&st, 0, sizeof st);
    size_t n, outlen = 0;
    n = fragment(in, sizeof body, 700, 700, 3);
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n, out, sizeof out, &outlen), FO_EAGAIN);
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n, out, sizeof out, &outlen), FO_EAGAIN);
    n = fragment(in, sizeof body, 0, 800, 1); /* overlaps */
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n, out, sizeof out, &outlen), FO_DTLS_REASM_DONE);
    check_complete(out, outlen, 3);
}

static void test_passthrough(void **state)
{
    (void)state;
    memset(&st, 0, sizeof st);
    size_t outlen = 0;
    size_t n = fragment(in, 900, 0, 900, 0); /* unfragmented */
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n, out, sizeof out, &outlen), FO_DTLS_REASM_PASS);
    in[0] = 21; /* an alert */
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n, out, sizeof out, &outlen), FO_DTLS_REASM_PASS);
    assert_int_equal(fo_dtls_reasm_feed(&st, in, 5, out, sizeof out, &outlen), FO_DTLS_REASM_PASS);
}

static void test_malformed(void **state)
{
    (void)state;
    memset(&st, 0, sizeof st);
    size_t outlen = 0;
    size_t n = fragment(in, sizeof body, 1000, 400, 0);
    in[22] = 0x7f; /* fragment length larger than the record */
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n, out, sizeof out, &outlen), FO_EINVAL);
    n = fragment(in, sizeof body, 1300, 400 - 300, 0);
    in[13 + 6] = 0x00, in[13 + 7] = 0x10, in[13 + 8] = 0x00; /* offset 4096 + 100 > total */
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n, out, sizeof out, &outlen), FO_EINVAL);
    n = fragment(in, 60000, 0, 1000, 0);
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n, out, sizeof out, &outlen), FO_ETOOBIG);
    /* a record length running past the datagram is ignored */
    n = fragment(in, sizeof body, 0, 1000, 0);
    assert_int_equal(fo_dtls_reasm_feed(&st, in, n - 1, out, sizeof out, &outlen), FO_DTLS_REASM_PASS);
}

int main(void)
{
    for (size_t i = 0; i < sizeof body; i++) body[i] = (uint8_t)(i * 7 + 3);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_fragments),
        cmocka_unit_test(test_out_of_order_and_duplicates),
        cmocka_unit_test(test_passthrough),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
