/* SPDX-License-Identifier: MIT */
/* Start-up and shutdown: configuration (defaults, file, environment, flags), the DTLS
 * certificate, the loop with the media router and the HTTP server in it, signals (SIGINT and
 * SIGTERM end sessions with close_notify, leave the cluster and exit 0; SIGUSR1 drains first;
 * SIGHUP reopens the log file). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "fanout/api.h"
#include "fanout/cluster.h"
#include "fanout/common.h"
#include "fanout/config.h"
#include "fanout/dtls.h"
#include "fanout/http.h"
#include "fanout/httpc.h"
#include "fanout/log.h"
#include "fanout/loop.h"
#include "fanout/record.h"
#include "fanout/relays.h"
#include "fanout/router.h"
#include "fanout/srtp.h"
#include "fanout/tls_cert.h"

#define DEFAULT_CONF "conf/fanout.conf"

typedef struct {
    fo_loop_t *loop;
    fo_router_t *router;
    fo_relays_t *relays;
    fo_cluster_t *cluster;
    const fo_config_t *cfg;
    fo_io_t sig;
    fo_httpc_t *httpc; /* outbound HTTP (on_record, relays) */
    fo_timer_t stop_timer;   /* the longest wait for the cluster's goodbyes */
    bool stopping;
} app_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fanout [-c FILE] [options]\n"
            "  -c, --config FILE       configuration file (default " DEFAULT_CONF " when present)\n"
            "      --http-port N       HTTP API and pages port (http.port)\n"
            "      --https-port N      HTTPS API and pages port (https.port)\n"
            "      --no-https          serve plain HTTP only (https.enabled = false)\n"
            "      --rtc-port N        shared UDP media port (rtc.port)\n"
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

static void stop_loop_cb(void *user)
{
    app_t *app = user;
    fo_timer_stop(app->loop, &app->stop_timer);
    fo_loop_stop(app->loop);
}

static void stop_timer_cb(fo_timer_t *t) { stop_loop_cb(t->user); }

/* Ends every session and relay, leaves the cluster (its goodbyes to Redis get up to a second),
 * then stops the loop. */
static void begin_stop(app_t *app)
{
    if (app->stopping) return;
    app->stopping = true;
    fo_relays_shutdown(app->relays);
    fo_cluster_shutdown(app->cluster);
    fo_router_shutdown(app->router);
    fo_timer_init(&app->stop_timer, stop_timer_cb, app);
    fo_timer_start(app->loop, &app->stop_timer, 1000);
    fo_cluster_leave(app->cluster, stop_loop_cb, app);
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
        FO_LOG(FO_LOG_INFO, NULL, "signal %u: ending sessions and stopping", si.ssi_signo);
        begin_stop(app);
    }
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
    /* log.level and rtc.video_codecs were checked when set */
    fo_log_set_level((fo_log_level_t)fo_log_level_parse(cfg->log_level));
    if (cfg->log_file[0] && fo_log_open(cfg->log_file) != 0) {
        fprintf(stderr, "fanout: cannot open log file %s: %s\n", cfg->log_file, strerror(errno));
        return -1;
    }
    FO_LOG(FO_LOG_INFO, NULL, "configuration: %s", conf ? conf : "(built-in defaults)");
    return 0;
}

/* The HTTPS server: makes sure its certificate exists (self-signed for localhost and our
 * candidates on first start), then starts the TLS daemon. NULL on failure (logged). */
static fo_http_t *start_https(const fo_config_t *cfg, fo_loop_t *loop, fo_router_t *router,
                              fo_api_t *api)
{
    const char *const *cands;
    size_t n = fo_router_candidates(router, &cands);
    char err[700];
    if (fo_tls_cert_ensure(cfg->https_cert, cfg->https_key, cands, n, err, sizeof err) != 0) {
        FO_LOG(FO_LOG_ERROR, "https", "certificate: %s", err);
        return NULL;
    }
    return fo_http_new_tls(loop, cfg->https_listen, cfg->https_port, cfg->www_root,
                           (size_t)cfg->max_body, cfg->https_cert, cfg->https_key, fo_api_handle, api);
}

int main(int argc, char **argv)
{
    static fo_config_t cfg;
    int rc = configure(&cfg, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    int status = 1;
    app_t app = {.cfg = &cfg, .sig = {.fd = -1}};
    fo_dtls_ctx_t *dtls = NULL;
    fo_http_t *http = NULL, *https = NULL;
    fo_api_t *api = NULL;
    fo_auth_t *auth = NULL;
    if (fo_srtp_global_init() != 0) goto fail;
    dtls = fo_dtls_ctx_new(cfg.dtls_cert[0] ? cfg.dtls_cert : NULL, cfg.dtls_key[0] ? cfg.dtls_key : NULL);
    if (!dtls) goto fail;
    app.loop = fo_loop_new();
    if (!app.loop) goto fail;
    app.router = fo_router_new(app.loop, &cfg, dtls);
    if (!app.router) goto fail;
    api = fo_api_new(app.router);
    if (!api) goto fail;
    auth = fo_auth_new(&cfg);
    if (!auth) goto fail;
    fo_api_set_auth(api, auth);
    app.httpc = fo_httpc_new(app.loop, NULL); /* outbound HTTP: on_record, relays */
    if (!app.httpc) goto fail;
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
    http = fo_http_new(app.loop, cfg.http_listen, cfg.http_port, cfg.www_root, (size_t)cfg.max_body,
                       fo_api_handle, api);
    if (!http) goto fail;
    if (cfg.https_enabled && !(https = start_https(&cfg, app.loop, app.router, api))) goto fail;
    app.sig = (fo_io_t){.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC), .cb = on_signal, .user = &app};
    if (app.sig.fd < 0 || fo_loop_io_add(app.loop, &app.sig, EPOLLIN) != 0) goto fail;

    const char *const *cands;
    size_t n = fo_router_candidates(app.router, &cands);
    FO_LOG(FO_LOG_INFO, NULL, "DTLS fingerprint sha-256 %s", fo_dtls_ctx_fingerprint(dtls));
    for (size_t i = 0; i < n; i++)
        FO_LOG(FO_LOG_INFO, NULL, "ICE candidate %s udp %d", cands[i], fo_router_udp_port(app.router));
    const char *host = n ? cands[0] : "127.0.0.1";
    FO_LOG(FO_LOG_INFO, NULL, "publisher page: http://%s:%d/publisher.html", host, fo_http_port(http));
    FO_LOG(FO_LOG_INFO, NULL, "player page:    http://%s:%d/player.html", host, fo_http_port(http));
    FO_LOG(FO_LOG_INFO, NULL, "API:            http://%s:%d/rtc/v1/publish/ and /rtc/v1/play/", host,
           fo_http_port(http));
    if (https)
        FO_LOG(FO_LOG_INFO, NULL, "publisher page: https://%s:%d/publisher.html (certificate %s)",
               host, fo_http_port(https), cfg.https_cert);
    char https_txt[96] = "";
    if (https) snprintf(https_txt, sizeof https_txt, ", https %s:%d", cfg.https_listen, fo_http_port(https));
    int workers = fo_config_workers(&cfg);
    FO_LOG(FO_LOG_INFO, NULL, "fanout ready: http %s:%d%s, rtc udp %s:%d, %d send thread%s%s",
           cfg.http_listen, fo_http_port(http), https_txt, cfg.rtc_listen,
           fo_router_udp_port(app.router), workers, workers == 1 ? "" : "s",
           cfg.workers ? "" : " (workers = auto: one per CPU)");
    if (fo_relays_configure(app.relays, &cfg) != 0) goto fail;
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
    fo_http_free(https);
    fo_http_free(http);
    fo_api_free(api);
    fo_router_free(app.router);
    fo_relays_free(app.relays); /* after the router: their sessions are freed */
    fo_cluster_free(app.cluster);
    fo_httpc_free(app.httpc);   /* after the router (its last on_record went in) and the relays */
    fo_auth_free(auth);
    fo_loop_free(app.loop);
    fo_dtls_ctx_free(dtls);
    fo_srtp_global_shutdown();
    return status;
}
