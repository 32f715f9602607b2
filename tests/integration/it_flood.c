/* SPDX-License-Identifier: MIT */
/* A junk flood on the media port (argv[1] binary, argv[2] source dir): while a publisher sends
 * 200 packets/s to a player, tests/integration/lib/flood.c sends valid-looking STUN binding
 * requests for unknown ufrags and real DTLS ClientHellos from 32 ports of 127.0.0.7 (an address
 * that passed no ICE check) at FLOOD_RATE/s for FLOOD_S seconds. The player must receive every
 * packet the publisher sent (no loss, no gap beyond a second), the server must have seen and
 * dropped the junk (its counters), and answer nothing to it (no amplification: the flood's
 * sockets receive nothing). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "flood.h"
#include "peer.h"
#include "testsrv.h"

#define MEDIA_MS 4500
#define PKT_EVERY_MS 5
#define FLOOD_RATE 40000
#define FLOOD_S 3.0
#define MAX_PKTS 2048

static fo_testsrv_t srv;
static uint8_t seen[MAX_PKTS];
static int64_t last_rx_ms, max_gap_ms;

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)user, (void)p;
    fo_rtp_view_t v;
    if (is_rtcp || fo_rtp_parse(pkt, len, &v) != 0 || v.payload_len < 4) return;
    uint32_t n = (uint32_t)v.payload[0] << 24 | (uint32_t)v.payload[1] << 16 |
                 (uint32_t)v.payload[2] << 8 | v.payload[3];
    if (n < MAX_PKTS) seen[n] = 1;
    int64_t now = fo_peer_now_ms();
    if (last_rx_ms && now - last_rx_ms > max_gap_ms) max_gap_ms = now - last_rx_ms;
    last_rx_ms = now;
}

static uint64_t metric(const char *sample)
{
    char *body = NULL, url[128], line[160];
    snprintf(url, sizeof url, "%s/metrics", srv.api);
    if (fo_peer_http_request("GET", url, NULL, NULL, NULL, &body, 3000) != 200 || !body)
        fo_test_fail("GET /metrics");
    snprintf(line, sizeof line, "\n%s ", sample);
    const char *p = strstr(body, line);
    uint64_t v = p ? strtoull(p + strlen(line), NULL, 10) : 0;
    free(body);
    if (!p) fo_test_fail("no %s in /metrics", sample);
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FANOUT_BIN SRCDIR\n", argv[0]);
        return 2;
    }
    const char *extra[] = {"--log-level", "info", NULL};
    fo_testsrv_start(&srv, "it_flood", argv[1], argv[2], extra, 90);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .name = "pub"}, lo = {.role = FO_PEER_PLAY, .name = "play"};
    fo_peer_t *pub = fo_peer_new(&po), *play = fo_peer_new(&lo);
    if (!pub || !play) fo_test_fail("peer_new");
    if (fo_peer_connect(pub, srv.api, "live/flood", 10000)) fo_test_fail("publish: %s", fo_peer_error(pub));
    fo_peer_set_recv_cb(play, on_rx, NULL);
    if (fo_peer_connect(play, srv.api, "live/flood", 10000)) fo_test_fail("play: %s", fo_peer_error(play));
    uint64_t stun0 = metric("fanout_dropped_packets_total{reason=\"stun_unknown_user\"}");
    uint64_t addr0 = metric("fanout_dropped_packets_total{reason=\"unknown_address\"}");

    fo_flood_opts_t fo = {.host = "127.0.0.1", .port = srv.rtc_port, .src_ip = "127.0.0.7",
                          .kind = FO_FLOOD_MIX, .rate = FLOOD_RATE, .seconds = FLOOD_S, .sources = 32};
    uint32_t assi = fo_peer_ssrc(pub, "audio");
    uint8_t pkt[200];
    int sent = 0;
    fo_flood_t *flood = NULL;
    int64_t t0 = fo_peer_now_ms(), next = t0;
    for (int64_t now = t0; now - t0 < MEDIA_MS + 500; now = fo_peer_now_ms()) {
        if (!flood && now - t0 >= 500 && !(flood = fo_flood_start(&fo))) fo_test_fail("flood start");
        while (now >= next && now - t0 < MEDIA_MS && sent < MAX_PKTS) {
            size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, (uint16_t)sent, (uint32_t)sent * 240, assi);
            memset(pkt + h, 0xab, 100);
            pkt[h] = (uint8_t)(sent >> 24), pkt[h + 1] = (uint8_t)(sent >> 16);
            pkt[h + 2] = (uint8_t)(sent >> 8), pkt[h + 3] = (uint8_t)sent;
            if (fo_peer_send_rtp(pub, pkt, h + 100) == 0) sent++;
            next += PKT_EVERY_MS;
        }
        struct pollfd pf[2] = {{.fd = fo_peer_fd(pub), .events = POLLIN}, {.fd = fo_peer_fd(play), .events = POLLIN}};
        poll(pf, 2, 2);
        fo_peer_process(pub);
        fo_peer_process(play);
    }
    uint64_t replies = 0, flooded = fo_flood_join(flood, false, &replies);
    int got = 0;
    for (int i = 0; i < sent; i++) got += seen[i];
    uint64_t stun = metric("fanout_dropped_packets_total{reason=\"stun_unknown_user\"}") - stun0;
    uint64_t addr = metric("fanout_dropped_packets_total{reason=\"unknown_address\"}") - addr0;
    printf("it_flood: %d/%d packets received (largest gap %lld ms) during a flood of %llu junk "
           "datagrams; the server dropped %llu STUN for unknown users and %llu from unknown addresses\n",
           got, sent, (long long)max_gap_ms, (unsigned long long)flooded, (unsigned long long)stun,
           (unsigned long long)addr);
    if (flooded < FLOOD_RATE * FLOOD_S / 4) fo_test_fail("the flood sent only %llu datagrams", (unsigned long long)flooded);
    if (got != sent) fo_test_fail("the player lost %d of %d packets during the flood", sent - got, sent);
    if (max_gap_ms > 1000) fo_test_fail("a gap of %lld ms during the flood", (long long)max_gap_ms);
    if (stun + addr < flooded * 9 / 10)
        fo_test_fail("the server counted %llu of %llu junk datagrams", (unsigned long long)(stun + addr),
                     (unsigned long long)flooded);
    if (replies) fo_test_fail("the server answered %llu junk datagrams", (unsigned long long)replies);
    if (fo_peer_state(play) != FO_PEER_CONNECTED || fo_peer_state(pub) != FO_PEER_CONNECTED)
        fo_test_fail("a peer did not stay connected");
    fo_peer_free(play);
    fo_peer_free(pub);
    fo_srtp_global_shutdown();
    fo_testsrv_stop_clean(&srv);
    printf("it_flood: ok\n");
    return 0;
}
