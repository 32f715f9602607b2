/* SPDX-License-Identifier: MIT */
/* RTP (RFC 3550) header parsing, header-extension access (RFC 8285), the per-player rewrite
 * (SSRC, payload type, sequence number, timestamp, extension ids) and keyframe detection.
 * Pure: libc only, never allocates, never modifies its input. Any thread. */
#ifndef FO_RTP_H
#define FO_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/media.h"

#define FO_RTP_MIN_HEADER 12

/* A parsed view into a caller-owned buffer; valid while that buffer is. */
typedef struct {
    uint8_t marker;
    uint8_t pt;
    uint8_t csrc_count;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint16_t ext_profile;     /* 0xBEDE one-byte, 0x1000-0x100F two-byte; 0 when no extension */
    const uint8_t *ext;       /* extension elements (after the 4-byte extension header) */
    size_t ext_len;           /* bytes of extension elements */
    const uint8_t *payload;   /* after header, CSRCs and extension */
    size_t payload_len;       /* excluding padding */
    uint8_t padding_len;      /* trailing padding bytes (0 if P bit clear) */
    const uint8_t *buf;       /* the whole packet */
    size_t len;
} fo_rtp_view_t;

/* Parses an RTP packet. Returns 0, or FO_EINVAL when the version is not 2, the lengths do not
 * add up, or the padding is larger than the payload (or P is set with a count of 0). The
 * elements inside the extension block are not validated here: lookups and rewrites stop at the
 * first malformed one (RFC 8285 §4.2). */
int fo_rtp_parse(const uint8_t *buf, size_t len, fo_rtp_view_t *out);

/* Finds header extension `id` (1..14 one-byte, 1..255 two-byte). Returns 0 and sets *data and
 * *len (into the packet), or FO_ENOTFOUND (also for profiles other than RFC 8285's). */
int fo_rtp_ext_find(const fo_rtp_view_t *v, uint8_t id, const uint8_t **data, size_t *len);

/* How to rewrite a packet for one receiver. ext_map[in_id] is the receiver's id for the
 * sender's extension in_id (0 = drop it); ext_map NULL drops every extension. */
typedef struct {
    uint32_t ssrc;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    const uint8_t *ext_map; /* 256 entries or NULL */
    uint8_t tw_id;          /* non-zero: add a transport-wide sequence number element with this
                               id (ext_map must not map anything onto it) */
    uint16_t tw_seq;
    uint8_t rid_id;         /* non-zero: add an rtp-stream-id element (RFC 8852) with this id
                               and the text rid[0..rid_len) (1..16 bytes): simulcast layers
                               forwarded to a relay */
    uint8_t rid_len;
    const char *rid;
} fo_rtp_rewrite_t;

/* Writes `in` rewritten by `rw` into out[0..cap): new fixed header, CSRCs copied, extensions
 * kept/remapped per ext_map (written in one-byte form when all ids and lengths fit, else
 * two-byte; no block and X clear when none is kept; a profile other than RFC 8285's is always
 * dropped), then the transport-wide sequence number when rw->tw_id is set, payload and padding
 * copied. `out` must not overlap the input packet. Returns the
 * length written, or FO_ETOOBIG (nothing useful written). */
int fo_rtp_rewrite(const fo_rtp_view_t *in, const fo_rtp_rewrite_t *rw, uint8_t *out, size_t cap);

/* Writes a plain 12-byte RTP header (version 2; no padding, extension or CSRCs) at out, which
 * needs 12 bytes. Returns 12. For senders that build packets from scratch (tests, load tool). */
size_t fo_rtp_write_header(uint8_t *out, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
                           uint32_t ssrc);

/* Sets sequence number / SSRC in place in an already built packet (used by RTX and tests). */
void fo_rtp_set_seq(uint8_t *pkt, uint16_t seq);
void fo_rtp_set_ssrc(uint8_t *pkt, uint32_t ssrc);

/* True when the payload starts a decodable keyframe for `codec` (VP8 key frame start, H.264
 * IDR/SPS in a single NAL, STAP-A or FU-A start, VP9 non-inter-predicted start of frame, AV1
 * new coded video sequence). False for anything else, including truncated payloads. Stricter
 * details: VP8 needs the 10-byte key frame header with its start code; VP9 also rejects a
 * spatial layer predicted from a lower one (D=1); a malformed STAP-A is false. */
bool fo_rtp_is_keyframe(fo_codec_t codec, const uint8_t *payload, size_t len);

/* A VP8 (RFC 7741 §4.2) or VP9 (RFC 9628 §4.2) payload descriptor: its length (the codec's
 * bytes follow) and the flags keyframe detection and depacketization need. */
typedef struct {
    size_t len;          /* descriptor bytes */
    bool start;          /* VP8: S=1 and PID=0 (a frame's first partition starts); VP9: B */
    bool end;            /* VP9: E (the layer frame ends); VP8: always false */
    bool inter;          /* VP9: P (predicted from an earlier picture) */
    bool inter_layer;    /* VP9: D (predicted from a lower spatial layer) */
} fo_rtp_desc_t;

/* Parses the descriptor at payload[0..len). Returns 0, or FO_EINVAL when it is truncated or
 * no codec bytes follow it. */
int fo_rtp_vp8_desc(const uint8_t *payload, size_t len, fo_rtp_desc_t *out);
int fo_rtp_vp9_desc(const uint8_t *payload, size_t len, fo_rtp_desc_t *out);

/* Serial-number arithmetic (RFC 1982) on 16-bit sequence numbers: a - b as a signed distance. */
static inline int16_t fo_seq_diff(uint16_t a, uint16_t b) { return (int16_t)(uint16_t)(a - b); }

/* True when the first byte/second byte classify the datagram as RTCP (RFC 5761: PT 192-223). */
static inline bool fo_rtp_is_rtcp(const uint8_t *buf, size_t len)
{
    return len >= 2 && buf[1] >= 192 && buf[1] <= 223;
}

#endif
