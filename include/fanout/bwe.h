/* SPDX-License-Identifier: MIT */
/* A player's bandwidth estimate, send side: we number every packet we send it with the
 * transport-wide sequence number extension and remember when and how big it was; its TWCC
 * feedback (RTPFB fmt 15) says which arrived and when. From that, per feedback window:
 * delivery rate (bytes acknowledged over their arrival span), loss ratio and queuing delay
 * (growth of arrival - send time over its recent minimum). The estimate is deliberately simple
 * (not GoogCC): it falls to 85% of the delivery rate when loss > 10% or queuing delay > 60 ms,
 * holds between, and grows by 5% + 20 kbps every 200 ms (from the 50 kbps floor to 1 Mbps in
 * ~5 s; ~28%/s higher up) while loss < 2% and delay < 20 ms, but
 * not past twice the delivery rate + FO_BWE_HEADROOM_BPS (we do not probe), within
 * [FO_BWE_MIN_BPS, FO_BWE_MAX_BPS]. A REMB from the player caps it. Fixed-size ring, no
 * allocation. Pure: libc only; the caller supplies clock readings. One thread. */
#ifndef FO_BWE_H
#define FO_BWE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FO_BWE_RING 1024             /* packets remembered (power of 2): ~3 s at 2.5 Mbps */
#define FO_BWE_MIN_BPS 50000
#define FO_BWE_MAX_BPS 20000000
#define FO_BWE_START_BPS 1000000     /* before any evidence */
#define FO_BWE_UPDATE_MS 200
#define FO_BWE_HEADROOM_BPS 1000000  /* growth limit above 2x the delivery rate */
#define FO_BWE_STEP_BPS 20000        /* added to each 5% step, so recovery from a low value is quick */
#define FO_BWE_REMB_TTL_MS 3000      /* a REMB older than this no longer caps */
/* Packet statuses of TWCC feedback read per second (a one-second burst): ~10x what a 20 Mbps
 * player reports. Feedback beyond it is dropped unread and counted (issue 15, item 10). */
#define FO_BWE_STATUSES_PER_S 20000

typedef struct {
    uint16_t seq;
    uint16_t size;
    uint32_t send_ms;    /* 0 = empty slot */
} fo_bwe_pkt_t;

typedef struct {
    fo_bwe_pkt_t ring[FO_BWE_RING];
    uint64_t estimate_bps;
    uint64_t delivery_bps;       /* last window's delivery rate */
    uint32_t loss_permille;      /* last window's loss */
    uint32_t queue_ms;           /* last window's queuing delay */
    /* current window */
    uint64_t win_bytes;
    uint32_t win_acked, win_lost;
    int64_t win_first_arrival_us, win_last_arrival_us;
    int64_t win_delay_sum_us;
    uint32_t win_delay_n;
    int64_t min_delay_us;        /* smallest arrival - send seen (clock offset + base delay) */
    uint64_t min_delay_ms;       /* when it was set: it is forgotten after 10 s */
    uint64_t last_update_ms;
    uint64_t remb_bps, remb_ms;
    uint64_t feedbacks, increases, decreases;
    uint64_t feedbacks_limited;  /* dropped unread: over FO_BWE_STATUSES_PER_S */
    int64_t status_budget;       /* statuses that may still be read */
    uint64_t budget_ms;
    bool have_feedback;
} fo_bwe_t;

void fo_bwe_init(fo_bwe_t *b, uint64_t now_ms);
/* We sent a packet numbered `seq` of `size` bytes at now_ms. */
void fo_bwe_on_send(fo_bwe_t *b, uint16_t seq, size_t size, uint64_t now_ms);
/* A TWCC feedback FCI (after the RTPFB header and SSRCs) arrived at now_ms. Returns 0,
 * FO_EINVAL (malformed: ignored) or FO_EAGAIN (over FO_BWE_STATUSES_PER_S: dropped unread). */
int fo_bwe_on_feedback(fo_bwe_t *b, const uint8_t *fci, size_t len, uint64_t now_ms);
/* A REMB of `bps` from the player. */
void fo_bwe_on_remb(fo_bwe_t *b, uint64_t bps, uint64_t now_ms);
/* The estimate (bps), REMB cap applied. */
uint64_t fo_bwe_estimate(const fo_bwe_t *b, uint64_t now_ms);

#endif
