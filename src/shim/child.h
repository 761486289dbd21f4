/* Waiting for a helper program in the short-lived shim actions (delete,
 * -info). These processes have no event loop and no reaper: a bounded
 * polling wait is the simple, correct tool there, and nowhere else. */
#ifndef PS_SHIM_CHILD_H
#define PS_SHIM_CHILD_H

#include <sys/types.h>

/* Returns the wait status of `pid`, or -1 after killing its process group
 * and itself when it overran `timeout_ms` (or could not be waited for).
 * The pid should lead its own session (ps_spawn_opts.new_session): a helper
 * it left behind would keep containerd's pipes open. */
int ps_child_wait(pid_t pid, int timeout_ms);

#endif
