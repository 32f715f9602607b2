/* SPDX-License-Identifier: MIT */
/* Sampler, counters and the Prometheus exposition. Once per interval the sampler walks the
 * router's sessions (O(sessions), on a timer), keeps per session the counters it saw last, and
 * from their deltas makes bitrates and monotonic totals; sessions that disappeared are
 * forgotten at the same sweep. Nothing here runs per packet. */
#include "fanout/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/map.h"

#define MAX_SESSIONS_SWEPT 65536

typedef struct {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, rx_dropped;
    uint64_t nacks, plis;
    uint64_t rtx_limited, twcc_limited; /* players' feedback refused by its per-second budget */
    uint64_t tx_dropped, frames_skipped;
} counters_t;

typedef struct {
    char id[40];
    counters_t last;         /* as folded into the totals */
    uint64_t base_rx, base_tx, base_ms; /* bytes at the previous rate sample */
    fo_rate_t rate;
    unsigned sweep;
} entry_t;

struct fo_metrics {
    fo_loop_t *loop;
    fo_router_t *router;
    fo_timer_t timer;
    int interval_ms;
    fo_map_t *entries;       /* session id -> entry_t */
    unsigned sweep;
    counters_t totals[2];    /* by role */
    uint64_t udp_base_rx, udp_base_tx, udp_base_ms;
    fo_rate_t rate;
    double cpu_base, cpu_percent;
    uint64_t cpu_base_ms;
    uint64_t start_ms, start_unix_ms;
    struct {
        int status;
        uint64_t count;
    } api[FO_METRICS_MAX_CODES];
    size_t n_api;
    fo_clients_t *clients;
    fo_pool_t *pool;
};

static uint64_t rate_of(uint64_t now_bytes, uint64_t base_bytes, uint64_t dt_ms)
{
    return dt_ms && now_bytes >= base_bytes ? (now_bytes - base_bytes) * 8000 / dt_ms : 0;
}

static void read_counters(const fo_session_info_t *in, counters_t *c)
{
    *c = (counters_t){.rx_packets = in->rx_packets,
                      .rx_bytes = in->rx_bytes,
                      .tx_packets = in->tx_packets,
                      .tx_bytes = in->tx_bytes,
                      .rx_dropped = in->rx_dropped,
                      .twcc_limited = in->est_feedbacks_limited,
                      .tx_dropped = in->tx_dropped,
                      .frames_skipped = in->frames_skipped};
    for (int k = 0; k < 2; k++) {
        c->nacks += in->track[k].nacks;
        c->plis += in->track[k].plis;
        c->rtx_limited += in->track[k].rtx_limited;
    }
}

static entry_t *entry_for(fo_metrics_t *m, const char *id, uint64_t now)
{
    size_t idlen = strlen(id);
    entry_t *e = fo_map_get(m->entries, id, idlen);
    if (e) return e;
    e = calloc(1, sizeof *e);
    if (!e) return NULL;
    snprintf(e->id, sizeof e->id, "%s", id);
    e->base_ms = now;
    if (fo_map_put(m->entries, id, idlen, e) != 0) {
        free(e);
        return NULL;
    }
    return e;
}

#define FOLD(f) t->f += cur.f >= e->last.f ? cur.f - e->last.f : 0

/* Adds every session's growth since the last fold to the totals; with `rates`, also takes a
 * rate sample. Entries of sessions that are gone are freed. */
static void fold(fo_metrics_t *m, bool rates)
{
    uint64_t now = fo_loop_now(m->loop);
    size_t n = fo_router_list_sessions(m->router, NULL, 0);
    if (n > MAX_SESSIONS_SWEPT) n = MAX_SESSIONS_SWEPT;
    fo_session_t **all = n ? malloc(n * sizeof *all) : NULL;
    if (n && !all) return;
    if (n) n = fo_router_list_sessions(m->router, all, n) < n ? 0 : n;
    unsigned sweep = ++m->sweep;
    for (size_t i = 0; i < n; i++) {
        fo_session_info_t info;
        fo_session_info(all[i], &info);
        entry_t *e = entry_for(m, info.id, now);
        if (!e) continue;
        counters_t cur;
        read_counters(&info, &cur);
        counters_t *t = &m->totals[info.role == FO_ROLE_PLAY];
        FOLD(rx_packets);
        FOLD(rx_bytes);
        FOLD(tx_packets);
        FOLD(tx_bytes);
        FOLD(rx_dropped);
        FOLD(nacks);
        FOLD(plis);
        FOLD(rtx_limited);
        FOLD(twcc_limited);
        FOLD(tx_dropped);
        FOLD(frames_skipped);
        e->last = cur;
        e->sweep = sweep;
        if (rates && now > e->base_ms) {
            e->rate.rx_bps = rate_of(cur.rx_bytes, e->base_rx, now - e->base_ms);
            e->rate.tx_bps = rate_of(cur.tx_bytes, e->base_tx, now - e->base_ms);
            e->base_rx = cur.rx_bytes;
            e->base_tx = cur.tx_bytes;
            e->base_ms = now;
        }
    }
    free(all);
    size_t ne = fo_map_size(m->entries);
    if (ne <= n) return;
    void **vals = malloc(ne * sizeof *vals);
    if (!vals) return;
    ne = fo_map_values(m->entries, vals, ne);
    for (size_t i = 0; i < ne; i++) {
        entry_t *e = vals[i];
        if (e->sweep == sweep) continue;
        fo_map_del(m->entries, e->id, strlen(e->id));
        free(e);
    }
    free(vals);
}

#undef FOLD

/* utime + stime in seconds, threads, vsize and rss from /proc/self/stat. */
static int read_proc_stat(double *cpu_s, uint64_t *vsize_kb, uint64_t *rss_kb, int *threads)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return FO_ESYS;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    /* the command name may contain spaces: fields start after the last ')' */
    const char *p = strrchr(buf, ')');
    if (!p) return FO_EINVAL;
    unsigned long utime = 0, stime = 0, vsize = 0;
    long nthreads = 0, rss = 0;
    /* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime cutime cstime priority nice num_threads itrealvalue starttime vsize rss */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %ld %*d "
                      "%*u %lu %ld",
               &utime, &stime, &nthreads, &vsize, &rss) != 5)
        return FO_EINVAL;
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    *cpu_s = (double)(utime + stime) / (double)(hz > 0 ? hz : 100);
    *vsize_kb = vsize / 1024;
    *rss_kb = rss > 0 ? (uint64_t)rss * (uint64_t)(page > 0 ? page : 4096) / 1024 : 0;
    *threads = (int)nthreads;
    return 0;
}

static void sample(fo_metrics_t *m)
{
    uint64_t now = fo_loop_update_time(m->loop);
    fold(m, true);
    fo_udp_stats_t us, *u = &us;
    fo_router_udp_stats(m->router, u);
    if (now > m->udp_base_ms) {
        m->rate.rx_bps = rate_of(u->rx_bytes, m->udp_base_rx, now - m->udp_base_ms);
        m->rate.tx_bps = rate_of(u->tx_bytes, m->udp_base_tx, now - m->udp_base_ms);
    }
    m->udp_base_rx = u->rx_bytes;
    m->udp_base_tx = u->tx_bytes;
    m->udp_base_ms = now;
    double cpu = 0;
    uint64_t vs, rss;
    int th;
    if (read_proc_stat(&cpu, &vs, &rss, &th) == 0 && now > m->cpu_base_ms) {
        m->cpu_percent = (cpu - m->cpu_base) * 100000.0 / (double)(now - m->cpu_base_ms);
        if (m->cpu_percent < 0) m->cpu_percent = 0;
        m->cpu_base = cpu;
        m->cpu_base_ms = now;
    }
}

static void timer_cb(fo_timer_t *t)
{
    fo_metrics_t *m = t->user;
    sample(m);
    fo_timer_start(m->loop, &m->timer, (uint64_t)m->interval_ms);
}

fo_metrics_t *fo_metrics_new(fo_loop_t *loop, fo_router_t *router, int interval_ms)
{
    fo_metrics_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->loop = loop;
    m->router = router;
    m->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    m->entries = fo_map_new();
    if (!m->entries) {
        free(m);
        return NULL;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    m->start_unix_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    m->start_ms = fo_loop_update_time(loop);
    m->udp_base_ms = m->cpu_base_ms = m->start_ms;
    uint64_t vs, rss;
    int th;
    read_proc_stat(&m->cpu_base, &vs, &rss, &th);
    fo_timer_init(&m->timer, timer_cb, m);
    fo_timer_start(loop, &m->timer, (uint64_t)m->interval_ms);
    return m;
}

void fo_metrics_free(fo_metrics_t *m)
{
    if (!m) return;
    fo_timer_stop(m->loop, &m->timer);
    fo_map_free_owning(m->entries);
    free(m);
}

void fo_metrics_count_request(fo_metrics_t *m, int status)
{
    /* The last slot is kept for status 0, "any other", once the table is full. */
    if (m->n_api == FO_METRICS_MAX_CODES - 1) {
        size_t i = 0;
        while (i < m->n_api && m->api[i].status != status) i++;
        if (i == m->n_api) {
            m->api[m->n_api].status = 0;
            m->api[m->n_api].count = 0;
            m->n_api++;
        }
    }
    size_t i = 0;
    while (i < m->n_api && m->api[i].status != status) i++;
    if (i == m->n_api) {
        if (m->n_api == FO_METRICS_MAX_CODES) {
            i = m->n_api - 1; /* the status-0 slot */
        } else {
            m->api[i].status = status;
            m->api[i].count = 0;
            m->n_api++;
        }
    }
    m->api[i].count++;
}

fo_rate_t fo_metrics_session_rate(const fo_metrics_t *m, const char *session_id)
{
    const entry_t *e = fo_map_get(m->entries, session_id, strlen(session_id));
    return e ? e->rate : (fo_rate_t){0, 0};
}

fo_rate_t fo_metrics_total_rate(const fo_metrics_t *m) { return m->rate; }

void fo_metrics_proc(const fo_metrics_t *m, fo_proc_info_t *out)
{
    memset(out, 0, sizeof *out);
    read_proc_stat(&out->cpu_seconds, &out->vsize_kb, &out->rss_kb, &out->threads);
    out->cpu_percent = m->cpu_percent;
    out->uptime_ms = fo_loop_now(m->loop) - m->start_ms;
    out->start_unix_ms = m->start_unix_ms;
}

void fo_metrics_set_clients(fo_metrics_t *m, fo_clients_t *clients) { m->clients = clients; }

void fo_metrics_set_pool(fo_metrics_t *m, fo_pool_t *pool) { m->pool = pool; }

void fo_metrics_collect(fo_metrics_t *m, fo_metrics_data_t *out)
{
    memset(out, 0, sizeof *out);
    fold(m, false);
    size_t n = fo_router_list_sessions(m->router, NULL, 0);
    fo_session_t **all = n ? malloc(n * sizeof *all) : NULL;
    if (all) {
        n = fo_router_list_sessions(m->router, all, n) < n ? 0 : n;
        for (size_t i = 0; i < n; i++) {
            fo_session_info_t info;
            fo_session_info(all[i], &info);
            if ((unsigned)info.state < 4) out->sessions[info.role == FO_ROLE_PLAY][info.state]++;
            if (info.tcp) out->tcp_sessions++;
        }
        free(all);
    }
    fo_router_stats(m->router, &out->router);
    fo_router_end_counts(m->router, out->ended);
    out->streams = out->router.streams;
    fo_udp_stats_t us, *u = &us;
    fo_router_udp_stats(m->router, u);
    out->udp_rx_packets = u->rx_packets;
    out->udp_rx_bytes = u->rx_bytes;
    out->udp_tx_packets = u->tx_packets;
    out->udp_tx_bytes = u->tx_bytes;
    out->udp_tx_dropped = u->tx_dropped;
    out->udp_rx_truncated = u->rx_truncated;
    for (int r = 0; r < 2; r++) {
        const counters_t *t = &m->totals[r];
        out->srtp_rx_packets += t->rx_packets;
        out->srtp_rx_bytes += t->rx_bytes;
        out->srtp_tx_packets += t->tx_packets;
        out->srtp_tx_bytes += t->tx_bytes;
        out->srtp_rx_dropped += t->rx_dropped;
        out->nacks[r] = t->nacks;
        out->plis[r] = t->plis;
        out->congestion_dropped += t->tx_dropped;
        out->congestion_frames += t->frames_skipped;
    }
    fo_router_history_mem(m->router, &out->history);
    out->rtx_limited = m->totals[FO_ROLE_PLAY].rtx_limited;
    out->twcc_limited = m->totals[FO_ROLE_PLAY].twcc_limited;
    fo_router_tcp_stats(m->router, &out->tcp);
    out->rate = m->rate;
    fo_record_stats(fo_router_record(m->router), &out->record);
    if (m->clients) fo_clients_stats(m->clients, &out->http);
    if (m->pool) fo_pool_stats(m->pool, &out->handshakes);
    fo_metrics_proc(m, &out->proc);
    for (size_t i = 0; i < m->n_api; i++) {
        out->api[i].status = m->api[i].status;
        out->api[i].count = m->api[i].count;
    }
    out->n_api = m->n_api;
}

/* --- Prometheus text format 0.0.4 --- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    for (int tries = 0; tries < 2 && !b->oom; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->oom = true;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
}

static void family(sbuf_t *b, const char *name, const char *type, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u(sbuf_t *b, const char *name, const char *labels, uint64_t v)
{
    sb_printf(b, "%s%s%s%s %llu\n", name, labels ? "{" : "", labels ? labels : "", labels ? "}" : "",
              (unsigned long long)v);
}

static void sample_d(sbuf_t *b, const char *name, double v)
{
    sb_printf(b, "%s %.3f\n", name, v);
}

/* Tokens, operator API refusals, the on_publish/on_play callbacks (outcomes, in flight, a
 * latency histogram) and the end notifications. */
static void render_auth(sbuf_t *b, const fo_auth_stats_t *a)
{
    static const char *const hooks[2] = {"on_publish", "on_play"};
    char l[128];
    family(b, "fanout_auth_tokens_total", "counter", "Publish/play tokens checked, by result.");
    sample_u(b, "fanout_auth_tokens_total", "result=\"ok\"", a->token_ok);
    sample_u(b, "fanout_auth_tokens_total", "result=\"refused\"", a->token_refused);
    family(b, "fanout_api_auth_refused_total", "counter", "Operator API requests refused (no or wrong secret).");
    sample_u(b, "fanout_api_auth_refused_total", NULL, a->api_refused);
    family(b, "fanout_hook_requests_total", "counter",
           "on_publish/on_play callbacks by outcome: allowed, refused, failed (unreachable), timeout, "
           "busy (auth.hook_max_in_flight reached, not sent), cancelled (the client left).");
    for (int h = 0; h < 2; h++) {
        const struct {
            const char *name;
            uint64_t v;
        } r[] = {{"allowed", a->hook_allowed[h]}, {"refused", a->hook_refused[h]}, {"failed", a->hook_failed[h]},
                 {"timeout", a->hook_timeout[h]}, {"busy", a->hook_busy[h]},     {"cancelled", a->hook_cancelled[h]}};
        for (size_t i = 0; i < FO_ARRAY_LEN(r); i++) {
            snprintf(l, sizeof l, "hook=\"%s\",result=\"%s\"", hooks[h], r[i].name);
            sample_u(b, "fanout_hook_requests_total", l, r[i].v);
        }
    }
    family(b, "fanout_hook_in_flight", "gauge", "on_publish/on_play callbacks waiting for their answer.");
    sample_u(b, "fanout_hook_in_flight", NULL, a->hook_in_flight);
    family(b, "fanout_hook_duration_seconds", "histogram",
           "Time from sending an on_publish/on_play callback to its verdict (timeouts included).");
    for (int h = 0; h < 2; h++) {
        uint64_t cum = 0;
        for (int i = 0; i <= FO_AUTH_HOOK_BUCKETS; i++) {
            cum += a->hook_latency[h][i];
            if (i < FO_AUTH_HOOK_BUCKETS) snprintf(l, sizeof l, "hook=\"%s\",le=\"%g\"", hooks[h], fo_auth_hook_buckets[i]);
            else snprintf(l, sizeof l, "hook=\"%s\",le=\"+Inf\"", hooks[h]);
            sample_u(b, "fanout_hook_duration_seconds_bucket", l, cum);
        }
        sb_printf(b, "fanout_hook_duration_seconds_sum{hook=\"%s\"} %.3f\n", hooks[h],
                  (double)a->hook_latency_ms_sum[h] / 1000.0);
        snprintf(l, sizeof l, "hook=\"%s\"", hooks[h]);
        sample_u(b, "fanout_hook_duration_seconds_count", l, cum);
    }
    family(b, "fanout_notifications_total", "counter",
           "on_unpublish/on_stop notifications: sent, failed, dropped (queue full).");
    sample_u(b, "fanout_notifications_total", "result=\"sent\"", a->notify_sent);
    sample_u(b, "fanout_notifications_total", "result=\"failed\"", a->notify_failed);
    sample_u(b, "fanout_notifications_total", "result=\"dropped\"", a->notify_dropped);
}

char *fo_metrics_render(const fo_metrics_data_t *d)
{
    static const char *const roles[2] = {"publish", "play"};
    static const char *const states[4] = {"new", "checked", "connected", "closed"};
    sbuf_t b = {.cap = 8192};
    b.buf = malloc(b.cap);
    if (!b.buf) return NULL;
    b.buf[0] = '\0';
    char l[128];

    family(&b, "fanout_build_info", "gauge", "Version of the running fanout.");
    sample_u(&b, "fanout_build_info", "version=\"" FO_VERSION "\"", 1);
    family(&b, "fanout_sessions", "gauge", "Live sessions by kind (publish, play) and transport state.");
    for (int r = 0; r < 2; r++)
        for (int s = 0; s < 4; s++) {
            snprintf(l, sizeof l, "kind=\"%s\",state=\"%s\"", roles[r], states[s]);
            sample_u(&b, "fanout_sessions", l, d->sessions[r][s]);
        }
    family(&b, "fanout_streams", "gauge", "Streams with a publisher or players.");
    sample_u(&b, "fanout_streams", NULL, d->streams);
    family(&b, "fanout_sessions_ended_total", "counter", "Sessions ended, by reason.");
    for (int k = 0; k < FO_END_N; k++) {
        snprintf(l, sizeof l, "reason=\"%s\"", fo_router_end_kind_name((fo_end_kind_t)k));
        sample_u(&b, "fanout_sessions_ended_total", l, d->ended[k]);
    }
    family(&b, "fanout_dtls_failures_total", "counter",
           "Sessions ended by a failed or timed-out DTLS handshake, a fingerprint mismatch or SRTP setup.");
    sample_u(&b, "fanout_dtls_failures_total", NULL, d->ended[FO_END_DTLS_FAILED]);

    family(&b, "fanout_udp_packets_total", "counter", "Datagrams on the shared RTC port (media, STUN, DTLS).");
    sample_u(&b, "fanout_udp_packets_total", "direction=\"in\"", d->udp_rx_packets);
    sample_u(&b, "fanout_udp_packets_total", "direction=\"out\"", d->udp_tx_packets);
    family(&b, "fanout_udp_bytes_total", "counter", "Bytes on the shared RTC port (media, STUN, DTLS).");
    sample_u(&b, "fanout_udp_bytes_total", "direction=\"in\"", d->udp_rx_bytes);
    sample_u(&b, "fanout_udp_bytes_total", "direction=\"out\"", d->udp_tx_bytes);
    family(&b, "fanout_tcp_connections", "gauge",
           "ICE-TCP connections now: pending (no ICE check yet) or bound to a session.");
    sample_u(&b, "fanout_tcp_connections", "state=\"pending\"", d->tcp.pending);
    sample_u(&b, "fanout_tcp_connections", "state=\"bound\"", d->tcp.bound);
    family(&b, "fanout_tcp_sessions", "gauge", "Live sessions whose path in use is an ICE-TCP connection.");
    sample_u(&b, "fanout_tcp_sessions", NULL, d->tcp_sessions);
    family(&b, "fanout_tcp_accepted_total", "counter",
           "TCP connections accepted on the media port and, in one-port mode, the HTTPS port.");
    sample_u(&b, "fanout_tcp_accepted_total", NULL, d->tcp.accepted);
    family(&b, "fanout_tcp_closed_total", "counter", "TCP connections the server closed early, by reason.");
    sample_u(&b, "fanout_tcp_closed_total", "reason=\"refused\"", d->tcp.refused);
    sample_u(&b, "fanout_tcp_closed_total", "reason=\"evicted\"", d->tcp.evicted);
    sample_u(&b, "fanout_tcp_closed_total", "reason=\"no_check_in_time\"", d->tcp.timed_out);
    sample_u(&b, "fanout_tcp_closed_total", "reason=\"garbage\"", d->tcp.garbage);
    family(&b, "fanout_tcp_tls_handed_over_total", "counter",
           "One-port mode: connections on the HTTPS port that were TLS, handed to the HTTPS server.");
    sample_u(&b, "fanout_tcp_tls_handed_over_total", NULL, d->tcp.tls_handed_over);
    family(&b, "fanout_tcp_frames_total", "counter", "RFC 4571 frames on ICE-TCP connections.");
    sample_u(&b, "fanout_tcp_frames_total", "direction=\"in\"", d->tcp.rx_frames);
    sample_u(&b, "fanout_tcp_frames_total", "direction=\"out\"", d->tcp.tx_frames);
    family(&b, "fanout_tcp_writes_total", "counter",
           "sendmsg calls on ICE-TCP connections (each writes all a connection queued since the last).");
    sample_u(&b, "fanout_tcp_writes_total", NULL, d->tcp.tx_writes);
    family(&b, "fanout_tcp_bytes_total", "counter", "Bytes on ICE-TCP connections (out: taken by the kernel).");
    sample_u(&b, "fanout_tcp_bytes_total", "direction=\"in\"", d->tcp.rx_bytes);
    sample_u(&b, "fanout_tcp_bytes_total", "direction=\"out\"", d->tcp.tx_bytes);
    family(&b, "fanout_congestion_dropped_packets_total", "counter",
           "Packets not sent to players whose path backed up (slow ICE-TCP readers): skipped video, full queues.");
    sample_u(&b, "fanout_congestion_dropped_packets_total", NULL, d->congestion_dropped);
    family(&b, "fanout_congestion_skipped_frames_total", "counter",
           "Whole video frames skipped for players whose path backed up.");
    sample_u(&b, "fanout_congestion_skipped_frames_total", NULL, d->congestion_frames);
    family(&b, "fanout_srtp_packets_total", "counter",
           "SRTP/SRTCP packets of sessions (sampled; a session's last interval is not counted).");
    sample_u(&b, "fanout_srtp_packets_total", "direction=\"in\"", d->srtp_rx_packets);
    sample_u(&b, "fanout_srtp_packets_total", "direction=\"out\"", d->srtp_tx_packets);
    family(&b, "fanout_srtp_bytes_total", "counter",
           "SRTP/SRTCP bytes of sessions (sampled; a session's last interval is not counted).");
    sample_u(&b, "fanout_srtp_bytes_total", "direction=\"in\"", d->srtp_rx_bytes);
    sample_u(&b, "fanout_srtp_bytes_total", "direction=\"out\"", d->srtp_tx_bytes);
    family(&b, "fanout_bitrate_bps", "gauge", "Bits per second on the RTC port over the last sampling interval.");
    sample_u(&b, "fanout_bitrate_bps", "direction=\"in\"", d->rate.rx_bps);
    sample_u(&b, "fanout_bitrate_bps", "direction=\"out\"", d->rate.tx_bps);
    family(&b, "fanout_nacks_total", "counter",
           "NACKs: kind=publish sent to publishers, kind=play received from players.");
    for (int r = 0; r < 2; r++) {
        snprintf(l, sizeof l, "kind=\"%s\"", roles[r]);
        sample_u(&b, "fanout_nacks_total", l, d->nacks[r]);
    }
    family(&b, "fanout_plis_total", "counter",
           "PLIs: kind=publish sent to publishers, kind=play received from players.");
    for (int r = 0; r < 2; r++) {
        snprintf(l, sizeof l, "kind=\"%s\"", roles[r]);
        sample_u(&b, "fanout_plis_total", l, d->plis[r]);
    }
    family(&b, "fanout_feedback_limited_total", "counter",
           "Players' feedback over its per-second budget, not acted on: kind=nack NACKed packets not "
           "retransmitted, kind=twcc TWCC feedback packets not read.");
    sample_u(&b, "fanout_feedback_limited_total", "kind=\"nack\"", d->rtx_limited);
    sample_u(&b, "fanout_feedback_limited_total", "kind=\"twcc\"", d->twcc_limited);
    family(&b, "fanout_dropped_packets_total", "counter", "Datagrams dropped, by reason.");
    sample_u(&b, "fanout_dropped_packets_total", "reason=\"unknown_address\"", d->router.rx_unknown);
    sample_u(&b, "fanout_dropped_packets_total", "reason=\"stun_unknown_user\"", d->router.stun_unknown);
    sample_u(&b, "fanout_dropped_packets_total", "reason=\"stun_invalid\"", d->router.stun_bad);
    sample_u(&b, "fanout_dropped_packets_total", "reason=\"srtp_or_unexpected\"", d->srtp_rx_dropped);
    sample_u(&b, "fanout_dropped_packets_total", "reason=\"send_failed\"", d->udp_tx_dropped);
    sample_u(&b, "fanout_dropped_packets_total", "reason=\"truncated\"", d->udp_rx_truncated);
    sample_u(&b, "fanout_dropped_packets_total", "reason=\"tcp_oversized\"", d->tcp.rx_oversized);
    sample_u(&b, "fanout_dropped_packets_total", "reason=\"tcp_queue_full\"", d->tcp.tx_dropped);
    family(&b, "fanout_stun_requests_total", "counter", "STUN binding requests, by validation result.");
    sample_u(&b, "fanout_stun_requests_total", "result=\"ok\"", d->router.stun_ok);
    sample_u(&b, "fanout_stun_requests_total", "result=\"bad\"", d->router.stun_bad);
    sample_u(&b, "fanout_stun_requests_total", "result=\"over_cap\"", d->router.t.checks_limited);
    sample_u(&b, "fanout_stun_requests_total", "result=\"unknown_user\"", d->router.stun_unknown);
    family(&b, "fanout_stun_responses_total", "counter",
           "STUN responses to our address confirmation requests: confirmed, or not (unknown, forged, refused).");
    sample_u(&b, "fanout_stun_responses_total", "result=\"confirmed\"", d->router.stun_responses);
    sample_u(&b, "fanout_stun_responses_total", "result=\"bad\"", d->router.stun_responses_bad);
    family(&b, "fanout_ice_confirm_requests_total", "counter",
           "Binding requests sent to confirm a peer address before DTLS or media go there (retransmissions included).");
    sample_u(&b, "fanout_ice_confirm_requests_total", NULL, d->router.t.probes);
    family(&b, "fanout_ice_addresses_confirmed_total", "counter", "Peer addresses confirmed.");
    sample_u(&b, "fanout_ice_addresses_confirmed_total", NULL, d->router.t.confirmed);
    family(&b, "fanout_ice_unconfirmed_refused_total", "counter",
           "STUN datagrams not sent to an unconfirmed address because they exceeded the bytes it sent.");
    sample_u(&b, "fanout_ice_unconfirmed_refused_total", NULL, d->router.t.refused);
    family(&b, "fanout_api_requests_total", "counter", "HTTP API answers, by status code.");
    for (size_t i = 0; i < d->n_api; i++) {
        snprintf(l, sizeof l, "code=\"%d\"", d->api[i].status);
        sample_u(&b, "fanout_api_requests_total", l, d->api[i].count);
    }
    if (d->has_auth) render_auth(&b, &d->auth);

    const fo_record_stats_t *rs = &d->record;
    family(&b, "fanout_record_active", "gauge", "Recordings starting or writing.");
    sample_u(&b, "fanout_record_active", NULL, rs->active);
    family(&b, "fanout_record_started_total", "counter", "Recordings started.");
    sample_u(&b, "fanout_record_started_total", NULL, rs->started);
    family(&b, "fanout_record_failures_total", "counter",
           "Recordings stopped by an error (unwritable directory, disk full: see /api/v1/streams).");
    sample_u(&b, "fanout_record_failures_total", NULL, rs->failed);
    family(&b, "fanout_record_files_total", "counter", "Recording files closed.");
    sample_u(&b, "fanout_record_files_total", NULL, rs->files);
    family(&b, "fanout_record_bytes_total", "counter", "Bytes of the closed recording files.");
    sample_u(&b, "fanout_record_bytes_total", NULL, rs->bytes);
    family(&b, "fanout_record_dropped_packets_total", "counter",
           "Packets a recording did without: queue_full (the writer was behind), unrepaired (lost).");
    sample_u(&b, "fanout_record_dropped_packets_total", "reason=\"queue_full\"", rs->dropped_queue);
    sample_u(&b, "fanout_record_dropped_packets_total", "reason=\"unrepaired\"", rs->gaps);
    family(&b, "fanout_record_skipped_frames_total", "counter",
           "Video frames not written (incomplete, or waiting for a keyframe).");
    sample_u(&b, "fanout_record_skipped_frames_total", NULL, rs->frames_skipped);
    family(&b, "fanout_record_queue_bytes", "gauge", "Bytes waiting for the recording writer.");
    sample_u(&b, "fanout_record_queue_bytes", NULL, rs->queue_bytes);
    family(&b, "fanout_record_queue_capacity_bytes", "gauge", "Size of the recording writer's queue.");
    sample_u(&b, "fanout_record_queue_capacity_bytes", NULL, rs->queue_capacity);
    if (d->cluster.enabled) {
        const typeof(d->cluster) *c = &d->cluster;
        family(&b, "fanout_cluster_redis_up", "gauge", "1 while the cluster registry (Redis) is reachable.");
        sample_u(&b, "fanout_cluster_redis_up", NULL, c->redis_up);
        family(&b, "fanout_cluster_redis_reconnects_total", "counter", "Connections to Redis made again after one was lost.");
        sample_u(&b, "fanout_cluster_redis_reconnects_total", NULL, c->redis_reconnects);
        family(&b, "fanout_cluster_nodes", "gauge", "Live nodes in the cluster at the last heartbeat (this one included).");
        sample_u(&b, "fanout_cluster_nodes", NULL, c->nodes);
        family(&b, "fanout_cluster_draining", "gauge", "1 while this node drains.");
        sample_u(&b, "fanout_cluster_draining", NULL, c->draining);
        family(&b, "fanout_cluster_pulls", "gauge", "Streams this node pulls from other nodes, by state.");
        sample_u(&b, "fanout_cluster_pulls", "state=\"connected\"", c->pulls_connected);
        sample_u(&b, "fanout_cluster_pulls", "state=\"waiting\"", c->pulls - c->pulls_connected);
        family(&b, "fanout_cluster_pull_attempts_total", "counter", "Pulls started (relays to another node).");
        sample_u(&b, "fanout_cluster_pull_attempts_total", NULL, c->pull_attempts);
        family(&b, "fanout_cluster_pull_failures_total", "counter", "Pulls that ended before they connected.");
        sample_u(&b, "fanout_cluster_pull_failures_total", NULL, c->pull_failures);
        family(&b, "fanout_cluster_relays_served", "gauge", "Relay sessions this node serves to other nodes.");
        sample_u(&b, "fanout_cluster_relays_served", NULL, c->served);
        family(&b, "fanout_cluster_refused_total", "counter", "Sessions the cluster refused or sent elsewhere, by reason.");
        sample_u(&b, "fanout_cluster_refused_total", "reason=\"redirect\"", c->redirects);
        sample_u(&b, "fanout_cluster_refused_total", "reason=\"redis_down\"", c->refused_redis_down);
        sample_u(&b, "fanout_cluster_refused_total", "reason=\"claimed_elsewhere\"", c->claims_refused);
        family(&b, "fanout_cluster_bad_values_total", "counter", "Registry values from Redis that failed validation.");
        sample_u(&b, "fanout_cluster_bad_values_total", NULL, c->registry_bad_values);
    }

    family(&b, "fanout_history_bytes", "gauge",
           "Streams' packet histories (NACK repair, instant start): state=allocated reserved (rtc.history_kb "
           "per stream and video layer, touched as packets arrive), state=held bytes of packets kept now.");
    sample_u(&b, "fanout_history_bytes", "state=\"allocated\"", d->history.allocated);
    sample_u(&b, "fanout_history_bytes", "state=\"held\"", d->history.held);
    family(&b, "fanout_http_refused_total", "counter",
           "HTTP connections and requests refused by the per-client limits, by reason.");
    sample_u(&b, "fanout_http_refused_total", "reason=\"client_connections\"", d->http.conns_refused);
    sample_u(&b, "fanout_http_refused_total", "reason=\"banned\"", d->http.banned_refused);
    sample_u(&b, "fanout_http_refused_total", "reason=\"request_timeout\"", d->http.timeouts);
    sample_u(&b, "fanout_http_refused_total", "reason=\"rate_limited\"", d->http.rate_limited);
    family(&b, "fanout_http_bans_total", "counter", "Clients banned for repeated failed requests.");
    sample_u(&b, "fanout_http_bans_total", NULL, d->http.bans);
    family(&b, "fanout_http_banned_clients", "gauge", "Clients banned now.");
    sample_u(&b, "fanout_http_banned_clients", NULL, d->http.banned_now);
    family(&b, "fanout_http_clients", "gauge", "Clients the HTTP front keeps track of now.");
    sample_u(&b, "fanout_http_clients", NULL, d->http.clients);

    family(&b, "fanout_dtls_handshake_jobs_total", "counter",
           "DTLS handshake steps run on the handshake threads (rtc.handshake_threads).");
    sample_u(&b, "fanout_dtls_handshake_jobs_total", NULL, d->handshakes.jobs);
    family(&b, "fanout_dtls_handshake_jobs_queued", "gauge", "Handshake steps waiting for a thread now.");
    sample_u(&b, "fanout_dtls_handshake_jobs_queued", NULL, d->handshakes.queued);
    family(&b, "fanout_dtls_handshake_cpu_seconds_total", "counter", "CPU time the handshake threads spent.");
    sample_d(&b, "fanout_dtls_handshake_cpu_seconds_total", (double)d->handshakes.busy_us / 1e6);

    family(&b, "process_cpu_seconds_total", "counter", "User and system CPU time of this process.");
    sample_d(&b, "process_cpu_seconds_total", d->proc.cpu_seconds);
    family(&b, "process_resident_memory_bytes", "gauge", "Resident memory of this process.");
    sample_u(&b, "process_resident_memory_bytes", NULL, d->proc.rss_kb * 1024);
    family(&b, "process_virtual_memory_bytes", "gauge", "Virtual memory of this process.");
    sample_u(&b, "process_virtual_memory_bytes", NULL, d->proc.vsize_kb * 1024);
    family(&b, "process_start_time_seconds", "gauge", "Start of this process, Unix time.");
    sample_d(&b, "process_start_time_seconds", (double)d->proc.start_unix_ms / 1000.0);
    family(&b, "fanout_uptime_seconds", "gauge", "Seconds since start.");
    sample_d(&b, "fanout_uptime_seconds", (double)d->proc.uptime_ms / 1000.0);
    if (b.oom) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}
