/* SPDX-License-Identifier: MIT */
/* DTLS-SRTP adapter over mbedtls 2.28: owns the RNG, our certificate and key, the two SSL
 * configurations and each peer's mbedtls_ssl_context. It does no socket I/O and keeps no timers:
 * datagrams come in through fo_dtls_input and go out through io.send_cb; mbedtls's retransmission
 * timer is mirrored to the owner through io.timer_cb. It never touches SRTP packets: it only hands
 * out the exported keys. Once the peer has shown it completed the handshake too, a session
 * hibernates: the mbedtls context (~40 KiB: record buffers, handshake state, transform, peer
 * certificate) is freed and only a pre-made close_notify and the peer's alert key stay
 * (dtls_alert.c). Our certificate is made or loaded in dtls_cert.c. A session runs on its
 * owner's thread, or, offloaded (include/fanout/dtls.h), in jobs on the context's pool during the
 * handshake: the job owns it then (docs/workers.md, "Handshake threads"). */
#include "fanout/dtls.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/ssl_internal.h> /* mbedtls_ssl_handshake_wrapup_free_hs_transform */
#include <mbedtls/x509_crt.h>

#include "fanout/common.h"
#include "fanout/dtls_alert.h"
#include "fanout/dtls_ecdsa.h"
#include "fanout/dtls_x25519.h"
#include "fanout/log.h"
#include "fanout/pool.h"
#include "dtls_internal.h"

#if !defined(MBEDTLS_SSL_DTLS_SRTP) || !defined(MBEDTLS_SSL_EXPORT_KEYS) ||                        \
    !defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
#error "mbedtls must be built with DTLS_SRTP, EXPORT_KEYS and KEEP_PEER_CERTIFICATE"
#endif

/* Flights are fragmented to fit this datagram size (IPv6 minimum MTU minus headroom for
 * TURN/ICE-TCP framing); browsers use about the same. */
#define DTLS_MTU 1200
/* Retransmission timeout doubles from 400 ms up to 6.4 s: 5 transmissions of a flight, and the
 * handshake gives up about 12.4 s after the last progress (well inside ICE consent's 30 s). */
#define DTLS_HS_TIMEOUT_MIN 400
#define DTLS_HS_TIMEOUT_MAX 6400
#define DTLS_MASTER_LEN 48
#define DTLS_EXPORT_LEN (2 * FO_SRTP_MASTER_LEN)
#define DTLS_MAX_DIGEST 64
/* Hibernation without proof from the peer: past every retransmission of its last flight that
 * it could still be waiting on (mbedtls gives up after ~12 s, browsers' timers back off from
 * 1 s: 1+2+4+8+16 s), long after any real peer sent SRTP or SRTCP. */
#define DTLS_HIBERNATE_MS 30000
/* Datagrams an offloaded session keeps while its job runs (a flight is 2-6; more is a flood). */
#define DTLS_PENDING_MAX 32
/* Largest pre-made close_notify: AES-256-GCM is 13 + 8 + 2 + 16 = 39 bytes. */
#define DTLS_CLOSE_MAX 48
/* glibc keeps freed blocks below the top of its heap resident; the hibernated sessions' record
 * buffers are such blocks (allocated among longer-lived ones). After this much was released,
 * malloc_trim(0) hands the free pages back (a walk over the free lists: well under a
 * millisecond, once per ~25 sessions). */
#define DTLS_TRIM_BYTES (1u << 20)

enum { ST_HANDSHAKE, ST_DONE, ST_FAILED, ST_CLOSED };

/* The session inside an mbedtls call on this thread. The export-keys callback only gets the
 * configuration's user pointer (shared by all sessions), so this says whose keys they are. */
static _Thread_local fo_dtls_t *active;

/* A datagram held for, or made by, a handshake job (offloaded sessions). */
typedef struct dgram {
    struct dgram *next;
    size_t len;
    uint8_t buf[];
} dgram_t;

typedef struct {
    dgram_t *head, **tail;
    unsigned n;
} dgram_list_t;

struct fo_dtls {
    fo_dtls_ctx_t *ctx;
    mbedtls_ssl_context *ssl; /* NULL once hibernated */
    fo_dtls_io_t io;
    fo_dtls_role_t role;
    int state;
    int err; /* the code returned for good once state is ST_FAILED */
    bool keys_ready;
    bool settled;  /* after completion: hibernated, or (not AES-GCM) handshake state freed */
    uint64_t hibernate_at_ms; /* ST_DONE and not settled: the fallback deadline */
    /* While hibernating: mbedtls's send callback writes here instead of to the network. */
    bool capture;
    uint8_t close_len;
    uint8_t close_rec[DTLS_CLOSE_MAX]; /* the pre-made close_notify, once hibernated */
    fo_dtls_alert_key_t alert;         /* the peer's write key, AES-GCM suites only */
    /* The one datagram being fed by fo_dtls_input, read by the recv BIO. */
    const uint8_t *in;
    size_t in_len;
    /* mbedtls's timer (both 0 = cancelled), from CLOCK_MONOTONIC. */
    uint64_t timer_start_ms;
    uint32_t timer_int_ms, timer_fin_ms;
    /* Captured by the export-keys callback, wiped once the SRTP keys are derived. */
    bool have_secret;
    uint8_t master[DTLS_MASTER_LEN];
    uint8_t randoms[64]; /* client_random || server_random */
    mbedtls_tls_prf_types prf;
    fo_srtp_keys_t keys;
    /* The remote fingerprint; md == MBEDTLS_MD_NONE when missing or unsupported. */
    mbedtls_md_type_t fp_md;
    uint8_t fp[DTLS_MAX_DIGEST];
    size_t fp_len;
    bool fp_mismatch;
    char name[48];
    /* Offload (a pool on the context and io.loop): the public-key work of the handshake runs in
     * jobs on the pool. While `in_job`, the job owns every field above and the owner thread
     * touches only `pending`, `orphaned` and `close_asked`; the pool's queue and fo_loop_post
     * order the two. A job defers the io callbacks: its datagrams go to `out`, its timer
     * changes set `timer_dirty`, its outcome `job_done`/`job_end`; job_done applies them all on
     * the owner thread. */
    bool offload;
    bool in_job, in_worker, orphaned, close_asked, timer_dirty, job_done;
    _Atomic bool abandoned; /* freed or closed while in_job: the job skips its remaining work */
    int job_end;          /* a terminal code (FO_ECLOSED, failure) the job reached; 0: none */
    dgram_list_t pending; /* arrived while in_job (owner) */
    dgram_list_t batch;   /* the job's input */
    dgram_list_t out;     /* the job's datagrams to send */
};

static const int ciphersuites[] = {
    /* What Chrome and Firefox offer with an ECDSA certificate, strongest first. */
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
    0,
};

/* Only this one: fo_srtp supports only AES128_CM_HMAC_SHA1_80, and mbedtls 2.28 has no GCM
 * profiles. The list must outlive the configurations. */
static const mbedtls_ssl_srtp_profile srtp_profiles[] = {
    MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_80,
    MBEDTLS_TLS_SRTP_UNSET,
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Maps an mbedtls error to ours. Fingerprint failures are decided by the caller. */
static int map_error(int ret)
{
    switch (ret) {
    case 0: return 0;
    case MBEDTLS_ERR_SSL_WANT_READ:
    case MBEDTLS_ERR_SSL_WANT_WRITE:
    case MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS:
    case MBEDTLS_ERR_SSL_CRYPTO_IN_PROGRESS: return FO_EAGAIN;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY: return FO_ECLOSED;
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
    case MBEDTLS_ERR_X509_ALLOC_FAILED:
    case MBEDTLS_ERR_PK_ALLOC_FAILED: return FO_ENOMEM;
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
    case MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED:
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
    case MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED: return FO_EAUTH;
    case MBEDTLS_ERR_SSL_INVALID_RECORD:
    case MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE:
    case MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO:
    case MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO:
    case MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE:
    case MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE_REQUEST:
    case MBEDTLS_ERR_SSL_BAD_HS_SERVER_KEY_EXCHANGE:
    case MBEDTLS_ERR_SSL_BAD_HS_CLIENT_KEY_EXCHANGE:
    case MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE_VERIFY:
    case MBEDTLS_ERR_SSL_BAD_HS_CHANGE_CIPHER_SPEC:
    case MBEDTLS_ERR_SSL_BAD_HS_FINISHED: return FO_EINVAL;
    default: return FO_ECRYPTO;
    }
}

/* --- context ----------------------------------------------------------------------------- */

/* Accepts any certificate chain: the peer's certificate is self-signed and what authenticates
 * it is its fingerprint from the signaling channel. The leaf's digest is compared here already,
 * so that an impostor is refused with an alert before our Finished is sent. */
static int verify_cb(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags);

static int export_keys_cb(void *p, const unsigned char *ms, const unsigned char *kb, size_t maclen,
                          size_t keylen, size_t ivlen, const unsigned char client_random[32],
                          const unsigned char server_random[32], mbedtls_tls_prf_types prf)
{
    (void)p;
    fo_dtls_t *d = active;
    if (!d) return 0;
    memcpy(d->master, ms, DTLS_MASTER_LEN);
    memcpy(d->randoms, client_random, 32);
    memcpy(d->randoms + 32, server_random, 32);
    d->prf = prf;
    d->have_secret = true;
    /* AES-GCM (no MAC keys, a 4-byte implicit IV): the key block is client_write_key,
     * server_write_key, client_write_IV, server_write_IV (RFC 5246 6.3, RFC 5288 3). Keep the
     * peer's half for recognising its alerts after hibernation. */
    if (maclen == 0 && ivlen == sizeof d->alert.iv && (keylen == 16 || keylen == 32)) {
        size_t peer = d->role == FO_DTLS_SERVER ? 0 : 1; /* the client's half, or the server's */
        memcpy(d->alert.key, kb + peer * keylen, keylen);
        memcpy(d->alert.iv, kb + 2 * keylen + peer * ivlen, ivlen);
        d->alert.key_len = (uint8_t)keylen;
    }
    return 0;
}

/* ECDHE groups, ours first: mbedtls 2.28 otherwise prefers its whole list in order, secp521r1
 * first, and as server picks by its own order, so Firefox and mbedtls clients got P-521 and
 * Chrome P-384. x25519 and P-256 are what every browser offers; per handshake side mbedtls's
 * x25519 costs ~0.64 ms, P-256 ~0.8, P-521 ~1.8 (this machine). */
static const mbedtls_ecp_group_id ecdhe_groups[] = {
    MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE,
};

static int setup_conf(fo_dtls_ctx_t *ctx, mbedtls_ssl_config *conf, int endpoint)
{
    int ret = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_DATAGRAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) return ret;
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &ctx->drbg);
    mbedtls_ssl_conf_ciphersuites(conf, ciphersuites);
    mbedtls_ssl_conf_curves(conf, ecdhe_groups);
    if ((ret = mbedtls_ssl_conf_own_cert(conf, &ctx->cert, &ctx->key)) != 0) return ret;
    /* mbedtls refuses VERIFY_REQUIRED without a CA chain; ours is as good as any since
     * verify_cb decides. */
    mbedtls_ssl_conf_ca_chain(conf, &ctx->cert, NULL);
    mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    if ((ret = mbedtls_ssl_conf_dtls_srtp_protection_profiles(conf, srtp_profiles)) != 0)
        return ret;
    mbedtls_ssl_conf_export_keys_ext_cb(conf, export_keys_cb, ctx);
    mbedtls_ssl_conf_handshake_timeout(conf, DTLS_HS_TIMEOUT_MIN, DTLS_HS_TIMEOUT_MAX);
#if defined(MBEDTLS_SSL_DTLS_HELLO_VERIFY)
    /* ICE has verified the peer's address already: no HelloVerifyRequest round trip. */
    if (endpoint == MBEDTLS_SSL_IS_SERVER) mbedtls_ssl_conf_dtls_cookies(conf, NULL, NULL, NULL);
#endif
    return 0;
}

fo_dtls_ctx_t *fo_dtls_ctx_new(const char *cert_pem_path, const char *key_pem_path)
{
    static const char pers[] = "fanout-dtls";
    fo_dtls_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    mbedtls_entropy_init(&ctx->entropy);
    mbedtls_ctr_drbg_init(&ctx->drbg);
    mbedtls_x509_crt_init(&ctx->cert);
    mbedtls_pk_init(&ctx->key);
    mbedtls_ssl_config_init(&ctx->conf[FO_DTLS_SERVER]);
    mbedtls_ssl_config_init(&ctx->conf[FO_DTLS_CLIENT]);
    ctx->hibernate_ms = DTLS_HIBERNATE_MS;
    fo_dtls_x25519_ready(); /* ECDHE's X25519 through nettle (dtls_x25519.h) */

    int ret = mbedtls_ctr_drbg_seed(&ctx->drbg, mbedtls_entropy_func, &ctx->entropy,
                                    (const unsigned char *)pers, sizeof pers - 1);
    if (ret != 0) {
        fo_dtls_log_mbedtls(FO_LOG_ERROR, "dtls", "seeding the RNG", ret);
        goto fail;
    }
    if ((cert_pem_path != NULL) != (key_pem_path != NULL)) {
        FO_LOG(FO_LOG_ERROR, "dtls", "certificate and key files go together");
        goto fail;
    }
    if (cert_pem_path ? fo_dtls_cert_load(ctx, cert_pem_path, key_pem_path) : fo_dtls_cert_generate(ctx)) goto fail;
    /* Our signatures (ServerKeyExchange, or CertificateVerify as client) through nettle. */
    fo_dtls_ecdsa_adopt(&ctx->key);
    if ((ret = setup_conf(ctx, &ctx->conf[FO_DTLS_SERVER], MBEDTLS_SSL_IS_SERVER)) != 0 ||
        (ret = setup_conf(ctx, &ctx->conf[FO_DTLS_CLIENT], MBEDTLS_SSL_IS_CLIENT)) != 0) {
        fo_dtls_log_mbedtls(FO_LOG_ERROR, "dtls", "configuring", ret);
        goto fail;
    }

    uint8_t digest[32];
    ret = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), ctx->cert.raw.p,
                     ctx->cert.raw.len, digest);
    if (ret != 0) goto fail;
    fo_dtls_hex_colons(digest, sizeof digest, ctx->fingerprint);
    FO_LOG(FO_LOG_INFO, "dtls", "certificate %s, sha-256 %s",
           cert_pem_path ? cert_pem_path : "generated", ctx->fingerprint);
    return ctx;

fail:
    fo_dtls_ctx_free(ctx);
    return NULL;
}

void fo_dtls_ctx_free(fo_dtls_ctx_t *ctx)
{
    if (!ctx) return;
    mbedtls_ssl_config_free(&ctx->conf[FO_DTLS_SERVER]);
    mbedtls_ssl_config_free(&ctx->conf[FO_DTLS_CLIENT]);
    mbedtls_x509_crt_free(&ctx->cert);
    mbedtls_pk_free(&ctx->key);
    mbedtls_ctr_drbg_free(&ctx->drbg);
    mbedtls_entropy_free(&ctx->entropy);
    free(ctx);
}

const char *fo_dtls_ctx_fingerprint(const fo_dtls_ctx_t *ctx) { return ctx->fingerprint; }

void fo_dtls_ctx_set_pool(fo_dtls_ctx_t *ctx, fo_pool_t *pool) { ctx->pool = pool; }

void fo_dtls_ctx_set_hibernate_ms(fo_dtls_ctx_t *ctx, int ms)
{
    ctx->hibernate_ms = ms < 0 ? 0 : ms;
}

/* --- sessions ---------------------------------------------------------------------------- */

static mbedtls_md_type_t fp_alg(const char *alg, size_t *len)
{
    static const struct {
        const char *name;
        mbedtls_md_type_t md;
        size_t len;
    } algs[] = {
        {"sha-256", MBEDTLS_MD_SHA256, 32},
        {"sha-1", MBEDTLS_MD_SHA1, 20},
        {"sha-384", MBEDTLS_MD_SHA384, 48},
        {"sha-512", MBEDTLS_MD_SHA512, 64},
    };
    for (size_t i = 0; alg && i < FO_ARRAY_LEN(algs); i++)
        if (strcasecmp(alg, algs[i].name) == 0) {
            *len = algs[i].len;
            return algs[i].md;
        }
    return MBEDTLS_MD_NONE;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "AB:cd:..." of exactly `len` bytes into out; the hex digits in either case. */
static bool parse_fp(const char *s, uint8_t *out, size_t len)
{
    if (!s) return false;
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);
        if (lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (*s != (i + 1 < len ? ':' : '\0')) return false;
        if (*s) s++;
    }
    return true;
}

/* The fingerprint check proper: the peer's DER against what the signaling channel said. */
static bool fp_matches(fo_dtls_t *d, const mbedtls_x509_crt *crt)
{
    uint8_t digest[DTLS_MAX_DIGEST];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(d->fp_md);
    if (!crt || !md || mbedtls_md(md, crt->raw.p, crt->raw.len, digest) != 0) return false;
    /* Not secret, but no reason to leak where it differs either. */
    uint8_t diff = 0;
    for (size_t i = 0; i < d->fp_len; i++)
        diff |= (uint8_t)(digest[i] ^ d->fp[i]);
    return diff == 0;
}

static int verify_cb(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    fo_dtls_t *d = p;
    *flags = 0;
    if (depth != 0) return 0;
    if (!fp_matches(d, crt)) {
        d->fp_mismatch = true;
        *flags = MBEDTLS_X509_BADCERT_NOT_TRUSTED; /* fails the handshake with an alert */
        return 0;
    }
    /* The peer's signature (its CertificateVerify, or our client's ServerKeyExchange) is
     * checked later in the handshake with this key: through nettle. */
    fo_dtls_ecdsa_adopt(&crt->pk);
    return 0;
}

/* --- datagram lists (offloaded sessions) -------------------------------------------------- */

static void list_init(dgram_list_t *l)
{
    l->head = NULL;
    l->tail = &l->head;
    l->n = 0;
}

static bool list_push(dgram_list_t *l, const uint8_t *buf, size_t len)
{
    dgram_t *g = malloc(sizeof *g + len);
    if (!g) return false;
    g->next = NULL;
    g->len = len;
    memcpy(g->buf, buf, len);
    *l->tail = g;
    l->tail = &g->next;
    l->n++;
    return true;
}

static void list_clear(dgram_list_t *l)
{
    for (dgram_t *g = l->head, *next; g; g = next) {
        next = g->next;
        free(g);
    }
    list_init(l);
}

/* Moves every datagram of `from` into an empty `to`. */
static void list_take(dgram_list_t *to, dgram_list_t *from)
{
    *to = *from;
    if (!to->head) to->tail = &to->head;
    list_init(from);
}

/* --- mbedtls's I/O and timer callbacks ---------------------------------------------------- */

static int bio_send(void *p, const unsigned char *buf, size_t len)
{
    fo_dtls_t *d = p;
    if (d->capture) { /* hibernate() making the close_notify to send later */
        if (len > sizeof d->close_rec) return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
        memcpy(d->close_rec, buf, len);
        d->close_len = (uint8_t)len;
        return (int)len;
    }
    if (d->in_worker) { /* a job: the owner sends it when the job is done */
        if (!list_push(&d->out, buf, len)) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
        return (int)len;
    }
    d->io.send_cb(d->io.user, buf, len);
    return (int)len; /* datagrams: a lost one is retransmitted by the handshake */
}

static int bio_recv(void *p, unsigned char *buf, size_t len)
{
    fo_dtls_t *d = p;
    if (!d->in) return MBEDTLS_ERR_SSL_WANT_READ;
    const uint8_t *in = d->in;
    size_t n = d->in_len;
    d->in = NULL;
    if (n > len) return MBEDTLS_ERR_SSL_WANT_READ; /* larger than any record: drop it */
    memcpy(buf, in, n);
    return (int)n;
}

/* The owner's timer serves mbedtls's retransmissions during the handshake and the hibernation
 * deadline after it (mbedtls's timer then only matters inside mbedtls_ssl_read, as before).
 * Inside a job it only notes that the owner's timer needs setting when the job is done. */
static void arm_owner_timer(fo_dtls_t *d)
{
    if (d->in_worker) {
        d->timer_dirty = true;
        return;
    }
    if (!d->io.timer_cb) return;
    int ms = d->timer_fin_ms ? (int)d->timer_fin_ms : -1;
    if (d->state == ST_DONE) {
        uint64_t now = now_ms();
        ms = d->settled ? -1 : d->hibernate_at_ms > now ? (int)(d->hibernate_at_ms - now) : 0;
    } else if (d->timer_fin_ms) {
        /* What is left of mbedtls's timer (a job may have set it a while ago). */
        uint64_t elapsed = now_ms() - d->timer_start_ms;
        ms = elapsed >= d->timer_fin_ms ? 0 : (int)(d->timer_fin_ms - elapsed);
    }
    d->io.timer_cb(d->io.user, ms);
}

static void timer_set(void *p, uint32_t int_ms, uint32_t fin_ms)
{
    fo_dtls_t *d = p;
    d->timer_start_ms = now_ms();
    d->timer_int_ms = int_ms;
    d->timer_fin_ms = fin_ms;
    arm_owner_timer(d);
}

static int timer_get(void *p)
{
    fo_dtls_t *d = p;
    if (d->timer_fin_ms == 0) return -1;
    uint64_t elapsed = now_ms() - d->timer_start_ms;
    if (elapsed >= d->timer_fin_ms) return 2;
    if (elapsed >= d->timer_int_ms) return 1;
    return 0;
}

/* --- session life cycle ------------------------------------------------------------------ */

fo_dtls_t *fo_dtls_new(fo_dtls_ctx_t *ctx, fo_dtls_role_t role, const fo_dtls_io_t *io,
                       const char *remote_fp_alg, const char *remote_fp)
{
    if (!ctx || !io || !io->send_cb || (role != FO_DTLS_SERVER && role != FO_DTLS_CLIENT))
        return NULL;
    fo_dtls_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->ctx = ctx;
    d->io = *io;
    d->role = role;
    d->state = ST_HANDSHAKE;
    d->offload = ctx->pool && io->loop;
    list_init(&d->pending);
    list_init(&d->batch);
    list_init(&d->out);
    snprintf(d->name, sizeof d->name, "dtls-%s", role == FO_DTLS_SERVER ? "server" : "client");

    /* An unusable fingerprint is not an error yet: the handshake fails with FO_EAUTH, which is
     * where the caller looks for authentication failures. */
    d->fp_md = fp_alg(remote_fp_alg, &d->fp_len);
    if (d->fp_md != MBEDTLS_MD_NONE && !parse_fp(remote_fp, d->fp, d->fp_len))
        d->fp_md = MBEDTLS_MD_NONE;
    if (d->fp_md == MBEDTLS_MD_NONE)
        FO_LOG(FO_LOG_WARN, d->name, "unusable remote fingerprint \"%s\" \"%s\"",
               remote_fp_alg ? remote_fp_alg : "(null)", remote_fp ? remote_fp : "(null)");
    return d;
}

/* The mbedtls context (~40 KiB with its record buffers) is made when the handshake starts, not
 * with the session: an offer that never gets as far as DTLS costs none, and on the server the
 * allocation happens in the job, off the owner's thread. */
static int setup_ssl(fo_dtls_t *d)
{
    if (d->ssl) return 0;
    if (!(d->ssl = malloc(sizeof *d->ssl))) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    mbedtls_ssl_init(d->ssl);
    int ret = mbedtls_ssl_setup(d->ssl, &d->ctx->conf[d->role]);
    if (ret != 0) {
        mbedtls_ssl_free(d->ssl);
        free(d->ssl);
        d->ssl = NULL;
        return ret;
    }
    mbedtls_ssl_set_bio(d->ssl, d, bio_send, bio_recv, NULL);
    mbedtls_ssl_set_timer_cb(d->ssl, d, timer_set, timer_get);
    mbedtls_ssl_set_mtu(d->ssl, DTLS_MTU);
    mbedtls_ssl_set_verify(d->ssl, verify_cb, d);
    return 0;
}

void fo_dtls_set_log_ctx(fo_dtls_t *d, const char *name)
{
    if (d->in_job) return; /* the job reads it */
    snprintf(d->name, sizeof d->name, "%s", name ? name : "dtls");
}

static void destroy(fo_dtls_t *d)
{
    if (d->ssl) {
        mbedtls_ssl_free(d->ssl);
        free(d->ssl);
    }
    list_clear(&d->pending);
    list_clear(&d->batch);
    list_clear(&d->out);
    mbedtls_platform_zeroize(d, sizeof *d);
    free(d);
}

void fo_dtls_free(fo_dtls_t *d)
{
    if (!d) return;
    if (d->in_job) { /* the job owns it: job_finished frees it */
        d->orphaned = true;
        atomic_store_explicit(&d->abandoned, true, memory_order_relaxed);
        return;
    }
    destroy(d);
}

/* Ends the session for good with `err`, logging mbedtls's reason once. */
static int fail(fo_dtls_t *d, int err, int mbedtls_ret, const char *what)
{
    d->state = ST_FAILED;
    d->err = err;
    if (mbedtls_ret)
        fo_dtls_log_mbedtls(FO_LOG_WARN, d->name, what, mbedtls_ret);
    else
        FO_LOG(FO_LOG_WARN, d->name, "%s: %s", what, fo_strerror(err));
    mbedtls_platform_zeroize(d->master, sizeof d->master);
    fo_dtls_alert_key_wipe(&d->alert);
    bool armed = d->timer_fin_ms != 0;
    d->timer_fin_ms = 0;
    if (armed) arm_owner_timer(d); /* nothing to resend: cancels it */
    return err;
}
/* RFC 5764 4.2: the exporter with label "EXTRACTOR-dtls_srtp" and no context, 60 bytes laid
 * out as client key, server key, client salt, server salt. */
static int derive_keys(fo_dtls_t *d)
{
    uint8_t out[DTLS_EXPORT_LEN];
    int ret = mbedtls_ssl_tls_prf(d->prf, d->master, sizeof d->master, "EXTRACTOR-dtls_srtp",
                                  d->randoms, sizeof d->randoms, out, sizeof out);
    mbedtls_platform_zeroize(d->master, sizeof d->master);
    if (ret != 0) return ret;
    const uint8_t *ckey = out, *skey = out + FO_SRTP_KEY_LEN;
    const uint8_t *csalt = out + 2 * FO_SRTP_KEY_LEN, *ssalt = csalt + FO_SRTP_SALT_LEN;
    bool server = d->role == FO_DTLS_SERVER;
    memcpy(d->keys.local, server ? skey : ckey, FO_SRTP_KEY_LEN);
    memcpy(d->keys.local + FO_SRTP_KEY_LEN, server ? ssalt : csalt, FO_SRTP_SALT_LEN);
    memcpy(d->keys.remote, server ? ckey : skey, FO_SRTP_KEY_LEN);
    memcpy(d->keys.remote + FO_SRTP_KEY_LEN, server ? csalt : ssalt, FO_SRTP_SALT_LEN);
    mbedtls_platform_zeroize(out, sizeof out);
    d->keys_ready = true;
    return 0;
}

/* The handshake has just completed: check what was negotiated and who the peer is. */
static int finish(fo_dtls_t *d)
{
    mbedtls_dtls_srtp_info info;
    mbedtls_ssl_get_dtls_srtp_negotiation_result(d->ssl, &info);
    if (info.chosen_dtls_srtp_profile != MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_80) {
        mbedtls_ssl_send_alert_message(d->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                       MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
        return fail(d, FO_ECRYPTO, 0, "peer did not negotiate SRTP_AES128_CM_HMAC_SHA1_80");
    }
    /* verify_cb checked this already; checking again costs one hash per session and does not
     * depend on mbedtls calling the callback. */
    if (!fp_matches(d, mbedtls_ssl_get_peer_cert(d->ssl))) {
        mbedtls_ssl_send_alert_message(d->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                       MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
        return fail(d, FO_EAUTH, 0, "peer certificate does not match the fingerprint");
    }
    if (!d->have_secret) return fail(d, FO_ECRYPTO, 0, "no keys exported");
    int ret = derive_keys(d);
    if (ret != 0) return fail(d, FO_ECRYPTO, ret, "exporting SRTP keys");
    d->state = ST_DONE;
    d->hibernate_at_ms = now_ms() + (uint64_t)d->ctx->hibernate_ms;
    arm_owner_timer(d);
    FO_LOG(FO_LOG_DEBUG, d->name, "handshake done, %s", mbedtls_ssl_get_ciphersuite(d->ssl));
    return 0;
}

/* Pre-makes the close_notify, notes where the peer's records are and frees the SSL context.
 * Returns false (nothing changed) if the suite or the captured key does not allow it. */
static bool hibernate_gcm(fo_dtls_t *d)
{
    mbedtls_ssl_context *ssl = d->ssl;
    /* export_keys_cb captured the peer's key only for a key block shaped as AES-GCM's (no MAC
     * key, 4-byte implicit IV): of our suites, just the two AES-GCM ones. */
    if (d->alert.key_len == 0 || ssl->out_left != 0) return false;
    /* Nothing but this alert is ever sent after the handshake, so its record number stays the
     * next one whenever it goes out. */
    d->capture = true;
    int ret = mbedtls_ssl_close_notify(ssl);
    d->capture = false;
    if (ret != 0 || d->close_len == 0) {
        fo_dtls_log_mbedtls(FO_LOG_DEBUG, d->name, "making close_notify", ret);
        d->close_len = 0;
        return false;
    }
    d->alert.epoch = ssl->in_epoch;
#if defined(MBEDTLS_SSL_DTLS_ANTI_REPLAY)
    d->alert.seq_top = ssl->in_window_top;
#else
    d->alert.seq_top = 0;
#endif
    mbedtls_ssl_free(ssl);
    free(ssl);
    d->ssl = NULL;
    return true;
}

/* After completion, once the peer has proved it completed too or the fallback deadline passed:
 * drops what the session no longer needs. AES-GCM suites (what browsers negotiate with our
 * preference order) lose the whole context; others keep it, minus the handshake state and the
 * last flight that mbedtls's DTLS server keeps until application data arrives (never, here). */
static void settle(fo_dtls_t *d)
{
    if (d->state != ST_DONE || d->settled) return;
    d->settled = true;
    bool hibernated = hibernate_gcm(d);
    if (!hibernated) {
        fo_dtls_alert_key_wipe(&d->alert);
        if (d->ssl->handshake && d->ssl->state == MBEDTLS_SSL_HANDSHAKE_OVER)
            mbedtls_ssl_handshake_wrapup_free_hs_transform(d->ssl);
    }
    d->timer_fin_ms = 0;
    arm_owner_timer(d); /* settled: no timer */
    d->ctx->released += hibernated ? sizeof(mbedtls_ssl_context) + MBEDTLS_SSL_IN_BUFFER_LEN +
                                         MBEDTLS_SSL_OUT_BUFFER_LEN
                                   : sizeof(mbedtls_ssl_handshake_params);
    if (d->ctx->released >= DTLS_TRIM_BYTES) {
        d->ctx->released = 0;
        fo_heap_trim();
    }
    FO_LOG(FO_LOG_DEBUG, d->name, "%s", hibernated ? "hibernated" : "handshake state freed");
}

void fo_dtls_peer_done(fo_dtls_t *d)
{
    if (!d->in_job) settle(d);
}

bool fo_dtls_is_hibernated(const fo_dtls_t *d)
{
    return !d->in_job && d->state == ST_DONE && !d->ssl;
}

static int handshake(fo_dtls_t *d)
{
    int ret = setup_ssl(d);
    if (ret != 0) return fail(d, map_error(ret), ret, "setting up the session");
    /* Before a ClientHello has been accepted nothing is lost by starting over. */
    bool fresh = d->role == FO_DTLS_SERVER && d->ssl->state <= MBEDTLS_SSL_CLIENT_HELLO;
    active = d;
    ret = mbedtls_ssl_handshake(d->ssl);
    active = NULL;
    if (ret == 0) return finish(d);
    int err = map_error(ret);
    if (err == FO_EAGAIN) return FO_EAGAIN;
    /* mbedtls's server parses the first record itself and fails on anything but a ClientHello
     * (say, a late alert or retransmission from an earlier session on this address). Drop it
     * and keep waiting instead of killing the session. */
    if (fresh && !d->fp_mismatch && mbedtls_ssl_session_reset(d->ssl) == 0) {
        fo_dtls_log_mbedtls(FO_LOG_DEBUG, d->name, "dropped a datagram before the ClientHello", ret);
        return FO_EINVAL;
    }
    if (d->fp_mismatch)
        return fail(d, FO_EAUTH, 0, "peer certificate does not match the fingerprint");
    if (ret == MBEDTLS_ERR_SSL_TIMEOUT) return fail(d, FO_ECRYPTO, 0, "handshake timed out");
    return fail(d, err, ret, "handshake");
}

/* After the handshake: drains what the datagram held. Application data (we have no data
 * channel) and anything mbedtls drops are ignored; only the end of the session is reported. */
static int read_after_done(fo_dtls_t *d)
{
    if (!d->ssl) { /* hibernated */
        fo_dtls_alert_scan_t scan;
        if (fo_dtls_alert_scan(&d->alert, d->in, d->in_len, &scan) != 1) {
            if (scan.dropped)
                FO_LOG(FO_LOG_DEBUG, d->name, "hibernated: dropped %u record(s)", scan.dropped);
            return 0;
        }
        FO_LOG(FO_LOG_DEBUG, d->name, "peer closed (%s)",
               scan.desc == 0 ? "close_notify" : "fatal alert");
        d->state = ST_CLOSED;
        return FO_ECLOSED;
    }
    unsigned char scratch[1500];
    for (;;) {
        active = d;
        int ret = mbedtls_ssl_read(d->ssl, scratch, sizeof scratch);
        active = NULL;
        if (ret > 0) continue;
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            return 0;
        if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
            ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
            FO_LOG(FO_LOG_DEBUG, d->name, "peer closed (%s)",
                   ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? "close_notify" : "fatal alert");
            d->state = ST_CLOSED;
            return FO_ECLOSED;
        }
        fo_dtls_log_mbedtls(FO_LOG_DEBUG, d->name, "ignoring a record", ret);
        return 0;
    }
}

/* One datagram into the state machine (whoever owns the session now). */
static int feed(fo_dtls_t *d, const uint8_t *buf, size_t len)
{
    d->in = buf;
    d->in_len = len;
    int ret = d->state == ST_DONE ? read_after_done(d) : handshake(d);
    d->in = NULL; /* never read a datagram after the call that fed it */
    return ret;
}

int fo_dtls_start(fo_dtls_t *d)
{
    if (d->role != FO_DTLS_CLIENT || d->state != ST_HANDSHAKE || d->in_job) return 0;
    int ret = handshake(d); /* the ClientHello: no public-key work */
    return ret == FO_EAGAIN ? 0 : ret;
}

/* --- offloaded handshakes ------------------------------------------------------------------ */

/* Feeds a list of datagrams; notes in job_done / job_end what the owner must hear. */
static void feed_all(fo_dtls_t *d, dgram_list_t *l)
{
    for (dgram_t *g = l->head; g && (d->state == ST_HANDSHAKE || d->state == ST_DONE); g = g->next) {
        if (atomic_load_explicit(&d->abandoned, memory_order_relaxed)) break;
        bool was_handshaking = d->state == ST_HANDSHAKE;
        int rc = feed(d, g->buf, g->len);
        if (rc == 0 && was_handshaking && d->state == ST_DONE) d->job_done = true;
        else if (rc != 0 && rc != FO_EAGAIN && rc != FO_EINVAL && !d->job_end) d->job_end = rc;
    }
    list_clear(l);
}

/* Pool thread: the job owns the session. */
static void job_run(void *arg)
{
    fo_dtls_t *d = arg;
    d->in_worker = true;
    feed_all(d, &d->batch);
    d->in_worker = false;
}

static void submit(fo_dtls_t *d);

/* Owner thread: the job handed the session back. Sends what it made, sets the timer, starts
 * the next job for what arrived meanwhile, then tells the owner what happened. */
static void job_finished(void *arg)
{
    fo_dtls_t *d = arg;
    d->in_job = false;
    if (d->orphaned) {
        destroy(d);
        return;
    }
    bool done = d->job_done;
    int end = d->job_end;
    d->job_done = false;
    d->job_end = 0;
    if (d->close_asked) { /* the owner is done with it: nothing more is sent or reported */
        list_clear(&d->out);
        d->close_asked = false;
        fo_dtls_close(d);
        return;
    }
    for (dgram_t *g = d->out.head; g; g = g->next) d->io.send_cb(d->io.user, g->buf, g->len);
    list_clear(&d->out);
    if (d->timer_dirty) arm_owner_timer(d);
    d->timer_dirty = false;
    if (d->pending.head && d->state == ST_HANDSHAKE) {
        submit(d); /* the session is the new job's from here on */
    } else if (d->pending.head) {
        feed_all(d, &d->pending); /* done meanwhile: what is left is cheap */
        done = done || d->job_done;
        end = end ? end : d->job_end;
        d->job_done = false;
        d->job_end = 0;
    }
    /* The owner may free the session from its callback: nothing of it is read after. */
    void (*cb)(void *, int) = d->io.result_cb;
    void *user = d->io.user;
    if (cb) cb(user, end ? end : done ? 0 : FO_EAGAIN);
}

/* Hands the pending datagrams to a job. Without memory for the job, they are processed here. */
static void submit(fo_dtls_t *d)
{
    list_take(&d->batch, &d->pending);
    d->in_job = true;
    if (fo_pool_submit(d->ctx->pool, job_run, job_finished, d, d->io.loop) != 0) {
        job_run(d);
        job_finished(d);
    }
}

int fo_dtls_input(fo_dtls_t *d, const uint8_t *buf, size_t len)
{
    if (d->in_job || (d->offload && d->state == ST_HANDSHAKE)) {
        if (!fo_dtls_record_like(buf, len)) return FO_EINVAL;
        if (d->pending.n >= DTLS_PENDING_MAX || !list_push(&d->pending, buf, len)) {
            FO_LOG(FO_LOG_DEBUG, d->name, "dropping a handshake datagram (%u queued)", d->pending.n);
            return FO_EAGAIN;
        }
        if (!d->in_job) submit(d);
        return FO_EAGAIN; /* the outcome comes through io.result_cb */
    }
    switch (d->state) {
    case ST_FAILED: return d->err;
    case ST_CLOSED: return FO_ECLOSED;
    default: break;
    }
    if (!fo_dtls_record_like(buf, len)) {
        FO_LOG(FO_LOG_DEBUG, d->name, "dropping a %zu-byte non-DTLS datagram", len);
        return FO_EINVAL;
    }
    return feed(d, buf, len);
}

int fo_dtls_timeout(fo_dtls_t *d)
{
    if (d->in_job) return FO_EAGAIN; /* job_finished sets the timer again */
    switch (d->state) {
    case ST_FAILED: return d->err;
    case ST_CLOSED: return FO_ECLOSED;
    case ST_DONE:
        if (!d->settled) {
            if (now_ms() >= d->hibernate_at_ms) settle(d);
            else arm_owner_timer(d);
        }
        return 0;
    default: break;
    }
    if (d->timer_fin_ms == 0) return FO_EAGAIN;
    /* An owner's timer that fires a little early must not leave the handshake without one. */
    uint64_t elapsed = now_ms() - d->timer_start_ms;
    if (elapsed < d->timer_fin_ms) {
        arm_owner_timer(d);
        return FO_EAGAIN;
    }
    return handshake(d); /* a retransmission: no public-key work, done here */
}

bool fo_dtls_is_done(const fo_dtls_t *d)
{
    return !d->in_job && d->keys_ready && d->state != ST_FAILED;
}

int fo_dtls_srtp_keys(const fo_dtls_t *d, fo_srtp_keys_t *out)
{
    if (d->in_job || !d->keys_ready || d->state == ST_FAILED) return FO_EAGAIN;
    *out = d->keys;
    return 0;
}

void fo_dtls_close(fo_dtls_t *d)
{
    if (d->in_job) { /* job_finished closes it */
        d->close_asked = true;
        atomic_store_explicit(&d->abandoned, true, memory_order_relaxed);
        return;
    }
    if (d->state == ST_DONE && !d->ssl) {
        if (d->close_len) d->io.send_cb(d->io.user, d->close_rec, d->close_len);
    } else if (d->state == ST_DONE) {
        int ret = mbedtls_ssl_close_notify(d->ssl);
        if (ret != 0) fo_dtls_log_mbedtls(FO_LOG_DEBUG, d->name, "close_notify", ret);
    }
    if (d->state == ST_HANDSHAKE || d->state == ST_DONE) {
        /* No retransmissions or hibernation after this: the owner's timer is not needed. */
        bool armed = d->timer_fin_ms || (d->state == ST_DONE && !d->settled);
        d->state = ST_CLOSED;
        if (armed && d->io.timer_cb) d->io.timer_cb(d->io.user, -1);
        d->timer_fin_ms = 0;
    }
    list_clear(&d->pending);
}
