/* SPDX-License-Identifier: MIT */
/* Configuration: defaults, then the INI file (inih), then environment variables, then command
 * line flags, into one struct that is read-only once the server starts. Owns no resources.
 * Start-up thread only. */
#ifndef FO_CONFIG_H
#define FO_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "fanout/media.h"

#define FO_CONFIG_MAX_CANDIDATES 8
#define FO_CONFIG_MAX_WORKERS 64
/* http.csp's default: the pages' scripts and styles from files of this origin (no inline
 * code), signaling to any http(s) origin (pages given ?api=), no plugins, no framing by any
 * site. (A line of conf/fanout.conf holds at most 200 bytes: inih's limit.) */
#define FO_CONFIG_PAGE_CSP                                                                         \
    "default-src 'self'; img-src 'self' data:; connect-src 'self' http: https:; "                  \
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
/* https.priorities' default: TLS 1.2 and 1.3 only (no 1.0/1.1), forward-secret key exchange and
 * AEAD ciphers only (what Mozilla's "intermediate" profile allows), the server's order. */
#define FO_CONFIG_TLS_PRIORITIES                                                                   \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"            \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

typedef struct {
    /* [http] */
    char http_listen[64];       /* address to bind */
    int http_port;
    char www_root[512];
    int max_body;               /* bytes */
    char allowed_hosts[512];    /* names (besides IP literals, localhost) the operator API
                                 * answers under when it trusts loopback; "*" = any */
    char allowed_origins[512];  /* other origins that may call the operator API (CORS) */
    char csp[512];              /* Content-Security-Policy of the pages; "" = none */
    char stream_list[8];        /* "auto", "on", "off": the pages' public stream list */
    /* [http] per-client limits (src/signal/clients.c) */
    int http_max_connections;   /* per daemon; 0 = from RLIMIT_NOFILE */
    int http_max_conns_per_client;
    int http_request_timeout;   /* seconds for a request's headers and body; 0 = none */
    int http_signal_rate;       /* signaling requests/s per client; 0 = none */
    int http_signal_burst;
    int http_ban_failures;      /* 0 = no bans */
    int http_ban_window, http_ban_time; /* seconds */
    char http_exempt[256];      /* client IPs the per-client limits skip */
    /* [https] */
    int https_enabled;          /* 0 or 1 */
    char https_listen[64];
    int https_port;
    char https_cert[512];       /* PEM; generated (self-signed) when neither file exists */
    char https_key[512];
    char https_priorities[256]; /* GnuTLS priority string: TLS versions and cipher suites */
    /* [rtc] */
    char rtc_listen[64];
    int rtc_port;
    int udp;                    /* 1: media on the UDP port (0: TCP only) */
    int tcp_port;               /* ICE-TCP port: -1 = "auto" (rtc_port's number), 0 = off;
                                 * fo_config_tcp_port() resolves it */
    int tcp_on_https;           /* 1: the HTTPS port takes ICE-TCP too (one-port mode) */
    int tcp_max_pending;        /* TCP connections waiting for their first ICE check */
    char candidate[512];        /* space/comma separated addresses, "*" = this machine's */
    int consent_timeout;        /* seconds without a STUN check before a session ends */
    int pending_timeout;        /* seconds a session may stay unconnected */
    int publisher_grace;        /* seconds players wait for a departed publisher to return */
    int publisher_takeover;     /* seconds of publisher silence after which a new publisher may
                                 * replace it; 0 = never */
    int max_sessions;
    char video_codecs[128];     /* preference order, e.g. "VP8 H264 VP9 AV1" */
    char dtls_cert[512];        /* PEM; empty: generate at start-up */
    char dtls_key[512];
    int max_bitrate_kbps;       /* per-stream ceiling told to publishers (REMB); 0 = none */
    int instant_start;          /* 1: new players start from the cached keyframe */
    int workers;                /* threads that SRTP-protect and send to players (docs/workers.md);
                                 * 0 = "auto": use fo_config_workers() */
    int handshake_threads;      /* DTLS handshake pool (src/net/pool.c); 0 = on the media thread;
                                 * -1 = "auto": use fo_config_handshake_threads() */
    int handshake_nice;         /* their nice value (0..19) */
    /* [rtc] limits (src/signal/limits.c) */
    int max_players_per_stream;
    int max_sessions_per_ip;    /* per client: an IPv4 address or an IPv6 /64 */
    char limits_exempt[256];    /* client IPs the per-client caps do not apply to */
    int max_pending;            /* sessions not yet connected */
    int max_pending_per_ip;     /* of which from one client */
    int offer_rate_per_ip;      /* offers per second from one client (a one-second burst) */
    int max_publishers;
    int max_publishers_per_ip;
    int max_pps;                /* packets/s accepted from one peer; 0 = no cap */
    int history_kb;             /* recent video kept per stream and layer (history.h) */
    /* [auth] (src/signal/auth.c) */
    char auth_secret[256];      /* HMAC key for publish/play tokens; empty = no tokens needed */
    char api_secret[256];       /* bearer secret for /api/v1; empty = loopback clients only */
    char on_publish[512], on_play[512], on_unpublish[512], on_stop[512]; /* callback URLs */
    int hook_timeout_ms;
    int max_token_ttl;          /* seconds: tokens expiring later than now + this are refused */
    /* [record] (src/media/record.c) */
    int record_enabled;         /* 0 or 1: record the streams matching record_streams */
    char record_dir[512];
    char record_streams[512];   /* space-separated glob patterns of stream keys; "" = all */
    char record_path[256];      /* file name template under record_dir (record.h) */
    int record_segment_s;       /* rotate after this many seconds; 0 = one file per publish */
    int record_max_mb;          /* rotate after this many MiB; 0 = no limit */
    int record_queue_mb;        /* the writer's queue */
    int record_repair_ms;       /* how long a missing video packet is waited for */
    char on_record[512];        /* URL POSTed when a file is closed */
    /* [cluster] (src/cluster/cluster.c) */
    char cluster_redis[512];    /* redis://[[user]:password@]host[:port][/db]; "" = one node */
    char cluster_node_id[64];   /* "" = hostname:http_port */
    char cluster_api_url[256];  /* how other nodes reach this API; "" = http://<candidate>:<port> */
    char cluster_secret[256];   /* HMAC key of node-to-node tokens */
    int cluster_heartbeat;      /* seconds between heartbeats */
    int cluster_ttl;            /* seconds until a silent node's entries expire */
    int cluster_redirect;       /* 1: redirect plays (307) when at capacity or draining */
    int cluster_capacity;       /* players this node takes before redirecting; 0 = no limit */
    int cluster_max_depth;      /* relay tree depth (the origin's relays are 1) */
    int cluster_relays_per_node; /* direct relays a carrier serves before deeper ones are used */
    int cluster_relay_linger;   /* seconds a relay stays after its last local player */
    int cluster_drain_timeout;  /* seconds draining waits for sessions before leaving */
    /* [relay] (src/cluster/relay.c): static pulls and pushes, "app/stream=URL" separated by blanks */
    char relay_pull[2048];
    char relay_push[2048];
    int hook_max_in_flight;     /* on_publish/on_play callbacks waiting at once; beyond: 503 */
    /* [log] */
    char log_level[16];
    char log_file[512];
} fo_config_t;

/* Fills `cfg` with the built-in defaults. */
void fo_config_defaults(fo_config_t *cfg);

/* Reads an INI file over `cfg`. Unknown sections/keys and bad values are errors.
 * Returns 0, or a negative code with "file:line: reason" in err. */
int fo_config_load_file(fo_config_t *cfg, const char *path, char *err, size_t errcap);

/* The same over an in-memory INI document (NUL-terminated `text`; `name` labels errors).
 * The config fuzzer's entry point. */
int fo_config_load_string(fo_config_t *cfg, const char *text, const char *name, char *err,
                          size_t errcap);

/* Sets one setting by section and key from text (used by the file, env and flags).
 * Returns 0 or FO_EINVAL/FO_ENOTFOUND with a reason in err. */
int fo_config_set(fo_config_t *cfg, const char *section, const char *key, const char *value,
                  char *err, size_t errcap);

/* Applies environment overrides: FANOUT_<SECTION>_<KEY> for every setting (e.g.
 * FANOUT_RTC_PORT), plus CANDIDATE for rtc.candidate. Returns 0 or an error as above. */
int fo_config_apply_env(fo_config_t *cfg, char *err, size_t errcap);

/* Finds FANOUT_* variables in `env` (e.g. environ) that name no setting (a typo such as
 * FANOUT_RTC_PORTT would otherwise pass unnoticed, while an unknown key in the file stops
 * start-up) and are not read elsewhere (FANOUT_SRTP_CRYPTO; FANOUT_BIN and FANOUT_ARGS of the
 * test harness). Calls cb(user, name, suggestion) for each (suggestion: the closest setting's
 * variable, or NULL) and returns how many. The caller warns: such a variable does not stop
 * start-up, since the environment also carries other programs' FANOUT_* names. */
typedef void (*fo_config_unknown_env_cb)(void *user, const char *name, const char *suggestion);
size_t fo_config_unknown_env(char *const *env, fo_config_unknown_env_cb cb, void *user);

/* rtc.workers resolved: the number given, or for "auto" the CPUs this process may run on
 * (sched_getaffinity), 1..FO_CONFIG_MAX_WORKERS. */
int fo_config_workers(const fo_config_t *cfg);

/* rtc.handshake_threads resolved: the number given (0: none), or for "auto" the CPUs this
 * process may run on. */
int fo_config_handshake_threads(const fo_config_t *cfg);

/* rtc.tcp_port resolved: the port given, rtc.port's number for "auto", 0 for off. */
int fo_config_tcp_port(const fo_config_t *cfg);

/* Settings that are valid one by one but not together (no media carrier at all, one-port
 * mode without HTTPS). Returns 0, or FO_EINVAL with the reason in err. */
int fo_config_check(const fo_config_t *cfg, char *err, size_t errcap);

/* Sets "section.key=value" (the --set flag). Returns as fo_config_set; a missing '.' or '='
 * is FO_EINVAL. */
int fo_config_set_assignment(fo_config_t *cfg, const char *assignment, char *err, size_t errcap);

/* Parses the video_codecs list into `out` (at most max). Returns the count (>= 1) or FO_EINVAL. */
int fo_config_video_codecs(const fo_config_t *cfg, fo_codec_t *out, size_t max);

/* Item `index` of a relay.pull / relay.push list ("app/stream=URL" separated by blanks or
 * commas): the key and the URL. Returns 0, FO_ENOTFOUND past the end, or FO_EINVAL with a
 * static reason in *why. Pure. */
int fo_config_relay_item(const char *list, size_t index, char *key, size_t kcap, char *url,
                         size_t ucap, const char **why);

/* Writes every setting with its comment as an INI document (for --help / docs). */
void fo_config_print_settings(void *stdio_file);

#endif
