/* The OCI runtime's command line as containerd's runc-v2 shim builds it,
 * and the error its JSON log leaves behind: plain functions shared by the
 * shim's runtime driver (sandbox/linux/runtime.h), the `delete` action and
 * the guest agent, which runs the same runtime inside a pod VM.
 */
#ifndef PS_OCI_RUNTIME_CLI_H
#define PS_OCI_RUNTIME_CLI_H

#include <stddef.h>

#include "oci/options.h"

#define PS_RUNTIME_MAX_ARGS 48

/* The runtime's argv: the binary, the global flags every command gets
 * (--root <root>, --log <log>, --log-format json, [--systemd-cgroup],
 * [--criu]), then `args` (NULL-terminated), truncated to fit. `root` is
 * <Root>/<ns> and `log` is <bundle>/log.json. Returns the argument count. */
size_t ps_runtime_argv(const struct ps_options *o, char *root, char *log, char *const *args,
                       char *argv[PS_RUNTIME_MAX_ARGS]);

/* Reads the message of the last "level":"error" line of a runc JSON log
 * (bounded to its last 64 KiB). Caller frees; NULL if none. */
char *ps_runtime_last_error(const char *log_path);

#endif
