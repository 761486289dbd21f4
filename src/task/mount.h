/* The task rootfs: containerd's Mount list mounted, in order, onto
 * <bundle>/rootfs, with options parsed the way containerd parses them
 * (flags vs data, bind/rbind, ro remount for binds, `loop`, overlay lowerdir
 * shortening when the data would not fit in a page). */
#ifndef PS_TASK_MOUNT_H
#define PS_TASK_MOUNT_H

#include <stddef.h>

#include "base/error.h"
#include "containerd/types/mount.pb-c.h"

/* Mounts every entry onto `target` (created 0711 if missing). On failure
 * whatever was mounted is unmounted again. n == 0 is a no-op. */
int ps_mount_all(const char *target, Containerd__Types__Mount *const *mounts, size_t n,
                 struct ps_err **err);

/* Unmounts everything at or below `target`, deepest first (MNT_DETACH as a
 * last resort). Missing target is fine. */
int ps_unmount_all(const char *target, struct ps_err **err);

#endif
