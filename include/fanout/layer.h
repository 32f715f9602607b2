/* SPDX-License-Identifier: MIT */
/* Simulcast layer choice for one player: which of a publisher's layers (ranked low to high)
 * it should receive, from its bandwidth estimate or from an explicit choice (?layer=).
 * Going down is immediate: a player whose estimate no longer covers its layer's measured
 * bitrate (with 10% margin) gets the highest layer that fits, or the lowest. Going up needs the
 * estimate to cover the higher layer by 15% for FO_LAYER_UP_HOLD_MS without interruption, and
 * FO_LAYER_BACKOFF_MS since the last step down. Without an estimate (0) the highest layer is
 * taken. The caller switches when the target layer's next keyframe arrives.
 * Pure: libc only. One thread. */
#ifndef FO_LAYER_H
#define FO_LAYER_H

#include <stdbool.h>
#include <stdint.h>

#define FO_LAYER_MAX 3
#define FO_LAYER_UP_HOLD_MS 2000
#define FO_LAYER_BACKOFF_MS 5000

typedef struct {
    int forced;            /* explicit rank 0..FO_LAYER_MAX-1 (0 = lowest), -1 = automatic */
    int target;            /* rank wanted, -1 before the first choice */
    uint64_t up_since_ms;  /* the estimate has covered a higher layer since (0 = not now) */
    uint64_t down_ms;      /* last step down */
    uint64_t ups, downs;
} fo_layer_sw_t;

void fo_layer_init(fo_layer_sw_t *s, int forced);
/* Chooses the target rank among n layers (1..FO_LAYER_MAX) ranked low to high: bps[i] the
 * measured bitrate of rank i (0 when not measured yet), live[i] whether it is flowing now.
 * `cur` is the rank being forwarded (-1 none). Returns the target (also in s->target), or -1
 * when no layer is live. */
int fo_layer_choose(fo_layer_sw_t *s, int n, const uint64_t *bps, const bool *live, int cur,
                    uint64_t estimate_bps, uint64_t now_ms);
/* "low"/"mid"/"high" or "0".."2" -> rank; -1 for anything else. */
int fo_layer_parse(const char *s);

#endif
