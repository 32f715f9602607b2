/* SPDX-License-Identifier: MIT */
/* Test/load peer: offer building, HTTP signaling, answer reading, and ICE (controlling, always
 * nominating: the server is ICE-lite), DTLS client and SRTP over one UDP socket. Owns its socket,
 * its DTLS session and SRTP contexts; shares the DTLS context and STUN agent when given them.
 * The answer is read with fo_sdp_parse, and its candidate with a line search (fo_sdp_t keeps
 * no candidates). */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/sdp.h"
#include "fanout/srtp.h"

#define PEER_MTU 1500
#define ICE_RTO_MS 100        /* check retransmission while connecting */
#define ICE_GIVE_UP_MS 10000  /* no response at all: failed */
#define CONSENT_MS 2000       /* RFC 7675 asks for ~5 s; the brief asks for 2 s */
#define CONSENT_LOST_MS 30000 /* no consent response for this long: failed */

struct fo_peer {
    uint8_t last_protected[PEER_MTU + FO_SRTP_MAX_TRAILER]; /* the last SRTP/SRTCP datagram sent
                                                             * (replay tests): protected in place */
    size_t last_protected_len;
    fo_peer_role_t role;
    char name[32];
    fo_peer_state_t state;
    char err[256];
    fo_dtls_ctx_t *dctx;
    bool own_dctx;
    fo_stun_t *stun;
    bool own_stun;
    fo_dtls_t *dtls;
    fo_srtp_t *srtp;
    int fd;
    struct sockaddr_storage remote;
    socklen_t remote_len;

    char ufrag[16];
    char pwd[40];
    uint64_t tie;
    uint32_t audio_ssrc, video_ssrc, rtx_ssrc;
    bool h264;
    bool no_rtx;
    bool audio_nack;
    bool twcc;
    bool simulcast;
    char cname[24];
    char *offer;
    char *answer_sdp;
    fo_peer_answer_t ans;
    char session_id[128];
    int http_status;
    int api_code;
    char location[512];      /* WHIP/WHEP: the resource URL from Location */

    int64_t next_check_ms;   /* ICE check / consent request due */
    int64_t ice_start_ms;
    int64_t consent_ok_ms;   /* last valid response */
    int64_t dtls_due_ms;     /* -1: no DTLS timer */

    fo_peer_recv_cb cb;
    void *cb_user;
    fo_peer_filter_cb filter;
    void *filter_user;
    fo_peer_stats_t stats;
    bool rx_timestamps;
    int64_t rx_ns;           /* kernel arrival time of the datagram being processed */
};

int64_t fo_peer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fail(fo_peer_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(fo_peer_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    p->state = FO_PEER_FAILED;
    FO_LOG(FO_LOG_WARN, p->name, "failed: %s", p->err);
}

static void random_bytes(void *buf, size_t len)
{
    uint8_t *b = buf;
    while (len > 0) {
        ssize_t n = getrandom(b, len, 0);
        if (n <= 0) continue;
        b += n;
        len -= (size_t)n;
    }
}

/* ICE chars (RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/"). */
static void random_ice_string(char *out, size_t n)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t r[64];
    random_bytes(r, n);
    for (size_t i = 0; i < n; i++) out[i] = set[r[i] % 64];
    out[n] = '\0';
}

static uint32_t random_ssrc(void)
{
    uint32_t v = 0;
    while (v == 0) random_bytes(&v, sizeof v);
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* Offer */

static char *build_offer(const fo_peer_t *p, const char *fingerprint)
{
    size_t cap = 8192;
    char *o = malloc(cap);
    if (!o) return NULL;
    bool pub = p->role == FO_PEER_PUBLISH;
    const char *dir = pub ? "sendonly" : "recvonly";
    uint64_t sess;
    random_bytes(&sess, sizeof sess);
    sess &= 0x7fffffffffffffffull;
    int n = snprintf(o, cap,
                     "v=0\r\n"
                     "o=- %llu 2 IN IP4 127.0.0.1\r\n"
                     "s=-\r\n"
                     "t=0 0\r\n"
                     "a=group:BUNDLE 0 1\r\n"
                     "a=extmap-allow-mixed\r\n"
                     "a=msid-semantic: WMS fo-stream\r\n",
                     (unsigned long long)sess);
    const char *common = "c=IN IP4 0.0.0.0\r\n"
                         "a=rtcp:9 IN IP4 0.0.0.0\r\n"
                         "a=ice-ufrag:%s\r\n"
                         "a=ice-pwd:%s\r\n"
                         "a=ice-options:trickle\r\n"
                         "a=fingerprint:sha-256 %s\r\n"
                         "a=setup:actpass\r\n"
                         "a=mid:%s\r\n"
                         "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                         "%s"
                         "a=%s\r\n";
    const char *twcc = p->twcc ? "a=extmap:5 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
                               : "";
    n += snprintf(o + n, cap - (size_t)n, "m=audio 9 UDP/TLS/RTP/SAVPF %d\r\n", FO_PEER_PT_OPUS);
    n += snprintf(o + n, cap - (size_t)n, common, p->ufrag, p->pwd, fingerprint, "0", twcc, dir);
    if (pub) n += snprintf(o + n, cap - (size_t)n, "a=msid:fo-stream fo-audio\r\n");
    n += snprintf(o + n, cap - (size_t)n,
                  "a=rtcp-mux\r\n"
                  "a=rtpmap:%d opus/48000/2\r\n"
                  "a=rtcp-fb:%d transport-cc\r\n"
                  "a=fmtp:%d minptime=10;useinbandfec=1\r\n",
                  FO_PEER_PT_OPUS, FO_PEER_PT_OPUS, FO_PEER_PT_OPUS);
    if (p->audio_nack) n += snprintf(o + n, cap - (size_t)n, "a=rtcp-fb:%d nack\r\n", FO_PEER_PT_OPUS);
    if (pub)
        n += snprintf(o + n, cap - (size_t)n,
                      "a=ssrc:%u cname:%s\r\n"
                      "a=ssrc:%u msid:fo-stream fo-audio\r\n",
                      p->audio_ssrc, p->cname, p->audio_ssrc);
    int vpt = p->h264 ? FO_PEER_PT_H264 : FO_PEER_PT_VP8;
    if (p->no_rtx)
        n += snprintf(o + n, cap - (size_t)n, "m=video 9 UDP/TLS/RTP/SAVPF %d\r\n", vpt);
    else
        n += snprintf(o + n, cap - (size_t)n, "m=video 9 UDP/TLS/RTP/SAVPF %d %d\r\n", vpt,
                      FO_PEER_PT_RTX);
    n += snprintf(o + n, cap - (size_t)n, common, p->ufrag, p->pwd, fingerprint, "1", twcc, dir);
    if (pub) n += snprintf(o + n, cap - (size_t)n, "a=msid:fo-stream fo-video\r\n");
    n += snprintf(o + n, cap - (size_t)n,
                  "a=rtcp-mux\r\n"
                  "a=rtcp-rsize\r\n"
                  "a=rtpmap:%d %s/90000\r\n"
                  "a=rtcp-fb:%d goog-remb\r\n"
                  "a=rtcp-fb:%d transport-cc\r\n"
                  "a=rtcp-fb:%d ccm fir\r\n"
                  "a=rtcp-fb:%d nack\r\n"
                  "a=rtcp-fb:%d nack pli\r\n",
                  vpt, p->h264 ? "H264" : "VP8", vpt, vpt, vpt, vpt, vpt);
    if (p->h264)
        n += snprintf(o + n, cap - (size_t)n,
                      "a=fmtp:%d level-asymmetry-allowed=1;packetization-mode=1;"
                      "profile-level-id=42e01f\r\n",
                      vpt);
    if (!p->no_rtx)
        n += snprintf(o + n, cap - (size_t)n,
                      "a=rtpmap:%d rtx/90000\r\n"
                      "a=fmtp:%d apt=%d\r\n",
                      FO_PEER_PT_RTX, FO_PEER_PT_RTX, vpt);
    if (p->simulcast)
        n += snprintf(o + n, cap - (size_t)n,
                      "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"
                      "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"
                      "a=rid:l send\r\na=rid:m send\r\na=rid:h send\r\n"
                      "a=simulcast:send l;m;h\r\n",
                      FO_PEER_EXT_RID, FO_PEER_EXT_RRID);
    else if (pub && p->no_rtx)
        n += snprintf(o + n, cap - (size_t)n,
                      "a=ssrc:%u cname:%s\r\n"
                      "a=ssrc:%u msid:fo-stream fo-video\r\n",
                      p->video_ssrc, p->cname, p->video_ssrc);
    else if (pub)
        n += snprintf(o + n, cap - (size_t)n,
                      "a=ssrc-group:FID %u %u\r\n"
                      "a=ssrc:%u cname:%s\r\n"
                      "a=ssrc:%u msid:fo-stream fo-video\r\n"
                      "a=ssrc:%u cname:%s\r\n"
                      "a=ssrc:%u msid:fo-stream fo-video\r\n",
                      p->video_ssrc, p->rtx_ssrc, p->video_ssrc, p->cname, p->video_ssrc,
                      p->rtx_ssrc, p->cname, p->rtx_ssrc);
    if ((size_t)n >= cap) {
        free(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------------------------------ */
/* Answer (line searches) */

/* Copies the rest of a line (up to CR/LF) into out. */
static void copy_value(const char *v, char *out, size_t cap)
{
    size_t n = strcspn(v, "\r\n");
    if (n >= cap) n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

/* The first UDP candidate; fo_sdp_t does not keep candidates. */
static void find_candidate(const char *sdp, fo_peer_answer_t *a)
{
    for (const char *l = sdp; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, "a=candidate:", 12)) continue;
        char line[512], proto[16], ip[64];
        unsigned port;
        copy_value(l + 12, line, sizeof line);
        if (sscanf(line, "%*s %*s %15s %*s %63s %u", proto, ip, &port) == 3 &&
            !strcasecmp(proto, "udp") && port > 0 && port < 65536) {
            snprintf(a->cand_ip, sizeof a->cand_ip, "%s", ip);
            a->cand_port = (uint16_t)port;
            return;
        }
    }
}

/* Reads the answer with the project's SDP parser (which also checks that the server's answer
 * is well-formed by our own rules), plus the candidate line. */
static int parse_answer(fo_peer_t *p, const char *sdp, fo_peer_answer_t *a)
{
    memset(a, 0, sizeof *a);
    fo_sdp_t *s = malloc(sizeof *s);
    if (!s) return FO_ENOMEM;
    const char *why = NULL;
    int r = fo_sdp_parse(sdp, strlen(sdp), s, &why);
    if (r) {
        fail(p, "answer SDP: %s", why ? why : fo_strerror(r));
        free(s);
        return r;
    }
    a->ice_lite = s->ice_lite;
    for (size_t i = 0; i < s->n_media && a->n_media < FO_ARRAY_LEN(a->media); i++) {
        const fo_sdp_media_t *sm = &s->media[i];
        fo_peer_media_t *m = &a->media[a->n_media++];
        snprintf(m->kind, sizeof m->kind, "%s", sm->media);
        snprintf(m->mid, sizeof m->mid, "%s", sm->mid);
        m->accepted = sm->port != 0;
        for (size_t k = 0; k < sm->n_codecs && m->n_pts < FO_ARRAY_LEN(m->pts); k++)
            m->pts[m->n_pts++] = sm->codecs[k].pt;
        if (sm->n_fid > 0) {
            m->ssrc = sm->fid[0][0];
            m->rtx_ssrc = sm->fid[0][1];
        } else if (sm->n_ssrcs > 0) {
            m->ssrc = sm->ssrcs[0].ssrc;
        }
        if (i == 0) {
            snprintf(a->ufrag, sizeof a->ufrag, "%s", sm->ice_ufrag);
            snprintf(a->pwd, sizeof a->pwd, "%s", sm->ice_pwd);
            snprintf(a->fp_alg, sizeof a->fp_alg, "%s", sm->fp_alg);
            snprintf(a->fp, sizeof a->fp, "%s", sm->fp);
        }
    }
    free(s);
    find_candidate(sdp, a);
    if (!a->cand_ip[0]) {
        fail(p, "answer SDP: no UDP candidate");
        return FO_EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP */

static int parse_http_url(const char *url, char *host, size_t hcap, char *port, size_t pcap,
                          const char **path)
{
    if (strncmp(url, "http://", 7)) return FO_EINVAL;
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    *path = slash ? slash : "/";
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    size_t nl = colon ? (size_t)(colon - h) : hl;
    if (nl == 0 || nl >= hcap) return FO_EINVAL;
    memcpy(host, h, nl);
    host[nl] = '\0';
    if (colon) {
        size_t pl = hl - nl - 1;
        if (pl == 0 || pl >= pcap) return FO_EINVAL;
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
    } else {
        snprintf(port, pcap, "80");
    }
    return 0;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
    int64_t left = deadline - fo_peer_now_ms();
    if (left <= 0) return FO_EAGAIN;
    struct pollfd pfd = {.fd = fd, .events = ev};
    int r = poll(&pfd, 1, (int)left);
    if (r < 0 && errno != EINTR) return FO_ESYS;
    return r > 0 ? 0 : FO_EAGAIN;
}

/* Decodes a chunked body in place; returns the new length or -1. */
static long dechunk(char *b, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        unsigned long n = strtoul(b + in, &end, 16);
        char *crlf = strstr(end, "\r\n");
        if (end == b + in || !crlf) return -1;
        in = (size_t)(crlf - b) + 2;
        if (n == 0) break;
        if (n > len - in) return -1;
        memmove(b + out, b + in, n);
        out += n;
        in += n + 2;
        if (in > len) return -1;
    }
    b[out] = '\0';
    return (long)out;
}

int fo_peer_http_post(const char *url, const char *content_type, const char *body,
                      char **body_out, int timeout_ms)
{
    return fo_peer_http_request("POST", url, content_type, body, NULL, body_out, timeout_ms);
}

int fo_peer_http_request(const char *method, const char *url, const char *content_type,
                         const char *body, char **headers_out, char **body_out, int timeout_ms)
{
    return fo_peer_http_request_h(method, url, content_type, NULL, body, headers_out, body_out,
                                  timeout_ms);
}

int fo_peer_http_request_h(const char *method, const char *url, const char *content_type,
                           const char *extra_headers, const char *body, char **headers_out,
                           char **body_out, int timeout_ms)
{
    return fo_peer_http_request_from(NULL, method, url, content_type, extra_headers, body,
                                     headers_out, body_out, timeout_ms);
}

int fo_peer_http_request_from(const char *src_ip, const char *method, const char *url,
                              const char *content_type, const char *extra_headers, const char *body,
                              char **headers_out, char **body_out, int timeout_ms)
{
    char host[256], port[16];
    const char *path;
    *body_out = NULL;
    if (headers_out) *headers_out = NULL;
    if (!body) body = "";
    if (parse_http_url(url, host, sizeof host, port, sizeof port, &path)) return FO_EINVAL;
    int64_t deadline = fo_peer_now_ms() + timeout_ms;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) || !ai) return FO_ESYS;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return FO_ESYS;
    }
    if (src_ip) { /* the client's own address (e.g. 127.0.0.2: not loopback-exempt) */
        struct addrinfo sh = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_PASSIVE}, *sa = NULL;
        if (getaddrinfo(src_ip, "0", &sh, &sa) || !sa || bind(fd, sa->ai_addr, sa->ai_addrlen)) {
            if (sa) freeaddrinfo(sa);
            freeaddrinfo(ai);
            close(fd);
            return FO_ESYS;
        }
        freeaddrinfo(sa);
    }
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (r < 0 && errno != EINPROGRESS) goto sys_fail;
    if (wait_fd(fd, POLLOUT, deadline)) goto sys_fail;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) goto sys_fail;

    size_t blen = strlen(body);
    char hdr[1024];
    char ctype[192] = "";
    if (content_type && *content_type) snprintf(ctype, sizeof ctype, "Content-Type: %s\r\n", content_type);
    int hl = snprintf(hdr, sizeof hdr,
                      "%s %s HTTP/1.1\r\nHost: %s:%s\r\n%s%s"
                      "Content-Length: %zu\r\nConnection: close\r\nAccept: */*\r\n\r\n",
                      method, path, host, port, ctype, extra_headers ? extra_headers : "", blen);
    const char *parts[2] = {hdr, body};
    size_t lens[2] = {(size_t)hl, blen};
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        while (off < lens[i]) {
            /* MSG_MORE: header and body leave in one segment. Two small writes would stall
             * ~20-40 ms each on Nagle + the server's delayed ACK. */
            int more = i == 0 && lens[1] ? MSG_MORE : 0;
            ssize_t n = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL | more);
            if (n > 0) {
                off += (size_t)n;
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (wait_fd(fd, POLLOUT, deadline)) goto sys_fail;
            } else {
                goto sys_fail;
            }
        }
    }
    size_t cap = 16384, len = 0;
    char *resp = malloc(cap);
    if (!resp) goto sys_fail;
    for (;;) {
        if (len + 1 >= cap) {
            char *bigger = realloc(resp, cap * 2);
            if (!bigger) {
                free(resp);
                goto sys_fail;
            }
            resp = bigger;
            cap *= 2;
        }
        ssize_t n = recv(fd, resp + len, cap - len - 1, 0);
        if (n > 0) {
            len += (size_t)n;
        } else if (n == 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(fd, POLLIN, deadline)) {
                free(resp);
                goto sys_fail;
            }
        } else {
            free(resp);
            goto sys_fail;
        }
    }
    close(fd);
    resp[len] = '\0';
    int status = 0;
    char *hend = strstr(resp, "\r\n\r\n");
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || !hend) {
        free(resp);
        return FO_EINVAL;
    }
    *hend = '\0';
    char *b = hend + 4;
    size_t bl = len - (size_t)(b - resp);
    bool chunked = strcasestr(resp, "\r\ntransfer-encoding: chunked") != NULL;
    if (chunked) {
        long nb = dechunk(b, bl);
        if (nb < 0) {
            free(resp);
            return FO_EINVAL;
        }
        bl = (size_t)nb;
    }
    if (headers_out) *headers_out = strdup(resp);
    memmove(resp, b, bl);
    resp[bl] = '\0';
    *body_out = resp;
    return status;

sys_fail:
    close(fd);
    return FO_ESYS;
}

/* ------------------------------------------------------------------------------------------ */
/* Transport */

static void send_datagram(fo_peer_t *p, const uint8_t *buf, size_t len)
{
    if (p->fd < 0) return;
    ssize_t n = sendto(p->fd, buf, len, 0, (const struct sockaddr *)&p->remote, p->remote_len);
    if (n < 0 && errno != EAGAIN)
        FO_LOG(FO_LOG_DEBUG, p->name, "sendto: %s", strerror(errno));
}

static void dtls_send_cb(void *user, const uint8_t *buf, size_t len)
{
    send_datagram(user, buf, len);
}

static void dtls_timer_cb(void *user, int ms)
{
    fo_peer_t *p = user;
    p->dtls_due_ms = ms < 0 ? -1 : fo_peer_now_ms() + ms;
}

static void send_check(fo_peer_t *p)
{
    char user[200];
    snprintf(user, sizeof user, "%s:%s", p->ans.ufrag, p->ufrag);
    uint8_t buf[512];
    /* Host candidate priority for component 1 (RFC 8445 5.1.2.1): type pref 126. */
    uint32_t prio = (126u << 24) | (65535u << 8) | 255u;
    int n = fo_stun_build_request(p->stun, buf, sizeof buf, user, p->ans.pwd, prio, p->tie, true);
    if (n < 0) {
        fail(p, "building a STUN request: %s", fo_strerror(n));
        return;
    }
    send_datagram(p, buf, (size_t)n);
    p->stats.stun_sent++;
}

/* The server confirms our address with its own Binding request before it sends us DTLS or
 * media (USERNAME "<our ufrag>:<its ufrag>", keyed by our pwd): answer it as a browser does. */
static const char *our_pwd_cb(void *user, const char *username, size_t len)
{
    fo_peer_t *p = user;
    size_t ul = strlen(p->ufrag);
    if (len > ul && !memcmp(username, p->ufrag, ul) && username[ul] == ':') return p->pwd;
    return NULL;
}

static void start_dtls(fo_peer_t *p)
{
    fo_dtls_io_t io = {.send_cb = dtls_send_cb, .timer_cb = dtls_timer_cb, .user = p};
    p->state = FO_PEER_DTLS;
    p->dtls = fo_dtls_new(p->dctx, FO_DTLS_CLIENT, &io, p->ans.fp_alg, p->ans.fp);
    if (!p->dtls) {
        fail(p, "fo_dtls_new failed");
        return;
    }
    int r = fo_dtls_start(p->dtls);
    if (r < 0 && r != FO_EAGAIN) fail(p, "fo_dtls_start: %s", fo_strerror(r));
}

static void on_stun(fo_peer_t *p, const uint8_t *buf, size_t len, const struct sockaddr *src,
                    socklen_t srclen)
{
    unsigned type = (unsigned)buf[0] << 8 | buf[1];
    if ((type & 0x0110) == 0) { /* class bits C1 C0 = 00: a request */
        uint8_t reply[512];
        size_t rl = sizeof reply;
        if (fo_stun_answer_controlling(p->stun, p->tie, buf, len, src, srclen, our_pwd_cb, p, reply,
                                       &rl) == 0 || rl > 0) {
            send_datagram(p, reply, rl);
            p->stats.stun_answered++;
        }
        return;
    }
    struct sockaddr_storage mapped;
    int r = fo_stun_check_response(p->stun, buf, len, p->ans.pwd, &mapped);
    if (r != 0) {
        FO_LOG(FO_LOG_DEBUG, p->name, "STUN response refused: %s", fo_strerror(r));
        p->stats.dropped++;
        return;
    }
    p->stats.stun_ok++;
    p->consent_ok_ms = fo_peer_now_ms();
    if (p->state == FO_PEER_ICE) {
        FO_LOG(FO_LOG_DEBUG, p->name, "ICE connected after %lld ms",
               (long long)(p->consent_ok_ms - p->ice_start_ms));
        p->next_check_ms = p->consent_ok_ms + CONSENT_MS;
        start_dtls(p);
    } else {
        p->stats.consent_ok++;
    }
}

static void on_dtls(fo_peer_t *p, const uint8_t *buf, size_t len)
{
    if (!p->dtls) return;
    int r = fo_dtls_input(p->dtls, buf, len);
    if (r == FO_EAGAIN) return;
    if (r == FO_ECLOSED) {
        FO_LOG(FO_LOG_INFO, p->name, "server sent close_notify");
        p->state = FO_PEER_CLOSED;
        return;
    }
    if (r < 0) {
        fail(p, "DTLS: %s", fo_strerror(r));
        return;
    }
    if (p->state != FO_PEER_DTLS) return;
    fo_srtp_keys_t keys;
    r = fo_dtls_srtp_keys(p->dtls, &keys);
    if (r < 0) {
        fail(p, "DTLS keys: %s", fo_strerror(r));
        return;
    }
    p->srtp = fo_srtp_new(&keys);
    if (!p->srtp) {
        fail(p, "fo_srtp_new failed");
        return;
    }
    p->state = FO_PEER_CONNECTED;
    FO_LOG(FO_LOG_DEBUG, p->name, "connected (DTLS+SRTP) after %lld ms",
           (long long)(fo_peer_now_ms() - p->ice_start_ms));
}

static void on_srtp(fo_peer_t *p, uint8_t *buf, size_t len)
{
    if (!p->srtp) {
        p->stats.dropped++;
        return;
    }
    if (p->filter && !p->filter(p->filter_user, p, buf, len)) return;
    bool rtcp = len >= 2 && buf[1] >= 192 && buf[1] <= 223;
    int r = rtcp ? fo_srtp_unprotect_rtcp(p->srtp, buf, &len) : fo_srtp_unprotect(p->srtp, buf, &len);
    if (r != 0) {
        p->stats.dropped++;
        return;
    }
    if (rtcp)
        p->stats.rtcp_recv++;
    else
        p->stats.rtp_recv++;
    if (p->cb) p->cb(p->cb_user, p, buf, len, rtcp);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family) return false;
    if (b->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

static void run_timers(fo_peer_t *p)
{
    int64_t now = fo_peer_now_ms();
    if (p->state == FO_PEER_ICE && now - p->ice_start_ms > ICE_GIVE_UP_MS) {
        fail(p, "ICE: no valid STUN response in %d ms", ICE_GIVE_UP_MS);
        return;
    }
    if ((p->state == FO_PEER_DTLS || p->state == FO_PEER_CONNECTED) &&
        now - p->consent_ok_ms > CONSENT_LOST_MS) {
        fail(p, "consent lost: no STUN response for %d ms", CONSENT_LOST_MS);
        return;
    }
    if (p->state >= FO_PEER_ICE && p->state <= FO_PEER_CONNECTED && now >= p->next_check_ms) {
        send_check(p);
        p->next_check_ms = now + (p->state == FO_PEER_ICE ? ICE_RTO_MS : CONSENT_MS);
    }
    if (p->dtls && p->dtls_due_ms >= 0 && now >= p->dtls_due_ms) {
        p->dtls_due_ms = -1;
        int r = fo_dtls_timeout(p->dtls);
        if (r < 0 && r != FO_EAGAIN && p->state == FO_PEER_DTLS)
            fail(p, "DTLS handshake timed out (%s)", fo_strerror(r));
    }
}

/* recvfrom, or with rx_timestamps recvmsg that also reads the kernel's arrival time. */
static ssize_t recv_one(fo_peer_t *p, uint8_t *buf, struct sockaddr_storage *src, socklen_t *sl)
{
    if (!p->rx_timestamps)
        return recvfrom(p->fd, buf, PEER_MTU, MSG_DONTWAIT, (struct sockaddr *)src, sl);
    union {
        struct cmsghdr align;
        uint8_t b[CMSG_SPACE(sizeof(struct timespec))];
    } ctl;
    struct iovec iov = {buf, PEER_MTU};
    struct msghdr mh = {.msg_name = src, .msg_namelen = *sl, .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    ssize_t n = recvmsg(p->fd, &mh, MSG_DONTWAIT);
    *sl = mh.msg_namelen;
    p->rx_ns = 0;
    for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            p->rx_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        }
    return n;
}

int64_t fo_peer_rx_ns(const fo_peer_t *p) { return p->rx_ns; }

fo_peer_state_t fo_peer_process(fo_peer_t *p)
{
    if (p->fd < 0 || p->state == FO_PEER_FAILED || p->state == FO_PEER_CLOSED) return p->state;
    uint8_t buf[PEER_MTU + FO_SRTP_MAX_TRAILER];
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage src;
        socklen_t sl = sizeof src;
        ssize_t n = recv_one(p, buf, &src, &sl);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                FO_LOG(FO_LOG_DEBUG, p->name, "recvfrom: %s", strerror(errno));
            break;
        }
        if (!same_addr(&p->remote, (struct sockaddr *)&src) || n == 0) {
            p->stats.dropped++;
            continue;
        }
        uint8_t b0 = buf[0];
        if (b0 <= 3 && fo_stun_is_stun(buf, (size_t)n))
            on_stun(p, buf, (size_t)n, (struct sockaddr *)&src, sl);
        else if (b0 >= 20 && b0 <= 63)
            on_dtls(p, buf, (size_t)n);
        else if (b0 >= 128 && b0 <= 191)
            on_srtp(p, buf, (size_t)n);
        else
            p->stats.dropped++;
        if (p->state == FO_PEER_FAILED || p->state == FO_PEER_CLOSED) return p->state;
    }
    run_timers(p);
    return p->state;
}

int fo_peer_timeout_ms(const fo_peer_t *p)
{
    if (p->state < FO_PEER_ICE || p->state > FO_PEER_CONNECTED) return -1;
    int64_t now = fo_peer_now_ms(), due = p->next_check_ms;
    if (p->dtls_due_ms >= 0 && p->dtls_due_ms < due) due = p->dtls_due_ms;
    return due <= now ? 0 : (int)(due - now);
}

/* ------------------------------------------------------------------------------------------ */
/* Life cycle */

fo_peer_t *fo_peer_new(const fo_peer_opts_t *opts)
{
    fo_peer_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->fd = -1;
    p->dtls_due_ms = -1;
    p->role = opts->role;
    p->h264 = opts->h264;
    p->no_rtx = opts->no_rtx;
    p->audio_nack = opts->audio_nack;
    p->twcc = opts->twcc;
    p->simulcast = opts->simulcast && opts->role == FO_PEER_PUBLISH;
    p->rx_timestamps = opts->rx_timestamps;
    snprintf(p->name, sizeof p->name, "%s", opts->name ? opts->name : "peer");
    p->dctx = opts->dtls;
    if (!p->dctx) {
        p->dctx = fo_dtls_ctx_new(NULL, NULL);
        p->own_dctx = true;
    }
    p->stun = opts->stun;
    if (!p->stun) {
        p->stun = fo_stun_new();
        p->own_stun = true;
    }
    if (!p->dctx || !p->stun) goto fail;
    random_ice_string(p->ufrag, 8);
    random_ice_string(p->pwd, 24);
    random_ice_string(p->cname, 16);
    random_bytes(&p->tie, sizeof p->tie);
    p->audio_ssrc = random_ssrc();
    p->video_ssrc = random_ssrc();
    p->rtx_ssrc = random_ssrc();
    p->offer = build_offer(p, fo_dtls_ctx_fingerprint(p->dctx));
    if (!p->offer) goto fail;
    return p;
fail:
    fo_peer_free(p);
    return NULL;
}

void fo_peer_close(fo_peer_t *p)
{
    if (p->dtls && (p->state == FO_PEER_CONNECTED || p->state == FO_PEER_DTLS))
        fo_dtls_close(p->dtls);
    if (p->state != FO_PEER_FAILED) p->state = FO_PEER_CLOSED;
}

void fo_peer_free(fo_peer_t *p)
{
    if (!p) return;
    fo_peer_close(p);
    fo_srtp_free(p->srtp);
    fo_dtls_free(p->dtls);
    if (p->own_dctx) fo_dtls_ctx_free(p->dctx);
    if (p->own_stun) fo_stun_free(p->stun);
    if (p->fd >= 0) close(p->fd);
    free(p->offer);
    free(p->answer_sdp);
    free(p);
}

void fo_peer_vanish(fo_peer_t *p)
{
    if (!p) return;
    if (p->fd >= 0) close(p->fd); /* no close_notify can leave now */
    p->fd = -1;
    fo_peer_free(p);
}

void fo_peer_set_recv_cb(fo_peer_t *p, fo_peer_recv_cb cb, void *user)
{
    p->cb = cb;
    p->cb_user = user;
}

void fo_peer_set_filter(fo_peer_t *p, fo_peer_filter_cb cb, void *user)
{
    p->filter = cb;
    p->filter_user = user;
}

static int open_socket(fo_peer_t *p)
{
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST}, *ai = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", p->ans.cand_port);
    if (getaddrinfo(p->ans.cand_ip, port, &hints, &ai) || !ai) {
        fail(p, "bad candidate address %s", p->ans.cand_ip);
        return FO_EINVAL;
    }
    memcpy(&p->remote, ai->ai_addr, ai->ai_addrlen);
    p->remote_len = ai->ai_addrlen;
    p->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    freeaddrinfo(ai);
    if (p->fd < 0) {
        fail(p, "socket: %s", strerror(errno));
        return FO_ESYS;
    }
    int sz = 1 << 21, on = 1;
    setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    if (p->rx_timestamps) setsockopt(p->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    return 0;
}

static int start_ice(fo_peer_t *p);

char *fo_peer_signal_request(fo_peer_t *p, const char *api_base, const char *stream, char *url,
                             size_t url_cap)
{
    const char *verb = p->role == FO_PEER_PUBLISH ? "publish" : "play";
    char streamurl[512];
    snprintf(url, url_cap, "%s/rtc/v1/%s/", api_base, verb);
    snprintf(streamurl, sizeof streamurl, "webrtc://127.0.0.1/%s", stream);
    json_t *req = json_pack("{s:s, s:s, s:s, s:n, s:s}", "api", url, "tid", p->name, "streamurl",
                            streamurl, "clientip", "sdp", p->offer);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) fail(p, "building the request JSON");
    return body;
}

int fo_peer_signal_answer(fo_peer_t *p, const char *url, int status, const char *resp)
{
    const char *verb = p->role == FO_PEER_PUBLISH ? "publish" : "play";
    p->http_status = status > 0 ? status : 0;
    if (status < 0) {
        fail(p, "HTTP POST %s: %s", url, fo_strerror(status));
        return status;
    }
    json_error_t jerr;
    json_t *j = json_loads(resp ? resp : "", 0, &jerr);
    json_t *code = j ? json_object_get(j, "code") : NULL;
    p->api_code = json_is_integer(code) ? (int)json_integer_value(code) : -1;
    const char *sdp = j ? json_string_value(json_object_get(j, "sdp")) : NULL;
    const char *sid = j ? json_string_value(json_object_get(j, "sessionid")) : NULL;
    const char *msg = j ? json_string_value(json_object_get(j, "msg")) : NULL;
    int rc = 0;
    if (status != 200 || p->api_code != 0 || !sdp) {
        fail(p, "%s refused: HTTP %d, code %d, msg \"%s\"%s%.200s", verb, status, p->api_code,
             msg ? msg : "", j ? "" : ", body: ", j ? "" : (resp ? resp : ""));
        rc = FO_ERR;
    } else {
        snprintf(p->session_id, sizeof p->session_id, "%s", sid ? sid : "");
        p->answer_sdp = strdup(sdp);
        if (!p->answer_sdp) {
            fail(p, "out of memory");
            rc = FO_ENOMEM;
        } else {
            rc = parse_answer(p, sdp, &p->ans);
        }
    }
    json_decref(j);
    if (rc) return rc;
    return start_ice(p);
}

int fo_peer_signal(fo_peer_t *p, const char *api_base, const char *stream, int timeout_ms)
{
    char url[512];
    char *body = fo_peer_signal_request(p, api_base, stream, url, sizeof url);
    if (!body) return FO_ENOMEM;
    char *resp = NULL;
    int status = fo_peer_http_post(url, "application/json", body, &resp, timeout_ms);
    free(body);
    int rc = fo_peer_signal_answer(p, url, status, resp);
    free(resp);
    return rc;
}

/* The answer is in p->ans: open the socket and start ICE. */
static int start_ice(fo_peer_t *p)
{
    int rc;
    if (!p->ans.ice_lite) FO_LOG(FO_LOG_WARN, p->name, "answer is not ICE-lite");
    rc = open_socket(p);
    if (rc) return rc;
    p->state = FO_PEER_ICE;
    p->ice_start_ms = fo_peer_now_ms();
    p->consent_ok_ms = p->ice_start_ms;
    p->next_check_ms = p->ice_start_ms;
    run_timers(p);
    return 0;
}

/* Value of header `name` in a NUL-terminated header block, copied into out. */
static bool find_header(const char *headers, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *l = strstr(headers, "\r\n"); l; l = strstr(l, "\r\n")) {
        l += 2;
        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ') v++;
            size_t vl = strcspn(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)vl, v);
            return true;
        }
    }
    return false;
}

int fo_peer_signal_whip(fo_peer_t *p, const char *url, int timeout_ms)
{
    char *headers = NULL, *resp = NULL;
    int status = fo_peer_http_request("POST", url, "application/sdp", p->offer, &headers, &resp, timeout_ms);
    p->http_status = status > 0 ? status : 0;
    p->api_code = 0;
    if (status < 0) {
        fail(p, "HTTP POST %s: %s", url, fo_strerror(status));
        return status;
    }
    char ctype[128] = "";
    int rc = 0;
    if (status != 201 || !find_header(headers, "Location", p->location, sizeof p->location) ||
        !find_header(headers, "Content-Type", ctype, sizeof ctype) ||
        strncasecmp(ctype, "application/sdp", 15) != 0) {
        fail(p, "WHIP/WHEP POST %s: HTTP %d, Location \"%s\", Content-Type \"%s\", body %.200s", url,
             status, p->location, ctype, resp);
        rc = FO_ERR;
    } else {
        const char *slash = strrchr(p->location, '/');
        snprintf(p->session_id, sizeof p->session_id, "%.100s", slash ? slash + 1 : p->location);
        p->answer_sdp = strdup(resp);
        rc = p->answer_sdp ? parse_answer(p, resp, &p->ans) : FO_ENOMEM;
    }
    free(headers);
    free(resp);
    return rc ? rc : start_ice(p);
}

const char *fo_peer_location(const fo_peer_t *p) { return p->location; }

static int drive_until_connected(fo_peer_t *p, int64_t deadline, int timeout_ms);

int fo_peer_connect_whip(fo_peer_t *p, const char *url, int timeout_ms)
{
    int64_t deadline = fo_peer_now_ms() + timeout_ms;
    int r = fo_peer_signal_whip(p, url, timeout_ms);
    return r ? r : drive_until_connected(p, deadline, timeout_ms);
}

int fo_peer_connect(fo_peer_t *p, const char *api_base, const char *stream, int timeout_ms)
{
    int64_t deadline = fo_peer_now_ms() + timeout_ms;
    int r = fo_peer_signal(p, api_base, stream, timeout_ms);
    if (r) return r;
    return drive_until_connected(p, deadline, timeout_ms);
}

static int drive_until_connected(fo_peer_t *p, int64_t deadline, int timeout_ms)
{
    while (fo_peer_process(p) < FO_PEER_CONNECTED) {
        int64_t left = deadline - fo_peer_now_ms();
        if (left <= 0) {
            fail(p, "not connected after %d ms (state %d)", timeout_ms, (int)p->state);
            return FO_EAGAIN;
        }
        int t = fo_peer_timeout_ms(p);
        if (t < 0 || t > left) t = (int)left;
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        poll(&pfd, 1, t);
    }
    return p->state == FO_PEER_CONNECTED ? 0 : FO_ERR;
}

/* ------------------------------------------------------------------------------------------ */
/* Media */

static int send_protected(fo_peer_t *p, const uint8_t *pkt, size_t len, bool rtcp)
{
    if (p->state != FO_PEER_CONNECTED || !p->srtp) return FO_EAGAIN;
    uint8_t *buf = p->last_protected;
    if (len > PEER_MTU) return FO_ETOOBIG;
    memcpy(buf, pkt, len);
    p->last_protected_len = 0;
    int r = rtcp ? fo_srtp_protect_rtcp(p->srtp, buf, &len, sizeof p->last_protected)
                 : fo_srtp_protect(p->srtp, buf, &len, sizeof p->last_protected);
    if (r) return r;
    p->last_protected_len = len;
    send_datagram(p, buf, len);
    if (rtcp)
        p->stats.rtcp_sent++;
    else
        p->stats.rtp_sent++;
    return 0;
}

int fo_peer_send_rtp(fo_peer_t *p, const uint8_t *pkt, size_t len)
{
    return send_protected(p, pkt, len, false);
}

int fo_peer_send_rtcp(fo_peer_t *p, const uint8_t *pkt, size_t len)
{
    return send_protected(p, pkt, len, true);
}

void fo_peer_send_raw(fo_peer_t *p, const uint8_t *buf, size_t len) { send_datagram(p, buf, len); }

const uint8_t *fo_peer_last_protected(const fo_peer_t *p, size_t *len)
{
    *len = p->last_protected_len;
    return p->last_protected;
}

/* ------------------------------------------------------------------------------------------ */
/* Accessors */

int fo_peer_fd(const fo_peer_t *p) { return p->fd; }
fo_peer_state_t fo_peer_state(const fo_peer_t *p) { return p->state; }
const char *fo_peer_error(const fo_peer_t *p) { return p->err; }
int fo_peer_http_status(const fo_peer_t *p) { return p->http_status; }
int fo_peer_api_code(const fo_peer_t *p) { return p->api_code; }
const char *fo_peer_session_id(const fo_peer_t *p) { return p->session_id; }
const char *fo_peer_offer_sdp(const fo_peer_t *p) { return p->offer; }
const char *fo_peer_answer_sdp(const fo_peer_t *p) { return p->answer_sdp; }
const fo_peer_answer_t *fo_peer_answer(const fo_peer_t *p) { return &p->ans; }
const fo_peer_stats_t *fo_peer_stats(const fo_peer_t *p) { return &p->stats; }

const fo_peer_media_t *fo_peer_answer_media(const fo_peer_t *p, const char *kind)
{
    for (size_t i = 0; i < p->ans.n_media; i++)
        if (!strcmp(p->ans.media[i].kind, kind)) return &p->ans.media[i];
    return NULL;
}

uint32_t fo_peer_ssrc(const fo_peer_t *p, const char *kind)
{
    if (!strcmp(kind, "audio")) return p->audio_ssrc;
    if (!strcmp(kind, "video")) return p->video_ssrc;
    if (!strcmp(kind, "rtx")) return p->rtx_ssrc;
    return 0;
}
