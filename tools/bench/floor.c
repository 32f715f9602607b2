/* SPDX-License-Identifier: MIT */
/* fanout-floor: what one forwarded packet must cost at least on this machine, measured with the
 * server's own code where it has some: fo_srtp_protect of a 1200-byte RTP packet with "nettle"
 * (our outbound path, src/srtp_out.c), "libsrtp" (libsrtp with its stock NSS primitives) and
 * "libsrtp+nettle" (libsrtp's engine over nettle, the path before src/srtp_out.c), on
 * one hot session and round robin over 1000 sessions (each packet to the next player's context,
 * as fan-out does), raw nettle AES-128-CTR and HMAC-SHA1 over 1200 bytes, and
 * the sender's cost of a 1210-byte loopback datagram with sendmmsg(32) and with sendto. Best of a
 * few rounds (shared machines are noisy). Prints one JSON object. Our copy of the probes in
 * ../shared/tools (srtp-profiles, nettle-floor, send-floor), so benchmarks need nothing outside
 * the repository. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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

/* A receiving socket with a large buffer on loopback (SO_RCVBUFFORCE needs CAP_NET_ADMIN; the
 * sender pays the same either way, dropped or not). */
static int sink(struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 256 << 20;
    *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof *a;
    if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof *a) != 0 ||
        getsockname(fd, (struct sockaddr *)a, &al) != 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
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
        int rfd = sink(&a);
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
        if ((rfd = sink(&a)) < 0) break;
        t0 = now_s();
        sent = 0;
        while (sent < N && sendto(fd, pkt, DLEN, 0, (struct sockaddr *)&a, sizeof a) > 0) sent++;
        if (sent) b2 = (now_s() - t0) * 1e6 / sent < b2 ? (now_s() - t0) * 1e6 / sent : b2;
        close(rfd);
    }
    close(fd);
    *mmsg = b1, *single = b2;
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
    printf("{\"srtp_protect_nettle_us\":%.3f,\"srtp_protect_libsrtp_us\":%.3f,"
           "\"srtp_protect_nettle_1000s_us\":%.3f,\"srtp_protect_libsrtp_1000s_us\":%.3f,"
           "\"srtp_protect_libsrtp_nettle_us\":%.3f,\"srtp_protect_libsrtp_nettle_1000s_us\":%.3f,"
           "\"nettle_aes128_ctr_us\":%.3f,\"nettle_hmac_sha1_us\":%.3f,"
           "\"sendmmsg32_us\":%.3f,\"sendto_us\":%.3f,\"floor_us\":%.3f}\n",
           nettle, stock, nettle_cold, stock_cold, engine, engine_cold, aes, hmac, mmsg, single,
           nettle + mmsg);
    return 0;
}
