/* SPDX-License-Identifier: MIT */
/* fanout-floor: what one forwarded packet must cost at least on this machine, measured with the
 * server's own code where it has some: fo_srtp_protect of a 1200-byte RTP packet with "nettle"
 * (our outbound path, src/rtc/srtp_out.c), "libsrtp" (libsrtp with its stock NSS primitives) and
 * "libsrtp+nettle" (libsrtp's engine over nettle, the path before src/rtc/srtp_out.c), on
 * one hot session and round robin over 1000 sessions (each packet to the next player's context,
 * as fan-out does), raw nettle AES-128-CTR and HMAC-SHA1 over 1200 bytes, the sender's cost of a
 * 1210-byte loopback datagram with sendmmsg(32) and with sendto, and of a sendmmsg(32) fanned
 * out over 1000 sockets another process drains. floor_us = hot protect + sendmmsg to one socket;
 * floor_fanout_us = protect over 1000 sessions + the fanned-out send: what a real fan-out to
 * 1000 players must cost at least. Best of a
 * few rounds (shared machines are noisy). Prints one JSON object. Our copy of the probes in
 * ../shared/tools (srtp-profiles, nettle-floor, send-floor), so benchmarks need nothing outside
 * the repository. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nettle/aes.h>
#include <nettle/ctr.h>
#include <nettle/hmac.h>

#include "fanout/log.h"
#include "fanout/srtp.h"

#define ROUNDS 5
#define LEN 1200

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double srtp_us(const char *crypto, int sessions)
{
    enum { N = 40000, MAX_SESSIONS = 1000 };
    static fo_srtp_t *s[MAX_SESSIONS];
    if (sessions > MAX_SESSIONS || fo_srtp_set_crypto(crypto) != 0) return -1;
    fo_srtp_keys_t k;
    for (int i = 0; i < FO_SRTP_MASTER_LEN; i++) k.local[i] = k.remote[i] = (uint8_t)i;
    int made = 0;
    while (made < sessions && (s[made] = fo_srtp_new(&k))) made++;
    uint8_t pkt[LEN + FO_SRTP_MAX_TRAILER];
    double best = made == sessions ? 1e9 : -1;
    uint32_t seq = 0;
    for (int r = 0; r < ROUNDS && best > 0; r++) {
        double t0 = now_s();
        for (int i = 0; i < N; i++, seq++) {
            memset(pkt, 0xab, 12);
            pkt[0] = 0x80, pkt[1] = 96, pkt[2] = (uint8_t)(seq >> 8), pkt[3] = (uint8_t)seq;
            size_t len = LEN;
            if (fo_srtp_protect(s[i % sessions], pkt, &len, sizeof pkt) != 0) {
                best = -1;
                break;
            }
        }
        double us = (now_s() - t0) * 1e6 / N;
        if (best > 0 && us < best) best = us;
    }
    for (int i = 0; i < made; i++) fo_srtp_free(s[i]);
    return best;
}

static void nettle_us(double *aes, double *hmac)
{
    enum { N = 100000 };
    uint8_t key[20] = {1, 2, 3}, ctr[16] = {0}, buf[LEN], tag[10];
    memset(buf, 0xab, sizeof buf);
    struct aes128_ctx a;
    aes128_set_encrypt_key(&a, key);
    struct hmac_sha1_ctx h;
    hmac_sha1_set_key(&h, sizeof key, key);
    *aes = *hmac = 1e9;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_s();
        for (int i = 0; i < N; i++) {
            ctr[15] = 0, ctr[14] = (uint8_t)i;
            ctr_crypt(&a, (nettle_cipher_func *)aes128_encrypt, AES_BLOCK_SIZE, ctr, LEN, buf, buf);
        }
        double us = (now_s() - t0) * 1e6 / N;
        if (us < *aes) *aes = us;
        t0 = now_s();
        for (int i = 0; i < N; i++) {
            hmac_sha1_update(&h, LEN, buf);
            hmac_sha1_update(&h, 4, (const uint8_t *)&i);
            hmac_sha1_digest(&h, sizeof tag, tag);
        }
        us = (now_s() - t0) * 1e6 / N;
        if (us < *hmac) *hmac = us;
    }
}

/* A receiving socket on loopback with a `rcvbuf`-byte buffer (SO_RCVBUFFORCE needs
 * CAP_NET_ADMIN; the sender pays the same either way, dropped or not); `flags` are added to
 * the socket type (SOCK_NONBLOCK). Returns the fd, or -1. */
static int sink(struct sockaddr_in *a, int flags, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_DGRAM | flags, 0);
    *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof *a;
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)a, sizeof *a) != 0 || getsockname(fd, (struct sockaddr *)a, &al) != 0) {
        close(fd);
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    return fd;
}

static void send_us(double *mmsg, double *single)
{
    enum { B = 32, DLEN = 1210, N = 20000 };
    static uint8_t pkt[DLEN];
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    *mmsg = *single = -1;
    if (fd < 0) return;
    double b1 = 1e9, b2 = 1e9;
    for (int r = 0; r < ROUNDS; r++) {
        struct sockaddr_in a;
        int rfd = sink(&a, 0, 256 << 20);
        if (rfd < 0) break;
        struct mmsghdr m[B];
        struct iovec iov[B];
        for (int i = 0; i < B; i++) {
            iov[i] = (struct iovec){pkt, DLEN};
            m[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &a, .msg_namelen = sizeof a,
                                                .msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        double t0 = now_s();
        int sent = 0;
        while (sent < N) {
            int n = sendmmsg(fd, m, B, 0);
            if (n <= 0) break;
            sent += n;
        }
        if (sent) b1 = (now_s() - t0) * 1e6 / sent < b1 ? (now_s() - t0) * 1e6 / sent : b1;
        close(rfd);
        if ((rfd = sink(&a, 0, 256 << 20)) < 0) break;
        t0 = now_s();
        sent = 0;
        while (sent < N && sendto(fd, pkt, DLEN, 0, (struct sockaddr *)&a, sizeof a) > 0) sent++;
        if (sent) b2 = (now_s() - t0) * 1e6 / sent < b2 ? (now_s() - t0) * 1e6 / sent : b2;
        close(rfd);
    }
    close(fd);
    *mmsg = b1, *single = b2;
}

/* The sender's cost of fanning out: sendmmsg(32) of 1210-byte datagrams, each to the next of
 * FAN receiving sockets that another process drains with epoll + recvmmsg, as players do. Unlike
 * send_us (one socket nobody waits on, hot in cache), the sender here also pays waking the
 * receiver and touching FAN sockets' state in turn: what the server pays per player on loopback.
 * Measured as the sending thread's CPU time (loopback delivery runs in the sender's context and
 * is charged to it). Returns µs per datagram, or -1. */
static double now_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double fanout_send_us(void)
{
    enum { B = 32, DLEN = 1210, FAN = 1000, N = 64000 };
    static uint8_t pkt[DLEN];
    static int rfd[FAN];
    static struct sockaddr_in addr[FAN];
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < FAN + 64 && rl.rlim_max >= FAN + 64) {
        rl.rlim_cur = FAN + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int n_open = 0;
    for (; n_open < FAN; n_open++)
        if ((rfd[n_open] = sink(&addr[n_open], SOCK_NONBLOCK, 4 << 20)) < 0) break;
    double best = -1;
    int go[2], fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (n_open < FAN || fd < 0 || pipe(go) != 0) goto out;
    pid_t child = fork();
    if (child == 0) { /* the "players": drain every socket until the parent closes the pipe */
        cpu_set_t all;
        CPU_ZERO(&all);
        for (int c = 0; c < CPU_SETSIZE; c++) CPU_SET(c, &all);
        sched_setaffinity(0, sizeof all, &all); /* not on the sender's pinned core only */
        close(go[1]);
        int ep = epoll_create1(0);
        for (int i = 0; i < FAN; i++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            epoll_ctl(ep, EPOLL_CTL_ADD, rfd[i], &ev);
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = FAN};
        epoll_ctl(ep, EPOLL_CTL_ADD, go[0], &ev);
        static uint8_t rbuf[8][1500];
        for (;;) {
            struct epoll_event evs[64];
            int n = epoll_wait(ep, evs, 64, 5000);
            if (n <= 0) _exit(0);
            for (int i = 0; i < n; i++) {
                if (evs[i].data.u32 == FAN) _exit(0);
                struct mmsghdr m[8];
                struct iovec iov[8];
                for (int k = 0; k < 8; k++) {
                    iov[k] = (struct iovec){rbuf[k], sizeof rbuf[k]};
                    m[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[k], .msg_iovlen = 1}};
                }
                while (recvmmsg(rfd[evs[i].data.u32], m, 8, MSG_DONTWAIT, NULL) > 0) {}
            }
        }
    }
    close(go[0]);
    if (child > 0) {
        struct mmsghdr m[B];
        struct iovec iov = {pkt, DLEN};
        for (int i = 0; i < B; i++)
            m[i] = (struct mmsghdr){.msg_hdr = {.msg_namelen = sizeof addr[0], .msg_iov = &iov, .msg_iovlen = 1}};
        for (int r = 0; r < ROUNDS; r++) {
            int next = 0, sent = 0;
            double t0 = now_cpu_s();
            while (sent < N) {
                /* as the server's send ring: only the destination changes per datagram */
                for (int i = 0; i < B; i++, next = (next + 1) % FAN) m[i].msg_hdr.msg_name = &addr[next];
                int n = sendmmsg(fd, m, B, 0);
                if (n <= 0) break;
                sent += n;
            }
            double us = sent ? (now_cpu_s() - t0) * 1e6 / sent : -1;
            if (us > 0 && (best < 0 || us < best)) best = us;
            usleep(20000); /* let the receiver catch up between rounds */
        }
        close(go[1]);
        waitpid(child, NULL, 0);
    } else {
        close(go[1]);
    }
out:
    if (fd >= 0) close(fd);
    for (int i = 0; i < n_open; i++) close(rfd[i]);
    return best;
}

int main(void)
{
    fo_log_set_level(FO_LOG_ERROR);
    if (fo_srtp_global_init() != 0) return 1;
    double nettle = srtp_us("nettle", 1), stock = srtp_us("libsrtp", 1), aes, hmac, mmsg, single;
    double nettle_cold = srtp_us("nettle", 1000), stock_cold = srtp_us("libsrtp", 1000);
    double engine = srtp_us("libsrtp+nettle", 1), engine_cold = srtp_us("libsrtp+nettle", 1000);
    fo_srtp_global_shutdown();
    nettle_us(&aes, &hmac);
    send_us(&mmsg, &single);
    double fan = fanout_send_us();
    printf("{\"srtp_protect_nettle_us\":%.3f,\"srtp_protect_libsrtp_us\":%.3f,"
           "\"srtp_protect_nettle_1000s_us\":%.3f,\"srtp_protect_libsrtp_1000s_us\":%.3f,"
           "\"srtp_protect_libsrtp_nettle_us\":%.3f,\"srtp_protect_libsrtp_nettle_1000s_us\":%.3f,"
           "\"nettle_aes128_ctr_us\":%.3f,\"nettle_hmac_sha1_us\":%.3f,"
           "\"sendmmsg32_us\":%.3f,\"sendto_us\":%.3f,\"sendmmsg32_fanout1000_us\":%.3f,"
           "\"floor_us\":%.3f,\"floor_fanout_us\":%.3f}\n",
           nettle, stock, nettle_cold, stock_cold, engine, engine_cold, aes, hmac, mmsg, single, fan,
           nettle + mmsg, fan > 0 ? nettle_cold + fan : -1);
    return 0;
}
