/* SPDX-License-Identifier: MIT */
/* The layer switcher's rules (see layer.h). Kept apart from stream.c so they can be tested
 * with synthetic estimates. */
#include "fanout/layer.h"

#include <string.h>

void fo_layer_init(fo_layer_sw_t *s, int forced)
{
    memset(s, 0, sizeof *s);
    s->forced = forced >= 0 && forced < FO_LAYER_MAX ? forced : -1;
    s->target = -1;
}

int fo_layer_parse(const char *s)
{
    static const char *const names[FO_LAYER_MAX][2] = {{"low", "0"}, {"mid", "1"}, {"high", "2"}};
    for (int i = 0; s && i < FO_LAYER_MAX; i++)
        if (!strcmp(s, names[i][0]) || !strcmp(s, names[i][1])) return i;
    return -1;
}

/* The live layer nearest to `want`, below first. */
static int nearest_live(int n, const bool *live, int want)
{
    for (int i = want; i >= 0; i--)
        if (live[i]) return i;
    for (int i = want + 1; i < n; i++)
        if (live[i]) return i;
    return -1;
}

int fo_layer_choose(fo_layer_sw_t *s, int n, const uint64_t *bps, const bool *live, int cur,
                    uint64_t estimate_bps, uint64_t now_ms)
{
    if (n > FO_LAYER_MAX) n = FO_LAYER_MAX;
    if (n <= 0) return s->target = -1;
    if (s->forced >= 0) return s->target = nearest_live(n, live, s->forced < n ? s->forced : n - 1);
    int top = nearest_live(n, live, n - 1);
    if (top < 0 || !estimate_bps) {
        s->up_since_ms = 0;
        return s->target = top;
    }
    /* The highest live layer that fits with a 10% margin, else the lowest live one. */
    int fit = -1;
    for (int i = 0; i < n; i++)
        if (live[i] && bps[i] * 10 <= estimate_bps * 9) fit = i;
    if (fit < 0) fit = nearest_live(n, live, 0);
    int base = cur >= 0 && cur < n && live[cur] ? cur : -1;
    if (base < 0) { /* first choice, or the current layer stopped: no hysteresis */
        s->up_since_ms = 0;
        return s->target = fit;
    }
    if (fit < base) {
        if (s->target != fit) {
            s->downs++;
            s->down_ms = now_ms;
        }
        s->up_since_ms = 0;
        return s->target = fit;
    }
    /* Up: the next live layer above must fit with 15% to spare, for a while. */
    int next = -1;
    for (int i = base + 1; i < n && next < 0; i++)
        if (live[i]) next = i;
    bool covers = next >= 0 && bps[next] * 100 <= estimate_bps * 85;
    if (!covers || (s->down_ms && now_ms - s->down_ms < FO_LAYER_BACKOFF_MS)) {
        s->up_since_ms = 0;
        return s->target = base;
    }
    if (!s->up_since_ms) s->up_since_ms = now_ms;
    if (now_ms - s->up_since_ms < FO_LAYER_UP_HOLD_MS) return s->target = base;
    s->up_since_ms = 0;
    s->ups++;
    return s->target = next;
}
