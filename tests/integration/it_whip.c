/* SPDX-License-Identifier: MIT */
/* WHIP, WHEP, the operator API and /metrics against the running server (argv[1] binary,
 * argv[2] source dir), over real HTTP. Checks, in order: every WHIP/WHEP error path (415, 400
 * with a text reason, 404, 405, OPTIONS), an OBS offer accepted; a WHIP publisher and a WHEP
 * player (C peers: ICE, DTLS, SRTP) carrying audio and video; /api/v1/versions, summaries,
 * streams, streams/{id}, clients with paging (start/count) and a kick; /metrics in the text
 * format (every sample line "name{labels} value"); DELETE on both resources ends both sessions
 * (seen through /api/v1/clients and the player's close_notify), a second DELETE is 404.
 * One process, alarm(60); the server must exit 0 (no leaks under ASan). */
#include <jansson.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "peer.h"
#include "testsrv.h"

#define die(...) fo_test_fail(__VA_ARGS__)

static fo_testsrv_t srv;
static char g_stream[64]; /* "whip-<pid>" */

typedef struct {
    int status;
    char *headers;
    char *body;
} resp_t;

static resp_t req(const char *method, const char *path, const char *ctype, const char *body)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", srv.api, path);
    resp_t r = {0};
    r.status = fo_peer_http_request(method, url, ctype, body, &r.headers, &r.body, 5000);
    if (r.status < 0) die("%s %s: %s", method, path, fo_strerror(r.status));
    return r;
}

static void resp_free(resp_t *r)
{
    free(r->headers);
    free(r->body);
}

static void expect(const char *what, resp_t r, int status, const char *header_part)
{
    if (r.status != status) die("%s: HTTP %d, want %d; body: %.300s", what, r.status, status, r.body);
    if (header_part && !strcasestr(r.headers, header_part))
        die("%s: headers lack \"%s\":\n%s", what, header_part, r.headers);
    printf("  %s: HTTP %d ok\n", what, r.status);
}

static json_t *get_json(const char *path)
{
    resp_t r = req("GET", path, NULL, NULL);
    if (r.status != 200) die("GET %s: HTTP %d %.300s", path, r.status, r.body);
    json_error_t e;
    json_t *j = json_loads(r.body, 0, &e);
    if (!j || json_integer_value(json_object_get(j, "code")) != 0) die("GET %s: bad JSON %.300s", path, r.body);
    resp_free(&r);
    return j;
}

static void error_paths(const char *offer)
{
    char path[256];
    snprintf(path, sizeof path, "/rtc/v1/whip/?app=live&stream=%s", g_stream);
    resp_t r = req("POST", path, "application/json", offer);
    expect("WHIP with Content-Type application/json", r, 415, NULL);
    resp_free(&r);
    r = req("POST", path, "application/sdp", "v=0\r\nthis is not SDP\r\n");
    expect("WHIP with a bad SDP", r, 400, "Content-Type: text/plain");
    if (!strstr(r.body, "bad SDP")) die("bad SDP: body without a reason: %s", r.body);
    resp_free(&r);
    r = req("POST", "/rtc/v1/whip/?app=live", "application/sdp", offer);
    expect("WHIP without ?stream=", r, 400, NULL);
    resp_free(&r);
    r = req("DELETE", "/rtc/v1/resource/nosuchsession000", NULL, NULL);
    expect("DELETE on an unknown resource", r, 404, NULL);
    resp_free(&r);
    r = req("PATCH", "/rtc/v1/resource/nosuchsession000", "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n");
    expect("PATCH (trickle) on an unknown resource", r, 404, "Allow: DELETE, PATCH");
    resp_free(&r);
    r = req("OPTIONS", "/rtc/v1/whip/", NULL, NULL);
    expect("OPTIONS on the WHIP endpoint", r, 204, "Accept-Post: application/sdp");
    if (!strcasestr(r.headers, "Allow: POST")) die("OPTIONS: no Allow: POST");
    resp_free(&r);
    r = req("GET", "/rtc/v1/whep/?app=live&stream=x", NULL, NULL);
    expect("GET on the WHEP endpoint", r, 405, "Allow: POST");
    resp_free(&r);
    r = req("GET", "/api/v1/nothing", NULL, NULL);
    expect("GET /api/v1/nothing", r, 404, NULL);
    resp_free(&r);
    r = req("GET", "/api/v1/clients?count=abc", NULL, NULL);
    expect("GET /api/v1/clients?count=abc", r, 400, NULL);
    resp_free(&r);
    r = req("DELETE", "/api/v1/clients/nosuchsession000", NULL, NULL);
    expect("kick an unknown client", r, 404, NULL);
    resp_free(&r);
    r = req("GET", "/api/v1/streams/live/nosuchstream", NULL, NULL);
    expect("GET an unknown stream", r, 404, NULL);
    resp_free(&r);
    r = req("POST", "/api/v1/versions", "application/json", "{}");
    expect("POST /api/v1/versions", r, 405, NULL);
    resp_free(&r);
}

/* An OBS offer (session-level ICE credentials, H.264 only) gets a 201 and a Location. */
static void obs_offer(const char *srcdir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/sdp/obs-whip-publish.sdp", srcdir);
    FILE *f = fopen(path, "rb");
    if (!f) die("open %s", path);
    static char sdp[16384];
    size_t n = fread(sdp, 1, sizeof sdp - 1, f);
    fclose(f);
    sdp[n] = '\0';
    resp_t r = req("POST", "/rtc/v1/whip/?app=live&stream=obs", "application/sdp", sdp);
    expect("WHIP with an OBS offer", r, 201, "Location: /rtc/v1/resource/");
    if (!strstr(r.body, "a=ice-lite") || !strstr(r.body, "H264/90000")) die("OBS answer: %s", r.body);
    char *loc = strcasestr(r.headers, "Location: ");
    char res[128];
    sscanf(loc + 10, "%127[^\r\n]", res);
    resp_free(&r);
    r = req("DELETE", res, NULL, NULL);
    expect("DELETE the OBS resource", r, 200, NULL);
    resp_free(&r);
}

/* --- media --- */

typedef struct {
    uint64_t audio, video;
} rx_t;

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)p;
    rx_t *rx = user;
    if (is_rtcp || len < 12) return;
    const fo_peer_media_t *a = fo_peer_answer_media(p, "audio");
    uint32_t ssrc = (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
    if (a && ssrc == a->ssrc) rx->audio++;
    else rx->video++;
}

static void send_rtp(fo_peer_t *pub, bool video, uint16_t seq, uint32_t ts, bool key)
{
    uint8_t pkt[12 + 400] = {0x80, video ? FO_PEER_PT_VP8 : FO_PEER_PT_OPUS};
    if (video) pkt[1] |= 0x80; /* one packet per frame: marker */
    pkt[2] = (uint8_t)(seq >> 8), pkt[3] = (uint8_t)seq;
    for (int i = 0; i < 4; i++) pkt[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
    uint32_t ssrc = fo_peer_ssrc(pub, video ? "video" : "audio");
    for (int i = 0; i < 4; i++) pkt[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    size_t len = 12 + 160;
    if (video) {
        uint8_t *pl = pkt + 12;
        pl[0] = 0x10; /* VP8 descriptor: start of partition 0 */
        uint32_t tag = (100u << 5) | (1u << 4) | (key ? 0u : 1u);
        pl[1] = (uint8_t)tag, pl[2] = (uint8_t)(tag >> 8), pl[3] = (uint8_t)(tag >> 16);
        static const uint8_t kf[] = {0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
        memcpy(pl + 4, kf, sizeof kf);
        len = 12 + 400;
    }
    int r = fo_peer_send_rtp(pub, pkt, len);
    if (r) die("publisher send: %s", fo_strerror(r));
}

/* Sends audio every 20 ms and a VP8 keyframe every 100 ms until the player has >= 20 of each
 * (or the 60 s alarm). */
static void carry_media(fo_peer_t *pub, fo_peer_t *play, rx_t *rx)
{
    uint16_t aseq = 1, vseq = 1;
    uint32_t ats = 0, vts = 0;
    int64_t next_a = fo_peer_now_ms(), next_v = next_a;
    while (rx->audio < 20 || rx->video < 20) {
        int64_t now = fo_peer_now_ms();
        if (now >= next_a) {
            send_rtp(pub, false, aseq++, ats += 960, false);
            next_a += 20;
        }
        if (now >= next_v) {
            send_rtp(pub, true, vseq++, vts += 9000, true);
            next_v += 100;
        }
        struct pollfd pfd[2] = {{.fd = fo_peer_fd(pub), .events = POLLIN}, {.fd = fo_peer_fd(play), .events = POLLIN}};
        poll(pfd, 2, 5);
        if (fo_peer_process(pub) != FO_PEER_CONNECTED) die("publisher: %s", fo_peer_error(pub));
        if (fo_peer_process(play) != FO_PEER_CONNECTED) die("player: %s", fo_peer_error(play));
    }
    printf("  WHEP player received %llu audio and %llu video packets from the WHIP publisher\n",
           (unsigned long long)rx->audio, (unsigned long long)rx->video);
}

/* --- API --- */

static json_t *find_by_id(json_t *arr, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (strcmp(json_string_value(json_object_get(v, "id")), id) == 0) return v;
    return NULL;
}

static void check_api(fo_peer_t *pub, fo_peer_t *play, const char *key)
{
    json_t *j = get_json("/api/v1/versions");
    if (!json_is_string(json_object_get(json_object_get(j, "data"), "version"))) die("versions: no data.version");
    json_decref(j);
    j = get_json("/api/v1/summaries");
    json_t *self = json_object_get(json_object_get(j, "data"), "self");
    if (json_integer_value(json_object_get(self, "mem_kbyte")) <= 0 || !json_object_get(self, "cpu_percent"))
        die("summaries: no memory/cpu");
    if (json_integer_value(json_object_get(json_object_get(json_object_get(j, "data"), "system"), "conn_srs")) < 2)
        die("summaries: fewer than 2 sessions");
    json_decref(j);
    printf("  versions and summaries ok\n");

    j = get_json("/api/v1/clients");
    json_t *cl = json_object_get(j, "clients");
    json_t *pc = find_by_id(cl, fo_peer_session_id(pub)), *lc = find_by_id(cl, fo_peer_session_id(play));
    if (!pc || !lc) die("clients: publisher or player missing");
    if (strcmp(json_string_value(json_object_get(pc, "type")), "rtc-publish") ||
        strcmp(json_string_value(json_object_get(lc, "type")), "rtc-play"))
        die("clients: wrong types");
    if (strcmp(json_string_value(json_object_get(pc, "state")), "connected") ||
        strcmp(json_string_value(json_object_get(lc, "state")), "connected"))
        die("clients: not connected");
    if (json_integer_value(json_object_get(pc, "recv_bytes")) <= 0 || json_integer_value(json_object_get(lc, "send_bytes")) <= 0)
        die("clients: no bytes counted");
    if (strcmp(json_string_value(json_object_get(pc, "ip")), "127.0.0.1") != 0) die("clients: ip");
    if (!json_object_get(pc, "packets_lost") || !json_object_get(pc, "rtt_ms")) die("clients: no loss/RTT fields");
    json_decref(j);
    printf("  clients ok\n");

    j = get_json("/api/v1/streams");
    json_t *st = find_by_id(json_object_get(j, "streams"), key);
    if (!st || !json_is_true(json_object_get(json_object_get(st, "publish"), "active")) ||
        json_integer_value(json_object_get(st, "players")) != 1 ||
        strcmp(json_string_value(json_object_get(json_object_get(st, "video"), "codec")), "VP8"))
        die("streams: %s missing or wrong", key);
    json_decref(j);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/streams/%s", key);
    j = get_json(path);
    if (json_array_size(json_object_get(json_object_get(j, "stream"), "sessions")) != 2) die("streams/{id}: not 2 sessions");
    json_decref(j);
    printf("  streams ok\n");
}

/* A third session (an SRS-API player that never connects): pages of 2 cover the 3 clients
 * exactly once; then the kick. */
static void paging_and_kick(fo_dtls_ctx_t *dctx, fo_stun_t *stun, const char *key)
{
    fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = "extra"};
    fo_peer_t *extra = fo_peer_new(&o);
    if (fo_peer_signal(extra, srv.api, key, 5000)) die("extra player: %s", fo_peer_error(extra));
    json_t *p1 = get_json("/api/v1/clients?start=0&count=2");
    json_t *p2 = get_json("/api/v1/clients?start=2&count=2");
    if (json_integer_value(json_object_get(p1, "total")) != 3) die("paging: total != 3");
    json_t *a1 = json_object_get(p1, "clients"), *a2 = json_object_get(p2, "clients");
    if (json_array_size(a1) != 2 || json_array_size(a2) != 1) die("paging: sizes %zu, %zu", json_array_size(a1), json_array_size(a2));
    size_t i;
    json_t *v;
    bool found = false;
    json_array_foreach(a2, i, v) if (find_by_id(a1, json_string_value(json_object_get(v, "id")))) die("paging: repeated id");
    json_array_foreach(a1, i, v) found |= strcmp(json_string_value(json_object_get(v, "id")), fo_peer_session_id(extra)) == 0;
    json_array_foreach(a2, i, v) found |= strcmp(json_string_value(json_object_get(v, "id")), fo_peer_session_id(extra)) == 0;
    if (!found) die("paging: the extra player is on no page");
    json_decref(p1);
    json_decref(p2);
    printf("  paging ok\n");

    char path[256];
    snprintf(path, sizeof path, "/api/v1/clients/%s", fo_peer_session_id(extra));
    resp_t r = req("DELETE", path, NULL, NULL);
    expect("kick (DELETE /api/v1/clients/{id})", r, 200, NULL);
    resp_free(&r);
    r = req("GET", path, NULL, NULL);
    expect("GET the kicked client", r, 404, NULL);
    resp_free(&r);
    fo_peer_free(extra);
}

static void check_metrics(void)
{
    resp_t r = req("GET", "/metrics", NULL, NULL);
    expect("GET /metrics", r, 200, "Content-Type: text/plain; version=0.0.4");
    regex_t re;
    if (regcomp(&re, "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\\})? -?[0-9]+(\\.[0-9]+)?$",
                REG_EXTENDED | REG_NOSUB))
        die("regcomp");
    int samples = 0;
    for (char *save = NULL, *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            if (strncmp(line, "# HELP ", 7) && strncmp(line, "# TYPE ", 7)) die("metrics: bad comment: %s", line);
            continue;
        }
        if (regexec(&re, line, 0, NULL, 0) != 0) die("metrics: line does not parse: \"%s\"", line);
        samples++;
    }
    regfree(&re);
    resp_free(&r);
    r = req("GET", "/metrics", NULL, NULL);
    const char *want[] = {"fanout_sessions{kind=\"publish\",state=\"connected\"} 1\n",
                          "fanout_sessions{kind=\"play\",state=\"connected\"} 1\n",
                          "fanout_api_requests_total{code=\"415\"} 1\n",
                          "fanout_dtls_failures_total 0\n", "fanout_dropped_packets_total{reason=\"unknown_address\"} "};
    for (size_t i = 0; i < FO_ARRAY_LEN(want); i++)
        if (!strstr(r.body, want[i])) die("metrics: no \"%s\" in\n%s", want[i], r.body);
    if (!strstr(r.body, "fanout_sessions_ended_total{reason=\"api\"} ")) die("metrics: no ended{api}");
    resp_free(&r);
    printf("  /metrics: %d samples, all parse\n", samples);
}

static size_t client_count(void)
{
    json_t *j = get_json("/api/v1/clients");
    size_t n = json_array_size(json_object_get(j, "clients"));
    json_decref(j);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    fo_testsrv_start(&srv, "it_whip", argv[1], argv[2], NULL, 60);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) die("srtp init");
    snprintf(g_stream, sizeof g_stream, "whip-%d", (int)getpid());
    char key[80];
    snprintf(key, sizeof key, "live/%s", g_stream);
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "whip"};
    fo_peer_opts_t lo = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = "whep"};
    fo_peer_t *pub = fo_peer_new(&po), *play = fo_peer_new(&lo);

    error_paths(fo_peer_offer_sdp(pub));
    obs_offer(argv[2]);

    char url[512];
    snprintf(url, sizeof url, "%s/rtc/v1/whip/?app=live&stream=%s", srv.api, g_stream);
    if (fo_peer_connect_whip(pub, url, 10000)) die("WHIP publish: %s", fo_peer_error(pub));
    snprintf(url, sizeof url, "%s/rtc/v1/whep/?app=live&stream=%s", srv.api, g_stream);
    if (fo_peer_connect_whip(play, url, 10000)) die("WHEP play: %s", fo_peer_error(play));
    printf("  WHIP publisher %s and WHEP player %s connected\n", fo_peer_location(pub), fo_peer_location(play));
    rx_t rx = {0};
    fo_peer_set_recv_cb(play, on_rx, &rx);
    carry_media(pub, play, &rx);

    check_api(pub, play, key);
    paging_and_kick(dctx, stun, key);
    check_metrics();

    /* DELETE both resources: both sessions end, the player hears close_notify */
    if (client_count() != 2) die("expected 2 clients before DELETE");
    resp_t r = req("DELETE", fo_peer_location(play), NULL, NULL);
    expect("DELETE the WHEP resource", r, 200, NULL);
    resp_free(&r);
    r = req("DELETE", fo_peer_location(pub), NULL, NULL);
    expect("DELETE the WHIP resource", r, 200, NULL);
    resp_free(&r);
    if (client_count() != 0) die("sessions left after DELETE");
    r = req("DELETE", fo_peer_location(pub), NULL, NULL);
    expect("DELETE the WHIP resource again", r, 404, NULL);
    resp_free(&r);
    while (fo_peer_process(play) != FO_PEER_CLOSED) {
        struct pollfd pfd = {.fd = fo_peer_fd(play), .events = POLLIN};
        poll(&pfd, 1, 50);
        if (fo_peer_state(play) == FO_PEER_FAILED) die("player: %s", fo_peer_error(play));
    }
    printf("  DELETE ended both sessions; the player got close_notify\n");

    fo_peer_free(pub);
    fo_peer_free(play);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    fo_srtp_global_shutdown();
    fo_testsrv_stop_clean(&srv);
    printf("it_whip: PASS\n");
    return 0;
}
