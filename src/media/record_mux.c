/* SPDX-License-Identifier: MIT */
/* libavformat adapter (see record_mux.h). The file is written through our own AVIOContext over
 * the caller's descriptor so that every write error keeps its errno (ENOSPC, EACCES...) for the
 * recorder's message, and so that the buffer is large enough for a whole fragment: the muxer is
 * told to flush after every packet, and it only has bytes to flush when it closes a fragment
 * (MP4) or a cluster (WebM). A keyframe's parameter sets come from libavcodec's
 * extract_extradata filter and its picture size from the codec's parser: no bitstream parsing
 * of our own here. */
#include "fanout/record_mux.h"

#include <errno.h>
#include <stdarg.h>
#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"

#define IO_BUF (1 << 20)       /* a fragment or cluster up to this size reaches the file whole */
#define FRAGMENT_US "1000000"  /* MP4 fragment / WebM cluster length */
#define FRAGMENT_MS "1000"

struct fo_mux {
    AVFormatContext *fc;
    AVIOContext *io;
    AVPacket *pkt;
    int fd;
    int err_no;
    uint64_t bytes;
    int vi, ai;                /* stream indexes, -1 when absent */
    fo_codec_t video;
    uint8_t *vextra;           /* the parameter sets the file was started with */
    size_t vextra_len;
    int width, height;
    int format, profile;        /* VP9: what vpcC describes */
    int64_t last_vpts, last_apts;
};

/* Samples (48 kHz) of an Opus packet from its TOC byte; 0 when malformed. */
static int64_t opus_samples(const uint8_t *p, size_t len)
{
    if (len < 1) return 0;
    static const int per[32] = {480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880,
                                480, 960, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
                                120, 240, 480, 960, 120, 240, 480, 960};
    int frames = (p[0] & 3) == 0 ? 1 : (p[0] & 3) < 3 ? 2 : len > 1 ? (p[1] & 0x3f) : 0;
    return (int64_t)per[p[0] >> 3] * frames;
}

/* FFmpeg's messages into our log (warnings and errors only). */
static void av_log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_WARNING) return;
    char line[512];
    int prefix = 1;
    av_log_format_line(avcl, level, fmt, vl, line, sizeof line, &prefix);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    FO_LOG(level <= AV_LOG_ERROR ? FO_LOG_WARN : FO_LOG_DEBUG, "libavformat", "%s", line);
}

static enum AVCodecID codec_id(fo_codec_t c)
{
    switch (c) {
    case FO_CODEC_H264: return AV_CODEC_ID_H264;
    case FO_CODEC_VP8: return AV_CODEC_ID_VP8;
    case FO_CODEC_VP9: return AV_CODEC_ID_VP9;
    case FO_CODEC_AV1: return AV_CODEC_ID_AV1;
    case FO_CODEC_OPUS: return AV_CODEC_ID_OPUS;
    default: return AV_CODEC_ID_NONE;
    }
}

const char *fo_mux_ext(fo_codec_t video)
{
    return video == FO_CODEC_VP8 || video == FO_CODEC_NONE ? "webm" : "mp4";
}

static void av_err(char *err, size_t cap, const char *what, int rc)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(rc, buf, sizeof buf);
    snprintf(err, cap, "%s: %s", what, buf);
}

/* Our own write: keeps the errno of the first failure, and cuts what a failed write left of
 * the fragment, so that a full disk leaves a file that ends at its last whole fragment. */
static int write_cb(void *opaque, uint8_t *buf, int n)
{
    fo_mux_t *m = opaque;
    if (m->err_no) return AVERROR(m->err_no);
    off_t start = lseek(m->fd, 0, SEEK_CUR);
    size_t off = 0;
    while (off < (size_t)n) {
        ssize_t w = write(m->fd, buf + off, (size_t)n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            m->err_no = w < 0 ? errno : ENOSPC;
            if (start >= 0 && ftruncate(m->fd, start) == 0) lseek(m->fd, start, SEEK_SET);
            return AVERROR(m->err_no);
        }
        off += (size_t)w;
        m->bytes += (uint64_t)w;
    }
    return n;
}

static int64_t seek_cb(void *opaque, int64_t off, int whence)
{
    fo_mux_t *m = opaque;
    if (whence & AVSEEK_SIZE) {
        struct stat st;
        return fstat(m->fd, &st) == 0 ? (int64_t)st.st_size : AVERROR(errno);
    }
    off_t r = lseek(m->fd, (off_t)off, whence & ~AVSEEK_FORCE);
    return r < 0 ? AVERROR(errno) : (int64_t)r;
}

/* The keyframe's out-of-band parameter sets (H.264 SPS+PPS in Annex B, AV1 sequence header
 * OBUs) through extract_extradata; *out is av_malloc'd (NULL when the codec has none). */
static int extract_extradata(fo_codec_t codec, const uint8_t *frame, size_t len, uint8_t **out,
                             size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (codec != FO_CODEC_H264 && codec != FO_CODEC_AV1) return 0;
    const AVBitStreamFilter *f = av_bsf_get_by_name("extract_extradata");
    AVBSFContext *bsf = NULL;
    AVPacket *pkt = av_packet_alloc();
    int rc = f && pkt ? av_bsf_alloc(f, &bsf) : AVERROR(ENOMEM);
    if (rc >= 0) {
        bsf->par_in->codec_id = codec_id(codec);
        bsf->par_in->codec_type = AVMEDIA_TYPE_VIDEO;
        rc = av_bsf_init(bsf);
    }
    if (rc >= 0) rc = av_new_packet(pkt, (int)len);
    if (rc >= 0) {
        memcpy(pkt->data, frame, len);
        rc = av_bsf_send_packet(bsf, pkt);
    }
    if (rc >= 0) rc = av_bsf_receive_packet(bsf, pkt);
    if (rc >= 0) {
        size_t n;
        uint8_t *sd = av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, &n);
        if (sd && n && (*out = av_mallocz(n + AV_INPUT_BUFFER_PADDING_SIZE))) {
            memcpy(*out, sd, n);
            *out_len = n;
        }
    }
    av_packet_free(&pkt);
    av_bsf_free(&bsf);
    return rc < 0 ? rc : 0;
}

/* The picture size from the codec's parser, or, where the parser does not tell (VP9), from
 * decoding the keyframe once, which also gives the pixel format and profile that MP4's vpcC
 * box needs. 0 / AV_PIX_FMT_NONE when neither can. */
static void picture_size(fo_codec_t codec, const uint8_t *frame, size_t len, int *w, int *h,
                         int *format, int *profile)
{
    *w = *h = 0;
    *format = AV_PIX_FMT_NONE;
    *profile = FF_PROFILE_UNKNOWN;
    AVCodecParserContext *pc = av_parser_init(codec_id(codec));
    const AVCodec *dec = avcodec_find_decoder(codec_id(codec));
    AVCodecContext *cc = dec ? avcodec_alloc_context3(dec) : NULL;
    if (pc && cc) {
        uint8_t *o;
        int ol;
        av_parser_parse2(pc, cc, &o, &ol, frame, (int)len, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
        if (!ol) av_parser_parse2(pc, cc, &o, &ol, NULL, 0, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
        *w = pc->width > 0 ? pc->width : cc->width;
        *h = pc->height > 0 ? pc->height : cc->height;
    }
    if ((*w <= 0 || *h <= 0) && cc && avcodec_open2(cc, dec, NULL) == 0) {
        AVPacket *pkt = av_packet_alloc();
        AVFrame *f = av_frame_alloc();
        if (pkt && f && av_new_packet(pkt, (int)len) == 0) {
            memcpy(pkt->data, frame, len);
            if (avcodec_send_packet(cc, pkt) == 0) avcodec_send_packet(cc, NULL);
            if (avcodec_receive_frame(cc, f) == 0) {
                *w = f->width;
                *h = f->height;
                *format = f->format;
                *profile = cc->profile;
            }
        }
        av_frame_free(&f);
        av_packet_free(&pkt);
    }
    avcodec_free_context(&cc);
    if (pc) av_parser_close(pc);
}

/* OpusHead (RFC 7845 §5.1): version 1, channels, pre-skip 0 (the RTP stream starts at its
 * first sample), 48 kHz, gain 0, mapping family 0. */
static int opus_head(AVCodecParameters *par, int channels)
{
    static const uint8_t head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, 0, 0,
                                     0x80, 0xbb, 0, 0, 0, 0, 0};
    par->extradata = av_mallocz(sizeof head + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!par->extradata) return AVERROR(ENOMEM);
    memcpy(par->extradata, head, sizeof head);
    par->extradata[9] = (uint8_t)channels;
    par->extradata_size = sizeof head;
    return 0;
}

static int add_streams(fo_mux_t *m, const fo_mux_params_t *p)
{
    m->vi = m->ai = -1;
    if (p->video != FO_CODEC_NONE) {
        AVStream *s = avformat_new_stream(m->fc, NULL);
        if (!s) return AVERROR(ENOMEM);
        m->vi = s->index;
        s->time_base = (AVRational){1, 90000};
        s->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
        s->codecpar->codec_id = codec_id(p->video);
        s->codecpar->width = m->width;
        s->codecpar->height = m->height;
        if (m->format != AV_PIX_FMT_NONE) s->codecpar->format = m->format;
        if (m->profile != FF_PROFILE_UNKNOWN) s->codecpar->profile = m->profile;
        if (m->vextra_len) {
            s->codecpar->extradata = av_mallocz(m->vextra_len + AV_INPUT_BUFFER_PADDING_SIZE);
            if (!s->codecpar->extradata) return AVERROR(ENOMEM);
            memcpy(s->codecpar->extradata, m->vextra, m->vextra_len);
            s->codecpar->extradata_size = (int)m->vextra_len;
        }
    }
    if (p->audio == FO_CODEC_OPUS) {
        AVStream *s = avformat_new_stream(m->fc, NULL);
        if (!s) return AVERROR(ENOMEM);
        m->ai = s->index;
        int ch = p->channels == 1 ? 1 : 2;
        s->time_base = (AVRational){1, 48000};
        s->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
        s->codecpar->codec_id = AV_CODEC_ID_OPUS;
        s->codecpar->sample_rate = 48000;
        s->codecpar->frame_size = 960;
        av_channel_layout_default(&s->codecpar->ch_layout, ch);
        return opus_head(s->codecpar, ch);
    }
    return 0;
}

static void mux_free(fo_mux_t *m)
{
    if (!m) return;
    if (m->fc) avformat_free_context(m->fc);
    if (m->io) {
        av_freep(&m->io->buffer);
        avio_context_free(&m->io);
    }
    av_packet_free(&m->pkt);
    av_free(m->vextra);
    av_free(m);
}

int fo_mux_open(fo_mux_t **out, int fd, const fo_mux_params_t *p, char *err, size_t cap)
{
    *out = NULL;
    static bool log_set;
    if (!log_set) { /* writer thread only, so no race */
        av_log_set_callback(av_log_cb);
        log_set = true;
    }
    fo_mux_t *m = av_mallocz(sizeof *m);
    if (!m) return snprintf(err, cap, "out of memory"), FO_ENOMEM;
    m->fd = fd;
    m->video = p->video;
    m->last_vpts = m->last_apts = -1;
    m->format = AV_PIX_FMT_NONE;
    m->profile = FF_PROFILE_UNKNOWN;
    const char *fmt = strcmp(fo_mux_ext(p->video), "mp4") == 0 ? "mp4" : "webm";
    int rc = 0;
    if (p->video != FO_CODEC_NONE && p->key_frame) {
        rc = extract_extradata(p->video, p->key_frame, p->key_len, &m->vextra, &m->vextra_len);
        picture_size(p->video, p->key_frame, p->key_len, &m->width, &m->height, &m->format, &m->profile);
    }
    uint8_t *iobuf = av_malloc(IO_BUF);
    m->pkt = av_packet_alloc();
    if (rc < 0 || !iobuf || !m->pkt) {
        av_free(iobuf);
        mux_free(m);
        return snprintf(err, cap, "out of memory"), FO_ENOMEM;
    }
    m->io = avio_alloc_context(iobuf, IO_BUF, 1, m, NULL, write_cb, seek_cb);
    if (!m->io) av_free(iobuf);
    if (!m->io || avformat_alloc_output_context2(&m->fc, NULL, fmt, NULL) < 0 || !m->fc) {
        mux_free(m);
        return snprintf(err, cap, "cannot set up the %s muxer", fmt), FO_ERR;
    }
    m->fc->pb = m->io;
    m->fc->flags |= AVFMT_FLAG_FLUSH_PACKETS;
    m->fc->flush_packets = 1;
    AVDictionary *opts = NULL;
    if (strcmp(fmt, "mp4") == 0) {
        av_dict_set(&opts, "movflags", "empty_moov+default_base_moof", 0);
        av_dict_set(&opts, "frag_duration", FRAGMENT_US, 0);
    } else {
        av_dict_set(&opts, "cluster_time_limit", FRAGMENT_MS, 0);
    }
    rc = add_streams(m, p);
    if (rc >= 0) rc = avformat_write_header(m->fc, &opts);
    av_dict_free(&opts);
    if (rc < 0) {
        if (m->err_no) snprintf(err, cap, "write failed: %s", strerror(m->err_no));
        else av_err(err, cap, "cannot start the file", rc);
        int e = m->err_no ? FO_ESYS : FO_ERR;
        mux_free(m);
        return e;
    }
    *out = m;
    return 0;
}

int fo_mux_write(fo_mux_t *m, fo_kind_t kind, const uint8_t *data, size_t len, int64_t pts,
                 bool key, char *err, size_t cap)
{
    int si = kind == FO_KIND_VIDEO ? m->vi : m->ai;
    if (si < 0) return 0;
    AVPacket *pkt = m->pkt;
    if (av_new_packet(pkt, (int)len) < 0) return snprintf(err, cap, "out of memory"), FO_ENOMEM;
    memcpy(pkt->data, data, len);
    AVRational tb = kind == FO_KIND_VIDEO ? (AVRational){1, 90000} : (AVRational){1, 48000};
    pkt->stream_index = si;
    pkt->pts = pkt->dts = av_rescale_q(pts, tb, m->fc->streams[si]->time_base);
    if (key) pkt->flags |= AV_PKT_FLAG_KEY;
    /* the frame's length, as far as known here: Opus from its TOC (RFC 6716 §3.1), video as
     * long as the previous one (the muxer needs one for a fragment's last frame) */
    int64_t *last = kind == FO_KIND_VIDEO ? &m->last_vpts : &m->last_apts;
    int64_t dur = kind == FO_KIND_AUDIO ? opus_samples(data, len) : (*last >= 0 ? pts - *last : 0);
    if (dur > 0) pkt->duration = av_rescale_q(dur, tb, m->fc->streams[si]->time_base);
    *last = pts;
    int rc = av_write_frame(m->fc, pkt);
    av_packet_unref(pkt);
    if (rc >= 0 && m->io->error >= 0) return 0;
    if (m->err_no) return snprintf(err, cap, "write failed: %s", strerror(m->err_no)), FO_ESYS;
    av_err(err, cap, "muxer refused a frame", rc < 0 ? rc : m->io->error);
    return FO_ERR;
}

bool fo_mux_new_config(const fo_mux_t *m, const uint8_t *frame, size_t len)
{
    if (m->video != FO_CODEC_H264 && m->video != FO_CODEC_AV1) return false;
    uint8_t *x;
    size_t n;
    if (extract_extradata(m->video, frame, len, &x, &n) < 0 || !x) return false;
    bool changed = n != m->vextra_len || memcmp(x, m->vextra, n) != 0;
    av_free(x);
    return changed;
}

int fo_mux_close(fo_mux_t *m, char *err, size_t cap)
{
    if (!m) return 0;
    int rc = av_write_trailer(m->fc);
    avio_flush(m->io);
    int out = 0;
    if (m->err_no) {
        snprintf(err, cap, "write failed: %s", strerror(m->err_no));
        out = FO_ESYS;
    } else if (rc < 0) {
        av_err(err, cap, "cannot finish the file", rc);
        out = FO_ERR;
    }
    mux_free(m);
    return out;
}

uint64_t fo_mux_bytes(const fo_mux_t *m) { return m ? m->bytes : 0; }
int fo_mux_errno(const fo_mux_t *m) { return m ? m->err_no : 0; }

void fo_mux_size(const fo_mux_t *m, int *width, int *height)
{
    *width = m ? m->width : 0;
    *height = m ? m->height : 0;
}
