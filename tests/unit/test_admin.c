/* SPDX-License-Identifier: MIT */
/* The operator API's pure parts: ?start=&count= paging, the SRS-shaped client and stream JSON
 * from snapshots, and the Prometheus text rendering (every sample line parses, each family's
 * samples follow its own HELP/TYPE, label values as given). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>
#include <regex.h>

#include "fanout/admin.h"
#include "fanout/common.h"
#include "fanout/metrics.h"

static void test_page(void **state)
{
    (void)state;
    size_t start, count;
    const char *why = NULL;
    assert_int_equal(fo_admin_page("", &start, &count, &why), 0);
    assert_int_equal(start, 0);
    assert_int_equal(count, FO_ADMIN_PAGE_DEFAULT);
    assert_int_equal(fo_admin_page("start=5&count=2", &start, &count, &why), 0);
    assert_int_equal(start, 5);
    assert_int_equal(count, 2);
    assert_int_equal(fo_admin_page("count=999999", &start, &count, &why), 0);
    assert_int_equal(count, FO_ADMIN_PAGE_MAX);
    static const char *const bad[] = {"count=0", "start=-1", "count=abc", "start=", "count=1e3", "start=99999999999999"};
    for (size_t i = 0; i < FO_ARRAY_LEN(bad); i++) {
        why = NULL;
        if (fo_admin_page(bad[i], &start, &count, &why) != FO_EINVAL) fail_msg("accepted %s", bad[i]);
        assert_non_null(why);
    }
}

static fo_session_info_t sample_info(void)
{
    fo_session_info_t in = {.id = "abcdefgh12345678", .stream_key = "live/cam",
                            .role = FO_ROLE_PLAY, .state = FO_TS_CONNECTED, .created_ms = 1000,
                            .connected_ms = 1250, .rx_packets = 10, .rx_bytes = 1000,
                            .tx_packets = 500, .tx_bytes = 600000, .rtt_ms = 12};
    in.remote.u.in.sin_family = AF_INET;
    in.remote.u.in.sin_port = htons(50000);
    inet_pton(AF_INET, "192.0.2.7", &in.remote.u.in.sin_addr);
    in.remote.len = sizeof in.remote.u.in;
    in.track[FO_KIND_VIDEO] = (fo_track_info_t){.active = true, .codec = FO_CODEC_VP8, .ssrc = 77, .packets = 400, .lost = 3};
    in.track[FO_KIND_AUDIO] = (fo_track_info_t){.active = true, .codec = FO_CODEC_OPUS, .ssrc = 78, .packets = 100, .lost = 1};
    return in;
}

static void test_client_json(void **state)
{
    (void)state;
    fo_session_info_t in = sample_info();
    json_t *o = fo_admin_client_json(&in, (fo_rate_t){.rx_bps = 8000, .tx_bps = 1500000}, 3000);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "abcdefgh12345678");
    assert_string_equal(json_string_value(json_object_get(o, "type")), "rtc-play");
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "play");
    assert_string_equal(json_string_value(json_object_get(o, "state")), "connected");
    assert_string_equal(json_string_value(json_object_get(o, "ip")), "192.0.2.7");
    assert_string_equal(json_string_value(json_object_get(o, "remote")), "192.0.2.7:50000");
    assert_string_equal(json_string_value(json_object_get(o, "name")), "cam");
    assert_string_equal(json_string_value(json_object_get(o, "url")), "/live/cam");
    assert_false(json_is_true(json_object_get(o, "publish")));
    assert_true(json_real_value(json_object_get(o, "alive")) == 2.0);
    assert_int_equal(json_integer_value(json_object_get(o, "send_bytes")), 600000);
    assert_int_equal(json_integer_value(json_object_get(o, "packets_lost")), 4);
    assert_int_equal(json_integer_value(json_object_get(o, "rtt_ms")), 12);
    assert_int_equal(json_integer_value(json_object_get(o, "connected_ms")), 250);
    json_t *kbps = json_object_get(o, "kbps");
    assert_int_equal(json_integer_value(json_object_get(kbps, "send_30s")), 1500);
    assert_int_equal(json_integer_value(json_object_get(kbps, "recv_30s")), 8);
    assert_int_equal(json_array_size(json_object_get(o, "tracks")), 2);
    json_decref(o);

    /* before the first ICE check: no address, unknown RTT */
    in.remote = (fo_addr_t){0};
    in.rtt_ms = 0;
    o = fo_admin_client_json(&in, (fo_rate_t){0}, 3000);
    assert_string_equal(json_string_value(json_object_get(o, "ip")), "");
    assert_true(json_is_null(json_object_get(o, "rtt_ms")));
    json_decref(o);
}

static void test_stream_json(void **state)
{
    (void)state;
    fo_sdp_codec_t vp8 = {.pt = 96, .codec = FO_CODEC_VP8, .clock = 90000};
    fo_sdp_codec_t opus = {.pt = 111, .codec = FO_CODEC_OPUS, .clock = 48000, .channels = 2};
    fo_admin_stream_t st = {.key = "a/b/cam", .has_publisher = true, .pub = sample_info(),
                            .pub_rate = {.rx_bps = 2000000}, .codec = {&opus, &vp8}, .players = 3,
                            .players_tx_bytes = 900, .players_tx_bps = 6000000, .since_unix_ms = 1700000000000};
    st.pub.role = FO_ROLE_PUBLISH;
    json_t *o = fo_admin_stream_json(&st);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "a/b/cam");
    assert_string_equal(json_string_value(json_object_get(o, "app")), "a/b");
    assert_string_equal(json_string_value(json_object_get(o, "name")), "cam");
    assert_int_equal(json_integer_value(json_object_get(o, "clients")), 4);
    assert_int_equal(json_integer_value(json_object_get(o, "players")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "recv_bytes")), 1000);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "kbps"), "recv_30s")), 2000);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "kbps"), "send_30s")), 6000);
    json_t *pub = json_object_get(o, "publish");
    assert_true(json_is_true(json_object_get(pub, "active")));
    assert_string_equal(json_string_value(json_object_get(pub, "cid")), "abcdefgh12345678");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "video"), "codec")), "VP8");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "audio"), "channel")), 2);
    json_decref(o);

    fo_admin_stream_t empty = {.key = "live/x", .players = 1};
    o = fo_admin_stream_json(&empty);
    assert_false(json_is_true(json_object_get(json_object_get(o, "publish"), "active")));
    assert_true(json_is_null(json_object_get(json_object_get(o, "publish"), "cid")));
    assert_true(json_is_null(json_object_get(o, "video")));
    json_decref(o);
}

static void test_metrics_render(void **state)
{
    (void)state;
    fo_metrics_data_t d = {0};
    d.sessions[FO_ROLE_PUBLISH][FO_TS_CONNECTED] = 2;
    d.sessions[FO_ROLE_PLAY][FO_TS_NEW] = 5;
    d.streams = 2;
    d.router.rx_unknown = 17;
    d.ended[FO_END_DTLS_FAILED] = 3;
    d.udp_tx_bytes = 123456789012ull;
    d.api[0].status = 200, d.api[0].count = 9;
    d.api[1].status = 415, d.api[1].count = 1;
    d.n_api = 2;
    d.proc.cpu_seconds = 1.25;
    d.has_auth = true;
    d.auth.hook_allowed[FO_AUTH_PLAY] = 4;
    d.auth.hook_busy[FO_AUTH_PLAY] = 2;
    d.auth.hook_latency[FO_AUTH_PLAY][0] = 1;  /* <= 5 ms */
    d.auth.hook_latency[FO_AUTH_PLAY][7] = 3;  /* 0.5 s < t <= 1 s */
    d.auth.hook_latency_ms_sum[FO_AUTH_PLAY] = 2403;
    char *text = fo_metrics_render(&d);
    assert_non_null(text);
    const char *want[] = {"fanout_sessions{kind=\"publish\",state=\"connected\"} 2\n",
                          "fanout_sessions{kind=\"play\",state=\"new\"} 5\n",
                          "fanout_dropped_packets_total{reason=\"unknown_address\"} 17\n",
                          "fanout_dtls_failures_total 3\n",
                          "fanout_sessions_ended_total{reason=\"dtls_failed\"} 3\n",
                          "fanout_udp_bytes_total{direction=\"out\"} 123456789012\n",
                          "fanout_api_requests_total{code=\"415\"} 1\n",
                          "process_cpu_seconds_total 1.250\n",
                          "fanout_hook_requests_total{hook=\"on_play\",result=\"allowed\"} 4\n",
                          "fanout_hook_requests_total{hook=\"on_play\",result=\"busy\"} 2\n",
                          "fanout_hook_duration_seconds_bucket{hook=\"on_play\",le=\"0.005\"} 1\n",
                          "fanout_hook_duration_seconds_bucket{hook=\"on_play\",le=\"0.5\"} 1\n",
                          "fanout_hook_duration_seconds_bucket{hook=\"on_play\",le=\"1\"} 4\n",
                          "fanout_hook_duration_seconds_bucket{hook=\"on_play\",le=\"+Inf\"} 4\n",
                          "fanout_hook_duration_seconds_sum{hook=\"on_play\"} 2.403\n",
                          "fanout_hook_duration_seconds_count{hook=\"on_play\"} 4\n"};
    for (size_t i = 0; i < FO_ARRAY_LEN(want); i++)
        if (!strstr(text, want[i])) fail_msg("missing %s", want[i]);

    regex_t re;
    assert_int_equal(regcomp(&re, "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\\})? -?[0-9]+(\\.[0-9]+)?$",
                             REG_EXTENDED), 0);
    char family[128] = "", type[32] = "";
    int samples = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# TYPE ", 7) == 0) {
            sscanf(line + 7, "%127s %31s", family, type);
            continue;
        }
        if (strncmp(line, "# HELP ", 7) == 0) continue;
        regmatch_t m[2];
        if (regexec(&re, line, 2, m, 0) != 0) fail_msg("does not parse: %s", line);
        size_t nl = (size_t)(m[1].rm_eo - m[1].rm_so), fl = strlen(family);
        bool ok = nl == fl;
        if (strcmp(type, "histogram") == 0) /* name_bucket, name_sum, name_count */
            ok = nl > fl && (strncmp(line + fl, "_bucket{", 8) == 0 || strncmp(line + fl, "_sum{", 5) == 0 ||
                             strncmp(line + fl, "_count{", 7) == 0);
        if (!ok || strncmp(line, family, fl) != 0) fail_msg("sample %s outside its family (%s)", line, family);
        samples++;
    }
    regfree(&re);
    assert_true(samples > 30);
    free(text);
}

static void test_end_kinds(void **state)
{
    (void)state;
    assert_int_equal(fo_router_end_kind("DTLS handshake timed out"), FO_END_DTLS_FAILED);
    assert_int_equal(fo_router_end_kind("DTLS fingerprint mismatch"), FO_END_DTLS_FAILED);
    assert_int_equal(fo_router_end_kind("SRTP setup failed"), FO_END_DTLS_FAILED);
    assert_int_equal(fo_router_end_kind("DTLS close_notify"), FO_END_PEER_CLOSED);
    assert_int_equal(fo_router_end_kind("ICE consent expired (no STUN checks)"), FO_END_CONSENT);
    assert_int_equal(fo_router_end_kind("did not connect in time"), FO_END_CONNECT_TIMEOUT);
    assert_int_equal(fo_router_end_kind("WHIP DELETE"), FO_END_API);
    assert_int_equal(fo_router_end_kind("kicked through the API"), FO_END_API);
    assert_int_equal(fo_router_end_kind("ended by request"), FO_END_API);
    assert_int_equal(fo_router_end_kind("publisher left"), FO_END_PUBLISHER_LEFT);
    assert_int_equal(fo_router_end_kind("server shutting down"), FO_END_SHUTDOWN);
    assert_int_equal(fo_router_end_kind("something new"), FO_END_OTHER);
    assert_int_equal(fo_router_end_kind(NULL), FO_END_OTHER);
    assert_string_equal(fo_router_end_kind_name(FO_END_DTLS_FAILED), "dtls_failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),           cmocka_unit_test(test_client_json),
        cmocka_unit_test(test_stream_json),    cmocka_unit_test(test_metrics_render),
        cmocka_unit_test(test_end_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
