/* SPDX-License-Identifier: MIT */
/* Media vocabulary shared by the pure modules (sdp, rtp, rtcp, stream): codec and media kinds.
 * Pure data; no state. */
#ifndef FO_MEDIA_H
#define FO_MEDIA_H

typedef enum { FO_KIND_AUDIO = 0, FO_KIND_VIDEO = 1, FO_KIND_OTHER = 2 } fo_kind_t;

typedef enum {
    FO_CODEC_NONE = 0,
    FO_CODEC_OPUS,
    FO_CODEC_VP8,
    FO_CODEC_VP9,
    FO_CODEC_H264,
    FO_CODEC_AV1,
    FO_CODEC_RTX,    /* RFC 4588 retransmission, bound to another payload type by apt */
    FO_CODEC_RED,
    FO_CODEC_ULPFEC,
    FO_CODEC_OTHER,
} fo_codec_t;

/* "opus", "VP8", ... ; "none"/"other" for the rest. Static storage. */
const char *fo_codec_name(fo_codec_t c);

#endif
