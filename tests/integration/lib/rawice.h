/* SPDX-License-Identifier: MIT */
/* Raw UDP clients for hostile-peer tests: a socket bound to any loopback address (127.0.0.2 is
 * a client the loopback exemptions do not cover), ICE checks built with the project's STUN
 * adapter (libnice) from an answer's ufrag/pwd, and small readers of the server's /metrics and
 * replies. Unlike peer.c nothing here keeps state: a test drives each socket itself.
 * Test thread only. */
#ifndef FO_TEST_RAWICE_H
#define FO_TEST_RAWICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/stun.h"
#include "peer.h"

/* A non-blocking UDP socket bound to `ip` (port 0) and "connected" to nothing; fails the test
 * on error. */
int fo_raw_socket(const char *ip);
/* The port a socket is bound to. */
int fo_raw_port(int fd);
/* Sends buf to 127.0.0.1:port. */
void fo_raw_send(int fd, int port, const void *buf, size_t len);
/* Builds a valid ICE check (USERNAME "<server_ufrag>:<our_ufrag>", MESSAGE-INTEGRITY keyed by
 * the server's pwd, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE when `nominate`) and sends it to
 * 127.0.0.1:port. Returns its size. */
size_t fo_raw_check(int fd, fo_stun_t *stun, int port, const char *server_ufrag,
                    const char *server_pwd, bool nominate);
/* What arrived on a raw socket, by kind (RFC 7983 first byte). */
typedef struct {
    int pkts;
    uint64_t bytes;
    int stun_requests;  /* Binding requests from the server (address confirmation) */
    int stun_other;     /* responses to our checks */
    int dtls, rtp;      /* anything the server should send only to a confirmed address */
    int answered;       /* requests answered (with an answerer) */
} fo_raw_counts_t;

/* Who answers the server's Binding requests on a raw socket, as a browser does: requests whose
 * USERNAME starts with "<ufrag>:" are answered (controlling role) with MESSAGE-INTEGRITY keyed
 * by `pwd`, from `reply_fd` (normally the socket they arrived on; another socket shows that
 * an answer from the wrong address confirms nothing). */
typedef struct {
    fo_stun_t *stun;
    const char *ufrag, *pwd;
    int reply_fd; /* -1: the receiving socket */
} fo_raw_answerer_t;

/* Reads the datagrams arriving on fd until it has been quiet for wait_ms (at most max_ms in
 * all), adding them to *c (may be NULL); with `ans`, answers the server's Binding requests.
 * Returns the datagram count. */
int fo_raw_drain(int fd, int wait_ms, int max_ms, fo_raw_counts_t *c, const fo_raw_answerer_t *ans);

/* A success response with valid MESSAGE-INTEGRITY (keyed by `pwd`) to a Binding request with
 * USERNAME `username` that the server never sent: what a session holder who cannot see the
 * server's requests could forge. Returns its length. */
size_t fo_raw_foreign_response(fo_stun_t *stun, const char *username, const char *pwd, uint8_t *out,
                               size_t cap);

/* An offer of `role` for `stream` POSTed to the SRS API from the test process (no ICE is
 * started: the caller sends its own checks). Returns the HTTP status; on 200 fills the answer's
 * ICE ufrag/pwd (64 bytes each) and the session id (64 bytes). */
int fo_raw_offer(const char *api, bool play, const char *stream, char *ufrag, char *pwd, char *id);
/* The same from client address src_ip (NULL: any); ufrag, pwd and id may be NULL. With `code`,
 * the API's JSON code. */
int fo_raw_offer_from(const char *src_ip, const char *api, bool play, const char *stream, char *ufrag,
                      char *pwd, char *id, int *code);
/* A C peer (opts: role, name, stun, twcc...) signaled on `stream` and connected (ICE, DTLS,
 * SRTP) within 10 s; fails the test otherwise. */
fo_peer_t *fo_raw_connect(const fo_peer_opts_t *opts, const char *api, const char *stream);
/* Waits up to wait_ms for any of the peers' sockets, then processes them all (up to 8). */
void fo_raw_pump(fo_peer_t *const *peers, size_t n, int wait_ms);
/* The ICE ufrag/pwd (64 bytes each) of an SDP (a peer's offer: what the server's Binding
 * requests to that peer are keyed with). Fails the test when there are none. */
void fo_raw_sdp_creds(const char *sdp, char *ufrag, char *pwd);
/* DELETE /api/v1/clients/<id> (loopback is the operator). Returns the HTTP status. */
int fo_raw_kick(const char *api, const char *id);
/* The value of one sample of the server's /metrics (e.g. "fanout_dropped_packets_total{reason=
 * \"unknown_address\"}"), or -1 when absent or the request failed. */
long long fo_raw_metric(const char *api, const char *sample);

#endif
