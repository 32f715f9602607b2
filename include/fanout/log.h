/* SPDX-License-Identifier: MIT */
/* Logging: levels, timestamps, a context (session id / stream) on every line, to stderr or a
 * file. Owns the log sink; any thread may log (each line is one write()). */
#ifndef FO_LOG_H
#define FO_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum { FO_LOG_ERROR = 0, FO_LOG_WARN, FO_LOG_INFO, FO_LOG_DEBUG, FO_LOG_TRACE } fo_log_level_t;

extern fo_log_level_t fo_log_level_current;

/* Sets the threshold. Call at start-up. */
void fo_log_set_level(fo_log_level_t level);
/* Parses "error|warn|info|debug|trace"; returns -1 if unknown. */
int fo_log_level_parse(const char *name);
/* Sends lines to `path` (appending) instead of stderr; NULL means stderr. Returns 0 or FO_ESYS.
 * Calling it again with the same path reopens the file (log rotation on SIGHUP). */
int fo_log_open(const char *path);

/* Writes one line: "time LEVEL [ctx] message". ctx may be NULL. ctx and the formatted message
 * are escaped as fo_log_escape does, so a line ends only where the writer ends it. */
void fo_log_write(fo_log_level_t level, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies in[0..n) to out (at most cap - 1 bytes, NUL-terminated), escaping what could forge or
 * hide a line: C0 controls and DEL (\n, \r, \t, else \xNN), the backslash (\\), bytes that are
 * not well-formed UTF-8, and C1 controls, U+2028/2029 and bidi controls (each byte as \xNN).
 * Other UTF-8 passes unchanged. Stops before an escape or a character that does not fit.
 * Returns the length written. Pure, any thread. */
size_t fo_log_escape(const char *in, size_t n, char *out, size_t cap);

/* Checks the level before evaluating any argument. */
#define FO_LOG(level, ctx, ...)                                                                    \
    do {                                                                                           \
        if ((level) <= fo_log_level_current) fo_log_write((level), (ctx), __VA_ARGS__);            \
    } while (0)

#endif
