/* SPDX-License-Identifier: MIT */
/* Router offers held while the operator's callback runs: a hold passes every check an offer
 * passes (bad SDP, a busy stream and the caps refuse it), counts against the caps like a
 * session still connecting (per client IP and in total) until it is taken or released, and
 * taking it creates the session under the id the hold announced, checking again what may
 * have changed meanwhile (a second publisher held for the same stream gets 409). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/router.h"
#include "fanout/srtp.h"

static char pub_sdp[64 * 1024], play_sdp[64 * 1024];

static void load(const char *name, char *out, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sdp/%s", FO_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static fo_offer_t offer(fo_role_t role, const char *key, const char *ip)
{
    const char *sdp = role == FO_ROLE_PUBLISH ? pub_sdp : play_sdp;
    return (fo_offer_t){.role = role, .key = key, .sdp = sdp, .len = strlen(sdp), .client_ip = ip};
}

static void test_holds(void **state)
{
    (void)state;
    fo_log_set_level(FO_LOG_ERROR);
    load("chrome-publish.sdp", pub_sdp, sizeof pub_sdp);
    load("chrome-play.sdp", play_sdp, sizeof play_sdp);
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    strcpy(cfg.rtc_listen, "127.0.0.1");
    cfg.rtc_port = 0;
    strcpy(cfg.candidate, "127.0.0.1");
    cfg.workers = 1;
    cfg.max_sessions = 4;
    cfg.max_sessions_per_ip = 2;
    strcpy(cfg.limits_exempt, "");
    fo_loop_t *loop = fo_loop_new();
    fo_dtls_ctx_t *dtls = fo_dtls_ctx_new(NULL, NULL);
    fo_router_t *r = fo_router_new(loop, &cfg, dtls);
    assert_non_null(r);
    fo_offer_result_t res, a, b;

    /* checks first: a bad SDP is refused and holds nothing */
    fo_offer_t bad = offer(FO_ROLE_PUBLISH, "live/a", "192.0.2.1");
    bad.sdp = "v=0\r\ngarbage";
    bad.len = strlen(bad.sdp);
    assert_int_not_equal(fo_router_offer_hold(r, &bad, &res), 0);
    assert_int_equal(res.http_status, 400);
    assert_int_equal(fo_router_offers_held(r), 0);

    /* two holds of one publisher's stream from one IP, then its per-IP cap (2) */
    fo_offer_t p1 = offer(FO_ROLE_PUBLISH, "live/a", "192.0.2.1");
    assert_int_equal(fo_router_offer_hold(r, &p1, &a), 0);
    assert_int_equal(a.http_status, 200);
    assert_int_equal(strlen(a.session_id), 16);
    assert_null(a.answer);
    assert_int_equal(fo_router_offer_hold(r, &p1, &b), 0);
    assert_string_not_equal(a.session_id, b.session_id);
    assert_null(fo_router_session(r, a.session_id)); /* nothing created yet */
    assert_int_not_equal(fo_router_offer_hold(r, &p1, &res), 0);
    assert_int_equal(res.http_status, 429);
    assert_int_equal(fo_router_offers_held(r), 2);

    /* the first taken becomes the session with the announced id; the second finds the stream
     * busy now (409) and its hold ends all the same */
    assert_int_equal(fo_router_offer_take(r, a.session_id, &p1, &res), 0);
    assert_int_equal(res.http_status, 200);
    assert_string_equal(res.session_id, a.session_id);
    assert_non_null(res.answer);
    free(res.answer);
    assert_non_null(fo_router_session(r, a.session_id));
    assert_int_not_equal(fo_router_offer_take(r, b.session_id, &p1, &res), 0);
    assert_int_equal(res.http_status, 409);
    assert_int_equal(fo_router_offers_held(r), 0);
    /* an unknown hold is not taken */
    assert_int_equal(fo_router_offer_take(r, b.session_id, &p1, &res), FO_ENOTFOUND);
    assert_int_equal(res.http_status, 500);

    /* holds count against rtc.max_sessions (4): one session + three holds fill it */
    fo_offer_t pl = offer(FO_ROLE_PLAY, "live/a", "192.0.2.2");
    fo_offer_t pl3 = offer(FO_ROLE_PLAY, "live/a", "192.0.2.3");
    char held[3][40];
    assert_int_equal(fo_router_offer_hold(r, &pl, &res), 0);
    strcpy(held[0], res.session_id);
    assert_int_equal(fo_router_offer_hold(r, &pl, &res), 0);
    strcpy(held[1], res.session_id);
    assert_int_equal(fo_router_offer_hold(r, &pl3, &res), 0);
    strcpy(held[2], res.session_id);
    assert_int_not_equal(fo_router_offer_hold(r, &pl3, &res), 0);
    assert_int_equal(res.http_status, 503);
    /* a release gives the place back */
    fo_router_offer_release(r, held[2]);
    fo_router_offer_release(r, held[2]); /* twice is harmless */
    assert_int_equal(fo_router_offer_hold(r, &pl3, &res), 0);
    strcpy(held[2], res.session_id);
    for (int i = 0; i < 3; i++) fo_router_offer_release(r, held[i]);
    assert_int_equal(fo_router_offers_held(r), 0);

    fo_router_free(r);
    fo_loop_free(loop);
    fo_dtls_ctx_free(dtls);
}

int main(void)
{
    fo_srtp_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holds),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fo_srtp_global_shutdown();
    return rc;
}
