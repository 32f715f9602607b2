/* SPDX-License-Identifier: MIT */
/* Synthetic publisher media (synth.h). */
#include "synth.h"

#include <poll.h>
#include <stdbool.h>
#include <string.h>

#include "fanout/rtp.h"
#include "fanout/srtp.h"
#include "testsrv.h"

void fo_synth_publish(fo_peer_t *pub, fo_peer_t *play, int ms, uint16_t seq0, uint32_t ts0)
{
    uint8_t pkt[400];
    int64_t t0 = fo_peer_now_ms();
    int na = 0, nv = 0;
    for (;;) {
        int64_t t = fo_peer_now_ms() - t0;
        if (t >= ms) break;
        while (na * 20 <= t) {
            size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, (uint16_t)(seq0 + na), ts0 + (uint32_t)na * 960, fo_peer_ssrc(pub, "audio"));
            memset(pkt + h, 0x55, 100);
            fo_peer_send_rtp(pub, pkt, h + 100);
            na++;
        }
        while (nv * 50 <= t) {
            size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_VP8, false, (uint16_t)(seq0 + nv), ts0 + (uint32_t)nv * 4500, fo_peer_ssrc(pub, "video"));
            uint8_t *pl = pkt + h;
            bool key = nv % 20 == 0;
            uint32_t tag = (100u << 5) | (1u << 4) | (key ? 0u : 1u);
            pl[0] = 0x10, pl[1] = (uint8_t)tag, pl[2] = (uint8_t)(tag >> 8), pl[3] = (uint8_t)(tag >> 16);
            static const uint8_t kf[] = {0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
            memcpy(pl + 4, kf, sizeof kf);
            memset(pl + 11, 0x66, 200);
            pkt[1] |= 0x80; /* marker: one packet per frame */
            fo_peer_send_rtp(pub, pkt, h + 211);
            nv++;
        }
        struct pollfd pf[2] = {{.fd = fo_peer_fd(pub), .events = POLLIN}, {.fd = play ? fo_peer_fd(play) : -1, .events = POLLIN}};
        poll(pf, 2, 5);
        fo_peer_process(pub);
        if (play && fo_peer_process(play) != FO_PEER_CONNECTED) fo_test_fail("player lost its session: %s", fo_peer_error(play));
    }
}

void fo_synth_pump(fo_peer_t *p, int ms)
{
    int64_t end = fo_peer_now_ms() + ms;
    while (fo_peer_now_ms() < end) {
        struct pollfd pf = {.fd = fo_peer_fd(p), .events = POLLIN};
        poll(&pf, 1, 10);
        if (fo_peer_process(p) != FO_PEER_CONNECTED) return;
    }
}

void fo_synth_pair_start(fo_synth_pair_t *r, const char *api, const char *stream, fo_peer_recv_cb on_rx)
{
    if (fo_srtp_global_init()) fo_test_fail("srtp init");
    r->dtls = fo_dtls_ctx_new(NULL, NULL);
    r->stun = fo_stun_new();
    r->pub_opts = (fo_peer_opts_t){.role = FO_PEER_PUBLISH, .dtls = r->dtls, .stun = r->stun, .name = "pub1"};
    fo_peer_opts_t lo = {.role = FO_PEER_PLAY, .dtls = r->dtls, .stun = r->stun, .name = "play"};
    r->play = fo_peer_new(&lo);
    r->pub = fo_peer_new(&r->pub_opts);
    if (!r->dtls || !r->stun || !r->play || !r->pub) fo_test_fail("out of memory");
    fo_peer_set_recv_cb(r->play, on_rx, NULL);
    if (fo_peer_connect(r->play, api, stream, 10000)) fo_test_fail("play: %s", fo_peer_error(r->play));
    if (fo_peer_connect(r->pub, api, stream, 10000)) fo_test_fail("pub1: %s", fo_peer_error(r->pub));
}

void fo_synth_pair_free(fo_synth_pair_t *r)
{
    fo_peer_free(r->pub);
    fo_peer_free(r->play);
    fo_stun_free(r->stun);
    fo_dtls_ctx_free(r->dtls);
    *r = (fo_synth_pair_t){0};
}
