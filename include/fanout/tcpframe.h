/* SPDX-License-Identifier: MIT */
/* RFC 4571 framing, the way ICE-TCP (RFC 6544) carries STUN, DTLS, SRTP and SRTCP: each
 * datagram is preceded by its length as a 16-bit big-endian number. The deframer finds the
 * frames in the bytes a TCP stream delivered so far; frames longer than the caller's maximum
 * are skipped (and counted) without losing the stream's alignment. Pure: libc only, never
 * allocates, never modifies its input. Any thread; a deframer belongs to one stream. */
#ifndef FO_TCPFRAME_H
#define FO_TCPFRAME_H

#include <stddef.h>
#include <stdint.h>

#define FO_TCPFRAME_HDR 2
#define FO_TCPFRAME_MAX 65535 /* the largest length the 16-bit header can say */

/* Writes the length header of a `len`-byte frame (len <= FO_TCPFRAME_MAX). */
static inline void fo_tcpframe_header(uint8_t hdr[FO_TCPFRAME_HDR], size_t len)
{
    hdr[0] = (uint8_t)(len >> 8);
    hdr[1] = (uint8_t)len;
}

typedef struct {
    size_t max;         /* longest frame returned; longer ones are skipped */
    size_t skip;        /* bytes of an oversized frame still to discard */
    uint64_t frames;    /* returned */
    uint64_t oversized; /* skipped for being longer than max */
    uint64_t empty;     /* zero-length frames (skipped) */
} fo_tcpframe_t;

/* Starts a stream's deframer; frames longer than `max` (1..FO_TCPFRAME_MAX) are skipped. */
void fo_tcpframe_init(fo_tcpframe_t *d, size_t max);

/* Looks for the next frame in buf[0..len), the stream's unread bytes in order.
 * Returns 1 with the frame at buf[*off .. *off + *flen) (1 <= *flen <= max), or 0 when the
 * bytes end before a whole frame does. Either way *used bytes are consumed: the caller drops
 * buf[0..*used) and calls again with what follows (plus more bytes from the stream when 0 was
 * returned). Skipped bytes (an oversized frame's, which may span many calls; empty frames)
 * are consumed without a frame. On 0, len - *used < FO_TCPFRAME_HDR + max: the caller never
 * keeps more than one frame's worth of bytes. */
int fo_tcpframe_next(fo_tcpframe_t *d, const uint8_t *buf, size_t len, size_t *used, size_t *off,
                     size_t *flen);

/* Called with each frame, writable in place (buf[0..len), len <= max). Returns 0 to go on,
 * non-zero to stop (the stream was closed meanwhile). */
typedef int (*fo_tcpframe_cb)(void *user, uint8_t *frame, size_t len);

/* Runs every whole frame of buf[0..len) through cb in order. Returns how many bytes were
 * consumed; the caller keeps buf[ret..len) (fewer than FO_TCPFRAME_HDR + max bytes, unless cb
 * stopped early) and puts it in front of the stream's next bytes. */
size_t fo_tcpframe_each(fo_tcpframe_t *d, uint8_t *buf, size_t len, fo_tcpframe_cb cb, void *user);

#endif
