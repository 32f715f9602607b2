/* SPDX-License-Identifier: MIT */
/* Depacketizers: the RTP payloads of one frame, in sequence order, back into the codec's own
 * frame format for a container (what the recorder muxes):
 *   H.264 (RFC 6184, packetization-mode 1: single NAL units, STAP-A, FU-A) -> Annex B with
 *         4-byte start codes;
 *   VP8 (RFC 7741) -> the frame (payload descriptors stripped);
 *   VP9 (RFC 9628) -> the frame, or a superframe (with its index) when one picture carries
 *         several spatial layer frames;
 *   AV1 (AV1 RTP payload format, §4.4-4.5) -> a temporal unit of OBUs in the low-overhead
 *         bitstream format (every OBU with obu_has_size_field set; temporal delimiters, tile
 *         lists and padding dropped), as ISO BMFF (av1-isobmff §2.4) and Matroska store it;
 *   Opus (RFC 7587) -> the packet as it is.
 * Pure: libc only, never allocates, never modifies its input; the frame is written into a
 * buffer the caller owns. A frame that cannot be rebuilt (a malformed payload, a fragment
 * without its start, a frame larger than the buffer) is reported broken, never emitted half.
 * Any thread; one fo_depack_t per track. */
#ifndef FO_DEPACK_H
#define FO_DEPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/media.h"

#define FO_DEPACK_VP9_MAX_LAYERS 8 /* frames a VP9 superframe index can list */

typedef struct {
    fo_codec_t codec;
    uint8_t *buf;        /* caller-owned output, cap bytes */
    size_t cap;
    size_t len;          /* bytes of the frame so far */
    bool open;           /* between begin and end */
    bool broken;         /* something of this frame was lost or malformed */
    bool key;            /* the frame starts a keyframe (decodable on its own) */
    bool first;          /* no payload added yet */
    /* H.264: an FU-A fragmented NAL unit is open */
    bool fu_open;
    /* AV1: an OBU element continues in the next packet; its bytes start at obu_start */
    bool obu_open;
    size_t obu_start;
    /* VP9: where each spatial layer frame of the picture starts */
    size_t vp9_start[FO_DEPACK_VP9_MAX_LAYERS];
    unsigned vp9_frames;
    bool vp9_in_frame;
} fo_depack_t;

/* A rebuilt frame: data points into the depacketizer's buffer (valid until the next begin). */
typedef struct {
    const uint8_t *data;
    size_t len;
    bool key;
} fo_depack_frame_t;

/* Sets up `d` for `codec` (Opus, VP8, VP9, H.264 or AV1) writing into buf[0..cap). Returns 0, or
 * FO_EINVAL for a codec it cannot depacketize. */
int fo_depack_init(fo_depack_t *d, fo_codec_t codec, uint8_t *buf, size_t cap);
/* Starts a new frame (a frame still open is dropped). */
void fo_depack_begin(fo_depack_t *d);
/* Adds the payload of the frame's next RTP packet (sequence order, none missing). Returns 0, or
 * FO_EINVAL / FO_ETOOBIG, after which the frame is broken (later adds are ignored). */
int fo_depack_add(fo_depack_t *d, const uint8_t *payload, size_t len);
/* Marks the frame broken (a packet of it is missing). */
void fo_depack_lost(fo_depack_t *d);
/* Ends the frame. Returns 0 with *out set, or FO_EINVAL when it is broken, empty or incomplete
 * (a fragment still open). Either way the frame is closed. */
int fo_depack_end(fo_depack_t *d, fo_depack_frame_t *out);

/* Writes `v` as LEB128 (AV1's leb128(), at most 8 bytes) at out; returns the bytes written. */
size_t fo_leb128_write(uint8_t *out, uint64_t v);
/* Reads LEB128 from p[0..len): returns the bytes read (1..8) with *v set, or 0 if malformed. */
size_t fo_leb128_read(const uint8_t *p, size_t len, uint64_t *v);

#endif
