/* SPDX-License-Identifier: MIT */
/* DTLS 1.2 with use_srtp over mbedtls 2.28: the certificate (self-signed ECDSA P-256 made at
 * start-up, or loaded), its SHA-256 fingerprint for SDP, and per-peer handshakes as server or
 * client over caller-supplied I/O and timers; exports the SRTP keys (RFC 5705/5764).
 * The only user of mbedtls's SSL API. A context and its sessions belong to one thread.
 *
 * Hibernation. After the handshake nothing but alerts ever crosses a DTLS-SRTP session, yet an
 * mbedtls context holds ~40 KiB (two 16 KiB record buffers, and on the server the handshake
 * state and last flight, kept until application data arrives: never, in WebRTC). So once the
 * peer has shown that it completed the handshake too (fo_dtls_peer_done: the owner
 * authenticated SRTP or SRTCP from it), or DTLS_HIBERNATE_MS (30 s) after completion, when no
 * retransmission of its last flight can still be expected, a session settles:
 *   - AES-GCM suites (what Chrome, Firefox and Safari negotiate with our preference order): the
 *     context is freed. What stays is a pre-made close_notify (made then, sent by
 *     fo_dtls_close; its record number is still the next one since nothing else is sent) and
 *     the peer's write key, so that its close_notify or fatal alert still ends the session
 *     (FO_ECLOSED) and nothing unauthenticated does (dtls_alert.h). A retransmitted flight from
 *     the peer can no longer be answered: that is what the wait is for.
 *   - other suites (CBC, ChaCha20): the context stays; only the handshake state is freed.
 * Neither changes what the functions below return.
 *
 * Offload. With a pool on the context (fo_dtls_ctx_set_pool) and a loop in a session's io, the
 * handshake's expensive steps (ECDHE, ECDSA, certificate parsing; the mbedtls context is made
 * there too) run in jobs on the pool, one at a time per session, while the owner's loop goes
 * on: fo_dtls_input queues the datagram and returns FO_EAGAIN, and what it would have returned
 * (completion, failure, close_notify) comes later through io.result_cb, on the owner's thread,
 * after the job's datagrams went out through io.send_cb. Retransmissions and everything after
 * the handshake stay on the owner's thread (no public-key work). The io callbacks are only
 * ever called on the owner's thread. Without a pool or a loop, everything is synchronous. */
#ifndef FO_DTLS_H
#define FO_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/loop.h"
#include "fanout/pool.h"
#include "fanout/srtp.h"

typedef struct fo_dtls_ctx fo_dtls_ctx_t;
typedef struct fo_dtls fo_dtls_t;

/* Creates the shared context: RNG, certificate and key (PEM files, or NULL/NULL to generate a
 * self-signed ECDSA P-256 one), server and client configurations with the SRTP profile.
 * Returns NULL on failure (logged). */
fo_dtls_ctx_t *fo_dtls_ctx_new(const char *cert_pem_path, const char *key_pem_path);
void fo_dtls_ctx_free(fo_dtls_ctx_t *ctx);

/* "sha-256" fingerprint of our certificate's DER as "AB:CD:...:EF" (95 chars). Owned by ctx. */
const char *fo_dtls_ctx_fingerprint(const fo_dtls_ctx_t *ctx);

/* Writes our certificate (mode 0644) and private key (mode 0600, unencrypted) as PEM files that
 * fo_dtls_ctx_new() can load, so a generated certificate (and the fingerprint in SDP) can be kept
 * across restarts. Returns 0, FO_ESYS (file) or FO_ECRYPTO (encoding), logged. */
int fo_dtls_ctx_write_pem(fo_dtls_ctx_t *ctx, const char *cert_path, const char *key_path);

/* Runs the handshakes of sessions that have io.loop on `pool` (see "Offload"); NULL: inline.
 * Set before creating sessions; the pool must outlive them (fo_pool_free after fo_dtls_free
 * of every session, then let the loops run their posted completions). */
void fo_dtls_ctx_set_pool(fo_dtls_ctx_t *ctx, fo_pool_t *pool);

/* The fallback delay between completion and hibernation (default DTLS_HIBERNATE_MS, 30 s) for
 * sessions completing from now on; shorter only makes sense in tests. */
void fo_dtls_ctx_set_hibernate_ms(fo_dtls_ctx_t *ctx, int ms);

typedef enum { FO_DTLS_SERVER = 0, FO_DTLS_CLIENT = 1 } fo_dtls_role_t;

/* How a session reaches the network and the clock; called from fo_dtls_* or, offloaded, from
 * the loop's completion of a handshake job, always on the owner's thread.
 * send_cb: send one datagram to the peer (never retained).
 * timer_cb: (re)arm the owner's timer to call fo_dtls_timeout() after `ms` milliseconds;
 *           ms < 0 cancels it.
 * result_cb: offloaded sessions, once after each handshake job (its datagrams were just given
 *           to send_cb): what fo_dtls_input would have returned for the datagrams it took: 0
 *           on completion, a terminal code (FO_ECLOSED, FO_EAUTH, ...; also when the handshake
 *           completed and ended in the same job), or FO_EAGAIN when the handshake goes on.
 *           Not called after fo_dtls_close or fo_dtls_free. May be NULL otherwise.
 * loop:     the owner's loop; with a pool on the context it makes the session offloaded. */
typedef struct {
    void (*send_cb)(void *user, const uint8_t *buf, size_t len);
    void (*timer_cb)(void *user, int ms);
    void *user;
    void (*result_cb)(void *user, int rc);
    fo_loop_t *loop;
} fo_dtls_io_t;

/* A new session. `io` is copied. The remote fingerprint (from the peer's SDP, e.g. "sha-256"
 * and "AB:CD:...", hex in either case; "sha-1", "sha-384", "sha-512" work too) is checked
 * against the peer's certificate during the handshake. A missing, malformed or unsupported one
 * does not fail here: the handshake then fails with FO_EAUTH. Returns NULL on failure. */
fo_dtls_t *fo_dtls_new(fo_dtls_ctx_t *ctx, fo_dtls_role_t role, const fo_dtls_io_t *io,
                       const char *remote_fp_alg, const char *remote_fp);
/* Frees the session without sending anything or calling any io callback (an offloaded one
 * whose job is running is freed when the job is done). NULL is a no-op. */
void fo_dtls_free(fo_dtls_t *d);

/* Sets the context printed on this session's log lines (e.g. the session id); copied,
 * truncated to 47 characters. Default "dtls-server" / "dtls-client". */
void fo_dtls_set_log_ctx(fo_dtls_t *d, const char *name);

/* Client: sends the ClientHello. Server: no-op. Returns 0 or a negative code. */
int fo_dtls_start(fo_dtls_t *d);

/* Feeds one received DTLS datagram. Returns:
 *   FO_EAGAIN  handshake still in progress (fine; offloaded: queued, see io.result_cb),
 *   0          handshake has completed (returned once, on the datagram that completed it;
 *              afterwards application data, and once hibernated anything but an authentic
 *              alert, is ignored and 0 is returned),
 *   FO_ECLOSED the peer sent close_notify,
 *   FO_EAUTH   the peer's certificate does not match the fingerprint,
 *   FO_EINVAL  not a DTLS record (RFC 7983 first byte / DTLS header): dropped, session unharmed,
 *   other      fatal handshake failure.
 * After a fatal failure every later call returns the same code; after FO_ECLOSED, FO_ECLOSED.
 * `buf` is only read during the call. */
int fo_dtls_input(fo_dtls_t *d, const uint8_t *buf, size_t len);

/* Called by the owner when the timer armed through timer_cb fires: retransmits or fails.
 * Returns FO_EAGAIN, or a negative code when the handshake timed out for good (FO_ECRYPTO,
 * about 12 s without progress). Called early, it re-arms timer_cb for the rest. After
 * completion the timer is the hibernation deadline: it returns 0 (and hibernates when due). */
int fo_dtls_timeout(fo_dtls_t *d);

/* Tells the session that the peer has completed the handshake (the owner authenticated an SRTP
 * or SRTCP packet keyed from it): it hibernates now (see above) and cancels its timer through
 * timer_cb. Cheap and idempotent; does nothing before completion or after the end. */
void fo_dtls_peer_done(fo_dtls_t *d);

/* True once the session's mbedtls context has been freed (AES-GCM suites, see above). */
bool fo_dtls_is_hibernated(const fo_dtls_t *d);

bool fo_dtls_is_done(const fo_dtls_t *d);

/* After completion: the SRTP master keys, split by our role (server uses the server write key
 * for outbound). Returns 0 or FO_EAGAIN if not done. */
int fo_dtls_srtp_keys(const fo_dtls_t *d, fo_srtp_keys_t *out);

/* Sends close_notify (best effort; nothing is sent before completion; the pre-made one once
 * hibernated) and cancels the timer through timer_cb. Later input returns FO_ECLOSED. */
void fo_dtls_close(fo_dtls_t *d);

#endif
