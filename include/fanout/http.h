/* SPDX-License-Identifier: MIT */
/* The HTTP server: the only libmicrohttpd user. Runs inside our event loop (MHD's epoll fd in
 * our epoll, MHD_run on readiness and on its timeout), collects request bodies up to a limit,
 * hands each complete request to one handler, serves static files from the www root for what
 * the handler leaves, and adds CORS headers to everything. Loop thread only. */
#ifndef FO_HTTP_H
#define FO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

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
    const char *if_match;      /* If-Match, "" if absent */
    char remote_ip[64];
    bool tls;                  /* arrived on the HTTPS server */
} fo_http_req_t;

/* What the handler answers. body is heap memory the server frees after sending. */
typedef struct {
    int status;
    char content_type[64];
    char *body;
    size_t body_len;
    char location[512];        /* Location header, "" for none */
    char allow[128];           /* Allow header, "" for none */
    char headers[256];         /* more headers, "Name: value\r\n" each, "" for none */
} fo_http_resp_t;

/* Returns true when it produced a response; false lets the static-file server try. */
typedef bool (*fo_http_handler_cb)(void *user, const fo_http_req_t *req, fo_http_resp_t *resp);

/* Listens on addr:port (IPv4 or IPv6 literal; "::" is dual-stack, IPv4 clients' remote_ip in
 * their IPv4 form). NULL on failure (logged). */
fo_http_t *fo_http_new(fo_loop_t *loop, const char *addr, int port, const char *www_root,
                       size_t max_body, fo_http_handler_cb cb, void *user);
/* The same over TLS (HTTPS): cert_path/key_path are PEM files, read once here. addr NULL: no
 * listening socket, connections come through fo_http_adopt (one-port mode). NULL on failure
 * (logged). */
fo_http_t *fo_http_new_tls(fo_loop_t *loop, const char *addr, int port, const char *www_root,
                           size_t max_body, const char *cert_path, const char *key_path,
                           fo_http_handler_cb cb, void *user);
void fo_http_free(fo_http_t *h);
int fo_http_port(const fo_http_t *h);
/* Serves a connection accepted elsewhere (a sniffing ICE-TCP listener; nothing read from it
 * yet). Takes `fd` in every case. Returns 0, or FO_EFULL when refused (over the limit). */
int fo_http_adopt(fo_http_t *h, int fd, const struct sockaddr *sa, socklen_t salen);

#endif
