/* SPDX-License-Identifier: MIT */
/* fanout-flood: what a hostile player's RTCP costs the server's media thread (issue 15, item
 * 10). A publisher sends video (--pps packets/s of 1000 bytes, so the stream's history is
 * full) and one player (transport-wide-cc negotiated) receives it; for --seconds the player
 * sends --rate RTCP packets per second of one --kind:
 *   nack  NACKs of the 255 packets it received last (all in the history: the worst case, each
 *         one a lookup and a parse before the budget refuses it on the old server);
 *   twcc  transport-wide-cc feedback claiming 2048 packets (1024 received, 1024 lost);
 *   none  nothing (the baseline: the same media without a flood).
 * With --pid the server's CPU time (utime + stime from /proc/PID/stat) over the flood window is
 * measured; run the server with rtc.workers = 1 so that is the media thread. Prints one JSON
 * object, with what the server counted for the player (its video track's nacks, retransmits,
 * rtx_limited, rtx_missed and its bwe feedbacks / feedbacks_limited, from the operator API). scripts/bench-rtcp-flood.sh runs it against one or more server binaries. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fanout/log.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "peer.h"

static fo_peer_t *pub, *player;
static uint16_t last_seq, pub_seq = 1;
static long long rx;

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)user, (void)p;
    fo_rtp_view_t v;
    if (is_rtcp || fo_rtp_parse(pkt, len, &v) != 0 || v.pt != FO_PEER_PT_VP8) return; /* not RTX */
    rx++;
    if (fo_seq_diff(v.seq, last_seq) > 0 || rx == 1) last_seq = v.seq;
}

static double cpu_ms(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, sizeof buf, f)) {
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static void send_video(void)
{
    uint8_t pkt[1000] = {0};
    bool key = pub_seq % 300 == 1; /* a keyframe every 300 packets */
    fo_rtp_write_header(pkt, FO_PEER_PT_VP8, true, pub_seq, pub_seq * 300u, fo_peer_ssrc(pub, "video"));
    static const uint8_t keyhdr[] = {0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
    static const uint8_t delta[] = {0x10, 0x01};
    if (key) memcpy(pkt + 12, keyhdr, sizeof keyhdr);
    else memcpy(pkt + 12, delta, sizeof delta);
    pub_seq++;
    fo_peer_send_rtp(pub, pkt, sizeof pkt);
}

/* TWCC feedback claiming 2048 packets: 1024 "received, small delta", 1024 "not received". */
static size_t twcc_packet(uint8_t *b, uint32_t media)
{
    size_t len = 12 + 8 + 4 + 1024;
    memset(b, 0, len);
    b[0] = 0x80 | 15;
    b[1] = FO_RTCP_RTPFB;
    b[2] = (uint8_t)((len / 4 - 1) >> 8);
    b[3] = (uint8_t)(len / 4 - 1);
    b[4] = 0x12, b[7] = 0x34;
    b[8] = (uint8_t)(media >> 24), b[9] = (uint8_t)(media >> 16), b[10] = (uint8_t)(media >> 8), b[11] = (uint8_t)media;
    b[14] = 2048 >> 8;
    b[20] = (1u << 13 | 1024) >> 8, b[21] = (1u << 13 | 1024) & 0xff;
    b[22] = 1024 >> 8, b[23] = 0;
    return len;
}

/* Runs both peers for ms, the publisher at pps, the player sending `rate` RTCP/s of `kind`. */
static long long drive(int ms, int pps, const char *kind, int rate, uint32_t media)
{
    int64_t t0 = fo_peer_now_ms(), end = t0 + ms;
    long long media_sent = 0, rtcp_sent = 0;
    static uint8_t fb[1100];
    size_t fblen = twcc_packet(fb, media);
    while (fo_peer_now_ms() < end) {
        int64_t el = fo_peer_now_ms() - t0;
        while (media_sent < el * pps / 1000) send_video(), media_sent++;
        while (strcmp(kind, "none") && rtcp_sent < el * rate / 1000) {
            if (!strcmp(kind, "nack")) {
                uint16_t seqs[255];
                for (int i = 0; i < 255; i++) seqs[i] = (uint16_t)(last_seq - 254 + i);
                uint8_t buf[1200];
                int n = fo_rtcp_build_nack(buf, sizeof buf, 0x1234, media, seqs, 255);
                if (n > 0) fo_peer_send_rtcp(player, buf, (size_t)n);
            } else {
                fo_peer_send_rtcp(player, fb, fblen);
            }
            rtcp_sent++;
        }
        struct pollfd pf[2] = {{.fd = fo_peer_fd(pub), .events = POLLIN}, {.fd = fo_peer_fd(player), .events = POLLIN}};
        poll(pf, 2, 1);
        fo_peer_process(pub);
        fo_peer_process(player);
    }
    return rtcp_sent;
}

int main(int argc, char **argv)
{
    const char *api = "http://127.0.0.1:1985", *kind = "nack";
    int rate = 4000, seconds = 5, pps = 300, pid = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--api")) api = argv[i + 1];
        else if (!strcmp(argv[i], "--kind")) kind = argv[i + 1];
        else if (!strcmp(argv[i], "--rate")) rate = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pps")) pps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pid")) pid = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: fanout-flood [--api URL] [--kind nack|twcc|none] [--rate N/s] "
                            "[--seconds S] [--pps N] [--pid SERVER_PID]\n");
            return 2;
        }
    }
    if (strcmp(kind, "nack") && strcmp(kind, "twcc") && strcmp(kind, "none")) return 2;
    fo_log_set_level(FO_LOG_ERROR);
    if (fo_srtp_global_init()) return 1;
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .name = "pub", .twcc = true};
    fo_peer_opts_t lo = {.role = FO_PEER_PLAY, .name = "player", .twcc = true};
    pub = fo_peer_new(&po);
    player = fo_peer_new(&lo);
    if (!pub || !player || fo_peer_connect(pub, api, "bench/flood", 10000) ||
        fo_peer_connect(player, api, "bench/flood", 10000)) {
        fprintf(stderr, "fanout-flood: could not connect: %s %s\n", pub ? fo_peer_error(pub) : "",
                player ? fo_peer_error(player) : "");
        return 1;
    }
    fo_peer_set_recv_cb(player, on_rx, NULL);
    uint32_t media = fo_peer_answer_media(player, "video")->ssrc;
    drive(2000, pps, "none", 0, media); /* warm up: the history fills, the player starts */
    double c0 = pid ? cpu_ms(pid) : -1;
    int64_t t0 = fo_peer_now_ms();
    long long rx0 = rx, sent = drive(seconds * 1000, pps, kind, rate, media);
    double wall = (double)(fo_peer_now_ms() - t0);
    double c1 = pid ? cpu_ms(pid) : -1;
    char url[256], *body = NULL;
    snprintf(url, sizeof url, "%s/api/v1/clients/%s", api, fo_peer_session_id(player));
    json_t *j = fo_peer_http_request("GET", url, NULL, NULL, NULL, &body, 5000) == 200 ? json_loads(body, 0, NULL) : NULL;
    json_t *c = json_object_get(j, "client"), *tracks = json_object_get(c, "tracks"), *video = NULL;
    for (size_t i = 0; i < json_array_size(tracks); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(tracks, i), "kind")) ?: "", "video"))
            video = json_array_get(tracks, i);
    char *vj = video ? json_dumps(video, JSON_COMPACT) : NULL, *bj = json_dumps(json_object_get(c, "bwe"), JSON_COMPACT | JSON_ENCODE_ANY);
    printf("{\"kind\":\"%s\",\"rate\":%d,\"seconds\":%d,\"rtcp_sent\":%lld,\"video_pps\":%d,"
           "\"player_rx\":%lld,\"server_cpu_ms\":%.0f,\"server_cpu_pct\":%.1f,\"server_video\":%s,"
           "\"server_bwe\":%s}\n",
           kind, rate, seconds, sent, pps, rx - rx0, c1 - c0, pid ? (c1 - c0) * 100.0 / wall : -1.0,
           vj ? vj : "null", bj ? bj : "null");
    free(vj);
    free(bj);
    json_decref(j);
    free(body);
    fo_peer_free(player);
    fo_peer_free(pub);
    return 0;
}
