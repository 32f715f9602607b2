/* SPDX-License-Identifier: MIT */
/* Outbound SRTP and SRTCP of one transport, our own code over nettle (AES-128 counter mode,
 * HMAC-SHA1), instead of libsrtp's generic per-packet path: at 1000 players that path (its
 * per-SSRC stream list walk, srtp_protect_mki's bookkeeping) cost 13.5 % of the server, more
 * than the crypto itself, mostly cache misses on 1000 sessions' libsrtp contexts. Here a
 * packet touches the keys and a 16-byte entry of an 8-entry table next to them.
 *
 * What it must match is small and fully specified: RFC 3711 4.3 key derivation, 3.3/4.1.1/4.2
 * for SRTP, 3.4 for SRTCP, and libsrtp's sender rules for indexes (srtp_rdbx_estimate_index,
 * a window of FO_SRTP_WINDOW, allow_repeat_tx; SRTCP indexes per SSRC from 1). The self-test
 * pins the KDF and transforms to RFC 3711 B.3 and libsrtp's reference packets; the unit test
 * and fuzz target compare every byte with libsrtp's output for the same packet sequence. */
#include "fanout/srtp_out.h"

#include <string.h>

#include <nettle/ctr.h>

#include "fanout/common.h"

#define RTP_MIN_LEN 12
#define RTCP_MIN_LEN 8
#define TAG_LEN 10
#define SRTCP_E_BIT 0x80000000u
#define SRTCP_INDEX_MAX 0x7fffffffu /* libsrtp's srtp_rdb_increment refuses to go past it */
#define SEQ_MEDIAN 0x8000

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void ctr(const struct aes128_ctx *aes, uint8_t iv[16], size_t n, uint8_t *buf)
{
    ctr_crypt(aes, (nettle_cipher_func *)aes128_encrypt, AES_BLOCK_SIZE, iv, n, buf, buf);
}

void fo_srtp_out_kdf(const uint8_t master[FO_SRTP_MASTER_LEN], uint8_t label, uint8_t *out,
                     size_t n)
{
    struct aes128_ctx aes;
    uint8_t iv[16] = {0};
    memcpy(iv, master + FO_SRTP_KEY_LEN, FO_SRTP_SALT_LEN);
    iv[7] ^= label; /* key_id = label || r (r = 0 at rate 0), XORed onto the salt, << 16 */
    aes128_set_encrypt_key(&aes, master);
    memset(out, 0, n);
    ctr(&aes, iv, n, out);
    explicit_bzero(&aes, sizeof aes);
}

static void derive(fo_srtp_out_keys_t *k, const uint8_t master[FO_SRTP_MASTER_LEN],
                   uint8_t first_label)
{
    uint8_t key[FO_SRTP_KEY_LEN], auth[SHA1_DIGEST_SIZE];
    fo_srtp_out_kdf(master, first_label, key, sizeof key);
    fo_srtp_out_kdf(master, first_label + 1, auth, sizeof auth);
    memset(k->salt, 0, sizeof k->salt);
    fo_srtp_out_kdf(master, first_label + 2, k->salt, FO_SRTP_SALT_LEN);
    aes128_set_encrypt_key(&k->aes, key);
    hmac_sha1_set_key(&k->mac, sizeof auth, auth);
    explicit_bzero(key, sizeof key);
    explicit_bzero(auth, sizeof auth);
}

void fo_srtp_out_init(fo_srtp_out_t *o, const uint8_t master[FO_SRTP_MASTER_LEN])
{
    memset(o, 0, sizeof *o);
    derive(&o->rtp, master, 0x00);
    derive(&o->rtcp, master, 0x03);
}

void fo_srtp_out_wipe(fo_srtp_out_t *o) { explicit_bzero(o, sizeof *o); }

/* The entry for `ssrc`, a new one if there is room, else NULL. Entries are never evicted: a
 * forgotten SSRC would start again at index 0 and reuse keystream. */
static fo_srtp_out_stream_t *stream_for(fo_srtp_out_t *o, uint32_t ssrc)
{
    if (o->last < o->n && o->streams[o->last].ssrc == ssrc) return &o->streams[o->last];
    for (unsigned i = 0; i < o->n; i++) {
        if (o->streams[i].ssrc == ssrc) {
            o->last = i;
            return &o->streams[i];
        }
    }
    if (o->n == FO_SRTP_OUT_STREAMS) return NULL;
    o->last = o->n++;
    o->streams[o->last] = (fo_srtp_out_stream_t){.ssrc = ssrc};
    return &o->streams[o->last];
}

/* libsrtp's srtp_rdbx_estimate_index (with srtp_index_guess): the index nearest `highest` whose
 * low 16 bits are `seq` (RFC 3711 Appendix A), except that until the highest index passes
 * 0x8000 the ROC is taken as 0 (never -1). Returns guess - highest. */
static int32_t estimate(uint64_t highest, uint16_t seq, uint64_t *guess)
{
    if (highest <= SEQ_MEDIAN) {
        *guess = seq;
        return (int32_t)seq - (int32_t)highest;
    }
    uint32_t roc = (uint32_t)(highest >> 16);
    int32_t hs = (uint16_t)highest, d = (int32_t)seq - hs;
    if (hs < SEQ_MEDIAN) {
        if (d > SEQ_MEDIAN) roc--, d -= 0x10000;
    } else if (hs - SEQ_MEDIAN > (int32_t)seq) {
        roc++, d += 0x10000;
    }
    *guess = (uint64_t)roc << 16 | seq;
    return d;
}

/* RFC 3711 4.1.1: IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16). */
static void make_iv(const fo_srtp_out_keys_t *k, const uint8_t ssrc[4], uint64_t index,
                    uint8_t iv[16])
{
    memcpy(iv, k->salt, 16);
    for (int i = 0; i < 4; i++) iv[4 + i] ^= ssrc[i];
    for (int i = 0; i < 6; i++) iv[8 + i] ^= (uint8_t)(index >> (40 - 8 * i));
}

/* RTP header length with CSRCs and extension, checked as libsrtp's srtp_validate_rtp_header
 * does (the version is not checked); 0 if malformed. */
static size_t rtp_header_len(const uint8_t *buf, size_t len)
{
    if (len < RTP_MIN_LEN) return 0;
    size_t hl = RTP_MIN_LEN + 4 * (size_t)(buf[0] & 0x0f);
    if (buf[0] & 0x10) {
        if (len < hl + 4) return 0;
        hl += 4 + 4 * ((size_t)buf[hl + 2] << 8 | buf[hl + 3]);
    }
    return len < hl ? 0 : hl;
}

int fo_srtp_out_protect(fo_srtp_out_t *o, uint8_t *buf, size_t *len)
{
    size_t n = *len, hl = rtp_header_len(buf, n);
    if (!hl) return FO_EINVAL;
    fo_srtp_out_stream_t *st = stream_for(o, rd32(buf + 8));
    if (!st) return FO_EFULL;
    uint64_t index;
    int32_t delta = estimate(st->index, (uint16_t)(buf[2] << 8 | buf[3]), &index);
    if (delta > 0)
        st->index = index;
    else if (delta < -(FO_SRTP_WINDOW - 1))
        return FO_EAGAIN; /* too old for libsrtp's window; repeats inside it are allowed */

    uint8_t iv[16], roc[4];
    make_iv(&o->rtp, buf + 8, index, iv);
    ctr(&o->rtp.aes, iv, n - hl, buf + hl);
    wr32(roc, (uint32_t)(index >> 16));
    hmac_sha1_update(&o->rtp.mac, n, buf);
    hmac_sha1_update(&o->rtp.mac, sizeof roc, roc);
    hmac_sha1_digest(&o->rtp.mac, TAG_LEN, buf + n);
    *len = n + TAG_LEN;
    return 0;
}

int fo_srtp_out_protect_rtcp(fo_srtp_out_t *o, uint8_t *buf, size_t *len)
{
    size_t n = *len;
    if (n < RTCP_MIN_LEN) return FO_EINVAL;
    fo_srtp_out_stream_t *st = stream_for(o, rd32(buf + 4));
    if (!st) return FO_EFULL;
    if (st->rtcp_index >= SRTCP_INDEX_MAX) return FO_ECRYPTO;
    uint32_t index = ++st->rtcp_index;

    uint8_t iv[16];
    make_iv(&o->rtcp, buf + 4, index, iv);
    ctr(&o->rtcp.aes, iv, n - RTCP_MIN_LEN, buf + RTCP_MIN_LEN);
    wr32(buf + n, SRTCP_E_BIT | index);
    hmac_sha1_update(&o->rtcp.mac, n + 4, buf);
    hmac_sha1_digest(&o->rtcp.mac, TAG_LEN, buf + n + 4);
    *len = n + 4 + TAG_LEN;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

/* RFC 3711 B.3 master key || master salt, and the session keys it derives. */
static const uint8_t b3_master[FO_SRTP_MASTER_LEN] = {
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41,
    0x39, 0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
};
static const uint8_t b3_cipher_key[16] = {0xc6, 0x1e, 0x7a, 0x93, 0x74, 0x4f, 0x39, 0xee,
                                          0x10, 0x73, 0x4a, 0xfe, 0x3f, 0xf7, 0xa0, 0x87};
static const uint8_t b3_salt[14] = {0x30, 0xcb, 0xbc, 0x08, 0x86, 0x3d, 0x8c,
                                    0x85, 0xd4, 0x9d, 0xb3, 0x4a, 0x9a, 0xe1};
static const uint8_t b3_auth_key[20] = {0xce, 0xbe, 0x32, 0x1f, 0x6f, 0xf7, 0x71,
                                        0x6b, 0x6f, 0xd4, 0xab, 0x49, 0xaf, 0x25,
                                        0x6a, 0x15, 0x6d, 0x38, 0xba, 0xa4};

/* libsrtp's srtp_validate(): SSRC 0xcafebabe, seq 0x1234, 16 bytes of 0xab, protected with
 * the B.3 master key; and the SRTCP sender report of that SSRC (index 1). */
static const uint8_t ref_rtp[38] = {
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e,
    0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d,
    0x24, 0x02, 0xb7, 0x8d, 0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};
static const uint8_t ref_rtcp[38] = {
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28, 0x03, 0x5b, 0xe4,
    0x87, 0xb9, 0xbd, 0xbe, 0xf8, 0x90, 0x41, 0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00,
    0x00, 0x01, 0x99, 0x3e, 0x08, 0xcd, 0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98};

int fo_srtp_out_self_test(void)
{
    uint8_t key[16], salt[14], auth[20];
    fo_srtp_out_kdf(b3_master, 0x00, key, sizeof key);
    fo_srtp_out_kdf(b3_master, 0x02, salt, sizeof salt);
    fo_srtp_out_kdf(b3_master, 0x01, auth, sizeof auth);
    if (memcmp(key, b3_cipher_key, sizeof key) || memcmp(salt, b3_salt, sizeof salt) ||
        memcmp(auth, b3_auth_key, sizeof auth))
        return FO_ECRYPTO;

    fo_srtp_out_t o;
    uint8_t buf[64];
    size_t len = 28;
    int rc = FO_ECRYPTO;
    fo_srtp_out_init(&o, b3_master);
    memcpy(buf, ref_rtp, 12);
    memset(buf + 12, 0xab, 16);
    if (fo_srtp_out_protect(&o, buf, &len) != 0 || len != sizeof ref_rtp ||
        memcmp(buf, ref_rtp, len) != 0)
        goto out;
    /* A retransmission of the same packet gives the same bytes (same index, same tag). */
    len = 28;
    memcpy(buf, ref_rtp, 12);
    memset(buf + 12, 0xab, 16);
    if (fo_srtp_out_protect(&o, buf, &len) != 0 || memcmp(buf, ref_rtp, sizeof ref_rtp) != 0)
        goto out;
    len = 24;
    memcpy(buf, ref_rtcp, 8);
    memset(buf + 8, 0xab, 16);
    if (fo_srtp_out_protect_rtcp(&o, buf, &len) != 0 || len != sizeof ref_rtcp ||
        memcmp(buf, ref_rtcp, len) != 0)
        goto out;
    rc = 0;
out:
    fo_srtp_out_wipe(&o);
    return rc;
}
