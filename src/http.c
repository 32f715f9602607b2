/* SPDX-License-Identifier: MIT */
/* libmicrohttpd glue. MHD runs in "external epoll" mode inside our loop: no extra thread, so
 * the API handler runs on the media thread and needs no locks or cross-thread hand-off.
 * Request handling is short (SDP parse + answer build, ~tens of µs), so it does not disturb
 * the packet path measurably. The HTTPS server is a second daemon of the same kind (MHD_USE_TLS,
 * GnuTLS inside libmicrohttpd) with the same handler and pages. */
#include "fanout/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"

struct fo_http {
    fo_loop_t *loop;
    struct MHD_Daemon *d;
    fo_io_t io;
    fo_timer_t timer;
    char www[512];
    size_t max_body;
    fo_http_handler_cb cb;
    void *user;
    int port;
    bool tls;
    char *cert_pem, *key_pem; /* MHD keeps pointers to them for the daemon's life */
};

typedef struct {
    char *buf;
    size_t len;
    bool too_large;
} conn_ctx_t;

static void schedule(fo_http_t *h)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->d, &ms) == MHD_YES) fo_timer_start(h->loop, &h->timer, ms);
    else fo_timer_stop(h->loop, &h->timer);
}

static void run_mhd(fo_http_t *h)
{
    MHD_run(h->d);
    schedule(h);
}

static void io_cb(fo_io_t *io, uint32_t events)
{
    (void)events;
    run_mhd(io->user);
}

static void timer_cb(fo_timer_t *t) { run_mhd(t->user); }

static void add_common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, DELETE, PATCH, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers",
                            "Content-Type, Authorization, If-Match");
    MHD_add_response_header(r, "Access-Control-Expose-Headers", "Location, Link, ETag");
    MHD_add_response_header(r, "Server", "fanout/" FO_VERSION);
}

static enum MHD_Result queue_buffer(struct MHD_Connection *c, int status, const char *ctype,
                                    const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (ctype && *ctype) MHD_add_response_header(r, "Content-Type", ctype);
    add_common_headers(r);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static const char *mime_for(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
                 {".png", "image/png"},                 {".svg", "image/svg+xml"},
                 {".ico", "image/x-icon"},              {".txt", "text/plain; charset=utf-8"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < FO_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

static enum MHD_Result serve_static(fo_http_t *h, struct MHD_Connection *c, const char *method,
                                    const char *url)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char msg[] = "{\"code\":405,\"msg\":\"method not allowed\"}";
        return queue_buffer(c, 405, "application/json", msg, sizeof msg - 1);
    }
    char path[1024];
    const char *rel = strcmp(url, "/") == 0 ? "/index.html" : url;
    /* No way out of the www root: refuse "..", backslashes and control characters. */
    bool bad = strstr(rel, "..") || strchr(rel, '\\') || rel[0] != '/';
    for (const char *p = rel; *p && !bad; p++) bad = (unsigned char)*p < 0x20;
    int fd = -1;
    struct stat st;
    if (!bad && (size_t)snprintf(path, sizeof path, "%s%s", h->www, rel) < sizeof path)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        static const char msg[] = "{\"code\":404,\"msg\":\"not found\"}";
        return queue_buffer(c, 404, "application/json", msg, sizeof msg - 1);
    }
    struct MHD_Response *r = MHD_create_response_from_fd((size_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", mime_for(rel));
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    add_common_headers(r);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

typedef struct {
    char *buf;
    size_t len, cap;
} qbuf_t;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    qbuf_t *q = cls;
    static const char hex[] = "0123456789ABCDEF";
    const char *parts[2] = {key, value};
    if (q->len && q->len + 1 < q->cap) q->buf[q->len++] = '&';
    for (int i = 0; i < 2; i++) {
        if (i == 1) {
            if (!value) break;
            if (q->len + 1 < q->cap) q->buf[q->len++] = '=';
        }
        for (const char *p = parts[i]; p && *p; p++) {
            unsigned char ch = (unsigned char)*p;
            bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                         ch == '-' || ch == '_' || ch == '.' || ch == '~';
            if (q->len + 4 >= q->cap) return MHD_NO;
            if (plain) {
                q->buf[q->len++] = (char)ch;
            } else {
                q->buf[q->len++] = '%';
                q->buf[q->len++] = hex[ch >> 4];
                q->buf[q->len++] = hex[ch & 15];
            }
        }
    }
    q->buf[q->len] = '\0';
    return MHD_YES;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v ? v : "";
}

/* "Name: value\r\n" lines from a handler's resp.headers. */
static void add_extra_headers(struct MHD_Response *r, char *lines)
{
    for (char *save = NULL, *line = strtok_r(lines, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon || colon == line) continue;
        *colon = '\0';
        const char *v = colon + 1;
        while (*v == ' ') v++;
        MHD_add_response_header(r, line, v);
    }
}

static enum MHD_Result dispatch(fo_http_t *h, struct MHD_Connection *c, const char *url,
                                const char *method, conn_ctx_t *cc)
{
    char query[2048] = "";
    qbuf_t q = {query, 0, sizeof query};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    fo_http_req_t req = {
        .method = method,
        .path = url,
        .query = query,
        .body = cc->buf ? cc->buf : "",
        .body_len = cc->len,
        .body_too_large = cc->too_large,
        .content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE),
        .authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION),
        .host = header(c, MHD_HTTP_HEADER_HOST),
        .if_match = header(c, MHD_HTTP_HEADER_IF_MATCH),
        .tls = h->tls,
    };
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req.remote_ip, sizeof req.remote_ip);
        else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr))
            /* an IPv4 client of a dual-stack socket: its IPv4 form, as limits and auth expect */
            inet_ntop(AF_INET, &((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr[12], req.remote_ip,
                      sizeof req.remote_ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req.remote_ip, sizeof req.remote_ip);
    }
    fo_http_resp_t resp = {0};
    if (!h->cb(h->user, &req, &resp)) {
        free(resp.body);
        return serve_static(h, c, method, url);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp.body_len, resp.body ? resp.body : (void *)"", resp.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(resp.body);
        return MHD_NO;
    }
    if (resp.content_type[0]) MHD_add_response_header(r, "Content-Type", resp.content_type);
    if (resp.location[0]) MHD_add_response_header(r, "Location", resp.location);
    if (resp.allow[0]) MHD_add_response_header(r, "Allow", resp.allow);
    add_extra_headers(r, resp.headers);
    add_common_headers(r);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    (void)version;
    fo_http_t *h = cls;
    conn_ctx_t *cc = *con_cls;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc) return MHD_NO;
        *con_cls = cc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cc->too_large && cc->len + *upload_size <= h->max_body) {
            char *b = realloc(cc->buf, cc->len + *upload_size + 1);
            if (!b) return MHD_NO;
            cc->buf = b;
            memcpy(cc->buf + cc->len, upload, *upload_size);
            cc->len += *upload_size;
            cc->buf[cc->len] = '\0';
        } else {
            cc->too_large = true; /* keep reading and discarding, answer 413 at the end */
            free(cc->buf);
            cc->buf = NULL;
            cc->len = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(h, c, url, method, cc);
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    conn_ctx_t *cc = *con_cls;
    if (cc) {
        free(cc->buf);
        free(cc);
    }
    *con_cls = NULL;
}

/* Reads a whole (small) file into a NUL-terminated heap string; NULL on failure (logged). */
static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (f && len > 0 && len < 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len + 1)) != NULL) {
        if (fread(buf, 1, (size_t)len, f) == (size_t)len) {
            buf[len] = '\0';
        } else {
            free(buf);
            buf = NULL;
        }
    }
    if (!buf) FO_LOG(FO_LOG_ERROR, "https", "cannot read %s: %s", path, f ? "bad file" : strerror(errno));
    if (f) fclose(f);
    return buf;
}

/* MHD_start_daemon for start(): listening on ss (NULL: no listening socket, connections come
 * through fo_http_adopt). */
static struct MHD_Daemon *start_daemon(fo_http_t *h, unsigned flags, int port, struct sockaddr_storage *ss)
{
    /* The TLS options (and the address) are passed in arrays so that one call serves all. */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem addr_opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, ss},
        {MHD_OPTION_END, 0, NULL},
    };
    if (h->tls) flags |= MHD_USE_TLS;
    if (!ss) flags |= MHD_USE_NO_LISTEN_SOCKET;
    return MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, access_cb, h, MHD_OPTION_NOTIFY_COMPLETED,
                            completed_cb, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_ARRAY,
                            h->tls ? tls_opts : tls_opts + 2, MHD_OPTION_ARRAY,
                            ss ? addr_opts : addr_opts + 1, MHD_OPTION_END);
}

/* Starts the daemon for fo_http_new / fo_http_new_tls: h is filled but for d, io, port. addr
 * NULL: no listening socket (fo_http_adopt). "::" is dual-stack, falling back to 0.0.0.0 where
 * the kernel has no IPv6. */
static fo_http_t *start(fo_http_t *h, const char *addr, int port)
{
    struct sockaddr_storage ss = {0};
    unsigned flags = MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (!addr) {
        h->d = start_daemon(h, flags, 0, NULL);
        addr = "(adopted connections)";
    } else if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        h->d = start_daemon(h, flags, port, &ss);
    } else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        h->d = start_daemon(h, flags | MHD_USE_IPv6 | MHD_USE_DUAL_STACK, port, &ss);
        if (!h->d && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL) && strcmp(addr, "::") == 0) {
            FO_LOG(FO_LOG_WARN, NULL, "no IPv6 on this machine: %s on 0.0.0.0:%d instead of [::]:%d",
                   h->tls ? "HTTPS" : "HTTP", port, port);
            memset(&ss, 0, sizeof ss);
            ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
            h->d = start_daemon(h, flags, port, &ss);
        }
    } else {
        FO_LOG(FO_LOG_ERROR, NULL, "http listen address '%s' is not an IP address", addr);
        goto fail;
    }
    if (!h->d) {
        FO_LOG(FO_LOG_ERROR, NULL, "%s server cannot listen on %s:%d: %s", h->tls ? "HTTPS" : "HTTP",
               addr, port, strerror(errno));
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = pi && pi->port ? pi->port : port;
    h->io = (fo_io_t){.fd = di ? di->epoll_fd : -1, .cb = io_cb, .user = h};
    fo_timer_init(&h->timer, timer_cb, h);
    if (h->io.fd < 0 || fo_loop_io_add(h->loop, &h->io, EPOLLIN) != 0) {
        MHD_stop_daemon(h->d);
        goto fail;
    }
    schedule(h);
    return h;
fail:
    free(h->cert_pem);
    free(h->key_pem);
    free(h);
    return NULL;
}

static fo_http_t *alloc_http(fo_loop_t *loop, const char *www_root, size_t max_body,
                             fo_http_handler_cb cb, void *user)
{
    fo_http_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->loop = loop;
    h->cb = cb;
    h->user = user;
    h->max_body = max_body;
    snprintf(h->www, sizeof h->www, "%s", www_root);
    return h;
}

fo_http_t *fo_http_new(fo_loop_t *loop, const char *addr, int port, const char *www_root,
                       size_t max_body, fo_http_handler_cb cb, void *user)
{
    fo_http_t *h = alloc_http(loop, www_root, max_body, cb, user);
    return h ? start(h, addr, port) : NULL;
}

fo_http_t *fo_http_new_tls(fo_loop_t *loop, const char *addr, int port, const char *www_root,
                           size_t max_body, const char *cert_path, const char *key_path,
                           fo_http_handler_cb cb, void *user)
{
    /* addr NULL: no listening socket (one-port mode, fo_http_adopt) */
    fo_http_t *h = alloc_http(loop, www_root, max_body, cb, user);
    if (!h) return NULL;
    h->tls = true;
    h->cert_pem = read_pem(cert_path);
    h->key_pem = read_pem(key_path);
    if (!h->cert_pem || !h->key_pem) {
        free(h->cert_pem);
        free(h->key_pem);
        free(h);
        return NULL;
    }
    return start(h, addr, port);
}

void fo_http_free(fo_http_t *h)
{
    if (!h) return;
    fo_timer_stop(h->loop, &h->timer);
    fo_loop_io_del(h->loop, &h->io);
    MHD_stop_daemon(h->d);
    if (h->key_pem) memset(h->key_pem, 0, strlen(h->key_pem));
    free(h->cert_pem);
    free(h->key_pem);
    free(h);
}

int fo_http_port(const fo_http_t *h) { return h->port; }

int fo_http_adopt(fo_http_t *h, int fd, const struct sockaddr *sa, socklen_t salen)
{
    /* MHD owns (and closes) the socket from here, whatever it answers */
    if (MHD_add_connection(h->d, fd, sa, salen) != MHD_YES) {
        FO_LOG(FO_LOG_DEBUG, h->tls ? "https" : "http", "connection refused: %s", strerror(errno));
        return FO_EFULL;
    }
    run_mhd(h);
    return 0;
}
