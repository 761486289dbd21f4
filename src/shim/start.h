/* The `start` action: pick the group, bind the pod's socket (or reuse the
 * live shim already serving it), write <bundle>/address ("unix://<socket>",
 * which 1.x reads on restore), fork the serving daemon with the listener,
 * print the bootstrap reply (shim/bootstrap.h) and exit.
 * Runs with cwd = bundle; stdout and stderr are one pipe containerd reads to
 * EOF, so the daemon is detached from both before this process exits. */
#ifndef PS_SHIM_START_H
#define PS_SHIM_START_H

#include "shim/args.h"

/* The daemon's entry point: serves on `listen_fd` (already listening, owned)
 * whose socket file is `socket_path`, until the last task is gone. Returns
 * the process exit code. Implemented by shim/serve.c. */
int ps_serve(const struct ps_args *args, int listen_fd, const char *socket_path);

/* Binds and listens on the unix socket `path` (mode 0600, O_CLOEXEC and
 * O_NONBLOCK). When the path is taken, probes it for 100 ms: a live
 * listener means another shim of the group serves it (returns 1, *ret_fd
 * untouched); otherwise the stale file is removed and bound once more.
 * Returns 0 with the new listener in *ret_fd (owned by the caller). */
int ps_socket_bind_or_probe(const char *path, int *ret_fd, struct ps_err **err);

/* Returns the process exit code. */
int ps_start_action(const struct ps_args *args);

#endif
