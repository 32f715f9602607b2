/* SPDX-License-Identifier: MIT */
/* SDP fragments for trickle ICE and ICE restarts (RFC 8840 application/trickle-ice-sdpfrag, as
 * WHIP/WHEP PATCH requests carry them, RFC 9725 4.3): the client's fragment read (ICE
 * credentials, candidates, end-of-candidates, checked line by line) and ours written (the new
 * credentials after a restart). Pure: libc only, never allocates, never writes to its input.
 * Any thread. */
#ifndef FO_SDPFRAG_H
#define FO_SDPFRAG_H

#include <stdbool.h>
#include <stddef.h>

#define FO_SDPFRAG_MAX_LEN 16384 /* longer fragments are refused */

typedef struct {
    char ice_ufrag[257];   /* "" when absent; session- or media-level, which must agree */
    char ice_pwd[257];
    char mid[65];          /* the first a=mid, "" if none */
    size_t n_media;        /* m= sections */
    size_t n_candidates;   /* a=candidate lines (each checked: RFC 8839 grammar) */
    bool end_of_candidates;
} fo_sdpfrag_t;

/* Reads a fragment (CRLF or LF lines). Returns 0, or FO_EINVAL / FO_ETOOBIG with a static
 * reason in *why (may be NULL): a line that is not <letter>=<value>, control characters, a bad
 * or conflicting ice-ufrag/ice-pwd (ice-chars; 4-256 and 22-256 of them), a malformed
 * candidate, an m= line without port and protocol, or nothing at all. Unknown attributes are
 * ignored. Never reads past text[len). */
int fo_sdpfrag_parse(const char *text, size_t len, fo_sdpfrag_t *out, const char **why);

/* Writes the fragment answering an ICE restart (a=ice-lite, our new a=ice-ufrag and a=ice-pwd)
 * into out[0..cap), NUL-terminated. Returns the length, or FO_ETOOBIG / FO_EINVAL (credentials
 * that are not ice-chars). */
int fo_sdpfrag_build_restart(char *out, size_t cap, const char *ufrag, const char *pwd);

#endif
