/* `<shim> -v` (or -version): what containerd's own shims print for it
 * (pkg/shim/shim.go: the program name, then indented fields, then a blank
 * line), with the OCI runtime in place of Go's version:
 *
 *   containerd-shim-podshim-v2:
 *     Version:  0.1.0
 *     Revision: 0123abcd...        (as recorded by the build; base/version.h)
 *     OCI runtime: runc version 1.1.5 (/usr/bin/runc, default)
 *
 * The OCI runtime is the one a task given no options gets under the
 * runtime type's profile (ps_options_profile_defaults): BinaryName from its
 * system config (PS_SYSTEM_CONFIG, the packaged config which the shipped
 * containerd snippets also name as ConfigPath; PS_VM_SYSTEM_CONFIG under
 * the VM name) when that file exists, else runc; looked up
 * on $PATH as the shim looks it up, and asked for its `--version` (first
 * line). A runtime that is missing or does not answer is reported in that
 * line; the exit status is 0 all the same, as for containerd's shims. */
#ifndef PS_SHIM_VERSION_H
#define PS_SHIM_VERSION_H

#include "oci/options.h"

/* Prints to stdout; `argv0` names the program in the first line, as Go's
 * filepath.Base(os.Args[0]) does. Returns the exit status. */
int ps_version_action(const char *argv0, const struct ps_options_profile *p);

#endif
