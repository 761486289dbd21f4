/* The `delete` action containerd runs after every teardown and for shims it
 * can no longer reach. Idempotent and bounded (containerd kills it after
 * 5 s): force-deletes the container through the OCI runtime recorded in the
 * bundle (options.json), kills an orphaned workload, unmounts <bundle>/rootfs,
 * and writes a protobuf DeleteResponse{pid, 137, now} to stdout. It never
 * touches a shim daemon that may still serve other tasks of the group. */
#ifndef PS_SHIM_DELETE_H
#define PS_SHIM_DELETE_H

#include "shim/args.h"

int ps_delete_action(const struct ps_args *args);

#endif
