/* SPDX-License-Identifier: MIT */
/* HTTPS certificate files (see tls_cert.h). Uses mbedtls for key generation and the X.509
 * writer, like dtls.c, but owns no long-lived state: libmicrohttpd (GnuTLS) serves the files. */
#include "fanout/tls_cert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "fanout/common.h"
#include "fanout/log.h"

/* The subject of certificates made here; how a later start recognises one it may replace. */
#define SELF_SUBJECT "CN=fanout self-signed,O=fanout"
#define VALID_DAYS 397 /* the most browsers accept for a trusted leaf */

static int fail_mbed(char *err, size_t cap, const char *what, int ret)
{
    char txt[128];
    mbedtls_strerror(ret, txt, sizeof txt);
    if (err && cap) snprintf(err, cap, "%s: %s (-0x%04x)", what, txt, (unsigned)-ret);
    return FO_ECRYPTO;
}

/* subjectAltName: SEQUENCE OF GeneralName, dNSName [2] IA5String or iPAddress [7] OCTET
 * STRING. mbedtls 2.28 has no setter for it, so it is encoded here (backwards, as asn1write
 * does) and added as a raw extension. Returns the DER length at *start, or a negative code. */
static int write_san(unsigned char *buf, size_t cap, unsigned char **start, const char *const *names,
                     size_t n)
{
    unsigned char *p = buf + cap;
    size_t len = 0;
    int r;
#define W(expr)                                                                                    \
    do {                                                                                           \
        if ((r = (expr)) < 0) return r;                                                            \
        len += (size_t)r;                                                                          \
    } while (0)
    for (size_t i = n; i-- > 0;) {
        unsigned char addr[16];
        if (inet_pton(AF_INET, names[i], addr) == 1 || inet_pton(AF_INET6, names[i], addr) == 1) {
            size_t alen = strchr(names[i], ':') ? 16 : 4;
            W(mbedtls_asn1_write_raw_buffer(&p, buf, addr, alen));
            W(mbedtls_asn1_write_len(&p, buf, alen));
            W(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
        } else {
            W(mbedtls_asn1_write_tagged_string(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2, names[i],
                                               strlen(names[i])));
        }
    }
    W(mbedtls_asn1_write_len(&p, buf, len));
    W(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
#undef W
    *start = p;
    return (int)len;
}

/* Writes `len` bytes to path via a new temporary file beside it + rename, so a reader never
 * sees half a file. The temporary name is fresh (path.tmp.<random>) and created with O_EXCL |
 * O_NOFOLLOW: whatever already lies in the directory (a stale path.tmp, a symlink planted there)
 * can neither receive the bytes nor decide the file's mode, which fchmod sets to `mode` whatever
 * the umask. */
static int write_atomic(const char *path, const unsigned char *buf, size_t len, mode_t mode,
                        char *err, size_t cap)
{
    char tmp[600];
    int fd = -1, e = 0;
    for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
        uint8_t rnd[8];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            e = errno;
            break;
        }
        if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%02x%02x%02x%02x%02x%02x%02x%02x", path, rnd[0],
                             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) >= sizeof tmp) {
            if (err && cap) snprintf(err, cap, "%s: path too long", path);
            return FO_EINVAL;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        e = fd < 0 ? errno : 0;
        if (fd < 0 && e != EEXIST) break;
    }
    bool ok = fd >= 0 && fchmod(fd, mode) == 0;
    for (size_t off = 0; ok && off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    ok = ok && fsync(fd) == 0;
    if (!ok && fd >= 0) e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) ok = false, e = errno;
    if (ok && rename(tmp, path) != 0) ok = false, e = errno;
    if (!ok) {
        if (err && cap) snprintf(err, cap, "cannot write %s: %s", path, strerror(e ? e : EIO));
        if (fd >= 0) unlink(tmp); /* ours: created above */
        return FO_ESYS;
    }
    return 0;
}

static int generate(const char *cert_path, const char *key_path, const char *const *names,
                    size_t n, char *err, size_t cap)
{
    static const char pers[] = "fanout-https";
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    unsigned char buf[4096], san[1024], *san_start = NULL;
    const char *all[FO_TLS_MAX_NAMES];
    size_t n_all = 0;
    int ret, rc = FO_ECRYPTO;

    static const char *const fixed[] = {"localhost", "127.0.0.1", "::1"};
    for (size_t i = 0; i < FO_ARRAY_LEN(fixed); i++) all[n_all++] = fixed[i];
    for (size_t i = 0; i < n && n_all < FO_TLS_MAX_NAMES; i++) {
        bool dup = false;
        for (size_t j = 0; j < n_all; j++) dup = dup || strcmp(all[j], names[i]) == 0;
        if (!dup && names[i][0]) all[n_all++] = names[i];
    }

    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    const char *step = "seeding the RNG";
    if ((ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                     (const unsigned char *)pers, sizeof pers - 1)) != 0)
        goto fail;
    step = "generating the key";
    if ((ret = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
        (ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                   mbedtls_ctr_drbg_random, &drbg)) != 0)
        goto fail;

    step = "building the certificate";
    unsigned char sbytes[16];
    if ((ret = mbedtls_ctr_drbg_random(&drbg, sbytes, sizeof sbytes)) != 0) goto fail;
    sbytes[0] = (unsigned char)((sbytes[0] & 0x7f) | 0x01); /* positive, non-zero */
    if ((ret = mbedtls_mpi_read_binary(&serial, sbytes, sizeof sbytes)) != 0) goto fail;
    char not_before[16], not_after[16];
    struct tm tm;
    time_t t = time(NULL) - 3600; /* clients with a clock slightly behind */
    gmtime_r(&t, &tm);
    strftime(not_before, sizeof not_before, "%Y%m%d%H%M%S", &tm);
    t += 3600 + (time_t)VALID_DAYS * 86400;
    gmtime_r(&t, &tm);
    strftime(not_after, sizeof not_after, "%Y%m%d%H%M%S", &tm);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &key);
    mbedtls_x509write_crt_set_issuer_key(&w, &key);
    int san_len = write_san(san, sizeof san, &san_start, all, n_all);
    if ((ret = san_len) < 0 ||
        (ret = mbedtls_x509write_crt_set_subject_name(&w, SELF_SUBJECT)) != 0 ||
        (ret = mbedtls_x509write_crt_set_issuer_name(&w, SELF_SUBJECT)) != 0 ||
        (ret = mbedtls_x509write_crt_set_serial(&w, &serial)) != 0 ||
        (ret = mbedtls_x509write_crt_set_validity(&w, not_before, not_after)) != 0 ||
        (ret = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1)) != 0 ||
        (ret = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0 ||
        (ret = mbedtls_x509write_crt_set_extension(
             &w, MBEDTLS_OID_SUBJECT_ALT_NAME, MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
             san_start, (size_t)san_len)) != 0)
        goto fail;

    step = "encoding the key";
    if ((ret = mbedtls_pk_write_key_pem(&key, buf, sizeof buf)) != 0) goto fail;
    rc = write_atomic(key_path, buf, strlen((char *)buf), 0600, err, cap);
    mbedtls_platform_zeroize(buf, sizeof buf);
    if (rc != 0) goto done;
    step = "encoding the certificate";
    rc = FO_ECRYPTO;
    if ((ret = mbedtls_x509write_crt_pem(&w, buf, sizeof buf, mbedtls_ctr_drbg_random, &drbg)) != 0)
        goto fail;
    rc = write_atomic(cert_path, buf, strlen((char *)buf), 0644, err, cap);
    if (rc == 0) FO_LOG(FO_LOG_INFO, "https", "generated a self-signed certificate %s (key %s)", cert_path, key_path);
    goto done;
fail:
    rc = fail_mbed(err, cap, step, ret);
done:
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return rc;
}

/* Parses both files and checks they pair up. *replace is set for an expired
 * self-signed certificate of ours. */
static int check_pair(const char *cert_path, const char *key_path, bool *replace, char *err,
                      size_t cap)
{
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&key);
    int rc = 0, ret;
    char what[600];
    if ((ret = mbedtls_x509_crt_parse_file(&crt, cert_path)) != 0) {
        snprintf(what, sizeof what, "%s", cert_path);
        rc = fail_mbed(err, cap, what, ret);
    } else if ((ret = mbedtls_pk_parse_keyfile(&key, key_path, NULL)) != 0) {
        snprintf(what, sizeof what, "%s", key_path);
        rc = fail_mbed(err, cap, what, ret);
    } else if (mbedtls_pk_check_pair(&crt.pk, &key) != 0) {
        if (err && cap) snprintf(err, cap, "%s is not the key of %s", key_path, cert_path);
        rc = FO_EINVAL;
    } else {
        char subject[256] = "";
        mbedtls_x509_dn_gets(subject, sizeof subject, &crt.subject);
        const mbedtls_x509_time *e = &crt.valid_to;
        bool expired = mbedtls_x509_time_is_past(e) != 0;
        *replace = expired && strcmp(subject, SELF_SUBJECT) == 0;
        if (expired && !*replace)
            FO_LOG(FO_LOG_WARN, "https", "certificate %s expired on %04d-%02d-%02d", cert_path, e->year,
                   e->mon, e->day);
    }
    mbedtls_x509_crt_free(&crt);
    mbedtls_pk_free(&key);
    return rc;
}

int fo_tls_cert_ensure(const char *cert_path, const char *key_path, const char *const *names,
                       size_t n, char *err, size_t errcap)
{
    bool have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
    if (have_cert != have_key) {
        if (err && errcap)
            snprintf(err, errcap, "%s exists but %s does not (give both, or neither to generate them)",
                     have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
        return FO_EINVAL;
    }
    if (have_cert) {
        bool replace = false;
        int rc = check_pair(cert_path, key_path, &replace, err, errcap);
        if (rc != 0 || !replace) return rc;
        FO_LOG(FO_LOG_INFO, "https", "self-signed certificate %s has expired: making a new one", cert_path);
    }
    return generate(cert_path, key_path, names, n, err, errcap);
}

bool fo_tls_cert_self_signed(const char *cert_path)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    bool self = mbedtls_x509_crt_parse_file(&crt, cert_path) == 0 &&
                crt.issuer_raw.len == crt.subject_raw.len &&
                memcmp(crt.issuer_raw.p, crt.subject_raw.p, crt.subject_raw.len) == 0;
    mbedtls_x509_crt_free(&crt);
    return self;
}
