/* stdio of one container process (init or exec): the link between the paths
 * containerd gives (FIFOs, file://, binary://) and the fds the OCI runtime
 * hands to the process, or the pty master it sends back for a terminal.
 *
 * Lifecycle, driven by the process module:
 *   1. ps_stdio_new()      before runc create/exec: opens the client FIFOs,
 *                          makes the pipes (non-tty) or the console socket
 *                          (tty), spawns a binary:// logger. May finish
 *                          asynchronously (a binary logger signals readiness):
 *                          `ready` runs from the loop once usable, or with an
 *                          error.
 *   2. ps_stdio_runtime_fds() / ps_stdio_console_socket(): what to give runc.
 *   3. ps_stdio_started()  after runc exited successfully: closes the shim's
 *                          copies of the child ends and starts the relays; for
 *                          a tty, receives the pty master from the console
 *                          socket (runc has sent it by then).
 *   4. ps_stdio_drain()    after the process exited: relays run until every
 *                          writer is gone (EOF) so output written just before
 *                          exit is never lost, then the client FIFOs' write
 *                          ends are closed (their readers see EOF); `done`
 *                          runs then, or after timeout_ms if a leftover child
 *                          still holds the pipes (the relays are cut then).
 *   5. ps_stdio_free()     closes everything still open.
 *
 * Relays: non-tty stdout/stderr are pipe -> FIFO (splice, no user-space copy;
 * a FIFO opened O_RDWR so a client reader may come and go); stdin is FIFO ->
 * pipe with a keep-alive writer on the stdin FIFO that ps_stdio_close_stdin()
 * drops (CloseIO), after which the client's EOF closes the process stdin. A
 * tty relays stdin FIFO -> pty master and master -> stdout FIFO with a small
 * buffer, tolerating EIO until the exit is known. All fds are non-blocking,
 * all copies are event driven, and per-stream buffering is bounded (a slow
 * reader applies back-pressure to the process, never grows the shim).
 *
 * file:///path: stdout and stderr appended to one file (parents created).
 * binary:///path?k=v: the logger is spawned with fd 3 = stdout read end,
 * fd 4 = stderr read end, fd 5 = readiness pipe write end, environment
 * CONTAINER_ID and CONTAINER_NAMESPACE; the process writes straight into
 * those pipes; on free the logger gets SIGTERM (SIGKILL after 12 s).
 * Any other scheme: INVALID_ARGUMENT "unknown STDIO scheme".
 *
 * Ownership: the process owns its ps_stdio.
 */
#ifndef PS_SANDBOX_LINUX_STDIO_H
#define PS_SANDBOX_LINUX_STDIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

struct event_base;
struct ps_reaper;
struct ps_stdio;

struct ps_stdio_config {
        const char *stdin_path;  /* "" or NULL: none */
        const char *stdout_path; /* may carry a file:// or binary:// URI */
        const char *stderr_path;
        bool terminal;
        uid_t io_uid; /* owner of the process ends of the pipes */
        gid_t io_gid;
        const char *container_id; /* for binary:// loggers */
        const char *ns;
        const char *tmp_dir; /* where the console socket directory goes */
};

typedef void (*ps_stdio_ready_fn)(void *data, struct ps_err *err /* owned by callee; NULL ok */);

struct ps_stdio *ps_stdio_new(struct event_base *base, struct ps_reaper *reaper,
                              const struct ps_stdio_config *cfg, ps_stdio_ready_fn ready,
                              void *data, struct ps_err **err);

/* fds for runc's 0, 1, 2 (-1 = /dev/null). Owned by stdio. For a tty,
 * all three are -1. */
void ps_stdio_runtime_fds(const struct ps_stdio *s, int fds[3]);

/* --console-socket path for a tty, else NULL. */
const char *ps_stdio_console_socket(const struct ps_stdio *s);

int ps_stdio_started(struct ps_stdio *s, struct ps_err **err);

int ps_stdio_resize(struct ps_stdio *s, uint32_t width, uint32_t height, struct ps_err **err);

/* CloseIO(stdin): drops the keep-alive writer. Idempotent. */
void ps_stdio_close_stdin(struct ps_stdio *s);

void ps_stdio_drain(struct ps_stdio *s, unsigned timeout_ms, void (*done)(void *data), void *data);

struct ps_stdio *ps_stdio_free(struct ps_stdio *s);

#endif
