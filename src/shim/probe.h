/* Asking a helper program something from a short-lived shim action (-info,
 * -v): find it as an exec would, run it with one argument, read its stdout
 * with a bound on size and time. No event loop runs in these actions, so
 * the waiting is plain blocking code (shim/child.h). */
#ifndef PS_SHIM_PROBE_H
#define PS_SHIM_PROBE_H

#include <stddef.h>

#include "base/error.h"

/* Go's exec.LookPath: a name with a '/' is used as it is, anything else is
 * searched in $PATH (a built-in default when unset); either way it must be
 * executable. Returns the path (caller frees), or NULL with NOT_FOUND (not
 * on $PATH) or the access error. */
char *ps_probe_look_path(const char *name, struct ps_err **err);

/* Runs `binary arg` in a session of its own (argv only, stdin /dev/null,
 * stderr shared with ours) and reads its stdout to EOF: at most `max`
 * bytes, within `timeout_ms` for the output and the exit together. Returns
 * 0 with *ret_out (NUL-terminated, caller frees) and *ret_len when the
 * program exited 0; otherwise -1 with *ret_why (caller frees; NULL only
 * when even that message could not be allocated) saying what went wrong. */
int ps_probe_output(const char *binary, const char *arg, size_t max, int timeout_ms, char **ret_out,
                    size_t *ret_len, char **ret_why);

#endif
