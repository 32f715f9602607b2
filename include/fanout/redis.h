/* SPDX-License-Identifier: MIT */
/* A Redis client on our event loop: hiredis's asynchronous API with fanout's epoll loop and
 * timer heap as its event library (add/del read/write on an fo_io_t, timeouts on fo_timer_t;
 * no thread, no second loop). The only hiredis user. One fo_redis_t is one connection that it
 * keeps up by itself: it resolves the host (getaddrinfo_a, polled from a timer), connects
 * without blocking, authenticates (AUTH [user] password), selects the database, and after a
 * failure (refused, closed, a connect or command timeout, a protocol error) reconnects with
 * exponential backoff, telling its owner once per change between up and down.
 * Replies are untrusted: the reader refuses replies nobody asked for, arrays over
 * FO_REDIS_MAX_ELEMENTS and more than FO_REDIS_MAX_BUFFER bytes of unparsed input (each is a
 * protocol error that drops the connection), so no reply can reach hiredis's asserts or grow
 * memory without bound. Only request/reply commands are supported (no SUBSCRIBE/MONITOR: a
 * subscribed hiredis context asserts on malformed pushes). Loop thread only. */
#ifndef FO_REDIS_H
#define FO_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/loop.h"

#define FO_REDIS_MAX_ELEMENTS 65536
#define FO_REDIS_MAX_BUFFER (8u << 20)

/* Where Redis is and how to log in. */
typedef struct {
    char host[256];      /* name or IP literal (IPv6 without brackets) */
    int port;            /* 6379 by default */
    char user[128];      /* Redis 6 ACL user; "" = the default user */
    char password[256];  /* "" = no AUTH */
    int db;              /* SELECT db when > 0 */
} fo_redis_addr_t;

/* Parses "redis://[[user]:password@]host[:port][/db]" (host may be "[v6]"; user, password
 * percent-decoded) or a bare "host[:port]". Returns 0, or FO_EINVAL with a static reason in
 * *why. Pure. */
int fo_redis_url_parse(const char *url, fo_redis_addr_t *out, const char **why);

typedef struct {
    int connect_timeout_ms;  /* resolve + connect + AUTH/SELECT; default 2000 */
    int command_timeout_ms;  /* a reply later than this drops the connection; default 3000 */
    int backoff_min_ms;      /* first retry delay; default 200 */
    int backoff_max_ms;      /* longest retry delay; default 5000 */
} fo_redis_opts_t;

/* A reply, valid during the callback only. Read it with the accessors below. */
typedef struct fo_redis_reply fo_redis_reply_t;

typedef enum {
    FO_REDIS_NIL = 0,
    FO_REDIS_INT,
    FO_REDIS_STR,     /* bulk string */
    FO_REDIS_STATUS,  /* "+OK" */
    FO_REDIS_ERROR,   /* "-ERR ..." */
    FO_REDIS_ARRAY,
} fo_redis_type_t;

fo_redis_type_t fo_redis_type(const fo_redis_reply_t *r);
/* STR, STATUS and ERROR: the bytes (NUL-terminated, may contain NULs) and their length; NULL
 * for other types. */
const char *fo_redis_str(const fo_redis_reply_t *r, size_t *len);
/* INT: the value; 0 for other types. */
long long fo_redis_int(const fo_redis_reply_t *r);
/* ARRAY: the number of elements and element i (NULL out of range); 0 / NULL otherwise. */
size_t fo_redis_len(const fo_redis_reply_t *r);
const fo_redis_reply_t *fo_redis_elem(const fo_redis_reply_t *r, size_t i);

/* The owner's callbacks. on_state: the connection came up (ready for commands: AUTH and
 * SELECT done) or went down (`why` says why; also when a first attempt fails). */
typedef struct {
    void (*on_state)(void *user, bool up, const char *why);
    void *user;
} fo_redis_cbs_t;

typedef struct fo_redis fo_redis_t;

/* Starts connecting at once. `name` labels log lines ("redis", "redis-events"). `addr`,
 * `opts` (NULL: defaults) and `cbs` are copied. NULL on allocation failure. */
fo_redis_t *fo_redis_new(fo_loop_t *loop, const fo_redis_addr_t *addr, const fo_redis_opts_t *opts,
                         const fo_redis_cbs_t *cbs, const char *name);
/* Closes the connection; pending commands are dropped without their callbacks. Not from inside
 * one of this client's callbacks. NULL is a no-op. */
void fo_redis_free(fo_redis_t *r);

bool fo_redis_up(const fo_redis_t *r);

/* Called once with the reply, or with NULL when there will be none (the connection was lost or
 * timed out before it came). */
typedef void (*fo_redis_reply_cb)(void *user, const fo_redis_reply_t *reply);

/* Sends a command (argv[0..argc) with lengths; lens NULL = NUL-terminated strings). `cb` may
 * be NULL (fire and forget). timeout_ms > 0 overrides the command timeout (blocking commands
 * such as XREAD BLOCK need their block time plus a margin). Returns 0 (cb will be called once,
 * unless cancelled), FO_EAGAIN (not connected: cb is never called) or FO_ENOMEM. */
int fo_redis_command(fo_redis_t *r, int timeout_ms, fo_redis_reply_cb cb, void *user, int argc,
                     const char *const *argv, const size_t *lens);

/* Pending commands whose `user` is this pointer will not call back (their replies are read
 * and dropped). For an owner that goes away before its replies. */
void fo_redis_cancel(fo_redis_t *r, const void *user);

/* Drops the connection now and reconnects after the backoff (e.g. when a sibling connection
 * found Redis gone). */
void fo_redis_reset(fo_redis_t *r, const char *why);

typedef struct {
    bool up;
    uint64_t connects;        /* connections that came up */
    uint64_t failures;        /* attempts that failed or connections lost */
    uint64_t commands, replies;
    uint64_t error_replies;   /* "-ERR ..." */
    uint64_t timeouts;        /* commands that timed out (the connection was dropped) */
    uint64_t protocol_errors; /* bad or unsolicited replies, oversized input */
    uint64_t pending;         /* commands awaiting replies now */
} fo_redis_stats_t;
void fo_redis_stats(const fo_redis_t *r, fo_redis_stats_t *out);

#endif
