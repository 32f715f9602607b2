/* SPDX-License-Identifier: MIT */
/* Loading and packetizing the load tool's recording (see clip.h). Parsing is bounds-checked but
 * trusts the file more than a server would: it is ours, made by tests/data/media/make.sh. */
#include "clip.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && cap) vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) &&
            fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = n > 0 ? (size_t)n : 0;
    }
    fclose(f);
    return buf;
}

static int add_nal(bench_clip_t *c, size_t *cap, size_t start, size_t end)
{
    while (end > start && c->h264[end - 1] == 0) end--; /* trailing_zero_8bits, 4-byte codes */
    if (end == start) return 0;
    if (c->n_nals == *cap) {
        bench_nal_t *n = realloc(c->nals, (*cap *= 2) * sizeof *n);
        if (!n) return -1;
        c->nals = n;
    }
    c->nals[c->n_nals++] = (bench_nal_t){start, end - start};
    return 0;
}

/* Annex B: NAL units after 00 00 01 start codes; an access unit ends with its (single) slice,
 * which is how make.sh encodes (slices=1). */
static int split_h264(bench_clip_t *c, size_t len, char *err, size_t errcap)
{
    const uint8_t *d = c->h264;
    size_t cap = 1024, fcap = 256, start = 0;
    bool in_nal = false;
    c->nals = malloc(cap * sizeof *c->nals);
    c->frames = malloc(fcap * sizeof *c->frames);
    if (!c->nals || !c->frames) return -1;
    for (size_t i = 0; i + 3 <= len; i++) {
        if (d[i] != 0 || d[i + 1] != 0 || d[i + 2] != 1) continue;
        if (in_nal && add_nal(c, &cap, start, i) != 0) return -1;
        start = i + 3;
        in_nal = true;
        i += 2;
    }
    if (in_nal && add_nal(c, &cap, start, len) != 0) return -1;
    bench_frame_t fr = {0};
    for (size_t i = 0; i < c->n_nals; i++) {
        uint8_t type = d[c->nals[i].off] & 0x1f;
        if (fr.n_nal == 0) fr.first_nal = i;
        fr.n_nal++;
        fr.bytes += c->nals[i].len;
        fr.key = fr.key || type == 5;
        if (type != 1 && type != 5) continue;
        if (c->n_frames == fcap) {
            bench_frame_t *n = realloc(c->frames, (fcap *= 2) * sizeof *n);
            if (!n) return -1;
            c->frames = n;
        }
        c->frames[c->n_frames++] = fr;
        fr = (bench_frame_t){0};
    }
    if (c->n_frames == 0 || !c->frames[0].key) {
        set_err(err, errcap, "bench.h264: no frames, or it does not start with an IDR");
        return -1;
    }
    return 0;
}

/* Samples per Opus packet (RFC 6716 3.1): frame size from the TOC config, times the count. */
static uint32_t opus_samples(const uint8_t *p, size_t len)
{
    if (len < 1) return 0;
    unsigned cfg = p[0] >> 3, per; /* per frame, at 48 kHz */
    if (cfg < 12) {
        static const unsigned silk[4] = {480, 960, 1920, 2880};
        per = silk[cfg & 3];
    } else if (cfg < 16) {
        per = cfg & 1 ? 960 : 480;
    } else {
        static const unsigned celt[4] = {120, 240, 480, 960};
        per = celt[cfg & 3];
    }
    unsigned frames = (p[0] & 3) == 0 ? 1 : (p[0] & 3) < 3 ? 2 : len > 1 ? (p[1] & 0x3f) : 0;
    return per * frames;
}

/* Ogg pages (RFC 3533): "OggS", header, a lacing table; a packet is segments up to one < 255.
 * The first two packets are OpusHead and OpusTags. */
static int split_ogg(bench_clip_t *c, size_t len, char *err, size_t errcap)
{
    const uint8_t *d = c->opus;
    size_t cap = 1024, pos = 0, pkt_start = 0, pkt_len = 0, n_pkt = 0;
    bool open_pkt = false;
    c->audio = malloc(cap * sizeof *c->audio);
    if (!c->audio) return -1;
    while (pos + 27 <= len) {
        if (memcmp(d + pos, "OggS", 4) != 0) break;
        unsigned nseg = d[pos + 26];
        size_t body = pos + 27 + nseg;
        if (body > len) break;
        for (unsigned s = 0; s < nseg; s++) {
            unsigned lace = d[pos + 27 + s];
            if (!open_pkt) pkt_start = body, pkt_len = 0, open_pkt = true;
            if (body + lace > len) goto bad;
            pkt_len += lace;
            body += lace;
            if (lace == 255) continue;
            open_pkt = false;
            if (n_pkt++ < 2) continue; /* OpusHead, OpusTags */
            if (c->n_audio == cap) {
                bench_audio_t *n = realloc(c->audio, (cap *= 2) * sizeof *n);
                if (!n) return -1;
                c->audio = n;
            }
            c->audio[c->n_audio++] = (bench_audio_t){
                pkt_start, pkt_len, opus_samples(d + pkt_start, pkt_len)};
        }
        pos = body;
    }
    if (c->n_audio) return 0;
bad:
    set_err(err, errcap, "bench.opus: not an Ogg Opus file");
    return -1;
}

int bench_clip_load(bench_clip_t *c, const char *dir, int fps, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    c->fps = fps;
    char path[1024];
    size_t vlen = 0, alen = 0;
    snprintf(path, sizeof path, "%s/bench.h264", dir);
    c->h264 = read_file(path, &vlen);
    if (!c->h264) {
        set_err(err, errcap, "cannot read %s", path);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/bench.opus", dir);
    c->opus = read_file(path, &alen);
    if (!c->opus) {
        set_err(err, errcap, "cannot read %s", path);
        goto fail;
    }
    if (split_h264(c, vlen, err, errcap) != 0 || split_ogg(c, alen, err, errcap) != 0) goto fail;
    return 0;
fail:
    bench_clip_free(c);
    return -1;
}

void bench_clip_free(bench_clip_t *c)
{
    free(c->h264);
    free(c->opus);
    free(c->nals);
    free(c->frames);
    free(c->audio);
    memset(c, 0, sizeof *c);
}

double bench_clip_video_bps(const bench_clip_t *c)
{
    size_t bytes = 0;
    for (size_t i = 0; i < c->n_frames; i++) bytes += c->frames[i].bytes;
    return c->n_frames ? (double)bytes * 8.0 * c->fps / (double)c->n_frames : 0;
}

/* RFC 6184 5.6 (single NAL unit) and 5.8 (FU-A: indicator with the NAL's F and NRI and type 28,
 * then a header with S/E bits and the NAL type; the NAL header byte itself is not repeated). */
void bench_h264_packetize(const uint8_t *nal, size_t len, bench_emit_cb emit, void *user)
{
    if (len == 0) return;
    if (len <= BENCH_RTP_PAYLOAD) {
        emit(user, nal, len, true);
        return;
    }
    uint8_t pkt[BENCH_RTP_PAYLOAD];
    const size_t chunk = BENCH_RTP_PAYLOAD - 2;
    size_t off = 1;
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        bool first = off == 1, last = off + n == len;
        pkt[0] = (uint8_t)((nal[0] & 0xe0) | 28);
        pkt[1] = (uint8_t)((first ? 0x80 : 0) | (last ? 0x40 : 0) | (nal[0] & 0x1f));
        memcpy(pkt + 2, nal + off, n);
        emit(user, pkt, n + 2, last);
        off += n;
    }
}
