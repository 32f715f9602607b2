/* SPDX-License-Identifier: MIT */
/* Unit tests for src/wire/tcpframe.c (RFC 4571): frames across arbitrary read boundaries, a header
 * split between two reads, oversized frames skipped across reads without losing alignment,
 * empty frames, the bound on what a caller keeps, and a callback that stops early. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fanout/tcpframe.h"

typedef struct {
    uint8_t got[16][300];
    size_t len[16];
    size_t n;
    size_t stop_after; /* 0: never */
} sink_t;

static int sink_cb(void *user, uint8_t *frame, size_t len)
{
    sink_t *s = user;
    if (s->n < 16) {
        memcpy(s->got[s->n], frame, len);
        s->len[s->n] = len;
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

/* Appends a frame of `len` bytes of value `v` to w; returns the new length. */
static size_t put_frame(uint8_t *w, size_t at, size_t len, uint8_t v)
{
    fo_tcpframe_header(w + at, len);
    memset(w + at + 2, v, len);
    return at + 2 + len;
}

/* Feeds `stream` to a deframer in reads of `chunk` bytes the way src/net/tcp.c does (what is kept
 * goes in front of the next read). */
static void feed(fo_tcpframe_t *d, const uint8_t *stream, size_t n, size_t chunk, sink_t *s)
{
    uint8_t buf[4096];
    size_t kept = 0;
    for (size_t pos = 0; pos < n;) {
        size_t k = n - pos < chunk ? n - pos : chunk;
        assert_true(kept + k <= sizeof buf);
        memcpy(buf + kept, stream + pos, k);
        pos += k;
        size_t len = kept + k;
        size_t used = fo_tcpframe_each(d, buf, len, sink_cb, s);
        kept = len - used;
        assert_true(kept < FO_TCPFRAME_HDR + d->max);
        memmove(buf, buf + used, kept);
    }
}

static void test_frames_any_chunking(void **state)
{
    (void)state;
    uint8_t stream[2048];
    size_t n = 0;
    n = put_frame(stream, n, 20, 0xAA);
    n = put_frame(stream, n, 1, 0x01);
    n = put_frame(stream, n, 200, 0x55);
    n = put_frame(stream, n, 3, 0x03);
    for (size_t chunk = 1; chunk <= n; chunk++) {
        fo_tcpframe_t d;
        fo_tcpframe_init(&d, 256);
        sink_t s = {0};
        feed(&d, stream, n, chunk, &s);
        assert_int_equal(s.n, 4);
        assert_int_equal(s.len[0], 20);
        assert_int_equal(s.got[0][19], 0xAA);
        assert_int_equal(s.len[1], 1);
        assert_int_equal(s.len[2], 200);
        assert_int_equal(s.got[2][0], 0x55);
        assert_int_equal(s.len[3], 3);
        assert_int_equal(d.frames, 4);
    }
}

static void test_oversized_and_empty_skipped(void **state)
{
    (void)state;
    uint8_t stream[4096];
    size_t n = 0;
    n = put_frame(stream, n, 10, 0x10);
    n = put_frame(stream, n, 0, 0);       /* empty */
    n = put_frame(stream, n, 1500, 0xEE); /* over max: skipped */
    n = put_frame(stream, n, 100, 0x20);
    n = put_frame(stream, n, 101, 0xEE);  /* over max by one */
    n = put_frame(stream, n, 100, 0x30);
    for (size_t chunk = 1; chunk <= n; chunk += 7) {
        fo_tcpframe_t d;
        fo_tcpframe_init(&d, 100);
        sink_t s = {0};
        feed(&d, stream, n, chunk, &s);
        assert_int_equal(s.n, 3);
        assert_int_equal(s.got[0][0], 0x10);
        assert_int_equal(s.got[1][99], 0x20);
        assert_int_equal(s.got[2][50], 0x30);
        assert_int_equal(d.oversized, 2);
        assert_int_equal(d.empty, 1);
        assert_int_equal(d.skip, 0);
    }
}

static void test_partial_then_rest(void **state)
{
    (void)state;
    fo_tcpframe_t d;
    fo_tcpframe_init(&d, 2048);
    uint8_t one[1] = {0x00};
    size_t used, off, flen;
    assert_int_equal(fo_tcpframe_next(&d, one, 1, &used, &off, &flen), 0);
    assert_int_equal(used, 0); /* half a header is kept */
    uint8_t hdr_and_some[4] = {0x00, 0x05, 'a', 'b'};
    assert_int_equal(fo_tcpframe_next(&d, hdr_and_some, 4, &used, &off, &flen), 0);
    assert_int_equal(used, 0);
    uint8_t whole[7] = {0x00, 0x05, 'a', 'b', 'c', 'd', 'e'};
    assert_int_equal(fo_tcpframe_next(&d, whole, 7, &used, &off, &flen), 1);
    assert_int_equal(used, 7);
    assert_int_equal(off, 2);
    assert_int_equal(flen, 5);
    assert_memory_equal(whole + off, "abcde", 5);
}

static void test_callback_stops(void **state)
{
    (void)state;
    uint8_t stream[64];
    size_t n = 0;
    n = put_frame(stream, n, 4, 1);
    n = put_frame(stream, n, 4, 2);
    n = put_frame(stream, n, 4, 3);
    fo_tcpframe_t d;
    fo_tcpframe_init(&d, 100);
    sink_t s = {.stop_after = 2};
    size_t used = fo_tcpframe_each(&d, stream, n, sink_cb, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(used, 12); /* the third frame is left */
}

static void test_max_is_clamped(void **state)
{
    (void)state;
    fo_tcpframe_t d;
    fo_tcpframe_init(&d, 0);
    assert_int_equal(d.max, FO_TCPFRAME_MAX);
    fo_tcpframe_init(&d, 1u << 20);
    assert_int_equal(d.max, FO_TCPFRAME_MAX);
    uint8_t hdr[2];
    fo_tcpframe_header(hdr, 0x1234);
    assert_int_equal(hdr[0], 0x12);
    assert_int_equal(hdr[1], 0x34);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_any_chunking),
        cmocka_unit_test(test_oversized_and_empty_skipped),
        cmocka_unit_test(test_partial_then_rest),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_max_is_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
