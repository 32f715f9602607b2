/* SPDX-License-Identifier: MIT */
/* libmicrohttpd glue. MHD runs in "external epoll" mode inside our loop: no extra thread, so
 * the API handler runs on the media thread and needs no locks or cross-thread hand-off.
 * Request handling is short (SDP parse + answer build, ~tens of µs), so it does not disturb
 * the packet path measurably; anything that waits (an operator's callback) is deferred: the
 * connection is suspended (MHD_suspend_connection) and resumed when its answer is ready, with
 * MHD_run scheduled at once so the answer leaves in the same loop iteration. MHD does not
 * watch a suspended socket, so we do: EPOLLRDHUP on it tells us the client left. The HTTPS
 * server is a second daemon of the same kind (MHD_USE_TLS, GnuTLS inside libmicrohttpd) with
 * the same handler and pages.
 * The per-client limits (src/signal/clients.c) are applied here, in the "front" functions below: at
 * accept (MHD's accept policy: per-client connections, bans), per connection (a deadline for
 * each request's headers and body, enforced by a sweep that shuts the socket down, since MHD's
 * own timeout is an idle timeout that a slow sender keeps resetting), per request (signaling
 * rate: 429) and per answer (failures that ban). */
#include "fanout/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/webroot.h"

/* Descriptors kept for everything but HTTP connections (media socket, epoll, eventfds, send
 * workers, log, outbound HTTP), when the connection limit comes from RLIMIT_NOFILE. */
#define FD_RESERVE 256
#define FRONT_SWEEP_MS 500

/* One TCP connection, as the front sees it (MHD's socket context). */
typedef struct front_conn {
    struct front_conn *prev, *next;
    struct sockaddr_storage addr;
    int fd;
    uint64_t deadline_ms; /* the request being read must be complete by then; 0: none */
    bool cut;             /* shut down for missing its deadline */
} front_conn_t;

struct fo_http {
    fo_loop_t *loop;
    struct MHD_Daemon *d;
    fo_io_t io;
    fo_timer_t timer;
    fo_clients_t *clients;   /* NULL: no per-client limits */
    front_conn_t conns;      /* list head of open connections */
    fo_timer_t front_timer;  /* the request-deadline sweep */
    unsigned max_conns;
    char www[512];
    size_t max_body;
    fo_http_handler_cb cb;
    void *user;
    int port;
    uint64_t runs;            /* MHD_run calls */
    bool tls;
    char *cert_pem, *key_pem; /* MHD keeps pointers to them for the daemon's life */
    const char *priorities;   /* GnuTLS priority string (the caller's, read at start) */
    const char *page_csp;     /* the caller's; "" = no CSP on static files */
    fo_http_defer_t *defers;  /* waiting for their owners */
    size_t n_defers;
};

/* Where a connection stands between its complete request and its answer. */
typedef enum {
    CC_NEW = 0,     /* receiving, or in the handler */
    CC_DEFERRED,    /* waiting for its owner (suspended once the handler returned) */
    CC_ANSWERED,    /* the deferred answer is in `answer`: queue it when MHD calls again */
    CC_DROP,        /* the client left while deferred: close when MHD calls again */
} cc_state_t;

typedef struct {
    char *buf;
    size_t len;
    bool too_large;
    cc_state_t state;
    bool in_handler;
    bool suspended;
    fo_http_resp_t answer;
} conn_ctx_t;

/* What fo_http_req_t.conn points at during the handler call. */
typedef struct {
    fo_http_t *h;
    struct MHD_Connection *c;
    conn_ctx_t *cc;
} req_conn_t;

struct fo_http_defer {
    fo_http_t *h;
    struct MHD_Connection *c;
    conn_ctx_t *cc;
    fo_io_t watch;            /* the client's socket, EPOLLRDHUP */
    fo_timer_t timer;
    fo_http_defer_cb cb;
    void *user;
    bool ending;              /* inside cb: an answer from it is taken, nothing else */
    fo_http_defer_t *prev, *next;
};
static void run_mhd(fo_http_t *h);
static void add_common_headers(struct MHD_Response *r);

/* --- the front: per-client limits ---------------------------------------------------------- */

static const struct sockaddr *client_sockaddr(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci ? ci->client_addr : NULL;
}

static front_conn_t *front_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The connection must deliver its next request within http.request_timeout from now. */
static void front_arm(fo_http_t *h, front_conn_t *fc)
{
    int ms = h->clients ? fo_clients_request_timeout_ms(h->clients) : 0;
    if (!fc || ms <= 0) return;
    fc->deadline_ms = fo_loop_now(h->loop) + (uint64_t)ms;
    if (!fo_timer_active(&h->front_timer)) fo_timer_start(h->loop, &h->front_timer, FRONT_SWEEP_MS);
}

/* Shuts down connections whose request is late; MHD sees the end of the stream and closes them
 * on its next run. Runs while connections are open. */
static void front_sweep_cb(fo_timer_t *t)
{
    fo_http_t *h = t->user;
    uint64_t now = fo_loop_now(h->loop);
    bool cut = false;
    for (front_conn_t *fc = h->conns.next; fc != &h->conns; fc = fc->next) {
        if (fc->cut || !fc->deadline_ms || now < fc->deadline_ms) continue;
        fc->cut = cut = true;
        shutdown(fc->fd, SHUT_RDWR);
        fo_clients_timed_out(h->clients, (const struct sockaddr *)&fc->addr);
    }
    if (h->conns.next != &h->conns) fo_timer_start(h->loop, &h->front_timer, FRONT_SWEEP_MS);
    if (cut) run_mhd(h);
}

/* MHD's accept policy: per-client connection cap and bans. */
static enum MHD_Result accept_cb(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)len;
    fo_http_t *h = cls;
    return !h->clients || fo_clients_accept(h->clients, addr) == 0 ? MHD_YES : MHD_NO;
}

static void notify_conn_cb(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe)
{
    fo_http_t *h = cls;
    front_conn_t *fc = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        if (!(fc = calloc(1, sizeof *fc))) return; /* untimed, uncounted */
        const struct sockaddr *sa = client_sockaddr(c);
        if (sa) memcpy(&fc->addr, sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        fc->fd = ci ? ci->connect_fd : -1;
        fc->next = h->conns.next;
        fc->prev = &h->conns;
        h->conns.next->prev = fc;
        h->conns.next = fc;
        if (h->clients) fo_clients_opened(h->clients, (const struct sockaddr *)&fc->addr);
        front_arm(h, fc);
        *socket_context = fc;
        return;
    }
    if (!fc) return;
    fc->prev->next = fc->next;
    fc->next->prev = fc->prev;
    if (h->clients) fo_clients_closed(h->clients, (const struct sockaddr *)&fc->addr);
    free(fc);
    *socket_context = NULL;
}

/* A request's headers are in: a banned client gets 403 and the connection closes, a client over
 * the signaling rate 429 with Retry-After. Returns true when it queued that answer (*ret). */
static bool front_refuses(fo_http_t *h, struct MHD_Connection *c, const char *method,
                          const char *url, enum MHD_Result *ret)
{
    if (!h->clients) return false;
    int retry = 0;
    int rc = fo_clients_request(h->clients, client_sockaddr(c), fo_clients_is_signaling(method, url), &retry);
    if (rc == 0) return false;
    char body[160], after[16];
    int status = rc == FO_EDENIED ? 403 : 429;
    snprintf(body, sizeof body, "{\"code\":%d,\"msg\":\"%s; retry after %d s\"}", status,
             rc == FO_EDENIED ? "too many failed requests: banned" : "too many requests", retry);
    snprintf(after, sizeof after, "%d", retry);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    if (!r) {
        *ret = MHD_NO;
        return true;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Retry-After", after);
    if (status == 403) MHD_add_response_header(r, "Connection", "close");
    add_common_headers(r);
    *ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return true;
}

/* libmicrohttpd's own messages (a client that closed mid-request...): the sender's doing, so
 * debug level, in our log instead of bare on stderr. */
static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
    if (FO_LOG_DEBUG > fo_log_level_current) return;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    FO_LOG(FO_LOG_DEBUG, ((fo_http_t *)cls)->tls ? "https" : "http", "libmicrohttpd: %s", msg);
}

/* The connection limit of one daemon: http.max_connections, or what the descriptor limit leaves
 * after FD_RESERVE, shared by the HTTP and HTTPS servers. */
static unsigned connection_limit(const fo_http_t *h)
{
    int configured = h->clients ? fo_clients_max_connections(h->clients) : 0;
    if (configured > 0) return (unsigned)configured;
    struct rlimit rl;
    rlim_t n = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
    if (n == RLIM_INFINITY || n > 1u << 20) n = 1u << 20;
    rlim_t share = n > FD_RESERVE ? (n - FD_RESERVE) / 2 : 0;
    return share < 16 ? 16 : (unsigned)share;
}

static void schedule(fo_http_t *h)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->d, &ms) == MHD_YES) fo_timer_start(h->loop, &h->timer, ms);
    else fo_timer_stop(h->loop, &h->timer);
}

static void run_mhd(fo_http_t *h)
{
    h->runs++;
    MHD_run(h->d);
    schedule(h);
}

/* MHD_run at this iteration's timer pass: after a resume (MHD wants MHD_run then; its epoll
 * fd may not signal it), and never re-entering MHD from one of its own callbacks. */
static void kick(fo_http_t *h) { fo_timer_start(h->loop, &h->timer, 0); }

static void io_cb(fo_io_t *io, uint32_t events)
{
    (void)events;
    run_mhd(io->user);
}

static void timer_cb(fo_timer_t *t) { run_mhd(t->user); }

/* What every answer carries: the server's name, and nosniff so that no browser reads a JSON or
 * text answer as a script or a page whatever it holds. */
static void add_common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Server", "fanout/" FO_VERSION);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}

/* API answers (JSON, SDP, text): never a page, never framed, never cached. */
static void add_api_headers(struct MHD_Response *r)
{
    add_common_headers(r);
    MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    MHD_add_response_header(r, "Cache-Control", "no-store");
}

/* CORS as the handler decided (fo_http_cors_t). */
static void add_cors_headers(struct MHD_Response *r, fo_http_cors_t cors, const char *origin)
{
    if (cors == FO_HTTP_CORS_ANY) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "POST, DELETE, PATCH, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Content-Type, Authorization, If-Match");
        MHD_add_response_header(r, "Access-Control-Expose-Headers", "Location, Link, ETag");
    } else if (cors == FO_HTTP_CORS_ORIGIN && origin && *origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(r, "Vary", "Origin");
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, DELETE, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization");
    }
}

static enum MHD_Result queue_buffer(struct MHD_Connection *c, int status, const char *ctype,
                                    const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (ctype && *ctype) MHD_add_response_header(r, "Content-Type", ctype);
    add_api_headers(r);
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
    const char *rel = strcmp(url, "/") == 0 ? "/index.html" : url;
    size_t size = 0;
    int fd = fo_webroot_open(h->www, rel, FO_WEBROOT_AUTO, &size);
    if (fd < 0) {
        static const char msg[] = "{\"code\":404,\"msg\":\"not found\"}";
        return queue_buffer(c, 404, "application/json", msg, sizeof msg - 1);
    }
    struct MHD_Response *r = MHD_create_response_from_fd(size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", mime_for(rel));
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    add_common_headers(r);
    /* The pages' policy (http.csp): scripts and styles from this origin only, no framing by
     * other sites (clickjacking the publisher's buttons). Referrer: page URLs may carry tokens. */
    if (h->page_csp && *h->page_csp) MHD_add_response_header(r, "Content-Security-Policy", h->page_csp);
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
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

/* Queues a handler's answer; takes resp->body. */
static enum MHD_Result queue_resp(struct MHD_Connection *c, fo_http_resp_t *resp)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp->body_len, resp->body ? resp->body : (void *)"", resp->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(resp->body);
        resp->body = NULL;
        return MHD_NO;
    }
    resp->body = NULL;
    if (resp->content_type[0]) MHD_add_response_header(r, "Content-Type", resp->content_type);
    if (resp->location[0]) MHD_add_response_header(r, "Location", resp->location);
    if (resp->allow[0]) MHD_add_response_header(r, "Allow", resp->allow);
    add_extra_headers(r, resp->headers);
    add_api_headers(r);
    add_cors_headers(r, resp->cors, header(c, "Origin"));
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
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
        .origin = header(c, "Origin"),
        .sec_fetch_site = header(c, "Sec-Fetch-Site"),
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
    req_conn_t link = {h, c, cc};
    req.conn = &link;
    cc->in_handler = true;
    bool handled = h->cb(h->user, &req, &resp);
    cc->in_handler = false;
    if (cc->state == CC_DEFERRED) {
        free(resp.body);
        MHD_suspend_connection(c);
        cc->suspended = true;
        return MHD_YES;
    }
    if (cc->state == CC_ANSWERED) { /* deferred and answered within the handler */
        free(resp.body);
        cc->state = CC_NEW;
        resp = cc->answer;
        cc->answer = (fo_http_resp_t){0};
    } else if (!handled) {
        free(resp.body);
        return serve_static(h, c, method, url);
    }
    if (h->clients) fo_clients_answered(h->clients, client_sockaddr(c), resp.status);
    return queue_resp(c, &resp);
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
        enum MHD_Result refused;
        if (front_refuses(h, c, method, url, &refused)) return refused;
        return MHD_YES;
    }
    if (cc->suspended) { /* resumed: the deferred answer is ready, or the client left */
        cc->suspended = false;
        if (cc->state != CC_ANSWERED) return MHD_NO;
        cc->state = CC_NEW;
        fo_http_resp_t resp = cc->answer;
        cc->answer = (fo_http_resp_t){0};
        if (h->clients) fo_clients_answered(h->clients, client_sockaddr(c), resp.status);
        return queue_resp(c, &resp);
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
    front_conn_t *fc = front_of(c);
    if (fc) fc->deadline_ms = 0; /* the request is complete: no more deadline until the next */
    return dispatch(h, c, url, method, cc);
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    front_arm(cls, front_of(c)); /* a kept-alive connection: the next request's deadline */
    conn_ctx_t *cc = *con_cls;
    if (cc) {
        free(cc->buf);
        free(cc->answer.body);
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
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)h->priorities},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem addr_opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, ss},
        {MHD_OPTION_END, 0, NULL},
    };
    if (h->tls) flags |= MHD_USE_TLS;
    if (!ss) flags |= MHD_USE_NO_LISTEN_SOCKET;
    return MHD_start_daemon(flags, (uint16_t)port, accept_cb, h, access_cb, h, MHD_OPTION_NOTIFY_COMPLETED,
                            completed_cb, h, MHD_OPTION_NOTIFY_CONNECTION, notify_conn_cb, h,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, h, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, h->max_conns, MHD_OPTION_ARRAY,
                            h->tls ? tls_opts : tls_opts + 3, MHD_OPTION_ARRAY,
                            ss ? addr_opts : addr_opts + 1, MHD_OPTION_END);
}

/* Starts the daemon for fo_http_new / fo_http_new_tls: h is filled but for d, io, port. addr
 * NULL: no listening socket (fo_http_adopt). "::" is dual-stack, falling back to 0.0.0.0 where
 * the kernel has no IPv6. */
static fo_http_t *start(fo_http_t *h, const char *addr, int port)
{
    struct sockaddr_storage ss = {0};
    /* No MHD_USE_TURBO with TLS: it marks a new connection ready before it is, and a TLS
     * handshake waiting for the client (gnutls reads, MHD never sees the EAGAIN) keeps it so:
     * MHD_get_timeout says 0 for as long as the client stays silent and MHD_run spins. */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | (h->tls ? 0u : MHD_USE_TURBO);
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
        FO_LOG(FO_LOG_ERROR, NULL, "%s server cannot listen on %s:%d: %s%s", h->tls ? "HTTPS" : "HTTP",
               addr, port, strerror(errno),
               h->tls ? " (or https.priorities / the certificate were refused: see the line above)" : "");
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = pi && pi->port ? pi->port : port;
    h->io = (fo_io_t){.fd = di ? di->epoll_fd : -1, .cb = io_cb, .user = h};
    fo_timer_init(&h->timer, timer_cb, h);
    FO_LOG(FO_LOG_INFO, h->tls ? "https" : "http", "up to %u connections at once%s", h->max_conns,
           h->clients && fo_clients_max_connections(h->clients) > 0
               ? " (http.max_connections)" : " (from the file-descriptor limit)");
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
                             fo_http_handler_cb cb, void *user, fo_clients_t *clients)
{
    fo_http_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->loop = loop;
    h->clients = clients;
    h->conns.next = h->conns.prev = &h->conns;
    fo_timer_init(&h->front_timer, front_sweep_cb, h);
    h->max_conns = connection_limit(h);
    h->cb = cb;
    h->user = user;
    h->max_body = max_body;
    snprintf(h->www, sizeof h->www, "%s", www_root);
    return h;
}

fo_http_t *fo_http_new(fo_loop_t *loop, const char *addr, int port, const char *www_root,
                       size_t max_body, fo_http_handler_cb cb, void *user, fo_clients_t *clients)
{
    fo_http_t *h = alloc_http(loop, www_root, max_body, cb, user, clients);
    return h ? start(h, addr, port) : NULL;
}

fo_http_t *fo_http_new_tls(fo_loop_t *loop, const char *addr, int port, const char *www_root,
                           size_t max_body, const char *cert_path, const char *key_path,
                           const char *priorities, fo_http_handler_cb cb, void *user,
                           fo_clients_t *clients)
{
    fo_http_t *h = alloc_http(loop, www_root, max_body, cb, user, clients);
    if (!h) return NULL;
    h->tls = true;
    h->priorities = priorities;
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

void fo_http_set_page_csp(fo_http_t *h, const char *csp) { h->page_csp = csp; }
static void end_defer(fo_http_defer_t *d, fo_http_defer_end_t why);

void fo_http_free(fo_http_t *h)
{
    if (!h) return;
    /* MHD must not stop with suspended connections: end them (they are resumed) first, and
     * run MHD once so their answers (503) go out before the connections close. */
    bool ended = h->defers != NULL;
    while (h->defers) end_defer(h->defers, FO_HTTP_DEFER_SHUTDOWN);
    if (ended) MHD_run(h->d);
    fo_loop_io_del(h->loop, &h->io);
    MHD_stop_daemon(h->d); /* closes the connections: notify_conn_cb frees the front's records */
    /* After MHD's last callbacks: those may arm them (a request completed re-arms the front's
     * sweep, a resume kicks MHD), and a timer left in the loop would outlive h. */
    fo_timer_stop(h->loop, &h->timer);
    fo_timer_stop(h->loop, &h->front_timer);
    if (h->key_pem) memset(h->key_pem, 0, strlen(h->key_pem));
    free(h->cert_pem);
    free(h->key_pem);
    free(h);
}

int fo_http_port(const fo_http_t *h) { return h->port; }

uint64_t fo_http_runs(const fo_http_t *h) { return h->runs; }

/* --- deferred answers --- */

static void defer_watch_cb(fo_io_t *io, uint32_t events);
static void defer_timer_cb(fo_timer_t *t);

fo_http_defer_t *fo_http_defer(const fo_http_req_t *req, int timeout_ms, fo_http_defer_cb cb,
                               void *user)
{
    req_conn_t *link = req->conn;
    if (!link || !link->cc->in_handler || link->cc->state != CC_NEW || !cb) return NULL;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(link->c, MHD_CONNECTION_INFO_CONNECTION_FD);
    fo_http_defer_t *d = ci ? calloc(1, sizeof *d) : NULL;
    if (!d) return NULL;
    fo_http_t *h = link->h;
    *d = (fo_http_defer_t){.h = h, .c = link->c, .cc = link->cc, .cb = cb, .user = user};
    d->watch = (fo_io_t){.fd = ci->connect_fd, .cb = defer_watch_cb, .user = d};
    /* Edge-triggered hang-up only: data a client pipelines meanwhile does not wake us. */
    if (fo_loop_io_add(h->loop, &d->watch, EPOLLRDHUP | EPOLLET) != 0) {
        free(d);
        return NULL;
    }
    fo_timer_init(&d->timer, defer_timer_cb, d);
    if (timeout_ms > 0) fo_timer_start(h->loop, &d->timer, (uint64_t)timeout_ms);
    d->next = h->defers;
    if (h->defers) h->defers->prev = d;
    h->defers = d;
    h->n_defers++;
    link->cc->state = CC_DEFERRED;
    return d;
}

/* Unlinks and frees d; the connection is resumed (if the handler had returned) so MHD calls
 * access_cb again, which queues the answer or closes. */
static void release(fo_http_defer_t *d)
{
    fo_http_t *h = d->h;
    fo_loop_io_del(h->loop, &d->watch);
    fo_timer_stop(h->loop, &d->timer);
    if (d->prev) d->prev->next = d->next;
    else h->defers = d->next;
    if (d->next) d->next->prev = d->prev;
    h->n_defers--;
    if (d->cc->suspended) {
        MHD_resume_connection(d->c);
        kick(h);
    }
    free(d);
}

void fo_http_defer_answer(fo_http_defer_t *d, fo_http_resp_t *resp)
{
    conn_ctx_t *cc = d->cc;
    if (cc->state != CC_DEFERRED) { /* the client left (CLOSED callback): nobody to answer */
        free(resp->body);
        resp->body = NULL;
        return;
    }
    cc->answer = *resp;
    resp->body = NULL;
    cc->state = CC_ANSWERED;
    if (!d->ending) release(d); /* else end_defer releases it after the callback */
}

/* Ends d before its owner answered: tells the owner, then answers by default or closes. */
static void end_defer(fo_http_defer_t *d, fo_http_defer_end_t why)
{
    conn_ctx_t *cc = d->cc;
    if (why == FO_HTTP_DEFER_CLOSED) cc->state = CC_DROP;
    d->ending = true;
    d->cb(d->user, d, why);
    if (cc->state == CC_DEFERRED) {
        fo_http_resp_t r = {.status = why == FO_HTTP_DEFER_TIMEOUT ? 504 : 503, .cors = FO_HTTP_CORS_ANY};
        snprintf(r.content_type, sizeof r.content_type, "text/plain; charset=utf-8");
        r.body = strdup(why == FO_HTTP_DEFER_TIMEOUT ? "timed out\n" : "server shutting down\n");
        r.body_len = r.body ? strlen(r.body) : 0;
        cc->answer = r;
        cc->state = CC_ANSWERED;
    }
    release(d);
}

static void defer_watch_cb(fo_io_t *io, uint32_t events)
{
    fo_http_defer_t *d = io->user;
    if (!(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
    FO_LOG(FO_LOG_DEBUG, NULL, "client left while its request was deferred");
    end_defer(d, FO_HTTP_DEFER_CLOSED);
}

static void defer_timer_cb(fo_timer_t *t) { end_defer(t->user, FO_HTTP_DEFER_TIMEOUT); }

bool fo_http_defer_client_gone(const fo_http_defer_t *d)
{
    struct pollfd p = {.fd = d->watch.fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

size_t fo_http_deferred(const fo_http_t *h) { return h->n_defers; }
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
