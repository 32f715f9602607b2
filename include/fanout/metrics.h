/* SPDX-License-Identifier: MIT */
/* Operator statistics: a sampler on a timer (never on the packet path) that reads every
 * session's byte counters once per interval and turns them into bitrates and monotonic totals,
 * process CPU and memory from /proc/self, API answers counted by HTTP status, and the
 * Prometheus text exposition (format 0.0.4). Reads the router's snapshots; owns no media
 * state. Loop thread only, except fo_metrics_render, which is pure. */
#ifndef FO_METRICS_H
#define FO_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/auth.h"
#include "fanout/clients.h"
#include "fanout/loop.h"
#include "fanout/pool.h"
#include "fanout/record.h"
#include "fanout/router.h"

typedef struct fo_metrics fo_metrics_t;

/* Bits per second over the last sampling interval; 0 until two samples exist. */
typedef struct {
    uint64_t rx_bps, tx_bps;
} fo_rate_t;

/* This process, from /proc/self (0 where unreadable). */
typedef struct {
    double cpu_percent;        /* over the last interval, of one core */
    double cpu_seconds;        /* user + system since start */
    uint64_t rss_kb, vsize_kb;
    uint64_t uptime_ms;
    uint64_t start_unix_ms;    /* wall clock at fo_metrics_new */
    int threads;
} fo_proc_info_t;

#define FO_METRICS_MAX_CODES 24

/* Everything /metrics shows, collected in one go (fo_metrics_collect) so that rendering is
 * pure and unit-testable. */
typedef struct {
    uint64_t sessions[2][4];   /* [fo_role_t][fo_transport_state_t] */
    uint64_t streams;
    fo_router_stats_t router;
    uint64_t ended[FO_END_N];  /* sessions ended, by fo_end_kind_t */
    uint64_t udp_rx_packets, udp_rx_bytes, udp_tx_packets, udp_tx_bytes;
    uint64_t udp_tx_dropped, udp_rx_truncated;
    /* Folded from sessions' counters at each sample: monotonic, but the traffic of a session's
     * last interval before it ended is not counted. */
    uint64_t srtp_rx_packets, srtp_rx_bytes, srtp_tx_packets, srtp_tx_bytes, srtp_rx_dropped;
    uint64_t nacks[2], plis[2]; /* [FO_ROLE_PUBLISH]: sent to publishers; [FO_ROLE_PLAY]: from players */
    uint64_t rtx_limited, twcc_limited; /* players' NACKed packets and TWCC feedback over budget */
    fo_history_mem_t history;  /* streams' packet histories */
    /* Backpressure on players (slow ICE-TCP readers), folded like the SRTP counters: packets
     * not sent (skipped video, refused by a full queue) and video frames skipped. */
    uint64_t congestion_dropped, congestion_frames;
    uint64_t tcp_sessions;     /* live sessions whose path in use is an ICE-TCP connection */
    fo_tcp_stats_t tcp;        /* the ICE-TCP carrier */
    fo_rate_t rate;            /* UDP level, the whole server */
    fo_record_stats_t record;  /* recordings (record.h) */
    fo_clients_stats_t http;   /* the HTTP front's per-client limits (zero without them) */
    fo_pool_stats_t handshakes; /* the DTLS handshake threads (zero without them) */
    fo_proc_info_t proc;
    struct {
        int status;
        uint64_t count;
    } api[FO_METRICS_MAX_CODES];
    size_t n_api;
    /* The cluster (cluster.h), filled by the API when there is one: fanout_cluster_* rows. */
    struct {
        bool enabled, redis_up, draining;
        uint64_t nodes, pulls, pulls_connected, served;
        uint64_t pull_attempts, pull_failures, redirects, refused_redis_down, claims_refused;
        uint64_t redis_reconnects, registry_bad_values;
    } cluster;
    bool has_auth;             /* auth below is filled (the caller's: metrics does not own auth) */
    fo_auth_stats_t auth;
} fo_metrics_data_t;

/* Starts sampling every interval_ms (> 0). `router` must outlive the metrics. NULL on
 * allocation failure. */
fo_metrics_t *fo_metrics_new(fo_loop_t *loop, fo_router_t *router, int interval_ms);
void fo_metrics_free(fo_metrics_t *m);

/* Reads the HTTP front's per-client counters from `clients` (must outlive the metrics). */
void fo_metrics_set_clients(fo_metrics_t *m, fo_clients_t *clients);

/* Reads the DTLS handshake pool's counters from `pool` (must outlive the metrics). */
void fo_metrics_set_pool(fo_metrics_t *m, fo_pool_t *pool);

/* Counts one API answer. Statuses beyond FO_METRICS_MAX_CODES distinct ones go to 0. */
void fo_metrics_count_request(fo_metrics_t *m, int status);

/* The rates of one session (zero if unknown or too young). */
fo_rate_t fo_metrics_session_rate(const fo_metrics_t *m, const char *session_id);
/* The whole server's rates (UDP level: media, STUN and DTLS). */
fo_rate_t fo_metrics_total_rate(const fo_metrics_t *m);
void fo_metrics_proc(const fo_metrics_t *m, fo_proc_info_t *out);

/* Folds the current counters and fills *out. */
void fo_metrics_collect(fo_metrics_t *m, fo_metrics_data_t *out);

/* The Prometheus text exposition of *d: heap string (caller frees) or NULL on allocation
 * failure. Pure; any thread. */
char *fo_metrics_render(const fo_metrics_data_t *d);

#endif
