/* SPDX-License-Identifier: MIT */
/* End to end on loopback: starts the fanout binary (argv[1]) with the repo's config (argv[2] is
 * the source dir) on free ports, then one publisher and two players of live/it-<pid> over real
 * ICE, DTLS and SRTP (tests/integration/lib/peer.c). The publisher sends ~3 s of Opus-like
 * audio and VP8-shaped video (keyframe every second); player 1 joins before the media starts,
 * player 2 about a second in. Checks: every received payload is byte-exact one that was sent
 * (found by the counter in its last 4 bytes), SSRCs are the ones the player's answer
 * announced, seq and timestamp deltas follow the sent ones exactly, each player receives >= 90%
 * of what was sent after it connected (video: from the first keyframe after that), a second
 * publisher is refused with HTTP 409 and a non-zero code, and random datagrams sent to the RTC
 * port mid-test do not stop the media. One process, alarm(60); the server is always stopped. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "peer.h"
#include "testsrv.h"

#define MEDIA_MS 3000
#define DRAIN_MS 700
#define AUDIO_MS 20
#define AUDIO_PAYLOAD 160
#define VIDEO_FPS 30
#define VIDEO_PKTS_PER_FRAME 2
#define VIDEO_PKTS_PER_KEYFRAME 4
#define VIDEO_PAYLOAD 1000
#define KEYFRAME_EVERY 30 /* frames: one a second */
#define P2_JOIN_MS 1100
#define SECOND_PUB_MS 600
#define GARBAGE_MS 1600
#define GARBAGE_COUNT 300
#define MAX_AUDIO 512
#define MAX_VIDEO 2048

static fo_testsrv_t g_srv;

#define die(...) fo_test_fail(__VA_ARGS__)

/* ------------------------------------------------------------------------------------------ */
/* What the publisher sent */

typedef struct {
    uint8_t *payload;
    size_t len;
    uint32_t ts;     /* RTP timestamp as sent */
    int64_t sent_ms; /* time relative to media start */
    bool keyframe;   /* first packet of a keyframe */
} sent_t;

static sent_t g_audio[MAX_AUDIO], g_video[MAX_VIDEO];
static uint32_t g_n_audio, g_n_video;

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Pseudo-random bytes, then the counter in the last 4 bytes (big endian). */
static void fill_payload(uint8_t *p, size_t from, size_t len, uint32_t seed, uint32_t counter)
{
    uint32_t s = seed * 2654435761u + counter + 1;
    for (size_t i = from; i + 4 < len; i++) p[i] = (uint8_t)xorshift(&s);
    p[len - 4] = (uint8_t)(counter >> 24);
    p[len - 3] = (uint8_t)(counter >> 16);
    p[len - 2] = (uint8_t)(counter >> 8);
    p[len - 1] = (uint8_t)counter;
}

typedef struct {
    fo_peer_t *pub;
    uint16_t a_seq, v_seq;
    uint32_t a_ts0, v_ts0;
    uint32_t frame; /* next video frame */
} sender_t;

static void send_audio(sender_t *s, int64_t t)
{
    if (g_n_audio >= MAX_AUDIO) return;
    uint32_t c = g_n_audio;
    uint8_t pkt[12 + AUDIO_PAYLOAD];
    uint32_t ts = s->a_ts0 + c * 960;
    size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, s->a_seq++, ts,
                          fo_peer_ssrc(s->pub, "audio"));
    fill_payload(pkt + h, 0, AUDIO_PAYLOAD, 1, c);
    sent_t *e = &g_audio[g_n_audio++];
    e->payload = malloc(AUDIO_PAYLOAD);
    memcpy(e->payload, pkt + h, AUDIO_PAYLOAD);
    e->len = AUDIO_PAYLOAD;
    e->ts = ts;
    e->sent_ms = t;
    int r = fo_peer_send_rtp(s->pub, pkt, h + AUDIO_PAYLOAD);
    if (r) die("publisher: sending audio: %s", fo_strerror(r));
}

/* One frame: VP8 payload descriptor (S bit on the first packet, PID 0), on the first packet the
 * VP8 payload header (3-byte frame tag, P bit = 0 for keyframes, then the keyframe start code and
 * 640x480), pseudo-random data, the packet counter at the end; marker on the last packet. */
static void send_video_frame(sender_t *s, int64_t t)
{
    bool key = s->frame % KEYFRAME_EVERY == 0;
    int npk = key ? VIDEO_PKTS_PER_KEYFRAME : VIDEO_PKTS_PER_FRAME;
    uint32_t ts = s->v_ts0 + s->frame * (90000 / VIDEO_FPS);
    for (int i = 0; i < npk && g_n_video < MAX_VIDEO; i++) {
        uint32_t c = g_n_video;
        uint8_t pkt[12 + VIDEO_PAYLOAD];
        size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_VP8, i == npk - 1, s->v_seq++, ts,
                              fo_peer_ssrc(s->pub, "video"));
        uint8_t *pl = pkt + h;
        size_t off = 0;
        pl[off++] = i == 0 ? 0x10 : 0x00;
        if (i == 0) {
            /* first_part_size 100, show_frame 1, version 0, P = !key */
            uint32_t tag = (100u << 5) | (1u << 4) | (key ? 0u : 1u);
            pl[off++] = (uint8_t)tag;
            pl[off++] = (uint8_t)(tag >> 8);
            pl[off++] = (uint8_t)(tag >> 16);
            if (key) {
                static const uint8_t kf[] = {0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
                memcpy(pl + off, kf, sizeof kf);
                off += sizeof kf;
            }
        }
        fill_payload(pl, off, VIDEO_PAYLOAD, 2, c);
        sent_t *e = &g_video[g_n_video++];
        e->payload = malloc(VIDEO_PAYLOAD);
        memcpy(e->payload, pl, VIDEO_PAYLOAD);
        e->len = VIDEO_PAYLOAD;
        e->ts = ts;
        e->sent_ms = t;
        e->keyframe = key && i == 0;
        int r = fo_peer_send_rtp(s->pub, pkt, h + VIDEO_PAYLOAD);
        if (r) die("publisher: sending video: %s", fo_strerror(r));
    }
    s->frame++;
}

/* ------------------------------------------------------------------------------------------ */
/* What a player received */

typedef struct {
    uint32_t ssrc;
    bool have_prev;
    uint16_t prev_seq;
    uint32_t prev_ts, prev_counter;
    uint8_t *got; /* per counter: received count */
} track_rx_t;

typedef struct {
    const char *name;
    fo_peer_t *peer;
    int64_t connected_ms; /* relative to media start; may be negative */
    bool connected;
    track_rx_t audio, video;
    uint64_t rtx, rtcp, bad_ssrc, bad_pt, bad_payload, bad_seq, bad_ts, dup, malformed;
    char first_error[256];
} player_t;

static void note(player_t *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(player_t *pl, const char *fmt, ...)
{
    if (pl->first_error[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl->first_error, sizeof pl->first_error, fmt, ap);
    va_end(ap);
}

static void on_player_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)p;
    player_t *pl = user;
    if (is_rtcp) {
        pl->rtcp++;
        return;
    }
    if (len < 12 || (pkt[0] >> 6) != 2) {
        pl->malformed++;
        return;
    }
    size_t h = 12 + 4u * (pkt[0] & 0x0f);
    if (pkt[0] & 0x10) { /* header extension */
        if (len < h + 4) {
            pl->malformed++;
            return;
        }
        h += 4 + 4u * ((size_t)pkt[h + 2] << 8 | pkt[h + 3]);
    }
    size_t end = len;
    if (pkt[0] & 0x20) { /* padding */
        if (pkt[len - 1] == 0 || pkt[len - 1] > len) {
            pl->malformed++;
            return;
        }
        end -= pkt[len - 1];
    }
    if (end < h + 4) {
        pl->malformed++;
        return;
    }
    uint8_t pt = pkt[1] & 0x7f;
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    uint32_t ts = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];
    uint32_t ssrc = (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
    const uint8_t *pay = pkt + h;
    size_t plen = end - h;

    track_rx_t *tr;
    sent_t *sent;
    uint32_t n_sent;
    if (pt == FO_PEER_PT_OPUS) {
        tr = &pl->audio, sent = g_audio, n_sent = g_n_audio;
    } else if (pt == FO_PEER_PT_VP8) {
        tr = &pl->video, sent = g_video, n_sent = g_n_video;
    } else if (pt == FO_PEER_PT_RTX) {
        pl->rtx++; /* retransmissions: not asked for, not counted */
        return;
    } else {
        pl->bad_pt++;
        note(pl, "unexpected payload type %u", pt);
        return;
    }
    if (ssrc != tr->ssrc) {
        pl->bad_ssrc++;
        note(pl, "PT %u on SSRC %u, the answer said %u", pt, ssrc, tr->ssrc);
    }
    uint32_t c = (uint32_t)pay[plen - 4] << 24 | (uint32_t)pay[plen - 3] << 16 |
                 (uint32_t)pay[plen - 2] << 8 | pay[plen - 1];
    if (c >= n_sent || sent[c].len != plen || memcmp(sent[c].payload, pay, plen)) {
        pl->bad_payload++;
        note(pl, "PT %u: payload of %zu bytes (counter %u) matches nothing sent", pt, plen, c);
        return;
    }
    if (tr->got[c]++) {
        pl->dup++;
        return;
    }
    if (tr->have_prev) {
        /* Rewritten or not, seq and ts must move exactly as the publisher's did. */
        if ((uint16_t)(seq - tr->prev_seq) != (uint16_t)(c - tr->prev_counter)) {
            pl->bad_seq++;
            note(pl, "PT %u: seq %u after %u, but counters %u after %u", pt, seq, tr->prev_seq, c,
                 tr->prev_counter);
        }
        if (ts - tr->prev_ts != sent[c].ts - sent[tr->prev_counter].ts) {
            pl->bad_ts++;
            note(pl, "PT %u: ts delta %u from counter %u to %u (sent %lld ms), sent delta %u", pt,
                 ts - tr->prev_ts, tr->prev_counter, c, (long long)sent[c].sent_ms,
                 sent[c].ts - sent[tr->prev_counter].ts);
        }
    }
    tr->have_prev = true;
    tr->prev_seq = seq;
    tr->prev_ts = ts;
    tr->prev_counter = c;
}

/* Counts received/expected packets sent at or after `from_ms` (video: from the first keyframe
 * sent then). */
static void window(const player_t *pl, bool video, int64_t from_ms, uint32_t *got, uint32_t *exp)
{
    const sent_t *s = video ? g_video : g_audio;
    uint32_t n = video ? g_n_video : g_n_audio;
    const track_rx_t *tr = video ? &pl->video : &pl->audio;
    uint32_t i = 0;
    while (i < n && s[i].sent_ms < from_ms) i++;
    if (video)
        while (i < n && !s[i].keyframe) i++;
    *got = *exp = 0;
    for (; i < n; i++) {
        (*exp)++;
        if (tr->got[i]) (*got)++;
    }
}

/* ------------------------------------------------------------------------------------------ */

static void send_garbage(int rtc_port, uint32_t pub_ssrc)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)rtc_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint32_t s = 0x12345678;
    uint8_t buf[1200];
    for (int i = 0; i < GARBAGE_COUNT; i++) {
        size_t len = 1 + xorshift(&s) % sizeof buf;
        for (size_t j = 0; j < len; j++) buf[j] = (uint8_t)xorshift(&s);
        switch (i % 4) {
        case 0: break; /* anything */
        case 1:       /* STUN-looking: cookie, plausible length */
            if (len < 20) len = 20;
            buf[0] &= 0x01;
            buf[2] = (uint8_t)((len - 20) >> 8);
            buf[3] = (uint8_t)((len - 20) & 0xfc);
            memcpy(buf + 4, "\x21\x12\xa4\x42", 4);
            len = 20 + ((len - 20) & ~(size_t)3);
            break;
        case 2: buf[0] = (uint8_t)(20 + buf[0] % 44); break; /* DTLS-looking */
        case 3:                                             /* RTP with the publisher's SSRC */
            if (len < 12) len = 12;
            buf[0] = 0x80;
            buf[1] = i & 4 ? FO_PEER_PT_VP8 : FO_PEER_PT_OPUS;
            for (int k = 0; k < 4; k++) buf[8 + k] = (uint8_t)(pub_ssrc >> (24 - 8 * k));
            break;
        }
        sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof a);
    }
    close(fd);
}

/* The answer's SSRCs are what the player must receive on. */
static void take_answer_ssrcs(player_t *pl)
{
    const fo_peer_media_t *a = fo_peer_answer_media(pl->peer, "audio");
    const fo_peer_media_t *v = fo_peer_answer_media(pl->peer, "video");
    if (!a || !v || !a->ssrc || !v->ssrc)
        die("%s: the answer lacks a=ssrc for audio or video:\n%s", pl->name,
            fo_peer_answer_sdp(pl->peer));
    pl->audio.ssrc = a->ssrc;
    pl->video.ssrc = v->ssrc;
}

static void check_player(player_t *pl, int64_t garbage_ms, char *summary, size_t cap)
{
    if (!pl->connected) die("%s never connected: %s", pl->name, fo_peer_error(pl->peer));
    if (fo_peer_state(pl->peer) == FO_PEER_FAILED)
        die("%s failed: %s", pl->name, fo_peer_error(pl->peer));
    if (pl->bad_ssrc || pl->bad_pt || pl->bad_payload || pl->bad_seq || pl->bad_ts || pl->malformed)
        die("%s: bad ssrc %llu, pt %llu, payload %llu, seq %llu, ts %llu, malformed %llu; "
            "first: %s",
            pl->name, (unsigned long long)pl->bad_ssrc, (unsigned long long)pl->bad_pt,
            (unsigned long long)pl->bad_payload, (unsigned long long)pl->bad_seq,
            (unsigned long long)pl->bad_ts, (unsigned long long)pl->malformed, pl->first_error);
    uint32_t ag, ae, vg, ve, agg, age, vgg, vge;
    window(pl, false, pl->connected_ms, &ag, &ae);
    window(pl, true, pl->connected_ms, &vg, &ve);
    window(pl, false, garbage_ms, &agg, &age);
    window(pl, true, garbage_ms, &vgg, &vge);
    if (ae == 0 || ve == 0) die("%s: nothing was sent after it connected", pl->name);
    if (ag * 10 < ae * 9 || vg * 10 < ve * 9)
        die("%s: received audio %u/%u, video %u/%u (< 90%%)", pl->name, ag, ae, vg, ve);
    if (agg * 10 < age * 9 || vgg * 10 < vge * 9)
        die("%s: after the garbage burst: audio %u/%u, video %u/%u (< 90%%)", pl->name, agg, age,
            vgg, vge);
    snprintf(summary, cap, "%s audio %u/%u video %u/%u (after garbage %u/%u %u/%u)", pl->name, ag,
             ae, vg, ve, agg, age, vgg, vge);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fanout binary> <source dir>\n", argv[0]);
        return 2;
    }
    /* Exact seq/timestamp continuity is checked here, so no instant start (whose fast-forward
     * squeezes the cached frames' timestamps): it_quality covers that. */
    setenv("FANOUT_RTC_INSTANT_START", "0", 1);
    fo_testsrv_start(&g_srv, "it_media", argv[1], argv[2], NULL, 60);
    fo_log_set_level(getenv("IT_DEBUG") ? FO_LOG_DEBUG : FO_LOG_WARN);
    if (fo_srtp_global_init()) die("fo_srtp_global_init");

    int rtc_port = g_srv.rtc_port;
    const char *api = g_srv.api;
    char stream[64];
    snprintf(stream, sizeof stream, "live/it-%d", (int)getpid());

    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    if (!dctx || !stun) die("DTLS context or STUN agent");
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub"};
    fo_peer_t *pub = fo_peer_new(&po);
    if (!pub) die("fo_peer_new");
    if (fo_peer_connect(pub, api, stream, 10000)) die("publisher: %s", fo_peer_error(pub));

    player_t pls[2] = {{.name = "player1"}, {.name = "player2"}};
    for (int i = 0; i < 2; i++) {
        pls[i].audio.got = calloc(MAX_AUDIO, 1);
        pls[i].video.got = calloc(MAX_VIDEO, 1);
        fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = pls[i].name};
        if (!(pls[i].peer = fo_peer_new(&o))) die("fo_peer_new");
        fo_peer_set_recv_cb(pls[i].peer, on_player_rx, &pls[i]);
    }
    /* Player 1 before any media. */
    if (fo_peer_connect(pls[0].peer, api, stream, 10000))
        die("player1: %s", fo_peer_error(pls[0].peer));
    take_answer_ssrcs(&pls[0]);

    sender_t snd = {.pub = pub, .a_seq = 1000, .v_seq = 60000, .a_ts0 = 12345, .v_ts0 = 4000000000u};
    int64_t t0 = fo_peer_now_ms();
    pls[0].connected = true;
    pls[0].connected_ms = 0;
    bool p2_signaled = false, second_pub_done = false, garbage_done = false;
    int64_t garbage_ms = GARBAGE_MS;
    int second_status = 0, second_code = 0;
    for (;;) {
        int64_t t = fo_peer_now_ms() - t0;
        if (t >= MEDIA_MS + DRAIN_MS) break;
        if (t < MEDIA_MS) {
            while ((int64_t)g_n_audio * AUDIO_MS <= t) send_audio(&snd, t);
            while ((int64_t)snd.frame * 1000 / VIDEO_FPS <= t) send_video_frame(&snd, t);
        }
        if (!second_pub_done && t >= SECOND_PUB_MS) {
            second_pub_done = true;
            fo_peer_opts_t o = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub2"};
            fo_peer_t *pub2 = fo_peer_new(&o);
            if (!pub2) die("fo_peer_new");
            if (fo_peer_signal(pub2, api, stream, 5000) == 0)
                die("a second publisher of %s was accepted", stream);
            second_status = fo_peer_http_status(pub2);
            second_code = fo_peer_api_code(pub2);
            if (second_status != 409 || second_code == 0)
                die("second publisher: expected HTTP 409 and a non-zero code, got %d / %d (%s)",
                    second_status, second_code, fo_peer_error(pub2));
            fo_peer_free(pub2);
        }
        if (!p2_signaled && t >= P2_JOIN_MS) {
            p2_signaled = true;
            if (fo_peer_signal(pls[1].peer, api, stream, 5000))
                die("player2: %s", fo_peer_error(pls[1].peer));
            take_answer_ssrcs(&pls[1]);
        }
        if (!garbage_done && t >= GARBAGE_MS) {
            garbage_done = true;
            garbage_ms = t;
            send_garbage(rtc_port, fo_peer_ssrc(pub, "audio"));
        }

        fo_peer_t *peers[3] = {pub, pls[0].peer, p2_signaled ? pls[1].peer : NULL};
        struct pollfd pfd[3];
        nfds_t n = 0;
        for (int i = 0; i < 3; i++)
            if (peers[i]) pfd[n++] = (struct pollfd){.fd = fo_peer_fd(peers[i]), .events = POLLIN};
        poll(pfd, n, 2);
        for (int i = 0; i < 3; i++) {
            if (!peers[i]) continue;
            fo_peer_state_t st = fo_peer_process(peers[i]);
            if (st == FO_PEER_FAILED || st == FO_PEER_CLOSED)
                die("%s: %s", i == 0 ? "publisher" : pls[i - 1].name,
                    st == FO_PEER_CLOSED ? "closed by the server" : fo_peer_error(peers[i]));
        }
        if (p2_signaled && !pls[1].connected && fo_peer_state(pls[1].peer) == FO_PEER_CONNECTED) {
            pls[1].connected = true;
            pls[1].connected_ms = fo_peer_now_ms() - t0;
        }
    }

    char s1[256], s2[256];
    check_player(&pls[0], garbage_ms, s1, sizeof s1);
    check_player(&pls[1], garbage_ms, s2, sizeof s2);
    const fo_peer_stats_t *ps = fo_peer_stats(pub);
    uint64_t consent = ps->consent_ok;

    fo_peer_free(pls[0].peer); /* close_notify */
    fo_peer_free(pls[1].peer);
    fo_peer_free(pub);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_media: OK: sent audio %u video %u; %s; %s; second publisher HTTP %d code %d; "
           "%d garbage datagrams; publisher consent checks answered %llu; server exited 0\n",
           g_n_audio, g_n_video, s1, s2, second_status, second_code, GARBAGE_COUNT,
           (unsigned long long)consent);
    for (uint32_t i = 0; i < g_n_audio; i++) free(g_audio[i].payload);
    for (uint32_t i = 0; i < g_n_video; i++) free(g_video[i].payload);
    for (int i = 0; i < 2; i++) {
        free(pls[i].audio.got);
        free(pls[i].video.got);
    }
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    return 0;
}
