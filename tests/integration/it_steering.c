/* SPDX-License-Identifier: MIT */
/* A forged ICE check cannot steer a session's DTLS or media anywhere (issue 15, item 7; argv[1]
 * binary, argv[2] source dir). A session holder knows its session's ICE credentials and can
 * send valid checks with any source address (spoofing): the "victim" here is a raw socket on
 * 127.0.0.2 that never answers. Before the fix the server sent the victim the DTLS handshake
 * (A) or the session's media (B) at once. Now an address gets DTLS and media only after it
 * answers a Binding request of ours (fresh transaction id, keyed by the peer's ice-pwd) from
 * that very address; until then it gets STUN only, no more bytes than it sent plus one request.
 *  A. forged checks and a ClientHello from the victim, before DTLS: no DTLS flight reaches it;
 *  B. forged nominated checks for a connected player: no media reaches the victim, the player
 *     keeps receiving;
 *  C. the victim's address "answered" with a response to another transaction (valid integrity)
 *     and with the right answer sent from another address: neither confirms it;
 *  D. a real move: an address that answers correctly gets the media within a round trip.
 * The C peers (publisher, player) answer the server's requests as browsers do. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "peer.h"
#include "rawice.h"
#include "testsrv.h"

#define ONE_REQUEST 160 /* the most one confirmation request of ours can be (PROBE_MAX in paths.c
                         * is larger, but a 63-byte ufrag is the most an offer carries) */

static fo_testsrv_t srv;
static fo_stun_t *stun;
static fo_peer_t *pub, *player;
static int player_rtp;

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)user, (void)p, (void)pkt, (void)len;
    if (!is_rtcp) player_rtp++;
}

static fo_peer_t *connect_ok(fo_peer_role_t role, const char *name)
{
    fo_peer_opts_t o = {.role = role, .name = name, .stun = stun};
    return fo_raw_connect(&o, srv.api, "live/steer");
}

/* Runs the publisher (an audio packet every 20 ms) and the player for `ms`, reading `fd` (and
 * answering the server's requests there with `ans`) meanwhile. */
static void run(int ms, int fd, fo_raw_counts_t *c, const fo_raw_answerer_t *ans)
{
    static uint16_t seq = 1;
    int64_t end = fo_peer_now_ms() + ms;
    while (fo_peer_now_ms() < end) {
        uint8_t pkt[160] = {0};
        fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, seq, seq * 960u, fo_peer_ssrc(pub, "audio"));
        seq++;
        fo_peer_send_rtp(pub, pkt, sizeof pkt);
        fo_peer_t *const both[] = {pub, player};
        fo_raw_pump(both, 2, 10);
        if (fd >= 0) fo_raw_drain(fd, 0, 10, c, ans);
    }
}

static void dtls_send_cb(void *user, const uint8_t *buf, size_t len)
{
    int *fd = user;
    fo_raw_send(fd[0], srv.rtc_port, buf, len);
    fd[1] += (int)len;
}

static void dtls_timer_cb(void *user, int ms)
{
    (void)user, (void)ms;
}

/* A: before DTLS. Returns what the victim got. */
static void forged_before_dtls(void)
{
    char ufrag[64], pwd[64], id[64];
    if (fo_raw_offer(srv.api, true, "live/steer-a", ufrag, pwd, id) != 200) fo_test_fail("offer A");
    int fd[2] = {fo_raw_socket("127.0.0.2"), 0}; /* socket, bytes sent */
    for (int i = 0; i < 3; i++) fd[1] += (int)fo_raw_check(fd[0], stun, srv.rtc_port, ufrag, pwd, true);
    fo_dtls_ctx_t *ctx = fo_dtls_ctx_new(NULL, NULL);
    fo_dtls_io_t io = {.send_cb = dtls_send_cb, .timer_cb = dtls_timer_cb, .user = fd};
    fo_dtls_t *d = ctx ? fo_dtls_new(ctx, FO_DTLS_CLIENT, &io, "sha-256", fo_dtls_ctx_fingerprint(ctx)) : NULL;
    int rc = d ? fo_dtls_start(d) : FO_ERR;
    if (rc < 0 && rc != FO_EAGAIN) fo_test_fail("a DTLS client: %d", rc);
    fo_raw_counts_t c = {0};
    fo_raw_drain(fd[0], 1500, 3000, &c, NULL);
    if (c.dtls || c.rtp)
        fo_test_fail("A: the victim got %d DTLS and %d RTP datagrams from checks it never sent", c.dtls, c.rtp);
    if (c.bytes > (uint64_t)fd[1] + ONE_REQUEST)
        fo_test_fail("A: the victim got %llu bytes for %d forged ones", (unsigned long long)c.bytes, fd[1]);
    if (c.stun_requests < 1) fo_test_fail("A: the server did not try to confirm the address");
    printf("it_steering: A: %d bytes forged (3 checks + ClientHello) drew %llu bytes (%d STUN "
           "responses, %d binding requests, no DTLS)\n", fd[1], (unsigned long long)c.bytes,
           c.stun_other, c.stun_requests);
    fo_dtls_free(d);
    fo_dtls_ctx_free(ctx);
    close(fd[0]);
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    fo_testsrv_start(&srv, "it_steering", argv[1], argv[2], NULL, 90);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    stun = fo_stun_new();

    forged_before_dtls();

    pub = connect_ok(FO_PEER_PUBLISH, "pub");
    player = connect_ok(FO_PEER_PLAY, "player");
    fo_peer_set_recv_cb(player, on_rx, NULL);
    if (fo_peer_stats(player)->stun_answered < 1) fo_test_fail("the player was never asked to confirm");
    run(500, -1, NULL, NULL);
    if (player_rtp < 5) fo_test_fail("the player got %d packets before the attack", player_rtp);
    const fo_peer_answer_t *ans = fo_peer_answer(player);
    char pl_ufrag[64], pl_pwd[64];
    fo_raw_sdp_creds(fo_peer_offer_sdp(player), pl_ufrag, pl_pwd);

    /* B: the player's session holder forges nominated checks "from" the victim */
    int victim = fo_raw_socket("127.0.0.2");
    fo_raw_counts_t c = {0};
    uint64_t forged = 0;
    int before = player_rtp;
    for (int i = 0; i < 10; i++) {
        forged += fo_raw_check(victim, stun, srv.rtc_port, ans->ufrag, ans->pwd, true);
        run(100, victim, &c, NULL);
    }
    run(1000, victim, &c, NULL);
    if (c.rtp || c.dtls)
        fo_test_fail("B: the victim got %d RTP and %d DTLS datagrams (%llu bytes) for %llu forged bytes", c.rtp,
                     c.dtls, (unsigned long long)c.bytes, (unsigned long long)forged);
    if (c.bytes > forged + ONE_REQUEST)
        fo_test_fail("B: the victim got %llu bytes for %llu forged ones", (unsigned long long)c.bytes,
                     (unsigned long long)forged);
    int kept = player_rtp - before;
    if (kept < 10) fo_test_fail("B: the player got only %d packets during the attack", kept);
    printf("it_steering: B: %llu forged bytes (10 nominated checks) drew %llu bytes, STUN only; the "
           "player kept receiving (%d packets)\n", (unsigned long long)forged, (unsigned long long)c.bytes, kept);

    /* C: answers that must not confirm: another transaction's response with valid integrity,
     * and the right answer from another address */
    int v2 = fo_raw_socket("127.0.0.2"), other = fo_raw_socket("127.0.0.2");
    uint8_t resp[512];
    char user[160];
    snprintf(user, sizeof user, "%s:%s", pl_ufrag, ans->ufrag);
    size_t n = fo_raw_foreign_response(stun, user, pl_pwd, resp, sizeof resp);
    fo_raw_answerer_t wrong_addr = {.stun = stun, .ufrag = pl_ufrag, .pwd = pl_pwd, .reply_fd = other};
    fo_raw_answerer_t self = wrong_addr;
    self.reply_fd = -1;
    c = (fo_raw_counts_t){0};
    forged = fo_raw_check(v2, stun, srv.rtc_port, ans->ufrag, ans->pwd, true);
    fo_raw_send(v2, srv.rtc_port, resp, n);
    run(1000, v2, &c, &wrong_addr);
    if (c.rtp || c.dtls || c.answered < 1)
        fo_test_fail("C: %d RTP, %d DTLS after a foreign response and %d answers from the wrong address",
                     c.rtp, c.dtls, c.answered);
    printf("it_steering: C: a response to another transaction and %d right answers from another "
           "address confirmed nothing\n", c.answered);

    /* D: a real move: this address answers from itself, and the media follows */
    int moved = fo_raw_socket("127.0.0.1");
    c = (fo_raw_counts_t){0};
    fo_raw_check(moved, stun, srv.rtc_port, ans->ufrag, ans->pwd, true);
    for (int i = 0; i < 25 && c.rtp < 3; i++) run(200, moved, &c, &self);
    if (c.answered < 1 || c.rtp < 3)
        fo_test_fail("D: the moved peer answered %d requests and got %d RTP packets", c.answered, c.rtp);
    printf("it_steering: D: a confirmed move got the media (%d packets)\n", c.rtp);

    long long confirmed = fo_raw_metric(srv.api, "fanout_ice_addresses_confirmed_total");
    close(victim), close(v2), close(other), close(moved);
    fo_peer_free(player);
    fo_peer_free(pub);
    fo_stun_free(stun);
    fo_testsrv_stop_clean(&srv);
    printf("it_steering: OK (%lld addresses confirmed in all)\n", confirmed);
    return 0;
}
