/* SPDX-License-Identifier: MIT */
/* fanout-pubmem: the server's resident memory per publisher (issue 15, item 6). Connects N
 * publishers (each its own stream; --simulcast: three layers, Chrome's way) and has each send
 * --packets video packets per layer with --size payload bytes (tiny ones by default: the case
 * where a packet-count history cost the most per byte), paced under rtc.max_pps. Reads the
 * server's VmRSS (/proc/PID/status) before, after the publishers connected and after their
 * media, and prints one JSON object with the totals and the per-publisher figures. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "peer.h"

#define MAX_PUBS 200

static long rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
    if (f) fclose(f);
    return v;
}

/* One VP8-shaped packet of `layer` (rid "l", "m", "h" with --simulcast; its first packet a
 * keyframe). */
static void send_packet(fo_peer_t *p, int layer, bool simulcast, uint16_t seq, size_t size)
{
    static const char *const rids = "lmh";
    uint8_t pkt[1300];
    size_t hdr = simulcast ? 20 : 12;
    if (size + hdr > sizeof pkt) size = sizeof pkt - hdr;
    if (size < 12) size = 12;
    memset(pkt, 0, sizeof pkt);
    uint32_t ssrc = fo_peer_ssrc(p, "video") + (uint32_t)layer;
    fo_rtp_write_header(pkt, FO_PEER_PT_VP8, true, seq, seq * 3000u, ssrc);
    if (simulcast) { /* one-byte extension block: rid */
        pkt[0] |= 0x10;
        pkt[12] = 0xbe, pkt[13] = 0xde, pkt[14] = 0, pkt[15] = 1;
        pkt[16] = (uint8_t)(FO_PEER_EXT_RID << 4), pkt[17] = (uint8_t)rids[layer];
    }
    uint8_t *pl = pkt + hdr;
    static const uint8_t key[] = {0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
    static const uint8_t delta[] = {0x10, 0x01};
    if (seq == 1) memcpy(pl, key, sizeof key);
    else memcpy(pl, delta, sizeof delta);
    fo_peer_send_rtp(p, pkt, hdr + size);
}

int main(int argc, char **argv)
{
    const char *api = "http://127.0.0.1:1985";
    int n = 10, packets = 1100, pid = 0;
    size_t size = 20;
    bool simulcast = false;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--simulcast")) simulcast = true;
        else if (!strcmp(argv[i], "--api")) api = v, i++;
        else if (!strcmp(argv[i], "--publishers")) n = atoi(v), i++;
        else if (!strcmp(argv[i], "--packets")) packets = atoi(v), i++;
        else if (!strcmp(argv[i], "--size")) size = (size_t)atoi(v), i++;
        else if (!strcmp(argv[i], "--pid")) pid = atoi(v), i++;
        else {
            fprintf(stderr, "usage: fanout-pubmem --pid SERVER_PID [--api URL] [--publishers N] "
                            "[--packets K] [--size BYTES] [--simulcast]\n");
            return 2;
        }
    }
    if (n < 1 || n > MAX_PUBS || !pid) return 2;
    fo_log_set_level(FO_LOG_ERROR);
    if (fo_srtp_global_init()) return 1;
    long rss0 = rss_kb(pid);
    static fo_peer_t *pub[MAX_PUBS];
    for (int i = 0; i < n; i++) {
        fo_peer_opts_t o = {.role = FO_PEER_PUBLISH, .name = "pub", .simulcast = simulcast};
        char key[64];
        snprintf(key, sizeof key, "bench/mem%d", i);
        pub[i] = fo_peer_new(&o);
        if (!pub[i] || fo_peer_connect(pub[i], api, key, 10000)) {
            fprintf(stderr, "fanout-pubmem: publisher %d: %s\n", i, pub[i] ? fo_peer_error(pub[i]) : "");
            return 1;
        }
    }
    long rss1 = rss_kb(pid);
    int layers = simulcast ? 3 : 1;
    for (int k = 0; k < packets; k++) {
        for (int i = 0; i < n; i++)
            for (int l = 0; l < layers; l++) send_packet(pub[i], l, simulcast, (uint16_t)(k + 1), size);
        if (k % 10 == 9) { /* ~10 ms per 10 rounds: under rtc.max_pps per publisher */
            for (int i = 0; i < n; i++) fo_peer_process(pub[i]);
            usleep(10000);
        }
    }
    for (int t = 0; t < 50; t++) {
        for (int i = 0; i < n; i++) fo_peer_process(pub[i]);
        usleep(10000);
    }
    long rss2 = rss_kb(pid);
    printf("{\"publishers\":%d,\"simulcast\":%s,\"packets_per_layer\":%d,\"payload_bytes\":%zu,"
           "\"rss_kb\":{\"start\":%ld,\"connected\":%ld,\"after_media\":%ld},"
           "\"kb_per_publisher\":{\"session\":%.1f,\"media\":%.1f,\"total\":%.1f}}\n",
           n, simulcast ? "true" : "false", packets, size, rss0, rss1, rss2, (double)(rss1 - rss0) / n,
           (double)(rss2 - rss1) / n, (double)(rss2 - rss0) / n);
    for (int i = 0; i < n; i++) fo_peer_free(pub[i]);
    return 0;
}
