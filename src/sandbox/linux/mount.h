/* The task rootfs: containerd's Mount list mounted, in order, onto
 * <bundle>/rootfs, with options parsed the way containerd parses them
 * (flags vs data, bind/rbind, ro remount for binds, `loop`, overlay lowerdir
 * shortening when the data would not fit in a page).
 *
 * Both calls run on the event loop and never sleep or retry on a timer:
 * a loop device lost to another process is replaced at once by the next
 * free one (a bounded number of times, then UNAVAILABLE), and a busy mount
 * is detached at once (below); a loop backing file that is not a file or
 * a block device (a FIFO would block the open) is refused. What is left is
 * the kernel's own work inside mount(2) and umount2(2) (reading a
 * superblock, writing back dirty data on the last unmount), bounded by the
 * device, not by a retry loop. */
#ifndef PS_SANDBOX_LINUX_MOUNT_H
#define PS_SANDBOX_LINUX_MOUNT_H

#include <stddef.h>

#include "base/error.h"
#include "task/backend.h"

/* Mounts every entry onto `target` (created 0711 if missing). On failure
 * whatever was mounted is unmounted again. n == 0 is a no-op. */
int ps_mount_all(const char *target, const struct ps_mount *mounts, size_t n, struct ps_err **err);

/* Unmounts everything at or below `target`, deepest first. Missing target
 * is fine; on other errors it goes on with the remaining mounts and then
 * fails.
 *
 * A mount the kernel calls busy (EBUSY: an open fd or a cwd inside it, a
 * path walk in flight) is detached with MNT_DETACH at once, never retried.
 * Why that is safe for a rootfs teardown:
 *  - Detaching takes the mount out of the namespace now: nothing can reach
 *    it by path any more, so no new user can appear. The file system
 *    behind it (an overlay and its upper/work dirs, a loop device with
 *    autoclear) lives on only while a holder keeps a reference, and the
 *    kernel shuts it down when the last one lets go, exactly as a plain
 *    unmount would have done then.
 *  - By the time a rootfs is torn down its container's processes are gone;
 *    a holder is an outsider (a shell cd'd into the bundle, a leaked fd, a
 *    process still exiting), and whatever it writes lands in a snapshot
 *    containerd is about to remove. Removing the snapshot's directories
 *    under a detached overlay works; the space comes back when the holder
 *    goes.
 *  - containerd's runc shim instead retries EBUSY 50 times, 50 ms apart
 *    (mount.UnmountAll: up to 2.5 s per mount, on its own goroutine), then
 *    fails the Delete and leaves the rootfs mounted. A transient holder is
 *    served as well by detaching (the file system goes a moment later,
 *    without the call waiting for it); for a lasting one, waiting gains
 *    nothing but a failed Delete, and here it would stall every other call
 *    of the pod. */
int ps_unmount_all(const char *target, struct ps_err **err);

#endif
