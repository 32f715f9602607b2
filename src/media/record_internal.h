/* SPDX-License-Identifier: MIT */
/* The recorder's private state, shared by record.c (recordings, config, API state, loop side),
 * record_tap.c (the media thread's reorder/repair/skip and the ring's producer) and
 * record_writer.c (the writer thread: the ring's consumer, frames, timing, files). Only these
 * three files include it. Which thread touches what is written on each field. */
#ifndef FO_RECORD_INTERNAL_H
#define FO_RECORD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fanout/depack.h"
#include "fanout/record.h"
#include "fanout/record_mux.h"

#define REC_KINDS 2
#define REC_FRAME_MAX (4u << 20) /* largest frame kept (a 4K keyframe fits) */

/* --- the ring: media thread -> writer thread, single producer, single consumer --- */

enum { REC_PAD = 0, REC_PKT = 1, REC_SR = 2 };
enum { RF_MARKER = 1, RF_GAP = 2, RF_KEY = 4 };

/* One record: this header, then `paylen` bytes of RTP payload (REC_PKT), padded to 8 bytes. */
typedef struct {
    uint32_t len;        /* the whole record, header included, a multiple of 8 */
    uint8_t type;
    uint8_t kind;
    uint8_t flags;       /* RF_* */
    uint8_t unused;
    fo_rec_t *rec;
    uint32_t ts;         /* RTP timestamp (SR: its RTP time) */
    uint16_t seq;
    uint16_t paylen;
    uint64_t arrival_us; /* PKT: when it arrived (CLOCK_REALTIME); SR: its NTP time */
} rec_hdr_t;

typedef struct {
    uint8_t *buf;        /* size + sizeof(rec_hdr_t) bytes: a PAD header fits at any offset */
    size_t size;         /* a power of two */
    _Atomic size_t head; /* bytes produced (producer only writes) */
    _Atomic size_t tail; /* bytes consumed (consumer only writes) */
} rec_ring_t;

/* Producer: room for a record of `len` bytes (a multiple of 8) or NULL when full. Commit with
 * rec_ring_commit. Media thread. */
static inline uint8_t *rec_ring_reserve(rec_ring_t *r, size_t len)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t off = head & (r->size - 1), to_end = r->size - off;
    size_t need = len <= to_end ? len : to_end + len; /* a PAD record covers the end */
    if (r->size - (head - tail) < need || len > r->size / 2) return NULL;
    if (len > to_end) {
        rec_hdr_t *pad = (rec_hdr_t *)(r->buf + off);
        pad->type = REC_PAD;
        pad->len = (uint32_t)to_end;
        atomic_store_explicit(&r->head, head + to_end, memory_order_release);
        off = 0;
    }
    return r->buf + off;
}

static inline void rec_ring_commit(rec_ring_t *r, size_t len)
{
    atomic_fetch_add_explicit(&r->head, len, memory_order_release);
}

/* --- one stream's recording --- */

/* Media thread only: the reorder cursor of one track. */
typedef struct {
    bool active;
    int layer;           /* the publisher layer recorded (simulcast: the top one); -1 undecided */
    bool have_next;
    uint32_t ssrc;       /* of the packets the cursor follows */
    uint16_t next;       /* the next sequence number to queue */
    uint16_t newest;     /* the newest seen */
    uint64_t gap_since;  /* when `next` was first found missing (0: not missing) */
    bool need_key;       /* video: queue nothing until a keyframe starts */
    bool pending_gap;    /* the next queued packet follows a gap */
    uint32_t wait_ms;    /* how long to wait for a missing packet */
    uint16_t empty[16];  /* padding-only packets seen (never in the history) */
    bool empty_used[16];
    uint8_t empty_next;
} rec_tap_t;

typedef struct rec_writer rec_writer_t;

struct fo_rec {
    /* Set at creation, then read-only (any thread). */
    fo_record_t *mgr;
    char key[200];
    fo_codec_t codec[REC_KINDS];  /* FO_CODEC_NONE: the stream has no such track */
    int channels;
    uint32_t clock[REC_KINDS];
    uint64_t id;                  /* the recording's number, for logs */
    /* Loop thread only. */
    fo_stream_t *st;              /* NULL once detached */
    rec_tap_t tap[REC_KINDS];
    uint64_t key_asked_ms;
    uint64_t dropped_queue, gaps;
    bool queue_full_logged;
    struct fo_rec *next;          /* the manager's list (also walked by the writer under mu) */
    /* Loop -> writer. */
    _Atomic bool stopping;        /* nothing more will be queued for it */
    /* Writer -> loop. */
    _Atomic bool failed;          /* stop feeding it */
    _Atomic bool done;            /* the writer is finished with it: the loop may free it */
    /* Written by the writer, read by the loop, under mgr->mu. */
    const char *state;
    char error[256];
    char file[512];
    uint64_t bytes, frames[REC_KINDS], frames_skipped, files_total;
    fo_record_file_t files[FO_RECORD_FILES_SHOWN];
    size_t n_files;
    /* Writer thread only. */
    rec_writer_t *w;
};

/* An event from the writer for the loop: a closed file (on_record) or a keyframe request. */
typedef struct rec_event {
    struct rec_event *next;
    enum { EV_FILE, EV_WANT_KEY, EV_FAILED, EV_DONE } type;
    fo_rec_t *rec;                /* alive until the loop has seen its `done` */
    fo_record_file_t file;
    char key[200];
} rec_event_t;

struct fo_record {
    fo_loop_t *loop;
    const fo_config_t *cfg;
    rec_ring_t ring;
    pthread_t thread;
    bool thread_running;
    pthread_mutex_t mu;           /* recs list, status fields, events, stop */
    pthread_cond_t cv;
    bool stop;
    fo_rec_t *recs;               /* newest first: active and finished ones */
    size_t n_finished;
    rec_event_t *events, *events_tail;
    bool event_posted;
    char *armed[64];              /* stream keys the API asked to record before a publisher */
    uint64_t next_id;
    fo_record_notify_cb notify;
    void *notify_user;
    /* totals (loop thread, plus writer ones under mu) */
    uint64_t started, failed_total, files, bytes, dropped_queue, gaps, frames_skipped;
    int dirfd;                    /* record.dir, opened by the writer */
};

/* record_writer.c: the writer thread's main. */
void *fo_record_writer_main(void *arg);
/* record_writer.c: writer side of a recording that is done or abandoned (writer thread). */
void fo_record_writer_free(fo_rec_t *rec);
/* record.c: queues an event for the loop (writer thread; takes mgr->mu). */
void fo_record_post_event(fo_record_t *r, rec_event_t *ev);

#endif
