/* SPDX-License-Identifier: MIT */
/* Junk for the media port, as an attacker would send it: valid-looking STUN binding requests
 * (USERNAME, MESSAGE-INTEGRITY, FINGERPRINT, all correct) for ufrags no session has, and real
 * DTLS ClientHellos from addresses that passed no ICE check, from many source ports, at a given
 * rate, on a thread of its own (sendmmsg). For the flood test and fanout-junk. */
#ifndef FO_TEST_FLOOD_H
#define FO_TEST_FLOOD_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { FO_FLOOD_STUN = 0, FO_FLOOD_DTLS = 1, FO_FLOOD_MIX = 2 } fo_flood_kind_t;

typedef struct {
    const char *host;   /* the server's RTC address, e.g. "127.0.0.1" */
    int port;
    const char *src_ip; /* bind the sources here (NULL: any) */
    fo_flood_kind_t kind;
    int rate;           /* datagrams per second */
    double seconds;
    int sources;        /* source sockets (ports) used round robin, 1..256 */
} fo_flood_opts_t;

typedef struct fo_flood fo_flood_t;

/* Builds the datagrams and starts sending. NULL on failure (message on stderr). */
fo_flood_t *fo_flood_start(const fo_flood_opts_t *o);
/* Waits for the end (or stops it early with stop = true); returns the datagrams sent and, in
 * *replies (may be NULL), how many datagrams the sources received back; frees. */
uint64_t fo_flood_join(fo_flood_t *f, bool stop, uint64_t *replies);

#endif
