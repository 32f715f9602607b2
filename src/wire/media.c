/* SPDX-License-Identifier: MIT */
/* Names of the codecs in fo_codec_t. */
#include "fanout/media.h"

const char *fo_codec_name(fo_codec_t c)
{
    switch (c) {
    case FO_CODEC_OPUS: return "opus";
    case FO_CODEC_VP8: return "VP8";
    case FO_CODEC_VP9: return "VP9";
    case FO_CODEC_H264: return "H264";
    case FO_CODEC_AV1: return "AV1";
    case FO_CODEC_RTX: return "rtx";
    case FO_CODEC_RED: return "red";
    case FO_CODEC_ULPFEC: return "ulpfec";
    case FO_CODEC_NONE: return "none";
    default: return "other";
    }
}
