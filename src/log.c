/* SPDX-License-Identifier: MIT */
/* Log sink: one formatted line per write(2), to stderr or an append-only file that SIGHUP can
 * reopen. Owns the file descriptor; callable from any thread. */
#include "fanout/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fanout/common.h"

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

void fo_log_write(fo_log_level_t level, const char *ctx, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s%s%s", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     level_names[level], ctx ? "[" : "", ctx ? ctx : "", ctx ? "] " : "");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w;
}
