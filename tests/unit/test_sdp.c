/* SPDX-License-Identifier: MIT */
/* Unit tests for the SDP module: real Chrome/Firefox offers (tests/data/sdp, captured by
 * scripts/capture-offers.js from Debian's chromium and firefox-esr) parsed field by field,
 * negotiated for both roles, answered; plus malformed, oversized and truncated inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/common.h"
#include "fanout/sdp.h"

#ifndef FO_TEST_DATA
#error "FO_TEST_DATA (the tests/data directory) must be defined"
#endif

#define TWCC_URI "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define AST_URI "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define MID_URI "urn:ietf:params:rtp-hdrext:sdes:mid"

static const char *const EXTS[] = {MID_URI, AST_URI, TWCC_URI, NULL};
static const fo_codec_t PREFS_H264[] = {FO_CODEC_H264, FO_CODEC_VP8, FO_CODEC_VP9, FO_CODEC_AV1};
static const fo_codec_t PREFS_VP8[] = {FO_CODEC_VP8, FO_CODEC_H264};

/* Big structs live here, not on the test's stack. */
static fo_sdp_t g_offer, g_offer2;
static fo_sdp_answer_t g_ans;
static char g_text[80 * 1024];
static char g_out[64 * 1024];

static size_t load(const char *name, char *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sdp/%s", FO_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

/* Parses a captured offer; the text is copied into an exact-size heap buffer so that any read
 * past the end shows up under ASan, and it is checked to be unchanged afterwards. */
static void parse_file(const char *name, fo_sdp_t *out)
{
    size_t n = load(name, g_text, sizeof g_text);
    char *exact = malloc(n);
    assert_non_null(exact);
    memcpy(exact, g_text, n);
    const char *why = "unset";
    int rc = fo_sdp_parse(exact, n, out, &why);
    if (rc) fail_msg("%s: %s (%s) line %d", name, fo_strerror(rc), why, out->err_line);
    assert_null(why);
    assert_memory_equal(exact, g_text, n);
    free(exact);
}

static int parse_str(const char *s, fo_sdp_t *out, const char **why)
{
    return fo_sdp_parse(s, strlen(s), out, why);
}

static const fo_sdp_codec_t *codec(const fo_sdp_media_t *m, uint8_t pt)
{
    const fo_sdp_codec_t *c = fo_sdp_codec_by_pt(m, pt);
    if (!c) fail_msg("pt %u missing", pt);
    return c;
}

static const fo_sdp_ext_t *ext_by_id(const fo_sdp_media_t *m, uint8_t id)
{
    for (size_t i = 0; i < m->n_ext; i++)
        if (m->ext[i].id == id) return &m->ext[i];
    fail_msg("extmap %u missing", id);
    return NULL;
}

static void assert_pts(const fo_sdp_answer_media_t *a, const uint8_t *want, size_t n)
{
    if (a->n_pts != n) {
        char got[256] = "";
        for (size_t i = 0; i < a->n_pts; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), " %u", a->pts[i]);
        fail_msg("pts:%s (want %zu entries)", got, n);
    }
    assert_memory_equal(a->pts, want, n);
}

#define ASSERT_PTS(a, ...)                                                                   \
    do {                                                                                     \
        static const uint8_t want_[] = {__VA_ARGS__};                                        \
        assert_pts((a), want_, sizeof want_);                                                \
    } while (0)

/* ---- parsing real offers ---- */

static void chrome_publish_parse(void **state)
{
    (void)state;
    parse_file("chrome-publish.sdp", &g_offer);
    fo_sdp_t *o = &g_offer;
    assert_int_equal(o->n_media, 2);
    assert_false(o->ice_lite);
    const fo_sdp_media_t *a = &o->media[0], *v = &o->media[1];
    assert_string_equal(a->mid, "0");
    assert_string_equal(v->mid, "1");
    assert_int_equal(a->kind, FO_KIND_AUDIO);
    assert_int_equal(v->kind, FO_KIND_VIDEO);
    assert_string_equal(a->proto, "UDP/TLS/RTP/SAVPF");
    assert_int_equal(a->port, 9);
    for (size_t i = 0; i < 2; i++) {
        const fo_sdp_media_t *m = &o->media[i];
        assert_true(m->bundled);
        assert_true(m->rtcp_mux);
        assert_true(m->rtcp_rsize);
        assert_int_equal(m->dir, FO_DIR_SENDONLY);
        assert_int_equal(m->setup, FO_SETUP_ACTPASS);
        assert_string_equal(m->ice_ufrag, "jV/0");
        assert_string_equal(m->ice_pwd, "NIu+w+gsLXY+MKCl0iq+Ksbw");
        assert_string_equal(m->fp_alg, "sha-256");
        assert_string_equal(m->fp, "F1:21:52:6C:17:43:F5:56:74:30:84:71:51:17:33:33:C6:D7:47:87:26:0F:"
                                   "2D:52:41:17:E2:6A:55:2C:D8:74");
    }
    /* audio: 111 63 9 0 8 13 110 126 */
    assert_int_equal(a->n_codecs, 8);
    const fo_sdp_codec_t *opus = codec(a, 111);
    assert_int_equal(opus->codec, FO_CODEC_OPUS);
    assert_string_equal(opus->name, "opus");
    assert_int_equal(opus->clock, 48000);
    assert_int_equal(opus->channels, 2);
    assert_string_equal(opus->fmtp, "minptime=10;useinbandfec=1");
    assert_int_equal(opus->fb, FO_FB_TWCC);
    assert_int_equal(codec(a, 63)->codec, FO_CODEC_RED);
    assert_int_equal(codec(a, 0)->codec, FO_CODEC_OTHER);
    assert_int_equal(codec(a, 0)->channels, 0);
    assert_int_equal(a->n_ssrcs, 1);
    assert_int_equal(a->ssrcs[0].ssrc, 2986254591u);
    assert_string_equal(a->ssrcs[0].cname, "7DAzvKc8lXNCZsz0");
    assert_string_equal(a->msid, "f7181e21-b5c4-473b-9d74-526447336311 a262178e-b742-4604-8788-7ad2236090c5");
    assert_int_equal(a->n_ext, 4);
    assert_string_equal(ext_by_id(a, 1)->uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    /* video */
    assert_int_equal(v->n_codecs, 23);
    const fo_sdp_codec_t *vp8 = codec(v, 96);
    assert_int_equal(vp8->codec, FO_CODEC_VP8);
    assert_int_equal(vp8->clock, 90000);
    assert_int_equal(vp8->fb, FO_FB_NACK | FO_FB_PLI | FO_FB_FIR | FO_FB_REMB | FO_FB_TWCC);
    assert_int_equal(codec(v, 97)->codec, FO_CODEC_RTX);
    assert_int_equal(codec(v, 97)->apt, 96);
    assert_int_equal(codec(v, 97)->fb, 0);
    assert_int_equal(fo_sdp_rtx_for(v, 96), 97);
    assert_int_equal(fo_sdp_rtx_for(v, 108), 109);
    assert_int_equal(fo_sdp_rtx_for(v, 120), 0);
    const fo_sdp_codec_t *h = codec(v, 108);
    assert_int_equal(h->codec, FO_CODEC_H264);
    assert_int_equal(h->h264_profile_level, 0x42e01f);
    assert_int_equal(h->h264_pmode, 1);
    assert_int_equal(codec(v, 104)->h264_pmode, 0);
    assert_int_equal(codec(v, 116)->h264_profile_level, 0x4d001f);
    assert_int_equal(codec(v, 45)->codec, FO_CODEC_AV1);
    assert_string_equal(codec(v, 100)->fmtp, "profile-id=2");
    assert_int_equal(codec(v, 120)->codec, FO_CODEC_ULPFEC);
    assert_null(fo_sdp_codec_by_pt(v, 111));
    assert_int_equal(v->n_ext, 11);
    assert_string_equal(ext_by_id(v, 3)->uri, TWCC_URI);
    assert_int_equal(ext_by_id(v, 3)->dir, FO_DIR_SENDRECV);
    assert_int_equal(v->n_ssrcs, 2);
    assert_int_equal(v->n_fid, 1);
    assert_int_equal(v->fid[0][0], 3814107078u);
    assert_int_equal(v->fid[0][1], 3273840481u);
    assert_int_equal(v->ssrcs[0].ssrc, 3814107078u);
    assert_string_equal(v->ssrcs[1].cname, "7DAzvKc8lXNCZsz0");
}

static void firefox_publish_parse(void **state)
{
    (void)state;
    parse_file("firefox-publish.sdp", &g_offer);
    const fo_sdp_media_t *a = &g_offer.media[0], *v = &g_offer.media[1];
    assert_int_equal(g_offer.n_media, 2);
    /* fingerprint and setup only at session level in Firefox? setup is per media; fingerprint
       is session-level and must be inherited. */
    assert_string_equal(a->fp_alg, "sha-256");
    assert_string_equal(v->fp, "99:19:E8:28:9B:15:EE:83:D9:F9:4F:78:04:0C:FF:FE:E8:16:12:3A:65:CB:8F:"
                               "0D:D5:C8:D4:7A:82:57:2F:46");
    assert_string_equal(a->ice_ufrag, "9a28bb22");
    assert_string_equal(v->ice_pwd, "406c0911c09568953549938811d74235");
    /* session says sendrecv, media says sendonly: media wins */
    assert_int_equal(a->dir, FO_DIR_SENDONLY);
    assert_int_equal(v->dir, FO_DIR_SENDONLY);
    assert_true(a->rtcp_mux);
    assert_false(a->rtcp_rsize);
    assert_true(v->rtcp_rsize);
    assert_true(a->bundled && v->bundled);
    assert_string_equal(codec(a, 109)->name, "opus");
    assert_string_equal(codec(a, 109)->fmtp, "maxplaybackrate=48000;stereo=1;useinbandfec=1");
    assert_int_equal(codec(a, 9)->channels, 1);
    /* Firefox writes fmtp before rtpmap */
    assert_int_equal(codec(v, 124)->codec, FO_CODEC_RTX);
    assert_int_equal(codec(v, 124)->apt, 120);
    assert_int_equal(fo_sdp_rtx_for(v, 121), 125);
    assert_int_equal(fo_sdp_rtx_for(v, 122), 119);
    assert_int_equal(codec(v, 120)->fb, FO_FB_NACK | FO_FB_PLI | FO_FB_FIR | FO_FB_REMB | FO_FB_TWCC);
    assert_int_equal(codec(v, 99)->codec, FO_CODEC_AV1);
    assert_int_equal(ext_by_id(a, 2)->dir, FO_DIR_RECVONLY);
    assert_int_equal(ext_by_id(v, 6)->dir, FO_DIR_RECVONLY);
    assert_string_equal(ext_by_id(v, 4)->uri, AST_URI);
    assert_int_equal(v->n_fid, 1);
    assert_int_equal(v->fid[0][0], 3862768726u);
    assert_int_equal(v->fid[0][1], 2654939454u);
    assert_string_equal(v->ssrcs[0].cname, "{7fcb44b9-3f56-43e6-b50d-a7c0d6b01e29}");
    assert_string_equal(v->msid, "{d4010dae-4d77-4aa1-991d-c6f4b3a502c8} {4ad8eeb7-4d2a-40dd-b9fe-99149d4f3240}");
}

static void chrome_play_parse(void **state)
{
    (void)state;
    parse_file("chrome-play.sdp", &g_offer);
    const fo_sdp_media_t *a = &g_offer.media[0], *v = &g_offer.media[1];
    assert_int_equal(a->dir, FO_DIR_RECVONLY);
    assert_int_equal(v->dir, FO_DIR_RECVONLY);
    assert_string_equal(v->ice_ufrag, "d3Mz");
    /* Chrome offers 34 video payload types: the first FO_SDP_MAX_CODECS are kept. */
    assert_int_equal(v->n_codecs, FO_SDP_MAX_CODECS);
    assert_int_equal(v->codecs[FO_SDP_MAX_CODECS - 1].pt, 119);
    assert_null(fo_sdp_codec_by_pt(v, 49));
    assert_int_equal(codec(v, 41)->h264_profile_level, 0xf4001f);
    assert_string_equal(codec(v, 47)->fmtp, "level-idx=5;profile=1;tier=0");
    assert_int_equal(v->n_ssrcs, 0);
    assert_string_equal(v->msid, "");
}

static void firefox_play_parse(void **state)
{
    (void)state;
    parse_file("firefox-play.sdp", &g_offer);
    const fo_sdp_media_t *a = &g_offer.media[0], *v = &g_offer.media[1];
    assert_int_equal(a->dir, FO_DIR_RECVONLY);
    assert_int_equal(v->dir, FO_DIR_RECVONLY);
    assert_string_equal(a->ice_ufrag, "7987aafb");
    assert_int_equal(a->n_ssrcs, 1);
    assert_int_equal(v->n_ssrcs, 1);
}

static void datachannel_parse(void **state)
{
    (void)state;
    const char *files[] = {"chrome-publish-dc.sdp", "firefox-publish-dc.sdp"};
    for (size_t i = 0; i < 2; i++) {
        parse_file(files[i], &g_offer);
        assert_int_equal(g_offer.n_media, 3);
        const fo_sdp_media_t *d = &g_offer.media[2];
        assert_int_equal(d->kind, FO_KIND_OTHER);
        assert_string_equal(d->media, "application");
        assert_string_equal(d->proto, "UDP/DTLS/SCTP");
        assert_string_equal(d->fmt_app, "webrtc-datachannel");
        assert_string_equal(d->mid, "2");
        assert_int_equal(d->n_codecs, 0);
        assert_true(d->bundled);
    }
}

/* LF-only line ends and a missing final line end give the same result as CRLF. */
static void lf_line_ends(void **state)
{
    (void)state;
    parse_file("chrome-publish.sdp", &g_offer);
    size_t n = load("chrome-publish.sdp", g_text, sizeof g_text), k = 0;
    for (size_t i = 0; i < n; i++)
        if (g_text[i] != '\r') g_text[k++] = g_text[i];
    while (k && g_text[k - 1] == '\n') k--;
    const char *why;
    assert_int_equal(fo_sdp_parse(g_text, k, &g_offer2, &why), 0);
    assert_memory_equal(&g_offer, &g_offer2, sizeof g_offer);
}

/* ---- negotiation ---- */

static void negotiate_chrome_publish(void **state)
{
    (void)state;
    parse_file("chrome-publish-dc.sdp", &g_offer);
    fo_sdp_answer_media_t a;
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[0], FO_SDP_ROLE_PUBLISH, PREFS_H264, 4, EXTS, &a), 0);
    assert_true(a.accept);
    assert_int_equal(a.dir, FO_DIR_RECVONLY);
    ASSERT_PTS(&a, 111);
    assert_int_equal(a.n_ext, 3);
    assert_true(a.fb_mask & FO_FB_TWCC);

    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, PREFS_H264, 4, EXTS, &a), 0);
    assert_true(a.accept);
    ASSERT_PTS(&a, 108, 109); /* 42e01f pm=1, though 42001f pm=1 (102) comes first */
    assert_int_equal(a.n_ext, 3);
    assert_int_equal(a.ext_ids[0], 2);
    assert_int_equal(a.ext_ids[1], 3);
    assert_int_equal(a.ext_ids[2], 4);
    assert_int_equal(a.fb_mask, FO_FB_NACK | FO_FB_PLI | FO_FB_FIR | FO_FB_REMB | FO_FB_TWCC);

    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, PREFS_VP8, 2, EXTS, &a), 0);
    ASSERT_PTS(&a, 96, 97);
    const fo_codec_t vp9[] = {FO_CODEC_VP9}, av1[] = {FO_CODEC_AV1};
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, vp9, 1, EXTS, &a), 0);
    ASSERT_PTS(&a, 98, 99);
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, av1, 1, EXTS, &a), 0);
    ASSERT_PTS(&a, 45, 46);

    /* without the transport-cc extension we do not promise transport-cc feedback */
    const char *const only_mid[] = {MID_URI, NULL};
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, PREFS_VP8, 2, only_mid, &a), 0);
    assert_int_equal(a.n_ext, 1);
    assert_int_equal(a.ext_ids[0], 4);
    assert_false(a.fb_mask & FO_FB_TWCC);
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, PREFS_VP8, 2, NULL, &a), 0);
    assert_int_equal(a.n_ext, 0);

    /* the datachannel is rejected, without an error */
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[2], FO_SDP_ROLE_PUBLISH, PREFS_H264, 4, EXTS, &a), 0);
    assert_false(a.accept);
    /* a publish offer is of no use to a player */
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PLAY, PREFS_H264, 4, EXTS, &a), 0);
    assert_false(a.accept);
}

static void negotiate_firefox_publish(void **state)
{
    (void)state;
    parse_file("firefox-publish.sdp", &g_offer);
    fo_sdp_answer_media_t a;
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[0], FO_SDP_ROLE_PUBLISH, PREFS_H264, 4, EXTS, &a), 0);
    ASSERT_PTS(&a, 109);
    assert_int_equal(a.n_ext, 2); /* mid 3, twcc 7 */
    /* this Firefox has no H.264 (no OpenH264 plugin): the next preference wins */
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, PREFS_H264, 4, EXTS, &a), 0);
    ASSERT_PTS(&a, 120, 124);
    assert_int_equal(a.n_ext, 3);
    const fo_codec_t h264[] = {FO_CODEC_H264};
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, h264, 1, EXTS, &a), FO_ECODEC);
    assert_false(a.accept);
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, NULL, 0, EXTS, &a), FO_ECODEC);
}

/* Firefox with bundlePolicy max-bundle offers video as "m=video 0" + a=bundle-only: it is live
 * in the BUNDLE group (RFC 8843), not rejected, and publishing must keep its video. */
static void firefox_max_bundle_publish(void **state)
{
    (void)state;
    parse_file("firefox-publish-maxbundle.sdp", &g_offer);
    assert_int_equal(g_offer.n_media, 2);
    const fo_sdp_media_t *v = &g_offer.media[1];
    assert_true(v->bundle_only);
    assert_true(v->bundled);
    assert_int_equal(v->port, 9);
    assert_string_equal(v->ice_ufrag, g_offer.media[0].ice_ufrag);
    assert_string_equal(v->fp, g_offer.media[0].fp);
    fo_sdp_answer_media_t a;
    assert_int_equal(fo_sdp_negotiate(v, FO_SDP_ROLE_PUBLISH, PREFS_VP8, 2, EXTS, &a), 0);
    assert_true(a.accept);
    assert_int_equal(codec(v, a.pts[0])->codec, FO_CODEC_VP8);
}

static void negotiate_chrome_play(void **state)
{
    (void)state;
    parse_file("chrome-play.sdp", &g_offer);
    fo_sdp_answer_media_t a;
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[0], FO_SDP_ROLE_PLAY, PREFS_VP8, 2, EXTS, &a), 0);
    assert_true(a.accept);
    assert_int_equal(a.dir, FO_DIR_SENDONLY);
    ASSERT_PTS(&a, 111);
    assert_int_equal(a.ssrc, 0);
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PLAY, PREFS_VP8, 2, EXTS, &a), 0);
    /* VP8, then every H.264 packetization-mode=1 entry (42001f, 42e01f, 4d001f, f4001f) */
    ASSERT_PTS(&a, 96, 97, 102, 103, 108, 109, 116, 117, 41, 42);
    assert_int_equal(a.dir, FO_DIR_SENDONLY);
    const fo_codec_t vp9av1[] = {FO_CODEC_VP9, FO_CODEC_AV1};
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PLAY, vp9av1, 2, EXTS, &a), 0);
    ASSERT_PTS(&a, 98, 99, 100, 101, 35, 36, 37, 38, 45, 46, 47, 48);
    /* a play offer is of no use to a publisher */
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, PREFS_VP8, 2, EXTS, &a), 0);
    assert_false(a.accept);
}

static void negotiate_firefox_play(void **state)
{
    (void)state;
    parse_file("firefox-play.sdp", &g_offer);
    fo_sdp_answer_media_t a;
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[0], FO_SDP_ROLE_PLAY, PREFS_H264, 4, EXTS, &a), 0);
    ASSERT_PTS(&a, 109);
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PLAY, PREFS_H264, 4, EXTS, &a), 0);
    ASSERT_PTS(&a, 120, 124, 121, 125, 99, 100);
    const fo_codec_t h264[] = {FO_CODEC_H264};
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PLAY, h264, 1, EXTS, &a), FO_ECODEC);
    assert_false(a.accept);
}

static const char SYNTH_HEAD[] = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                                 "a=ice-ufrag:uf\r\na=ice-pwd:pwpwpwpwpwpwpwpwpwpwpwpw\r\n"
                                 "a=fingerprint:sha-256 AA:BB\r\na=setup:actpass\r\n";

static int parse_synth(const char *media, fo_sdp_t *out)
{
    snprintf(g_text, sizeof g_text, "%s%s", SYNTH_HEAD, media);
    const char *why;
    int rc = fo_sdp_parse(g_text, strlen(g_text), out, &why);
    if (rc == 0) assert_null(why);
    return rc;
}

static void negotiate_h264_profiles(void **state)
{
    (void)state;
    fo_sdp_answer_media_t a;
    const fo_codec_t h264[] = {FO_CODEC_H264};
    assert_int_equal(parse_synth("m=video 9 UDP/TLS/RTP/SAVPF 100 101 102 103\r\na=mid:v\r\na=sendonly\r\n"
                                 "a=rtpmap:100 H264/90000\r\na=fmtp:100 profile-level-id=640c1f;packetization-mode=1\r\n"
                                 "a=rtpmap:101 h264/90000\r\na=fmtp:101 packetization-mode=1; profile-level-id=4D0032\r\n"
                                 "a=rtpmap:102 H264/90000\r\na=fmtp:102 profile-level-id=42e01f\r\n"
                                 "a=rtpmap:103 RTX/90000\r\na=fmtp:103 apt=101\r\n"
                                 "a=rtcp-fb:* nack\r\na=rtcp-fb:101 nack pli\r\na=rtcp-fb:101 ccm fir\r\n",
                                 &g_offer),
                     0);
    const fo_sdp_media_t *m = &g_offer.media[0];
    assert_int_equal(codec(m, 101)->h264_profile_level, 0x4d0032);
    assert_int_equal(codec(m, 101)->codec, FO_CODEC_H264);
    assert_int_equal(codec(m, 103)->codec, FO_CODEC_RTX);
    assert_int_equal(codec(m, 102)->h264_pmode, 0);
    for (uint8_t pt = 100; pt <= 103; pt++) assert_true(codec(m, pt)->fb & FO_FB_NACK);
    assert_int_equal(codec(m, 101)->fb, FO_FB_NACK | FO_FB_PLI | FO_FB_FIR);
    /* publish: 42e01f is pm=0 here, 640c1f is High: the main profile one is taken */
    assert_int_equal(fo_sdp_negotiate(m, FO_SDP_ROLE_PUBLISH, h264, 1, EXTS, &a), 0);
    ASSERT_PTS(&a, 101, 103);
    assert_int_equal(a.n_ext, 0);
    /* play: every pm=1 variant */
    assert_int_equal(parse_synth("m=video 9 UDP/TLS/RTP/SAVPF 100 101\r\na=mid:v\r\na=recvonly\r\n"
                                 "a=rtpmap:100 H264/90000\r\na=fmtp:100 profile-level-id=640c1f;packetization-mode=1\r\n"
                                 "a=rtpmap:101 H264/90000\r\na=fmtp:101 profile-level-id=42e01f;packetization-mode=0\r\n",
                                 &g_offer),
                     0);
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[0], FO_SDP_ROLE_PLAY, h264, 1, EXTS, &a), 0);
    ASSERT_PTS(&a, 100);
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[0], FO_SDP_ROLE_PUBLISH, h264, 1, EXTS, &a), 0);
    assert_false(a.accept); /* recvonly offer */
}

static void codec_compatibility(void **state)
{
    (void)state;
    fo_sdp_codec_t a = {.codec = FO_CODEC_H264, .clock = 90000, .h264_pmode = 1,
                        .h264_profile_level = 0x42e01f};
    fo_sdp_codec_t b = a;
    assert_true(fo_sdp_codec_compatible(&a, &b));
    b.h264_profile_level = 0x42e034; /* level differs */
    assert_true(fo_sdp_codec_compatible(&a, &b));
    b.h264_profile_level = 0x42c01f; /* constrained baseline too */
    assert_true(fo_sdp_codec_compatible(&a, &b));
    b.h264_profile_level = 0x4de01f; /* main with constraint_set1: constrained baseline */
    assert_true(fo_sdp_codec_compatible(&a, &b));
    b.h264_profile_level = 0x42001f; /* baseline */
    assert_false(fo_sdp_codec_compatible(&a, &b));
    b.h264_profile_level = 0x4d001f;
    assert_false(fo_sdp_codec_compatible(&a, &b));
    b.h264_profile_level = 0x42e01f;
    b.h264_pmode = 0;
    assert_false(fo_sdp_codec_compatible(&a, &b));
    b = a;
    b.codec = FO_CODEC_VP8;
    assert_false(fo_sdp_codec_compatible(&a, &b));
    fo_sdp_codec_t v1 = {.codec = FO_CODEC_VP9, .clock = 90000}, v2 = v1;
    assert_true(fo_sdp_codec_compatible(&v1, &v2));
    snprintf(v2.fmtp, sizeof v2.fmtp, "profile-id=0");
    assert_true(fo_sdp_codec_compatible(&v1, &v2));
    snprintf(v2.fmtp, sizeof v2.fmtp, "profile-id=2");
    assert_false(fo_sdp_codec_compatible(&v1, &v2));
    fo_sdp_codec_t av1a = {.codec = FO_CODEC_AV1, .clock = 90000}, av1b = av1a;
    snprintf(av1b.fmtp, sizeof av1b.fmtp, "level-idx=5;profile=1;tier=0");
    assert_false(fo_sdp_codec_compatible(&av1a, &av1b));
    fo_sdp_codec_t o1 = {.codec = FO_CODEC_OPUS, .clock = 48000}, o2 = o1;
    assert_true(fo_sdp_codec_compatible(&o1, &o2));
    o2.clock = 16000;
    assert_false(fo_sdp_codec_compatible(&o1, &o2));
    fo_sdp_codec_t x1 = {.codec = FO_CODEC_OTHER, .clock = 90000, .name = "H265"}, x2 = x1;
    snprintf(x2.name, sizeof x2.name, "h265");
    assert_true(fo_sdp_codec_compatible(&x1, &x2));
    snprintf(x2.name, sizeof x2.name, "AV2");
    assert_false(fo_sdp_codec_compatible(&x1, &x2));
    /* A player keeps formats, not entries: they outlive the offer's text and stay small. */
    fo_sdp_format_t f1, f2;
    snprintf(v2.fmtp, sizeof v2.fmtp, "profile-id=2");
    v2.pt = 98;
    fo_sdp_format_of(&v2, &f1);
    memset(&v2, 0, sizeof v2);
    fo_sdp_format_of(&v1, &f2);
    assert_int_equal(f1.pt, 98);
    assert_int_equal(f1.profile, 2);
    assert_false(fo_sdp_format_compatible(&f1, &f2));
    f2.profile = 2;
    assert_true(fo_sdp_format_compatible(&f1, &f2));
    _Static_assert(sizeof(fo_sdp_format_t) <= 48, "a player keeps twelve of these per track");
}

/* ---- answers ---- */

static const char FP[] = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
                         "AB:CD:EF:01:23:45:67:89";

static int answer(const char *file, fo_sdp_role_t role, const char *cand)
{
    parse_file(file, &g_offer);
    memset(&g_ans, 0, sizeof g_ans);
    for (size_t i = 0; i < g_offer.n_media; i++) {
        fo_sdp_answer_media_t *a = &g_ans.media[i];
        int rc = fo_sdp_negotiate(&g_offer.media[i], role, PREFS_H264, 4, EXTS, a);
        assert_true(rc == 0 || rc == FO_ECODEC);
        if (role == FO_SDP_ROLE_PLAY && a->accept) {
            a->ssrc = 1000 + (uint32_t)i;
            a->rtx_ssrc = g_offer.media[i].kind == FO_KIND_VIDEO ? 2000 + (uint32_t)i : 0;
            snprintf(a->cname, sizeof a->cname, "fanout1");
            snprintf(a->msid_stream, sizeof a->msid_stream, "live");
            snprintf(a->msid_track, sizeof a->msid_track, "t%zu", i);
        }
    }
    g_ans.ice_ufrag = "ourufrag";
    g_ans.ice_pwd = "ourpassword0123456789012";
    g_ans.fingerprint = FP;
    g_ans.candidates[0] = cand;
    g_ans.n_candidates = 1;
    g_ans.port = 8000;
    g_ans.session_id = 42;
    int n = fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out);
    assert_true(n > 0);
    assert_int_equal(strlen(g_out), (size_t)n);
    return n;
}

static bool has_line(const char *sdp, const char *line)
{
    size_t k = strlen(line);
    for (const char *p = sdp; (p = strstr(p, line)); p++)
        if ((p == sdp || p[-1] == '\n') && p[k] == '\r' && p[k + 1] == '\n') return true;
    return false;
}

/* Lines that start with `prefix`. */
static size_t count_lines(const char *sdp, const char *prefix)
{
    size_t n = 0;
    for (const char *p = sdp; (p = strstr(p, prefix)); p++)
        if (p == sdp || p[-1] == '\n') n++;
    return n;
}

#define ASSERT_LINE(s, l)                                                                    \
    do {                                                                                     \
        if (!has_line((s), (l))) fail_msg("answer lacks \"%s\":\n%s", (l), (s));             \
    } while (0)

/* Every line ends in CRLF and there are no bare CR/LF; and our own parser accepts it. */
static void check_well_formed(const char *sdp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (sdp[i] == '\n') assert_true(i > 0 && sdp[i - 1] == '\r');
        if (sdp[i] == '\r') assert_true(i + 1 < n && sdp[i + 1] == '\n');
    }
    const char *why;
    int rc = fo_sdp_parse(sdp, n, &g_offer2, &why);
    if (rc) fail_msg("answer does not parse: %s line %d", why, g_offer2.err_line);
    assert_true(g_offer2.ice_lite);
}

static void answer_common(const char *sdp)
{
    ASSERT_LINE(sdp, "v=0");
    ASSERT_LINE(sdp, "a=ice-lite");
    ASSERT_LINE(sdp, "a=msid-semantic: WMS *");
    ASSERT_LINE(sdp, "a=ice-ufrag:ourufrag");
    ASSERT_LINE(sdp, "a=ice-pwd:ourpassword0123456789012");
    ASSERT_LINE(sdp, "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:"
                     "23:45:67:89:AB:CD:EF:01:23:45:67:89");
    ASSERT_LINE(sdp, "a=setup:passive");
    ASSERT_LINE(sdp, "a=mid:0");
    ASSERT_LINE(sdp, "a=mid:1");
    ASSERT_LINE(sdp, "a=rtcp-mux");
    ASSERT_LINE(sdp, "a=end-of-candidates");
}

static void answer_chrome_publish(void **state)
{
    (void)state;
    int n = answer("chrome-publish-dc.sdp", FO_SDP_ROLE_PUBLISH, "127.0.0.1");
    answer_common(g_out);
    ASSERT_LINE(g_out, "a=group:BUNDLE 0 1");
    ASSERT_LINE(g_out, "c=IN IP4 0.0.0.0");
    ASSERT_LINE(g_out, "m=audio 9 UDP/TLS/RTP/SAVPF 111");
    ASSERT_LINE(g_out, "m=video 9 UDP/TLS/RTP/SAVPF 108 109");
    ASSERT_LINE(g_out, "a=rtpmap:108 H264/90000");
    ASSERT_LINE(g_out, "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
    ASSERT_LINE(g_out, "a=rtpmap:109 rtx/90000");
    ASSERT_LINE(g_out, "a=fmtp:109 apt=108");
    ASSERT_LINE(g_out, "a=rtcp-fb:108 nack");
    ASSERT_LINE(g_out, "a=rtcp-fb:108 nack pli");
    ASSERT_LINE(g_out, "a=rtcp-fb:108 ccm fir");
    ASSERT_LINE(g_out, "a=rtcp-fb:108 goog-remb");
    ASSERT_LINE(g_out, "a=rtcp-fb:108 transport-cc");
    ASSERT_LINE(g_out, "a=rtcp-fb:111 transport-cc");
    ASSERT_LINE(g_out, "a=rtpmap:111 opus/48000/2");
    ASSERT_LINE(g_out, "a=extmap:3 " TWCC_URI);
    ASSERT_LINE(g_out, "a=rtcp-rsize");
    ASSERT_LINE(g_out, "a=candidate:1 1 udp 2130706431 127.0.0.1 8000 typ host generation 0");
    assert_int_equal(count_lines(g_out, "a=recvonly\r"), 2);
    assert_int_equal(count_lines(g_out, "a=candidate:"), 2);
    assert_int_equal(count_lines(g_out, "a=rtcp-fb:109"), 0);
    assert_null(strstr(g_out, "a=ssrc"));
    assert_null(strstr(g_out, "urn:3gpp:video-orientation"));
    /* the datachannel: rejected, keeps its format, outside BUNDLE */
    ASSERT_LINE(g_out, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel");
    ASSERT_LINE(g_out, "a=mid:2");
    ASSERT_LINE(g_out, "a=inactive");
    check_well_formed(g_out, (size_t)n);
    assert_int_equal(g_offer2.n_media, 3);
    assert_int_equal(g_offer2.media[2].port, 0);
    assert_false(g_offer2.media[2].bundled);
    assert_int_equal(g_offer2.media[1].dir, FO_DIR_RECVONLY);
    assert_int_equal(g_offer2.media[1].n_codecs, 2);
    assert_int_equal(g_offer2.media[1].codecs[1].apt, 108);
}

static void answer_firefox_publish(void **state)
{
    (void)state;
    int n = answer("firefox-publish.sdp", FO_SDP_ROLE_PUBLISH, "192.0.2.7");
    answer_common(g_out);
    ASSERT_LINE(g_out, "a=group:BUNDLE 0 1");
    ASSERT_LINE(g_out, "m=video 9 UDP/TLS/RTP/SAVPF 120 124");
    ASSERT_LINE(g_out, "a=rtpmap:109 opus/48000/2");
    ASSERT_LINE(g_out, "a=candidate:1 1 udp 2130706431 192.0.2.7 8000 typ host generation 0");
    /* audio was offered without rtcp-rsize: only video carries it */
    assert_int_equal(count_lines(g_out, "a=rtcp-rsize\r"), 1);
    check_well_formed(g_out, (size_t)n);
}

static void answer_play(void **state)
{
    (void)state;
    const char *files[] = {"chrome-play.sdp", "firefox-play.sdp"};
    for (size_t f = 0; f < 2; f++) {
        int n = answer(files[f], FO_SDP_ROLE_PLAY, "127.0.0.1");
        answer_common(g_out);
        ASSERT_LINE(g_out, "a=group:BUNDLE 0 1");
        assert_int_equal(count_lines(g_out, "a=sendonly\r"), 2);
        assert_null(strstr(g_out, "a=recvonly"));
        ASSERT_LINE(g_out, "a=msid:live t0");
        ASSERT_LINE(g_out, "a=msid:live t1");
        ASSERT_LINE(g_out, "a=ssrc:1000 cname:fanout1");
        ASSERT_LINE(g_out, "a=ssrc:1000 msid:live t0");
        ASSERT_LINE(g_out, "a=ssrc-group:FID 1001 2001");
        ASSERT_LINE(g_out, "a=ssrc:1001 cname:fanout1");
        ASSERT_LINE(g_out, "a=ssrc:2001 cname:fanout1");
        ASSERT_LINE(g_out, "a=ssrc:2001 msid:live t1");
        assert_int_equal(count_lines(g_out, "a=ssrc-group:FID"), 1);
        check_well_formed(g_out, (size_t)n);
        assert_int_equal(g_offer2.media[1].n_fid, 1);
        assert_int_equal(g_offer2.media[1].dir, FO_DIR_SENDONLY);
    }
    ASSERT_LINE(g_out, "m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 99 100"); /* firefox */
}

static void answer_ipv6_and_rejected(void **state)
{
    (void)state;
    answer("chrome-publish.sdp", FO_SDP_ROLE_PUBLISH, "::1");
    ASSERT_LINE(g_out, "c=IN IP6 ::");
    ASSERT_LINE(g_out, "a=candidate:1 1 udp 2130706431 ::1 8000 typ host generation 0");
    /* reject video: rejected m-line keeps proto and first format, is inactive, not bundled */
    memset(&g_ans.media[1], 0, sizeof g_ans.media[1]);
    int n = fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out);
    assert_true(n > 0);
    ASSERT_LINE(g_out, "a=group:BUNDLE 0");
    ASSERT_LINE(g_out, "m=video 0 UDP/TLS/RTP/SAVPF 96");
    ASSERT_LINE(g_out, "a=mid:1");
    ASSERT_LINE(g_out, "a=inactive");
    assert_int_equal(count_lines(g_out, "a=candidate:"), 1);
    /* two candidates: each on the accepted media, decreasing priority */
    g_ans.candidates[1] = "10.0.0.1";
    g_ans.n_candidates = 2;
    n = fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out);
    assert_true(n > 0);
    ASSERT_LINE(g_out, "a=candidate:2 1 udp 2130706175 10.0.0.1 8000 typ host generation 0");
    /* nothing accepted: no BUNDLE group at all */
    memset(&g_ans.media[0], 0, sizeof g_ans.media[0]);
    n = fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out);
    assert_true(n > 0);
    assert_null(strstr(g_out, "a=group"));
}

static void answer_errors(void **state)
{
    (void)state;
    int n = answer("chrome-publish.sdp", FO_SDP_ROLE_PUBLISH, "127.0.0.1");
    char small[64];
    assert_int_equal(fo_sdp_build_answer(&g_offer, &g_ans, small, sizeof small), FO_ETOOBIG);
    assert_int_equal(fo_sdp_build_answer(&g_offer, &g_ans, g_out, (size_t)n), FO_ETOOBIG);
    assert_int_equal(fo_sdp_build_answer(&g_offer, &g_ans, g_out, (size_t)n + 1), n);
    assert_int_equal(fo_sdp_build_answer(&g_offer, &g_ans, g_out, 0), FO_EINVAL);
    g_ans.candidates[0] = "127.0.0.1\r\na=evil";
    assert_int_equal(fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out), FO_EINVAL);
    g_ans.candidates[0] = "example.com";
    assert_int_equal(fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out), FO_EINVAL);
    g_ans.candidates[0] = "127.0.0.1";
    g_ans.ice_ufrag = "two words";
    assert_int_equal(fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out), FO_EINVAL);
    g_ans.ice_ufrag = NULL;
    assert_int_equal(fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out), FO_EINVAL);
    /* pts the offer never had are left out rather than invented */
    g_ans.ice_ufrag = "ourufrag";
    g_ans.media[0].pts[1] = 77;
    g_ans.media[0].n_pts = 2;
    assert_true(fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out) > 0);
    ASSERT_LINE(g_out, "m=audio 9 UDP/TLS/RTP/SAVPF 111");
}

/* ---- malformed input ---- */

static void parse_errors(void **state)
{
    (void)state;
    const char *why = NULL;
    const struct {
        const char *text;
        const char *why;
        int err_line;
    } cases[] = {
        {"", "empty", 0},
        {"\r\n\r\n", "empty", 0},
        {"garbage\x01\xff", "control character in line", 1},
        {"hello world", "not a <type>=<value> line", 1},
        {"o=- 1 1 IN IP4 0.0.0.0\r\n", "does not start with v=0", 1},
        {"v=1\r\n", "unsupported version", 1},
        {"v=0\r\nv=0\r\n", "repeated v= line", 2},
        {"v=0\r\ns=-\r\n", "no o= line", 0},
        {"v=0\r\no=- 1 1 IN IP4\r\n", "bad o= line", 2},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no m= line", 0},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\n", "no ice-ufrag", 0},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=ice-ufrag:u\r\nm=audio 9 RTP/AVP 0\r\n", "no ice-pwd", 0},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\nm=audio 9 RTP/AVP 0\r\n",
         "no fingerprint", 0},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 99999 RTP/AVP 0\r\n", "bad m= line", 3},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP\r\n", "m= line without formats", 3},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 128\r\n", "bad payload type", 3},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n", "bad rtpmap", 4},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:x PCMU/8000\r\n", "bad rtpmap", 4},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/999\r\n", "bad rtpmap", 4},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\na=extmap:0 urn:x\r\n", "bad extmap", 4},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\na=extmap:1/sideways urn:x\r\n", "bad extmap", 4},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\na=ssrc:4294967296 cname:x\r\n", "bad ssrc", 4},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\na=ssrc-group:FID 1\r\n", "bad ssrc-group", 4},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\na=rtcp-fb:0\r\n", "bad rtcp-fb", 4},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=setup:maybe\r\n", "bad transport attribute", 3},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=fingerprint:sha-256\r\n", "bad transport attribute", 3},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=ice-ufrag:\r\n", "bad transport attribute", 3},
        {"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=mid:x\ry\r\n", "control character in line", 3},
    };
    for (size_t i = 0; i < FO_ARRAY_LEN(cases); i++) {
        int rc = parse_str(cases[i].text, &g_offer, &why);
        if (rc != FO_EINVAL || !why || strcmp(why, cases[i].why) != 0 ||
            g_offer.err_line != cases[i].err_line)
            fail_msg("case %zu: rc %d why \"%s\" line %d", i, rc, why ? why : "(null)", g_offer.err_line);
    }
    /* NUL inside the text */
    static const char nul[] = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\0\r\n";
    assert_int_equal(fo_sdp_parse(nul, sizeof nul - 1, &g_offer, &why), FO_EINVAL);
    assert_int_equal(fo_sdp_parse(NULL, 0, &g_offer, NULL), FO_EINVAL);
    assert_int_equal(fo_sdp_parse(NULL, 10, &g_offer, &why), FO_EINVAL);
    assert_int_equal(fo_sdp_parse("v=0", 3, NULL, &why), FO_EINVAL);
    /* a disabled media may lack credentials */
    assert_int_equal(parse_str("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 0 RTP/AVP 0\r\n", &g_offer, &why), 0);
}

static void parse_truncated(void **state)
{
    (void)state;
    const char *files[] = {"chrome-publish-dc.sdp", "firefox-publish.sdp"};
    for (size_t f = 0; f < 2; f++) {
        size_t n = load(files[f], g_text, sizeof g_text);
        for (size_t k = 0; k <= n; k++) {
            char *exact = malloc(k ? k : 1);
            assert_non_null(exact);
            memcpy(exact, g_text, k);
            const char *why = NULL;
            int rc = fo_sdp_parse(exact, k, &g_offer, &why);
            assert_true(rc == 0 || rc == FO_EINVAL);
            assert_true(rc == 0 ? why == NULL : why != NULL);
            free(exact);
        }
        /* cut right after the first m= line: that media has no credentials yet (Chrome and
           Firefox both give them per media) */
        const char *cut = strstr(g_text, "\nm=audio");
        cut = strchr(cut + 1, '\n');
        const char *why;
        assert_int_equal(fo_sdp_parse(g_text, (size_t)(cut - g_text + 1), &g_offer, &why), FO_EINVAL);
        assert_string_equal(why, "no ice-ufrag");
    }
}

static void parse_oversized(void **state)
{
    (void)state;
    const char *why;
    /* 70 KB: refused before reading */
    size_t n = 70 * 1024;
    memset(g_text, 'a', n);
    memcpy(g_text, "v=0\r\n", 5);
    assert_int_equal(fo_sdp_parse(g_text, n, &g_offer, &why), FO_ETOOBIG);
    assert_string_equal(why, "offer too large");
    assert_int_equal(fo_sdp_parse(g_text, FO_SDP_MAX_LEN + 1, &g_offer, &why), FO_ETOOBIG);

    /* 10 KB lines (and 4 KB ones, to stay under the limit): values are truncated to their
       fields, not overflowed */
    const size_t big = 10240, mid = 4096;
    char *p = g_text;
    p += sprintf(p, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=ice-ufrag:");
    memset(p, 'u', big), p += big;
    p += sprintf(p, "\r\na=ice-pwd:");
    memset(p, 'p', mid), p += mid;
    p += sprintf(p, "\r\na=fingerprint:sha-256 ");
    memset(p, 'F', mid), p += mid;
    p += sprintf(p, "\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:");
    memset(p, 'm', big), p += big;
    p += sprintf(p, "\r\na=rtpmap:96 ");
    memset(p, 'V', mid), p += mid;
    p += sprintf(p, "/90000\r\na=fmtp:96 x=");
    memset(p, 'x', big), p += big;
    p += sprintf(p, "\r\na=extmap:1 urn:");
    memset(p, 'e', big), p += big;
    p += sprintf(p, "\r\n");
    assert_true((size_t)(p - g_text) < FO_SDP_MAX_LEN);
    assert_int_equal(fo_sdp_parse(g_text, (size_t)(p - g_text), &g_offer, &why), 0);
    const fo_sdp_media_t *m = &g_offer.media[0];
    assert_int_equal(strlen(m->ice_ufrag), sizeof m->ice_ufrag - 1);
    assert_int_equal(strlen(m->ice_pwd), sizeof m->ice_pwd - 1);
    assert_int_equal(strlen(m->fp), sizeof m->fp - 1);
    assert_int_equal(strlen(m->mid), sizeof m->mid - 1);
    assert_int_equal(strlen(m->codecs[0].name), sizeof m->codecs[0].name - 1);
    assert_int_equal(strlen(m->codecs[0].fmtp), sizeof m->codecs[0].fmtp - 1);
    assert_int_equal(strlen(m->ext[0].uri), sizeof m->ext[0].uri - 1);
}

static void parse_too_many(void **state)
{
    (void)state;
    const char *why;
    /* 9 m= lines: refused */
    char *p = g_text;
    p += sprintf(p, "%s", SYNTH_HEAD);
    for (int i = 0; i < FO_SDP_MAX_MEDIA + 1; i++)
        p += sprintf(p, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:%d\r\n", i);
    assert_int_equal(fo_sdp_parse(g_text, (size_t)(p - g_text), &g_offer, &why), FO_ETOOBIG);
    assert_string_equal(why, "too many m= lines");
    assert_int_equal(g_offer.err_line, 9 + 2 * FO_SDP_MAX_MEDIA);

    /* 8 is fine */
    p = g_text + sprintf(g_text, "%s", SYNTH_HEAD);
    for (int i = 0; i < FO_SDP_MAX_MEDIA; i++)
        p += sprintf(p, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:%d\r\n", i);
    assert_int_equal(fo_sdp_parse(g_text, (size_t)(p - g_text), &g_offer, &why), 0);
    assert_int_equal(g_offer.n_media, FO_SDP_MAX_MEDIA);

    /* 100 payload types, 40 extmaps, 20 ssrcs, 20 FID groups: the first ones are kept */
    p = g_text + sprintf(g_text, "%sm=video 9 UDP/TLS/RTP/SAVPF", SYNTH_HEAD);
    for (int i = 0; i < 100; i++) p += sprintf(p, " %d", i);
    p += sprintf(p, "\r\n");
    for (int i = 0; i < 100; i++) p += sprintf(p, "a=rtpmap:%d VP8/90000\r\na=rtcp-fb:%d nack\r\n", i, i);
    for (int i = 1; i <= 40; i++) p += sprintf(p, "a=extmap:%d urn:x:%d\r\n", i, i);
    for (int i = 1; i <= 20; i++) p += sprintf(p, "a=ssrc:%d cname:c%d\r\n", i, i);
    for (int i = 1; i <= 20; i++) p += sprintf(p, "a=ssrc-group:FID %d %d\r\n", i, i + 100);
    p += sprintf(p, "a=rtcp-fb:* ccm fir\r\n");
    assert_int_equal(fo_sdp_parse(g_text, (size_t)(p - g_text), &g_offer, &why), 0);
    const fo_sdp_media_t *m = &g_offer.media[0];
    assert_int_equal(m->n_codecs, FO_SDP_MAX_CODECS);
    assert_int_equal(m->codecs[FO_SDP_MAX_CODECS - 1].pt, FO_SDP_MAX_CODECS - 1);
    assert_int_equal(m->codecs[5].fb, FO_FB_NACK | FO_FB_FIR);
    assert_int_equal(m->n_ext, FO_SDP_MAX_EXT);
    assert_int_equal(m->ext[FO_SDP_MAX_EXT - 1].id, FO_SDP_MAX_EXT);
    assert_int_equal(m->n_ssrcs, FO_SDP_MAX_SSRCS);
    assert_int_equal(m->n_fid, FO_SDP_MAX_SSRCS);
    /* a play of all 32 VP8 entries fills pts exactly */
    fo_sdp_answer_media_t a;
    const fo_codec_t vp8[] = {FO_CODEC_VP8};
    g_offer.media[0].dir = FO_DIR_RECVONLY;
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[0], FO_SDP_ROLE_PLAY, vp8, 1, NULL, &a), 0);
    assert_int_equal(a.n_pts, FO_SDP_MAX_CODECS);
}

static void parse_tolerant(void **state)
{
    (void)state;
    /* unknown lines and attributes, odd spacing, session-level direction and setup, attributes
       for payload types the m= line does not list */
    assert_int_equal(parse_synth("a=recvonly\r\nb=AS:300\r\nx=whatever\r\na=group:BUNDLE a  b\r\n"
                                 "a=ice-lite\r\n"
                                 "m=audio 9/2 UDP/TLS/RTP/SAVPF 111 111\r\na=mid:a\r\n"
                                 "a=rtpmap:111   OPUS/48000/2\r\na=rtpmap:99 VP8/90000\r\na=fmtp:98 apt=1\r\n"
                                 "a=something-new:1 2 3\r\na=ssrc:5 msid:s t\r\na=msid:x y\r\n"
                                 "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:c\r\na=setup:active\r\n"
                                 "a=ice-ufrag:mine\r\na=inactive\r\na=ssrc:7 msid:s t\r\n",
                                 &g_offer),
                     0);
    const fo_sdp_media_t *a = &g_offer.media[0], *v = &g_offer.media[1];
    assert_true(g_offer.ice_lite);
    assert_int_equal(a->port, 9);
    assert_int_equal(a->n_codecs, 1);
    assert_int_equal(a->codecs[0].codec, FO_CODEC_OPUS);
    assert_string_equal(a->codecs[0].name, "OPUS");
    assert_int_equal(a->dir, FO_DIR_RECVONLY);
    assert_int_equal(a->setup, FO_SETUP_ACTPASS);
    assert_true(a->bundled);
    assert_string_equal(a->msid, "x y"); /* a=msid wins over an earlier a=ssrc msid */
    assert_int_equal(v->dir, FO_DIR_INACTIVE);
    assert_int_equal(v->setup, FO_SETUP_ACTIVE);
    assert_string_equal(v->ice_ufrag, "mine");
    assert_string_equal(v->ice_pwd, "pwpwpwpwpwpwpwpwpwpwpwpw");
    assert_false(v->bundled);
    assert_string_equal(v->msid, "s t");
    assert_int_equal(v->codecs[0].codec, FO_CODEC_NONE);
    /* AV1X is AV1 */
    assert_int_equal(parse_synth("m=video 9 UDP/TLS/RTP/SAVPF 35\r\na=rtpmap:35 AV1X/90000\r\n", &g_offer), 0);
    assert_int_equal(g_offer.media[0].codecs[0].codec, FO_CODEC_AV1);
}

/* Simulcast offers of Chrome and Firefox (sendEncodings with rids l, m, h): the rids are parsed
 * in a=simulcast order and answered as recv when the rid extension is implemented; without it,
 * or for a player, there is no simulcast in the answer. */
static void simulcast_offers(void **state)
{
    (void)state;
    static const char *const exts[] = {MID_URI, TWCC_URI, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
                                       "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", NULL};
    const char *files[] = {"chrome-publish-simulcast.sdp", "firefox-publish-simulcast.sdp"};
    for (int f = 0; f < 2; f++) {
        parse_file(files[f], &g_offer);
        const fo_sdp_media_t *v = &g_offer.media[1];
        assert_int_equal(v->kind, FO_KIND_VIDEO);
        assert_int_equal(v->n_rids, 3);
        assert_int_equal(v->n_sim, 3);
        assert_string_equal(v->sim[0], "l");
        assert_string_equal(v->sim[2], "h");
        memset(&g_ans, 0, sizeof g_ans);
        for (size_t i = 0; i < g_offer.n_media; i++)
            assert_int_equal(fo_sdp_negotiate(&g_offer.media[i], FO_SDP_ROLE_PUBLISH, PREFS_VP8, 2,
                                              exts, &g_ans.media[i]), 0);
        assert_int_equal(g_ans.media[0].n_rids, 0);
        assert_int_equal(g_ans.media[1].n_rids, 3);
        assert_string_equal(g_ans.media[1].rids[1], "m");
        g_ans.ice_ufrag = "ourufrag";
        g_ans.ice_pwd = "ourpassword0123456789012";
        g_ans.fingerprint = FP;
        g_ans.candidates[0] = "127.0.0.1";
        g_ans.n_candidates = 1;
        g_ans.port = 8000;
        assert_true(fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out) > 0);
        assert_true(has_line(g_out, "a=rid:l recv"));
        assert_true(has_line(g_out, "a=rid:h recv"));
        assert_true(has_line(g_out, "a=simulcast:recv l;m;h"));
        /* Without the rid extension we could not tell the layers apart: no simulcast. */
        assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, PREFS_VP8, 2, EXTS,
                                          &g_ans.media[1]), 0);
        assert_int_equal(g_ans.media[1].n_rids, 0);
    }
    /* Paused streams, alternatives and Firefox's old "rid=" form; bad ids are skipped. */
    const char *why;
    static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                              "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
                              "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\r\n"
                              "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n"
                              "a=rid:a send\r\na=rid:b send\r\na=rid:c recv\r\na=rid:b@d send\r\n"
                              "a=simulcast:send rid=~b,x;a\r\n";
    assert_int_equal(parse_str(sdp, &g_offer, &why), 0);
    assert_int_equal(g_offer.media[0].n_rids, 2);
    assert_int_equal(g_offer.media[0].n_sim, 2);
    assert_string_equal(g_offer.media[0].sim[0], "b");
    assert_string_equal(g_offer.media[0].sim[1], "a");
}

/* Our client role: an offer from fo_sdp_build_offer, read by the server side (parse, negotiate
 * as a player, the publisher's codec first), answered, and the answer read back by the client
 * (candidates, setup, codecs in order). */
static void relay_offer_roundtrip(void **state)
{
    (void)state;
    static fo_sdp_codec_t audio[4], video[FO_SDP_MAX_CODECS];
    size_t na = fo_sdp_receive_codecs(FO_KIND_AUDIO, NULL, 0, audio, 4);
    size_t nv = fo_sdp_receive_codecs(FO_KIND_VIDEO, PREFS_VP8, 2, video, FO_SDP_MAX_CODECS);
    assert_int_equal(na, 1);
    assert_int_equal(nv, 12); /* VP8 + 5 H.264 profiles, each with RTX */
    static const char *const exts[] = {MID_URI, TWCC_URI, NULL};
    fo_sdp_offer_t o = {.ice_ufrag = "relayUfr", .ice_pwd = "relayPasswordRelayPasswo",
                        .fingerprint = "AB:CD:EF", .session_id = 42, .n_media = 2};
    o.media[0] = (fo_sdp_offer_media_t){.kind = FO_KIND_AUDIO, .dir = FO_DIR_RECVONLY, .mid = "0",
                                        .codecs = audio, .n_codecs = na, .ext_uris = exts};
    o.media[1] = (fo_sdp_offer_media_t){.kind = FO_KIND_VIDEO, .dir = FO_DIR_RECVONLY, .mid = "1",
                                        .codecs = video, .n_codecs = nv, .ext_uris = exts};
    int n = fo_sdp_build_offer(&o, g_text, sizeof g_text);
    assert_true(n > 0);
    for (int i = 0; i < n; i++)
        if (g_text[i] == '\n') assert_true(i > 0 && g_text[i - 1] == '\r');
    ASSERT_LINE(g_text, "a=group:BUNDLE 0 1");
    ASSERT_LINE(g_text, "a=setup:actpass");
    ASSERT_LINE(g_text, "a=fmtp:98 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
    ASSERT_LINE(g_text, "a=fmtp:99 apt=98");
    ASSERT_LINE(g_text, "a=extmap:2 " TWCC_URI);
    assert_int_equal(parse_str(g_text, &g_offer, NULL), 0);
    assert_int_equal(g_offer.media[1].n_codecs, 12);
    assert_int_equal(fo_sdp_codec_by_pt(&g_offer.media[1], 98)->h264_profile_level, 0x42e01f);
    assert_int_equal(fo_sdp_codec_by_pt(&g_offer.media[1], 99)->apt, 98);
    /* the server answers as to a player, naming its publisher's H.264 first */
    memset(&g_ans, 0, sizeof g_ans);
    for (size_t m = 0; m < 2; m++) {
        assert_int_equal(fo_sdp_negotiate(&g_offer.media[m], FO_SDP_ROLE_PLAY, PREFS_VP8, 2, EXTS, &g_ans.media[m]), 0);
        g_ans.media[m].ssrc = 1000 + (uint32_t)m;
    }
    fo_sdp_codec_t pubc = {.codec = FO_CODEC_H264, .clock = 90000, .h264_pmode = 1, .h264_profile_level = 0x42e01f};
    fo_sdp_format_t want;
    fo_sdp_format_of(&pubc, &want);
    fo_sdp_answer_prefer(&g_offer.media[1], &g_ans.media[1], &want);
    assert_int_equal(g_ans.media[1].pts[0], 98);
    assert_int_equal(g_ans.media[1].pts[1], 99);
    assert_int_equal(g_ans.media[1].pts[2], 96); /* the rest in order */
    g_ans.ice_ufrag = "srvU";
    g_ans.ice_pwd = "serverPasswordServerPass";
    g_ans.fingerprint = "11:22";
    g_ans.candidates[0] = "127.0.0.1";
    g_ans.candidates[1] = "::1";
    g_ans.n_candidates = 2;
    g_ans.port = 8000;
    n = fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out);
    assert_true(n > 0);
    assert_int_equal(parse_str(g_out, &g_offer2, NULL), 0);
    const fo_sdp_media_t *v = &g_offer2.media[1];
    assert_int_equal(v->codecs[0].pt, 98);
    assert_int_equal(v->setup, FO_SETUP_PASSIVE);
    assert_int_equal(v->dir, FO_DIR_SENDONLY);
    assert_int_equal(v->n_cands, 2);
    assert_string_equal(v->cands[0].addr, "127.0.0.1");
    assert_int_equal(v->cands[0].port, 8000);
    assert_string_equal(v->cands[1].addr, "::1");
    assert_true(v->cands[0].priority > v->cands[1].priority);
    assert_true(g_offer2.ice_lite);
    /* a push offer: sendonly with SSRCs; the server negotiates it as a publisher */
    o.media[0].dir = o.media[1].dir = FO_DIR_SENDONLY;
    o.media[0].ssrc = 5;
    o.media[1].ssrc = 6;
    o.media[1].rtx_ssrc = 7;
    o.media[0].cname = o.media[1].cname = "fanout";
    o.media[0].msid_stream = o.media[1].msid_stream = "fanout";
    o.media[0].msid_track = "a";
    o.media[1].msid_track = "v";
    o.media[1].n_codecs = 2; /* VP8 and its RTX */
    n = fo_sdp_build_offer(&o, g_text, sizeof g_text);
    assert_true(n > 0);
    ASSERT_LINE(g_text, "a=ssrc-group:FID 6 7");
    ASSERT_LINE(g_text, "a=msid:fanout v");
    assert_int_equal(parse_str(g_text, &g_offer, NULL), 0);
    assert_int_equal(fo_sdp_negotiate(&g_offer.media[1], FO_SDP_ROLE_PUBLISH, PREFS_VP8, 2, EXTS, &g_ans.media[1]), 0);
    assert_int_equal(g_ans.media[1].pts[0], 96);
    /* what is not one token is refused */
    o.ice_ufrag = "a b";
    assert_int_equal(fo_sdp_build_offer(&o, g_text, sizeof g_text), FO_EINVAL);
    o.ice_ufrag = "ok";
    assert_int_equal(fo_sdp_build_offer(&o, g_text, 100), FO_ETOOBIG);
}

/* Candidate lines: only UDP component-1 IP literals are kept; nothing else is an error. */
static void parse_candidates(void **state)
{
    (void)state;
    static const char sdp[] =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "a=ice-ufrag:u\r\na=ice-pwd:p\r\na=fingerprint:sha-256 AB\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n"
        "a=candidate:1 1 udp 2130706431 10.1.2.3 8000 typ host\r\n"
        "a=candidate:2 1 tcp 1518280447 10.1.2.3 9 typ host tcptype active\r\n"
        "a=candidate:3 1 UDP 2113937151 c1d2.local 50000 typ host\r\n"
        "a=candidate:4 2 udp 2130706430 10.1.2.3 8001 typ host\r\n"
        "a=candidate:5 1 udp 1 10.1.2.3 0 typ host\r\n"
        "a=candidate:garbage\r\n"
        "a=candidate:6 1 udp 1686052607 2001:db8::1 3478 typ srflx raddr 0.0.0.0 rport 0\r\n";
    assert_int_equal(parse_str(sdp, &g_offer, NULL), 0);
    assert_int_equal(g_offer.media[0].n_cands, 2);
    assert_string_equal(g_offer.media[0].cands[0].addr, "10.1.2.3");
    assert_string_equal(g_offer.media[0].cands[1].addr, "2001:db8::1");
    assert_int_equal(g_offer.media[0].cands[1].port, 3478);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chrome_publish_parse),    cmocka_unit_test(firefox_publish_parse),
        cmocka_unit_test(chrome_play_parse),       cmocka_unit_test(firefox_play_parse),
        cmocka_unit_test(datachannel_parse),       cmocka_unit_test(lf_line_ends),
        cmocka_unit_test(negotiate_chrome_publish), cmocka_unit_test(negotiate_firefox_publish),
        cmocka_unit_test(firefox_max_bundle_publish),
        cmocka_unit_test(negotiate_chrome_play),   cmocka_unit_test(negotiate_firefox_play),
        cmocka_unit_test(negotiate_h264_profiles), cmocka_unit_test(codec_compatibility),
        cmocka_unit_test(answer_chrome_publish),   cmocka_unit_test(answer_firefox_publish),
        cmocka_unit_test(answer_play),             cmocka_unit_test(answer_ipv6_and_rejected),
        cmocka_unit_test(answer_errors),           cmocka_unit_test(parse_errors),
        cmocka_unit_test(parse_truncated),         cmocka_unit_test(parse_oversized),
        cmocka_unit_test(parse_too_many),          cmocka_unit_test(parse_tolerant),
        cmocka_unit_test(simulcast_offers),        cmocka_unit_test(relay_offer_roundtrip),
        cmocka_unit_test(parse_candidates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
