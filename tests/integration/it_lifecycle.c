/* SPDX-License-Identifier: MIT */
/* Lifecycle (argv[1] binary, argv[2] source dir): a publisher and a player connected over ICE,
 * DTLS and SRTP (with the HTTPS server on as well), then SIGTERM to the server: both peers must
 * receive a DTLS close_notify (their state becomes CLOSED, not FAILED or timed out), and the
 * server must exit 0 (no leaks under ASan). The server's log lines about each session must
 * carry that session's id. Before that, one SRTP packet from the publisher and one SRTCP
 * receiver report from the player let the server hibernate both DTLS sessions (dtls.h), so
 * the close_notify they get is the pre-made one. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fanout/log.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "peer.h"
#include "testsrv.h"

static fo_testsrv_t srv;

/* Services both peers until each is CLOSED (or FAILED), at most timeout_ms. */
static void drive_until_closed(fo_peer_t **peers, size_t n, int timeout_ms)
{
    int64_t end = fo_peer_now_ms() + timeout_ms;
    for (;;) {
        size_t closed = 0;
        struct pollfd pf[4];
        for (size_t i = 0; i < n; i++) {
            fo_peer_state_t st = fo_peer_process(peers[i]);
            if (st == FO_PEER_CLOSED || st == FO_PEER_FAILED) closed++;
            pf[i] = (struct pollfd){.fd = fo_peer_fd(peers[i]), .events = POLLIN};
        }
        if (closed == n || fo_peer_now_ms() > end) return;
        poll(pf, (nfds_t)n, 20);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FANOUT_BIN SRCDIR\n", argv[0]);
        return 2;
    }
    char hp[16], cert[128], key[128], set_cert[160], set_key[160];
    snprintf(hp, sizeof hp, "%d", fo_test_free_port(SOCK_STREAM));
    snprintf(cert, sizeof cert, "/tmp/it_lifecycle-%d.crt", (int)getpid());
    snprintf(key, sizeof key, "/tmp/it_lifecycle-%d.key", (int)getpid());
    snprintf(set_cert, sizeof set_cert, "https.cert=%s", cert);
    snprintf(set_key, sizeof set_key, "https.key=%s", key);
    const char *extra[] = {"--set", "https.enabled=true", "--https-port", hp, "--set", set_cert,
                           "--set", set_key, NULL};
    fo_testsrv_start(&srv, "it_lifecycle", argv[1], argv[2], extra, 60);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");

    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .name = "pub"};
    fo_peer_opts_t lo = {.role = FO_PEER_PLAY, .name = "play"};
    fo_peer_t *peers[2] = {fo_peer_new(&po), fo_peer_new(&lo)};
    if (!peers[0] || !peers[1]) fo_test_fail("peer_new");
    if (fo_peer_connect(peers[0], srv.api, "live/lifecycle", 10000))
        fo_test_fail("publish: %s", fo_peer_error(peers[0]));
    if (fo_peer_connect(peers[1], srv.api, "live/lifecycle", 10000))
        fo_test_fail("play: %s", fo_peer_error(peers[1]));
    char ids[2][64];
    for (int i = 0; i < 2; i++) snprintf(ids[i], sizeof ids[i], "[%s ", fo_peer_session_id(peers[i]));
    printf("it_lifecycle: publisher %s and player %s connected\n", fo_peer_session_id(peers[0]),
           fo_peer_session_id(peers[1]));

    /* The peers prove they completed the handshake: the server's DTLS sessions hibernate. */
    uint8_t rtp[20] = {0}, rr[8];
    fo_rtp_write_header(rtp, FO_PEER_PT_OPUS, false, 1, 0, fo_peer_ssrc(peers[0], "audio"));
    int rr_len = fo_rtcp_build_rr(rr, sizeof rr, 0x12345678, NULL, 0);
    if (rr_len != (int)sizeof rr || fo_peer_send_rtp(peers[0], rtp, sizeof rtp) ||
        fo_peer_send_rtcp(peers[1], rr, sizeof rr))
        fo_test_fail("sending SRTP/SRTCP");
    for (int64_t end = fo_peer_now_ms() + 3000;
         fo_testsrv_log_count(&srv, "hibernated") < 2 && fo_peer_now_ms() < end;)
        usleep(20000);
    if (fo_testsrv_log_count(&srv, "hibernated") != 2)
        fo_test_fail("%d DTLS sessions hibernated, want 2", fo_testsrv_log_count(&srv, "hibernated"));

    if (kill(srv.pid, SIGTERM) != 0) fo_test_fail("kill");
    drive_until_closed(peers, 2, 5000);
    for (int i = 0; i < 2; i++) {
        fo_peer_state_t st = fo_peer_state(peers[i]);
        if (st != FO_PEER_CLOSED)
            fo_test_fail("%s: state %d after SIGTERM, want CLOSED (close_notify) (%s)", i ? "player" : "publisher",
                         (int)st, fo_peer_error(peers[i]));
    }
    printf("it_lifecycle: both peers received close_notify\n");

    /* Session lines: created, ICE, DTLS, ended at least, each with the session's id. */
    for (int i = 0; i < 2; i++) {
        int n = fo_testsrv_log_count(&srv, ids[i]);
        if (n < 3) fo_test_fail("only %d log lines carry session %s", n, ids[i]);
        printf("it_lifecycle: %d log lines carry %s...]\n", n, ids[i]);
    }
    if (fo_testsrv_log_count(&srv, "signal 15: ending sessions") != 1) fo_test_fail("no shutdown line");
    fo_peer_free(peers[1]);
    fo_peer_free(peers[0]);
    fo_srtp_global_shutdown();
    fo_testsrv_stop_clean(&srv); /* exit status 0 */
    unlink(cert);
    unlink(key);
    printf("it_lifecycle: ok\n");
    return 0;
}
