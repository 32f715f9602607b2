/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the SDP module: parse any bytes as an offer, and when that succeeds
 * negotiate every media for both roles and build both answers (into a roomy buffer and into
 * one cut short), and compare codecs pairwise. Corpus: tests/fuzz/corpus/sdp. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fanout/common.h"
#include "fanout/sdp.h"

static fo_sdp_t offer;
static fo_sdp_answer_t ans;
static char out[FO_SDP_MAX_LEN * 2];

static const fo_codec_t prefs[] = {FO_CODEC_H264, FO_CODEC_VP8, FO_CODEC_VP9, FO_CODEC_AV1,
                                   FO_CODEC_RED};
static const char *const exts[] = {
    "urn:ietf:params:rtp-hdrext:sdes:mid", "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", NULL};

static void answer(fo_sdp_role_t role, size_t short_cap)
{
    memset(&ans, 0, sizeof ans);
    for (size_t i = 0; i < offer.n_media; i++) {
        fo_sdp_answer_media_t *a = &ans.media[i];
        int rc = fo_sdp_negotiate(&offer.media[i], role, prefs, FO_ARRAY_LEN(prefs), exts, a);
        if (rc != 0 && rc != FO_ECODEC) __builtin_trap();
        if (a->accept && a->n_pts == 0) __builtin_trap();
        if (role == FO_SDP_ROLE_PLAY && a->accept) {
            a->ssrc = 0x1000 + (uint32_t)i;
            a->rtx_ssrc = i & 1 ? 0x2000 + (uint32_t)i : 0;
            memcpy(a->msid_track, "track", 6);
        }
        for (size_t k = 0; k < offer.media[i].n_codecs; k++) {
            const fo_sdp_codec_t *c = &offer.media[i].codecs[k];
            fo_sdp_codec_compatible(c, &offer.media[i].codecs[0]);
            if (fo_sdp_codec_by_pt(&offer.media[i], c->pt) == NULL) __builtin_trap();
            fo_sdp_rtx_for(&offer.media[i], c->pt);
        }
    }
    ans.ice_ufrag = "ufrag";
    ans.ice_pwd = "passwordpasswordpassword";
    ans.fingerprint = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:"
                      "EF:01:23:45:67:89";
    ans.candidates[0] = role == FO_SDP_ROLE_PLAY ? "::1" : "127.0.0.1";
    ans.candidates[1] = "192.0.2.1";
    ans.n_candidates = 2;
    ans.port = 8000;
    ans.session_id = UINT64_MAX;
    int n = fo_sdp_build_answer(&offer, &ans, out, sizeof out);
    if (n < 0 || strlen(out) != (size_t)n) __builtin_trap();
    /* Our answer must be well-formed enough for our own parser. */
    static fo_sdp_t again;
    if (fo_sdp_parse(out, (size_t)n, &again, NULL) != 0) __builtin_trap();
    if (again.n_media != offer.n_media) __builtin_trap();
    n = fo_sdp_build_answer(&offer, &ans, out, short_cap);
    if (n >= 0 && (size_t)n >= short_cap) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fo_sdp_parse((const char *)data, size, &offer, NULL) != 0) return 0;
    answer(FO_SDP_ROLE_PUBLISH, 1 + size % 2048);
    answer(FO_SDP_ROLE_PLAY, 1 + size % 4096);
    return 0;
}
