/* Logging to stderr, which in serve mode is the bundle's `log` FIFO that
 * containerd copies into its own journal. Lines are logrus-style text:
 *   time="..." level=info msg="..." id=<task> namespace=<ns> runtime=io.containerd.podshim.v2
 * Writes never block: stderr is made non-blocking in serve mode, and a line
 * that does not fit (no reader, full FIFO) is dropped rather than stalling the
 * event loop. Library modules log at debug at most; main and the RPC boundary
 * log once per failure. */
#ifndef PS_BASE_LOG_H
#define PS_BASE_LOG_H

#include <stdbool.h>

enum ps_log_level { PS_LOG_ERROR = 0, PS_LOG_WARN, PS_LOG_INFO, PS_LOG_DEBUG };

/* Set once at startup; the only process-wide state in the shim. */
void ps_log_setup(enum ps_log_level max, const char *ns, const char *id);
bool ps_log_enabled(enum ps_log_level level);
void ps_log(enum ps_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ps_log_error(...) ps_log(PS_LOG_ERROR, __VA_ARGS__)
#define ps_log_warn(...)  ps_log(PS_LOG_WARN, __VA_ARGS__)
#define ps_log_info(...)  ps_log(PS_LOG_INFO, __VA_ARGS__)
#define ps_log_debug(...)                                                                          \
        do {                                                                                       \
                if (ps_log_enabled(PS_LOG_DEBUG))                                                  \
                        ps_log(PS_LOG_DEBUG, __VA_ARGS__);                                         \
        } while (0)

#endif
