/* SPDX-License-Identifier: MIT */
/* Log sink: one formatted line per write(2), to stderr or an append-only file that SIGHUP can
 * reopen. Owns the file descriptor; callable from any thread. What a line carries from outside
 * (stream names, query values, peer text) is escaped here, once for every caller, so that no
 * argument can end a line early or forge another one (see fo_log_escape). */
#include "fanout/log.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fanout/common.h"

#define LOG_MSG_MAX 2048  /* a formatted message before escaping */
#define LOG_LINE_MAX 4096 /* the escaped line, newline included */

fo_log_level_t fo_log_level_current = FO_LOG_INFO;
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void fo_log_set_level(fo_log_level_t level) { fo_log_level_current = level; }

int fo_log_level_parse(const char *name)
{
    for (size_t i = 0; i < FO_ARRAY_LEN(level_names); i++)
        if (strcasecmp(name, level_names[i]) == 0) return (int)i;
    return -1;
}

int fo_log_open(const char *path)
{
    if (!path || !*path) {
        if (log_fd != STDERR_FILENO) close(log_fd);
        log_fd = STDERR_FILENO;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return FO_ESYS;
    int old = log_fd;
    log_fd = fd; /* an int store: a concurrent writer uses either descriptor, both valid */
    if (old != STDERR_FILENO) close(old);
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (2..4), or 0 when it is not one
 * (overlong forms, surrogates, beyond U+10FFFF, truncated); its code point in *cp. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t min;
    if (b >= 0xc2 && b <= 0xdf) len = 2, *cp = b & 0x1fu, min = 0x80;
    else if (b >= 0xe0 && b <= 0xef) len = 3, *cp = b & 0x0fu, min = 0x800;
    else if (b >= 0xf0 && b <= 0xf4) len = 4, *cp = b & 0x07u, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        *cp = (*cp << 6) | (s[i] & 0x3fu);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return 0;
    return len;
}

/* Code points a terminal or log viewer may take as a line break or use to reorder what is
 * shown: C1 controls (NEL among them), the line/paragraph separators, bidi embeddings,
 * overrides and isolates. */
static bool invisible_control(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

size_t fo_log_escape(const char *in, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (!cap) return 0;
    for (size_t i = 0; i < n;) {
        char esc[16];
        size_t elen = 0, take = 1;
        uint32_t cp = 0;
        size_t seq = s[i] >= 0x80 ? utf8_seq(s + i, n - i, &cp) : 0;
        if (seq && !invisible_control(cp)) {
            take = seq;
            memcpy(esc, s + i, seq);
            elen = seq;
        } else if (seq) { /* each byte of the sequence as \xNN */
            take = seq;
            for (size_t k = 0; k < seq; k++) {
                esc[elen++] = '\\', esc[elen++] = 'x';
                esc[elen++] = hex[s[i + k] >> 4], esc[elen++] = hex[s[i + k] & 15];
            }
        } else if (s[i] == '\\') {
            esc[elen++] = '\\', esc[elen++] = '\\';
        } else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
            esc[elen++] = '\\', esc[elen++] = s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : 't';
        } else if (s[i] < 0x20 || s[i] >= 0x7f) { /* C0, DEL, a byte of no UTF-8 sequence */
            esc[elen++] = '\\', esc[elen++] = 'x';
            esc[elen++] = hex[s[i] >> 4], esc[elen++] = hex[s[i] & 15];
        } else {
            esc[elen++] = (char)s[i];
        }
        if (o + elen >= cap) break; /* never half an escape or half a character */
        memcpy(out + o, esc, elen);
        o += elen;
        i += take;
    }
    out[o] = '\0';
    return o;
}

void fo_log_write(fo_log_level_t level, const char *ctx, const char *fmt, ...)
{
    char msg[LOG_MSG_MAX], line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t mlen = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     level_names[level]);
    size_t len = n < 0 ? 0 : (size_t)n;
    const size_t room = sizeof line - 1; /* the newline's byte */
    if (ctx) {
        line[len++] = '[';
        len += fo_log_escape(ctx, strlen(ctx), line + len, room - len - 2);
        line[len++] = ']';
        line[len++] = ' ';
    }
    len += fo_log_escape(msg, mlen, line + len, room - len + 1);
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w;
}
