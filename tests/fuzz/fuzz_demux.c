/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the UDP demux entry (fo_router_input) with one live publish session:
 * the input is a sequence of datagrams [len:2][flags:1][payload], each from one of eight
 * loopback addresses (flags bits 1-2, plus 4 when bit 4 is set: more than a transport keeps,
 * so addresses get evicted). flags bit 0 sends, before the payload, a STUN check with the
 * session's real credentials (bit 3: USE-CANDIDATE), so the fuzzer reaches past ICE into the
 * transport: DTLS reassembly and mbedtls, SRTP unprotect on a not-yet-keyed session, state
 * checks and the rate cap. Bit 5 ends the session first and runs the deferred frees, so later
 * datagrams test that nothing still points at it (issue 15, item 1: corpus file
 * uaf-evicted-address). A fresh router per input; the loop only runs deferred frees. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/log.h"
#include "fanout/router.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"

static const char offer[] =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:fzuf\r\n"
    "a=ice-pwd:fuzzfuzzfuzzfuzzfuzzfuzz\r\n"
    "a=fingerprint:sha-256 F1:21:52:6C:17:43:F5:56:74:30:84:71:51:17:33:33:C6:D7:47:87:26:0F:2D:"
    "52:41:17:E2:6A:55:2C:D8:74\r\na=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=ssrc:1234 cname:x\r\n";

static fo_loop_t *loop;
static fo_dtls_ctx_t *dctx;
static fo_stun_t *stun;
static fo_config_t cfg;

static void init_once(void)
{
    if (loop) return;
    fo_log_set_level(FO_LOG_ERROR);
    fo_srtp_global_init();
    dctx = fo_dtls_ctx_new(NULL, NULL);
    loop = fo_loop_new();
    stun = fo_stun_new();
    fo_loop_stop(loop); /* from now on fo_loop_run only runs the deferred calls */
    fo_config_defaults(&cfg);
    strcpy(cfg.rtc_listen, "127.0.0.1");
    cfg.rtc_port = 0;
    strcpy(cfg.candidate, "127.0.0.1");
    if (!dctx || !loop || !stun) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    fo_router_t *r = fo_router_new(loop, &cfg, dctx);
    if (!r) abort();
    fo_offer_result_t res;
    if (fo_router_offer(r, FO_ROLE_PUBLISH, "live/fuzz", offer, strlen(offer), NULL, &res) != 0) abort();
    free(res.answer);
    fo_session_t *s = fo_router_session(r, res.session_id);
    char user[64], pwd[64];
    strcpy(user, fo_session_ufrag(s));
    strcat(user, ":fzuf");
    strcpy(pwd, fo_session_pwd(s));
    uint8_t buf[2048];
    for (size_t off = 0; off + 3 <= size;) {
        size_t len = ((size_t)data[off] << 8 | data[off + 1]) % 1500;
        uint8_t flags = data[off + 2];
        off += 3;
        if (len > size - off) len = size - off;
        fo_addr_t from = {.len = sizeof(struct sockaddr_in)};
        from.u.in.sin_family = AF_INET;
        from.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        /* discard-ish ports */
        from.u.in.sin_port = htons((uint16_t)(9 + ((flags >> 1) & 3) + (flags & 16 ? 4 : 0)));
        if (flags & 32) { /* by id: it may have ended by itself already */
            fo_router_end_session(r, res.session_id);
            fo_loop_run(loop); /* frees it now */
        }
        if (flags & 1) {
            int n = fo_stun_build_request(stun, buf, sizeof buf, user, pwd, 12345, 1, flags & 8);
            if (n > 0) fo_router_input(r, buf, (size_t)n, &from);
        }
        memcpy(buf, data + off, len);
        if (len) fo_router_input(r, buf, len, &from);
        off += len;
    }
    fo_loop_run(loop); /* deferred frees of ended sessions and idle streams */
    fo_router_free(r);
    fo_loop_run(loop);
    return 0;
}
