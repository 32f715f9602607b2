/* SPDX-License-Identifier: MIT */
/* The router's address map holds only addresses their session owns (issue 15, item 1;
 * argv[1] binary, argv[2] source dir). A transport remembers FO_TRANSPORT_MAX_ADDRS checked
 * addresses; a valid check from one more address evicts one of them. The review's
 * reproduction: a play offer, one valid ICE check from each of five UDP sockets, the session
 * kicked, 0.5 s, then any non-STUN datagram from the first socket. Before the fix the evicted
 * address still mapped to the freed session: ASan reported a heap-use-after-free in
 * fo_session_transport <- on_datagram (the server died), a release build fed the datagram to
 * whatever reused the memory. Now the datagram is from an unknown address: dropped and counted
 * (fanout_dropped_packets_total{reason="unknown_address"}), and the server exits cleanly.
 * Also checked: while the session lives, the evicted address is already unknown, and after the
 * session ends none of its addresses reaches anything. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fanout/log.h"
#include "fanout/transport.h"
#include "rawice.h"
#include "testsrv.h"

#define SOCKS (FO_TRANSPORT_MAX_ADDRS + 1)
#define UNKNOWN "fanout_dropped_packets_total{reason=\"unknown_address\"}"

static fo_testsrv_t srv;

/* Sends one RTP-shaped datagram from `fd` and returns how much the unknown-address counter
 * grew (the server must still answer /metrics: under ASan a use-after-free kills it). */
static long long stray(int fd)
{
    static const uint8_t junk[100] = {0x80, 96};
    long long before = fo_raw_metric(srv.api, UNKNOWN);
    fo_raw_send(fd, srv.rtc_port, junk, sizeof junk);
    usleep(200 * 1000);
    long long after = fo_raw_metric(srv.api, UNKNOWN);
    if (before < 0 || after < 0) fo_test_fail("the server stopped answering /metrics after a stray datagram");
    return after - before;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    fo_testsrv_start(&srv, "it_addrmap", argv[1], argv[2], NULL, 60);
    fo_log_set_level(FO_LOG_WARN);
    fo_stun_t *stun = fo_stun_new();
    char ufrag[64], pwd[64], id[64];
    int st = fo_raw_offer(srv.api, true, "live/addrmap", ufrag, pwd, id);
    if (st != 200) fo_test_fail("play offer: HTTP %d", st);

    int fd[SOCKS];
    for (int i = 0; i < SOCKS; i++) {
        fd[i] = fo_raw_socket("127.0.0.1");
        fo_raw_check(fd[i], stun, srv.rtc_port, ufrag, pwd, true);
        if (fo_raw_drain(fd[i], 300, 1000, NULL, NULL) < 1) fo_test_fail("check %d was not answered", i);
    }
    /* The fifth address evicted the first (the oldest not selected): while the session lives,
     * the first socket is a stranger again. */
    if (stray(fd[0]) != 1) fo_test_fail("a datagram from the evicted address was not counted as unknown");
    if (stray(fd[SOCKS - 1]) != 0) fo_test_fail("a datagram from a held address counted as unknown");

    st = fo_raw_kick(srv.api, id);
    if (st != 200 && st != 204) fo_test_fail("kick: HTTP %d", st);
    usleep(500 * 1000);
    /* the review's datagram: from the first socket, after the session was freed */
    if (stray(fd[0]) != 1) fo_test_fail("a datagram from the evicted address after the end was not unknown");
    for (int i = 1; i < SOCKS; i++)
        if (stray(fd[i]) != 1) fo_test_fail("address %d still reaches the ended session", i);

    for (int i = 0; i < SOCKS; i++) close(fd[i]);
    fo_stun_free(stun);
    fo_testsrv_stop_clean(&srv);
    printf("it_addrmap: OK: %d checked addresses, the evicted one unknown before and after the "
           "session ended, every address unknown after it\n", SOCKS);
    return 0;
}
