/* SPDX-License-Identifier: MIT */
/* Soak driver: starts the server (argv[1] binary, argv[2] source dir) with short ICE timeouts and
 * creates and tears down sessions in batches, every way a session can end:
 *   clean     connect, carry media, DTLS close_notify;
 *   vanish    connect, then the peer disappears (consent timeout, 8 s here, ends it);
 *   ice       signal only, never an ICE check (pending timeout);
 *   half      ICE done, DTLS ClientHello sent, then gone mid-handshake;
 *   player    join a live stream (one publisher for the whole run), receive, leave (close or
 *             vanish alternately).
 * After a warm-up batch it samples the server's descriptors (/proc/PID/fd) and RSS
 * (/proc/PID/status); at the end it waits for every session to be gone and checks: the same
 * number of descriptors, the heap in use (malloc_stats through gdb, when it can attach) within
 * 1 MB of the warm-up figure, RSS back within 24 MB of it (the server trims the heap once a crowd
 * has gone; ASan's allocator keeps more), a fresh publish
 * + play carrying media, and a clean exit (which under ASan includes LeakSanitizer).
 * Usage: soak BIN SRCDIR [sessions (default 300)] [batch (default 16)] */
#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "peer.h"
#include "testsrv.h"

enum { M_CLEAN, M_VANISH, M_ICE, M_HALF, M_PLAYER, M_COUNT };
static const char *const mode_name[] = {"clean", "vanish", "ice", "half", "player"};

static fo_testsrv_t srv;
static fo_dtls_ctx_t *dctx;
static fo_stun_t *stun;
static fo_peer_t *live_pub;
static uint16_t live_seq = 1;
static long live_rx;
static int live_lost;

/* The live stream's publisher; reconnected (and counted) if a starved test machine made it
 * miss its consent checks. */
static void live_connect(void)
{
    fo_peer_free(live_pub);
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "live"};
    live_pub = fo_peer_new(&po);
    if (fo_peer_connect(live_pub, srv.api, "soak/live", 10000)) fo_test_fail("live publisher: %s", fo_peer_error(live_pub));
}

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* Bytes the server's malloc has handed out and not got back (glibc malloc_stats, called in the
 * server through gdb; its output goes to the server's log). -1 when gdb cannot attach. RSS
 * alone cannot tell a leak from memory the allocator keeps for reuse. */
#if defined(__SANITIZE_ADDRESS__)
#define SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#endif
#endif
#ifndef SOAK_ASAN
#define SOAK_ASAN 0
#endif

static long heap_in_use(pid_t pid)
{
    char cmd[512], line[256];
    snprintf(cmd, sizeof cmd, "gdb -p %d -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1", (int)pid);
    if (system(cmd) != 0) return -1;
    usleep(100000);
    FILE *f = fopen(srv.log_path, "r");
    long v = -1;
    while (f && fgets(line, sizeof line, f)) sscanf(line, "in use bytes = %ld", &v);
    if (f) fclose(f);
    return v;
}

static void send_live_audio(void)
{
    uint8_t pkt[160] = {0};
    uint16_t seq = live_seq++;
    fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, seq, seq * 960u, fo_peer_ssrc(live_pub, "audio"));
    fo_peer_send_rtp(live_pub, pkt, sizeof pkt);
}

static void on_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)user, (void)p, (void)pkt, (void)len;
    if (!is_rtcp) live_rx++;
}

/* Drives peers (and the live publisher) for up to ms, or (until_targets) until every peer
 * reached its target. */
static void drive(fo_peer_t **peers, const int *modes, size_t n, int ms, bool until_targets)
{
    int64_t end = fo_peer_now_ms() + ms, next_media = 0;
    for (;;) {
        struct pollfd pf[65];
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (peers[i] && fo_peer_fd(peers[i]) >= 0) pf[k++] = (struct pollfd){.fd = fo_peer_fd(peers[i]), .events = POLLIN};
        pf[k++] = (struct pollfd){.fd = fo_peer_fd(live_pub), .events = POLLIN};
        poll(pf, (nfds_t)k, 5);
        fo_peer_process(live_pub);
        if (fo_peer_now_ms() >= next_media) {
            send_live_audio();
            next_media = fo_peer_now_ms() + 20;
        }
        bool done = true;
        for (size_t i = 0; i < n; i++) {
            if (!peers[i]) continue;
            fo_peer_state_t st = fo_peer_process(peers[i]);
            fo_peer_state_t want = modes[i] == M_HALF ? FO_PEER_DTLS : modes[i] == M_ICE ? FO_PEER_ICE : FO_PEER_CONNECTED;
            if (st < want) done = false;
        }
        if ((until_targets && done) || fo_peer_now_ms() >= end) return;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    int total = argc > 3 ? atoi(argv[3]) : 300;
    int batch = argc > 4 ? atoi(argv[4]) : 16;
    if (batch < 1 || batch > 64) batch = 16;
    /* Under ASan, freed memory sits in quarantine (256 MB by default) and looks like growth. */
    const char *ao = getenv("ASAN_OPTIONS");
    char aopt[512];
    snprintf(aopt, sizeof aopt, "%s%squarantine_size_mb=4:malloc_context_size=8", ao ? ao : "", ao && *ao ? ":" : "");
    setenv("ASAN_OPTIONS", aopt, 1);
    setenv("FANOUT_RTC_CONSENT_TIMEOUT", "8", 1);
    setenv("FANOUT_RTC_PENDING_TIMEOUT", "3", 1);
    const char *extra[] = {"--log-level", "info", NULL};
    fo_testsrv_start(&srv, "soak", argv[1], argv[2], extra, 60 + total / 2);
    fo_log_set_level(FO_LOG_ERROR);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    dctx = fo_dtls_ctx_new(NULL, NULL);
    stun = fo_stun_new();

    live_connect();

    int fds0 = -1, made[M_COUNT] = {0}, failed = 0;
    long rss0 = -1, rss_peak = 0, rss_mid = -1, heap0 = -1;
    int64_t t0 = fo_peer_now_ms();
    for (int done = 0, round = 0; done < total; round++) {
        fo_peer_t *peers[64] = {0};
        int modes[64];
        int n = total - done < batch ? total - done : batch;
        for (int i = 0; i < n; i++) {
            modes[i] = (done + i) % M_COUNT;
            fo_peer_opts_t o = {.role = modes[i] == M_PLAYER ? FO_PEER_PLAY : FO_PEER_PUBLISH,
                                .dtls = dctx, .stun = stun, .name = mode_name[modes[i]]};
            peers[i] = fo_peer_new(&o);
            char key[64];
            snprintf(key, sizeof key, modes[i] == M_PLAYER ? "soak/live" : "soak/s%d", done + i);
            fo_peer_process(live_pub); /* signaling blocks: keep the live publisher's consent */
            if (!peers[i] || fo_peer_signal(peers[i], srv.api, key, 5000) != 0) {
                failed++;
                fo_peer_free(peers[i]);
                peers[i] = NULL;
                continue;
            }
            if (modes[i] == M_ICE) {
                fo_peer_vanish(peers[i]); /* signaled, never checks */
                peers[i] = NULL;
            }
            if (peers[i]) fo_peer_set_recv_cb(peers[i], on_rx, NULL);
        }
        drive(peers, modes, (size_t)n, 8000, true);
        drive(peers, modes, (size_t)n, 60, false); /* a little media to the players */
        for (int i = 0; i < n; i++) {
            made[modes[i]]++;
            if (!peers[i]) continue;
            fo_peer_state_t st = fo_peer_state(peers[i]);
            if (modes[i] != M_HALF && st != FO_PEER_CONNECTED) failed++;
            if (modes[i] == M_CLEAN || (modes[i] == M_PLAYER && (done + i) / M_COUNT % 2 == 0)) fo_peer_free(peers[i]);
            else fo_peer_vanish(peers[i]);
        }
        done += n;
        if (fo_peer_process(live_pub) != FO_PEER_CONNECTED) {
            live_lost++;
            live_connect();
        }
        long r = rss_kb(srv.pid);
        if (r > rss_peak) rss_peak = r;
        if (round == 1) {
            /* warm-up over: pools, maps and the allocator have their working size */
            drive(NULL, NULL, 0, 4000, false);
            fds0 = count_fds(srv.pid);
            rss0 = rss_kb(srv.pid);
            heap0 = heap_in_use(srv.pid);
        }
        if (rss_mid < 0 && done >= total / 2) rss_mid = rss_kb(srv.pid);
        if (round % 20 == 0)
            fprintf(stderr, "soak: %d/%d sessions, rss %ld kB, fds %d, %d failed\n", done, total,
                    rss_kb(srv.pid), count_fds(srv.pid), failed);
    }
    /* everything but the live publisher times out (consent 8 s, pending 3 s) */
    drive(NULL, NULL, 0, 10000, false);
    int fds1 = count_fds(srv.pid);
    long rss1 = rss_kb(srv.pid);
    int64_t secs = (fo_peer_now_ms() - t0) / 1000;
    long heap1 = heap0 >= 0 ? heap_in_use(srv.pid) : -1;

    fo_peer_free(live_pub);

    /* still serving: a fresh publish + play on a new stream */
    fo_peer_opts_t fo = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "final-pub"};
    live_pub = fo_peer_new(&fo);
    if (fo_peer_connect(live_pub, srv.api, "soak/final", 10000)) fo_test_fail("final publish: %s", fo_peer_error(live_pub));
    fo_peer_opts_t lo = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = "final"};
    fo_peer_t *final = fo_peer_new(&lo);
    if (fo_peer_connect(final, srv.api, "soak/final", 10000)) fo_test_fail("final play: %s", fo_peer_error(final));
    long rx_before = live_rx;
    fo_peer_set_recv_cb(final, on_rx, NULL);
    fo_peer_t *fp[1] = {final};
    int fm[1] = {M_PLAYER};
    drive(fp, fm, 1, 1000, false);
    long final_rx = live_rx - rx_before;
    fo_peer_free(final);
    fo_peer_free(live_pub);

    int ended = fo_testsrv_log_count(&srv, "session ended: rx");
    int status = fo_testsrv_stop(&srv);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fo_testsrv_dump_log(&srv);
        fo_test_fail("server did not exit cleanly (status 0x%x): leaks or a crash", status);
    }
    printf("soak: %d sessions in %llds (clean %d, vanish %d, ice-timeout %d, half-handshake %d, "
           "player join/leave %d), %d failed to connect; %d session ends logged; fds %d -> %d; "
           "rss %ld kB after warm-up, %ld half-way, peak %ld, end %ld; heap in use %ld -> %ld bytes; live publisher lost %d times; final player got %ld packets\n",
           total, (long long)secs, made[M_CLEAN], made[M_VANISH], made[M_ICE], made[M_HALF],
           made[M_PLAYER], failed, ended, fds0, fds1, rss0, rss_mid, rss_peak, rss1, heap0, heap1,
           live_lost, final_rx);
    if (live_lost > 2) fo_test_fail("the live publisher lost its session %d times", live_lost);
    if (fds1 != fds0) fo_test_fail("descriptors grew: %d -> %d", fds0, fds1);
    /* In use: the live publisher is the only session at both points; allow 1 MB of noise. A
     * leak of even 1 KB per session shows. RSS depends on the allocator, so it is bounded
     * loosely. */
    if (heap0 >= 0 && heap1 > heap0 + 1024 * 1024)
        fo_test_fail("heap in use grew: %ld -> %ld bytes", heap0, heap1);
    /* Under ASan (this binary and the server come from the same build) freed memory sits in
     * its quarantine (up to 256 MB by default) and RSS says nothing about leaks; LeakSanitizer
     * checks those at the server's exit. */
    if (!SOAK_ASAN && rss1 > rss0 + 24576)
        fo_test_fail("RSS did not come back: %ld kB -> %ld kB", rss0, rss1);
    if (final_rx < 20) fo_test_fail("the final player got only %ld packets", final_rx);
    if (failed > total / 50) fo_test_fail("%d of %d sessions failed to connect", failed, total);
    if (ended < total * 9 / 10) fo_test_fail("only %d of %d sessions logged their end", ended, total);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    unlink(srv.log_path);
    return 0;
}
