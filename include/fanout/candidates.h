/* SPDX-License-Identifier: MIT */
/* rtc.candidate, the addresses the server advertises as its ICE host candidates: "*" (this
 * machine's IPv4 addresses, non-loopback first), IP literals, and host names resolved once at
 * start-up to their IPv4 addresses (the media socket is IPv4). Start-up thread only: a name
 * lookup may block. */
#ifndef FO_CANDIDATES_H
#define FO_CANDIDATES_H

#include <stddef.h>

#define FO_CANDIDATE_LEN 64

/* Expands `spec` (addresses separated by spaces, commas or tabs) into at most `max` distinct
 * IP address strings in out[], in order; *n is set to how many. An empty spec gives 127.0.0.1.
 * Returns 0, or FO_EINVAL with the reason in err ("'cam.example' does not resolve: Name or
 * service not known") when a word is neither "*", an IP address nor a name with an IPv4
 * address. `resolve` false refuses names instead of looking them up (no blocking). */
int fo_candidates_expand(const char *spec, int resolve, char out[][FO_CANDIDATE_LEN], size_t max,
                         size_t *n, char *err, size_t errcap);

/* Whether `s` is an IPv4 or IPv6 address literal. */
int fo_candidates_is_ip(const char *s);

#endif
