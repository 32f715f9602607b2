/* SPDX-License-Identifier: MIT */
/* Settings table + inih. One table row per setting: where it lives, its type, its default and
 * its help text, so the file parser, the environment and --help agree by construction. */
#include "fanout/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <sched.h>
#include <stdbool.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/record.h"
#include "fanout/redis.h"
#include "fanout/registry.h"

/* T_COUNT: an integer in min..max, or "auto" (stored as min - 1, resolved by the setting's
 * user). T_PORT: an integer in min..max, or "auto" (stored as -1: 0 means off). */
typedef enum { T_STR, T_INT, T_COUNT, T_BOOL, T_PORT } type_t;

typedef struct {
    const char *section, *key;
    type_t type;
    size_t off, size;
    const char *def;
    long min, max;
    const char *help;
} setting_t;

#define S(sec, k, field, d, h) {sec, k, T_STR, offsetof(fo_config_t, field), sizeof(((fo_config_t *)0)->field), d, 0, 0, h}
#define I(sec, k, field, d, lo, hi, h) {sec, k, T_INT, offsetof(fo_config_t, field), sizeof(int), d, lo, hi, h}
#define N(sec, k, field, d, lo, hi, h) {sec, k, T_COUNT, offsetof(fo_config_t, field), sizeof(int), d, lo, hi, h}
#define B(sec, k, field, d, h) {sec, k, T_BOOL, offsetof(fo_config_t, field), sizeof(int), d, 0, 1, h}
#define P(sec, k, field, d, h) {sec, k, T_PORT, offsetof(fo_config_t, field), sizeof(int), d, 0, 65535, h}

static const setting_t settings[] = {
    S("http", "listen", http_listen, "::", "address the HTTP API and pages listen on (:: = IPv6 and IPv4)"),
    I("http", "port", http_port, "1985", 1, 65535, "HTTP port (SRS's API port, so its tools work)"),
    S("http", "www", www_root, "www", "directory of the web pages served at /"),
    I("http", "max_body", max_body, "65536", 1024, 1048576, "largest request body in bytes"),
    S("http", "allowed_hosts", allowed_hosts, "",
      "host names the operator API answers under without auth.api_secret (IP addresses and "
      "localhost always); * = any"),
    S("http", "allowed_origins", allowed_origins, "",
      "other web origins (https://dash.example.org) allowed to call the operator API (CORS)"),
    S("http", "csp", csp, FO_CONFIG_PAGE_CSP, "Content-Security-Policy of the web pages; empty = none"),
    S("http", "stream_list", stream_list, "auto",
      "public list of stream names and live state for the pages (GET /rtc/v1/streams/): "
      "auto = on unless auth.secret is set, on, off"),
    I("http", "max_connections", http_max_connections, "0", 0, 1000000,
      "HTTP connections at once per server (HTTP, HTTPS); 0 = from the file-descriptor limit"),
    I("http", "max_conns_per_client", http_max_conns_per_client, "32", 0, 1000000,
      "connections at once from one client (IPv4 address or IPv6 /64); more are refused; 0 = no cap"),
    I("http", "request_timeout", http_request_timeout, "10", 0, 3600,
      "seconds a request's headers and body may take (slowloris); 0 = no limit"),
    I("http", "signal_rate", http_signal_rate, "10", 0, 100000,
      "signaling requests (POST/PATCH/DELETE under /rtc/) per second per client; more get 429; 0 = no limit"),
    I("http", "signal_burst", http_signal_burst, "30", 1, 100000,
      "signaling requests one client may send at once before signal_rate applies"),
    I("http", "ban_failures", http_ban_failures, "20", 0, 1000000,
      "failed requests (400, 401, 413, 415) within ban_window that ban a client; 0 = no bans"),
    I("http", "ban_window", http_ban_window, "60", 1, 86400, "seconds over which ban_failures count"),
    I("http", "ban_time", http_ban_time, "300", 1, 86400, "seconds a banned client is refused"),
    S("http", "exempt", http_exempt, "127.0.0.1 ::1",
      "client addresses the per-client HTTP limits above do not apply to (space separated)"),
    B("https", "enabled", https_enabled, "true", "also serve the API and pages over HTTPS"),
    S("https", "listen", https_listen, "::", "address the HTTPS server listens on (:: = IPv6 and IPv4)"),
    I("https", "port", https_port, "1990", 1, 65535, "HTTPS port"),
    S("https", "cert", https_cert, "conf/https.crt",
      "PEM certificate; when neither it nor key exists, a self-signed one is made there"),
    S("https", "key", https_key, "conf/https.key", "PEM private key of cert"),
    S("https", "priorities", https_priorities, FO_CONFIG_TLS_PRIORITIES,
      "GnuTLS priority string: TLS versions and cipher suites offered (default: TLS 1.2 and 1.3, "
      "ECDHE with AEAD ciphers only)"),
    S("rtc", "listen", rtc_listen, "::", "address the media ports bind (:: = IPv6 and IPv4)"),
    I("rtc", "port", rtc_port, "8000", 1, 65535, "the one UDP port every WebRTC session shares"),
    B("rtc", "udp", udp, "true", "media over UDP (false: ICE-TCP only, for tests and UDP-less networks)"),
    P("rtc", "tcp_port", tcp_port, "auto",
      "ICE-TCP port (RFC 6544 passive candidates): auto = rtc.port's number, 0 = off"),
    B("rtc", "tcp_on_https", tcp_on_https, "false",
      "the HTTPS port also carries ICE-TCP media (one TCP port for pages, API and media)"),
    I("rtc", "tcp_max_pending", tcp_max_pending, "300", 1, 1000000,
      "TCP connections waiting for their first ICE check; beyond it the oldest is closed"),
    S("rtc", "candidate", candidate, "*",
      "addresses advertised as ICE candidates; * = this machine's addresses"),
    I("rtc", "consent_timeout", consent_timeout, "30", 2, 3600,
      "seconds without an ICE check before a session ends"),
    I("rtc", "pending_timeout", pending_timeout, "20", 2, 3600,
      "seconds a session may take to connect (ICE+DTLS)"),
    I("rtc", "publisher_grace", publisher_grace, "30", 0, 86400,
      "seconds players wait for a publisher that left to come back"),
    I("rtc", "publisher_takeover", publisher_takeover, "5", 0, 3600,
      "seconds a publisher may send no media before a new publisher of its stream replaces it "
      "(a crashed browser); 0 = never"),
    I("rtc", "max_sessions", max_sessions, "2000", 1, 1000000, "sessions in total"),
    S("rtc", "video_codecs", video_codecs, "VP8 H264 VP9 AV1",
      "video codecs allowed, in order of preference"),
    S("rtc", "dtls_cert", dtls_cert, "", "PEM certificate for DTLS; empty = generate at start"),
    S("rtc", "dtls_key", dtls_key, "", "PEM private key for dtls_cert"),
    I("rtc", "max_bitrate_kbps", max_bitrate_kbps, "2500", 0, 100000,
      "per-stream video+audio bitrate ceiling sent to publishers (REMB), kbps; 0 = none"),
    I("rtc", "instant_start", instant_start, "1", 0, 1,
      "1: new players start from the latest cached keyframe; 0: wait for a requested one"),
    N("rtc", "workers", workers, "auto", 1, FO_CONFIG_MAX_WORKERS,
      "threads that SRTP-protect and send media to players: auto = one per CPU; 1 = the media thread alone"),
    N("rtc", "handshake_threads", handshake_threads, "auto", 0, FO_CONFIG_MAX_WORKERS,
      "threads that run the DTLS handshakes' crypto at a lower priority, off the media thread: "
      "auto = one per CPU; 0 = on the media thread"),
    I("rtc", "handshake_nice", handshake_nice, "10", 0, 19,
      "how much lower the handshake threads' priority is (nice): forwarding wins a contended core"),
    I("rtc", "max_players_per_stream", max_players_per_stream, "1000", 1, 1000000,
      "players of one stream; beyond it play requests get 503"),
    I("rtc", "max_sessions_per_ip", max_sessions_per_ip, "50", 1, 1000000,
      "sessions from one client (an IPv4 address or an IPv6 /64, as HTTP sees it); beyond it requests get 429"),
    S("rtc", "limits_exempt", limits_exempt, "127.0.0.1 ::1",
      "client IPs exempt from the per-client caps (space separated)"),
    I("rtc", "max_pending", max_pending, "500", 1, 1000000,
      "sessions still connecting (ICE+DTLS) at once; beyond it requests get 503"),
    I("rtc", "max_pending_per_ip", max_pending_per_ip, "25", 1, 1000000,
      "sessions still connecting from one client: its share of max_pending; beyond it requests get 429"),
    I("rtc", "offer_rate_per_ip", offer_rate_per_ip, "20", 1, 1000000,
      "offers per second from one client (a one-second burst); beyond it requests get 429"),
    I("rtc", "max_publishers", max_publishers, "200", 1, 1000000,
      "publishers in total; beyond it publish requests get 503"),
    I("rtc", "max_publishers_per_ip", max_publishers_per_ip, "10", 1, 1000000,
      "publishers from one client; beyond it publish requests get 429"),
    I("rtc", "history_kb", history_kb, "512", 16, 1048576,
      "KiB of recent video packets kept per stream and simulcast layer (NACK repair, instant start)"),
    I("rtc", "max_pps", max_pps, "5000", 0, 10000000,
      "packets per second accepted from one peer (1 s burst); more are dropped and counted; 0 = no cap"),
    S("auth", "secret", auth_secret, "",
      "HMAC-SHA256 key for publish/play tokens (scripts/make-token.sh; 16+ random bytes); empty = anyone may publish/play"),
    S("auth", "api_secret", api_secret, "",
      "secret for the operator API /api/v1 (Authorization: Bearer); empty = loopback clients only"),
    I("auth", "max_token_ttl", max_token_ttl, "31622400", 60, 315360000,
      "longest lifetime a token may have, in seconds (366 days); a token expiring later is refused"),
    S("auth", "on_publish", on_publish, "", "URL POSTed before a publish; a non-zero code refuses"),
    S("auth", "on_play", on_play, "", "URL POSTed before a play; a non-zero code refuses"),
    S("auth", "on_unpublish", on_unpublish, "", "URL POSTed when a publisher ends (notification)"),
    S("auth", "on_stop", on_stop, "", "URL POSTed when a player ends (notification)"),
    I("auth", "hook_timeout_ms", hook_timeout_ms, "1000", 50, 10000,
      "longest wait for a callback; on_publish/on_play refuse (503) when it passes"),
    I("auth", "hook_max_in_flight", hook_max_in_flight, "100", 1, 100000,
      "on_publish/on_play callbacks waiting at once; beyond it requests get 503"),
    B("record", "enabled", record_enabled, "false",
      "record the streams matching record.streams when they are published"),
    S("record", "dir", record_dir, "recordings", "directory the recordings are written under"),
    S("record", "streams", record_streams, "*",
      "stream keys to record, space-separated glob patterns (e.g. live/* class/room?)"),
    S("record", "path", record_path, "[app]/[stream]/[timestamp]",
      "file name under dir, without extension (.mp4 or .webm is added): [app] [stream] [timestamp] "
      "[2006] [01] [02] [15] [04] [05] [999] [seq]"),
    I("record", "segment_s", record_segment_s, "0", 0, 86400,
      "start a new file after this many seconds (at a keyframe); 0 = one file per publish"),
    I("record", "max_mb", record_max_mb, "0", 0, 1048576,
      "start a new file after this many MiB (at a keyframe); 0 = no limit"),
    I("record", "queue_mb", record_queue_mb, "16", 1, 1024,
      "memory between the media thread and the file writer; when full, packets are dropped"),
    I("record", "repair_ms", record_repair_ms, "500", 20, 900,
      "how long a missing video packet is waited for (NACK repair) before skipping to a keyframe"),
    S("record", "on_record", on_record, "",
      "URL POSTed (SRS on_dvr body) each time a recording file is closed"),
    S("cluster", "redis", cluster_redis, "",
      "Redis URL redis://[[user]:password@]host[:port][/db] shared by the nodes; empty = one node alone"),
    S("cluster", "node_id", cluster_node_id, "", "this node's name in the cluster; empty = hostname:http_port"),
    S("cluster", "api_url", cluster_api_url, "",
      "the URL other nodes and redirected clients reach this node's API at; empty = http://<first candidate>:<http port>"),
    S("cluster", "secret", cluster_secret, "",
      "HMAC key shared by the nodes to sign node-to-node requests (needed when auth.secret is set)"),
    I("cluster", "heartbeat", cluster_heartbeat, "2", 1, 60, "seconds between a node's heartbeats"),
    I("cluster", "ttl", cluster_ttl, "6", 2, 600,
      "seconds after which a silent node's registrations (load, claims, relays) expire"),
    B("cluster", "redirect", cluster_redirect, "false",
      "at capacity (or draining) answer play requests with 307 to the least-loaded node"),
    I("cluster", "capacity", cluster_capacity, "0", 0, 1000000,
      "players this node takes before redirecting new ones (with redirect on); 0 = no limit"),
    I("cluster", "max_depth", cluster_max_depth, "2", 1, 16,
      "relay tree depth: 1 = every edge pulls from the origin; deeper edges pull from edges"),
    I("cluster", "relays_per_node", cluster_relays_per_node, "4", 1, 10000,
      "relays a node serves per stream before later edges pull from other edges"),
    I("cluster", "relay_linger", cluster_relay_linger, "5", 0, 3600,
      "seconds a relay stays connected after its last local player left (a reload does not re-pull)"),
    I("cluster", "drain_timeout", cluster_drain_timeout, "300", 1, 86400,
      "seconds a draining node waits for its sessions to end before it leaves and exits"),
    S("relay", "pull", relay_pull, "",
      "streams pulled from WHEP URLs as local streams: app/stream=URL, separated by blanks"),
    S("relay", "push", relay_push, "",
      "local streams pushed to WHIP URLs: app/stream=URL, separated by blanks"),
    S("log", "level", log_level, "info", "error, warn, info, debug or trace"),
    S("log", "file", log_file, "", "log file (reopened on SIGHUP); empty = stderr"),
};

static void put_err(char *err, size_t cap, const char *fmt, const char *a, const char *b)
{
    if (err && cap) snprintf(err, cap, fmt, a, b);
}

/* true/false, yes/no, on/off, 1/0. Returns 0 or 1, or -1 for anything else. */
static int parse_bool(const char *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < FO_ARRAY_LEN(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) return 1;
        if (strcasecmp(v, no[i]) == 0) return 0;
    }
    return -1;
}

/* Settings whose text has a grammar of its own are checked when set, so that a bad value in
 * the file is reported with its line like any other. */
static int check_value(const fo_config_t *cfg, const setting_t *s, char *err, size_t errcap)
{
    if (strcmp(s->section, "log") == 0 && strcmp(s->key, "level") == 0 &&
        fo_log_level_parse(cfg->log_level) < 0) {
        put_err(err, errcap, "log.level: '%s' is not one of error, warn, info, debug, trace%s",
                cfg->log_level, "");
        return FO_EINVAL;
    }
    if (strcmp(s->section, "record") == 0 && strcmp(s->key, "path") == 0) {
        char probe[512];
        if (fo_record_path(cfg->record_path, "app/stream", 0, 0, "mp4", probe, sizeof probe) < 0) {
            put_err(err, errcap, "record.path: '%s' must be a relative path without . or .. parts%s",
                    cfg->record_path, "");
            return FO_EINVAL;
        }
    }
    if (strcmp(s->section, "http") == 0 && strcmp(s->key, "stream_list") == 0 &&
        strcmp(cfg->stream_list, "auto") != 0 && strcmp(cfg->stream_list, "on") != 0 &&
        strcmp(cfg->stream_list, "off") != 0) {
        put_err(err, errcap, "http.stream_list: '%s' is not auto, on or off%s", cfg->stream_list, "");
        return FO_EINVAL;
    }
    if (strcmp(s->section, "http") == 0 && strcmp(s->key, "exempt") == 0) {
        const char *list = (const char *)cfg + s->off;
        char buf[256], bad[64] = "";
        snprintf(buf, sizeof buf, "%s", list);
        for (char *save = NULL, *tok = strtok_r(buf, " ,\t", &save); tok && !bad[0];
             tok = strtok_r(NULL, " ,\t", &save)) {
            unsigned char addr[16];
            if (inet_pton(AF_INET, tok, addr) != 1 && inet_pton(AF_INET6, tok, addr) != 1)
                snprintf(bad, sizeof bad, "%s", tok);
        }
        if (bad[0]) {
            put_err(err, errcap, "http.exempt: '%s' is not an IP address%s", bad, "");
            return FO_EINVAL;
        }
    }
    if (strcmp(s->section, "rtc") == 0 && strcmp(s->key, "video_codecs") == 0) {
        fo_codec_t codecs[8];
        if (fo_config_video_codecs(cfg, codecs, FO_ARRAY_LEN(codecs)) < 0) {
            put_err(err, errcap, "rtc.video_codecs: '%s' is not a list of VP8, H264, VP9, AV1%s",
                    cfg->video_codecs, "");
            return FO_EINVAL;
        }
    }
    if (strcmp(s->section, "cluster") == 0) {
        const char *why = NULL;
        fo_redis_addr_t a;
        if (strcmp(s->key, "redis") == 0 && cfg->cluster_redis[0] &&
            fo_redis_url_parse(cfg->cluster_redis, &a, &why) != 0) {
            put_err(err, errcap, "cluster.redis: %s%s", why, "");
            return FO_EINVAL;
        }
        if (strcmp(s->key, "node_id") == 0 && cfg->cluster_node_id[0] &&
            !fo_registry_node_id_ok(cfg->cluster_node_id)) {
            put_err(err, errcap, "cluster.node_id: '%s' is not 1-63 of A-Z a-z 0-9 _ . : -%s",
                    cfg->cluster_node_id, "");
            return FO_EINVAL;
        }
        if (strcmp(s->key, "api_url") == 0 && cfg->cluster_api_url[0] &&
            !fo_registry_api_url_ok(cfg->cluster_api_url)) {
            put_err(err, errcap, "cluster.api_url: '%s' is not http(s)://host[:port][/path] (no trailing /)%s",
                    cfg->cluster_api_url, "");
            return FO_EINVAL;
        }
    }
    if (strcmp(s->section, "relay") == 0) {
        const char *list = strcmp(s->key, "pull") == 0 ? cfg->relay_pull : cfg->relay_push;
        char key[200], url[1024];
        const char *why = NULL;
        for (size_t i = 0; fo_config_relay_item(list, i, key, sizeof key, url, sizeof url, &why) == 0; i++) {
        }
        if (why) {
            put_err(err, errcap, "relay.%s: %s", s->key, why);
            return FO_EINVAL;
        }
    }
    return 0;
}

int fo_config_relay_item(const char *list, size_t index, char *key, size_t kcap, char *url,
                         size_t ucap, const char **why)
{
    *why = NULL;
    const char *p = list;
    for (size_t i = 0;; i++) {
        p += strspn(p, " \t,");
        if (!*p) return FO_ENOTFOUND;
        size_t n = strcspn(p, " \t,");
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p || (size_t)(eq - p) >= kcap || n - (size_t)(eq - p) - 1 >= ucap ||
            n - (size_t)(eq - p) - 1 == 0) {
            *why = "each item is app/stream=URL";
            return FO_EINVAL;
        }
        if (i == index) {
            memcpy(key, p, (size_t)(eq - p));
            key[eq - p] = '\0';
            memcpy(url, eq + 1, n - (size_t)(eq - p) - 1);
            url[n - (size_t)(eq - p) - 1] = '\0';
            if (!strchr(key, '/')) {
                *why = "each item is app/stream=URL";
                return FO_EINVAL;
            }
            if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
                *why = "the URL must be http:// or https://";
                return FO_EINVAL;
            }
            return 0;
        }
        p += n;
    }
}

int fo_config_set(fo_config_t *cfg, const char *section, const char *key, const char *value,
                  char *err, size_t errcap)
{
    for (size_t i = 0; i < FO_ARRAY_LEN(settings); i++) {
        const setting_t *s = &settings[i];
        if (strcasecmp(s->section, section) != 0 || strcasecmp(s->key, key) != 0) continue;
        char *field = (char *)cfg + s->off;
        if (s->type == T_STR) {
            if (strlen(value) >= s->size) {
                put_err(err, errcap, "%s.%s: value too long", section, key);
                return FO_EINVAL;
            }
            memcpy(field, value, strlen(value) + 1);
            return check_value(cfg, s, err, errcap);
        }
        if (s->type == T_BOOL) {
            int b = parse_bool(value);
            if (b < 0) {
                if (err && errcap)
                    snprintf(err, errcap, "%s.%s: '%s' is not true or false", section, key, value);
                return FO_EINVAL;
            }
            *(int *)field = b;
            return 0;
        }
        bool may_auto = s->type == T_COUNT || s->type == T_PORT;
        if (may_auto && strcasecmp(value, "auto") == 0) {
            *(int *)field = s->type == T_PORT ? -1 : (int)s->min - 1; /* resolved by its user */
            return 0;
        }
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        while (*end && isspace((unsigned char)*end)) end++;
        if (errno || end == value || *end || v < s->min || v > s->max) {
            if (err && errcap)
                snprintf(err, errcap, "%s.%s: '%s' is not an integer in %ld..%ld%s", section,
                         key, value, s->min, s->max, may_auto ? " or auto" : "");
            return FO_EINVAL;
        }
        *(int *)field = (int)v;
        return 0;
    }
    put_err(err, errcap, "unknown setting %s.%s", section, key);
    return FO_ENOTFOUND;
}

void fo_config_defaults(fo_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < FO_ARRAY_LEN(settings); i++)
        fo_config_set(cfg, settings[i].section, settings[i].key, settings[i].def, NULL, 0);
}

typedef struct {
    fo_config_t *cfg;
    char *err;
    size_t errcap;
    int failed;
} load_ctx_t;

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    load_ctx_t *lc = user;
    if (lc->failed) return 0;
    char why[256];
    if (!name) return 1; /* a section header alone */
    int rc = *section ? fo_config_set(lc->cfg, section, name, value, why, sizeof why)
                      : (snprintf(why, sizeof why, "'%s' is outside any [section]", name), FO_EINVAL);
    if (rc != 0) {
        if (lc->err && lc->errcap) snprintf(lc->err, lc->errcap, "%s", why);
        lc->failed = 1;
        return 0;
    }
    return 1;
}

/* inih's result: 0, or the first failing line, whether the syntax or our handler refused it. */
static int load_result(int rc, const load_ctx_t *lc, const char *name, char *err, size_t errcap)
{
    if (rc == 0 && !lc->failed) return 0;
    if (err && errcap)
        snprintf(err, errcap, "%s:%d: %s", name, rc, lc->failed ? lc->err : "syntax error");
    return FO_EINVAL;
}

/* inih goes on after a bad line by default; then a key under a broken "[rtc" header reached
 * our handler with no section and its error hid the real one. Debian's inih makes this a
 * run-time switch. */
static void ini_setup(void) { ini_stop_on_first_error = 1; }

int fo_config_load_file(fo_config_t *cfg, const char *path, char *err, size_t errcap)
{
    ini_setup();
    FILE *f = fopen(path, "r");
    if (!f) {
        if (err && errcap) snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return FO_ESYS;
    }
    char why[300] = "";
    load_ctx_t lc = {cfg, why, sizeof why, 0};
    int rc = ini_parse_file(f, ini_cb, &lc);
    fclose(f);
    return load_result(rc, &lc, path, err, errcap);
}

int fo_config_set_assignment(fo_config_t *cfg, const char *assignment, char *err, size_t errcap)
{
    char sec[64], key[64];
    const char *dot = strchr(assignment, '.'), *eq = strchr(assignment, '=');
    if (!dot || !eq || dot > eq || (size_t)(dot - assignment) >= sizeof sec ||
        (size_t)(eq - dot - 1) >= sizeof key) {
        put_err(err, errcap, "'%s' is not SECTION.KEY=VALUE%s", assignment, "");
        return FO_EINVAL;
    }
    memcpy(sec, assignment, (size_t)(dot - assignment));
    sec[dot - assignment] = '\0';
    memcpy(key, dot + 1, (size_t)(eq - dot - 1));
    key[eq - dot - 1] = '\0';
    return fo_config_set(cfg, sec, key, eq + 1, err, errcap);
}

int fo_config_load_string(fo_config_t *cfg, const char *text, const char *name, char *err,
                          size_t errcap)
{
    char why[300] = "";
    load_ctx_t lc = {cfg, why, sizeof why, 0};
    ini_setup();
    return load_result(ini_parse_string(text, ini_cb, &lc), &lc, name ? name : "config", err, errcap);
}

/* FANOUT_* variables that are not settings but are read elsewhere: the SRTP crypto choice
 * (src/rtc/srtp.c) and the test and benchmark harnesses' own (tests/e2e/lib/server.js). */
static const char *const env_not_settings[] = {"FANOUT_SRTP_CRYPTO", "FANOUT_BIN", "FANOUT_ARGS"};

static void env_name(const setting_t *st, char *out, size_t cap)
{
    snprintf(out, cap, "FANOUT_%s_%s", st->section, st->key);
    for (char *p = out; *p; p++) *p = (char)toupper((unsigned char)*p);
}

/* Levenshtein distance, capped: small strings only. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

int fo_config_apply_env(fo_config_t *cfg, char *err, size_t errcap)
{
    const char *cand = getenv("CANDIDATE");
    if (cand && *cand && fo_config_set(cfg, "rtc", "candidate", cand, err, errcap) != 0)
        return FO_EINVAL;
    for (size_t i = 0; i < FO_ARRAY_LEN(settings); i++) {
        char name[96];
        env_name(&settings[i], name, sizeof name);
        const char *v = getenv(name);
        if (!v) continue;
        char why[256];
        if (fo_config_set(cfg, settings[i].section, settings[i].key, v, why, sizeof why) != 0) {
            if (err && errcap) snprintf(err, errcap, "environment %s: %s", name, why);
            return FO_EINVAL;
        }
    }
    return 0;
}

size_t fo_config_unknown_env(char *const *env, fo_config_unknown_env_cb cb, void *user)
{
    size_t n = 0;
    for (char *const *e = env; e && *e; e++) {
        if (strncmp(*e, "FANOUT_", 7) != 0) continue;
        char name[128];
        size_t len = strcspn(*e, "=");
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, *e, len);
        name[len] = '\0';
        bool known = false;
        for (size_t i = 0; i < FO_ARRAY_LEN(env_not_settings) && !known; i++)
            known = strcmp(name, env_not_settings[i]) == 0;
        char best[96] = "", cand[96];
        size_t best_d = 4; /* suggest only close names */
        for (size_t i = 0; i < FO_ARRAY_LEN(settings) && !known; i++) {
            env_name(&settings[i], cand, sizeof cand);
            if (strcmp(name, cand) == 0) known = true;
            size_t d = edit_distance(name, cand);
            if (d < best_d) {
                best_d = d;
                snprintf(best, sizeof best, "%s", cand);
            }
        }
        if (known) continue;
        n++;
        if (cb) cb(user, name, best[0] ? best : NULL);
    }
    return n;
}

int fo_config_video_codecs(const fo_config_t *cfg, fo_codec_t *out, size_t max)
{
    static const fo_codec_t known[] = {FO_CODEC_VP8, FO_CODEC_H264, FO_CODEC_VP9, FO_CODEC_AV1};
    char buf[sizeof cfg->video_codecs];
    memcpy(buf, cfg->video_codecs, sizeof buf);
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " ,\t", &save); tok;
         tok = strtok_r(NULL, " ,\t", &save)) {
        fo_codec_t c = FO_CODEC_NONE;
        for (size_t i = 0; i < FO_ARRAY_LEN(known); i++)
            if (strcasecmp(tok, fo_codec_name(known[i])) == 0) c = known[i];
        if (c == FO_CODEC_NONE) return FO_EINVAL;
        if (n < max) out[n++] = c;
    }
    return n ? (int)n : FO_EINVAL;
}

void fo_config_print_settings(void *stdio_file)
{
    FILE *f = stdio_file;
    const char *sec = "";
    for (size_t i = 0; i < FO_ARRAY_LEN(settings); i++) {
        const setting_t *s = &settings[i];
        if (strcmp(sec, s->section) != 0) {
            fprintf(f, "%s[%s]\n", *sec ? "\n" : "", s->section);
            sec = s->section;
        }
        fprintf(f, "; %s (env FANOUT_", s->help);
        for (const char *p = s->section; *p; p++) fputc(toupper((unsigned char)*p), f);
        fputc('_', f);
        for (const char *p = s->key; *p; p++) fputc(toupper((unsigned char)*p), f);
        fprintf(f, ")\n%s = %s\n", s->key, s->def);
    }
}

/* The CPUs this process may run on (taskset, cgroup cpusets), not all installed. */
static int usable_cpus(void)
{
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    return n < 1 ? 1 : n > FO_CONFIG_MAX_WORKERS ? FO_CONFIG_MAX_WORKERS : n;
}

int fo_config_workers(const fo_config_t *cfg)
{
    return cfg->workers > 0 ? cfg->workers : usable_cpus();
}

int fo_config_handshake_threads(const fo_config_t *cfg)
{
    return cfg->handshake_threads >= 0 ? cfg->handshake_threads : usable_cpus();
}

int fo_config_tcp_port(const fo_config_t *cfg)
{
    return cfg->tcp_port < 0 ? cfg->rtc_port : cfg->tcp_port;
}

int fo_config_check(const fo_config_t *cfg, char *err, size_t errcap)
{
    if (cfg->tcp_on_https && !cfg->https_enabled) {
        put_err(err, errcap, "rtc.tcp_on_https needs https.enabled = true%s%s", "", "");
        return FO_EINVAL;
    }
    if (!cfg->udp && fo_config_tcp_port(cfg) == 0 && !cfg->tcp_on_https) {
        put_err(err, errcap, "rtc.udp = false with rtc.tcp_port = 0 and no rtc.tcp_on_https: "
                             "no way for media to reach the server%s%s", "", "");
        return FO_EINVAL;
    }
    return 0;
}
