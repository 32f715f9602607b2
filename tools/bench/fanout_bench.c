/* SPDX-License-Identifier: MIT */
/* fanout-bench: WebRTC load from one process against any server speaking the SRS API (in the
 * spirit of srs-bench). One publisher sends a real H.264 baseline + Opus recording (RFC 6184 /
 * RFC 7587, looped, optionally padded with H.264 filler NAL units up to a chosen bitrate); N
 * players join at a chosen rate, each doing ICE, the DTLS client handshake and SRTP, and count
 * packets, bytes, loss (sequence gaps) and time to first packet. One thread, epoll over the
 * peers' sockets (tests/integration/lib/peer.c does the protocol work); the blocking HTTP
 * signaling runs on a small pool of threads (--signal-threads) so many requests are in flight
 * while the loop keeps driving ICE, DTLS and media. Several processes can share one run
 * (--no-publish and --name-offset for all but one; scripts/bench.sh merges their JSON). Stops by
 * itself and prints one JSON summary on stdout; progress goes to stderr.
 *   fanout-bench --api http://127.0.0.1:1985 --players 200 --ramp 100 --duration 20 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clip.h"
#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "peer.h"

#ifndef FO_BENCH_MEDIA
#define FO_BENCH_MEDIA "tests/data/media"
#endif

#define SWEEP_MS 10        /* peer timers (ICE, DTLS, consent) are checked this often */
#define DRAIN_MS 500       /* after the publisher stops, before players close */
#define CONNECT_TIMEOUT_MS 10000
#define SIGNAL_TIMEOUT_MS 5000
#define MAX_ERRORS 8
#define MAX_SIGNAL_THREADS 64

typedef struct {
    int players;
    double ramp;      /* players started per second */
    double duration;  /* seconds of media after the last player started */
    int video_kbps;   /* 0: the recording's own rate */
    const char *api, *stream, *media;
    bool publish, per_player, h264;
    int signal_threads; /* HTTP requests in flight at once */
    int name_offset;    /* first player number (several processes in one run) */
    int rr_ms;          /* each connected player sends an RTCP receiver report this often; 0: never */
    bool gaps;          /* measure inter-packet gaps and forwarding delay (kernel timestamps) */
    double window_from; /* gaps: seconds after the ramp ended when the measuring window opens */
} opts_t;

typedef struct {
    bool started;
    uint16_t first;
    int64_t ext_first, ext_max; /* extended sequence numbers */
    uint64_t packets, bytes;
} track_rx_t;

/* What --gaps measures per player over the window: the largest time between two datagrams the
 * kernel queued for it (any track), the largest forwarding delay (publisher's send to the
 * player's arrival, matched by payload), and loss among the packets received in the window. */
typedef struct {
    int64_t last_ns, max_gap_ns, max_delay_ns;
    uint64_t delays;
    track_rx_t rx[2];
} window_rx_t;

typedef struct {
    fo_peer_t *peer;
    int64_t t_signal, t_answer, t_connected, t_first, t_first_video; /* ms, 0: not yet */
    window_rx_t win;
    uint32_t ssrc[2];                                     /* [0] audio, [1] video */
    track_rx_t rx[2];
    bool failed, closed;
    int64_t t_next_rr; /* when this player sends its next receiver report */
    /* signaling job: body and url written by the loop, status and resp by a pool thread */
    char url[512];
    char *body, *resp;
    int status;
} player_t;

typedef struct {
    fo_peer_t *peer;
    int64_t t0;
    uint64_t frame, audio_pkt;           /* next to send (monotonic; the clip loops) */
    uint16_t vseq, aseq;
    uint32_t vssrc, assi;
    double filler_budget;                /* bytes owed to reach the target rate */
    uint64_t sent[2], bytes[2], fillers; /* [0] audio, [1] video */
    uint8_t pkt[BENCH_RTP_MAX];
    bool marker_pending;
} publisher_t;

static volatile sig_atomic_t g_stop, g_open_window;
static void on_signal(int sig) { (void)sig, g_stop = 1; }
static void on_usr1(int sig) { (void)sig, g_open_window = 1; }

/* --gaps: when the window opens (monotonic ms; 0: not yet known), and when the publisher sent
 * each payload (CLOCK_REALTIME ns, the clock of SO_TIMESTAMPNS), keyed by a hash of it: the
 * server rewrites headers, never payloads. Filler NAL units (all alike) are not keyed. */
#define SENT_SLOTS (1u << 16)
static int64_t g_window_ms;
static bool g_gaps;
static struct {
    uint64_t hash;
    int64_t ns;
} g_sent[SENT_SLOTS];

static uint64_t payload_hash(const uint8_t *p, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ len;
    for (size_t i = 0; i < len && i < 64; i++) h = (h ^ p[i]) * 1099511628211ull;
    for (size_t i = len > 64 ? len - 8 : len; i < len; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h | 1;
}

static bool is_filler(const uint8_t *p, size_t len) { return len && (p[0] & 0x1f) == 12; }

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void note_sent(const uint8_t *payload, size_t len, bool video)
{
    if (!g_gaps || (video && is_filler(payload, len))) return;
    uint64_t h = payload_hash(payload, len);
    g_sent[h & (SENT_SLOTS - 1)].hash = h;
    g_sent[h & (SENT_SLOTS - 1)].ns = realtime_ns();
}

static int64_t now_ms(void) { return fo_peer_now_ms(); }

/* ------------------------------------------------------------------------------------------ */
/* Publisher */

typedef struct {
    publisher_t *pub;
    uint32_t ts;
    bool last_nal; /* the access unit's last NAL: its last packet carries the marker */
} emit_ctx_t;

static void send_video(publisher_t *pub, const uint8_t *payload, size_t len, bool marker,
                       uint32_t ts)
{
    size_t h = fo_rtp_write_header(pub->pkt, FO_PEER_PT_H264, marker, pub->vseq++, ts, pub->vssrc);
    memcpy(pub->pkt + h, payload, len);
    note_sent(payload, len, true);
    if (fo_peer_send_rtp(pub->peer, pub->pkt, h + len) == 0) {
        pub->sent[1]++;
        pub->bytes[1] += h + len;
    }
}

static void emit_cb(void *user, const uint8_t *payload, size_t len, bool last)
{
    emit_ctx_t *e = user;
    send_video(e->pub, payload, len, e->last_nal && last, e->ts);
}

/* Filler data NAL units (H.264 7.3.2.7, type 12: 0xff bytes and the RBSP stop bit) after the
 * frame's slice: decoders skip them; they raise the rate without touching the picture. */
static void send_filler(publisher_t *pub, size_t len, bool marker, uint32_t ts)
{
    uint8_t f[BENCH_RTP_PAYLOAD];
    if (len < 2) len = 2;
    if (len > sizeof f) len = sizeof f;
    f[0] = 12; /* F=0, NRI=0 */
    memset(f + 1, 0xff, len - 2);
    f[len - 1] = 0x80;
    send_video(pub, f, len, marker, ts);
    pub->fillers++;
}

static void send_frame(publisher_t *pub, const bench_clip_t *clip, double filler_per_frame)
{
    const bench_frame_t *fr = &clip->frames[pub->frame % clip->n_frames];
    uint32_t ts = (uint32_t)(pub->frame * (90000 / (uint64_t)clip->fps));
    pub->filler_budget += filler_per_frame;
    size_t n_fill = 0;
    if (pub->filler_budget > BENCH_RTP_PAYLOAD / 2)
        n_fill = (size_t)ceil(pub->filler_budget / BENCH_RTP_PAYLOAD);
    emit_ctx_t e = {pub, ts, false};
    for (size_t i = 0; i < fr->n_nal; i++) {
        const bench_nal_t *n = &clip->nals[fr->first_nal + i];
        e.last_nal = i + 1 == fr->n_nal && n_fill == 0;
        bench_h264_packetize(clip->h264 + n->off, n->len, emit_cb, &e);
    }
    for (size_t i = 0; i < n_fill; i++) {
        size_t len = pub->filler_budget > BENCH_RTP_PAYLOAD ? BENCH_RTP_PAYLOAD
                                                           : (size_t)pub->filler_budget;
        send_filler(pub, len, i + 1 == n_fill, ts);
        pub->filler_budget -= (double)len;
    }
    pub->frame++;
}

static void send_audio(publisher_t *pub, const bench_clip_t *clip, uint32_t ts)
{
    const bench_audio_t *a = &clip->audio[pub->audio_pkt % clip->n_audio];
    size_t h = fo_rtp_write_header(pub->pkt, FO_PEER_PT_OPUS, false, pub->aseq++, ts, pub->assi);
    size_t len = a->len < BENCH_RTP_PAYLOAD ? a->len : BENCH_RTP_PAYLOAD;
    memcpy(pub->pkt + h, clip->opus + a->off, len);
    note_sent(clip->opus + a->off, len, false);
    if (fo_peer_send_rtp(pub->peer, pub->pkt, h + len) == 0) {
        pub->sent[0]++;
        pub->bytes[0] += h + len;
    }
    pub->audio_pkt++;
}

/* Sends what is due at `now`; returns ms until the next packet is due. */
static int64_t publisher_pump(publisher_t *pub, const bench_clip_t *clip, int64_t now,
                              double filler_per_frame, uint32_t *audio_ts)
{
    if (!pub->peer) return 1000;
    int64_t t = now - pub->t0;
    while ((int64_t)(pub->frame * 1000 / (uint64_t)clip->fps) <= t)
        send_frame(pub, clip, filler_per_frame);
    /* Opus packets are 20 ms in the recording; pace by their own durations. */
    while ((int64_t)((uint64_t)*audio_ts / 48) <= t) {
        uint32_t samples = clip->audio[pub->audio_pkt % clip->n_audio].samples;
        send_audio(pub, clip, *audio_ts);
        *audio_ts += samples ? samples : 960;
    }
    int64_t next_v = (int64_t)(pub->frame * 1000 / (uint64_t)clip->fps) - t;
    int64_t next_a = (int64_t)(*audio_ts / 48) - t;
    int64_t next = next_v < next_a ? next_v : next_a;
    return next < 0 ? 0 : next;
}

/* ------------------------------------------------------------------------------------------ */
/* Players */

static void track_rx(track_rx_t *t, uint16_t seq, size_t len)
{
    if (!t->started) {
        t->started = true;
        t->ext_first = t->ext_max = seq;
    } else {
        int64_t ext = t->ext_max + (int16_t)(seq - (uint16_t)t->ext_max);
        if (ext > t->ext_max) t->ext_max = ext;
        if (ext < t->ext_first) t->ext_first = ext;
    }
    t->packets++;
    t->bytes += len;
}

static void window_rx(player_t *pl, int k, const uint8_t *pkt, size_t len, uint16_t seq)
{
    window_rx_t *w = &pl->win;
    int64_t ns = fo_peer_rx_ns(pl->peer);
    if (!ns) return;
    if (w->last_ns && ns - w->last_ns > w->max_gap_ns) w->max_gap_ns = ns - w->last_ns;
    w->last_ns = ns;
    track_rx(&w->rx[k], seq, len);
    fo_rtp_view_t v;
    if (fo_rtp_parse(pkt, len, &v) != 0 || (k == 1 && is_filler(v.payload, v.payload_len))) return;
    uint64_t h = payload_hash(v.payload, v.payload_len);
    if (g_sent[h & (SENT_SLOTS - 1)].hash != h) return;
    int64_t d = ns - g_sent[h & (SENT_SLOTS - 1)].ns;
    if (d > w->max_delay_ns) w->max_delay_ns = d;
    w->delays++;
}

static void player_recv_cb(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    player_t *pl = user;
    (void)p;
    if (is_rtcp || len < 12) return;
    uint32_t ssrc = (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    int k = ssrc == pl->ssrc[1] ? 1 : ssrc == pl->ssrc[0] ? 0 : -1;
    if (k < 0) { /* no a=ssrc in the answer: tell audio from video by the answer's PTs */
        const fo_peer_media_t *m = fo_peer_answer_media(pl->peer, "video");
        k = 0;
        for (size_t i = 0; m && i < m->n_pts; i++)
            if (m->pts[i] == (pkt[1] & 0x7f)) k = 1;
    }
    int64_t now = now_ms();
    if (!pl->t_first) pl->t_first = now;
    if (k == 1 && !pl->t_first_video) pl->t_first_video = now;
    track_rx(&pl->rx[k], seq, len);
    if (g_gaps && g_window_ms && now >= g_window_ms) window_rx(pl, k, pkt, len, seq);
}

static uint64_t track_lost(const track_rx_t *t)
{
    if (!t->started) return 0;
    int64_t expected = t->ext_max - t->ext_first + 1;
    return expected > (int64_t)t->packets ? (uint64_t)(expected - (int64_t)t->packets) : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Summary */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* {"n":..,"p50":..,"p95":..,"max":..} of the non-negative values. */
static void print_dist(const char *name, int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    if (!n) {
        printf("\"%s\":{\"n\":0},", name);
        return;
    }
    printf("\"%s\":{\"n\":%zu,\"p50\":%lld,\"p95\":%lld,\"max\":%lld},", name, n,
           (long long)v[n / 2], (long long)v[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1],
           (long long)v[n - 1]);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        if ((unsigned char)*s < 0x20) continue;
        putchar(*s);
    }
    putchar('"');
}

/* ------------------------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: fanout-bench [options]\n"
            "  --api URL        server API base (default http://127.0.0.1:1985)\n"
            "  --stream APP/S   stream (default live/bench)\n"
            "  --players N      players (default 10)\n"
            "  --ramp R         players started per second (default 50)\n"
            "  --duration S     seconds of media after the last player started (default 10)\n"
            "  --video-kbps K   pad the video with H.264 filler NAL units up to K kbps\n"
            "                   (default 0: the recording's own ~400 kbps)\n"
            "  --no-publish     only play (someone else publishes the stream)\n"
            "  --vp8            players offer VP8 instead of H.264 (with --no-publish)\n"
            "  --media DIR      bench.h264 and bench.opus (default %s)\n"
            "  --per-player     list every session's counts in the summary\n"
            "  --signal-threads N  HTTP signaling requests in flight at once (default 16)\n"
            "  --name-offset N  number players from N+1 (several processes in one run)\n"
            "  --rr-ms MS       each player sends an RTCP receiver report every MS ms, as\n"
            "                   browsers do (default 1000; 0: none)\n"
            "  --gaps           per player, over a window from --window-from S (default 2) s\n"
            "                   after the ramp (S < 0: from a SIGUSR1) to the end: the largest gap\n"
            "                   between arrivals (kernel timestamps), the largest forwarding\n"
            "                   delay (publisher's send to arrival) and the loss (\"window\")\n"
            "Prints one JSON object on stdout when done.\n",
            FO_BENCH_MEDIA);
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){.players = 10, .ramp = 50, .duration = 10, .api = "http://127.0.0.1:1985",
                  .stream = "live/bench", .media = FO_BENCH_MEDIA, .publish = true, .h264 = true, .signal_threads = 16, .rr_ms = 1000,
                  .window_from = 2};
    static const struct option lo[] = {
        {"api", 1, 0, 'a'},        {"stream", 1, 0, 's'},     {"players", 1, 0, 'n'},
        {"ramp", 1, 0, 'r'},       {"duration", 1, 0, 'd'},   {"video-kbps", 1, 0, 'k'},
        {"no-publish", 0, 0, 'P'}, {"media", 1, 0, 'm'},      {"per-player", 0, 0, 'p'},
        {"vp8", 0, 0, '8'},        {"help", 0, 0, 'h'},       {"signal-threads", 1, 0, 'T'},
        {"name-offset", 1, 0, 'O'}, {"rr-ms", 1, 0, 'R'},      {"gaps", 0, 0, 'g'},
        {"window-from", 1, 0, 'w'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'a': o->api = optarg; break;
        case 's': o->stream = optarg; break;
        case 'n': o->players = atoi(optarg); break;
        case 'r': o->ramp = atof(optarg); break;
        case 'd': o->duration = atof(optarg); break;
        case 'k': o->video_kbps = atoi(optarg); break;
        case 'P': o->publish = false; break;
        case 'm': o->media = optarg; break;
        case 'p': o->per_player = true; break;
        case '8': o->h264 = false; break;
        case 'T': o->signal_threads = atoi(optarg); break;
        case 'O': o->name_offset = atoi(optarg); break;
        case 'R': o->rr_ms = atoi(optarg); break;
        case 'g': o->gaps = true; break;
        case 'w': o->window_from = atof(optarg); break;
        default: usage(); return -1;
        }
    }
    if (o->players < 0 || o->ramp <= 0 || o->duration < 0 || o->video_kbps < 0 ||
        o->signal_threads < 1 || o->name_offset < 0 || o->rr_ms < 0) {
        usage();
        return -1;
    }
    return 0;
}

/* "http://host:port/rtc/v1/play/" is accepted too: the base is what precedes "/rtc/". */
static void api_base(const char *api, char *out, size_t cap)
{
    snprintf(out, cap, "%s", api);
    char *r = strstr(out, "/rtc/");
    if (r) *r = '\0';
    size_t n = strlen(out);
    while (n && out[n - 1] == '/') out[--n] = '\0';
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

typedef struct {
    opts_t o;
    char base[256];
    bench_clip_t clip;
    fo_dtls_ctx_t *dtls;
    fo_stun_t *stun;
    int ep;
    publisher_t pub;
    player_t *pl;
    int started;
    char errors[MAX_ERRORS][200];
    int n_errors;
    int64_t t_ramp0, t_ramp_end, t_last_connect, t_media_end;
    /* signaling pool: `todo` and `done` are FIFOs of players (each player passes once) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    player_t **todo, **done;
    size_t todo_head, todo_tail, done_head, done_tail;
    bool pool_stop;
    int done_fd; /* eventfd: answers are waiting in `done` */
    pthread_t threads[MAX_SIGNAL_THREADS];
    int n_threads;
} bench_t;

/* ------------------------------------------------------------------------------------------ */
/* Signaling pool: threads only POST (fo_peer_http_post touches no peer); the loop thread builds
 * the request and takes the answer, so every peer stays on one thread. */

static void *signal_thread(void *arg)
{
    bench_t *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        while (!b->pool_stop && b->todo_head == b->todo_tail) pthread_cond_wait(&b->cv, &b->mu);
        if (b->pool_stop) {
            pthread_mutex_unlock(&b->mu);
            return NULL;
        }
        player_t *pl = b->todo[b->todo_head++];
        pthread_mutex_unlock(&b->mu);
        pl->status = fo_peer_http_post(pl->url, "application/json", pl->body, &pl->resp,
                                       SIGNAL_TIMEOUT_MS);
        pthread_mutex_lock(&b->mu);
        b->done[b->done_tail++] = pl;
        pthread_mutex_unlock(&b->mu);
        uint64_t one = 1;
        if (write(b->done_fd, &one, sizeof one) < 0) { /* counter saturated: still readable */ }
    }
}

static int pool_start(bench_t *b)
{
    size_t n = (size_t)b->o.players + 1;
    b->todo = calloc(n, sizeof *b->todo);
    b->done = calloc(n, sizeof *b->done);
    b->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!b->todo || !b->done || b->done_fd < 0) return -1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &b->done_fd};
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, b->done_fd, &ev) != 0) return -1;
    int want = b->o.signal_threads < MAX_SIGNAL_THREADS ? b->o.signal_threads : MAX_SIGNAL_THREADS;
    for (int i = 0; i < want; i++)
        if (pthread_create(&b->threads[b->n_threads], NULL, signal_thread, b) == 0) b->n_threads++;
    return b->n_threads ? 0 : -1;
}

static void pool_stop(bench_t *b)
{
    if (!b->todo) return;
    pthread_mutex_lock(&b->mu);
    b->pool_stop = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->n_threads; i++) pthread_join(b->threads[i], NULL);
    b->n_threads = 0;
}

static void note_error(bench_t *b, const char *who, const char *msg)
{
    if (b->n_errors < MAX_ERRORS)
        snprintf(b->errors[b->n_errors], sizeof b->errors[0], "%s: %s", who, msg);
    b->n_errors++;
}

static int watch(bench_t *b, fo_peer_t *p, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(b->ep, EPOLL_CTL_ADD, fo_peer_fd(p), &ev);
}

static int start_publisher(bench_t *b)
{
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = b->dtls, .stun = b->stun,
                         .name = "bench-pub", .h264 = true};
    b->pub.peer = fo_peer_new(&po);
    if (!b->pub.peer) return -1;
    if (fo_peer_connect(b->pub.peer, b->base, b->o.stream, CONNECT_TIMEOUT_MS) != 0) {
        note_error(b, "publisher", fo_peer_error(b->pub.peer));
        fprintf(stderr, "fanout-bench: publisher: %s\n", fo_peer_error(b->pub.peer));
        return -1;
    }
    b->pub.vssrc = fo_peer_ssrc(b->pub.peer, "video");
    b->pub.assi = fo_peer_ssrc(b->pub.peer, "audio");
    b->pub.t0 = now_ms();
    return watch(b, b->pub.peer, &b->pub);
}

static void start_player(bench_t *b)
{
    player_t *pl = &b->pl[b->started++];
    char name[32];
    snprintf(name, sizeof name, "bench-play%d", b->o.name_offset + b->started);
    fo_peer_opts_t po = {.role = FO_PEER_PLAY, .dtls = b->dtls, .stun = b->stun, .name = name,
                         .h264 = b->o.h264, .rx_timestamps = b->o.gaps};
    pl->t_signal = now_ms();
    pl->peer = fo_peer_new(&po);
    if (!pl->peer) {
        pl->failed = true;
        note_error(b, name, "cannot create peer");
        return;
    }
    fo_peer_set_recv_cb(pl->peer, player_recv_cb, pl);
    pl->body = fo_peer_signal_request(pl->peer, b->base, b->o.stream, pl->url, sizeof pl->url);
    if (!pl->body) {
        pl->failed = true;
        note_error(b, name, fo_peer_error(pl->peer));
        return;
    }
    pthread_mutex_lock(&b->mu);
    b->todo[b->todo_tail++] = pl;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* A pool thread has the player's HTTP answer: parse it and start ICE (loop thread). */
static void player_answered(bench_t *b, player_t *pl)
{
    int rc = fo_peer_signal_answer(pl->peer, pl->url, pl->status, pl->resp);
    free(pl->body);
    free(pl->resp);
    pl->body = pl->resp = NULL;
    if (rc != 0 || watch(b, pl->peer, pl) != 0) {
        pl->failed = true;
        note_error(b, "player", fo_peer_error(pl->peer));
        return;
    }
    pl->t_answer = now_ms();
    const fo_peer_media_t *a = fo_peer_answer_media(pl->peer, "audio");
    const fo_peer_media_t *v = fo_peer_answer_media(pl->peer, "video");
    pl->ssrc[0] = a ? a->ssrc : 0;
    pl->ssrc[1] = v ? v->ssrc : 0;
}

/* Runs fo_peer_process on a player and notes state changes. */
static void service_player(bench_t *b, player_t *pl)
{
    if (!pl->peer || pl->failed || pl->closed) return;
    fo_peer_state_t st = fo_peer_process(pl->peer);
    if (st == FO_PEER_CONNECTED && !pl->t_connected) {
        pl->t_connected = now_ms();
        b->t_last_connect = pl->t_connected;
    } else if (st == FO_PEER_FAILED) {
        pl->failed = true;
        note_error(b, "player", fo_peer_error(pl->peer));
    } else if (st == FO_PEER_CLOSED) {
        pl->closed = true;
    }
}

/* A receiver report as browsers send one about every second, audio and video, whether or not
 * media arrives: the server sees the players' RTCP (and, with it, that they completed DTLS). */
static void send_rr(bench_t *b, player_t *pl, int index, int64_t now)
{
    fo_rtcp_report_t r[2];
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        const track_rx_t *t = &pl->rx[k];
        if (!t->started || !pl->ssrc[k]) continue;
        uint64_t lost = track_lost(t);
        r[n++] = (fo_rtcp_report_t){.ssrc = pl->ssrc[k],
                                    .cumulative_lost = lost > 0x7fffff ? 0x7fffff : (int32_t)lost,
                                    .highest_seq = (uint32_t)t->ext_max};
    }
    uint8_t buf[128];
    int len = fo_rtcp_build_rr(buf, sizeof buf, 0x10000u + (uint32_t)index, r, n);
    if (len > 0) fo_peer_send_rtcp(pl->peer, buf, (size_t)len);
    pl->t_next_rr = now + b->o.rr_ms;
}

static void sweep_timers(bench_t *b)
{
    int64_t now = b->o.rr_ms > 0 ? now_ms() : 0;
    for (int i = 0; i < b->started; i++) {
        player_t *pl = &b->pl[i];
        if (now && pl->t_connected && !pl->failed && !pl->closed && now >= pl->t_next_rr)
            send_rr(b, pl, b->o.name_offset + i, now);
        if (pl->peer && !pl->failed && !pl->closed && fo_peer_timeout_ms(pl->peer) == 0)
            service_player(b, pl);
    }
    if (b->pub.peer && fo_peer_timeout_ms(b->pub.peer) == 0) fo_peer_process(b->pub.peer);
}

static void take_answers(bench_t *b)
{
    uint64_t v;
    if (read(b->done_fd, &v, sizeof v) < 0) { /* EAGAIN: another wake-up took them */ }
    for (;;) {
        pthread_mutex_lock(&b->mu);
        player_t *pl = b->done_head < b->done_tail ? b->done[b->done_head++] : NULL;
        pthread_mutex_unlock(&b->mu);
        if (!pl) return;
        player_answered(b, pl);
    }
}

/* The main loop: ramp, media, receive, until the end or a signal. */
static void run(bench_t *b)
{
    double vbps = bench_clip_video_bps(&b->clip);
    double filler_per_frame = 0;
    if (b->o.video_kbps && b->o.video_kbps * 1000.0 > vbps)
        filler_per_frame = (b->o.video_kbps * 1000.0 - vbps) / 8.0 / b->clip.fps;
    uint32_t audio_ts = 0;
    int64_t ramp_ms = (int64_t)(b->o.players * 1000.0 / b->o.ramp);
    b->t_ramp0 = now_ms();
    int64_t end = b->t_ramp0 + ramp_ms + (int64_t)(b->o.duration * 1000);
    int64_t next_sweep = 0, next_progress = b->t_ramp0 + 2000;
    bool pub_on = b->pub.peer != NULL;
    struct epoll_event evs[256];
    while (!g_stop) {
        int64_t now = now_ms();
        if (now >= end) break;
        /* Ramp: start whoever is due, a few at a time so receiving is not starved. */
        for (int k = 0; k < 8 && b->started < b->o.players &&
                        b->t_ramp0 + (int64_t)(b->started * 1000.0 / b->o.ramp) <= now;
             k++)
            start_player(b);
        if (b->started == b->o.players && !b->t_ramp_end) {
            b->t_ramp_end = now_ms();
            if (b->o.window_from >= 0) g_window_ms = b->t_ramp_end + (int64_t)(b->o.window_from * 1000);
        }
        if (g_open_window && !g_window_ms) g_window_ms = now_ms(); /* SIGUSR1 */
        int64_t wait = SWEEP_MS;
        if (pub_on) {
            int64_t w = publisher_pump(&b->pub, &b->clip, now_ms(), filler_per_frame, &audio_ts);
            if (w < wait) wait = w;
        }
        if (now >= next_sweep) {
            sweep_timers(b);
            next_sweep = now + SWEEP_MS;
        }
        if (b->started < b->o.players) wait = wait > 1 ? 1 : wait;
        int n = epoll_wait(b->ep, evs, 256, (int)wait);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &b->pub)
                fo_peer_process(b->pub.peer);
            else if (evs[i].data.ptr == &b->done_fd)
                take_answers(b);
            else
                service_player(b, evs[i].data.ptr);
        }
        if (now >= next_progress) {
            int conn = 0;
            for (int i = 0; i < b->started; i++) conn += b->pl[i].t_connected != 0;
            fprintf(stderr, "fanout-bench: %d/%d started, %d connected, %d failed\n", b->started,
                    b->o.players, conn, b->n_errors);
            next_progress = now + 2000;
        }
    }
    /* Stop the media, let what is in flight arrive, then close everyone. */
    b->t_media_end = now_ms();
    int64_t drain_end = now_ms() + DRAIN_MS;
    while (now_ms() < drain_end) {
        int n = epoll_wait(b->ep, evs, 256, 20);
        for (int i = 0; i < n; i++)
            if (evs[i].data.ptr != &b->pub && evs[i].data.ptr != &b->done_fd)
                service_player(b, evs[i].data.ptr);
    }
}

static double p_media_s(const bench_t *b)
{
    return b->pub.t0 && b->t_media_end > b->pub.t0 ? (b->t_media_end - b->pub.t0) / 1000.0 : 0;
}

/* "window":{...}: the --gaps measurements, per-player maxima as distributions over players. */
static void print_window(const bench_t *b)
{
    int n = b->started;
    int64_t *gap = calloc((size_t)n + 1, sizeof *gap), *delay = calloc((size_t)n + 1, sizeof *delay);
    size_t ng = 0, nd = 0;
    uint64_t rtp = 0, lost = 0;
    int at_open = 0;
    for (int i = 0; i < n; i++)
        at_open += b->pl[i].t_connected && g_window_ms && b->pl[i].t_connected <= g_window_ms;
    for (int i = 0; gap && delay && i < n; i++) {
        const window_rx_t *w = &b->pl[i].win;
        if (!w->last_ns) continue;
        gap[ng++] = w->max_gap_ns / 1000;
        if (w->delays) delay[nd++] = w->max_delay_ns / 1000;
        for (int k = 0; k < 2; k++) {
            rtp += w->rx[k].packets;
            lost += track_lost(&w->rx[k]);
        }
    }
    printf("\"window\":{\"from_s\":%.1f,\"s\":%.2f,\"connected_at_open\":%d,",
           b->o.window_from, g_window_ms && b->t_media_end > g_window_ms ? (b->t_media_end - g_window_ms) / 1000.0 : 0,
           at_open);
    print_dist("max_gap_us", gap, ng);
    print_dist("max_delay_us", delay, nd);
    printf("\"rtp\":%llu,\"lost\":%llu,\"loss_pct\":%.4f},", (unsigned long long)rtp,
           (unsigned long long)lost, rtp + lost ? 100.0 * (double)lost / (double)(rtp + lost) : 0);
    free(gap), free(delay);
}

static void summary(bench_t *b, double elapsed_s)
{
    const opts_t *o = &b->o;
    int n = b->started, connected = 0, failed = 0;
    int64_t *conn = calloc((size_t)n + 1, sizeof *conn), *ttfp = calloc((size_t)n + 1, sizeof *ttfp);
    int64_t *ttfv = calloc((size_t)n + 1, sizeof *ttfv), *sig = calloc((size_t)n + 1, sizeof *sig);
    size_t nc = 0, nf = 0, nv = 0, ns = 0;
    uint64_t rtp = 0, bytes = 0, lost = 0, got_media = 0;
    for (int i = 0; i < n; i++) {
        player_t *pl = &b->pl[i];
        if (pl->t_connected) {
            connected++;
            if (conn) conn[nc++] = pl->t_connected - pl->t_signal;
        }
        if (pl->failed) failed++;
        if (pl->t_answer && sig) sig[ns++] = pl->t_answer - pl->t_signal;
        if (pl->t_first && ttfp) ttfp[nf++] = pl->t_first - pl->t_signal;
        if (pl->t_first_video && ttfv) ttfv[nv++] = pl->t_first_video - pl->t_signal;
        for (int k = 0; k < 2; k++) {
            rtp += pl->rx[k].packets;
            bytes += pl->rx[k].bytes;
            lost += track_lost(&pl->rx[k]);
        }
        got_media += pl->t_first != 0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double setup_s = b->t_last_connect > b->t_ramp0 ? (b->t_last_connect - b->t_ramp0) / 1000.0 : 0;
    double media_s = p_media_s(b);
    printf("{\"tool\":\"fanout-bench\",\"api\":");
    json_str(b->base);
    printf(",\"stream\":");
    json_str(o->stream);
    printf(",\"players\":%d,\"started\":%d,\"connected\":%d,\"failed\":%d,\"with_media\":%llu,",
           o->players, n, connected, failed, (unsigned long long)got_media);
    printf("\"ramp_per_s\":%.1f,\"duration_s\":%.1f,\"elapsed_s\":%.2f,", o->ramp, o->duration,
           elapsed_s);
    printf("\"setup_per_s\":%.1f,", setup_s > 0 ? connected / setup_s : 0);
    print_dist("signal_ms", sig, ns);
    print_dist("connect_ms", conn, nc);
    print_dist("ttfp_ms", ttfp, nf);
    print_dist("ttfp_video_ms", ttfv, nv);
    if (o->gaps) print_window(b);
    const publisher_t *p = &b->pub;
    printf("\"publisher\":{\"connected\":%s,\"rtp_audio\":%llu,\"rtp_video\":%llu,"
           "\"bytes\":%llu,\"fillers\":%llu,\"media_s\":%.3f,\"kbps\":%.1f,"
           "\"clip_video_kbps\":%.1f,\"session\":",
           p->peer && p->t0 ? "true" : "false", (unsigned long long)p->sent[0],
           (unsigned long long)p->sent[1], (unsigned long long)(p->bytes[0] + p->bytes[1]),
           (unsigned long long)p->fillers, media_s,
           p->t0 && media_s > 0 ? (p->bytes[0] + p->bytes[1]) * 8.0 / media_s / 1000.0 : 0,
           bench_clip_video_bps(&b->clip) / 1000.0);
    json_str(p->peer ? fo_peer_session_id(p->peer) : "");
    printf("},");
    printf("\"received\":{\"rtp\":%llu,\"bytes\":%llu,\"lost\":%llu,\"loss_pct\":%.4f},",
           (unsigned long long)rtp, (unsigned long long)bytes, (unsigned long long)lost,
           rtp + lost ? 100.0 * (double)lost / (double)(rtp + lost) : 0);
    printf("\"cpu_s\":{\"user\":%.3f,\"sys\":%.3f},",
           ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
           ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    printf("\"errors\":[");
    for (int i = 0; i < b->n_errors && i < MAX_ERRORS; i++) {
        if (i) putchar(',');
        json_str(b->errors[i]);
    }
    printf("]");
    if (o->per_player) {
        printf(",\"sessions\":[");
        for (int i = 0; i < n; i++) {
            player_t *pl = &b->pl[i];
            printf("%s{\"id\":", i ? "," : "");
            json_str(pl->peer ? fo_peer_session_id(pl->peer) : "");
            printf(",\"connected\":%s,\"rtp_audio\":%llu,\"rtp_video\":%llu,\"lost\":%llu}",
                   pl->t_connected ? "true" : "false", (unsigned long long)pl->rx[0].packets,
                   (unsigned long long)pl->rx[1].packets,
                   (unsigned long long)(track_lost(&pl->rx[0]) + track_lost(&pl->rx[1])));
        }
        printf("]");
    }
    printf("}\n");
    fflush(stdout);
    free(conn), free(ttfp), free(ttfv), free(sig);
}

int main(int argc, char **argv)
{
    bench_t *b = calloc(1, sizeof *b);
    if (!b || parse_opts(argc, argv, &b->o) != 0) return 2;
    fo_log_set_level(FO_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGUSR1, on_usr1);
    raise_fd_limit();
    api_base(b->o.api, b->base, sizeof b->base);
    char err[256];
    int rc = 1;
    if (b->o.publish && bench_clip_load(&b->clip, b->o.media, 30, err, sizeof err) != 0) {
        fprintf(stderr, "fanout-bench: %s\n", err);
        return 2;
    }
    g_gaps = b->o.gaps;
    b->pl = calloc((size_t)b->o.players + 1, sizeof *b->pl);
    b->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!b->pl || b->ep < 0 || fo_srtp_global_init() != 0) goto out;
    b->dtls = fo_dtls_ctx_new(NULL, NULL);
    b->stun = fo_stun_new();
    if (!b->dtls || !b->stun) goto out;
    int64_t t0 = now_ms();
    if (pool_start(b) != 0) goto out;
    if (b->o.publish && start_publisher(b) != 0) goto out;
    run(b);
    pool_stop(b); /* requests still in flight finish (bounded by their timeout) */
    summary(b, (now_ms() - t0) / 1000.0);
    rc = b->n_errors ? 1 : 0;
out:
    pool_stop(b);
    for (int i = 0; b->pl && i < b->started; i++) { /* close_notify */
        fo_peer_free(b->pl[i].peer);
        free(b->pl[i].body);
        free(b->pl[i].resp);
    }
    fo_peer_free(b->pub.peer);
    fo_stun_free(b->stun);
    fo_dtls_ctx_free(b->dtls);
    if (b->ep >= 0) close(b->ep);
    fo_srtp_global_shutdown();
    bench_clip_free(&b->clip);
    free(b->pl);
    free(b->todo);
    free(b->done);
    if (b->done_fd > 0) close(b->done_fd);
    free(b);
    return rc;
}
