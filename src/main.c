/* SPDX-License-Identifier: MIT */
/* Start-up and shutdown: configuration (defaults, file, environment, flags), the DTLS
 * certificate, the loop with the media router and the HTTP server in it, signals (SIGINT and
 * SIGTERM end sessions with close_notify and exit 0; SIGHUP reopens the log file). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "fanout/api.h"
#include "fanout/common.h"
#include "fanout/config.h"
#include "fanout/dtls.h"
#include "fanout/http.h"
#include "fanout/log.h"
#include "fanout/loop.h"
#include "fanout/router.h"
#include "fanout/srtp.h"

#define DEFAULT_CONF "conf/fanout.conf"

typedef struct {
    fo_loop_t *loop;
    fo_router_t *router;
    const fo_config_t *cfg;
    fo_io_t sig;
} app_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fanout [-c FILE] [options]\n"
            "  -c, --config FILE     configuration file (default " DEFAULT_CONF " when present)\n"
            "      --http-port N     HTTP API and pages port (http.port)\n"
            "      --rtc-port N      shared UDP media port (rtc.port)\n"
            "      --candidate ADDR  advertised ICE candidate address(es) (rtc.candidate)\n"
            "      --www DIR         web pages directory (http.www)\n"
            "      --log-level L     error, warn, info, debug, trace (log.level)\n"
            "      --log-file FILE   log to FILE instead of stderr (log.file)\n"
            "  -h, --help            this text and every setting with its default\n"
            "  -v, --version         print the version\n"
            "Every setting can also be set by the environment as FANOUT_<SECTION>_<KEY>;\n"
            "CANDIDATE sets rtc.candidate. Precedence: flags > environment > file > defaults.\n\n");
}

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
        FO_LOG(FO_LOG_INFO, NULL, "signal %u: ending sessions and stopping", si.ssi_signo);
        fo_router_shutdown(app->router);
        fo_loop_stop(app->loop);
    }
}

/* Returns 0 to run, 1 to exit 0 (help/version), -1 on a bad command line or config. */
static int configure(fo_config_t *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},   {"http-port", required_argument, 0, 1},
        {"rtc-port", required_argument, 0, 2},   {"candidate", required_argument, 0, 3},
        {"www", required_argument, 0, 4},        {"log-level", required_argument, 0, 5},
        {"log-file", required_argument, 0, 6},   {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'v'},        {0, 0, 0, 0}};
    static const char *const keys[][2] = {{NULL, NULL},       {"http", "port"}, {"rtc", "port"},
                                          {"rtc", "candidate"}, {"http", "www"}, {"log", "level"},
                                          {"log", "file"}};
    const char *conf = NULL;
    const char *flag_val[7] = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:hv", opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf = optarg; break;
        case 'h':
            usage(stdout);
            fo_config_print_settings(stdout);
            return 1;
        case 'v': printf("fanout %s\n", FO_VERSION); return 1;
        case '?': usage(stderr); return -1;
        default: flag_val[c] = optarg; break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fanout: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    char err[512];
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
    for (int i = 1; i < 7; i++) {
        if (flag_val[i] && fo_config_set(cfg, keys[i][0], keys[i][1], flag_val[i], err, sizeof err) != 0) {
            fprintf(stderr, "fanout: bad option: %s\n", err);
            return -1;
        }
    }
    int level = fo_log_level_parse(cfg->log_level);
    if (level < 0) {
        fprintf(stderr, "fanout: bad configuration: log.level '%s' is not a level\n", cfg->log_level);
        return -1;
    }
    fo_log_set_level((fo_log_level_t)level);
    fo_codec_t codecs[8];
    if (fo_config_video_codecs(cfg, codecs, 8) < 0) {
        fprintf(stderr, "fanout: bad configuration: rtc.video_codecs '%s'\n", cfg->video_codecs);
        return -1;
    }
    FO_LOG(FO_LOG_INFO, NULL, "configuration: %s", conf ? conf : "(built-in defaults)");
    return 0;
}

int main(int argc, char **argv)
{
    static fo_config_t cfg;
    int rc = configure(&cfg, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    if (cfg.log_file[0] && fo_log_open(cfg.log_file) != 0) {
        fprintf(stderr, "fanout: cannot open log file %s\n", cfg.log_file);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    int status = 1;
    app_t app = {.cfg = &cfg, .sig = {.fd = -1}};
    fo_dtls_ctx_t *dtls = NULL;
    fo_http_t *http = NULL;
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
    http = fo_http_new(app.loop, cfg.http_listen, cfg.http_port, cfg.www_root, (size_t)cfg.max_body,
                       fo_api_handle, api);
    if (!http) goto fail;
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
    FO_LOG(FO_LOG_INFO, NULL, "fanout ready: http %s:%d, rtc udp %s:%d", cfg.http_listen,
           fo_http_port(http), cfg.rtc_listen, fo_router_udp_port(app.router));
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
    fo_http_free(http);
    fo_api_free(api);
    fo_router_free(app.router);
    fo_auth_free(auth);
    fo_loop_free(app.loop);
    fo_dtls_ctx_free(dtls);
    fo_srtp_global_shutdown();
    return status;
}
