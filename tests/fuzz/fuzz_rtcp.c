/* SPDX-License-Identifier: MIT */
/* libFuzzer target for src/wire/rtcp.c: compound parse and every accessor on each packet, then the
 * input reused as builder arguments: a NACK built from the input's 16-bit words must expand back
 * to exactly that set, and a REMB must decode to the requested bitrate rounded down. TWCC
 * feedback goes to a fresh bandwidth estimator (src/media/bwe.c) twice over: it must never read more
 * packet statuses than its per-second budget (issue 15, item 10; corpus twcc-claims-2048,
 * nack-255). Property violations abort. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/bwe.h"
#include "fanout/common.h"
#include "fanout/rtcp.h"
#include "fanout/twcc.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static void accessors(const fo_rtcp_pkt_t *p, const uint8_t *data, size_t size)
{
    CHECK(p->raw >= data && p->raw + p->raw_len <= data + size && p->raw_len % 4 == 0);
    CHECK(!p->fci || (p->fci >= p->raw && p->fci + p->fci_len <= p->raw + p->raw_len));
    fo_rtcp_report_t r;
    for (unsigned i = 0; i <= 32; i++) {
        int rc = fo_rtcp_report_get(p, i, &r);
        CHECK(rc == 0 || rc == FO_EINVAL);
        if (i >= p->count) CHECK(rc == FO_EINVAL);
    }
    uint16_t seqs[300];
    size_t n = fo_rtcp_nack_seqs(p, seqs, FO_ARRAY_LEN(seqs));
    CHECK(n <= FO_ARRAY_LEN(seqs) && n <= p->fci_len / 4 * 17);
    uint32_t ssrc;
    uint8_t sn;
    for (unsigned i = 0; i < 64; i++) (void)fo_rtcp_fir_get(p, i, &ssrc, &sn);
    uint64_t bps;
    uint32_t ss[8];
    size_t ns = 99;
    if (fo_rtcp_remb_get(p, &bps, ss, FO_ARRAY_LEN(ss), &ns) == 0) CHECK(ns <= FO_ARRAY_LEN(ss));
}

static void nack_roundtrip(const uint8_t *data, size_t size)
{
    uint16_t in[512];
    size_t n = size / 2 < FO_ARRAY_LEN(in) ? size / 2 : FO_ARRAY_LEN(in);
    if (n == 0) return;
    /* Keep the list within a window so it resembles a real loss list, wrap included. */
    uint16_t base = (uint16_t)(data[0] << 8 | data[1]);
    for (size_t i = 0; i < n; i++)
        in[i] = (uint16_t)(base + ((data[2 * i] << 8 | data[2 * i + 1]) & 0x3ff));
    static uint8_t buf[8192];
    int len = fo_rtcp_build_nack(buf, sizeof buf, 1, 2, in, n);
    CHECK(len > 12);
    fo_rtcp_pkt_t p;
    size_t np;
    CHECK(fo_rtcp_parse(buf, (size_t)len, &p, 1, &np) == 0 && np == 1);
    static uint16_t out[65536];
    size_t no = fo_rtcp_nack_seqs(&p, out, FO_ARRAY_LEN(out));
    /* Set equality without clearing 64 KiB per run: stamp with a per-call generation. */
    static uint32_t in_gen[65536], out_gen[65536], gen;
    gen++;
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        distinct += in_gen[in[i]] != gen;
        in_gen[in[i]] = gen;
    }
    for (size_t i = 0; i < no; i++) {
        CHECK(in_gen[out[i]] == gen);  /* nothing extra asked for */
        CHECK(out_gen[out[i]] != gen); /* each at most once */
        out_gen[out[i]] = gen;
    }
    CHECK(no == distinct); /* so every one asked for */
}

static void remb_roundtrip(const uint8_t *data, size_t size)
{
    if (size < 8) return;
    uint64_t want = 0;
    for (int i = 0; i < 8; i++) want = want << 8 | data[i];
    want >>= data[0] & 63;
    uint32_t ss[4] = {1, 2, 3, 4};
    uint8_t buf[64];
    int len = fo_rtcp_build_remb(buf, sizeof buf, 9, want, ss, data[1] % 5);
    CHECK(len > 0);
    fo_rtcp_pkt_t p;
    size_t np, ns;
    CHECK(fo_rtcp_parse(buf, (size_t)len, &p, 1, &np) == 0);
    uint64_t got;
    uint32_t out[4];
    CHECK(fo_rtcp_remb_get(&p, &got, out, 4, &ns) == 0 && ns == data[1] % 5u);
    CHECK(got <= want && (want - got) <= (want >> 17));
}

/* Each TWCC feedback of the input, read by a fresh estimator at one instant, several times:
 * the statuses it takes in stay within one second's budget. */
static void twcc_budget(const fo_rtcp_pkt_t *p, size_t n)
{
    static fo_bwe_t b;
    fo_bwe_init(&b, 1000);
    long read = 0;
    for (int round = 0; round < 16; round++)
        for (size_t i = 0; i < n; i++) {
            if (p[i].pt != FO_RTCP_RTPFB || p[i].count != FO_RTCP_FMT_TWCC) continue;
            int claimed = fo_twcc_count(p[i].fci, p[i].fci_len);
            int rc = fo_bwe_on_feedback(&b, p[i].fci, p[i].fci_len, 1000);
            CHECK(rc == 0 || rc == FO_EINVAL || rc == FO_EAGAIN);
            if (rc != FO_EAGAIN && claimed > 0) read += claimed;
        }
    CHECK(read <= FO_BWE_STATUSES_PER_S);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fo_rtcp_pkt_t p[16];
    size_t n = 99;
    int rc = fo_rtcp_parse(data, size, p, FO_ARRAY_LEN(p), &n);
    CHECK(rc == 0 || rc == FO_EINVAL || rc == FO_ETOOBIG);
    CHECK(n <= FO_ARRAY_LEN(p) && (rc != FO_EINVAL || n == 0) && (rc != 0 || n > 0));
    for (size_t i = 0; i < n; i++) accessors(&p[i], data, size);
    twcc_budget(p, n);
    nack_roundtrip(data, size);
    remb_roundtrip(data, size);
    return 0;
}
