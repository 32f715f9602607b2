/* SPDX-License-Identifier: MIT */
/* Start-up and shutdown: configuration (defaults, file, environment, flags), the DTLS
 * certificate, the loop with the media router, the HTTP servers and the outbound HTTP client
 * in it, signals (SIGINT and SIGTERM stop the HTTP servers, end sessions with close_notify,
 * leave the cluster, give the end notifications up to auth.hook_timeout_ms to leave, and exit
 * 0; SIGUSR1 drains first; SIGHUP reopens the log file). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "fanout/api.h"
#include "fanout/candidates.h"
#include "fanout/clients.h"
#include "fanout/cluster.h"
#include "fanout/common.h"
#include "fanout/config.h"
#include "fanout/dtls.h"
#include "fanout/http.h"
#include "fanout/httpc.h"
#include "fanout/log.h"
#include "fanout/loop.h"
#include "fanout/pool.h"
#include "fanout/record.h"
#include "fanout/relays.h"
#include "fanout/router.h"
#include "fanout/sdp.h"
#include "fanout/srtp.h"
#include "fanout/tls_cert.h"

#define DEFAULT_CONF "conf/fanout.conf"

#define DRAIN_POLL_MS 20
#define LEAVE_WAIT_MS 1000 /* the longest wait for the cluster's goodbyes to Redis */

typedef struct {
    fo_loop_t *loop;
    fo_router_t *router;
    fo_relays_t *relays;
    fo_cluster_t *cluster;
    const fo_config_t *cfg;
    fo_io_t sig;
    fo_httpc_t *httpc;     /* outbound HTTP: callbacks, on_record, relays (no thread) */
    fo_http_t *http, *https;
    fo_auth_t *auth;
    fo_timer_t drain;      /* waits for the end notifications and the cluster's goodbyes */
    uint64_t drain_until, leave_until;
    bool stopping, left_cluster;
} app_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fanout [-c FILE] [options]\n"
            "  -c, --config FILE       configuration file (default " DEFAULT_CONF " when present)\n"
            "      --http-port N       HTTP API and pages port (http.port)\n"
            "      --https-port N      HTTPS API and pages port (https.port)\n"
            "      --no-https          serve plain HTTP only (https.enabled = false)\n"
            "      --rtc-port N        shared UDP media port (rtc.port; ICE-TCP takes the same\n"
            "                          number unless rtc.tcp_port says otherwise)\n"
            "      --candidate ADDR    advertised ICE candidate address(es) (rtc.candidate)\n"
            "      --www DIR           web pages directory (http.www)\n"
            "      --log-level L       error, warn, info, debug, trace (log.level)\n"
            "      --log-file FILE     log to FILE instead of stderr (log.file)\n"
            "  -s, --set S.KEY=VALUE   any setting below, e.g. --set rtc.max_sessions=100\n"
            "  -h, --help              this text and every setting with its default\n"
            "  -v, --version           print the version\n"
            "Every setting can also be set by the environment as FANOUT_<SECTION>_<KEY>;\n"
            "CANDIDATE sets rtc.candidate. Precedence: flags > environment > file > defaults.\n"
            "A bad setting stops start-up with exit code 2. Signals: SIGTERM/SIGINT end every\n"
            "session (DTLS close_notify), leave the cluster and exit 0; SIGUSR1 drains (new\n"
            "sessions go to other nodes; exit 0 when the last one ends or cluster.drain_timeout\n"
            "passes); SIGHUP reopens log.file.\n\n");
}

static void left_cluster_cb(void *user)
{
    app_t *app = user;
    app->left_cluster = true;
}

/* Stops the HTTP servers (the requests waiting hear "shutting down"), ends every session and
 * relay, leaves the cluster; drain_cb stops the loop once the goodbyes to Redis (up to
 * LEAVE_WAIT_MS) and the end notifications (up to auth.hook_timeout_ms) have left. */
static void begin_stop(app_t *app)
{
    if (app->stopping) return;
    app->stopping = true;
    fo_http_free(app->https);
    fo_http_free(app->http);
    app->https = app->http = NULL;
    fo_relays_shutdown(app->relays);
    fo_cluster_shutdown(app->cluster);
    fo_router_shutdown(app->router);
    uint64_t now = fo_loop_now(app->loop);
    app->drain_until = now + (uint64_t)app->cfg->hook_timeout_ms;
    app->leave_until = now + LEAVE_WAIT_MS;
    fo_cluster_leave(app->cluster, left_cluster_cb, app);
    fo_timer_start(app->loop, &app->drain, 0);
}

static void drained_cb(void *user) { begin_stop(user); }

static void on_signal(fo_io_t *io, uint32_t events)
{
    (void)events;
    app_t *app = io->user;
    struct signalfd_siginfo si;
    while (read(io->fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            if (fo_log_open(app->cfg->log_file) != 0) fprintf(stderr, "cannot reopen log file\n");
            FO_LOG(FO_LOG_INFO, NULL, "log reopened (SIGHUP)");
            continue;
        }
        if (si.ssi_signo == SIGUSR1) {
            FO_LOG(FO_LOG_INFO, NULL, "SIGUSR1: draining");
            fo_cluster_drain(app->cluster);
            continue;
        }
        if (app->stopping) { /* a second signal: stop now */
            fo_loop_stop(app->loop);
            continue;
        }
        FO_LOG(FO_LOG_INFO, NULL, "signal %u: ending sessions and stopping", si.ssi_signo);
        begin_stop(app);
    }
}

/* Stops the loop once the end notifications (on_stop/on_unpublish) and the cluster's goodbyes
 * have left, or at their deadlines. */
static void drain_cb(fo_timer_t *t)
{
    app_t *app = t->user;
    size_t left = fo_auth_notify_pending(app->auth);
    uint64_t now = fo_loop_now(app->loop);
    if ((left == 0 || now >= app->drain_until) && (app->left_cluster || now >= app->leave_until)) {
        if (left) FO_LOG(FO_LOG_WARN, NULL, "stopping with %zu end notifications unsent", left);
        if (!app->left_cluster) FO_LOG(FO_LOG_WARN, NULL, "stopping before Redis confirmed that this node left");
        fo_loop_stop(app->loop);
        return;
    }
    fo_timer_start(app->loop, t, DRAIN_POLL_MS);
}

/* Every HTTP connection is a descriptor: take the hard limit the system allows this process
 * (as nginx's worker_rlimit_nofile or Go's runtime do); the HTTP servers size their connection
 * limits from the result (src/signal/http.c). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = was;
    }
    FO_LOG(FO_LOG_INFO, NULL, "file descriptors: %llu%s", (unsigned long long)rl.rlim_cur,
           rl.rlim_cur != was ? " (raised to the hard limit)" : "");
}

/* One flag setting, applied after the file and the environment, in command-line order. */
typedef struct {
    const char *assignment; /* "section.key=value" for --set, else NULL */
    const char *section, *key, *value;
} flag_set_t;

/* on_record: a POST through the loop's HTTP client (a notification: the answer is only logged). */
static void record_notified_cb(void *user, const fo_httpc_resp_t *resp)
{
    (void)user;
    if (resp->err || resp->status < 200 || resp->status > 299)
        FO_LOG(FO_LOG_WARN, "on_record", "callback failed: %s (HTTP %d)", resp->err ? resp->error : "refused",
               resp->status);
}

static void record_notify_cb(void *user, const char *url, char *body)
{
    app_t *app = user;
    fo_httpc_request_t rq = {.method = "POST", .url = url, .content_type = "application/json", .body = body,
                             .body_len = strlen(body), .timeout_ms = app->cfg->hook_timeout_ms};
    if (!app->httpc || fo_httpc_send(app->httpc, &rq, record_notified_cb, NULL, NULL) != 0)
        FO_LOG(FO_LOG_WARN, "on_record", "cannot send the callback to %s", url);
    free(body);
}

/* rtc.candidate's names are looked up once, here: one that does not resolve is a bad
 * configuration (exit 2), not an answer the server cannot build later. The router gets the
 * addresses. */
static int resolve_candidates(fo_config_t *cfg)
{
    char list[FO_SDP_MAX_CANDIDATES][FO_CANDIDATE_LEN], err[400];
    size_t n;
    if (fo_candidates_expand(cfg->candidate, 1, list, FO_ARRAY_LEN(list), &n, err, sizeof err) != 0) {
        fprintf(stderr, "fanout: bad configuration: %s\n", err);
        return -1;
    }
    char joined[sizeof cfg->candidate] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof joined; i++)
        len += (size_t)snprintf(joined + len, sizeof joined - len, "%s%s", i ? " " : "", list[i]);
    if (strcmp(joined, cfg->candidate) != 0 && strcmp(cfg->candidate, "*") != 0)
        FO_LOG(FO_LOG_INFO, NULL, "rtc.candidate '%s' resolved to %s", cfg->candidate, joined);
    memcpy(cfg->candidate, joined, sizeof joined);
    return 0;
}

static void warn_unknown_env_cb(void *user, const char *name, const char *suggestion)
{
    (void)user;
    FO_LOG(FO_LOG_WARN, NULL, "environment %s is not a setting and is ignored%s%s%s", name,
           suggestion ? " (did you mean " : "", suggestion ? suggestion : "", suggestion ? "?)" : "");
}

/* Returns 0 to run, 1 to exit 0 (help/version), -1 on a bad command line or config. */
static int configure(fo_config_t *cfg, int argc, char **argv)
{
    enum { O_HTTP_PORT = 1, O_RTC_PORT, O_CANDIDATE, O_WWW, O_LOG_LEVEL, O_LOG_FILE, O_HTTPS_PORT,
           O_NO_HTTPS, O_N };
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},        {"http-port", required_argument, 0, O_HTTP_PORT},
        {"rtc-port", required_argument, 0, O_RTC_PORT}, {"candidate", required_argument, 0, O_CANDIDATE},
        {"www", required_argument, 0, O_WWW},          {"log-level", required_argument, 0, O_LOG_LEVEL},
        {"log-file", required_argument, 0, O_LOG_FILE}, {"https-port", required_argument, 0, O_HTTPS_PORT},
        {"no-https", no_argument, 0, O_NO_HTTPS},      {"set", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},                 {"version", no_argument, 0, 'v'},
        {0, 0, 0, 0}};
    static const char *const keys[O_N][2] = {
        [O_HTTP_PORT] = {"http", "port"},   [O_RTC_PORT] = {"rtc", "port"},
        [O_CANDIDATE] = {"rtc", "candidate"}, [O_WWW] = {"http", "www"},
        [O_LOG_LEVEL] = {"log", "level"},   [O_LOG_FILE] = {"log", "file"},
        [O_HTTPS_PORT] = {"https", "port"}, [O_NO_HTTPS] = {"https", "enabled"}};
    const char *conf = NULL;
    flag_set_t sets[64];
    size_t n_sets = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:s:hv", opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf = optarg; break;
        case 'h':
            usage(stdout);
            fo_config_print_settings(stdout);
            return 1;
        case 'v': printf("fanout %s\n", FO_VERSION); return 1;
        case '?': usage(stderr); return -1;
        default:
            if (n_sets == FO_ARRAY_LEN(sets)) {
                fprintf(stderr, "fanout: too many options\n");
                return -1;
            }
            if (c == 's') sets[n_sets++] = (flag_set_t){.assignment = optarg};
            else
                sets[n_sets++] = (flag_set_t){.section = keys[c][0], .key = keys[c][1],
                                              .value = c == O_NO_HTTPS ? "false" : optarg};
            break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fanout: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    char err[700];
    fo_config_defaults(cfg);
    if (!conf && access(DEFAULT_CONF, R_OK) == 0) conf = DEFAULT_CONF;
    if (conf && fo_config_load_file(cfg, conf, err, sizeof err) != 0) {
        fprintf(stderr, "fanout: bad configuration: %s\n", err);
        return -1;
    }
    if (fo_config_apply_env(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "fanout: bad configuration: %s\n", err);
        return -1;
    }
    for (size_t i = 0; i < n_sets; i++) {
        const flag_set_t *f = &sets[i];
        int r = f->assignment ? fo_config_set_assignment(cfg, f->assignment, err, sizeof err)
                              : fo_config_set(cfg, f->section, f->key, f->value, err, sizeof err);
        if (r != 0) {
            fprintf(stderr, "fanout: bad option: %s\n", err);
            return -1;
        }
    }
    if (fo_config_check(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "fanout: bad configuration: %s\n", err);
        return -1;
    }
    /* log.level and rtc.video_codecs were checked when set */
    fo_log_set_level((fo_log_level_t)fo_log_level_parse(cfg->log_level));
    if (cfg->log_file[0] && fo_log_open(cfg->log_file) != 0) {
        fprintf(stderr, "fanout: cannot open log file %s: %s\n", cfg->log_file, strerror(errno));
        return -1;
    }
    FO_LOG(FO_LOG_INFO, NULL, "configuration: %s", conf ? conf : "(built-in defaults)");
    fo_config_unknown_env(environ, warn_unknown_env_cb, NULL);
    return resolve_candidates(cfg);
}

/* One-port mode: the router's sniffing listener found a TLS connection on the HTTPS port. */
static void adopt_tls_cb(void *user, int fd, const struct sockaddr *sa, socklen_t salen)
{
    fo_http_adopt(user, fd, sa, salen);
}

/* The HTTPS server: makes sure its certificate exists (self-signed for localhost and our
 * candidates on first start), then starts the TLS daemon; in one-port mode (rtc.tcp_on_https)
 * without a listening socket of its own: the router listens on the HTTPS port, keeps the
 * ICE-TCP connections and hands the TLS ones over. NULL on failure (logged). */
static fo_http_t *start_https(const fo_config_t *cfg, fo_loop_t *loop, fo_router_t *router,
                              fo_api_t *api, fo_clients_t *clients)
{
    const char *const *cands;
    size_t n = fo_router_candidates(router, &cands);
    char err[700];
    if (fo_tls_cert_ensure(cfg->https_cert, cfg->https_key, cands, n, err, sizeof err) != 0) {
        FO_LOG(FO_LOG_ERROR, "https", "certificate: %s", err);
        return NULL;
    }
    fo_http_t *h = fo_http_new_tls(loop, cfg->tcp_on_https ? NULL : cfg->https_listen, cfg->https_port,
                                   cfg->www_root, (size_t)cfg->max_body, cfg->https_cert, cfg->https_key,
                                   cfg->https_priorities, fo_api_handle, api, clients);
    if (h && cfg->tcp_on_https &&
        fo_router_listen_tls(router, cfg->https_listen, cfg->https_port, adopt_tls_cb, h) < 0) {
        fo_http_free(h);
        return NULL;
    }
    return h;
}

/* "[::]:8000" or "0.0.0.0:8000". */
static const char *host_port(const char *host, int port, char *buf, size_t cap)
{
    snprintf(buf, cap, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    return buf;
}

static bool is_loopback(const char *ip)
{
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 || strcmp(ip, "localhost") == 0;
}

static bool is_any(const char *ip) { return strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0; }

/* The first address other machines may use for a server listening on `listen`: the first
 * non-loopback ICE candidate when it listens on every address, else the address itself; NULL
 * when only this machine can reach it. */
static const char *remote_host(const char *listen, const char *const *cands, size_t n)
{
    if (!is_any(listen)) return is_loopback(listen) ? NULL : listen;
    for (size_t i = 0; i < n; i++)
        if (!is_loopback(cands[i])) return cands[i];
    return NULL;
}

/* The start-up lines a person reads: where the pages are, only URLs that work (a camera needs
 * https:// or http://localhost), the candidates, then "fanout ready". */
static void announce(const fo_config_t *cfg, fo_router_t *router, fo_http_t *http, fo_http_t *https)
{
    const char *const *cands;
    size_t n = fo_router_candidates(router, &cands);
    int rtc_port = fo_router_udp_port(router), hp = fo_http_port(http);
    char tcp_ports[64] = "";
    for (int k = 0; k < FO_SDP_MAX_TCP_PORTS && fo_router_tcp_port(router, k); k++)
        snprintf(tcp_ports + strlen(tcp_ports), sizeof tcp_ports - strlen(tcp_ports), ", tcp %d",
                 fo_router_tcp_port(router, k));
    for (size_t i = 0; i < n; i++) {
        if (rtc_port) FO_LOG(FO_LOG_INFO, NULL, "ICE candidate %s udp %d%s", cands[i], rtc_port, tcp_ports);
        else FO_LOG(FO_LOG_INFO, NULL, "ICE candidate %s%s (no UDP)", cands[i], tcp_ports);
    }
    /* one-port mode: the router listens on the HTTPS port, after rtc.tcp_port if that is on */
    int https_port = !https ? 0
                     : cfg->tcp_on_https ? fo_router_tcp_port(router, fo_config_tcp_port(cfg) > 0 ? 1 : 0)
                                         : fo_http_port(https);
    char host[80];
    if (is_any(cfg->http_listen) || is_loopback(cfg->http_listen)) snprintf(host, sizeof host, "localhost");
    else snprintf(host, sizeof host, strchr(cfg->http_listen, ':') ? "[%s]" : "%s", cfg->http_listen);
    FO_LOG(FO_LOG_INFO, NULL, "pages on this machine: http://%s:%d/ (publish, play, live streams)%s", host, hp,
           strcmp(host, "localhost") ? " - play only: a camera needs https:// or localhost" : "");
    const char *far = remote_host(cfg->http_listen, cands, n);
    const char *far_tls = https ? remote_host(cfg->https_listen, cands, n) : NULL;
    if (far_tls) {
        bool self = fo_tls_cert_self_signed(cfg->https_cert);
        FO_LOG(FO_LOG_INFO, NULL, "publish from other machines: https://%s:%d/publisher.html%s", far_tls,
               https_port,
               self ? " (self-signed certificate: the browser warns once, accept it; or set https.cert)" : "");
    } else if (far) {
        FO_LOG(FO_LOG_INFO, NULL, "publish from other machines: needs HTTPS (%s): browsers allow the camera "
               "only on https:// or http://localhost", https ? "https.listen is loopback" : "https.enabled = false");
    }
    if (far) FO_LOG(FO_LOG_INFO, NULL, "play from other machines: http://%s:%d/player.html", far, hp);
    char hb[80], https_txt[96] = "", udp_txt[80] = "off", tcp_txt[160] = "", http_txt[80];
    if (https)
        snprintf(https_txt, sizeof https_txt, ", https %s%s", host_port(cfg->https_listen, https_port, hb, sizeof hb),
                 cfg->tcp_on_https ? " (+ ICE-TCP)" : "");
    if (rtc_port) host_port(cfg->rtc_listen, rtc_port, udp_txt, sizeof udp_txt);
    if (fo_config_tcp_port(cfg) > 0)
        snprintf(tcp_txt, sizeof tcp_txt, ", rtc tcp %s",
                 host_port(cfg->rtc_listen, fo_router_tcp_port(router, 0), hb, sizeof hb));
    int workers = rtc_port ? fo_config_workers(cfg) : 1;
    FO_LOG(FO_LOG_INFO, NULL, "fanout ready: http %s%s, rtc udp %s%s, %d send thread%s%s",
           host_port(cfg->http_listen, hp, http_txt, sizeof http_txt), https_txt, udp_txt, tcp_txt, workers,
           workers == 1 ? "" : "s", cfg->workers ? "" : " (rtc.workers = auto: one per CPU)");
}

int main(int argc, char **argv)
{
    static fo_config_t cfg;
    int rc = configure(&cfg, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    int status = 1;
    app_t app = {.cfg = &cfg, .sig = {.fd = -1}};
    fo_timer_init(&app.drain, drain_cb, &app);
    fo_dtls_ctx_t *dtls = NULL;
    fo_api_t *api = NULL;
    fo_pool_t *hs_pool = NULL;
    fo_clients_t *clients = NULL;
    if (fo_srtp_global_init() != 0) goto fail;
    dtls = fo_dtls_ctx_new(cfg.dtls_cert[0] ? cfg.dtls_cert : NULL, cfg.dtls_key[0] ? cfg.dtls_key : NULL);
    if (!dtls) goto fail;
    /* DTLS handshakes off the media thread, at a lower priority: forwarding wins a contended
     * core. */
    int hs_threads = fo_config_handshake_threads(&cfg);
    if (hs_threads > 0) {
        if (!(hs_pool = fo_pool_new(hs_threads, cfg.handshake_nice))) goto fail;
        fo_dtls_ctx_set_pool(dtls, hs_pool);
    }
    app.loop = fo_loop_new();
    if (!app.loop) goto fail;
    app.router = fo_router_new(app.loop, &cfg, dtls);
    if (!app.router) goto fail;
    api = fo_api_new(app.router, &cfg);
    if (!api) goto fail;
    app.httpc = fo_httpc_new(app.loop, NULL);
    if (!app.httpc) goto fail;
    app.auth = fo_auth_new(&cfg, app.httpc);
    if (!app.auth) goto fail;
    fo_api_set_auth(api, app.auth);
    fo_record_set_notify(fo_router_record(app.router), record_notify_cb, &app);
    fo_relay_env_t relay_env = {.loop = app.loop, .router = app.router, .httpc = app.httpc,
                                .listen = cfg.rtc_listen};
    app.relays = fo_relays_new(&relay_env);
    if (!app.relays) goto fail;
    fo_api_set_relays(api, app.relays);
    fo_cluster_env_t cluster_env = {.loop = app.loop, .router = app.router, .httpc = app.httpc,
                                    .metrics = fo_api_metrics(api), .cfg = &cfg,
                                    .on_drained = drained_cb, .user = &app};
    app.cluster = fo_cluster_new(&cluster_env);
    if (!app.cluster) goto fail;
    fo_api_set_cluster(api, app.cluster);
    clients = fo_clients_new(app.loop, &cfg);
    if (!clients) goto fail;
    fo_api_set_clients(api, clients);
    fo_api_set_handshake_pool(api, hs_pool);
    app.http = fo_http_new(app.loop, cfg.http_listen, cfg.http_port, cfg.www_root, (size_t)cfg.max_body,
                           fo_api_handle, api, clients);
    if (!app.http) goto fail;
    fo_http_set_page_csp(app.http, cfg.csp);
    if (cfg.https_enabled && !(app.https = start_https(&cfg, app.loop, app.router, api, clients))) goto fail;
    if (app.https) fo_http_set_page_csp(app.https, cfg.csp);
    app.sig = (fo_io_t){.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC), .cb = on_signal, .user = &app};
    if (app.sig.fd < 0 || fo_loop_io_add(app.loop, &app.sig, EPOLLIN) != 0) goto fail;

    if (hs_threads > 0)
        FO_LOG(FO_LOG_INFO, NULL, "DTLS handshakes: %d thread%s at nice %d (rtc.handshake_threads, rtc.handshake_nice)",
               hs_threads, hs_threads == 1 ? "" : "s", cfg.handshake_nice);
    else
        FO_LOG(FO_LOG_INFO, NULL, "DTLS handshakes: on the media thread (rtc.handshake_threads = 0)");
    if (fo_relays_configure(app.relays, &cfg) != 0) goto fail;
    announce(&cfg, app.router, app.http, app.https);
    status = fo_loop_run(app.loop) == 0 ? 0 : 1;
    FO_LOG(FO_LOG_INFO, NULL, "stopped");
    goto done;
fail:
    FO_LOG(FO_LOG_ERROR, NULL, "start-up failed");
done:
    if (app.sig.fd >= 0) {
        fo_loop_io_del(app.loop, &app.sig);
        close(app.sig.fd);
    }
    fo_timer_stop(app.loop, &app.drain);
    fo_http_free(app.https);
    fo_http_free(app.http);
    fo_clients_free(clients);
    fo_api_free(api);
    fo_router_free(app.router);
    fo_relays_free(app.relays); /* after the router: their sessions are freed */
    fo_cluster_free(app.cluster);
    fo_auth_free(app.auth);
    /* after the router, the relays, the cluster and auth: their last requests went in */
    fo_httpc_free(app.httpc);
    /* Handshake jobs still running finish; their completions free the sessions they held. */
    fo_pool_free(hs_pool);
    if (app.loop) fo_loop_run_pending(app.loop);
    fo_loop_free(app.loop);
    fo_dtls_ctx_free(dtls);
    fo_srtp_global_shutdown();
    return status;
}
