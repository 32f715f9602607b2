/* SPDX-License-Identifier: MIT */
/* Logging: levels, timestamps, a context (session id / stream) on every line, to stderr or a
 * file. Owns the log sink; any thread may log (each line is one write()). */
#ifndef FO_LOG_H
#define FO_LOG_H

#include <stdarg.h>

typedef enum { FO_LOG_ERROR = 0, FO_LOG_WARN, FO_LOG_INFO, FO_LOG_DEBUG, FO_LOG_TRACE } fo_log_level_t;

extern fo_log_level_t fo_log_level_current;

/* Sets the threshold. Call at start-up. */
void fo_log_set_level(fo_log_level_t level);
/* Parses "error|warn|info|debug|trace"; returns -1 if unknown. */
int fo_log_level_parse(const char *name);
/* Sends lines to `path` (appending) instead of stderr; NULL means stderr. Returns 0 or FO_ESYS.
 * Calling it again with the same path reopens the file (log rotation on SIGHUP). */
int fo_log_open(const char *path);

/* Writes one line: "time LEVEL [ctx] message". ctx may be NULL. */
void fo_log_write(fo_log_level_t level, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks the level before evaluating any argument. */
#define FO_LOG(level, ctx, ...)                                                                    \
    do {                                                                                           \
        if ((level) <= fo_log_level_current) fo_log_write((level), (ctx), __VA_ARGS__);            \
    } while (0)

#endif
