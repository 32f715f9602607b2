/* SPDX-License-Identifier: MIT */
/* A publisher's memory is bounded and visible (issue 15, item 6; argv[1] binary, argv[2]
 * source dir). The review: a publisher's video history cost ~1.5 MiB per layer (4.5 MiB with
 * simulcast) after ~1,100 tiny packets, and no cap bounded the number of publishers. Here, with
 * rtc.history_kb = 64, rtc.max_publishers = 3 and rtc.max_publishers_per_ip = 2 (loopback
 * exempt only for 127.0.0.1):
 *  1. a client (127.0.0.2) gets 2 publishers, the third is refused 429 (code 1012); another
 *     (127.0.0.3) gets the server's last one; a third client is refused 503 (code 1008);
 *     players are not publishers (the old server took all of them);
 *  2. a publisher sends 1,100 tiny packets and then 1,100 of 1,200 bytes: the history reported
 *     in /metrics (fanout_history_bytes) stays within the budget: the tiny packets' bytes at
 *     first, no more than the budget (plus its index) after. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "peer.h"
#include "rawice.h"
#include "testsrv.h"

#define BUDGET (64 * 1024)
#define INDEX_MAX (64 * 1024) /* the index (1024 slots) and struct, with room to spare */

static fo_testsrv_t srv;

static void send_video(fo_peer_t *pub, uint16_t seq, size_t size)
{
    uint8_t pkt[1300] = {0};
    fo_rtp_write_header(pkt, FO_PEER_PT_VP8, true, seq, seq * 3000u, fo_peer_ssrc(pub, "video"));
    pkt[12] = 0x10, pkt[13] = 0x01; /* VP8 descriptor, a delta frame */
    fo_peer_send_rtp(pub, pkt, 12 + size);
}

static void send_many(fo_peer_t *pub, uint16_t *seq, int n, size_t size)
{
    for (int i = 0; i < n; i++) {
        send_video(pub, (*seq)++, size);
        if (i % 20 == 19) {
            struct pollfd pf = {.fd = fo_peer_fd(pub), .events = POLLIN};
            poll(&pf, 1, 10); /* 2000 packets/s: under rtc.max_pps */
            fo_peer_process(pub);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    setenv("FANOUT_RTC_HISTORY_KB", "64", 1);
    setenv("FANOUT_RTC_MAX_PUBLISHERS", "3", 1);
    setenv("FANOUT_RTC_MAX_PUBLISHERS_PER_IP", "2", 1);
    fo_testsrv_start(&srv, "it_pubmem", argv[1], argv[2], NULL, 90);
    fo_log_set_level(FO_LOG_ERROR);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");

    /* 1. publishers per client and in total */
    int code = 0, st;
    char ids[3][64];
    for (int i = 0; i < 2; i++) {
        char key[32];
        snprintf(key, sizeof key, "live/c2-%d", i);
        if ((st = fo_raw_offer_from("127.0.0.2", srv.api, false, key, NULL, NULL, ids[i], &code)) != 200)
            fo_test_fail("1: publisher %d of 127.0.0.2: HTTP %d", i, st);
    }
    st = fo_raw_offer_from("127.0.0.2", srv.api, false, "live/c2-2", NULL, NULL, NULL, &code);
    if (st != 429 || code != 1012) fo_test_fail("1: a third publisher from one client: HTTP %d code %d", st, code);
    st = fo_raw_offer_from("127.0.0.2", srv.api, true, "live/c2-0", NULL, NULL, NULL, &code);
    if (st != 200) fo_test_fail("1: a player from that client: HTTP %d code %d", st, code);
    st = fo_raw_offer_from("127.0.0.3", srv.api, false, "live/c3", NULL, NULL, ids[2], &code);
    if (st != 200) fo_test_fail("1: the server's third publisher: HTTP %d code %d", st, code);
    st = fo_raw_offer_from("127.0.0.4", srv.api, false, "live/c4", NULL, NULL, NULL, &code);
    if (st != 503 || code != 1008) fo_test_fail("1: a fourth publisher: HTTP %d code %d", st, code);
    printf("it_pubmem: 1: 2 publishers per client, then 429; 3 in all, then 503\n");
    for (int i = 0; i < 3; i++) fo_raw_kick(srv.api, ids[i]); /* room for part 1's publisher */

    /* 2. the history's memory */
    fo_peer_opts_t o = {.role = FO_PEER_PUBLISH, .name = "pub"};
    fo_peer_t *pub = fo_peer_new(&o);
    if (!pub || fo_peer_connect(pub, srv.api, "live/mem", 10000)) fo_test_fail("publisher: %s", pub ? fo_peer_error(pub) : "");
    uint16_t seq = 1;
    send_many(pub, &seq, 1100, 8);
    for (int i = 0; i < 20; i++) fo_peer_process(pub), poll(NULL, 0, 10);
    long long alloc = fo_raw_metric(srv.api, "fanout_history_bytes{state=\"allocated\"}");
    long long held = fo_raw_metric(srv.api, "fanout_history_bytes{state=\"held\"}");
    if (alloc < 0 || held < 0) fo_test_fail("2: no fanout_history_bytes in /metrics");
    if (alloc > BUDGET + INDEX_MAX || held > 1100 * (12 + 8) + 64)
        fo_test_fail("2: 1,100 packets of 20 bytes: history allocated %lld, held %lld", alloc, held);
    printf("it_pubmem: 2: 1,100 packets of 20 bytes: history %lld bytes held, %lld allocated\n", held, alloc);
    send_many(pub, &seq, 1100, 1200);
    for (int i = 0; i < 20; i++) fo_peer_process(pub), poll(NULL, 0, 10);
    alloc = fo_raw_metric(srv.api, "fanout_history_bytes{state=\"allocated\"}");
    held = fo_raw_metric(srv.api, "fanout_history_bytes{state=\"held\"}");
    if (alloc > BUDGET + INDEX_MAX || held > BUDGET || held < BUDGET / 2)
        fo_test_fail("2: then 1,100 of 1,212 bytes: history allocated %lld, held %lld (budget %d)", alloc,
                     held, BUDGET);
    printf("it_pubmem: 2: then 1,100 packets of 1,212 bytes: %lld held (budget %d), %lld allocated\n", held,
           BUDGET, alloc);
    fo_peer_free(pub);

    fo_testsrv_stop_clean(&srv);
    printf("it_pubmem: OK\n");
    return 0;
}
