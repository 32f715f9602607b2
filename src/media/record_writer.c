/* SPDX-License-Identifier: MIT */
/* The recorder's writer thread (see record.h): drains the ring the media thread fills, rebuilds
 * frames (depack.c), puts every track on one media clock, and writes files (record_mux.c). It
 * wakes every WAKE_MS on its own: the media thread never signals it per packet.
 *   Time: a track's RTP time maps to media time through the publisher's RTCP SR for that track
 *   (NTP, RTP), so audio and video are in sync however their RTP clocks started. A recording
 *   waits up to SR_WAIT_US for an SR of every track; without them it uses arrival times (and
 *   says so in the log). The mapping chosen at the first file is kept across rotations.
 *   Files: each starts at a video keyframe (audio alone: any frame), under record.dir at the
 *   path template's name, created with openat/mkdirat relative to that directory and
 *   O_NOFOLLOW at every step, so no name and no symlink leads outside it. A file rotates, at a
 *   keyframe, after record.segment_s or record.max_mb, and when the keyframe's parameter sets
 *   change (a new resolution). A write error ends the recording with its reason. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "record_internal.h"

#define WAKE_MS 20
#define SR_WAIT_US 5000000   /* how long a recording waits for the publisher's first SRs (a
                                browser sends its first audio SR after 2.5-4 s) */
#define HOLD_MAX_BYTES (16u << 20) /* frames held meanwhile, at most */
#define HOLD_MAX_FRAMES 2048
#define KEY_ASK_US 1000000   /* keyframe requests from the writer, at most this often */
#define MAX_CLOSING 64

typedef struct {
    fo_depack_t dp;
    uint8_t *buf;            /* video: the frame being rebuilt */
    bool open;               /* a frame is being rebuilt */
    uint32_t ts;
    int64_t ext;
    bool need_key;
    bool have_ts;            /* RTP timestamps unwrapped to 64 bits */
    uint32_t last_ts;
    int64_t last_ext;
    bool have_sr;            /* the newest SR: media time (µs) at RTP time sr_ext */
    uint64_t sr_us;
    int64_t sr_ext;
    bool have_first;         /* the first packet: its arrival (µs) and RTP time */
    uint64_t first_us;
    int64_t first_ext;
    bool anchored;           /* media time = anchor_us + (ext - anchor_ext) / clock */
    uint64_t anchor_us;
    int64_t anchor_ext;
    bool have_pts;           /* in the current file */
    int64_t last_pts, prev_pts;
    uint64_t frames;
} wtrack_t;

/* A frame held until the media clock is known (copied: the ring moves on). */
typedef struct held {
    struct held *next;
    unsigned kind;
    int64_t ext;
    bool key;
    size_t len;
    uint8_t data[];
} held_t;

struct rec_writer {
    wtrack_t t[REC_KINDS];
    held_t *held, *held_tail; /* from the first keyframe until the SRs are in */
    size_t held_bytes, held_n;
    fo_mux_t *mux;
    int fd;
    char path[512];          /* of the open file, relative to record.dir */
    uint64_t start_unix_ms;
    uint64_t t0_us;          /* media time of the file's first frame */
    uint64_t armed_us;       /* when the writer first heard of the recording */
    uint64_t key_asked_us;
    uint64_t closed_bytes;   /* of this recording's closed files */
    bool basis_chosen, use_sr;
    bool rotate_due;
    bool failed;
    unsigned seq;            /* files opened */
};

static uint64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void post(fo_record_t *r, fo_rec_t *rec, int type, const fo_record_file_t *file)
{
    rec_event_t *ev = calloc(1, sizeof *ev);
    if (!ev) return;
    ev->type = type;
    ev->rec = rec;
    if (file) ev->file = *file;
    snprintf(ev->key, sizeof ev->key, "%s", rec->key);
    fo_record_post_event(r, ev);
}

static void want_key(fo_record_t *r, fo_rec_t *rec, uint64_t now_us)
{
    rec_writer_t *w = rec->w;
    if (rec->codec[FO_KIND_VIDEO] == FO_CODEC_NONE || (w->key_asked_us && now_us - w->key_asked_us < KEY_ASK_US))
        return;
    w->key_asked_us = now_us;
    post(r, rec, EV_WANT_KEY, NULL);
}

static void skipped(fo_record_t *r, fo_rec_t *rec)
{
    pthread_mutex_lock(&r->mu);
    rec->frames_skipped++;
    pthread_mutex_unlock(&r->mu);
}

/* --- files --- */

/* Creates `rel` (a checked relative path) under record.dir: every directory made and entered
 * with mkdirat/openat(O_NOFOLLOW), the file with O_CREAT|O_EXCL|O_NOFOLLOW; a name already taken
 * gets "-1", "-2"... before its extension (written back into rel). Returns the descriptor, or -1
 * with a reason in err. */
static int create_file(const char *dir, char *rel, size_t relcap, char *err, size_t cap)
{
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0 && errno == ENOENT) { /* the operator's directory: made like mkdir -p */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", dir);
        for (char *p = tmp + 1; *p; p++)
            if (*p == '/') *p = '\0', mkdir(tmp, 0755), *p = '/';
        mkdir(tmp, 0755);
        d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (d < 0) return snprintf(err, cap, "cannot open record.dir %s: %s", dir, strerror(errno)), -1;
    char *seg = rel;
    for (char *slash; (slash = strchr(seg, '/')); seg = slash + 1) {
        *slash = '\0';
        if (mkdirat(d, seg, 0755) != 0 && errno != EEXIST) {
            snprintf(err, cap, "cannot create %s/%s: %s", dir, rel, strerror(errno));
            *slash = '/';
            close(d);
            return -1;
        }
        int nd = openat(d, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(d);
        if (nd < 0) {
            snprintf(err, cap, "cannot enter %s/%s: %s", dir, rel, strerror(e));
            *slash = '/';
            return -1;
        }
        *slash = '/';
        d = nd;
    }
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(d, seg, flags, 0644);
    char base[256], ext[16] = "";
    snprintf(base, sizeof base, "%.255s", seg);
    char *dot = strrchr(base, '.');
    if (dot) {
        snprintf(ext, sizeof ext, "%s", dot);
        *dot = '\0';
    }
    for (int n = 1; fd < 0 && errno == EEXIST && n < 100; n++) {
        char name[300];
        int len = snprintf(name, sizeof name, "%s-%d%s", base, n, ext);
        if (len < 0 || (size_t)(seg - rel) + (size_t)len >= relcap) break;
        memcpy(seg, name, (size_t)len + 1);
        fd = openat(d, seg, flags, 0644);
    }
    if (fd < 0) snprintf(err, cap, "cannot create %s/%s: %s", dir, rel, strerror(errno));
    close(d);
    return fd;
}

static void fail(fo_record_t *r, fo_rec_t *rec, const char *why);

/* Finishes the open file: trailer, fdatasync, the file's facts to the API and to the loop. */
static void close_file(fo_record_t *r, fo_rec_t *rec, bool quiet)
{
    rec_writer_t *w = rec->w;
    if (!w->mux) return;
    char err[300] = "";
    int rc = fo_mux_close(w->mux, err, sizeof err);
    w->mux = NULL;
    if (rc == 0 && fdatasync(w->fd) != 0) {
        rc = FO_ESYS;
        snprintf(err, sizeof err, "write failed: %s", strerror(errno));
    }
    struct stat st;
    fo_record_file_t f = {.start_unix_ms = w->start_unix_ms};
    f.bytes = fstat(w->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    close(w->fd);
    w->fd = -1;
    snprintf(f.path, sizeof f.path, "%s", w->path);
    for (int k = 0; k < REC_KINDS; k++) {
        wtrack_t *t = &w->t[k];
        f.frames[k] = t->frames;
        if (!t->have_pts) continue;
        int64_t end = t->last_pts + (k == FO_KIND_AUDIO ? 960 : t->last_pts - t->prev_pts);
        uint64_t ms = (uint64_t)end * 1000 / rec->clock[k];
        if (ms > f.duration_ms) f.duration_ms = ms;
    }
    w->closed_bytes += f.bytes;
    pthread_mutex_lock(&r->mu);
    rec->file[0] = '\0';
    rec->files_total++;
    if (rec->n_files == FO_RECORD_FILES_SHOWN) {
        memmove(rec->files, rec->files + 1, (FO_RECORD_FILES_SHOWN - 1) * sizeof rec->files[0]);
        rec->n_files--;
    }
    rec->files[rec->n_files++] = f;
    rec->bytes = w->closed_bytes;
    pthread_mutex_unlock(&r->mu);
    post(r, rec, EV_FILE, &f);
    if (rc && !quiet) fail(r, rec, err);
}

static void fail(fo_record_t *r, fo_rec_t *rec, const char *why)
{
    rec_writer_t *w = rec->w;
    if (w->failed) return;
    w->failed = true;
    FO_LOG(FO_LOG_ERROR, rec->key, "recording %llu failed: %s (the stream goes on unrecorded)",
           (unsigned long long)rec->id, why);
    pthread_mutex_lock(&r->mu);
    rec->state = "failed";
    snprintf(rec->error, sizeof rec->error, "%s", why);
    pthread_mutex_unlock(&r->mu);
    atomic_store(&rec->failed, true);
    close_file(r, rec, true); /* what was written plays up to its last fragment */
    post(r, rec, EV_FAILED, NULL);
}

static int open_file(fo_record_t *r, fo_rec_t *rec, const uint8_t *key, size_t key_len, uint64_t t0_us)
{
    rec_writer_t *w = rec->w;
    char err[1400];
    uint64_t now = realtime_ms();
    if (fo_record_path(r->cfg->record_path, rec->key, now, w->seq, fo_mux_ext(rec->codec[FO_KIND_VIDEO]),
                       w->path, sizeof w->path) < 0) {
        fail(r, rec, "record.path gives no usable file name for this stream");
        return -1;
    }
    int fd = create_file(r->cfg->record_dir, w->path, sizeof w->path, err, sizeof err);
    if (fd < 0) {
        fail(r, rec, err);
        return -1;
    }
    fo_mux_params_t p = {.video = rec->codec[FO_KIND_VIDEO], .audio = rec->codec[FO_KIND_AUDIO],
                         .channels = rec->channels, .key_frame = key, .key_len = key_len};
    char merr[300];
    if (fo_mux_open(&w->mux, fd, &p, merr, sizeof merr) != 0) {
        close(fd);
        snprintf(err, sizeof err, "%s/%s: %s", r->cfg->record_dir, w->path, merr);
        fail(r, rec, err);
        return -1;
    }
    w->fd = fd;
    w->t0_us = t0_us;
    w->start_unix_ms = now;
    w->seq++;
    w->rotate_due = false;
    for (int k = 0; k < REC_KINDS; k++) {
        w->t[k].have_pts = false;
        w->t[k].frames = 0;
    }
    int width, height;
    fo_mux_size(w->mux, &width, &height);
    FO_LOG(FO_LOG_INFO, rec->key, "recording %llu: writing %s/%s (%dx%d)", (unsigned long long)rec->id,
           r->cfg->record_dir, w->path, width, height);
    pthread_mutex_lock(&r->mu);
    rec->state = "recording";
    snprintf(rec->file, sizeof rec->file, "%s", w->path);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* --- time --- */

static int64_t unwrap(wtrack_t *t, uint32_t ts, bool advance)
{
    if (!t->have_ts) {
        t->have_ts = true;
        t->last_ts = ts;
        t->last_ext = ts;
        return ts;
    }
    int64_t e = t->last_ext + (int32_t)(ts - t->last_ts);
    if (advance && e > t->last_ext) {
        t->last_ext = e;
        t->last_ts = ts;
    }
    return e;
}

/* Chooses how RTP time becomes media time, once per recording: SRs when every track has one,
 * arrival times after SR_WAIT_US without. False while it is too early to tell. */
static bool choose_basis(fo_rec_t *rec, uint64_t now_us)
{
    rec_writer_t *w = rec->w;
    if (w->basis_chosen) return true;
    bool all = true;
    for (int k = 0; k < REC_KINDS; k++)
        if (rec->codec[k] != FO_CODEC_NONE && !w->t[k].have_sr) all = false;
    if (!all && now_us - w->armed_us < SR_WAIT_US) return false;
    w->basis_chosen = true;
    w->use_sr = all;
    if (!all)
        FO_LOG(FO_LOG_WARN, rec->key, "recording %llu: no RTCP sender report for every track within %d s: "
               "audio/video sync from arrival times", (unsigned long long)rec->id, SR_WAIT_US / 1000000);
    for (int k = 0; k < REC_KINDS; k++) {
        wtrack_t *t = &w->t[k];
        if (all) {
            t->anchored = true;
            t->anchor_us = t->sr_us;
            t->anchor_ext = t->sr_ext;
        }
    }
    return true;
}

/* Media time (µs) of RTP time `ext` on track `kind`; false when the track has no anchor yet. */
static bool media_us(fo_rec_t *rec, unsigned kind, int64_t ext, uint64_t *out)
{
    rec_writer_t *w = rec->w;
    wtrack_t *t = &w->t[kind];
    if (!t->anchored) {
        if (!w->basis_chosen || w->use_sr || !t->have_first) return false;
        t->anchored = true;
        t->anchor_us = t->first_us;
        t->anchor_ext = t->first_ext;
    }
    int64_t d = (ext - t->anchor_ext) * 1000000 / (int64_t)rec->clock[kind];
    if (d < 0 && (uint64_t)-d > t->anchor_us) return false;
    *out = (uint64_t)((int64_t)t->anchor_us + d);
    return true;
}

/* --- frames --- */

static void emit(fo_record_t *r, fo_rec_t *rec, unsigned kind, const uint8_t *data, size_t len,
                 int64_t ext, bool key, uint64_t now_us);

static void drop_held(rec_writer_t *w)
{
    while (w->held) {
        held_t *h = w->held;
        w->held = h->next;
        free(h);
    }
    w->held_tail = NULL;
    w->held_bytes = w->held_n = 0;
}

/* Before the media clock is known: keeps the frames from the first keyframe on (bounded; past
 * the bound they are dropped and a later keyframe starts the file). */
static void hold(fo_record_t *r, fo_rec_t *rec, unsigned kind, const uint8_t *data, size_t len,
                 int64_t ext, bool starter)
{
    rec_writer_t *w = rec->w;
    if (!w->held && !starter) {
        if (kind == FO_KIND_VIDEO) skipped(r, rec);
        return;
    }
    if (w->held_bytes + len > HOLD_MAX_BYTES || w->held_n == HOLD_MAX_FRAMES) {
        drop_held(w);
        if (!starter) return;
    }
    held_t *h = malloc(sizeof *h + len);
    if (!h) return;
    *h = (held_t){.kind = kind, .ext = ext, .key = starter || kind == FO_KIND_AUDIO, .len = len};
    memcpy(h->data, data, len);
    if (w->held_tail) w->held_tail->next = h;
    else w->held = h;
    w->held_tail = h;
    w->held_bytes += len;
    w->held_n++;
}

/* The clock is known: what was held goes out first, in order. */
static void release_held(fo_record_t *r, fo_rec_t *rec, uint64_t now_us)
{
    rec_writer_t *w = rec->w;
    held_t *h = w->held;
    w->held = w->held_tail = NULL;
    w->held_bytes = w->held_n = 0;
    while (h) {
        held_t *next = h->next;
        if (!w->failed) emit(r, rec, h->kind, h->data, h->len, h->ext, h->key, now_us);
        free(h);
        h = next;
    }
}

static void emit(fo_record_t *r, fo_rec_t *rec, unsigned kind, const uint8_t *data, size_t len,
                 int64_t ext, bool key, uint64_t now_us)
{
    rec_writer_t *w = rec->w;
    wtrack_t *t = &w->t[kind];
    bool has_video = rec->codec[FO_KIND_VIDEO] != FO_CODEC_NONE;
    bool starter = key && (kind == FO_KIND_VIDEO || !has_video);
    if (!w->basis_chosen) {
        if (!choose_basis(rec, now_us)) {
            hold(r, rec, kind, data, len, ext, starter);
            return;
        }
        release_held(r, rec, now_us);
        if (w->failed) return;
    }
    if (w->mux && starter &&
        (w->rotate_due || (kind == FO_KIND_VIDEO && fo_mux_new_config(w->mux, data, len))))
        close_file(r, rec, false);
    if (w->failed) return;
    uint64_t at;
    if (!w->mux) {
        if (!starter || !media_us(rec, kind, ext, &at)) {
            if (kind == FO_KIND_VIDEO) skipped(r, rec);
            return;
        }
        if (open_file(r, rec, data, len, at) != 0) return;
    }
    if (!media_us(rec, kind, ext, &at) || at < w->t0_us) return; /* before the file's start */
    int64_t pts = (int64_t)(((at - w->t0_us) * rec->clock[kind] + 500000) / 1000000);
    if (t->have_pts && pts <= t->last_pts) { /* the sender's clock went back: not writable */
        if (kind == FO_KIND_VIDEO) skipped(r, rec);
        return;
    }
    char err[300];
    if (fo_mux_write(w->mux, (fo_kind_t)kind, data, len, pts, key, err, sizeof err) != 0) {
        char why[1400];
        snprintf(why, sizeof why, "%s/%s: %s", r->cfg->record_dir, w->path, err);
        fail(r, rec, why);
        return;
    }
    t->prev_pts = t->have_pts ? t->last_pts : pts;
    t->last_pts = pts;
    t->have_pts = true;
    t->frames++;
    uint64_t bytes = fo_mux_bytes(w->mux);
    pthread_mutex_lock(&r->mu);
    rec->frames[kind]++;
    rec->bytes = w->closed_bytes + bytes;
    pthread_mutex_unlock(&r->mu);
    const fo_config_t *c = r->cfg;
    if ((c->record_segment_s > 0 && at - w->t0_us >= (uint64_t)c->record_segment_s * 1000000) ||
        (c->record_max_mb > 0 && bytes >= (uint64_t)c->record_max_mb << 20)) {
        w->rotate_due = true;
        want_key(r, rec, now_us);
    }
}

/* The open video frame is complete (its marker, the next frame's first packet, or a gap). */
static void end_video_frame(fo_record_t *r, fo_rec_t *rec, uint64_t now_us)
{
    wtrack_t *t = &rec->w->t[FO_KIND_VIDEO];
    if (!t->open) return;
    t->open = false;
    fo_depack_frame_t f;
    if (fo_depack_end(&t->dp, &f) != 0) {
        skipped(r, rec); /* broken: from the next keyframe on */
        t->need_key = true;
        want_key(r, rec, now_us);
        return;
    }
    if (f.key) t->need_key = false;
    if (t->need_key) {
        skipped(r, rec);
        return;
    }
    emit(r, rec, FO_KIND_VIDEO, f.data, f.len, t->ext, f.key, now_us);
}

static void on_pkt(fo_record_t *r, fo_rec_t *rec, const rec_hdr_t *h, const uint8_t *pay)
{
    rec_writer_t *w = rec->w;
    unsigned kind = h->kind;
    if (kind >= REC_KINDS || rec->codec[kind] == FO_CODEC_NONE) return;
    wtrack_t *t = &w->t[kind];
    int64_t ext = unwrap(t, h->ts, true);
    if (!t->have_first) {
        t->have_first = true;
        t->first_us = h->arrival_us;
        t->first_ext = ext;
    }
    if (kind == FO_KIND_AUDIO) {
        emit(r, rec, kind, pay, h->paylen, ext, true, h->arrival_us);
        return;
    }
    if (h->flags & RF_GAP) { /* what was being rebuilt lost a packet */
        if (t->open) fo_depack_lost(&t->dp);
        end_video_frame(r, rec, h->arrival_us);
        t->need_key = true;
    }
    if (t->open && h->ts != t->ts) end_video_frame(r, rec, h->arrival_us);
    if (!t->open) {
        if (t->need_key && !(h->flags & RF_KEY)) return;
        fo_depack_begin(&t->dp);
        t->open = true;
        t->ts = h->ts;
        t->ext = ext;
    }
    fo_depack_add(&t->dp, pay, h->paylen);
    if (h->flags & RF_MARKER) end_video_frame(r, rec, h->arrival_us);
}

static void on_sr(fo_record_t *r, fo_rec_t *rec, const rec_hdr_t *h)
{
    rec_writer_t *w = rec->w;
    if (h->kind >= REC_KINDS) return;
    wtrack_t *t = &w->t[h->kind];
    uint64_t ntp = h->arrival_us;
    t->sr_us = (ntp >> 32) * 1000000 + (((ntp & 0xffffffffu) * 1000000) >> 32);
    t->sr_ext = unwrap(t, h->ts, false);
    t->have_sr = true;
    if (!w->basis_chosen && w->held && choose_basis(rec, w->armed_us))
        release_held(r, rec, w->armed_us);
}

/* --- lifecycle of the writer side --- */

static bool writer_new(fo_rec_t *rec, uint64_t now_us)
{
    rec_writer_t *w = calloc(1, sizeof *w);
    if (!w) return false;
    w->fd = -1;
    w->armed_us = now_us;
    for (int k = 0; k < REC_KINDS; k++) {
        if (k != FO_KIND_VIDEO || rec->codec[k] == FO_CODEC_NONE) continue;
        w->t[k].need_key = true;
        if (!(w->t[k].buf = malloc(REC_FRAME_MAX)) ||
            fo_depack_init(&w->t[k].dp, rec->codec[k], w->t[k].buf, REC_FRAME_MAX) != 0) {
            free(w->t[k].buf);
            free(w);
            return false;
        }
    }
    rec->w = w;
    return true;
}

void fo_record_writer_free(fo_rec_t *rec)
{
    if (!rec->w) return;
    drop_held(rec->w);
    for (int k = 0; k < REC_KINDS; k++) free(rec->w->t[k].buf);
    free(rec->w);
    rec->w = NULL;
}

static void handle(fo_record_t *r, const rec_hdr_t *h)
{
    fo_rec_t *rec = h->rec;
    if (!rec->w && !writer_new(rec, h->type == REC_PKT ? h->arrival_us : realtime_ms() * 1000)) {
        FO_LOG(FO_LOG_ERROR, rec->key, "recording: out of memory");
        atomic_store(&rec->failed, true);
        return;
    }
    if (rec->w->failed) return;
    if (h->type == REC_PKT) on_pkt(r, rec, h, (const uint8_t *)(h + 1));
    else if (h->type == REC_SR) on_sr(r, rec, h);
}

/* The recording will get nothing more: its file is finished and the loop may free it. */
static void finish(fo_record_t *r, fo_rec_t *rec)
{
    if (rec->w) {
        close_file(r, rec, false);
        fo_record_writer_free(rec);
    }
    pthread_mutex_lock(&r->mu);
    if (strcmp(rec->state, "failed") != 0) rec->state = "stopped";
    atomic_store(&rec->done, true);
    pthread_mutex_unlock(&r->mu);
    post(r, rec, EV_DONE, NULL);
}

static size_t drain_ring(fo_record_t *r)
{
    rec_ring_t *g = &r->ring;
    size_t head = atomic_load_explicit(&g->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&g->tail, memory_order_relaxed);
    size_t n = 0;
    while (tail != head) {
        const rec_hdr_t *h = (const rec_hdr_t *)(g->buf + (tail & (g->size - 1)));
        if (h->type != REC_PAD) {
            handle(r, h);
            n++;
        }
        tail += h->len;
        atomic_store_explicit(&g->tail, tail, memory_order_release);
    }
    return n;
}

void *fo_record_writer_main(void *arg)
{
    fo_record_t *r = arg;
    for (;;) {
        /* Recordings seen stopping before the drain: all they will ever get is in the ring now. */
        fo_rec_t *closing[MAX_CLOSING];
        size_t nc = 0;
        bool all_done = true;
        pthread_mutex_lock(&r->mu);
        bool stop = r->stop;
        for (fo_rec_t *p = r->recs; p; p = p->next) {
            if (atomic_load(&p->done)) continue;
            all_done = false;
            if (nc < MAX_CLOSING && atomic_load_explicit(&p->stopping, memory_order_acquire)) closing[nc++] = p;
        }
        pthread_mutex_unlock(&r->mu);
        if (stop && all_done) break;
        size_t n = drain_ring(r);
        for (size_t i = 0; i < nc; i++) finish(r, closing[i]);
        if (n || nc) continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WAKE_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_mutex_lock(&r->mu);
        if (!r->stop) pthread_cond_timedwait(&r->cv, &r->mu, &until);
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}
