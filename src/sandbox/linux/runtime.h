/* The OCI runtime driver: runs runc (or crun, or any runc-compatible binary)
 * asynchronously, the way containerd's runc-v2 shim invokes it:
 *   <binary> --root <root>/<ns> --log <bundle>/log.json --log-format json
 *            [--systemd-cgroup] [--criu <path>] <command args...>
 * with NOTIFY_SOCKET stripped and PDEATHSIG=SIGKILL. The exit arrives through
 * the reaper; stdout can be captured (runc ps) and stdin fed (runc update).
 * On a non-zero exit the error is "OCI runtime <op> failed: <msg>" where msg
 * is the last error-level entry of log.json (or the exit status).
 *
 * Ownership: a run owns itself and frees itself after calling `done`; the
 * caller only keeps the data pointer alive until then.
 */
#ifndef PS_SANDBOX_LINUX_RUNTIME_H
#define PS_SANDBOX_LINUX_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "oci/options.h"
#include "oci/runtime_cli.h"

struct event_base;
struct ps_reaper;

struct ps_runtime {
        struct event_base *base;
        struct ps_reaper *reaper;
        const struct ps_options *opts; /* borrowed from the container */
        const char *ns;
        const char *bundle;
};

/* err is owned by the callee (free it or pass it on); out is the captured
 * stdout (NUL-terminated, valid during the call), NULL if not captured. */
typedef void (*ps_runtime_done_fn)(void *data, struct ps_err *err, const char *out, size_t len);

struct ps_runtime_req {
        const char *op;    /* "create", "start", ... for messages */
        char *const *args; /* command and its arguments, NULL-terminated */
        int stdio[3];      /* fds for the runtime's 0-2; -1 = /dev/null */
        const char *input; /* fed on stdin when non-NULL (overrides stdio[0]) */
        size_t input_len;
        bool capture; /* capture stdout (overrides stdio[1]) */
};

/* Starts the runtime. Returns 0 if `done` will be called later (always from
 * the loop), -1 with err if the runtime could not be started (binary missing:
 * NOT_FOUND). */
int ps_runtime_run(const struct ps_runtime *rt, const struct ps_runtime_req *req,
                   ps_runtime_done_fn done, void *data, struct ps_err **err);

/* Builds the runtime's error for a failed `op`: "OCI runtime <op> failed:
 * <last log.json error>" (UNKNOWN), reading <bundle>/log.json. Exposed for
 * the delete action and tests. */
struct ps_err *ps_runtime_error(const char *bundle, const char *op, int wait_status);

#endif
