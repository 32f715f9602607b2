/* SPDX-License-Identifier: MIT */
/* The junk flooder (see the header): datagrams made once with our own STUN and DTLS client code,
 * then sent in sendmmsg batches of 32, each batch from the next source socket, paced in 1 ms
 * steps. */
#include "flood.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fanout/dtls.h"
#include "fanout/stun.h"

#define N_STUN 64
#define N_HELLO 8
#define BATCH 32
#define MAX_SOURCES 256
#define DGRAM_MAX 1500

typedef struct {
    uint8_t buf[DGRAM_MAX];
    size_t len;
} dgram_t;

struct fo_flood {
    fo_flood_opts_t o;
    dgram_t d[N_STUN + N_HELLO];
    size_t n_stun, n_hello;
    int fds[MAX_SOURCES];
    int n_fds;
    struct sockaddr_in to;
    pthread_t thread;
    _Atomic bool stop;
    uint64_t sent;
};

static void random_text(char *out, size_t n)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t r[64];
    if (getrandom(r, n, 0) != (ssize_t)n) memset(r, 7, n);
    for (size_t i = 0; i < n; i++) out[i] = set[r[i] % (sizeof set - 1)];
    out[n] = '\0';
}

static void hello_cb(void *user, const uint8_t *buf, size_t len)
{
    dgram_t *d = user;
    if (!d->len && len <= sizeof d->buf) {
        memcpy(d->buf, buf, len);
        d->len = len;
    }
}

static bool make_datagrams(fo_flood_t *f)
{
    fo_stun_t *stun = fo_stun_new();
    if (!stun) return false;
    for (size_t i = 0; i < N_STUN; i++) {
        char user[20], a[9], b[9], pwd[25];
        random_text(a, 8);
        random_text(b, 8);
        random_text(pwd, 24);
        snprintf(user, sizeof user, "%s:%s", a, b);
        int n = fo_stun_build_request(stun, f->d[i].buf, sizeof f->d[i].buf, user, pwd,
                                      0x6e7fffffu, 0x1234567890abcdefull, i % 2 == 0);
        if (n > 0) f->d[f->n_stun++].len = (size_t)n;
    }
    fo_stun_free(stun);
    fo_dtls_ctx_t *ctx = fo_dtls_ctx_new(NULL, NULL);
    if (!ctx) return false;
    for (size_t i = 0; i < N_HELLO; i++) {
        dgram_t *d = &f->d[N_STUN + i];
        fo_dtls_io_t io = {.send_cb = hello_cb, .user = d};
        fo_dtls_t *s = fo_dtls_new(ctx, FO_DTLS_CLIENT, &io, "sha-256", fo_dtls_ctx_fingerprint(ctx));
        if (s && fo_dtls_start(s) == 0 && d->len) f->n_hello++;
        fo_dtls_free(s);
    }
    fo_dtls_ctx_free(ctx);
    return f->n_stun && f->n_hello;
}

static const dgram_t *pick(fo_flood_t *f, uint64_t i)
{
    bool stun = f->o.kind == FO_FLOOD_STUN || (f->o.kind == FO_FLOOD_MIX && i % 2 == 0);
    return stun ? &f->d[i % f->n_stun] : &f->d[N_STUN + i % f->n_hello];
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *flood_main(void *arg)
{
    fo_flood_t *f = arg;
    struct mmsghdr msg[BATCH];
    struct iovec iov[BATCH];
    int64_t t0 = mono_us(), end = t0 + (int64_t)(f->o.seconds * 1e6);
    uint64_t i = 0;
    int src = 0;
    while (!atomic_load(&f->stop)) {
        int64_t now = mono_us();
        if (now >= end) break;
        uint64_t due = (uint64_t)((double)(now - t0) * f->o.rate / 1e6);
        if (i >= due) {
            usleep(1000);
            continue;
        }
        while (i < due) {
            int n = due - i > BATCH ? BATCH : (int)(due - i);
            for (int k = 0; k < n; k++) {
                const dgram_t *d = pick(f, i + (uint64_t)k);
                iov[k] = (struct iovec){(void *)d->buf, d->len};
                msg[k].msg_hdr = (struct msghdr){.msg_name = &f->to, .msg_namelen = sizeof f->to,
                                                 .msg_iov = &iov[k], .msg_iovlen = 1};
            }
            int s = sendmmsg(f->fds[src], msg, (unsigned)n, 0);
            src = (src + 1) % f->n_fds;
            if (s <= 0) break; /* the socket buffer is full: the next step tries again */
            i += (uint64_t)s;
        }
    }
    f->sent = i;
    return NULL;
}

fo_flood_t *fo_flood_start(const fo_flood_opts_t *o)
{
    fo_flood_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->o = *o;
    if (f->o.sources < 1) f->o.sources = 1;
    if (f->o.sources > MAX_SOURCES) f->o.sources = MAX_SOURCES;
    f->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    if (inet_pton(AF_INET, o->host, &f->to.sin_addr) != 1 || !make_datagrams(f)) {
        fprintf(stderr, "flood: cannot prepare (%s)\n", o->host);
        free(f);
        return NULL;
    }
    for (int k = 0; k < f->o.sources; k++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET};
        if (o->src_ip) inet_pton(AF_INET, o->src_ip, &a.sin_addr);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            if (fd >= 0) close(fd);
            break;
        }
        f->fds[f->n_fds++] = fd;
    }
    if (!f->n_fds || pthread_create(&f->thread, NULL, flood_main, f) != 0) {
        for (int k = 0; k < f->n_fds; k++) close(f->fds[k]);
        free(f);
        return NULL;
    }
    return f;
}

uint64_t fo_flood_join(fo_flood_t *f, bool stop, uint64_t *replies)
{
    if (replies) *replies = 0;
    if (!f) return 0;
    if (stop) atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    uint64_t sent = f->sent;
    usleep(100000); /* anything the server would send back is in by now */
    for (int k = 0; k < f->n_fds; k++) {
        uint8_t b[DGRAM_MAX];
        while (recv(f->fds[k], b, sizeof b, MSG_DONTWAIT) >= 0)
            if (replies) ++*replies;
        close(f->fds[k]);
    }
    free(f);
    return sent;
}
