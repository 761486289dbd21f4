#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
        enum ps_log_level max;
        char ns[80];
        char id[80];
} log_cfg = {.max = PS_LOG_INFO};

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void ps_log_setup(enum ps_log_level max, const char *ns, const char *id)
{
        log_cfg.max = max;
        snprintf(log_cfg.ns, sizeof(log_cfg.ns), "%s", ns ? ns : "");
        snprintf(log_cfg.id, sizeof(log_cfg.id), "%s", id ? id : "");
}

bool ps_log_enabled(enum ps_log_level level)
{
        return level <= log_cfg.max;
}

/* Quotes a message the way logrus does: backslash before '"' and '\\',
 * control characters dropped to spaces so a line stays one line. */
static size_t quote_into(char *dst, size_t cap, const char *src)
{
        size_t n = 0;

        for (; *src && n + 2 < cap; src++) {
                char c = *src;
                if (c == '"' || c == '\\')
                        dst[n++] = '\\';
                dst[n++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
        }
        dst[n] = '\0';
        return n;
}

void ps_log(enum ps_log_level level, const char *fmt, ...)
{
        char msg[1024], quoted[2048], line[2400], ts[40];
        struct timespec now;
        struct tm tm;
        va_list ap;
        int len;

        if (!ps_log_enabled(level))
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        quote_into(quoted, sizeof(quoted), msg);

        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        len = snprintf(
            line, sizeof(line),
            "time=\"%s.%09ldZ\" level=%s msg=\"%s\"%s%s%s%s runtime=io.containerd.podshim.v2\n", ts,
            now.tv_nsec, level_names[level], quoted, log_cfg.id[0] ? " id=" : "", log_cfg.id,
            log_cfg.ns[0] ? " namespace=" : "", log_cfg.ns);
        if (len < 0)
                return;
        if ((size_t)len >= sizeof(line))
                len = sizeof(line) - 1;
        /* One write per line so concurrent writers never interleave; a short
         * or failed write (EPIPE, EAGAIN) is dropped on purpose. */
        if (write(STDERR_FILENO, line, (size_t)len) < 0)
                return;
}
