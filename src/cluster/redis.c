/* SPDX-License-Identifier: MIT */
/* hiredis (async API, 0.14) on fo_loop. Life of a connection: RESOLVE (getaddrinfo_a, polled
 * every RESOLVE_POLL_MS, skipped for IP literals) -> CONNECT (redisAsyncConnect, non-blocking)
 * -> HELLO (AUTH, SELECT, PING pipelined) -> UP; any failure -> DOWN and a backoff timer back to
 * RESOLVE. One timer serves all states: the resolver poll, the connect deadline, the command
 * watchdog and the backoff.
 * What hiredis 0.14 does that shapes this file:
 *  - it frees its context itself after a disconnect (and calls ev.cleanup first), so our fd
 *    registration lives in the fo_redis_t and cleanup only unregisters it; an epoll event
 *    already fetched for a dropped connection finds r->ac NULL and is ignored;
 *  - redisAsyncDisconnect waits for pending replies (never, from a hung server): we drop with
 *    redisAsyncFree, which runs every pending callback with a NULL reply and then onDisconnect
 *    (only for a context that had connected); a failed connect calls onConnect(REDIS_ERR);
 *  - a reply nobody waits for hits an assert in redisProcessCallbacks, and a subscribed context
 *    asserts on malformed pushes: our reply-object functions count the top-level replies we
 *    expect and refuse any other (the reader then fails and the connection drops), and we never
 *    subscribe;
 *  - it has no timeouts of its own in this version: ours are the connect deadline and a
 *    deadline per command. */
#include "fanout/redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/url.h"

#define RESOLVE_POLL_MS 20

typedef enum { ST_DOWN = 0, ST_RESOLVE, ST_CONNECT, ST_HELLO, ST_UP } state_t;

typedef struct req {
    struct req *prev, *next;
    fo_redis_t *r;
    fo_redis_reply_cb cb;
    void *user;
    uint64_t deadline;
} req_t;

struct fo_redis {
    fo_loop_t *loop;
    fo_redis_addr_t addr;
    fo_redis_opts_t opts;
    fo_redis_cbs_t cbs;
    char name[32];
    state_t st;
    bool reported_up;       /* the owner was told "up" last (else "down", or nothing yet) */
    bool reported_any;
    redisAsyncContext *ac;
    fo_io_t io;
    uint32_t events;        /* epoll interest of io */
    bool registered;
    fo_timer_t timer;
    uint64_t deadline;      /* connect deadline while not up */
    unsigned attempt;       /* failed attempts since the last success */
    /* resolver */
    struct gaicb gai;
    struct gaicb *gai_list[1];
    struct addrinfo gai_hints;
    char gai_port[8];
    bool gai_pending;
    char ip[INET6_ADDRSTRLEN];
    /* commands */
    req_t *head, *tail;     /* FIFO of commands awaiting replies */
    size_t expected;        /* top-level replies the reader may still build */
    char proto_err[96];     /* why the reader refused a reply, or Redis refused the hello */
    bool proto_bad;         /* the reader refused input: count a protocol error when lost */
    redisReplyObjectFunctions fns;
    fo_redis_stats_t stats;
};

/* ---- URL ---- */

int fo_redis_url_parse(const char *url, fo_redis_addr_t *out, const char **why)
{
    static const char *dummy;
    if (!why) why = &dummy;
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url || !*url) return *why = "empty Redis URL", FO_EINVAL;
    if (strlen(url) >= 1024) return *why = "Redis URL too long", FO_EINVAL;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) return *why = "blank or control character in Redis URL", FO_EINVAL;
    const char *p = url;
    if (strncmp(p, "redis://", 8) == 0) p += 8;
    else if (strstr(p, "://")) return *why = "Redis URL must start with redis:// (TLS is not supported)", FO_EINVAL;
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@') at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *ue = colon ? colon : at;
        if (fo_url_decode(p, (size_t)(ue - p), out->user, sizeof out->user) < 0)
            return *why = "bad user in Redis URL", FO_EINVAL;
        if (colon && fo_url_decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password) < 0)
            return *why = "bad password in Redis URL", FO_EINVAL;
        if (!colon) { /* "redis://password@host" (a common shorthand): the part is the password */
            memcpy(out->password, out->user, sizeof out->password < sizeof out->user ? sizeof out->password : sizeof out->user);
            out->user[0] = '\0';
        }
        p = at + 1;
    }
    const char *hs = p, *he, *port = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) return *why = "unclosed [ in Redis URL", FO_EINVAL;
        hs = p + 1;
        he = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':') return *why = "junk after ] in Redis URL", FO_EINVAL;
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        he = colon ? colon : end;
        if (colon) port = colon + 1;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof out->host) return *why = "bad host in Redis URL", FO_EINVAL;
    for (const char *q = hs; q < he; q++) {
        char c = *q;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_' || c == ':'))
            return *why = "bad host in Redis URL", FO_EINVAL;
    }
    memcpy(out->host, hs, (size_t)(he - hs));
    out->host[he - hs] = '\0';
    if (port) {
        long v = 0;
        if (port == end) return *why = "bad port in Redis URL", FO_EINVAL;
        for (const char *q = port; q < end; q++) {
            if (*q < '0' || *q > '9' || v > 65535) return *why = "bad port in Redis URL", FO_EINVAL;
            v = v * 10 + (*q - '0');
        }
        if (v < 1 || v > 65535) return *why = "bad port in Redis URL", FO_EINVAL;
        out->port = (int)v;
    }
    if (*end == '/') {
        const char *d = end + 1;
        if (*d) {
            long v = 0;
            for (; *d; d++) {
                if (*d < '0' || *d > '9' || v > 100000) return *why = "bad database number in Redis URL", FO_EINVAL;
                v = v * 10 + (*d - '0');
            }
            out->db = (int)v;
        }
    } else if (*end) {
        return *why = "Redis URL takes no query or fragment", FO_EINVAL;
    }
    return 0;
}

/* ---- replies ---- */

fo_redis_type_t fo_redis_type(const fo_redis_reply_t *r)
{
    const redisReply *x = (const redisReply *)r;
    switch (x->type) {
    case REDIS_REPLY_INTEGER: return FO_REDIS_INT;
    case REDIS_REPLY_STRING: return FO_REDIS_STR;
    case REDIS_REPLY_STATUS: return FO_REDIS_STATUS;
    case REDIS_REPLY_ERROR: return FO_REDIS_ERROR;
    case REDIS_REPLY_ARRAY: return FO_REDIS_ARRAY;
    default: return FO_REDIS_NIL;
    }
}

const char *fo_redis_str(const fo_redis_reply_t *r, size_t *len)
{
    const redisReply *x = (const redisReply *)r;
    if (x->type != REDIS_REPLY_STRING && x->type != REDIS_REPLY_STATUS && x->type != REDIS_REPLY_ERROR)
        return NULL;
    if (len) *len = x->len;
    return x->str;
}

long long fo_redis_int(const fo_redis_reply_t *r)
{
    const redisReply *x = (const redisReply *)r;
    return x->type == REDIS_REPLY_INTEGER ? x->integer : 0;
}

size_t fo_redis_len(const fo_redis_reply_t *r)
{
    const redisReply *x = (const redisReply *)r;
    return x->type == REDIS_REPLY_ARRAY ? x->elements : 0;
}

const fo_redis_reply_t *fo_redis_elem(const fo_redis_reply_t *r, size_t i)
{
    const redisReply *x = (const redisReply *)r;
    if (x->type != REDIS_REPLY_ARRAY || i >= x->elements) return NULL;
    return (const fo_redis_reply_t *)x->element[i];
}

/* Reader object functions: hiredis's own, plus the checks in the file header. They build the
 * same redisReply objects (calloc/malloc), so hiredis's freeReplyObject frees them. */

static void *reject(const redisReadTask *task, const char *why)
{
    fo_redis_t *r = task->privdata;
    if (r && !r->proto_err[0]) snprintf(r->proto_err, sizeof r->proto_err, "bad reply: %s", why);
    if (r) r->proto_bad = true;
    return NULL;
}

/* A new object: a top-level one must be a reply we wait for. */
static redisReply *new_obj(const redisReadTask *task, int type)
{
    fo_redis_t *r = task->privdata;
    if (!task->parent) {
        if (!r || r->expected == 0) return reject(task, "a reply nobody asked for");
        r->expected--;
    } else {
        const redisReply *parent = task->parent->obj;
        if (!parent || parent->type != REDIS_REPLY_ARRAY || task->idx < 0 ||
            (size_t)task->idx >= parent->elements)
            return reject(task, "malformed array");
    }
    redisReply *o = calloc(1, sizeof *o);
    if (!o) return reject(task, "out of memory");
    o->type = type;
    return o;
}

static void *attach(const redisReadTask *task, redisReply *o)
{
    if (task->parent) ((redisReply *)task->parent->obj)->element[task->idx] = o;
    return o;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    if (task->type != REDIS_REPLY_STRING && task->type != REDIS_REPLY_STATUS && task->type != REDIS_REPLY_ERROR)
        return reject(task, "bad string type");
    redisReply *o = new_obj(task, task->type);
    if (!o) return NULL;
    if (!(o->str = malloc(len + 1))) {
        free(o);
        return reject(task, "out of memory");
    }
    memcpy(o->str, str, len);
    o->str[len] = '\0';
    o->len = len;
    return attach(task, o);
}

static void *create_array(const redisReadTask *task, int elements)
{
    if (elements > FO_REDIS_MAX_ELEMENTS) return reject(task, "array too long");
    redisReply *o = new_obj(task, REDIS_REPLY_ARRAY);
    if (!o) return NULL;
    if (elements > 0 && !(o->element = calloc((size_t)elements, sizeof *o->element))) {
        free(o);
        return reject(task, "out of memory");
    }
    o->elements = elements > 0 ? (size_t)elements : 0;
    return attach(task, o);
}

static void *create_integer(const redisReadTask *task, long long value)
{
    redisReply *o = new_obj(task, REDIS_REPLY_INTEGER);
    if (!o) return NULL;
    o->integer = value;
    return attach(task, o);
}

static void *create_nil(const redisReadTask *task)
{
    redisReply *o = new_obj(task, REDIS_REPLY_NIL);
    return o ? attach(task, o) : NULL;
}

/* ---- event library hooks (ev.data = r) ---- */

static void update_io(fo_redis_t *r, uint32_t events)
{
    if (!r->ac || r->io.fd < 0) return;
    if (!r->registered) {
        if (fo_loop_io_add(r->loop, &r->io, events) == 0) r->registered = true;
    } else if (events != r->events) {
        fo_loop_io_mod(r->loop, &r->io, events);
    }
    r->events = events;
}

static void ev_add_read(void *d) { fo_redis_t *r = d; update_io(r, r->events | EPOLLIN); }
static void ev_del_read(void *d) { fo_redis_t *r = d; update_io(r, r->events & ~(uint32_t)EPOLLIN); }
static void ev_add_write(void *d) { fo_redis_t *r = d; update_io(r, r->events | EPOLLOUT); }
static void ev_del_write(void *d) { fo_redis_t *r = d; update_io(r, r->events & ~(uint32_t)EPOLLOUT); }

static void ev_cleanup(void *d)
{
    fo_redis_t *r = d;
    if (r->registered) fo_loop_io_del(r->loop, &r->io);
    r->registered = false;
    r->events = 0;
    r->io.fd = -1;
    r->ac = NULL; /* hiredis frees the context right after this */
}

/* ---- connection life ---- */

static void arm(fo_redis_t *r, uint64_t ms) { fo_timer_start(r->loop, &r->timer, ms); }

static void report(fo_redis_t *r, bool up, const char *why)
{
    if (r->reported_any && r->reported_up == up) return;
    r->reported_any = true;
    r->reported_up = up;
    if (up)
        FO_LOG(FO_LOG_INFO, r->name, "connected to Redis at %s:%d", r->addr.host, r->addr.port);
    else
        FO_LOG(FO_LOG_WARN, r->name, "Redis at %s:%d unavailable: %s (retrying with backoff)",
               r->addr.host, r->addr.port, why);
    if (r->cbs.on_state) r->cbs.on_state(r->cbs.user, up, why);
}

static uint64_t backoff_ms(fo_redis_t *r)
{
    uint64_t d = (uint64_t)r->opts.backoff_min_ms;
    for (unsigned i = 0; i < r->attempt && d < (uint64_t)r->opts.backoff_max_ms; i++) d *= 2;
    if (d > (uint64_t)r->opts.backoff_max_ms) d = (uint64_t)r->opts.backoff_max_ms;
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd) rnd = (uint32_t)rand();
    return d * 3 / 4 + rnd % (d / 2 + 1); /* +-25 %: nodes that lost Redis together spread out */
}

/* The connection is gone (or never came): tell the owner, schedule the next attempt. Runs once
 * per attempt; the context is already freed or being freed by hiredis. */
static void lost(fo_redis_t *r, const char *why)
{
    if (r->st == ST_DOWN) return;
    r->st = ST_DOWN;
    r->stats.up = false;
    r->stats.failures++;
    r->expected = 0;
    if (r->proto_bad) r->stats.protocol_errors++;
    r->proto_bad = false;
    r->attempt++;
    FO_LOG(FO_LOG_DEBUG, r->name, "connection attempt %u failed: %s", r->attempt, why);
    report(r, false, why);
    arm(r, backoff_ms(r));
}

/* Drops the current context now (from a timer or the owner, never inside a hiredis callback):
 * pending callbacks get NULL replies, then lost(). */
static void drop(fo_redis_t *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    if (ac) {
        r->ac = NULL;
        ac->onDisconnect = NULL;
        ac->onConnect = NULL;
        redisAsyncFree(ac);
    }
    if (r->gai_pending && gai_cancel(&r->gai) == EAI_CANCELED) r->gai_pending = false;
    lost(r, why);
}

static void on_connect_cb(const redisAsyncContext *ac, int status)
{
    fo_redis_t *r = ac->data;
    if (status != REDIS_OK) lost(r, ac->errstr[0] ? ac->errstr : "connect failed");
}

static void on_disconnect_cb(const redisAsyncContext *ac, int status)
{
    fo_redis_t *r = ac->data;
    (void)status;
    if (ac->err == REDIS_ERR_PROTOCOL) r->proto_bad = true; /* hiredis's reader refused it */
    lost(r, r->proto_err[0] ? r->proto_err : ac->errstr[0] ? ac->errstr : "connection closed");
}

static void unlink_req(fo_redis_t *r, req_t *q)
{
    if (q->prev) q->prev->next = q->next;
    else r->head = q->next;
    if (q->next) q->next->prev = q->prev;
    else r->tail = q->prev;
    r->stats.pending--;
}

static void reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    req_t *q = privdata;
    fo_redis_t *r = q->r;
    unlink_req(r, q);
    if (reply) {
        r->stats.replies++;
        if (((redisReply *)reply)->type == REDIS_REPLY_ERROR) r->stats.error_replies++;
    }
    fo_redis_reply_cb cb = q->cb;
    void *user = q->user;
    free(q);
    if (cb) cb(user, reply);
}

static int send_cmd(fo_redis_t *r, int timeout_ms, fo_redis_reply_cb cb, void *user, int argc,
                    const char *const *argv, const size_t *lens)
{
    if (argc <= 0 || argc > 64) return FO_EINVAL;
    size_t l[64];
    for (int i = 0; i < argc; i++) l[i] = lens ? lens[i] : strlen(argv[i]);
    req_t *q = calloc(1, sizeof *q);
    if (!q) return FO_ENOMEM;
    q->r = r;
    q->cb = cb;
    q->user = user;
    q->deadline = fo_loop_now(r->loop) + (uint64_t)(timeout_ms > 0 ? timeout_ms : r->opts.command_timeout_ms);
    if (redisAsyncCommandArgv(r->ac, reply_cb, q, argc, (const char **)argv, l) != REDIS_OK) {
        free(q);
        return FO_EAGAIN;
    }
    q->prev = r->tail;
    if (r->tail) r->tail->next = q;
    else r->head = q;
    r->tail = q;
    r->expected++;
    r->stats.commands++;
    r->stats.pending++;
    return 0;
}

/* AUTH, SELECT or PING answered with an error (wrong password, NOAUTH, bad db): the attempt
 * fails once the remaining hello replies are in. */
static bool hello_refused(fo_redis_t *r, const fo_redis_reply_t *reply)
{
    if (fo_redis_type(reply) != FO_REDIS_ERROR) return false;
    size_t n = 0;
    const char *msg = fo_redis_str(reply, &n);
    if (!r->proto_err[0])
        snprintf(r->proto_err, sizeof r->proto_err, "refused: %.*s", (int)(n > 80 ? 80 : n), msg);
    if (r->ac) redisAsyncDisconnect(r->ac); /* after the remaining replies, then lost() */
    return true;
}

static void hello_step_cb(void *user, const fo_redis_reply_t *reply)
{
    fo_redis_t *r = user;
    if (reply && r->st == ST_HELLO) hello_refused(r, reply);
}

/* The last reply of the hello pipeline (PING): the connection is ready. */
static void hello_done_cb(void *user, const fo_redis_reply_t *reply)
{
    fo_redis_t *r = user;
    if (!reply || r->st != ST_HELLO || hello_refused(r, reply) || r->proto_err[0]) return;
    r->st = ST_UP;
    r->stats.up = true;
    r->stats.connects++;
    r->attempt = 0;
    fo_timer_stop(r->loop, &r->timer);
    report(r, true, NULL);
}

static void start_connect(fo_redis_t *r)
{
    r->proto_err[0] = '\0';
    r->st = ST_CONNECT;
    redisAsyncContext *ac = redisAsyncConnect(r->ip, r->addr.port);
    if (!ac) {
        lost(r, "out of memory");
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof why, "%s", ac->errstr);
        redisAsyncFree(ac);
        lost(r, why);
        return;
    }
    r->ac = ac;
    ac->data = r;
    ac->c.reader->fn = &r->fns;
    ac->c.reader->privdata = r;
    ac->ev.data = r;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    r->io = (fo_io_t){.fd = ac->c.fd, .cb = r->io.cb, .user = r};
    r->events = 0;
    r->registered = false;
    redisAsyncSetConnectCallback(ac, on_connect_cb);
    redisAsyncSetDisconnectCallback(ac, on_disconnect_cb);
    redisEnableKeepAlive(&ac->c);
    r->st = ST_HELLO;
    char db[16];
    snprintf(db, sizeof db, "%d", r->addr.db);
    const char *auth[3] = {"AUTH", r->addr.user[0] ? r->addr.user : r->addr.password, r->addr.password};
    const char *sel[2] = {"SELECT", db};
    const char *ping[1] = {"PING"};
    int rc = 0;
    if (r->addr.password[0]) rc |= send_cmd(r, 0, hello_step_cb, r, r->addr.user[0] ? 3 : 2, auth, NULL);
    if (r->addr.db > 0) rc |= send_cmd(r, 0, hello_step_cb, r, 2, sel, NULL);
    rc |= send_cmd(r, 0, hello_done_cb, r, 1, ping, NULL);
    if (rc) {
        drop(r, "could not queue the handshake");
        return;
    }
    arm(r, r->deadline > fo_loop_now(r->loop) ? r->deadline - fo_loop_now(r->loop) : 1);
}

static void start_attempt(fo_redis_t *r)
{
    if (r->gai_pending) { /* a lookup that could not be cancelled: let it finish first */
        if (gai_error(&r->gai) == EAI_INPROGRESS) {
            arm(r, RESOLVE_POLL_MS);
            return;
        }
        if (r->gai.ar_result) freeaddrinfo(r->gai.ar_result);
        r->gai.ar_result = NULL;
        r->gai_pending = false;
    }
    r->st = ST_RESOLVE;
    r->deadline = fo_loop_now(r->loop) + (uint64_t)r->opts.connect_timeout_ms;
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, r->addr.host, &a4) == 1 || inet_pton(AF_INET6, r->addr.host, &a6) == 1) {
        snprintf(r->ip, sizeof r->ip, "%.45s", r->addr.host);
        start_connect(r);
        return;
    }
    /* A name: resolve off the loop (glibc's resolver thread), poll for the result. */
    memset(&r->gai, 0, sizeof r->gai);
    r->gai_hints = (struct addrinfo){.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    snprintf(r->gai_port, sizeof r->gai_port, "%d", r->addr.port);
    r->gai.ar_name = r->addr.host;
    r->gai.ar_service = r->gai_port;
    r->gai.ar_request = &r->gai_hints;
    r->gai_list[0] = &r->gai;
    if (getaddrinfo_a(GAI_NOWAIT, r->gai_list, 1, NULL) != 0) {
        lost(r, "cannot start name resolution");
        return;
    }
    r->gai_pending = true;
    arm(r, RESOLVE_POLL_MS);
}

static void poll_resolve(fo_redis_t *r)
{
    int e = gai_error(&r->gai);
    if (e == EAI_INPROGRESS) {
        if (fo_loop_now(r->loop) >= r->deadline) {
            drop(r, "name resolution timed out");
            return;
        }
        arm(r, RESOLVE_POLL_MS);
        return;
    }
    r->gai_pending = false;
    struct addrinfo *res = r->gai.ar_result;
    r->gai.ar_result = NULL;
    if (e != 0 || !res) {
        if (res) freeaddrinfo(res);
        char why[320];
        snprintf(why, sizeof why, "cannot resolve %s: %s", r->addr.host, gai_strerror(e));
        lost(r, why);
        return;
    }
    const void *src = res->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                                                 : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    inet_ntop(res->ai_family, src, r->ip, sizeof r->ip);
    freeaddrinfo(res);
    start_connect(r);
}

/* Commands past their deadline mean a dead or hung server: drop the connection. */
static void watchdog(fo_redis_t *r)
{
    uint64_t now = fo_loop_now(r->loop), next = UINT64_MAX;
    for (req_t *q = r->head; q; q = q->next) {
        if (q->deadline <= now) {
            r->stats.timeouts++;
            drop(r, "command timed out");
            return;
        }
        if (q->deadline < next) next = q->deadline;
    }
    if (next != UINT64_MAX) arm(r, next - now);
}

static void timer_cb(fo_timer_t *t)
{
    fo_redis_t *r = t->user;
    switch (r->st) {
    case ST_DOWN: start_attempt(r); break;
    case ST_RESOLVE: poll_resolve(r); break;
    case ST_CONNECT:
    case ST_HELLO:
        if (fo_loop_now(r->loop) >= r->deadline) drop(r, r->st == ST_HELLO && r->ac && (r->ac->c.flags & REDIS_CONNECTED)
                                                             ? "no answer to AUTH/PING in time"
                                                             : "connect timed out");
        else arm(r, r->deadline - fo_loop_now(r->loop));
        break;
    case ST_UP: watchdog(r); break;
    }
}

static void io_cb(fo_io_t *io, uint32_t events)
{
    fo_redis_t *r = io->user;
    if (!r->ac) return; /* an event fetched before the connection was dropped */
    if (!(r->ac->c.flags & REDIS_CONNECTED)) {
        redisAsyncHandleWrite(r->ac); /* completes (or fails) the connect */
        if (!r->ac) return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) redisAsyncHandleRead(r->ac);
    if (r->ac && (events & EPOLLOUT)) redisAsyncHandleWrite(r->ac);
    if (r->ac && r->ac->c.reader && r->ac->c.reader->len - r->ac->c.reader->pos > FO_REDIS_MAX_BUFFER) {
        r->proto_bad = true;
        drop(r, "bad reply: larger than the limit");
    }
}

/* ---- public ---- */

fo_redis_t *fo_redis_new(fo_loop_t *loop, const fo_redis_addr_t *addr, const fo_redis_opts_t *opts,
                         const fo_redis_cbs_t *cbs, const char *name)
{
    fo_redis_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->loop = loop;
    r->addr = *addr;
    if (opts) r->opts = *opts;
    if (r->opts.connect_timeout_ms <= 0) r->opts.connect_timeout_ms = 2000;
    if (r->opts.command_timeout_ms <= 0) r->opts.command_timeout_ms = 3000;
    if (r->opts.backoff_min_ms <= 0) r->opts.backoff_min_ms = 200;
    if (r->opts.backoff_max_ms < r->opts.backoff_min_ms) r->opts.backoff_max_ms = 5000;
    if (cbs) r->cbs = *cbs;
    snprintf(r->name, sizeof r->name, "%s", name ? name : "redis");
    r->io = (fo_io_t){.fd = -1, .cb = io_cb, .user = r};
    r->fns = (redisReplyObjectFunctions){create_string, create_array, create_integer, create_nil,
                                         freeReplyObject};
    fo_timer_init(&r->timer, timer_cb, r);
    start_attempt(r);
    return r;
}

void fo_redis_free(fo_redis_t *r)
{
    if (!r) return;
    for (req_t *q = r->head; q; q = q->next) q->cb = NULL;
    r->cbs.on_state = NULL;
    fo_timer_stop(r->loop, &r->timer);
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        ac->onDisconnect = NULL;
        ac->onConnect = NULL;
        redisAsyncFree(ac);
    }
    if (r->gai_pending && gai_cancel(&r->gai) != EAI_CANCELED) {
        /* The lookup is running in glibc's thread and writes into r->gai: wait for it (a name
         * server's timeout at worst, at shutdown only). */
        const struct gaicb *l[1] = {&r->gai};
        while (gai_error(&r->gai) == EAI_INPROGRESS) gai_suspend(l, 1, NULL);
    }
    if (r->gai.ar_result) freeaddrinfo(r->gai.ar_result);
    free(r);
}

bool fo_redis_up(const fo_redis_t *r) { return r && r->st == ST_UP; }

int fo_redis_command(fo_redis_t *r, int timeout_ms, fo_redis_reply_cb cb, void *user, int argc,
                     const char *const *argv, const size_t *lens)
{
    if (!r || r->st != ST_UP || !r->ac) return FO_EAGAIN;
    bool idle = r->head == NULL;
    int rc = send_cmd(r, timeout_ms, cb, user, argc, argv, lens);
    if (rc == 0 && idle) arm(r, (uint64_t)(timeout_ms > 0 ? timeout_ms : r->opts.command_timeout_ms));
    return rc;
}

void fo_redis_cancel(fo_redis_t *r, const void *user)
{
    if (!r) return;
    for (req_t *q = r->head; q; q = q->next)
        if (q->user == user) q->cb = NULL;
}

void fo_redis_reset(fo_redis_t *r, const char *why)
{
    if (r && r->st != ST_DOWN) drop(r, why);
}

void fo_redis_stats(const fo_redis_t *r, fo_redis_stats_t *out) { *out = r->stats; }
