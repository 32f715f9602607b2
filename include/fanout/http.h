/* SPDX-License-Identifier: MIT */
/* The HTTP server: the only libmicrohttpd user. Runs inside our event loop (MHD's epoll fd in
 * our epoll, MHD_run on readiness and on its timeout), collects request bodies up to a limit,
 * hands each complete request to one handler, serves static files from the www root for what
 * the handler leaves (beneath the root, webroot.h), and sets the response headers: nosniff on
 * everything, the pages' Content-Security-Policy on static files, a deny-all one on the rest,
 * and CORS headers only where the handler asks for them (fo_http_cors_t). A handler may also
 * answer later (fo_http_defer): the connection waits, suspended, while the loop goes on. Loop
 * thread only. */
#ifndef FO_HTTP_H
#define FO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/clients.h"
#include "fanout/loop.h"

typedef struct fo_http fo_http_t;

/* A complete request; every pointer is valid during the handler call only. */
typedef struct {
    const char *method;
    const char *path;          /* without the query */
    const char *query;         /* re-encoded "k=v&k2=v2", "" if none */
    const char *body;          /* NUL-terminated */
    size_t body_len;
    bool body_too_large;       /* more than max_body was sent; body is empty */
    const char *content_type;  /* "" if absent */
    const char *authorization; /* "" if absent */
    const char *host;          /* "" if absent */
    const char *origin;        /* Origin header, "" if absent */
    const char *sec_fetch_site; /* Sec-Fetch-Site header, "" if absent */
    char remote_ip[64];
    bool tls;                  /* arrived on the HTTPS server */
    void *conn;                /* the server's, for fo_http_defer */
} fo_http_req_t;

/* Which CORS headers an answer carries. */
typedef enum {
    FO_HTTP_CORS_NONE = 0, /* none: browsers let only same-origin pages read it */
    FO_HTTP_CORS_ANY,      /* Access-Control-Allow-Origin: * (the signaling endpoints) */
    FO_HTTP_CORS_ORIGIN,   /* the request's Origin echoed, with Vary: Origin (an origin the
                            * handler has checked, e.g. http.allowed_origins) */
} fo_http_cors_t;

/* What the handler answers. body is heap memory the server frees after sending. */
typedef struct {
    int status;
    fo_http_cors_t cors;
    char content_type[64];
    char *body;
    size_t body_len;
    char location[512];        /* Location header, "" for none */
    char allow[128];           /* Allow header, "" for none */
    char headers[256];         /* more headers, "Name: value\r\n" each, "" for none */
} fo_http_resp_t;

/* Returns true when it produced a response (or deferred it: fo_http_defer); false lets the
 * static-file server try. */
typedef bool (*fo_http_handler_cb)(void *user, const fo_http_req_t *req, fo_http_resp_t *resp);

/* Listens on addr:port (IPv4 or IPv6 literal). `clients` (may be NULL: no per-client limits)
 * applies the per-client limits (include/fanout/clients.h) and must outlive the server; its
 * http.max_connections (or, when 0, the descriptor limit) caps connections. NULL on failure
 * (logged). */
fo_http_t *fo_http_new(fo_loop_t *loop, const char *addr, int port, const char *www_root,
                       size_t max_body, fo_http_handler_cb cb, void *user, fo_clients_t *clients);
/* The same over TLS (HTTPS): cert_path/key_path are PEM files, read once here; `priorities` is
 * the GnuTLS priority string (https.priorities: which protocol versions and cipher suites), read
 * at start. NULL on failure (logged). */
fo_http_t *fo_http_new_tls(fo_loop_t *loop, const char *addr, int port, const char *www_root,
                           size_t max_body, const char *cert_path, const char *key_path,
                           const char *priorities, fo_http_handler_cb cb, void *user,
                           fo_clients_t *clients);
/* The Content-Security-Policy sent with static files (http.csp); "" sends none. The string is
 * the caller's and must outlive the server. Default: none. */
void fo_http_set_page_csp(fo_http_t *h, const char *csp);
/* Ends deferred requests first (their owners hear FO_HTTP_DEFER_SHUTDOWN), then stops. */
void fo_http_free(fo_http_t *h);
int fo_http_port(const fo_http_t *h);
/* MHD_run calls so far: a daemon with nothing to do is not run (tests). */
uint64_t fo_http_runs(const fo_http_t *h);

/* --- deferred answers ---
 * A handler that must wait for something (an operator's callback, another server) calls
 * fo_http_defer and returns true without filling resp. The connection is suspended (MHD does
 * not read it meanwhile; the loop goes on) until the owner calls fo_http_defer_answer, the
 * timeout passes, the client closes its connection, or the server stops. */
typedef struct fo_http_defer fo_http_defer_t;

typedef enum {
    FO_HTTP_DEFER_CLOSED,   /* the client closed its connection: nobody is waiting */
    FO_HTTP_DEFER_TIMEOUT,  /* the owner did not answer within its timeout */
    FO_HTTP_DEFER_SHUTDOWN, /* the server is stopping */
} fo_http_defer_end_t;

/* Called at most once, when a deferred request ends before its owner answered: the owner
 * stops its work (cancels what it started) and forgets `d`. With TIMEOUT and SHUTDOWN the
 * client still waits and the owner may answer during this call with fo_http_defer_answer;
 * otherwise the client gets a plain 504 (timeout) or 503 (shutdown). With CLOSED nobody
 * waits: do not answer. `d` is gone when the callback returns. */
typedef void (*fo_http_defer_cb)(void *user, fo_http_defer_t *d, fo_http_defer_end_t why);

/* During a handler call only, once per request: the answer to `req` comes later. timeout_ms >
 * 0 bounds the wait. Returns the handle (owned by the server, valid until answered or `cb`
 * returned), or NULL (out of memory, or not inside a handler): then answer now. */
fo_http_defer_t *fo_http_defer(const fo_http_req_t *req, int timeout_ms, fo_http_defer_cb cb,
                               void *user);
/* Sends the answer: takes *resp (its body too; resp->body is NULL afterwards). `d` is gone
 * after the call. May be called from any loop callback, the handler that deferred included. */
void fo_http_defer_answer(fo_http_defer_t *d, fo_http_resp_t *resp);
/* Whether the client has closed (or reset) its connection by now, looking at the socket
 * itself: a result computed for a gone client should be dropped, not turned into state. */
bool fo_http_defer_client_gone(const fo_http_defer_t *d);
/* Deferred requests waiting now (on this server). */
size_t fo_http_deferred(const fo_http_t *h);

#endif
