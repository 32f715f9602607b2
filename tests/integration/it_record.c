/* SPDX-License-Identifier: MIT */
/* Recording, end to end on loopback: the fanout binary (argv[1], source dir argv[2]) records
 * what the C peer publishes, and ffprobe/ffmpeg judge the file. argv[3] picks the scenario:
 *   h264      the committed H.264 + Opus recording (4 s, with RTCP SRs): codecs, duration within
 *             2 %, A/V start offset <= 40 ms, every frame sent is in the file, decodes clean,
 *             on_record's body arrives at a callback server, the API lists the file;
 *   vp8       the committed VP8 clip + Opus: the same checks on a WebM file;
 *   rotate    record.segment_s=1: several files, each from a keyframe, every frame in one;
 *   loss      H.264 + Opus with 5 % of the packets dropped at the publisher and repaired by
 *             NACK: the file decodes without a single error (ffmpeg -v error prints nothing);
 *   kill      SIGKILL while recording: the file plays up to its last fragment, without errors;
 *   diskfull  record.dir on a tiny tmpfs (root): "No space left on device" stops the recording
 *             (log, API, /metrics), the file keeps its whole fragments, the stream goes on;
 *   unwritable record.dir is a regular file: the recording fails with the documented error in
 *             the log, /api/v1 and /metrics, and a player keeps receiving the stream;
 *   hostile   stream names that look like paths, and a symlink planted inside record.dir, cannot
 *             make the recorder write outside record.dir.
 * One process and one server per scenario, alarm(90); the server is always stopped. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
#include "testsrv.h"

#define die(...) fo_test_fail(__VA_ARGS__)
#define MEDIA_S 4
#define FPS 30
#define HIST 4096 /* packets kept by the publisher for NACKs */

static fo_testsrv_t g_srv;
static char g_dir[256];    /* record.dir */
static const char *g_scn;
static const char *g_bin, *g_src;

/* ------------------------------------------------------------------------------------------ */
/* Media: the H.264 recording (tools/bench/clip.c) or the VP8 clip (IVF), and Opus. */

typedef struct {
    size_t off, len;
    bool key;
} vp8_frame_t;

typedef struct {
    bench_clip_t clip;
    bool vp8;
    uint8_t *ivf;
    vp8_frame_t vf[512];
    size_t n_vf;
} media_t;

static void load_ivf(media_t *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot read %s", path);
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n < 32 || memcmp(buf, "DKIF", 4) != 0) die("%s is not IVF", path);
    m->ivf = buf;
    for (size_t pos = 32; pos + 12 <= n && m->n_vf < 512;) {
        size_t len = (size_t)buf[pos] | (size_t)buf[pos + 1] << 8 | (size_t)buf[pos + 2] << 16 |
                     (size_t)buf[pos + 3] << 24;
        if (pos + 12 + len > n) break;
        m->vf[m->n_vf++] = (vp8_frame_t){pos + 12, len, (buf[pos + 12] & 1) == 0};
        pos += 12 + len;
    }
}

typedef struct {
    uint8_t pkt[1300];
    size_t len;
} stored_t;

typedef struct {
    fo_peer_t *peer;
    media_t *m;
    uint16_t vseq, aseq;
    uint32_t vssrc, assrc, vts0, ats0;
    int64_t t0;
    size_t frame, audio;
    double loss;          /* fraction of first sends dropped */
    uint32_t rnd;
    stored_t vhist[HIST], ahist[HIST];
    uint64_t sent, dropped, resent;
} pub_t;

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void send_pkt(pub_t *p, bool video, const uint8_t *pkt, size_t len)
{
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    stored_t *s = &(video ? p->vhist : p->ahist)[seq % HIST];
    memcpy(s->pkt, pkt, len);
    s->len = len;
    p->sent++;
    if (p->loss > 0 && (double)(xorshift(&p->rnd) % 10000) < p->loss * 10000) {
        p->dropped++; /* "lost on the way": the server will ask for it */
        return;
    }
    if (fo_peer_send_rtp(p->peer, pkt, len) != 0) die("publisher: send failed");
}

static void send_video_payload(pub_t *p, const uint8_t *pl, size_t n, bool marker, uint32_t ts)
{
    uint8_t pkt[12 + BENCH_RTP_PAYLOAD];
    size_t h = fo_rtp_write_header(pkt, p->m->vp8 ? FO_PEER_PT_VP8 : FO_PEER_PT_H264, marker, p->vseq++,
                                   ts, p->vssrc);
    memcpy(pkt + h, pl, n);
    send_pkt(p, true, pkt, h + n);
}

typedef struct {
    pub_t *p;
    uint32_t ts;
    bool last_nal;
} emit_t;

static void emit_cb(void *user, const uint8_t *payload, size_t len, bool last)
{
    emit_t *e = user;
    send_video_payload(e->p, payload, len, e->last_nal && last, e->ts);
}

static void send_frame(pub_t *p)
{
    uint32_t ts = p->vts0 + (uint32_t)(p->frame * (90000 / FPS));
    if (p->m->vp8) { /* RFC 7741: a 1-byte descriptor, S on the first packet, PID 0 */
        const vp8_frame_t *f = &p->m->vf[p->frame];
        const uint8_t *d = p->m->ivf + f->off;
        uint8_t pl[BENCH_RTP_PAYLOAD];
        for (size_t off = 0; off < f->len;) {
            size_t n = f->len - off < BENCH_RTP_PAYLOAD - 1 ? f->len - off : BENCH_RTP_PAYLOAD - 1;
            pl[0] = off == 0 ? 0x10 : 0x00;
            memcpy(pl + 1, d + off, n);
            off += n;
            send_video_payload(p, pl, n + 1, off == f->len, ts);
        }
    } else {
        const bench_clip_t *c = &p->m->clip;
        const bench_frame_t *fr = &c->frames[p->frame];
        emit_t e = {p, ts, false};
        for (size_t i = 0; i < fr->n_nal; i++) {
            const bench_nal_t *n = &c->nals[fr->first_nal + i];
            e.last_nal = i + 1 == fr->n_nal;
            bench_h264_packetize(c->h264 + n->off, n->len, emit_cb, &e);
        }
    }
    p->frame++;
}

static void send_audio(pub_t *p)
{
    const bench_clip_t *c = &p->m->clip;
    const bench_audio_t *a = &c->audio[p->audio % c->n_audio];
    uint8_t pkt[12 + BENCH_RTP_PAYLOAD];
    size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, p->aseq++, p->ats0 + (uint32_t)(p->audio * 960),
                                   p->assrc);
    memcpy(pkt + h, c->opus + a->off, a->len);
    send_pkt(p, false, pkt, h + a->len);
    p->audio++;
}

static uint64_t unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* SRs for both tracks: the same wall clock against each track's RTP clock (A/V sync). */
static void send_srs(pub_t *p)
{
    int64_t el = fo_peer_now_ms() - p->t0;
    uint64_t ntp = fo_ntp_from_unix_us(unix_us());
    uint8_t buf[64];
    int n = fo_rtcp_build_sr(buf, sizeof buf, p->vssrc, ntp, p->vts0 + (uint32_t)(el * 90), 0, 0, NULL, 0);
    if (n > 0) fo_peer_send_rtcp(p->peer, buf, (size_t)n);
    n = fo_rtcp_build_sr(buf, sizeof buf, p->assrc, ntp, p->ats0 + (uint32_t)(el * 48), 0, 0, NULL, 0);
    if (n > 0) fo_peer_send_rtcp(p->peer, buf, (size_t)n);
}

/* The server's NACKs: resend from what we kept (plain retransmission, RFC 4585). */
static void pub_rx(void *user, fo_peer_t *peer, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    pub_t *p = user;
    if (!is_rtcp) return;
    fo_rtcp_pkt_t pk[16];
    size_t n = 0;
    fo_rtcp_parse(pkt, len, pk, 16, &n);
    for (size_t i = 0; i < n; i++) {
        if (pk[i].pt != FO_RTCP_RTPFB || pk[i].count != FO_RTCP_FMT_NACK) continue;
        bool video = pk[i].media_ssrc == p->vssrc;
        uint16_t seqs[256];
        size_t ns = fo_rtcp_nack_seqs(&pk[i], seqs, 256);
        for (size_t k = 0; k < ns; k++) {
            stored_t *s = &(video ? p->vhist : p->ahist)[seqs[k] % HIST];
            if (!s->len || (uint16_t)(s->pkt[2] << 8 | s->pkt[3]) != seqs[k]) continue;
            fo_peer_send_rtp(peer, s->pkt, s->len);
            p->resent++;
        }
    }
}

/* Publishes `seconds` of media in real time; `kill_at_ms` > 0 SIGKILLs the server then. */
static void publish(fo_peer_t *peer, media_t *m, double loss, int seconds, int kill_at_ms, pub_t *p)
{
    memset(p, 0, sizeof *p);
    p->peer = peer;
    p->m = m;
    p->vseq = 20000;
    p->aseq = 65000; /* wraps during the test */
    p->vssrc = fo_peer_ssrc(peer, "video");
    p->assrc = fo_peer_ssrc(peer, "audio");
    p->vts0 = 4294000000u; /* wraps too */
    p->ats0 = 12345;
    p->loss = loss;
    p->rnd = 0x2545f491;
    fo_peer_set_recv_cb(peer, pub_rx, p);
    size_t frames = m->vp8 ? m->n_vf : m->clip.n_frames;
    if ((size_t)seconds * FPS < frames) frames = (size_t)seconds * FPS;
    p->t0 = fo_peer_now_ms();
    int64_t next_sr = 0; /* the first SRs right after the first packets, as browsers do */
    for (;;) {
        int64_t t = fo_peer_now_ms() - p->t0;
        if (t >= (int64_t)frames * 1000 / FPS + 600) break;
        if (kill_at_ms && t >= kill_at_ms) {
            kill(g_srv.pid, SIGKILL);
            waitpid(g_srv.pid, NULL, 0);
            g_srv.pid = -1;
            return;
        }
        while (p->frame < frames && (int64_t)p->frame * 1000 / FPS <= t) send_frame(p);
        while ((int64_t)p->audio * 20 <= t && (int64_t)p->audio * 20 < (int64_t)frames * 1000 / FPS) send_audio(p);
        if (t >= next_sr) {
            send_srs(p);
            next_sr += 500;
        }
        struct pollfd pfd = {.fd = fo_peer_fd(peer), .events = POLLIN};
        poll(&pfd, 1, 2);
        fo_peer_state_t st = fo_peer_process(peer);
        if (st == FO_PEER_FAILED || st == FO_PEER_CLOSED) die("publisher: %s", fo_peer_error(peer));
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Judging files */

/* Runs a shell command, returns its stdout (malloc'd) and exit status. */
static char *run(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    if (!f) die("popen %s", cmd);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - 1 - len, f)) > 0) {
        len += n;
        if (len + 1 == cap) out = realloc(out, cap *= 2);
    }
    out[len] = '\0';
    int st = pclose(f);
    if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

typedef struct {
    char vcodec[16], acodec[16];
    long vframes, aframes;
    double vstart, astart, duration;
    int width, height;
    double fps;
} probe_t;

static void probe(const char *file, probe_t *pr)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_frames -show_entries "
             "stream=codec_type,codec_name,nb_read_frames,start_time,width,height,avg_frame_rate:"
             "format=duration -of json '%.900s'", file);
    int st;
    char *out = run(cmd, &st);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    if (st != 0 || !j) die("ffprobe %s failed (%d): %s", file, st, out);
    memset(pr, 0, sizeof *pr);
    json_t *streams = json_object_get(j, "streams");
    for (size_t i = 0; i < json_array_size(streams); i++) {
        json_t *s = json_array_get(streams, i);
        const char *type = json_string_value(json_object_get(s, "codec_type"));
        const char *name = json_string_value(json_object_get(s, "codec_name"));
        const char *nf = json_string_value(json_object_get(s, "nb_read_frames"));
        const char *start = json_string_value(json_object_get(s, "start_time"));
        bool video = type && strcmp(type, "video") == 0;
        snprintf(video ? pr->vcodec : pr->acodec, 16, "%s", name ? name : "");
        *(video ? &pr->vframes : &pr->aframes) = nf ? atol(nf) : -1;
        *(video ? &pr->vstart : &pr->astart) = start ? atof(start) : 0;
        if (video) {
            pr->width = (int)json_integer_value(json_object_get(s, "width"));
            pr->height = (int)json_integer_value(json_object_get(s, "height"));
            const char *r = json_string_value(json_object_get(s, "avg_frame_rate"));
            int a = 0, b = 1;
            if (r && sscanf(r, "%d/%d", &a, &b) == 2 && b) pr->fps = (double)a / b;
        }
    }
    const char *d = json_string_value(json_object_get(json_object_get(j, "format"), "duration"));
    pr->duration = d ? atof(d) : 0;
    json_decref(j);
    free(out);
}

/* `ffmpeg -v error -i file -f null -` prints nothing for a file that decodes cleanly. */
static void decodes_clean(const char *file)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%.900s' -f null - 2>&1", file);
    int st;
    char *out = run(cmd, &st);
    if (st != 0 || out[0]) die("%s does not decode cleanly (exit %d):\n%s", file, st, out);
    free(out);
}

/* The files under dir (recursively), one path per call; returns how many. */
static int find_files(const char *dir, char out[][512], int max)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "find '%.500s' -type f | sort", dir);
    char *list = run(cmd, NULL);
    int n = 0;
    for (char *save = NULL, *l = strtok_r(list, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
        snprintf(out[n++], 512, "%s", l);
    free(list);
    return n;
}

static void wait_log(const char *needle, int count, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (fo_testsrv_log_count(&g_srv, needle) >= count) return;
        usleep(20000);
    }
    die("no \"%s\" in the server log after %d ms", needle, ms);
}

static char *http(const char *method, const char *path, int *status)
{
    char url[300], *body = NULL;
    snprintf(url, sizeof url, "%s%s", g_srv.api, path);
    *status = fo_peer_http_request(method, url, NULL, NULL, NULL, &body, 5000);
    return body ? body : strdup("");
}

/* ------------------------------------------------------------------------------------------ */
/* on_record: a one-shot HTTP server on loopback that keeps the first body it gets. */

typedef struct {
    int fd, port;
    char body[8192];
    pthread_t th;
} hook_t;

static void *hook_main(void *arg)
{
    hook_t *h = arg;
    int c = accept(h->fd, NULL, NULL);
    if (c < 0) return NULL;
    char buf[16384];
    size_t len = 0;
    for (int i = 0; i < 200 && len < sizeof buf - 1; i++) {
        ssize_t n = recv(c, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = '\0';
        char *b = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "Content-Length:");
        if (b && cl && (size_t)(buf + len - (b + 4)) >= (size_t)atol(cl + 15)) {
            snprintf(h->body, sizeof h->body, "%s", b + 4);
            break;
        }
    }
    const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n"
                      "Connection: close\r\n\r\n{\"code\":0}";
    send(c, ok, sizeof ok - 1, MSG_NOSIGNAL);
    close(c);
    return NULL;
}

static void hook_start(hook_t *h)
{
    memset(h, 0, sizeof *h);
    h->port = fo_test_free_port(SOCK_STREAM);
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(h->fd, (struct sockaddr *)&a, sizeof a) || listen(h->fd, 4)) die("hook server: %s", strerror(errno));
    pthread_create(&h->th, NULL, hook_main, h);
}

/* ------------------------------------------------------------------------------------------ */

/* The peers' shared DTLS context and STUN agent, and the committed H.264 + Opus recording. */
static media_t *setup(fo_dtls_ctx_t **d, fo_stun_t **s)
{
    *d = fo_dtls_ctx_new(NULL, NULL);
    *s = fo_stun_new();
    media_t *m = calloc(1, sizeof *m);
    char err[256], path[600];
    snprintf(path, sizeof path, "%s/tests/data/media", g_src);
    if (!*d || !*s || !m || bench_clip_load(&m->clip, path, FPS, err, sizeof err)) die("set-up: %s", err);
    return m;
}

static void teardown(media_t *m, fo_dtls_ctx_t *d, fo_stun_t *s)
{
    bench_clip_free(&m->clip);
    free(m);
    fo_stun_free(s);
    fo_dtls_ctx_free(d);
}

static void start_server(const char *const *more)
{
    static char set_dir[300];
    snprintf(set_dir, sizeof set_dir, "record.dir=%.250s", g_dir);
    const char *extra[24] = {"--set", "record.enabled=true", "--set", set_dir};
    size_t n = 4;
    for (size_t i = 0; more && more[i] && n < 23; i++) extra[n++] = more[i];
    extra[n] = NULL;
    fo_testsrv_start(&g_srv, "it_record", g_bin, g_src, extra, 90);
}

static fo_peer_t *connect_pub(fo_dtls_ctx_t *d, fo_stun_t *s, const char *stream, bool h264, bool nack_audio)
{
    fo_peer_opts_t o = {.role = FO_PEER_PUBLISH, .dtls = d, .stun = s, .name = "pub", .h264 = h264,
                        .no_rtx = true, .audio_nack = nack_audio};
    fo_peer_t *p = fo_peer_new(&o);
    if (!p || fo_peer_connect(p, g_srv.api, stream, 10000)) die("publisher: %s", p ? fo_peer_error(p) : "new");
    return p;
}

/* The one recording file of the scenario, checked against what was sent. */
static void check_recording(const char *ext, const char *vcodec, const pub_t *p, probe_t *pr, char *file)
{
    char files[8][512];
    int n = find_files(g_dir, files, 8);
    if (n != 1) die("expected one file under %s, found %d", g_dir, n);
    snprintf(file, 512, "%s", files[0]);
    if (!strstr(file, ext)) die("%s: not a .%s file", file, ext);
    probe(file, pr);
    double sent_s = (double)p->frame / FPS;
    if (strcmp(pr->vcodec, vcodec) != 0 || strcmp(pr->acodec, "opus") != 0)
        die("%s: codecs %s + %s, expected %s + opus", file, pr->vcodec, pr->acodec, vcodec);
    if (pr->vframes != (long)p->frame) die("%s: %ld video frames, %zu sent", file, pr->vframes, p->frame);
    if (pr->duration < sent_s * 0.98 || pr->duration > sent_s * 1.02)
        die("%s: duration %.3f s, sent %.3f s (more than 2%% off)", file, pr->duration, sent_s);
    double off = pr->vstart - pr->astart;
    if (off > 0.040 || off < -0.040)
        die("%s: audio starts at %.3f s, video at %.3f s (more than 40 ms apart)", file, pr->astart, pr->vstart);
    if (pr->aframes < (long)p->audio * 95 / 100)
        die("%s: %ld audio frames, %zu sent", file, pr->aframes, p->audio);
    decodes_clean(file);
}

static void scenario_clean(bool vp8)
{
    hook_t hook;
    hook_start(&hook);
    char on_record[128];
    snprintf(on_record, sizeof on_record, "record.on_record=http://127.0.0.1:%d/hook", hook.port);
    /* VP8 is started and stopped through the API instead of record.enabled */
    const char *more[] = {"--set", on_record, "--set", vp8 ? "record.enabled=false" : "record.enabled=true", NULL};
    start_server(more);
    fo_dtls_ctx_t *d;
    fo_stun_t *s;
    media_t *m = setup(&d, &s);
    if (vp8) {
        char path[600];
        m->vp8 = true;
        snprintf(path, sizeof path, "%s/tests/data/media/vp8.ivf", g_src);
        load_ivf(m, path);
    }
    int st;
    char *body;
    fo_peer_t *peer;
    if (vp8) {
        /* signaled, not yet connected: POST arms the recording, which starts on connect */
        fo_peer_opts_t o = {.role = FO_PEER_PUBLISH, .dtls = d, .stun = s, .name = "pub", .no_rtx = true};
        peer = fo_peer_new(&o);
        if (fo_peer_signal(peer, g_srv.api, "live/rec", 5000)) die("publisher: %s", fo_peer_error(peer));
        body = http("POST", "/api/v1/streams/live/rec/record", &st);
        if (st != 200 || !strstr(body, "\"state\":\"armed\"")) die("POST record: %d %s", st, body);
        free(body);
        body = http("POST", "/api/v1/streams/live/rec/record", &st);
        if (st != 409) die("a second POST record: %d %s", st, body);
        free(body);
        body = http("POST", "/api/v1/streams/live/none/record", &st);
        if (st != 404) die("POST record of no stream: %d %s", st, body);
        free(body);
        for (int64_t t0 = fo_peer_now_ms(); fo_peer_state(peer) != FO_PEER_CONNECTED;) {
            struct pollfd pfd = {.fd = fo_peer_fd(peer), .events = POLLIN};
            poll(&pfd, 1, 5);
            if (fo_peer_process(peer) == FO_PEER_FAILED || fo_peer_now_ms() - t0 > 10000)
                die("publisher: %s", fo_peer_error(peer));
        }
    } else {
        peer = connect_pub(d, s, "live/rec", true, false);
    }
    static pub_t p;
    publish(peer, m, 0, MEDIA_S, 0, &p);
    body = http("GET", "/api/v1/streams/live/rec", &st);
    if (st != 200 || !strstr(body, "\"state\":\"recording\"")) die("API while recording: %d %s", st, body);
    free(body);
    if (vp8) { /* stopped through the API while the publisher is still there */
        body = http("DELETE", "/api/v1/streams/live/rec/record", &st);
        if (st != 200) die("DELETE record: %d %s", st, body);
        free(body);
        wait_log("recording: closed", 1, 10000);
        body = http("GET", "/api/v1/streams/live/rec/record", &st);
        if (st != 200 || !strstr(body, "\"state\":\"stopped\"") || !strstr(body, ".webm\""))
            die("API after DELETE: %d %s", st, body);
        free(body);
    }
    fo_peer_free(peer);
    wait_log("recording: closed", 1, 10000);
    pthread_join(hook.th, NULL);
    close(hook.fd);
    if (!strstr(hook.body, "\"action\":\"on_dvr\"") || !strstr(hook.body, "\"stream\":\"rec\"") ||
        !strstr(hook.body, "\"app\":\"live\"") || !strstr(hook.body, vp8 ? ".webm\"" : ".mp4\""))
        die("on_record body: '%s'", hook.body);
    probe_t pr;
    char file[512];
    check_recording(vp8 ? "webm" : "mp4", vp8 ? "vp8" : "h264", &p, &pr, file);
    if (pr.width != (vp8 ? 320 : 640) || pr.height != (vp8 ? 240 : 360))
        die("%s: %dx%d", file, pr.width, pr.height);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_record %s: OK: %s: %s %ld frames (%zu sent) + opus %ld, %.3f s (sent %.3f s), "
           "A/V start %.3f/%.3f s, %dx%d, decodes clean; on_record %zu bytes\n",
           g_scn, file, pr.vcodec, pr.vframes, p.frame, pr.aframes, pr.duration, (double)p.frame / FPS,
           pr.vstart, pr.astart, pr.width, pr.height, strlen(hook.body));
    teardown(m, d, s);
}

/* record.segment_s=1: the 4 s clip (a keyframe every second) lands in several files, each
 * starting with a keyframe and decoding clean, every frame in exactly one of them. */
static void scenario_rotate(void)
{
    const char *more[] = {"--set", "record.segment_s=1", "--set", "record.path=[app]/[stream]/[seq]", NULL};
    start_server(more);
    fo_dtls_ctx_t *d;
    fo_stun_t *s;
    media_t *m = setup(&d, &s);
    fo_peer_t *peer = connect_pub(d, s, "live/rot", true, false);
    static pub_t p;
    publish(peer, m, 0, MEDIA_S, 0, &p);
    fo_peer_free(peer);
    char files[8][512];
    int n = 0;
    for (int i = 0; i < 250 && fo_testsrv_log_count(&g_srv, "recording 1: stopping") == 0; i++) usleep(20000);
    for (int i = 0; i < 250; i++) {
        n = fo_testsrv_log_count(&g_srv, "recording: closed");
        if (n >= 2 && n == find_files(g_dir, files, 8)) break;
        usleep(20000);
    }
    n = find_files(g_dir, files, 8);
    if (n < 2) die("expected several files with segment_s=1, got %d", n);
    long frames = 0;
    for (int i = 0; i < n; i++) {
        char want[512];
        snprintf(want, sizeof want, "%s/live/rot/%d.mp4", g_dir, i);
        if (strcmp(files[i], want) != 0) die("file %d is %s, expected %s", i, files[i], want);
        decodes_clean(files[i]);
        probe_t pr;
        probe(files[i], &pr);
        frames += pr.vframes;
        char cmd[700];
        snprintf(cmd, sizeof cmd, "ffprobe -v error -select_streams v -show_entries frame=key_frame -read_intervals %%+#1 -of csv=p=0 '%.500s'", files[i]);
        char *k = run(cmd, NULL);
        if (k[0] != '1') die("%s does not start with a keyframe (%s)", files[i], k);
        free(k);
    }
    if (frames != (long)p.frame) die("%ld frames in %d files, %zu sent", frames, n, p.frame);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_record rotate: OK: %d files, each from a keyframe, %ld frames in all (%zu sent)\n", n, frames, p.frame);
    teardown(m, d, s);
}

static void scenario_loss(void)
{
    start_server(NULL);
    fo_dtls_ctx_t *d;
    fo_stun_t *s;
    media_t *m = setup(&d, &s);
    fo_peer_t *peer = connect_pub(d, s, "live/lossy", true, true);
    static pub_t p;
    publish(peer, m, 0.05, MEDIA_S, 0, &p);
    fo_peer_free(peer);
    wait_log("recording: closed", 1, 10000);
    char files[4][512];
    if (find_files(g_dir, files, 4) != 1) die("expected one file under %s", g_dir);
    decodes_clean(files[0]);
    probe_t pr;
    probe(files[0], &pr);
    if (pr.vframes < (long)p.frame * 9 / 10) die("%s: only %ld of %zu frames", files[0], pr.vframes, p.frame);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_record loss: OK: %llu of %llu packets dropped at the publisher, %llu resent on NACK; "
           "%s: %ld of %zu video frames, %ld audio frames, decodes without errors\n",
           (unsigned long long)p.dropped, (unsigned long long)p.sent, (unsigned long long)p.resent, files[0],
           pr.vframes, p.frame, pr.aframes);
    teardown(m, d, s);
}

static void scenario_kill(void)
{
    start_server(NULL);
    fo_dtls_ctx_t *d;
    fo_stun_t *s;
    media_t *m = setup(&d, &s);
    fo_peer_t *peer = connect_pub(d, s, "live/killed", true, false);
    static pub_t p;
    publish(peer, m, 0, 8, 3500, &p); /* SIGKILL 3.5 s in */
    fo_peer_vanish(peer);
    char files[4][512];
    if (find_files(g_dir, files, 4) != 1) die("expected one file under %s", g_dir);
    decodes_clean(files[0]);
    probe_t pr;
    probe(files[0], &pr);
    if (strcmp(pr.vcodec, "h264") || strcmp(pr.acodec, "opus") || pr.vframes < 45 || pr.duration < 1.5)
        die("%s after SIGKILL: %s %ld frames, %s, %.3f s", files[0], pr.vcodec, pr.vframes, pr.acodec, pr.duration);
    unlink(g_srv.log_path);
    printf("it_record kill: OK: SIGKILL after %zu frames; %s plays: %ld video + %ld audio frames, %.3f s, "
           "decodes without errors\n", p.frame, files[0], pr.vframes, pr.aframes, pr.duration);
    teardown(m, d, s);
}

static uint64_t g_player_rtp;
static void player_rx(void *user, fo_peer_t *p, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)user, (void)p, (void)pkt, (void)len;
    if (!is_rtcp) g_player_rtp++;
}

static void scenario_unwritable(void)
{
    /* record.dir is a regular file (root may write anywhere, so a mode would not do) */
    char file_dir[256];
    snprintf(file_dir, sizeof file_dir, "%.200s/not-a-dir", g_dir);
    FILE *f = fopen(file_dir, "w");
    if (!f) die("cannot create %s", file_dir);
    fclose(f);
    snprintf(g_dir, sizeof g_dir, "%s", file_dir);
    start_server(NULL);
    fo_dtls_ctx_t *d;
    fo_stun_t *s;
    media_t *m = setup(&d, &s);
    fo_peer_t *peer = connect_pub(d, s, "live/nodisk", true, false);
    fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = d, .stun = s, .name = "player", .h264 = true};
    fo_peer_t *pl = fo_peer_new(&o);
    if (!pl || fo_peer_connect(pl, g_srv.api, "live/nodisk", 10000)) die("player: %s", fo_peer_error(pl));
    fo_peer_set_recv_cb(pl, player_rx, NULL);
    /* publish while the player listens: drive both from one loop */
    static pub_t p;
    memset(&p, 0, sizeof p);
    p.peer = peer;
    p.m = m;
    p.vssrc = fo_peer_ssrc(peer, "video");
    p.assrc = fo_peer_ssrc(peer, "audio");
    p.t0 = fo_peer_now_ms();
    uint64_t rtp_after_fail = 0;
    bool failed_seen = false;
    int64_t next_sr = 0;
    while (fo_peer_now_ms() - p.t0 < 3000) {
        int64_t t = fo_peer_now_ms() - p.t0;
        while ((int64_t)p.frame * 1000 / FPS <= t) send_frame(&p);
        while ((int64_t)p.audio * 20 <= t) send_audio(&p);
        if (t >= next_sr) {
            send_srs(&p);
            next_sr += 500;
        }
        struct pollfd pfd[2] = {{.fd = fo_peer_fd(peer), .events = POLLIN}, {.fd = fo_peer_fd(pl), .events = POLLIN}};
        poll(pfd, 2, 2);
        fo_peer_process(peer);
        if (fo_peer_process(pl) != FO_PEER_CONNECTED) die("player: %s", fo_peer_error(pl));
        if (!failed_seen && fo_testsrv_log_count(&g_srv, "failed: cannot open record.dir") > 0) {
            failed_seen = true;
            rtp_after_fail = g_player_rtp;
        }
    }
    if (!failed_seen) die("no \"recording 1 failed: cannot open record.dir ...\" in the log");
    if (g_player_rtp < rtp_after_fail + 100)
        die("the player received %llu packets after the recording failed", (unsigned long long)(g_player_rtp - rtp_after_fail));
    int st;
    char *body = http("GET", "/api/v1/streams/live/nodisk", &st);
    if (st != 200 || !strstr(body, "\"state\":\"failed\"") || !strstr(body, "cannot open record.dir") ||
        !strstr(body, "Not a directory"))
        die("API after the failure: %d %s", st, body);
    free(body);
    body = http("GET", "/metrics", &st);
    if (st != 200 || !strstr(body, "fanout_record_failures_total 1")) die("/metrics: %d %s", st, body);
    free(body);
    fo_peer_free(pl);
    fo_peer_free(peer);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_record unwritable: OK: recording failed with \"cannot open record.dir ...: Not a directory\" "
           "(log, API, fanout_record_failures_total 1); the player got %llu packets after it\n",
           (unsigned long long)(g_player_rtp - rtp_after_fail));
    teardown(m, d, s);
}

static char g_mount[300];
static void unmount(void)
{
    if (g_mount[0]) umount2(g_mount, MNT_DETACH);
}

/* record.dir on a 96 KiB tmpfs (root only): the disk fills up mid-recording; the recording
 * stops with "No space left on device" (log, API, /metrics), the file keeps its whole fragments
 * and decodes clean, and the stream goes on. */
static void scenario_diskfull(void)
{
    if (geteuid() != 0) {
        printf("it_record diskfull: SKIP (needs root to mount a small tmpfs)\n");
        return;
    }
    snprintf(g_mount, sizeof g_mount, "%.280s", g_dir);
    if (mount("tmpfs", g_mount, "tmpfs", 0, "size=96k") != 0) {
        g_mount[0] = '\0';
        printf("it_record diskfull: SKIP (mount tmpfs: %s)\n", strerror(errno));
        return;
    }
    atexit(unmount);
    start_server(NULL);
    fo_dtls_ctx_t *d;
    fo_stun_t *s;
    media_t *m = setup(&d, &s);
    fo_peer_t *peer = connect_pub(d, s, "live/full", true, false);
    static pub_t p;
    publish(peer, m, 0, MEDIA_S, 0, &p);
    wait_log("No space left on device", 1, 5000);
    int st;
    char *body = http("GET", "/api/v1/streams/live/full", &st);
    if (st != 200 || !strstr(body, "\"state\":\"failed\"") || !strstr(body, "No space left on device"))
        die("API after the disk filled up: %d %s", st, body);
    free(body);
    body = http("GET", "/metrics", &st);
    if (st != 200 || !strstr(body, "fanout_record_failures_total 1")) die("/metrics: %d", st);
    free(body);
    if (fo_peer_state(peer) != FO_PEER_CONNECTED) die("the publisher lost its session");
    fo_peer_free(peer);
    char files[4][512];
    if (find_files(g_dir, files, 4) != 1) die("expected one file under %s", g_dir);
    decodes_clean(files[0]);
    probe_t pr;
    probe(files[0], &pr);
    if (pr.vframes < 15) die("%s: %ld frames before the disk filled up", files[0], pr.vframes);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_record diskfull: OK: \"No space left on device\" in log, API and /metrics; %s keeps %ld whole "
           "frames (of %zu sent) and decodes clean\n", files[0], pr.vframes, p.frame);
    unmount();
    g_mount[0] = '\0';
    teardown(m, d, s);
}

static void scenario_hostile(void)
{
    /* a symlink planted inside record.dir pointing outside it: the recorder must not follow */
    char outside[300], link[300];
    snprintf(outside, sizeof outside, "%.250s-outside", g_dir);
    mkdir(outside, 0755);
    snprintf(link, sizeof link, "%.250s/evil", g_dir);
    if (symlink(outside, link) != 0) die("symlink: %s", strerror(errno));
    const char *more[] = {"--set", "record.path=[app]/[stream]", NULL};
    start_server(more);
    fo_dtls_ctx_t *d;
    fo_stun_t *s;
    media_t *m = setup(&d, &s);
    /* names the URL parser lets through, as paths: dots, a leading dot, an app through the link */
    const char *names[] = {"live/...", "live/.hidden", "evil/x", "a/b/..~"};
    for (size_t i = 0; i < FO_ARRAY_LEN(names); i++) {
        fo_peer_t *peer = connect_pub(d, s, names[i], true, false);
        static pub_t p;
        publish(peer, m, 0, 1, 0, &p);
        fo_peer_free(peer);
    }
    /* hostile names the URL parser refuses outright */
    const char *refused[] = {"live/..", "../x", "live/%2e%2e", "./x", "live/a%00b"};
    for (size_t i = 0; i < FO_ARRAY_LEN(refused); i++) {
        fo_peer_opts_t o = {.role = FO_PEER_PUBLISH, .dtls = d, .stun = s, .name = "bad"};
        fo_peer_t *peer = fo_peer_new(&o);
        if (fo_peer_signal(peer, g_srv.api, refused[i], 5000) == 0) die("stream '%s' was accepted", refused[i]);
        fo_peer_free(peer);
    }
    wait_log("recording: closed", 3, 10000);
    wait_log("cannot enter", 1, 5000); /* evil/x: the symlink is not followed */
    char files[16][512];
    int n = find_files(outside, files, 16);
    if (n != 0) die("a recording was written outside record.dir: %s", files[0]);
    n = find_files(g_dir, files, 16);
    char want[3][512];
    snprintf(want[0], 512, "%s/a/b/_._.mp4", g_dir);
    snprintf(want[1], 512, "%s/live/_...mp4", g_dir);
    snprintf(want[2], 512, "%s/live/_hidden.mp4", g_dir);
    if (n != 3) die("expected 3 files under %s, found %d", g_dir, n);
    for (int i = 0; i < 3; i++)
        if (strcmp(files[i], want[i]) != 0) die("file %d is %s, expected %s", i, files[i], want[i]);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_record hostile: OK: %s, %s, %s; nothing through the symlink; %zu names refused\n",
           files[0], files[1], files[2], FO_ARRAY_LEN(refused));
    rmdir(outside);
    teardown(m, d, s);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s <fanout binary> <source dir> h264|vp8|rotate|loss|kill|diskfull|unwritable|hostile\n", argv[0]);
        return 2;
    }
    g_bin = argv[1];
    g_src = argv[2];
    g_scn = argv[3];
    snprintf(g_dir, sizeof g_dir, "/tmp/it_record-%s-%d", g_scn, (int)getpid());
    mkdir(g_dir, 0755);
    fo_log_set_level(getenv("IT_DEBUG") ? FO_LOG_DEBUG : FO_LOG_WARN);
    if (fo_srtp_global_init()) die("fo_srtp_global_init");
    if (strcmp(g_scn, "h264") == 0) scenario_clean(false);
    else if (strcmp(g_scn, "vp8") == 0) scenario_clean(true);
    else if (strcmp(g_scn, "loss") == 0) scenario_loss();
    else if (strcmp(g_scn, "rotate") == 0) scenario_rotate();
    else if (strcmp(g_scn, "diskfull") == 0) scenario_diskfull();
    else if (strcmp(g_scn, "kill") == 0) scenario_kill();
    else if (strcmp(g_scn, "unwritable") == 0) scenario_unwritable();
    else if (strcmp(g_scn, "hostile") == 0) scenario_hostile();
    else die("unknown scenario %s", g_scn);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '/tmp/it_record-%s-%d'", g_scn, (int)getpid());
    if (system(cmd) != 0) fprintf(stderr, "could not remove the recordings\n");
    return 0;
}
