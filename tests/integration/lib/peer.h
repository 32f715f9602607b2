/* SPDX-License-Identifier: MIT */
/* A WebRTC peer for tests and the load tool: SRS-style HTTP signaling (publish or play), then
 * on one UDP socket ICE (we are the controlling full agent against the ICE-lite server), DTLS
 * client (fo_dtls) and SRTP (fo_srtp). It does not run its own thread or loop: the owner polls
 * fo_peer_fd() and calls fo_peer_process(), so many peers can share one thread.
 * A peer and everything it returns belong to the thread that created it. */
#ifndef FO_TEST_PEER_H
#define FO_TEST_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/dtls.h"
#include "fanout/stun.h"

typedef struct fo_peer fo_peer_t;

typedef enum { FO_PEER_PUBLISH = 0, FO_PEER_PLAY = 1 } fo_peer_role_t;

typedef enum {
    FO_PEER_NEW = 0,   /* created, not signaled */
    FO_PEER_ICE,       /* answer received, sending checks */
    FO_PEER_DTLS,      /* ICE succeeded, DTLS handshake running */
    FO_PEER_CONNECTED, /* SRTP ready */
    FO_PEER_CLOSED,    /* closed by us or by the server's close_notify */
    FO_PEER_FAILED,    /* see fo_peer_error() */
} fo_peer_state_t;

/* Our payload types (the offer's). */
#define FO_PEER_PT_OPUS 111
#define FO_PEER_PT_VP8 96
#define FO_PEER_PT_RTX 97
#define FO_PEER_PT_H264 102 /* packetization-mode=1, profile-level-id=42e01f */
#define FO_PEER_EXT_RID 10  /* simulcast offers: rtp-stream-id */
#define FO_PEER_EXT_RRID 11 /* repaired-rtp-stream-id */
#define FO_PEER_EXT_TWCC 5  /* transport-wide-cc (with opts.twcc) */

typedef struct {
    fo_peer_role_t role;
    fo_dtls_ctx_t *dtls; /* shared; NULL: the peer makes its own (fo_dtls_ctx_new(NULL, NULL)) */
    fo_stun_t *stun;     /* shared (one per thread); NULL: the peer makes its own */
    const char *name;    /* log context, e.g. "pub"; copied */
    bool h264;           /* offer H.264 (FO_PEER_PT_H264) instead of VP8 as the video codec */
    bool no_rtx;         /* offer no RTX (retransmissions are then plain, RFC 4585) */
    bool audio_nack;     /* offer "a=rtcp-fb:111 nack" for Opus (browsers usually do not) */
    bool twcc;           /* offer the transport-wide-cc header extension (id FO_PEER_EXT_TWCC), as
                            browsers do: a player then gets a bandwidth estimate from its feedback */
    bool simulcast;      /* publish: video as three layers, Chrome's way (a=rid:l/m/h send,
                            a=simulcast:send l;m;h, rtp-stream-id as extension 10 and
                            repaired-rtp-stream-id as 11, no a=ssrc for video) */
    bool rx_timestamps;  /* ask the kernel for each datagram's arrival time (SO_TIMESTAMPNS):
                            fo_peer_rx_ns() in the receive callback */
} fo_peer_opts_t;

/* One m-section of the server's answer, as far as the peer needs it. */
typedef struct {
    char kind[16];     /* "audio" / "video" */
    char mid[64];
    bool accepted;     /* port != 0 */
    uint8_t pts[16];   /* payload types on the m-line */
    size_t n_pts;
    uint32_t ssrc;     /* first a=ssrc (the media SSRC of an FID group), 0 if none */
    uint32_t rtx_ssrc; /* a=ssrc-group:FID second SSRC, 0 if none */
} fo_peer_media_t;

typedef struct {
    char ufrag[64];
    char pwd[128];
    char fp_alg[16];
    char fp[160];
    bool ice_lite;
    char cand_ip[64]; /* the first UDP host candidate */
    uint16_t cand_port;
    fo_peer_media_t media[8];
    size_t n_media;
} fo_peer_answer_t;

/* Received SRTP/SRTCP after decryption: pkt[0..len) is plain RTP or RTCP (compound). Called
 * from fo_peer_process; the buffer is only valid during the call. */
typedef void (*fo_peer_recv_cb)(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len,
                                bool is_rtcp);

/* Called for every SRTP/SRTCP datagram before it is decrypted (the RTP header is readable);
 * returning false drops it as if the network had lost it, before SRTP's replay window sees it,
 * so a plain retransmission of it is accepted later. */
typedef bool (*fo_peer_filter_cb)(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len);

/* Creates a peer with random ICE credentials and SSRCs. NULL on failure. */
fo_peer_t *fo_peer_new(const fo_peer_opts_t *opts);
/* Sends close_notify if connected, then frees. NULL is a no-op. */
void fo_peer_free(fo_peer_t *p);
/* Frees without a word to the server (a peer that vanished: the server must time it out). */
void fo_peer_vanish(fo_peer_t *p);

void fo_peer_set_recv_cb(fo_peer_t *p, fo_peer_recv_cb cb, void *user);
void fo_peer_set_filter(fo_peer_t *p, fo_peer_filter_cb cb, void *user);

/* Signals: POSTs the offer to `api_base` + "/rtc/v1/publish/" (or play), stream `stream`
 * ("app/name"), parses the answer and starts ICE. Blocking HTTP (timeout_ms). Returns 0, or
 * FO_ERR/FO_EINVAL/FO_ESYS with fo_peer_error() set; fo_peer_http_status() and
 * fo_peer_api_code() tell what the server said (e.g. 409 and a non-zero code). */
int fo_peer_signal(fo_peer_t *p, const char *api_base, const char *stream, int timeout_ms);

/* fo_peer_signal in two halves, so the blocking HTTP POST can run elsewhere (fanout-bench runs
 * it on a pool of threads; the peer itself stays on its owner thread):
 * fo_peer_signal_request builds the request body (malloc'd, the caller frees; NULL on failure)
 * and writes the POST URL into url; POST it yourself (fo_peer_http_post is thread-safe), then
 * hand the HTTP status (or negative error) and response body to fo_peer_signal_answer, which
 * parses the answer and starts ICE like fo_peer_signal. */
char *fo_peer_signal_request(fo_peer_t *p, const char *api_base, const char *stream, char *url,
                             size_t url_cap);
int fo_peer_signal_answer(fo_peer_t *p, const char *url, int status, const char *resp);

/* Signals and then drives ICE and DTLS until connected, failed or timeout_ms. Returns 0 when
 * connected. Other peers of the same thread are not serviced meanwhile. */
int fo_peer_connect(fo_peer_t *p, const char *api_base, const char *stream, int timeout_ms);

/* The UDP socket to poll for POLLIN (valid after fo_peer_signal). */
int fo_peer_fd(const fo_peer_t *p);
/* Milliseconds until fo_peer_process needs to run for timers (-1: none). */
int fo_peer_timeout_ms(const fo_peer_t *p);
/* Reads what is pending on the socket (non-blocking, bounded) and runs due timers: ICE check
 * retransmissions, DTLS retransmissions, STUN consent every 2 s. Returns the state. */
fo_peer_state_t fo_peer_process(fo_peer_t *p);

/* Protects and sends one plaintext RTP (or RTCP) packet. `pkt` is not modified. Returns 0,
 * FO_EAGAIN if not connected yet, or a negative code. */
int fo_peer_send_rtp(fo_peer_t *p, const uint8_t *pkt, size_t len);
int fo_peer_send_rtcp(fo_peer_t *p, const uint8_t *pkt, size_t len);

/* Sends bytes as they are from the peer's socket to the server (hostile-input tests). */
void fo_peer_send_raw(fo_peer_t *p, const uint8_t *buf, size_t len);
/* The last SRTP/SRTCP datagram fo_peer_send_rtp/rtcp sent, as it went on the wire. */
const uint8_t *fo_peer_last_protected(const fo_peer_t *p, size_t *len);

/* Sends close_notify; the peer is CLOSED afterwards. */
void fo_peer_close(fo_peer_t *p);

fo_peer_state_t fo_peer_state(const fo_peer_t *p);
const char *fo_peer_error(const fo_peer_t *p);
int fo_peer_http_status(const fo_peer_t *p);
int fo_peer_api_code(const fo_peer_t *p);
const char *fo_peer_session_id(const fo_peer_t *p);
const char *fo_peer_offer_sdp(const fo_peer_t *p);
const char *fo_peer_answer_sdp(const fo_peer_t *p); /* NULL before signaling */
const fo_peer_answer_t *fo_peer_answer(const fo_peer_t *p);
/* The answer's m-section of that kind ("audio"/"video"), NULL if none. */
const fo_peer_media_t *fo_peer_answer_media(const fo_peer_t *p, const char *kind);
/* Our SSRCs (publish offers carry them). */
uint32_t fo_peer_ssrc(const fo_peer_t *p, const char *kind);

typedef struct {
    uint64_t rtp_sent, rtcp_sent, rtp_recv, rtcp_recv;
    uint64_t stun_sent, stun_ok, consent_ok;
    uint64_t stun_answered; /* the server's Binding requests (address confirmation) answered */
    uint64_t dropped; /* undecryptable, unknown source, unknown first byte */
} fo_peer_stats_t;
const fo_peer_stats_t *fo_peer_stats(const fo_peer_t *p);

/* A minimal blocking HTTP/1.1 POST ("Connection: close", Content-Length, reads until close;
 * chunked responses are decoded). url: "http://host:port/path". *body_out is malloc'd and
 * NUL-terminated (caller frees). Returns the HTTP status (> 0) or a negative code. */
int fo_peer_http_post(const char *url, const char *content_type, const char *body,
                      char **body_out, int timeout_ms);

/* Any method; content_type NULL/"" for none, body NULL for none. With headers_out, the
 * response's status line and headers (malloc'd, "\r\n"-separated; caller frees). */
int fo_peer_http_request(const char *method, const char *url, const char *content_type,
                         const char *body, char **headers_out, char **body_out, int timeout_ms);
/* The same with extra request headers ("Name: value\r\n" lines, NULL for none). */
int fo_peer_http_request_h(const char *method, const char *url, const char *content_type,
                           const char *extra_headers, const char *body, char **headers_out,
                           char **body_out, int timeout_ms);

/* The same from a given client address (src_ip, e.g. "127.0.0.2"; NULL: any). */
int fo_peer_http_request_from(const char *src_ip, const char *method, const char *url,
                              const char *content_type, const char *extra_headers, const char *body,
                              char **headers_out, char **body_out, int timeout_ms);

/* WHIP/WHEP signaling: POSTs the offer as application/sdp to `url` (the endpoint with
 * ?app=&stream=), expects 201, Content-Type application/sdp and a Location, then starts ICE.
 * fo_peer_location() gives the resource, fo_peer_session_id() its last path segment. */
int fo_peer_signal_whip(fo_peer_t *p, const char *url, int timeout_ms);
/* fo_peer_signal_whip, then ICE and DTLS until connected (as fo_peer_connect). */
int fo_peer_connect_whip(fo_peer_t *p, const char *url, int timeout_ms);
const char *fo_peer_location(const fo_peer_t *p);

/* In the receive callback of a peer made with rx_timestamps: when the kernel queued the
 * datagram on the socket (CLOCK_REALTIME, ns), so the owner's own scheduling delays do not
 * show. 0 otherwise. */
int64_t fo_peer_rx_ns(const fo_peer_t *p);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t fo_peer_now_ms(void);

#endif
