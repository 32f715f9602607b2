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
/* Reads the datagrams arriving on fd until it has been quiet for wait_ms. Adds their bytes to
 * *bytes and the STUN requests among them to *requests (either may be NULL). Returns the
 * datagram count. */
int fo_raw_drain(int fd, int wait_ms, uint64_t *bytes, int *requests);
/* An offer of `role` for `stream` POSTed to the SRS API from the test process (no ICE is
 * started: the caller sends its own checks). Returns the HTTP status; on 200 fills the answer's
 * ICE ufrag/pwd (64 bytes each) and the session id (64 bytes). */
int fo_raw_offer(const char *api, bool play, const char *stream, char *ufrag, char *pwd, char *id);
/* DELETE /api/v1/clients/<id> (loopback is the operator). Returns the HTTP status. */
int fo_raw_kick(const char *api, const char *id);
/* The value of one sample of the server's /metrics (e.g. "fanout_dropped_packets_total{reason=
 * \"unknown_address\"}"), or -1 when absent or the request failed. */
long long fo_raw_metric(const char *api, const char *sample);

#endif
