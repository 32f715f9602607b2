/* SPDX-License-Identifier: MIT */
/* Authorization end to end with auth.secret and auth.api_secret set (argv[1] binary, argv[2]
 * source dir): WHIP/WHEP and the SRS API refuse a missing, wrong, expired or wrong-action token
 * with 401 + WWW-Authenticate and accept a valid one (Bearer header, ?token= on the endpoint, or
 * ?token= in the stream URL), with CORS headers so pages of other origins read the refusal;
 * /api/v1 and /metrics need the operator secret even from loopback, and with it answer under any
 * Host but refuse another origin's page (403, code 1015) unless http.allowed_origins lists it
 * (then with its CORS headers); a WHIP resource DELETE needs only its URL. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout/auth.h"
#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/srtp.h"
#include "peer.h"
#include "testsrv.h"

#define SECRET "it-auth-secret"
#define OPS "it-ops-secret"

static fo_testsrv_t srv;
static int checks;

static int request(const char *method, const char *path, const char *ctype, const char *extra,
                   const char *body, char **headers, char **out)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", srv.api, path);
    int st = fo_peer_http_request_h(method, url, ctype, extra, body, headers, out, 5000);
    if (st < 0) fo_test_fail("%s %s: %s", method, path, fo_strerror(st));
    return st;
}

/* One request: the status must be `want`; `want_header` (NULL: none) must be in the headers or
 * the body. */
static void expect(const char *what, const char *method, const char *path, const char *ctype,
                   const char *extra, const char *body, int want, const char *want_header)
{
    char *h = NULL, *b = NULL;
    int st = request(method, path, ctype, extra, body, &h, &b);
    if (st != want) fo_test_fail("%s: HTTP %d, want %d: %.300s", what, st, want, b);
    if (want_header && !strcasestr(h, want_header) && !(b && strstr(b, want_header)))
        fo_test_fail("%s: no \"%s\" in:\n%s%s", what, want_header, h, b ? b : "");
    checks++;
    free(h);
    free(b);
}

static void token(fo_auth_action_t a, const char *key, int64_t ttl, char *out, size_t cap)
{
    if (fo_auth_make_token(SECRET, a, key, (int64_t)time(NULL) + ttl, out, cap) < 0)
        fo_test_fail("fo_auth_make_token");
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    setenv("FANOUT_AUTH_SECRET", SECRET, 1);
    setenv("FANOUT_AUTH_API_SECRET", OPS, 1);
    setenv("FANOUT_HTTP_ALLOWED_ORIGINS", "https://dash.example.org", 1);
    fo_testsrv_start(&srv, "it_auth", argv[1], argv[2], NULL, 60);
    fo_log_set_level(FO_LOG_WARN);
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .name = "pub"};
    fo_peer_opts_t lo = {.role = FO_PEER_PLAY, .name = "play"};
    fo_peer_t *pub = fo_peer_new(&po), *play = fo_peer_new(&lo);
    const char *offer = fo_peer_offer_sdp(pub), *play_offer = fo_peer_offer_sdp(play);
    const char *whip = "/rtc/v1/whip/?app=live&stream=secure";
    const char *whep = "/rtc/v1/whep/?app=live&stream=secure";
    char pub_tok[256], play_tok[256], old_tok[256], other_tok[256], hdr[512], path[1024];
    token(FO_AUTH_PUBLISH, "live/secure", 600, pub_tok, sizeof pub_tok);
    token(FO_AUTH_PLAY, "live/secure", 600, play_tok, sizeof play_tok);
    token(FO_AUTH_PUBLISH, "live/secure", -10, old_tok, sizeof old_tok);
    token(FO_AUTH_PUBLISH, "live/other", 600, other_tok, sizeof other_tok);

    /* WHIP/WHEP */
    expect("WHIP without a token", "POST", whip, "application/sdp", NULL, offer, 401, "WWW-Authenticate: Bearer");
    expect("WHIP refusal readable by another origin", "POST", whip, "application/sdp",
           "Origin: http://player.example\r\n", offer, 401, "Access-Control-Allow-Origin: *");
    expect("WHIP with a wrong token", "POST", whip, "application/sdp", "Authorization: Bearer publish.99999999999.00\r\n", offer, 401, NULL);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", old_tok);
    expect("WHIP with an expired token", "POST", whip, "application/sdp", hdr, offer, 401, NULL);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", other_tok);
    expect("WHIP with another stream's token", "POST", whip, "application/sdp", hdr, offer, 401, NULL);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", play_tok);
    expect("WHIP with a play token", "POST", whip, "application/sdp", hdr, offer, 401, NULL);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", pub_tok);
    char *h = NULL, *b = NULL;
    int st = request("POST", whip, "application/sdp", hdr, offer, &h, &b);
    if (st != 201) fo_test_fail("WHIP with a valid Bearer token: HTTP %d: %.300s", st, b);
    char *loc = strcasestr(h, "\nLocation: ");
    char resource[256] = "";
    if (loc) sscanf(loc + 11, "%255[^\r\n]", resource);
    free(h);
    free(b);
    checks++;
    snprintf(path, sizeof path, "%s&token=%s", whep, play_tok);
    expect("WHEP with ?token= on the endpoint", "POST", path, "application/sdp", NULL, play_offer, 201, "Location:");

    /* SRS API: the token in the stream URL */
    json_t *j = json_pack("{s:s, s:s}", "streamurl", "webrtc://127.0.0.1/live/srs", "sdp", play_offer);
    char *body = json_dumps(j, 0);
    expect("SRS play without a token", "POST", "/rtc/v1/play/", "application/json", NULL, body, 401, NULL);
    free(body);
    json_decref(j);
    token(FO_AUTH_PLAY, "live/srs", 600, play_tok, sizeof play_tok);
    char url[512];
    snprintf(url, sizeof url, "webrtc://127.0.0.1/live/srs?token=%s", play_tok);
    j = json_pack("{s:s, s:s}", "streamurl", url, "sdp", play_offer);
    body = json_dumps(j, 0);
    expect("SRS play with ?token= in the stream URL", "POST", "/rtc/v1/play/", "application/json", NULL, body, 200, NULL);
    free(body);
    json_decref(j);

    /* the operator surface needs its secret, even from loopback */
    expect("/api/v1/clients without the secret", "GET", "/api/v1/clients", NULL, NULL, NULL, 401, NULL);
    expect("/metrics without the secret", "GET", "/metrics", NULL, NULL, NULL, 401, NULL);
    expect("/api/v1/clients with the secret", "GET", "/api/v1/clients", NULL, "Authorization: Bearer " OPS "\r\n", NULL, 200, NULL);
    expect("/metrics with the secret", "GET", "/metrics", NULL, "Authorization: Bearer " OPS "\r\n", NULL, 200, NULL);
    expect("/api/v1/clients with the secret from another origin's page", "GET", "/api/v1/clients", NULL,
           "Authorization: Bearer " OPS "\r\nOrigin: http://127.0.0.1:1\r\n", NULL, 403, "\"code\":1015");
    expect("/api/v1/clients with the secret from an allowed origin", "GET", "/api/v1/clients", NULL,
           "Authorization: Bearer " OPS "\r\nOrigin: https://dash.example.org\r\n", NULL, 200,
           "Access-Control-Allow-Origin: https://dash.example.org");

    /* the resource URL is the capability */
    if (!resource[0]) fo_test_fail("no Location from the WHIP answer");
    expect("DELETE of the WHIP resource", "DELETE", resource, NULL, NULL, NULL, 200, NULL);

    fo_peer_free(pub);
    fo_peer_free(play);
    fo_testsrv_stop_clean(&srv);
    printf("it_auth: OK: %d checks (tokens for WHIP/WHEP/SRS API, operator secret for /api/v1 and "
           "/metrics, resource DELETE); server exited 0\n", checks);
    return 0;
}
