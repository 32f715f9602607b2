/* SPDX-License-Identifier: MIT */
/* Ten clients cannot lock everyone out of connecting (issue 15, item 5; argv[1] binary,
 * argv[2] source dir). The review: 10 addresses x 50 offers filled rtc.max_pending (500) in
 * 0.5 s and every other client got 503 for the 20 s pending timeout. Here, with the default
 * caps and loopback exempt only for 127.0.0.1 (127.0.0.2-11 are ten ordinary clients):
 *  1. ten clients send 50 play offers each at once (never connecting): each gets at most its
 *     offer burst (rtc.offer_rate_per_ip) and then 429 (code 1012), and together they hold far
 *     less than rtc.max_pending;
 *  2. an eleventh client (127.0.0.20) still gets its session (the old server answered 503);
 *  3. one client keeps offering for 2 s: its offers are paced at rtc.offer_rate_per_ip and it
 *     never holds more than rtc.max_pending_per_ip sessions still connecting. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fanout/log.h"
#include "peer.h"
#include "rawice.h"
#include "testsrv.h"

#define CLIENTS 10
#define OFFERS 50
#define BURST 20 /* rtc.offer_rate_per_ip's default */
#define SHARE 25 /* rtc.max_pending_per_ip's default */

static fo_testsrv_t srv;

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    fo_testsrv_start(&srv, "it_admission", argv[1], argv[2], NULL, 90);
    fo_log_set_level(FO_LOG_ERROR);

    /* 1. ten clients x 50 offers */
    int ok[CLIENTS] = {0}, limited = 0, other = 0, total = 0;
    for (int i = 0; i < OFFERS; i++)
        for (int c = 0; c < CLIENTS; c++) {
            char ip[32];
            snprintf(ip, sizeof ip, "127.0.0.%d", c + 2);
            int code = 0, st = fo_raw_offer_from(ip, srv.api, true, "live/adm", NULL, NULL, NULL, &code);
            if (st == 200) ok[c]++, total++;
            else if (st == 429 && code == 1012) limited++;
            else other++;
        }
    for (int c = 0; c < CLIENTS; c++)
        if (ok[c] > BURST + 5 || ok[c] < 1)
            fo_test_fail("1: client %d got %d of %d sessions (burst %d)", c, ok[c], OFFERS, BURST);
    if (other || total > CLIENTS * SHARE)
        fo_test_fail("1: %d sessions, %d limited (429/1012), %d other answers", total, limited, other);
    printf("it_admission: 1: %d clients x %d offers: %d sessions, %d refused 429 (code 1012)\n", CLIENTS,
           OFFERS, total, limited);

    /* 2. someone else still gets in */
    int code = 0, st = fo_raw_offer_from("127.0.0.20", srv.api, true, "live/adm", NULL, NULL, NULL, &code);
    if (st != 200) fo_test_fail("2: an eleventh client got HTTP %d code %d", st, code);
    printf("it_admission: 2: an eleventh client got its session\n");

    /* 3. one client offering for 2 s: paced, and never more than its share pending */
    int got = 0;
    int64_t end = fo_peer_now_ms() + 2000;
    while (fo_peer_now_ms() < end) {
        st = fo_raw_offer_from("127.0.0.30", srv.api, true, "live/adm", NULL, NULL, NULL, &code);
        if (st == 200) got++;
        usleep(5000);
    }
    /* its sessions never connect: all of them count against its share */
    if (got > SHARE) fo_test_fail("3: one client holds %d sessions still connecting (share %d)", got, SHARE);
    if (got < BURST) fo_test_fail("3: one client got only %d sessions in 2 s", got);
    printf("it_admission: 3: one client offering for 2 s got %d sessions (its share is %d)\n", got, SHARE);
    fo_testsrv_stop_clean(&srv);
    printf("it_admission: OK\n");
    return 0;
}
