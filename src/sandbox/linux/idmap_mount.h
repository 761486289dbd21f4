/* Remapped rootfs mounts: containerd 2.x's snapshotters give a snapshot of
 * a user-namespace pod's container the mount options "uidmap=" and
 * "gidmap=" (oci/idmap.h, ps_idmap_parse_option), which are not mount(2)
 * data but a request to show the layers' files through those maps, as
 * containerd's own core/mount does for its runc shim:
 *   - overlay: the lower layers are read through an idmapped, read-only
 *     clone of their common parent directory (the upper layer is the
 *     snapshotter's, already owned by the mapped ids);
 *   - anything else (a one-layer snapshot is a bind mount): the mount,
 *     once made, gets an idmapped clone of itself stacked on top.
 * Unlike containerd, the overlay's clone is never attached anywhere: the
 * mount(2) of the overlay resolves the lower layers from inside the
 * detached clone (its fd as the working directory), so no temporary mount
 * point or directory exists at any time; the clone lives on only as the
 * overlay's lower layers, and goes with the overlay.
 *
 * Needs Linux 5.12 (mount_setattr, MOUNT_ATTR_IDMAP) and, for overlay,
 * 5.19 (idmapped lower layers). */
#ifndef PS_SANDBOX_LINUX_IDMAP_MOUNT_H
#define PS_SANDBOX_LINUX_IDMAP_MOUNT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* "uidmap=..." or "gidmap=...": an option that is not mount data. */
bool ps_idmap_mount_option(const char *option);

/* The user namespace the options ask for: *ret_userns is -1 when they name
 * no maps, else an fd (O_CLOEXEC, the caller's) on a new user namespace
 * with them (sandbox/linux/userns.h). uidmap= without gidmap= (or the
 * reverse), a repeated one, or a malformed value: INVALID_ARGUMENT (the
 * snapshotters write both or neither; containerd's runc shim would mount
 * without any mapping then, silently). */
int ps_idmap_mount_userns(char *const *options, size_t n, int *ret_userns, struct ps_err **err);

/* A detached, non-recursive clone of the mount tree at `path`, idmapped
 * with `userns` (and read-only when `rdonly`). Returns its fd (O_CLOEXEC),
 * the caller's. */
int ps_idmap_mount_clone(const char *path, int userns, bool rdonly, struct ps_err **err);

/* Stacks an idmapped clone of the mount at `target` on top of it. */
int ps_idmap_mount_in_place(const char *target, int userns, struct ps_err **err);

#endif
