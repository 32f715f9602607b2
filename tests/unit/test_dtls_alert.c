/* SPDX-License-Identifier: MIT */
/* fo_dtls_alert: alert records sealed here with mbedtls's GCM (the same construction as a DTLS
 * 1.2 peer's, RFC 5288), then opened, forged, replayed, truncated and mixed with others. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <mbedtls/gcm.h>

#include "fanout/common.h"
#include "fanout/dtls_alert.h"

#define REC_LEN 39 /* 13 + 8 + 2 + 16 */

static void key_init(fo_dtls_alert_key_t *k, size_t key_len)
{
    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < key_len; i++) k->key[i] = (uint8_t)(0x11 * i + 3);
    memcpy(k->iv, "\x0a\x0b\x0c\x0d", 4);
    k->key_len = (uint8_t)key_len;
    k->epoch = 1;
    k->seq_top = 0; /* the peer's Finished */
}

/* A DTLS 1.2 record of `type` carrying `level, desc`, sealed with k's key (not k's state). */
static void seal(const fo_dtls_alert_key_t *k, uint8_t type, uint16_t epoch, uint64_t seq,
                 uint8_t level, uint8_t desc, uint8_t rec[REC_LEN])
{
    rec[0] = type;
    rec[1] = 0xfe;
    rec[2] = 0xfd;
    rec[3] = (uint8_t)(epoch >> 8);
    rec[4] = (uint8_t)epoch;
    for (int i = 0; i < 6; i++) rec[5 + i] = (uint8_t)(seq >> (8 * (5 - i)));
    rec[11] = 0;
    rec[12] = 26;
    for (int i = 0; i < 8; i++) rec[13 + i] = (uint8_t)(0x40 + i + seq); /* explicit nonce */
    uint8_t nonce[12], aad[13], pt[2] = {level, desc};
    memcpy(nonce, k->iv, 4);
    memcpy(nonce + 4, rec + 13, 8);
    memcpy(aad, rec + 3, 8);
    memcpy(aad + 8, rec, 3);
    aad[11] = 0;
    aad[12] = 2;
    mbedtls_gcm_context g;
    mbedtls_gcm_init(&g);
    assert_int_equal(mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, k->key, k->key_len * 8u), 0);
    assert_int_equal(mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, 2, nonce, 12, aad, 13, pt,
                                               rec + 21, 16, rec + 23),
                     0);
    mbedtls_gcm_free(&g);
}

static void test_authentic(void **state)
{
    (void)state;
    static const size_t lens[] = {16, 32};
    for (size_t i = 0; i < 2; i++) {
        fo_dtls_alert_key_t k;
        key_init(&k, lens[i]);
        uint8_t rec[REC_LEN];
        fo_dtls_alert_scan_t out;
        /* close_notify (warning level, as mbedtls and browsers send it) */
        seal(&k, 21, 1, 1, 1, 0, rec);
        assert_int_equal(fo_dtls_alert_scan(&k, rec, sizeof rec, &out), 1);
        assert_int_equal(out.records, 1);
        assert_int_equal(out.dropped, 0);
        assert_int_equal(out.level, 1);
        assert_int_equal(out.desc, 0);
        assert_int_equal(k.seq_top, 1);
        /* a fatal alert, later */
        seal(&k, 21, 1, 7, 2, 40, rec);
        assert_int_equal(fo_dtls_alert_scan(&k, rec, sizeof rec, NULL), 1);
        assert_int_equal(k.seq_top, 7);
    }
}

static void test_warning_is_not_the_end(void **state)
{
    (void)state;
    fo_dtls_alert_key_t k;
    key_init(&k, 16);
    uint8_t rec[REC_LEN];
    fo_dtls_alert_scan_t out;
    seal(&k, 21, 1, 3, 1, 90, rec); /* user_canceled, warning */
    assert_int_equal(fo_dtls_alert_scan(&k, rec, sizeof rec, &out), 0);
    assert_int_equal(out.dropped, 0);
    assert_int_equal(out.level, 1);
    assert_int_equal(out.desc, 90);
    assert_int_equal(k.seq_top, 3);
}

static void test_replayed(void **state)
{
    (void)state;
    fo_dtls_alert_key_t k;
    key_init(&k, 16);
    uint8_t old[REC_LEN], rec[REC_LEN];
    fo_dtls_alert_scan_t out;
    seal(&k, 21, 1, 0, 1, 0, old); /* same number as the peer's Finished */
    assert_int_equal(fo_dtls_alert_scan(&k, old, sizeof old, &out), 0);
    assert_int_equal(out.dropped, 1);
    seal(&k, 21, 1, 5, 1, 90, rec); /* an authentic warning moves the window */
    assert_int_equal(fo_dtls_alert_scan(&k, rec, sizeof rec, NULL), 0);
    assert_int_equal(fo_dtls_alert_scan(&k, rec, sizeof rec, &out), 0); /* the same again */
    assert_int_equal(out.dropped, 1);
    seal(&k, 21, 1, 4, 1, 0, old); /* authentic, but older than what was seen */
    assert_int_equal(fo_dtls_alert_scan(&k, old, sizeof old, &out), 0);
    assert_int_equal(out.dropped, 1);
    assert_int_equal(k.seq_top, 5);
}

static void test_forged(void **state)
{
    (void)state;
    fo_dtls_alert_key_t k;
    key_init(&k, 16);
    uint8_t rec[REC_LEN], bad[REC_LEN];
    seal(&k, 21, 1, 2, 1, 0, rec);
    /* Every bit of every byte: header (AAD), nonce, ciphertext, tag. */
    for (size_t i = 0; i < sizeof rec; i++)
        for (int b = 0; b < 8; b++) {
            memcpy(bad, rec, sizeof rec);
            bad[i] ^= (uint8_t)(1u << b);
            int rc = fo_dtls_alert_scan(&k, bad, sizeof bad, NULL);
            assert_true(rc == 0 || rc == FO_EINVAL);
        }
    assert_int_equal(k.seq_top, 0);
    /* Another key, another epoch, another content type with the same body. */
    fo_dtls_alert_key_t other;
    key_init(&other, 16);
    other.key[0] ^= 1;
    seal(&other, 21, 1, 2, 1, 0, bad);
    assert_int_equal(fo_dtls_alert_scan(&k, bad, sizeof bad, NULL), 0);
    seal(&k, 21, 2, 2, 1, 0, bad);
    assert_int_equal(fo_dtls_alert_scan(&k, bad, sizeof bad, NULL), 0);
    seal(&k, 23, 1, 2, 1, 0, bad);
    assert_int_equal(fo_dtls_alert_scan(&k, bad, sizeof bad, NULL), 0);
    /* No key: nothing authenticates. */
    fo_dtls_alert_key_t none = {0};
    assert_int_equal(fo_dtls_alert_scan(&none, rec, sizeof rec, NULL), 0);
    /* The genuine one still works. */
    assert_int_equal(fo_dtls_alert_scan(&k, rec, sizeof rec, NULL), 1);
}

static void test_truncated_and_garbage(void **state)
{
    (void)state;
    fo_dtls_alert_key_t k;
    key_init(&k, 16);
    uint8_t rec[REC_LEN];
    seal(&k, 21, 1, 2, 1, 0, rec);
    for (size_t n = 0; n < sizeof rec; n++) {
        int rc = fo_dtls_alert_scan(&k, rec, n, NULL);
        assert_int_equal(rc, n < 13 ? FO_EINVAL : 0);
    }
    uint8_t buf[1500];
    unsigned seed = 7;
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)rand_r(&seed) % sizeof buf;
        for (size_t j = 0; j < len; j++) buf[j] = (uint8_t)rand_r(&seed);
        if (i & 1 && len >= 13) {
            buf[0] = 21;
            buf[1] = 0xfe;
            buf[2] = 0xfd;
            buf[3] = 0;
            buf[4] = 1;
            buf[11] = 0;
            buf[12] = (uint8_t)(i % 40);
        }
        int rc = fo_dtls_alert_scan(&k, buf, len, NULL);
        assert_true(rc == 0 || rc == FO_EINVAL);
    }
    assert_int_equal(k.seq_top, 0);
}

static void test_several_records(void **state)
{
    (void)state;
    fo_dtls_alert_key_t k;
    key_init(&k, 16);
    uint8_t dg[3 * REC_LEN];
    fo_dtls_alert_scan_t out;
    seal(&k, 21, 1, 2, 1, 0, dg + REC_LEN);
    memcpy(dg, dg + REC_LEN, REC_LEN);
    dg[30] ^= 1;                             /* a forged one first */
    seal(&k, 21, 1, 3, 1, 0, dg + 2 * REC_LEN); /* never reached */
    assert_int_equal(fo_dtls_alert_scan(&k, dg, sizeof dg, &out), 1);
    assert_int_equal(out.records, 2);
    assert_int_equal(out.dropped, 1);
    assert_int_equal(k.seq_top, 2);
    /* A length running past the datagram ends the scan. */
    key_init(&k, 16);
    seal(&k, 21, 1, 2, 1, 0, dg);
    dg[12] = 200;
    assert_int_equal(fo_dtls_alert_scan(&k, dg, REC_LEN, &out), 0);
    assert_int_equal(out.records, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authentic),
        cmocka_unit_test(test_warning_is_not_the_end),
        cmocka_unit_test(test_replayed),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_truncated_and_garbage),
        cmocka_unit_test(test_several_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
