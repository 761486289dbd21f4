/* Private to the stdio module: the stdout URI and binary:// loggers.
 *
 * The URI is read the way containerd's Go code reads it (net/url): an
 * optional scheme ([A-Za-z][A-Za-z0-9+.-]*:), an authority after "//" that is
 * ignored, a percent-decoded path, and for binary:// a query whose keys (in
 * the order written, duplicates dropped) each become an argument followed by
 * their first value ("" when the key has no '='; Go always has a value).
 * A string without a scheme is a FIFO path taken verbatim.
 */
#ifndef PS_SANDBOX_LINUX_STDIO_LOGGER_H
#define PS_SANDBOX_LINUX_STDIO_LOGGER_H

#include <sys/types.h>

#include "base/error.h"

struct event_base;
struct ps_reaper;
struct ps_logger;

enum ps_stdio_scheme { PS_STDIO_FIFO, PS_STDIO_FILE, PS_STDIO_BINARY };

struct ps_stdio_uri {
        enum ps_stdio_scheme scheme;
        char *path;
        char **args; /* binary: NULL-terminated arguments after argv[0]; else NULL */
};

/* INVALID_ARGUMENT "unknown STDIO scheme <s>" for anything but fifo, file
 * and binary; INVALID_ARGUMENT for a malformed or path-less URI. */
int ps_stdio_uri_parse(const char *s, struct ps_stdio_uri *ret, struct ps_err **err);
void ps_stdio_uri_clear(struct ps_stdio_uri *u);

typedef void (*ps_logger_ready_fn)(void *data, struct ps_err *err /* owned by callee */);

/* Spawns uri->path with fd 3 = out_r, fd 4 = err_r, fd 5 = a readiness pipe
 * (the caller closes its out_r/err_r afterwards) and an environment of just
 * CONTAINER_ID and CONTAINER_NAMESPACE. `ready` runs from the loop once the
 * logger wrote a byte to fd 5 or closed it. The logger's exit is reaped
 * through `reaper`. */
struct ps_logger *ps_logger_spawn(struct event_base *base, struct ps_reaper *reaper,
                                  const struct ps_stdio_uri *uri, const char *id, const char *ns,
                                  int out_r, int err_r, ps_logger_ready_fn ready, void *data,
                                  struct ps_err **err);

/* No callbacks after this. A still running logger gets SIGTERM and, if it
 * has not exited 12 s later, SIGKILL (a small watcher outlives the logger
 * object for that). NULL ok. */
struct ps_logger *ps_logger_free(struct ps_logger *l);

#endif
