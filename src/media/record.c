/* SPDX-License-Identifier: MIT */
/* Recordings on the loop's side (see record.h): which streams record, starting and stopping
 * them, the writer thread's lifetime, the events it sends back (closed files for the log and
 * on_record, keyframe requests, failures), the state the API and /metrics show, and the pure
 * helpers (path template, stream patterns). A recording's memory is freed here, on the loop
 * thread, only once the writer has said it is done with it; the newest finished ones are kept
 * for the API. */
#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "record_internal.h"

#define KEEP_FINISHED 64  /* finished recordings kept for the API */
#define AUDIO_WAIT_MS 100 /* audio is rarely repaired (browsers do not offer NACK for Opus) */

/* --- pure helpers --- */

bool fo_record_matches(const char *patterns, const char *key)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", patterns ? patterns : "");
    bool any = false;
    for (char *save = NULL, *tok = strtok_r(buf, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
        any = true;
        if (fnmatch(tok, key, 0) == 0) return true;
    }
    return !any;
}

/* Appends `s` with every character outside A-Z a-z 0-9 _ - . (and '/' when `slashes`) made '_'
 * and no segment starting with '.'. Returns false when it does not fit. */
static bool put_safe(char *out, size_t cap, size_t *o, const char *s, bool slashes)
{
    bool seg_start = *o == 0 || out[*o - 1] == '/';
    for (; *s; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || (slashes && c == '/');
        if (!ok || (seg_start && c == '.') || (seg_start && c == '/')) c = '_';
        if (*o + 1 >= cap) return false;
        out[(*o)++] = c;
        seg_start = c == '/';
    }
    return true;
}

int fo_record_path(const char *tmpl, const char *key, uint64_t unix_ms_, unsigned seq,
                   const char *ext, char *out, size_t cap)
{
    char app[200], stream[200];
    const char *slash = strrchr(key, '/');
    snprintf(app, sizeof app, "%.*s", slash ? (int)(slash - key) : 0, key);
    snprintf(stream, sizeof stream, "%s", slash ? slash + 1 : key);
    time_t secs = (time_t)(unix_ms_ / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t o = 0;
    if (!cap) return FO_ETOOBIG;
    out[0] = '\0';
    for (const char *p = tmpl; *p;) {
        char val[32];
        const char *v = NULL;
        bool safe = true, slashes = false;
        if (strncmp(p, "[app]", 5) == 0) v = app, safe = false, slashes = true, p += 5;
        else if (strncmp(p, "[stream]", 8) == 0) v = stream, safe = false, p += 8;
        else if (strncmp(p, "[timestamp]", 11) == 0)
            snprintf(val, sizeof val, "%llu", (unsigned long long)unix_ms_), v = val, p += 11;
        else if (strncmp(p, "[seq]", 5) == 0) snprintf(val, sizeof val, "%u", seq), v = val, p += 5;
        else if (strncmp(p, "[2006]", 6) == 0) snprintf(val, sizeof val, "%04d", tm.tm_year + 1900), v = val, p += 6;
        else if (strncmp(p, "[01]", 4) == 0) snprintf(val, sizeof val, "%02d", tm.tm_mon + 1), v = val, p += 4;
        else if (strncmp(p, "[02]", 4) == 0) snprintf(val, sizeof val, "%02d", tm.tm_mday), v = val, p += 4;
        else if (strncmp(p, "[15]", 4) == 0) snprintf(val, sizeof val, "%02d", tm.tm_hour), v = val, p += 4;
        else if (strncmp(p, "[04]", 4) == 0) snprintf(val, sizeof val, "%02d", tm.tm_min), v = val, p += 4;
        else if (strncmp(p, "[05]", 4) == 0) snprintf(val, sizeof val, "%02d", tm.tm_sec), v = val, p += 4;
        else if (strncmp(p, "[999]", 5) == 0)
            snprintf(val, sizeof val, "%03u", (unsigned)(unix_ms_ % 1000)), v = val, p += 5;
        if (v) {
            if (!put_safe(out, cap, &o, v, slashes && !safe)) return FO_ETOOBIG;
            continue;
        }
        /* the operator's own text: kept, but checked below like everything else */
        if (o + 1 >= cap) return FO_ETOOBIG;
        out[o++] = *p++;
    }
    if (o == 0) return FO_EINVAL;
    int n = snprintf(out + o, cap - o, ".%s", ext);
    if (n < 0 || (size_t)n >= cap - o) return FO_ETOOBIG;
    o += (size_t)n;
    /* a relative path of real names: no leading '/', no empty, "." or ".." segment */
    if (out[0] == '/' || o == 0) return FO_EINVAL;
    for (const char *seg = out; seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return FO_EINVAL;
        seg = end ? end + 1 : NULL;
    }
    return (int)o;
}

/* --- events from the writer --- */

static void notify_file(fo_record_t *r, const rec_event_t *ev)
{
    const fo_record_file_t *f = &ev->file;
    FO_LOG(FO_LOG_INFO, ev->key, "recording: closed %s/%s (%llu bytes, %llu ms, %llu video + %llu audio frames)",
           r->cfg->record_dir, f->path, (unsigned long long)f->bytes, (unsigned long long)f->duration_ms,
           (unsigned long long)f->frames[FO_KIND_VIDEO], (unsigned long long)f->frames[FO_KIND_AUDIO]);
    if (!r->cfg->on_record[0]) return;
    char app[200], cwd[512] = "", file[1100];
    const char *slash = strrchr(ev->key, '/');
    snprintf(app, sizeof app, "%.*s", slash ? (int)(slash - ev->key) : 0, ev->key);
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    snprintf(file, sizeof file, "%s/%s", r->cfg->record_dir, f->path);
    /* SRS's on_dvr body (action, client_id, ip, vhost, app, stream, param, cwd, file), plus ours */
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
                          "action", "on_dvr", "server", "fanout", "client_id", "", "ip", "", "vhost",
                          "__defaultVhost__", "app", app, "stream", slash ? slash + 1 : ev->key, "param", "",
                          "cwd", cwd, "file", file, "path", f->path, "bytes", (json_int_t)f->bytes,
                          "duration_ms", (json_int_t)f->duration_ms, "start_ms", (json_int_t)f->start_unix_ms,
                          "video_frames", (json_int_t)f->frames[FO_KIND_VIDEO], "audio_frames",
                          (json_int_t)f->frames[FO_KIND_AUDIO]);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body) return;
    if (r->notify) r->notify(r->notify_user, r->cfg->on_record, body);
    else free(body);
}

static void detach(fo_record_t *r, fo_rec_t *rec, const char *why)
{
    if (rec->st && fo_stream_recorder(rec->st) == rec) fo_stream_set_recorder(rec->st, NULL);
    rec->st = NULL;
    if (!atomic_load(&rec->stopping)) {
        FO_LOG(FO_LOG_INFO, rec->key, "recording %llu: stopping (%s)", (unsigned long long)rec->id, why);
        r->dropped_queue += rec->dropped_queue;
        r->gaps += rec->gaps;
        pthread_mutex_lock(&r->mu);
        atomic_store_explicit(&rec->stopping, true, memory_order_release);
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
}

/* Frees the oldest finished recordings beyond KEEP_FINISHED; only those in `done`, the set of
 * recordings seen done together with the events just handled (so none of theirs is pending). */
static void reap(fo_record_t *r, fo_rec_t **done, size_t n_done)
{
    size_t seen = 0;
    for (fo_rec_t **pp = &r->recs; *pp;) {
        fo_rec_t *p = *pp;
        bool is_done = false;
        for (size_t i = 0; i < n_done; i++) is_done |= done[i] == p;
        if (is_done && ++seen > KEEP_FINISHED) { /* newest first: these are the oldest */
            pthread_mutex_lock(&r->mu);
            *pp = p->next;
            r->frames_skipped += p->frames_skipped;
            pthread_mutex_unlock(&r->mu);
            free(p);
            continue;
        }
        pp = &p->next;
    }
}

static void run_events(fo_record_t *r)
{
    fo_rec_t *done[256];
    size_t n_done = 0;
    pthread_mutex_lock(&r->mu);
    rec_event_t *ev = r->events;
    r->events = r->events_tail = NULL;
    r->event_posted = false;
    for (fo_rec_t *p = r->recs; p && n_done < FO_ARRAY_LEN(done); p = p->next)
        if (atomic_load(&p->done)) done[n_done++] = p;
    pthread_mutex_unlock(&r->mu);
    while (ev) {
        rec_event_t *next = ev->next;
        fo_rec_t *rec = ev->rec;
        if (ev->type == EV_FILE) {
            r->files++;
            r->bytes += ev->file.bytes;
            notify_file(r, ev);
        } else if (ev->type == EV_WANT_KEY) {
            if (rec->st && !atomic_load(&rec->stopping))
                fo_stream_request_keyframe(rec->st, rec->tap[FO_KIND_VIDEO].layer);
        } else if (ev->type == EV_FAILED) {
            r->failed_total++;
            detach(r, rec, "failed");
        }
        free(ev);
        ev = next;
    }
    reap(r, done, n_done);
}

static void events_cb(void *arg) { run_events(arg); }

void fo_record_post_event(fo_record_t *r, rec_event_t *ev)
{
    ev->next = NULL;
    pthread_mutex_lock(&r->mu);
    if (r->events_tail) r->events_tail->next = ev;
    else r->events = ev;
    r->events_tail = ev;
    bool post = !r->event_posted;
    r->event_posted = true;
    pthread_mutex_unlock(&r->mu);
    /* the argument is the manager, not the event: a post dropped at shutdown leaks nothing */
    if (post) fo_loop_post(r->loop, events_cb, r);
}

/* --- lifecycle --- */

fo_record_t *fo_record_new(fo_loop_t *loop, const fo_config_t *cfg)
{
    fo_record_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->loop = loop;
    r->cfg = cfg;
    r->dirfd = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (cfg->record_enabled)
        FO_LOG(FO_LOG_INFO, NULL, "recording streams matching '%s' into %s/%s", cfg->record_streams,
               cfg->record_dir, cfg->record_path);
    return r;
}

void fo_record_set_notify(fo_record_t *r, fo_record_notify_cb cb, void *user)
{
    r->notify = cb;
    r->notify_user = user;
}

static int start_writer(fo_record_t *r)
{
    if (r->thread_running) return 0;
    size_t size = 1u << 20;
    while (size < (size_t)r->cfg->record_queue_mb << 20) size <<= 1;
    r->ring.buf = malloc(size + sizeof(rec_hdr_t));
    if (!r->ring.buf) return FO_ENOMEM;
    r->ring.size = size;
    atomic_init(&r->ring.head, 0);
    atomic_init(&r->ring.tail, 0);
    if (pthread_create(&r->thread, NULL, fo_record_writer_main, r) != 0) {
        free(r->ring.buf);
        r->ring.buf = NULL;
        return FO_ESYS;
    }
    pthread_setname_np(r->thread, "fo-record"); /* for top -H and scripts/bench.sh */
    r->thread_running = true;
    return 0;
}

void fo_record_free(fo_record_t *r)
{
    if (!r) return;
    for (fo_rec_t *p = r->recs; p; p = p->next) detach(r, p, "server shutting down");
    if (r->thread_running) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    run_events(r); /* the last closed files: logged and handed to the notifier */
    while (r->recs) {
        fo_rec_t *p = r->recs;
        r->recs = p->next;
        free(p);
    }
    for (size_t i = 0; i < FO_ARRAY_LEN(r->armed); i++) free(r->armed[i]);
    free(r->ring.buf);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* --- starting and stopping --- */

static int armed_index(const fo_record_t *r, const char *key)
{
    for (size_t i = 0; i < FO_ARRAY_LEN(r->armed); i++)
        if (r->armed[i] && strcmp(r->armed[i], key) == 0) return (int)i;
    return -1;
}

static bool recordable_video(fo_codec_t c)
{
    return c == FO_CODEC_NONE || c == FO_CODEC_VP8 || c == FO_CODEC_VP9 || c == FO_CODEC_H264 ||
           c == FO_CODEC_AV1;
}

static int begin(fo_record_t *r, fo_stream_t *st, const char **why)
{
    const fo_sdp_codec_t *vc = fo_stream_codec(st, FO_KIND_VIDEO), *ac = fo_stream_codec(st, FO_KIND_AUDIO);
    fo_codec_t v = vc ? vc->codec : FO_CODEC_NONE, a = ac ? ac->codec : FO_CODEC_NONE;
    if (a != FO_CODEC_OPUS) a = FO_CODEC_NONE; /* nothing else is recorded */
    if (!recordable_video(v) || (v == FO_CODEC_NONE && a == FO_CODEC_NONE)) {
        *why = "the stream's codecs cannot be recorded";
        return FO_ECODEC;
    }
    if (start_writer(r) != 0) {
        *why = "cannot start the recording thread";
        return FO_ENOMEM;
    }
    fo_rec_t *rec = calloc(1, sizeof *rec);
    if (!rec) return *why = "out of memory", FO_ENOMEM;
    rec->mgr = r;
    snprintf(rec->key, sizeof rec->key, "%s", fo_stream_key(st));
    rec->codec[FO_KIND_AUDIO] = a;
    rec->codec[FO_KIND_VIDEO] = v;
    rec->channels = ac && ac->channels == 1 ? 1 : 2;
    rec->clock[FO_KIND_AUDIO] = 48000;
    rec->clock[FO_KIND_VIDEO] = 90000;
    rec->id = ++r->next_id;
    rec->st = st;
    rec->state = "starting";
    for (int k = 0; k < REC_KINDS; k++) {
        rec_tap_t *t = &rec->tap[k];
        t->active = rec->codec[k] != FO_CODEC_NONE;
        t->layer = k == FO_KIND_VIDEO ? fo_stream_top_layer(st) : 0;
        t->wait_ms = k == FO_KIND_VIDEO ? (uint32_t)r->cfg->record_repair_ms : AUDIO_WAIT_MS;
        t->need_key = k == FO_KIND_VIDEO;
    }
    atomic_init(&rec->stopping, false);
    atomic_init(&rec->failed, false);
    atomic_init(&rec->done, false);
    pthread_mutex_lock(&r->mu);
    rec->next = r->recs;
    r->recs = rec;
    pthread_mutex_unlock(&r->mu);
    r->started++;
    fo_stream_set_recorder(st, rec);
    if (v != FO_CODEC_NONE) fo_stream_request_keyframe(st, rec->tap[FO_KIND_VIDEO].layer);
    FO_LOG(FO_LOG_INFO, rec->key, "recording %llu: started (%s%s%s) into %s", (unsigned long long)rec->id,
           v != FO_CODEC_NONE ? fo_codec_name(v) : "", v != FO_CODEC_NONE && a != FO_CODEC_NONE ? " + " : "",
           a != FO_CODEC_NONE ? fo_codec_name(a) : "", r->cfg->record_dir);
    return 0;
}

void fo_record_publisher_ready(fo_record_t *r, fo_stream_t *st)
{
    if (!r || fo_stream_recorder(st)) return;
    const char *key = fo_stream_key(st), *why = "";
    int i = armed_index(r, key);
    if (i >= 0) {
        free(r->armed[i]);
        r->armed[i] = NULL;
    } else if (!r->cfg->record_enabled || !fo_record_matches(r->cfg->record_streams, key)) {
        return;
    }
    if (begin(r, st, &why) != 0) FO_LOG(FO_LOG_WARN, key, "not recording: %s", why);
}

void fo_record_publisher_gone(fo_record_t *r, fo_stream_t *st)
{
    fo_rec_t *rec = r ? fo_stream_recorder(st) : NULL;
    if (rec) detach(r, rec, "publisher gone");
}

int fo_record_start(fo_record_t *r, fo_stream_t *st, const char **why)
{
    const char *key = fo_stream_key(st);
    if (fo_stream_recorder(st) || armed_index(r, key) >= 0)
        return *why = "the stream is already being recorded", FO_EBUSY;
    fo_session_t *pub = fo_stream_publisher(st);
    if (pub && fo_transport_ready(fo_session_transport(pub))) return begin(r, st, why);
    for (size_t i = 0; i < FO_ARRAY_LEN(r->armed); i++) {
        if (r->armed[i]) continue;
        if (!(r->armed[i] = strdup(key))) return *why = "out of memory", FO_ENOMEM;
        FO_LOG(FO_LOG_INFO, key, "recording armed: starts when the publisher is connected");
        return 0;
    }
    return *why = "too many streams waiting to record", FO_EFULL;
}

int fo_record_stop(fo_record_t *r, fo_stream_t *st)
{
    fo_rec_t *rec = fo_stream_recorder(st);
    int i = armed_index(r, fo_stream_key(st));
    if (i >= 0) {
        free(r->armed[i]);
        r->armed[i] = NULL;
    }
    if (rec) detach(r, rec, "stopped through the API");
    return rec || i >= 0 ? 0 : FO_ENOTFOUND;
}

/* --- state for the API and /metrics --- */

bool fo_record_status(fo_record_t *r, const char *key, fo_record_status_t *out)
{
    memset(out, 0, sizeof *out);
    out->state = armed_index(r, key) >= 0 ? "armed" : "off";
    fo_rec_t *rec = NULL;
    for (fo_rec_t *p = r->recs; p && !rec; p = p->next)
        if (strcmp(p->key, key) == 0) rec = p;
    if (!rec) return out->state[1] != 'f';
    pthread_mutex_lock(&r->mu);
    out->state = rec->state;
    if (atomic_load(&rec->stopping) && !atomic_load(&rec->done) && strcmp(rec->state, "failed") != 0)
        out->state = "stopping";
    snprintf(out->error, sizeof out->error, "%s", rec->error);
    snprintf(out->file, sizeof out->file, "%s", rec->file);
    out->bytes = rec->bytes;
    memcpy(out->frames, rec->frames, sizeof out->frames);
    out->frames_skipped = rec->frames_skipped;
    out->files_total = rec->files_total;
    memcpy(out->files, rec->files, sizeof out->files);
    out->n_files = rec->n_files;
    pthread_mutex_unlock(&r->mu);
    out->dropped_queue = rec->dropped_queue;
    out->gaps = rec->gaps;
    return true;
}

void fo_record_stats(fo_record_t *r, fo_record_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->started = r->started;
    out->failed = r->failed_total;
    out->files = r->files;
    out->bytes = r->bytes;
    out->dropped_queue = r->dropped_queue;
    out->gaps = r->gaps;
    pthread_mutex_lock(&r->mu);
    for (fo_rec_t *p = r->recs; p; p = p->next) {
        if (!atomic_load(&p->stopping)) {
            out->active++;
            out->dropped_queue += p->dropped_queue;
            out->gaps += p->gaps;
        }
        out->frames_skipped += p->frames_skipped;
    }
    pthread_mutex_unlock(&r->mu);
    out->frames_skipped += r->frames_skipped;
    if (r->ring.buf) {
        out->queue_capacity = r->ring.size;
        out->queue_bytes = atomic_load(&r->ring.head) - atomic_load(&r->ring.tail);
    }
}
