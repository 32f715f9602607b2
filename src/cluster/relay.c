/* SPDX-License-Identifier: MIT */
/* One WHEP pull or WHIP push. Life: socket + offer + POST (REQUESTING) -> answer read, client
 * session added to the router (CONNECTING) -> the session's transport connects (CONNECTED) ->
 * the session ends or the relay is stopped (ENDED; DELETE of the remote resource, fire and
 * forget). State changes reach the owner from fo_loop_defer calls, so an owner may stop or free
 * relays from its callback and is never re-entered from inside fo_relay_new/stop.
 * Lifetime: the session's transport sends on the relay's socket and reads its environment, and
 * the router frees ended sessions at the loop's safe point; so a relay is destroyed by a
 * deferred call queued after its session's (fo_relay_free), or, once the loop is over and the
 * router freed, at once (fo_relay_free_final). */
#include "fanout/relay.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/sdp.h"
#include "fanout/stream.h"
#include "fanout/udp.h"

#define DEFAULT_TIMEOUT_MS 5000
#define OFFER_MAX 16384

static const char *const pull_exts[] = {
    "urn:ietf:params:rtp-hdrext:sdes:mid",
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", NULL};
static const char *const layer_rids[] = {"0", "1", "2"};

struct fo_relay {
    fo_relay_env_t env;
    fo_relay_kind_t kind;
    bool layers;
    fo_relay_state_t state;
    fo_relay_cbs_t cbs;
    char key[200];
    char url[1024];
    char bearer[512];
    char resource[1024];
    char session_id[40];
    char error[200];
    char ctx[64];
    fo_udp_t *udp;
    fo_transport_env_t tenv;
    fo_httpc_req_t *req;
    fo_session_t *session;
    char ufrag[9], pwd[25];
    uint32_t ssrc[2], rtx_ssrc[2];       /* push: the SSRCs our offer announced, by kind */
    uint64_t started_ms, answered_ms, connected_ms;
    bool notify_connected, notify_ended; /* queued notifications */
    bool freed;                          /* destruction queued: no more callbacks */
    bool flushed_with_router;            /* push: our socket is on the router's flush list */
    fo_relay_info_t last;                /* the session's counters when it ended */
};

const char *fo_relay_state_name(fo_relay_state_t s)
{
    static const char *const names[] = {"requesting", "connecting", "connected", "ended"};
    return (unsigned)s < FO_ARRAY_LEN(names) ? names[s] : "?";
}



/* ---- notifications ---- */

static void notify_cb(void *arg)
{
    fo_relay_t *rl = arg;
    if (rl->freed || !rl->cbs.on_state) return;
    if (rl->notify_connected) {
        rl->notify_connected = false;
        if (rl->state == FO_RELAY_CONNECTED) rl->cbs.on_state(rl->cbs.user, rl, FO_RELAY_CONNECTED, NULL);
    }
    if (rl->notify_ended && !rl->freed) {
        rl->notify_ended = false;
        rl->cbs.on_state(rl->cbs.user, rl, FO_RELAY_ENDED, rl->error);
    }
}

static void queue_notify(fo_relay_t *rl)
{
    if (fo_loop_defer(rl->env.loop, notify_cb, rl) != 0) {
        FO_LOG(FO_LOG_ERROR, rl->ctx, "out of memory queueing a relay notification");
    }
}

/* The relay is over (once): remembers why and tells the owner later. */
static void end_with(fo_relay_t *rl, const char *why)
{
    if (rl->state == FO_RELAY_ENDED) return;
    rl->state = FO_RELAY_ENDED;
    snprintf(rl->error, sizeof rl->error, "%s", why ? why : "ended");
    FO_LOG(FO_LOG_INFO, rl->ctx, "%s %s ended: %s", rl->kind == FO_RELAY_PULL ? "pull from" : "push to",
           rl->url, rl->error);
    rl->notify_ended = true;
    queue_notify(rl);
}

/* ---- the session's hooks ---- */

static void session_connected(void *user, fo_session_t *s)
{
    fo_relay_t *rl = user;
    (void)s;
    rl->state = FO_RELAY_CONNECTED;
    rl->connected_ms = fo_loop_now(rl->env.loop);
    FO_LOG(FO_LOG_INFO, rl->ctx, "connected %llu ms after the request",
           (unsigned long long)(rl->connected_ms - rl->started_ms));
    rl->notify_connected = true;
    queue_notify(rl);
}

static void snapshot(fo_relay_t *rl)
{
    if (!rl->session) return;
    const fo_transport_stats_t *ts = fo_transport_stats(fo_session_transport(rl->session));
    rl->last.rx_packets = ts->rx_packets;
    rl->last.tx_packets = ts->tx_packets;
    rl->last.rx_bytes = ts->rx_bytes;
    rl->last.tx_bytes = ts->tx_bytes;
}

static void session_end(void *user, fo_session_t *s, const char *reason)
{
    fo_relay_t *rl = user;
    (void)s;
    snapshot(rl);
    rl->session = NULL; /* freed by the router at the safe point */
    end_with(rl, reason);
}

static const fo_session_hooks_t hooks = {.on_connected = session_connected, .on_end = session_end};

/* ---- the socket ---- */

static void recv_cb(void *user, uint8_t *buf, size_t len, size_t cap, const fo_addr_t *from)
{
    fo_relay_t *rl = user;
    (void)cap;
    if (!rl->session || len == 0) return;
    fo_transport_t *t = fo_session_transport(rl->session);
    const fo_path_t way = {.addr = *from};
    if (buf[0] <= 3) fo_transport_on_stun(t, buf, len, from);
    else fo_transport_on_datagram(t, buf, len, &way);
}

/* After each batch read on the relay's socket: what it made the stream send to players went
 * into the shared socket's ring (or the send workers'): send it now, not at the next read there. */
static void flush_hook(void *user)
{
    fo_relay_t *rl = user;
    fo_router_flush(rl->env.router);
}

/* ---- offer ---- */

static int build_offer(fo_relay_t *rl, char *out, size_t cap)
{
    static fo_sdp_codec_t audio[2], video[FO_SDP_MAX_CODECS];
    const fo_codec_t *prefs;
    size_t np = fo_router_video_prefs(rl->env.router, &prefs);
    fo_sdp_offer_t o = {.ice_ufrag = rl->ufrag, .ice_pwd = rl->pwd,
                        .fingerprint = fo_dtls_ctx_fingerprint(rl->tenv.dtls),
                        .session_id = ((uint64_t)fo_rand32() << 31) | fo_rand32()};
    if (rl->kind == FO_RELAY_PULL) {
        size_t na = fo_sdp_receive_codecs(FO_KIND_AUDIO, NULL, 0, audio, FO_ARRAY_LEN(audio));
        size_t nv = fo_sdp_receive_codecs(FO_KIND_VIDEO, prefs, np, video, FO_ARRAY_LEN(video));
        o.media[o.n_media++] = (fo_sdp_offer_media_t){.kind = FO_KIND_AUDIO, .dir = FO_DIR_RECVONLY, .mid = "0",
                                                      .codecs = audio, .n_codecs = na, .ext_uris = pull_exts};
        o.media[o.n_media++] = (fo_sdp_offer_media_t){
            .kind = FO_KIND_VIDEO, .dir = FO_DIR_RECVONLY, .mid = "1", .codecs = video, .n_codecs = nv,
            .ext_uris = pull_exts, .recv_rids = rl->layers ? layer_rids : NULL,
            .n_recv_rids = rl->layers ? FO_ARRAY_LEN(layer_rids) : 0};
        return fo_sdp_build_offer(&o, out, cap);
    }
    /* push: the local publisher's codecs, each with an RTX format */
    fo_stream_t *st = fo_router_stream(rl->env.router, rl->key);
    if (!st || !fo_stream_publisher(st)) return FO_ENOTFOUND;
    static fo_sdp_codec_t push[2][2];
    static char tracks[2][24];
    for (int k = 0; k <= FO_KIND_VIDEO; k++) {
        const fo_sdp_codec_t *c = fo_stream_codec(st, (fo_kind_t)k);
        if (!c) continue;
        size_t n = 0;
        push[k][n] = *c;
        push[k][n++].fb = k == FO_KIND_VIDEO ? FO_FB_NACK | FO_FB_PLI | FO_FB_FIR | FO_FB_REMB | FO_FB_TWCC : FO_FB_TWCC;
        rl->ssrc[k] = fo_rand32();
        rl->rtx_ssrc[k] = 0;
        if (k == FO_KIND_VIDEO) {
            uint8_t pt = c->pt == 97 ? 98 : 97;
            push[k][n] = (fo_sdp_codec_t){.pt = pt, .codec = FO_CODEC_RTX, .clock = c->clock};
            snprintf(push[k][n].name, sizeof push[k][n].name, "rtx");
            snprintf(push[k][n].fmtp, sizeof push[k][n].fmtp, "apt=%u", c->pt);
            push[k][n++].apt = c->pt;
            rl->rtx_ssrc[k] = fo_rand32();
        }
        snprintf(tracks[k], sizeof tracks[k], "%s", k == FO_KIND_AUDIO ? "audio" : "video");
        o.media[o.n_media] = (fo_sdp_offer_media_t){
            .kind = (fo_kind_t)k, .dir = FO_DIR_SENDONLY, .mid = k == FO_KIND_AUDIO ? "0" : "1",
            .codecs = push[k], .n_codecs = n, .ext_uris = pull_exts, .ssrc = rl->ssrc[k], .rtx_ssrc = rl->rtx_ssrc[k],
            .cname = "fanout", .msid_stream = "fanout", .msid_track = tracks[k]};
        o.n_media++;
    }
    if (!o.n_media) return FO_ENOTFOUND;
    return fo_sdp_build_offer(&o, out, cap);
}

/* ---- answer ---- */

static int candidates_of(fo_relay_t *rl, const fo_sdp_t *ans, fo_transport_client_t *cli)
{
    fo_sdp_cand_t all[FO_SDP_MAX_CANDIDATES * 2];
    size_t n = 0;
    for (size_t m = 0; m < ans->n_media; m++) {
        if (ans->media[m].port == 0) continue;
        for (size_t i = 0; i < ans->media[m].n_cands && n < FO_ARRAY_LEN(all); i++) {
            const fo_sdp_cand_t *c = &ans->media[m].cands[i];
            bool dup = false;
            for (size_t j = 0; j < n; j++) dup |= strcmp(all[j].addr, c->addr) == 0 && all[j].port == c->port;
            if (!dup) all[n++] = *c;
        }
    }
    /* best first (insertion sort: a handful) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && all[j].priority > all[j - 1].priority; j--) {
            fo_sdp_cand_t x = all[j];
            all[j] = all[j - 1];
            all[j - 1] = x;
        }
    /* our socket is IPv4 or IPv6 as rtc.listen is; "::" (the default) is dual-stack: both */
    bool v6 = strchr(rl->env.listen, ':') != NULL, v4 = !v6 || strcmp(rl->env.listen, "::") == 0;
    for (size_t i = 0; i < n && cli->n_cands < FO_TRANSPORT_MAX_ADDRS; i++) {
        fo_addr_t a = {0};
        if (v4 && inet_pton(AF_INET, all[i].addr, &a.u.in.sin_addr) == 1) {
            a.u.in.sin_family = AF_INET;
            a.u.in.sin_port = htons(all[i].port);
            a.len = sizeof a.u.in;
        } else if (v6 && inet_pton(AF_INET6, all[i].addr, &a.u.in6.sin6_addr) == 1) {
            a.u.in6.sin6_family = AF_INET6;
            a.u.in6.sin6_port = htons(all[i].port);
            a.len = sizeof a.u.in6;
        } else {
            continue;
        }
        cli->cands[cli->n_cands++] = a;
    }
    return cli->n_cands ? 0 : FO_EINVAL;
}

/* What we take of each answered m-line: pull, the first codec it names (the publisher's) with
 * its RTX, as a publisher offer would be negotiated; push, what it accepted of our offer. */
static int accept_media(fo_relay_t *rl, const fo_sdp_t *ans, fo_sdp_answer_t *acc)
{
    static const char *const pub_exts[] = {
        "urn:ietf:params:rtp-hdrext:sdes:mid",
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
        "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", NULL};
    bool seen[2] = {false, false};
    size_t taken = 0;
    acc->ice_ufrag = rl->ufrag;
    acc->ice_pwd = rl->pwd;
    for (size_t m = 0; m < ans->n_media; m++) {
        const fo_sdp_media_t *am = &ans->media[m];
        fo_sdp_answer_media_t *out = &acc->media[m];
        memset(out, 0, sizeof *out);
        if (am->port == 0 || am->kind > FO_KIND_VIDEO || seen[am->kind]) continue;
        if (rl->kind == FO_RELAY_PULL) {
            const fo_sdp_codec_t *first = NULL;
            for (size_t i = 0; i < am->n_codecs && !first; i++)
                if (am->codecs[i].codec != FO_CODEC_RTX) first = &am->codecs[i];
            if (!first) continue;
            fo_codec_t pref = first->codec;
            /* negotiated as a publisher's offer would be, preferring the codec it named first;
             * the answer's direction is sendonly, which the publisher role wants */
            if (fo_sdp_negotiate(am, FO_SDP_ROLE_PUBLISH, &pref, 1, pub_exts, out) != 0 || !out->accept) continue;
            if (out->n_pts && out->pts[0] != first->pt) {
                /* H.264: negotiate picked another profile entry; keep the one named first */
                out->pts[0] = first->pt;
                uint8_t rtx = fo_sdp_rtx_for(am, first->pt);
                out->n_pts = rtx ? 2 : 1;
                if (rtx) out->pts[1] = rtx;
            }
        } else {
            if (am->dir != FO_DIR_RECVONLY && am->dir != FO_DIR_SENDRECV) continue;
            out->accept = true;
            out->dir = FO_DIR_SENDONLY;
            for (size_t i = 0; i < am->n_codecs && out->n_pts < FO_SDP_MAX_CODECS; i++)
                out->pts[out->n_pts++] = am->codecs[i].pt;
            out->fb_mask = FO_FB_NACK | FO_FB_PLI | FO_FB_FIR | FO_FB_REMB | FO_FB_TWCC;
            for (size_t i = 0; i < am->n_ext && out->n_ext < FO_SDP_MAX_EXT; i++)
                if (strcmp(am->ext[i].uri, pull_exts[1]) == 0) out->ext_ids[out->n_ext++] = am->ext[i].id;
            out->ssrc = rl->ssrc[am->kind];
            bool rtx = false;
            for (size_t i = 0; i < am->n_codecs; i++) rtx |= am->codecs[i].codec == FO_CODEC_RTX;
            out->rtx_ssrc = rtx ? rl->rtx_ssrc[am->kind] : 0;
            if (!out->ssrc) continue; /* a kind we did not offer */
        }
        seen[am->kind] = true;
        taken++;
    }
    return taken ? 0 : FO_ECODEC;
}

static void take_answer(fo_relay_t *rl, const char *sdp, size_t len)
{
    fo_sdp_t *ans = malloc(sizeof *ans);
    fo_sdp_answer_t *acc = calloc(1, sizeof *acc);
    const char *why = "out of memory";
    if (!ans || !acc) goto fail;
    if (fo_sdp_parse(sdp, len, ans, &why) != 0) goto fail;
    const fo_sdp_media_t *first = NULL;
    for (size_t m = 0; m < ans->n_media && !first; m++)
        if (ans->media[m].port) first = &ans->media[m];
    why = "the answer accepted no media";
    if (!first) goto fail;
    why = "the answer has no ICE credentials";
    if (!first->ice_ufrag[0] || !first->ice_pwd[0]) goto fail;
    fo_transport_client_t cli = {.tie = ((uint64_t)fo_rand32() << 32) | fo_rand32(),
                                 .dtls_server = first->setup == FO_SETUP_ACTIVE,
                                 .check_ms = rl->env.consent_ms > 0 ? rl->env.consent_ms : 1000};
    snprintf(cli.local_ufrag, sizeof cli.local_ufrag, "%s", rl->ufrag);
    snprintf(cli.local_pwd, sizeof cli.local_pwd, "%s", rl->pwd);
    snprintf(cli.remote_ufrag, sizeof cli.remote_ufrag, "%s", first->ice_ufrag);
    snprintf(cli.remote_pwd, sizeof cli.remote_pwd, "%s", first->ice_pwd);
    why = "the answer has no candidate we can reach (UDP, an IP address of our family)";
    if (candidates_of(rl, ans, &cli) != 0) goto fail;
    why = "the answer has no audio or video we can use";
    if (accept_media(rl, ans, acc) != 0) goto fail;
    int err = 0;
    rl->session = fo_router_add_client(rl->env.router, rl->kind == FO_RELAY_PULL ? FO_ROLE_PUBLISH : FO_ROLE_PLAY,
                                       rl->key, ans, acc, &rl->tenv, &cli, &err);
    if (!rl->session) {
        why = err == FO_EBUSY ? "the local stream has a publisher already" : fo_strerror(err);
        goto fail;
    }
    fo_session_set_hooks(rl->session, &hooks, rl);
    snprintf(rl->session_id, sizeof rl->session_id, "%s", fo_session_id(rl->session));
    rl->state = FO_RELAY_CONNECTING;
    free(ans);
    free(acc);
    return;
fail:
    free(ans);
    free(acc);
    char msg[200];
    snprintf(msg, sizeof msg, "bad answer: %s", why);
    end_with(rl, msg);
}

static void http_done_cb(void *user, const fo_httpc_resp_t *resp)
{
    fo_relay_t *rl = user;
    rl->req = NULL;
    if (rl->state != FO_RELAY_REQUESTING) return;
    rl->answered_ms = fo_loop_now(rl->env.loop);
    char why[200];
    if (resp->err) {
        snprintf(why, sizeof why, "%s: %s", rl->kind == FO_RELAY_PULL ? "WHEP" : "WHIP", resp->error);
        end_with(rl, why);
        return;
    }
    if (resp->status != 201 && resp->status != 200) {
        /* the body is the other server's reason (ours: text/plain) */
        char reason[120];
        size_t n = resp->body_len < sizeof reason - 1 ? resp->body_len : sizeof reason - 1;
        for (size_t i = 0; i < n; i++)
            reason[i] = (resp->body[i] >= ' ' && resp->body[i] < 0x7f) ? resp->body[i] : ' ';
        reason[n] = '\0';
        snprintf(why, sizeof why, "%s answered %d: %s", rl->kind == FO_RELAY_PULL ? "WHEP" : "WHIP",
                 resp->status, reason);
        end_with(rl, why);
        return;
    }
    if (resp->location_url && resp->location_url[0])
        snprintf(rl->resource, sizeof rl->resource, "%s", resp->location_url);
    take_answer(rl, resp->body, resp->body_len);
}

/* ---- public ---- */

fo_relay_t *fo_relay_new(const fo_relay_env_t *env, const fo_relay_opts_t *opts,
                         const fo_relay_cbs_t *cbs, int *err)
{
    *err = FO_EINVAL;
    if (!opts->key || !strchr(opts->key, '/') || strlen(opts->key) >= 200 || !opts->url ||
        strlen(opts->url) >= 1024 || (strncmp(opts->url, "http://", 7) != 0 && strncmp(opts->url, "https://", 8) != 0) ||
        (opts->bearer && strlen(opts->bearer) >= 512))
        return NULL;
    fo_relay_t *rl = calloc(1, sizeof *rl);
    char *offer = malloc(OFFER_MAX);
    *err = FO_ENOMEM;
    if (!rl || !offer) goto fail;
    rl->env = *env;
    rl->kind = opts->kind;
    rl->layers = opts->layers && opts->kind == FO_RELAY_PULL;
    rl->cbs = cbs ? *cbs : (fo_relay_cbs_t){0};
    snprintf(rl->key, sizeof rl->key, "%s", opts->key);
    snprintf(rl->url, sizeof rl->url, "%s", opts->url);
    snprintf(rl->bearer, sizeof rl->bearer, "%s", opts->bearer ? opts->bearer : "");
    snprintf(rl->ctx, sizeof rl->ctx, "relay %.56s", rl->key);
    rl->started_ms = fo_loop_now(env->loop);
    fo_random_token(rl->ufrag, 8);
    fo_random_token(rl->pwd, 24);
    rl->tenv = *fo_router_transport_env(env->router);
    rl->tenv.workers = NULL; /* one session: the loop protects what it sends */
    rl->tenv.consent_timeout_ms = env->consent_timeout_ms > 0 ? env->consent_timeout_ms : 5000;
    rl->tenv.totals = NULL; /* the shared port's counters (the paths' totals are the router's) */
    rl->tenv.max_pps = 0; /* the whole stream arrives here */
    *err = FO_ESYS;
    if (!(rl->udp = fo_udp_new(env->loop, env->listen, 0, recv_cb, rl))) goto fail;
    rl->tenv.udp = rl->tenv.paths.udp = rl->udp;
    fo_udp_set_flush_hook(rl->udp, flush_hook, rl);
    if (rl->kind == FO_RELAY_PUSH) {
        *err = FO_ENOMEM;
        if (fo_router_add_socket(env->router, rl->udp) != 0) goto fail;
        rl->flushed_with_router = true;
    }
    int n = build_offer(rl, offer, OFFER_MAX);
    if (n < 0) {
        *err = n;
        goto fail;
    }
    char headers[600] = "";
    if (rl->bearer[0]) snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n", rl->bearer);
    fo_httpc_request_t rq = {.method = "POST", .url = rl->url, .content_type = "application/sdp",
                             .headers = headers, .body = offer, .body_len = (size_t)n,
                             .timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS,
                             .max_response = 128 * 1024};
    int rc = fo_httpc_send(env->httpc, &rq, http_done_cb, rl, &rl->req);
    if (rc != 0) {
        *err = rc;
        goto fail;
    }
    free(offer);
    FO_LOG(FO_LOG_INFO, rl->ctx, "%s %s", rl->kind == FO_RELAY_PULL ? "pulling from" : "pushing to", rl->url);
    *err = 0;
    return rl;
fail:
    free(offer);
    if (rl && rl->flushed_with_router) fo_router_remove_socket(env->router, rl->udp);
    if (rl) fo_udp_free(rl->udp);
    free(rl);
    return NULL;
}

/* DELETE of the remote resource, nobody waiting for the answer. */
static void delete_done_cb(void *user, const fo_httpc_resp_t *resp)
{
    (void)user;
    (void)resp;
}

static void stop(fo_relay_t *rl, const char *why, bool quiet)
{
    if (rl->req) {
        fo_httpc_cancel(rl->req);
        rl->req = NULL;
    }
    if (rl->resource[0]) {
        char headers[600] = "";
        if (rl->bearer[0]) snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n", rl->bearer);
        fo_httpc_request_t rq = {.method = "DELETE", .url = rl->resource, .headers = headers, .timeout_ms = 3000};
        fo_httpc_send(rl->env.httpc, &rq, delete_done_cb, NULL, NULL);
        rl->resource[0] = '\0';
    }
    if (rl->session) {
        fo_session_t *s = rl->session;
        snapshot(rl);
        fo_session_set_hooks(s, NULL, NULL);
        rl->session = NULL;
        fo_session_end(s, why);
        fo_udp_flush(rl->udp); /* the close_notify */
    }
    if (rl->flushed_with_router) {
        fo_router_remove_socket(rl->env.router, rl->udp);
        rl->flushed_with_router = false;
    }
    if (quiet) rl->state = FO_RELAY_ENDED;
    else end_with(rl, why);
}

void fo_relay_stop(fo_relay_t *rl, const char *why) { stop(rl, why ? why : "stopped", false); }

static void destroy(void *arg)
{
    fo_relay_t *rl = arg;
    fo_udp_free(rl->udp);
    free(rl);
}

void fo_relay_free(fo_relay_t *rl)
{
    if (!rl || rl->freed) return;
    stop(rl, "relay removed", true);
    rl->freed = true;
    /* after the session the router frees at the same safe point (queued before this) */
    if (fo_loop_defer(rl->env.loop, destroy, rl) != 0) destroy(rl);
}

void fo_relay_free_final(fo_relay_t *rl)
{
    if (!rl) return;
    if (rl->req) fo_httpc_cancel(rl->req);
    destroy(rl);
}

void fo_relay_info(const fo_relay_t *rl, fo_relay_info_t *out)
{
    *out = rl->last;
    out->kind = rl->kind;
    out->state = rl->state;
    out->key = rl->key;
    out->url = rl->url;
    out->resource = rl->resource;
    out->session_id = rl->session_id;
    out->error = rl->state == FO_RELAY_ENDED ? rl->error : "";
    out->started_ms = rl->started_ms;
    out->answered_ms = rl->answered_ms;
    out->connected_ms = rl->connected_ms;
    if (rl->session) {
        const fo_transport_stats_t *ts = fo_transport_stats(fo_session_transport(rl->session));
        out->rx_packets = ts->rx_packets;
        out->tx_packets = ts->tx_packets;
        out->rx_bytes = ts->rx_bytes;
        out->tx_bytes = ts->tx_bytes;
    }
}

fo_session_t *fo_relay_session(const fo_relay_t *rl) { return rl->session; }
