/* SPDX-License-Identifier: MIT */
/* A rate limit for log lines a peer can trigger at will (an address change per STUN check, an
 * SSRC change per RTP packet): at most FO_LOGLIMIT_BURST lines per FO_LOGLIMIT_WINDOW_MS per
 * limiter, the rest counted and reported with the next line let through. One limiter per
 * session and kind of line, so one session cannot drown another's lines. No syscalls: the
 * caller passes its cached clock. Owner's thread only; pure. */
#ifndef FO_LOGLIMIT_H
#define FO_LOGLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "fanout/log.h"

#define FO_LOGLIMIT_BURST 5
#define FO_LOGLIMIT_WINDOW_MS 10000

typedef struct {
    uint64_t window_ms; /* start of the current window */
    uint32_t lines;     /* let through in it */
    uint32_t held;      /* suppressed since the last line let through */
} fo_loglimit_t;

/* Whether a line may be written now. When it may, *suppressed is how many were held back
 * before it (to say so in the line); zero-initialise the limiter. */
static inline bool fo_loglimit_allow(fo_loglimit_t *l, uint64_t now_ms, uint32_t *suppressed)
{
    if (l->lines == 0 || now_ms - l->window_ms >= FO_LOGLIMIT_WINDOW_MS) {
        l->window_ms = now_ms;
        l->lines = 0;
    }
    if (l->lines >= FO_LOGLIMIT_BURST) {
        l->held++;
        return false;
    }
    l->lines++;
    *suppressed = l->held;
    l->held = 0;
    return true;
}

/* FO_LOG through a limiter: the line gets " (N similar lines suppressed)" appended when some
 * were. `fmt` must be a string literal. */
#define FO_LOG_LIMITED(lim, now_ms, level, ctx, fmt, ...)                                          \
    do {                                                                                           \
        uint32_t fo_ll_n_;                                                                         \
        if ((level) <= fo_log_level_current && fo_loglimit_allow((lim), (now_ms), &fo_ll_n_)) {    \
            if (fo_ll_n_)                                                                          \
                fo_log_write((level), (ctx), fmt " (%u similar lines suppressed)", __VA_ARGS__,    \
                             (unsigned)fo_ll_n_);                                                  \
            else                                                                                   \
                fo_log_write((level), (ctx), fmt, __VA_ARGS__);                                    \
        }                                                                                          \
    } while (0)

#endif
