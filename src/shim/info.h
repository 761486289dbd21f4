/* `<shim> -info`, as containerd 2.x runs it (just that flag, no other
 * arguments): reads the options Any from stdin, prints a protobuf
 * containerd.types.RuntimeInfo on stdout and exits 0, or prints an error on
 * stderr, nothing on stdout, and exits 1.
 *
 * Like containerd's runc-v2 shim (2.1 cmd/containerd-shim-runc-v2/manager):
 * the OCI runtime is the one these options select (BinaryName, else the
 * default), looked up as an exec would; not finding it is an error. Its
 * `features` output becomes RuntimeInfo.features; a runtime without that
 * subcommand (bookworm's crun 1.8.1), or one whose output is not a JSON
 * object, gives an answer without features and a note on stderr. containerd
 * then refuses tasks with idmapped mounts, which is right: it cannot know
 * the runtime supports them. Options podshim would refuse in Create are
 * refused here too. */
#ifndef PS_SHIM_INFO_H
#define PS_SHIM_INFO_H

#include "oci/options.h"

/* Returns the process exit code. RuntimeInfo's name is p's runtime type,
 * the options on stdin are decoded under p. */
int ps_info_action(const struct ps_options_profile *p);

#endif
