/* SPDX-License-Identifier: MIT */
/* libcurl's multi interface on fo_loop. CURLMOPT_SOCKETFUNCTION puts curl's sockets in our
 * epoll, CURLMOPT_TIMERFUNCTION arms one fo_timer; readiness and that timer call
 * curl_multi_socket_action, after which finished transfers are collected and their callbacks
 * run (never inside a curl call). Each request also has its own fo_timer deadline, so its
 * callback comes at timeout_ms even while it waits in line for a connection. Host names are
 * resolved by libcurl's asynchronous resolver (Debian's libcurl: threaded, "AsynchDNS").
 * What still costs the loop CPU is a new TLS connection: libcurl (GnuTLS) loads the trusted
 * certificates for each one. Debian's default is the directory /etc/ssl/certs (432 files,
 * ~65 ms of CPU here); the one bundle file costs ~16 ms, a request's own ca_file almost
 * nothing, so those are used instead. Connections are kept and reused (HTTP/2 streams share
 * one where the server speaks it), so this is paid per connection, not per request. */
#include "fanout/httpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"

#define DEF_MAX_IN_FLIGHT 4096
#define DEF_MAX_BODY ((size_t)1 << 20)
#define DEF_TIMEOUT_MS 10000
#define MAX_HEADER_BLOCK 16384 /* header lines kept per response; curl caps the total too */
#define MAX_IDLE_CONNECTIONS 64L
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt" /* Debian's ca-certificates */

typedef struct {
    char *buf;
    size_t len, cap;
} buf_t;

/* One of curl's sockets in our epoll. */
typedef struct sock {
    fo_io_t io;
    fo_httpc_t *c;
    struct sock *prev, *next;
} sock_t;

struct fo_httpc_req {
    fo_httpc_t *c;
    CURL *easy;
    struct curl_slist *hdrs;
    fo_httpc_done_cb cb;
    void *user;
    fo_timer_t deadline;
    int timeout_ms;
    uint64_t start_ms;
    size_t max_body;
    buf_t body, head;
    bool too_big;
    bool done; /* its callback has started */
    char errbuf[CURL_ERROR_SIZE];
    fo_httpc_req_t *prev, *next;
};

struct fo_httpc {
    fo_loop_t *loop;
    CURLM *multi;
    fo_timer_t timer;
    fo_httpc_opts_t o;
    fo_httpc_req_t *reqs;
    sock_t *socks;
    fo_httpc_stats_t st;
    bool ca_bundle;        /* SYSTEM_CA_BUNDLE exists */
};

#define LIST_LINK(head, x)                                                                         \
    do {                                                                                           \
        (x)->prev = NULL;                                                                          \
        (x)->next = (head);                                                                        \
        if (head) (head)->prev = (x);                                                              \
        (head) = (x);                                                                              \
    } while (0)
#define LIST_UNLINK(head, x)                                                                       \
    do {                                                                                           \
        if ((x)->prev) (x)->prev->next = (x)->next;                                                \
        else (head) = (x)->next;                                                                   \
        if ((x)->next) (x)->next->prev = (x)->prev;                                                \
        (x)->prev = (x)->next = NULL;                                                              \
    } while (0)

/* Appends n bytes, keeping the buffer NUL-terminated; false (nothing appended) past max. */
static bool buf_append(buf_t *b, const char *p, size_t n, size_t max)
{
    if (n > max || b->len > max - n) return false;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1) cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) return false;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return true;
}

/* --- curl's callbacks (inside curl calls: no user code here) --- */

static size_t write_cb(char *p, size_t size, size_t n, void *user)
{
    fo_httpc_req_t *rq = user;
    if (!buf_append(&rq->body, p, size * n, rq->max_body)) {
        rq->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return size * n;
}

static size_t header_cb(char *p, size_t size, size_t n, void *user)
{
    fo_httpc_req_t *rq = user;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        rq->head.len = 0; /* a new response (after 1xx): keep only the last one's headers */
        if (rq->head.buf) rq->head.buf[0] = '\0';
        return len;
    }
    if (len > 2 || (len && p[0] != '\r' && p[0] != '\n'))
        buf_append(&rq->head, p, len, MAX_HEADER_BLOCK); /* past the cap: dropped */
    return len;
}

static void sock_io_cb(fo_io_t *io, uint32_t events);

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    fo_httpc_t *c = userp;
    sock_t *k = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            fo_loop_io_del(c->loop, &k->io);
            LIST_UNLINK(c->socks, k);
            free(k);
            curl_multi_assign(c->multi, fd, NULL);
        }
        return 0;
    }
    uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    if (k) return fo_loop_io_mod(c->loop, &k->io, ev) == 0 ? 0 : -1;
    k = calloc(1, sizeof *k);
    if (!k) return -1;
    k->io = (fo_io_t){.fd = fd, .cb = sock_io_cb, .user = k};
    k->c = c;
    if (fo_loop_io_add(c->loop, &k->io, ev) != 0 &&
        (errno != EEXIST || fo_loop_io_mod(c->loop, &k->io, ev) != 0)) {
        free(k);
        return -1;
    }
    LIST_LINK(c->socks, k);
    curl_multi_assign(c->multi, fd, k);
    return 0;
}

static int timer_fn(CURLM *multi, long ms, void *userp)
{
    (void)multi;
    fo_httpc_t *c = userp;
    if (ms < 0) fo_timer_stop(c->loop, &c->timer);
    else fo_timer_start(c->loop, &c->timer, (uint64_t)ms);
    return 0;
}

/* --- completion --- */

static void free_req(fo_httpc_req_t *rq)
{
    curl_easy_cleanup(rq->easy);
    curl_slist_free_all(rq->hdrs);
    free(rq->body.buf);
    free(rq->head.buf);
    free(rq);
}

/* Takes rq out of curl and the client; the caller frees it. */
static void detach(fo_httpc_req_t *rq)
{
    fo_httpc_t *c = rq->c;
    fo_timer_stop(c->loop, &rq->deadline);
    curl_multi_remove_handle(c->multi, rq->easy);
    LIST_UNLINK(c->reqs, rq);
    c->st.in_flight--;
}

static int err_of(const fo_httpc_req_t *rq, CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return FO_ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: return FO_EUNREACH;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE: return FO_ECLOSED;
    case CURLE_FILESIZE_EXCEEDED: return FO_ETOOBIG;
    case CURLE_WRITE_ERROR: return rq->too_big ? FO_ETOOBIG : FO_ERR;
    case CURLE_OUT_OF_MEMORY: return FO_ENOMEM;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE: return FO_ECRYPTO;
    default: return FO_ERR;
    }
}

/* Location resolved against the URL that answered (curl's URL parser handles relative
 * references); heap string for curl_free, or NULL. */
static char *resolve_location(CURL *easy, const char *loc)
{
    char *base = NULL, *abs = NULL;
    CURLU *u = curl_url();
    if (u && curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &base) == CURLE_OK && base &&
        curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, loc, 0) == CURLUE_OK)
        curl_url_get(u, CURLUPART_URL, &abs, 0);
    curl_url_cleanup(u);
    return abs;
}

/* Runs rq's callback with the outcome (err 0: the response) and frees rq. */
static void complete(fo_httpc_req_t *rq, int err, const char *why)
{
    fo_httpc_t *c = rq->c;
    fo_httpc_resp_t r = {.err = err, .error = "", .body = "", .content_type = "", .location = "",
                         .location_url = "", .etag = "", .headers = ""};
    char ct[256], etag[256], loc[2048];
    char *abs = NULL;
    if (!err) {
        long status = 0;
        curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &status);
        r.status = (int)status;
        if (rq->body.buf) r.body = rq->body.buf, r.body_len = rq->body.len;
        if (rq->head.buf) r.headers = rq->head.buf;
        if (fo_httpc_header(&r, "Content-Type", ct, sizeof ct) >= 0) r.content_type = ct;
        if (fo_httpc_header(&r, "ETag", etag, sizeof etag) >= 0) r.etag = etag;
        if (fo_httpc_header(&r, "Location", loc, sizeof loc) >= 0) {
            r.location = loc;
            abs = resolve_location(rq->easy, loc);
            r.location_url = abs ? abs : loc;
        }
        c->st.answered++;
    } else {
        r.error = why && *why ? why : fo_strerror(err);
        c->st.failed++;
    }
    r.elapsed_ms = fo_loop_update_time(c->loop) - rq->start_ms;
    FO_LOG(FO_LOG_DEBUG, "httpc", "%s after %llu ms: %d %s", err ? "failed" : "answered",
           (unsigned long long)r.elapsed_ms, r.status, r.error);
    detach(rq);
    rq->done = true;
    rq->cb(rq->user, &r);
    curl_free(abs);
    free_req(rq);
}

static void collect(fo_httpc_t *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURLcode rc = m->data.result; /* m is gone once its handle is removed */
        fo_httpc_req_t *rq = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&rq);
        if (!rq) continue;
        if (rc == CURLE_OK) complete(rq, 0, NULL);
        else complete(rq, err_of(rq, rc), rq->errbuf[0] ? rq->errbuf : curl_easy_strerror(rc));
    }
}

static void act(fo_httpc_t *c, curl_socket_t fd, int flags)
{
    int running;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    collect(c);
}

static void sock_io_cb(fo_io_t *io, uint32_t events)
{
    sock_t *k = io->user;
    int flags = (events & EPOLLIN ? CURL_CSELECT_IN : 0) | (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    act(k->c, io->fd, flags); /* k may be freed inside */
}

static void timer_cb(fo_timer_t *t) { act(t->user, CURL_SOCKET_TIMEOUT, 0); }

static void deadline_cb(fo_timer_t *t)
{
    fo_httpc_req_t *rq = t->user;
    char why[64];
    snprintf(why, sizeof why, "no answer within %d ms", rq->timeout_ms);
    rq->c->st.timed_out++;
    complete(rq, FO_ETIMEDOUT, why);
}

/* --- requests --- */

static bool method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > 16) return false;
    for (const char *p = m; *p; p++)
        if (*p < 'A' || *p > 'Z') return false;
    return true;
}

/* Adds "Name: value" lines from `lines` ("\r\n" or "\n" separated) to *list. FO_EINVAL for a
 * line without a name or with control bytes (header injection). */
static int add_header_lines(struct curl_slist **list, const char *lines)
{
    while (lines && *lines) {
        size_t n = strcspn(lines, "\r\n");
        if (n) {
            const char *colon = memchr(lines, ':', n);
            if (!colon || colon == lines || n >= 4096) return FO_EINVAL;
            for (size_t i = 0; i < n; i++)
                if (((unsigned char)lines[i] < 0x20 && lines[i] != '\t') || lines[i] == 0x7f) return FO_EINVAL;
            for (const char *p = lines; p < colon; p++)
                if (*p == ' ' || *p == '\t') return FO_EINVAL;
            char line[4096];
            memcpy(line, lines, n);
            line[n] = '\0';
            struct curl_slist *l = curl_slist_append(*list, line);
            if (!l) return FO_ENOMEM;
            *list = l;
        }
        lines += n;
        while (*lines == '\r' || *lines == '\n') lines++;
    }
    return 0;
}

static int setup(fo_httpc_req_t *rq, const fo_httpc_request_t *in, const char *method)
{
    CURL *e = rq->easy;
    char ct[300];
    /* No "Expect: 100-continue" wait for bodies; no form Content-Type unless asked for. */
    snprintf(ct, sizeof ct, "Content-Type:%s%s", in->content_type ? " " : "",
             in->content_type ? in->content_type : "");
    if (strpbrk(ct, "\r\n")) return FO_EINVAL;
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    if (!l) return FO_ENOMEM;
    rq->hdrs = l;
    if (!(l = curl_slist_append(rq->hdrs, ct))) return FO_ENOMEM;
    int rc = add_header_lines(&rq->hdrs, in->headers);
    if (rc) return rc;
    curl_easy_setopt(e, CURLOPT_URL, in->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, rq);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)rq->timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, rq->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "fanout/" FO_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, rq);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, rq);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, rq->errbuf);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_body);
    /* https: a request waits for a connection being set up to the same host to learn (ALPN)
     * whether it speaks HTTP/2 and can share it. Not for http://: curl would wait for the
     * first response there, and HTTP/1.1 requests would go one after another. */
    if (strncasecmp(in->url, "https:", 6) == 0) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    if (in->ca_file || rq->c->ca_bundle) { /* one file, not the directory (see the top) */
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
        if (curl_easy_setopt(e, CURLOPT_CAINFO, in->ca_file ? in->ca_file : SYSTEM_CA_BUNDLE) != CURLE_OK)
            return FO_EINVAL;
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (in->body || strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)in->body_len);
        if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, in->body ? in->body : "") != CURLE_OK)
            return FO_ENOMEM;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 && strcmp(method, "HEAD") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    else if (strcmp(method, "GET") == 0 && in->body)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET");
    return 0;
}

int fo_httpc_send(fo_httpc_t *c, const fo_httpc_request_t *in, fo_httpc_done_cb cb, void *user,
                  fo_httpc_req_t **out)
{
    if (out) *out = NULL;
    const char *method = in->method ? in->method : in->body ? "POST" : "GET";
    int rc = 0;
    if (!cb || !in->url || (strncasecmp(in->url, "http://", 7) != 0 && strncasecmp(in->url, "https://", 8) != 0) ||
        strpbrk(in->url, " \r\n\t") || !method_ok(method))
        rc = FO_EINVAL;
    else if (in->body_len > c->o.max_request_body || (!in->body && in->body_len))
        rc = in->body ? FO_ETOOBIG : FO_EINVAL;
    else if (c->st.in_flight >= (uint64_t)c->o.max_in_flight)
        rc = FO_EFULL;
    fo_httpc_req_t *rq = rc ? NULL : calloc(1, sizeof *rq);
    if (!rc && (!rq || !(rq->easy = curl_easy_init()))) rc = FO_ENOMEM;
    if (!rc) {
        rq->c = c;
        rq->cb = cb;
        rq->user = user;
        rq->timeout_ms = in->timeout_ms > 0 ? in->timeout_ms : c->o.default_timeout_ms;
        rq->max_body = in->max_response ? in->max_response : c->o.max_response_body;
        rq->start_ms = fo_loop_update_time(c->loop);
        rc = setup(rq, in, method);
    }
    if (!rc && curl_multi_add_handle(c->multi, rq->easy) != CURLM_OK) rc = FO_ENOMEM;
    if (rc) {
        if (rq) free_req(rq);
        c->st.refused++;
        return rc;
    }
    fo_timer_init(&rq->deadline, deadline_cb, rq);
    fo_timer_start(c->loop, &rq->deadline, (uint64_t)rq->timeout_ms);
    LIST_LINK(c->reqs, rq);
    c->st.in_flight++;
    c->st.sent++;
    if (out) *out = rq;
    return 0;
}

void fo_httpc_cancel(fo_httpc_req_t *rq)
{
    if (!rq || rq->done) return;
    rq->c->st.cancelled++;
    detach(rq);
    free_req(rq);
}

int fo_httpc_header(const fo_httpc_resp_t *resp, const char *name, char *out, size_t cap)
{
    if (cap) out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *line = resp->headers; line && *line;) {
        size_t len = strcspn(line, "\n");
        if (len > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1, *e = line + len;
            while (v < e && (*v == ' ' || *v == '\t')) v++;
            while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
            size_t vl = (size_t)(e - v);
            if (cap) {
                size_t k = vl < cap - 1 ? vl : cap - 1;
                memcpy(out, v, k);
                out[k] = '\0';
            }
            return (int)vl;
        }
        line += len;
        if (*line) line++;
    }
    return FO_ENOTFOUND;
}

void fo_httpc_stats(const fo_httpc_t *c, fo_httpc_stats_t *out) { *out = c->st; }

/* --- lifecycle --- */

fo_httpc_t *fo_httpc_new(fo_loop_t *loop, const fo_httpc_opts_t *opts)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        FO_LOG(FO_LOG_ERROR, "httpc", "libcurl initialisation failed");
        return NULL;
    }
    fo_httpc_t *c = calloc(1, sizeof *c);
    if (!c || !(c->multi = curl_multi_init())) {
        FO_LOG(FO_LOG_ERROR, "httpc", "out of memory");
        free(c);
        curl_global_cleanup();
        return NULL;
    }
    c->loop = loop;
    if (opts) c->o = *opts;
    if (c->o.max_in_flight <= 0) c->o.max_in_flight = DEF_MAX_IN_FLIGHT;
    if (!c->o.max_request_body) c->o.max_request_body = DEF_MAX_BODY;
    if (!c->o.max_response_body) c->o.max_response_body = DEF_MAX_BODY;
    if (c->o.default_timeout_ms <= 0) c->o.default_timeout_ms = DEF_TIMEOUT_MS;
    c->ca_bundle = access(SYSTEM_CA_BUNDLE, R_OK) == 0;
    fo_timer_init(&c->timer, timer_cb, c);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, MAX_IDLE_CONNECTIONS);
    if (c->o.max_host_connections > 0)
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->o.max_host_connections);
    return c;
}

void fo_httpc_free(fo_httpc_t *c)
{
    if (!c) return;
    while (c->reqs) {
        fo_httpc_req_t *rq = c->reqs;
        detach(rq);
        free_req(rq);
    }
    curl_multi_cleanup(c->multi); /* closes the idle connections (may call socket_cb) */
    fo_timer_stop(c->loop, &c->timer);
    while (c->socks) {
        sock_t *k = c->socks;
        fo_loop_io_del(c->loop, &k->io);
        LIST_UNLINK(c->socks, k);
        free(k);
    }
    free(c);
    curl_global_cleanup();
}
