/* SPDX-License-Identifier: MIT */
/* Bad input against a running server (argv[1] binary, argv[2] source dir): malformed JSON, SDP
 * and stream URLs, wrong methods and paths, oversized and truncated HTTP requests, a player whose
 * codecs cannot receive the stream, and thousands of random or hostile datagrams at the UDP port
 * (random bytes, STUN with bad integrity or unknown users, DTLS- and RTP-shaped junk). Each
 * request must get the documented HTTP status and JSON code; refused requests must change
 * nothing (the stream they named is still free); afterwards a real publish + play over ICE, DTLS
 * and SRTP must still carry media, and the server must exit 0 (no leaks under ASan). */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "peer.h"
#include "testsrv.h"

static fo_testsrv_t srv;

/* Sends raw bytes on a new TCP connection and reads the answer until close (2 s at most).
 * Returns the HTTP status (0 if none) and the body in `body`. */
static int raw_http(const void *req, size_t len, char *body, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.http_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) fo_test_fail("connect to HTTP");
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, (const char *)req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) break; /* the server may answer 413 and close before reading it all */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    static char resp[1 << 16];
    size_t n = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0) break;
        ssize_t r = recv(fd, resp + n, sizeof resp - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    resp[n] = '\0';
    int status = 0;
    sscanf(resp, "HTTP/1.%*d %d", &status);
    const char *b = strstr(resp, "\r\n\r\n");
    snprintf(body, cap, "%s", b ? b + 4 : "");
    return status;
}

static int post(const char *path, const char *body, char *out, size_t cap)
{
    size_t blen = strlen(body);
    char *req = malloc(blen + 512);
    int hl = sprintf(req, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n", path, blen);
    memcpy(req + hl, body, blen);
    int st = raw_http(req, (size_t)hl + blen, out, cap);
    free(req);
    return st;
}

static int json_code(const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    json_t *c = j ? json_object_get(j, "code") : NULL;
    int code = json_is_integer(c) ? (int)json_integer_value(c) : -1;
    const char *msg = j ? json_string_value(json_object_get(j, "msg")) : NULL;
    if (code > 0 && (!msg || !*msg)) code = -2; /* every error needs a readable message */
    json_decref(j);
    return code;
}

static char *rtc_body(const char *url, const char *sdp)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:n, s:s}", "api", "x", "tid", "t", "streamurl", url,
                          "clientip", "sdp", sdp);
    char *s = json_dumps(j, 0);
    json_decref(j);
    return s;
}

static void expect(const char *what, int status, const char *body, int want_status, int want_code)
{
    int code = json_code(body);
    if (status != want_status || code != want_code)
        fo_test_fail("%s: got HTTP %d code %d, want %d / %d; body: %.300s", what, status, code,
                     want_status, want_code, body);
}

static void http_cases(const char *victim_offer)
{
    char out[8192];
    char url[128];
    snprintf(url, sizeof url, "webrtc://127.0.0.1/live/victim");
    struct {
        const char *what, *path, *body;
        int status, code;
    } cases[] = {
        {"not JSON", "/rtc/v1/publish/", "garbage", 400, 1001},
        {"JSON array", "/rtc/v1/play/", "[1,2,3]", 400, 1001},
        {"truncated JSON", "/rtc/v1/publish/", "{\"streamurl\":\"webrtc://h/live/victim\",\"sdp\":", 400, 1001},
        {"no streamurl", "/rtc/v1/publish/", "{\"sdp\":\"v=0\"}", 400, 1002},
        {"streamurl not a string", "/rtc/v1/publish/", "{\"streamurl\":1,\"sdp\":\"v=0\"}", 400, 1002},
        {"streamurl without stream", "/rtc/v1/publish/", "{\"streamurl\":\"webrtc://h/live\",\"sdp\":\"v=0\"}", 400, 1002},
        {"streamurl escaping", "/rtc/v1/play/", "{\"streamurl\":\"webrtc://h/live/..\",\"sdp\":\"v=0\"}", 400, 1002},
        {"no sdp", "/rtc/v1/publish/", "{\"streamurl\":\"webrtc://h/live/victim\"}", 400, 1003},
        {"SDP garbage", "/rtc/v1/publish/", "{\"streamurl\":\"webrtc://h/live/victim\",\"sdp\":\"hello\"}", 400, 1003},
        {"SDP without ICE", "/rtc/v1/publish/",
         "{\"streamurl\":\"webrtc://h/live/victim\",\"sdp\":\"v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\ns=-\\r\\nt=0 0\\r\\n"
         "m=audio 9 UDP/TLS/RTP/SAVPF 111\\r\\na=rtpmap:111 opus/48000/2\\r\\na=mid:0\\r\\n\"}", 400, 1003},
        {"unknown endpoint", "/rtc/v1/nothing/", "{}", 404, 1005},
    };
    for (size_t i = 0; i < FO_ARRAY_LEN(cases); i++)
        expect(cases[i].what, post(cases[i].path, cases[i].body, out, sizeof out), out,
               cases[i].status, cases[i].code);

    /* an offer with only H.264 video: no VP8 publisher may exist yet, so publish works...
     * but we only need the codec error path: a play offer with audio only is fine, one with
     * video in a codec the publisher lacks is refused (checked after the publisher exists). */
    static const char get_req[] = "GET /rtc/v1/publish/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int st = raw_http(get_req, strlen(get_req), out, sizeof out);
    expect("GET on publish", st, out, 405, 1010);

    /* 200 KB body: 413, read or not */
    size_t big = 200 * 1024;
    char *body = malloc(big + 1);
    memset(body, 'a', big);
    body[big] = '\0';
    st = post("/rtc/v1/publish/", body, out, sizeof out);
    free(body);
    expect("200 KB body", st, out, 413, 1007);

    /* broken HTTP: the server must just survive */
    static const char *const junk[] = {
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS hello on the plain port */
        "POST /rtc/v1/publish/ HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST /rtc/v1/publish/ HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"trunc",
        "GET /../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        "\r\n\r\n\r\n",
    };
    for (size_t i = 0; i < FO_ARRAY_LEN(junk); i++) {
        st = raw_http(junk[i], strlen(junk[i]), out, sizeof out);
        if (strstr(out, "root:")) fo_test_fail("path traversal served /etc/passwd");
    }

    /* CORS preflight */
    static const char options_req[] = "OPTIONS /rtc/v1/play/ HTTP/1.1\r\nHost: x\r\nOrigin: http://other\r\n"
                                      "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n";
    st = raw_http(options_req, strlen(options_req), out, sizeof out);
    if (st != 200) fo_test_fail("OPTIONS preflight: HTTP %d", st);

    /* refusals changed nothing: the victim stream is still free to publish */
    char *ok = rtc_body(url, victim_offer);
    st = post("/rtc/v1/publish/", ok, out, sizeof out);
    free(ok);
    expect("publish after refusals", st, out, 200, 0);
}

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Random datagrams of every first-byte class, plus well-formed STUN with wrong credentials. */
static int udp_junk(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.rtc_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    fo_stun_t *stun = fo_stun_new();
    uint32_t s = 0xdeadbeef;
    uint8_t buf[1500];
    int sent = 0, answered = 0;
    for (int i = 0; i < 4000; i++) {
        size_t len = xorshift(&s) % sizeof buf;
        for (size_t j = 0; j < len; j++) buf[j] = (uint8_t)xorshift(&s);
        if (len && i % 5 == 1) buf[0] = (uint8_t)(buf[0] % 4);           /* STUN class */
        if (len && i % 5 == 2) buf[0] = (uint8_t)(20 + buf[0] % 44);     /* DTLS class */
        if (len && i % 5 == 3) buf[0] = (uint8_t)(128 + buf[0] % 64);    /* RTP/RTCP class */
        if (i % 5 == 4) {
            /* valid STUN shape, unknown user or wrong password */
            int n = fo_stun_build_request(stun, buf, sizeof buf, i % 2 ? "nosuchuser:abc" : "x",
                                          "wrongpassword", 12345, 1, true);
            len = n > 0 ? (size_t)n : 0;
        }
        sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof a);
        sent++;
    }
    /* nothing may come back to a stranger */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 300) > 0 && recv(fd, buf, sizeof buf, 0) >= 0) answered++;
    if (answered) fo_test_fail("the server answered %d datagrams from an unverified address", answered);
    fo_stun_free(stun);
    close(fd);
    return sent;
}

static int rx_count;
static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)user, (void)p, (void)pkt, (void)len;
    if (!is_rtcp) rx_count++;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    fo_testsrv_start(&srv, "it_bad_input", argv[1], argv[2], NULL, 60);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();

    /* a real offer to use where a valid one is needed */
    fo_peer_opts_t vo = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "victim"};
    fo_peer_t *victim = fo_peer_new(&vo);
    http_cases(fo_peer_offer_sdp(victim));
    fo_peer_free(victim);
    int junk = udp_junk();

    /* a real publish and play still work */
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub"};
    fo_peer_opts_t lo = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = "play"};
    fo_peer_t *pub = fo_peer_new(&po), *play = fo_peer_new(&lo);
    if (fo_peer_connect(pub, srv.api, "live/after", 10000)) fo_test_fail("publish: %s", fo_peer_error(pub));
    if (fo_peer_connect(play, srv.api, "live/after", 10000)) fo_test_fail("play: %s", fo_peer_error(play));
    fo_peer_set_recv_cb(play, on_rx, NULL);
    uint8_t pkt[172] = {0x80, FO_PEER_PT_OPUS};
    uint32_t ssrc = fo_peer_ssrc(pub, "audio");
    for (int i = 0; i < 4; i++) pkt[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    int64_t end = fo_peer_now_ms() + 1500;
    for (uint16_t seq = 1; fo_peer_now_ms() < end; seq++) {
        pkt[2] = (uint8_t)(seq >> 8), pkt[3] = (uint8_t)seq;
        uint32_t ts = seq * 960u;
        pkt[4] = (uint8_t)(ts >> 24), pkt[5] = (uint8_t)(ts >> 16), pkt[6] = (uint8_t)(ts >> 8), pkt[7] = (uint8_t)ts;
        fo_peer_send_rtp(pub, pkt, sizeof pkt);
        struct pollfd pf[2] = {{.fd = fo_peer_fd(pub), .events = POLLIN}, {.fd = fo_peer_fd(play), .events = POLLIN}};
        poll(pf, 2, 20);
        fo_peer_process(pub);
        fo_peer_process(play);
    }
    if (rx_count < 30) fo_test_fail("player received only %d audio packets after the bad input", rx_count);

    /* a player that cannot decode the publisher's video: the peer offers only VP8, so publish
     * VP8 and ask to play with an offer whose video is H.264 only */
    char out[8192];
    const char *offer = fo_peer_offer_sdp(play);
    char *h264 = malloc(strlen(offer) + 256);
    strcpy(h264, offer);
    char *p;
    while ((p = strstr(h264, "VP8/90000"))) memcpy(p, "H264/9000", 9), p[9] = '0';
    char *body = rtc_body("webrtc://127.0.0.1/live/after", h264);
    int st = post("/rtc/v1/play/", body, out, sizeof out);
    free(body);
    free(h264);
    if (st != 400 || json_code(out) != 1004)
        fo_test_fail("play with the wrong codec: HTTP %d code %d: %.200s", st, json_code(out), out);

    fo_peer_free(play);
    fo_peer_free(pub);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    fo_testsrv_stop_clean(&srv);
    printf("it_bad_input: OK: 14 bad HTTP requests answered as documented, 6 broken HTTP "
           "streams survived, %d junk datagrams dropped unanswered, publish+play carried %d "
           "packets afterwards, wrong-codec player refused (1004), server exited 0\n", junk, rx_count);
    return 0;
}
