/* SPDX-License-Identifier: MIT */
/* WHIP/WHEP: the request helpers (Content-Type, ?app=&stream=) and the offers real WHIP/WHEP
 * clients send: OBS (libdatachannel: ICE credentials, fingerprint and setup only at session
 * level, a=group:LS, H.264 only) and GStreamer webrtcbin (whipsink/whepsrc: 32-character
 * credentials, "OPUS" in capitals, audio bundle-only with port 0, a TCP candidate). The files
 * in tests/data/sdp/ are written by hand after public captures (OBS 30.1's offer in
 * kevmo314/tinywhip#2; webrtcbin's layout from its own offers) with our own values. */
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
#include "fanout/whip.h"

static fo_sdp_t g_offer;
static fo_sdp_answer_t g_ans;
static char g_text[64 * 1024];
static char g_out[64 * 1024];

static void test_content_type(void **state)
{
    (void)state;
    assert_true(fo_whip_is_sdp("application/sdp"));
    assert_true(fo_whip_is_sdp("Application/SDP"));
    assert_true(fo_whip_is_sdp("application/sdp; charset=utf-8"));
    assert_true(fo_whip_is_sdp(" application/sdp "));
    assert_false(fo_whip_is_sdp(""));
    assert_false(fo_whip_is_sdp(NULL));
    assert_false(fo_whip_is_sdp("application/json"));
    assert_false(fo_whip_is_sdp("application/sdpx"));
    assert_false(fo_whip_is_sdp("text/plain"));
}

static void test_stream_key(void **state)
{
    (void)state;
    char key[200];
    const char *why = NULL;
    assert_int_equal(fo_whip_stream_key("app=live&stream=cam1", key, sizeof key, &why), 0);
    assert_string_equal(key, "live/cam1");
    assert_int_equal(fo_whip_stream_key("stream=cam1", key, sizeof key, &why), 0);
    assert_string_equal(key, "live/cam1");
    assert_int_equal(fo_whip_stream_key("stream=a%2Db&app=x.y", key, sizeof key, &why), 0);
    assert_string_equal(key, "x.y/a-b");
    static const char *const bad[] = {"",          "app=live",          "app=live&stream=",
                                      "stream=..", "stream=a%2Fb",      "app=a%2Fb&stream=c",
                                      "stream=a b", "app=&stream=x",    "stream=%ZZ"};
    for (size_t i = 0; i < FO_ARRAY_LEN(bad); i++) {
        why = NULL;
        if (fo_whip_stream_key(bad[i], key, sizeof key, &why) != FO_EINVAL) fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(why);
    }
}

static void load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sdp/%s", FO_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    size_t n = fread(g_text, 1, sizeof g_text - 1, f);
    fclose(f);
    g_text[n] = '\0';
    const char *why = "unset";
    int rc = fo_sdp_parse(g_text, n, &g_offer, &why);
    if (rc) fail_msg("%s: %s (%s) line %d", name, fo_strerror(rc), why, g_offer.err_line);
}

/* Negotiates every m-line as the router does and builds the answer; returns accepted count. */
static size_t answer(fo_sdp_role_t role)
{
    static const fo_codec_t prefs[] = {FO_CODEC_VP8, FO_CODEC_H264, FO_CODEC_VP9, FO_CODEC_AV1};
    static const char *const exts[] = {"urn:ietf:params:rtp-hdrext:sdes:mid", NULL};
    memset(&g_ans, 0, sizeof g_ans);
    size_t accepted = 0;
    for (size_t i = 0; i < g_offer.n_media; i++) {
        fo_sdp_negotiate(&g_offer.media[i], role, prefs, FO_ARRAY_LEN(prefs), exts, &g_ans.media[i]);
        if (role == FO_SDP_ROLE_PLAY) g_ans.media[i].ssrc = 1000 + (uint32_t)i;
        accepted += g_ans.media[i].accept;
    }
    g_ans.ice_ufrag = "abcdefgh";
    g_ans.ice_pwd = "abcdefghijklmnopqrstuvwx";
    g_ans.fingerprint = "AA:BB:CC";
    g_ans.candidates[0] = "127.0.0.1";
    g_ans.n_candidates = 1;
    g_ans.port = 8000;
    g_ans.session_id = 42;
    int len = fo_sdp_build_answer(&g_offer, &g_ans, g_out, sizeof g_out);
    if (len <= 0) fail_msg("answer: %s", fo_strerror(len));
    return accepted;
}

/* RFC 9725 4.3.1 / RFC 9110 13.1.1: "*", a list, weak tags, blanks. */
static void test_if_match(void **state)
{
    (void)state;
    assert_true(fo_whip_if_match("*", "\"abc\""));
    assert_true(fo_whip_if_match("\"abc\"", "\"abc\""));
    assert_true(fo_whip_if_match(" \"x\" , \"abc\" ", "\"abc\""));
    assert_true(fo_whip_if_match("W/\"abc\"", "\"abc\""));
    assert_false(fo_whip_if_match("\"abcd\"", "\"abc\""));
    assert_false(fo_whip_if_match("abc", "\"abc\""));
    assert_false(fo_whip_if_match("", "\"abc\""));
    assert_false(fo_whip_if_match(",,", "\"abc\""));
}

static void test_obs_offer(void **state)
{
    (void)state;
    load("obs-whip-publish.sdp");
    assert_int_equal(g_offer.n_media, 2);
    for (size_t i = 0; i < 2; i++) {
        const fo_sdp_media_t *m = &g_offer.media[i];
        /* session-level credentials, fingerprint and setup reach every m-line */
        assert_string_equal(m->ice_ufrag, "Qv7d");
        assert_string_equal(m->ice_pwd, "R3qkTzU0mWc8PbLx1HsY2e");
        assert_string_equal(m->fp_alg, "sha-256");
        assert_true(strncmp(m->fp, "6B:21:9C", 8) == 0);
        assert_true(m->rtcp_mux);
    }
    assert_int_equal(answer(FO_SDP_ROLE_PUBLISH), 2);
    const fo_sdp_codec_t *v = fo_sdp_codec_by_pt(&g_offer.media[1], g_ans.media[1].pts[0]);
    assert_non_null(v);
    assert_int_equal(v->codec, FO_CODEC_H264);
    assert_int_equal(g_ans.media[0].pts[0], 111);
    assert_non_null(strstr(g_out, "a=group:BUNDLE 0 1\r\n"));
    assert_non_null(strstr(g_out, "a=rtpmap:96 H264/90000\r\n"));
    assert_non_null(strstr(g_out, "a=setup:passive\r\n"));
}

static void test_webrtcbin_publish(void **state)
{
    (void)state;
    load("webrtcbin-whip-publish.sdp");
    assert_int_equal(g_offer.n_media, 2);
    assert_true(g_offer.media[1].bundle_only);
    assert_int_not_equal(g_offer.media[1].port, 0);
    assert_int_equal(g_offer.media[1].codecs[0].codec, FO_CODEC_OPUS); /* "OPUS" */
    assert_int_equal(answer(FO_SDP_ROLE_PUBLISH), 2);
    assert_non_null(strstr(g_out, "a=group:BUNDLE video0 audio1\r\n"));
    assert_non_null(strstr(g_out, "a=rtpmap:96 VP8/90000\r\n"));
    assert_non_null(strstr(g_out, "a=rtpmap:97 OPUS/48000/2\r\n"));
}

static void test_webrtcbin_play(void **state)
{
    (void)state;
    load("webrtcbin-whep-play.sdp");
    assert_int_equal(answer(FO_SDP_ROLE_PLAY), 2);
    assert_int_equal(g_ans.media[0].dir, FO_DIR_SENDONLY);
    assert_non_null(strstr(g_out, "a=mid:audio1\r\n"));
    assert_non_null(strstr(g_out, "a=ssrc:1000 "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type),      cmocka_unit_test(test_stream_key),
        cmocka_unit_test(test_obs_offer),         cmocka_unit_test(test_webrtcbin_publish),
        cmocka_unit_test(test_webrtcbin_play),    cmocka_unit_test(test_if_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
