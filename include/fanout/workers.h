/* SPDX-License-Identifier: MIT */
/* Send workers (docs/workers.md): threads that SRTP-protect and sendmmsg packets the media loop
 * has rewritten for the transports assigned to them, each fed by its own single-producer /
 * single-consumer ring of send slots. The loop thread is worker 0 and never goes through a ring.
 * Every function here is for the loop thread only, except what the workers do inside. */
#ifndef FO_WORKERS_H
#define FO_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/srtp.h"
#include "fanout/udp.h"

typedef struct fo_workers fo_workers_t;

typedef struct {
    uint64_t tx_packets, tx_bytes; /* sent by workers */
    uint64_t tx_dropped;           /* ring full or sendmmsg failed */
    uint64_t protect_errors;
} fo_workers_stats_t;

/* n: rtc.workers (the loop counts as one): n - 1 threads are started, sending on `fd` (the
 * shared UDP socket, which must outlive the workers). NULL when n <= 1 or on failure (logged);
 * NULL means "the loop does everything". */
fo_workers_t *fo_workers_new(int n, int fd);
/* Drains every ring (honouring release slots), stops and joins the threads. NULL is a no-op. */
void fo_workers_free(fo_workers_t *w);

/* The worker for a newly connected transport: 0 (the loop) .. n-1, round robin. */
unsigned fo_workers_assign(fo_workers_t *w);

/* A send slot in worker k's ring (k >= 1): FO_UDP_BUF bytes, *cap set. When the ring is full
 * a scratch buffer is returned and the commit that follows drops (counted). */
uint8_t *fo_workers_slot(fo_workers_t *w, unsigned k, size_t *cap);
/* Queues the slot: worker k protects it with `srtp` (outbound half, owned by worker k) and sends
 * it to `to` (copied). Returns 0 or FO_EAGAIN (ring was full: dropped). */
int fo_workers_commit(fo_workers_t *w, unsigned k, size_t len, bool rtcp, fo_srtp_t *srtp,
                      const fo_addr_t *to);
/* Hands `srtp` to worker k to free after every packet queued before (takes ownership). */
void fo_workers_release(fo_workers_t *w, unsigned k, fo_srtp_t *srtp);
/* Waits until worker k has done every slot queued so far (publishing and yielding, bounded by
 * one ring's worth of sends): afterwards the loop may use an outbound SRTP context worker k
 * owned, as long as it queues nothing more for it (a transport moving to ICE-TCP). */
void fo_workers_fence(fo_workers_t *w, unsigned k);
/* Publishes committed slots to the workers and wakes sleeping ones. */
void fo_workers_flush(fo_workers_t *w);

/* Totals over the workers (relaxed reads: a snapshot for metrics). */
void fo_workers_stats(const fo_workers_t *w, fo_workers_stats_t *out);

#endif
