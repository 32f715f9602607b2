/* SPDX-License-Identifier: MIT */
/* Authenticated DTLS 1.2 alert records with a stored AES-GCM key, for sessions whose mbedtls
 * context has been freed (dtls.c, "hibernation"). Reads records, never writes them; the GCM
 * context exists only while one candidate record is checked. */
#include "fanout/dtls_alert.h"

#include <string.h>

#include <mbedtls/gcm.h>
#include <mbedtls/platform_util.h>

#include "fanout/bytes.h"
#include "fanout/common.h"

#define REC_HDR FO_DTLS_RECORD_HDR
#define GCM_EXPLICIT 8  /* the per-record part of the nonce, sent before the ciphertext */
#define GCM_TAG 16
#define ALERT_LEN 2     /* level, description */
#define CT_ALERT 21
#define ALERT_FATAL 2
#define ALERT_CLOSE_NOTIFY 0

/* Opens one alert record of exactly REC_HDR + 8 + 2 + 16 bytes into out[2]. */
static bool open_alert(const fo_dtls_alert_key_t *k, const uint8_t *rec, uint8_t out[ALERT_LEN])
{
    uint8_t nonce[12], aad[REC_HDR];
    memcpy(nonce, k->iv, sizeof k->iv);
    memcpy(nonce + sizeof k->iv, rec + REC_HDR, GCM_EXPLICIT);
    memcpy(aad, rec + 3, 8); /* epoch || sequence number */
    memcpy(aad + 8, rec, 3); /* type || version */
    aad[11] = 0;
    aad[12] = ALERT_LEN; /* the plaintext's length, not the record's */
    mbedtls_gcm_context g;
    mbedtls_gcm_init(&g);
    bool ok = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, k->key, (unsigned)k->key_len * 8u) == 0 &&
              mbedtls_gcm_auth_decrypt(&g, ALERT_LEN, nonce, sizeof nonce, aad, sizeof aad,
                                       rec + REC_HDR + GCM_EXPLICIT + ALERT_LEN, GCM_TAG,
                                       rec + REC_HDR + GCM_EXPLICIT, out) == 0;
    mbedtls_gcm_free(&g); /* zeroizes the key schedule */
    return ok;
}

int fo_dtls_alert_scan(fo_dtls_alert_key_t *k, const uint8_t *buf, size_t len,
                       fo_dtls_alert_scan_t *out)
{
    fo_dtls_alert_scan_t scan = {0};
    int rc = fo_dtls_record_like(buf, len) ? 0 : FO_EINVAL;
    fo_rd_t r = fo_rd_init(buf, len);
    while (rc == 0 && fo_rd_left(&r) >= REC_HDR) {
        const uint8_t *rec = r.p + r.pos;
        uint8_t type = fo_rd_u8(&r);
        uint16_t version = fo_rd_u16(&r);
        uint16_t epoch = fo_rd_u16(&r);
        uint64_t seq = (uint64_t)fo_rd_u16(&r) << 32;
        seq |= fo_rd_u32(&r);
        size_t body = fo_rd_u16(&r);
        if (!fo_rd_take(&r, body)) break; /* truncated: the rest is not a record */
        scan.records++;
        uint8_t alert[ALERT_LEN];
        if (k->key_len == 0 || type != CT_ALERT || version != 0xfefd || epoch != k->epoch ||
            seq <= k->seq_top || body != GCM_EXPLICIT + ALERT_LEN + GCM_TAG ||
            !open_alert(k, rec, alert)) {
            scan.dropped++;
            continue;
        }
        k->seq_top = seq;
        scan.level = alert[0];
        scan.desc = alert[1];
        if (alert[0] == ALERT_FATAL || alert[1] == ALERT_CLOSE_NOTIFY) rc = 1;
    }
    if (out) *out = scan;
    return rc;
}

void fo_dtls_alert_key_wipe(fo_dtls_alert_key_t *k) { mbedtls_platform_zeroize(k, sizeof *k); }
