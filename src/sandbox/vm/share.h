/* A VM pod's bundle share (docs/vm-backend.md, "Per-pod bundle share, as
 * built"): the one host directory the guest gets read-write, holding a
 * bind of each member's bundle and nothing else, so a guest cannot reach
 * another pod's bundles or container roots.
 *
 * The directory (0700, root's) is a mount point of its own, a bind of
 * itself made private: the binds below it never propagate to other mount
 * namespaces (where the host's / is shared, as under systemd: only the
 * share's own, empty, mount reaches the parent's peers, and its unmount
 * takes those copies with it), and mounts made at containerd's bundle
 * paths later never reach them. QEMU runs in
 * the shim's mount namespace, so its 9p server sees a bind made after it
 * started without any propagation.
 *
 * A member's bind is recursive (its rootfs, mounted on the host before,
 * comes along) and made private too. The host paths a member's spec binds
 * (CRI's hosts, resolv.conf, hostname and shm, hostPath volumes) are bound
 * beside it, at <share>/.<id>.mounts/<n> (sandbox/vm/binds.h): the guest's
 * root holds no host file, so they reach the guest only this way; an id
 * never starts with '.', so those names are never a member's. Removing it detaches it (MNT_DETACH:
 * QEMU may hold files open below it) and removes its directory; freeing
 * the share does that for every entry, then for the share itself: nothing
 * is left on the host.
 */
#ifndef PS_SANDBOX_VM_SHARE_H
#define PS_SANDBOX_VM_SHARE_H

#include <stdbool.h>

#include "base/error.h"

struct ps_vm_share;

/* Makes the share at `dir` (its parent must exist). A stale one at the
 * same path (a shim that died) is cleared first. NULL with err, nothing
 * left. */
struct ps_vm_share *ps_vm_share_new(const char *dir, struct ps_err **err);

/* Removes what a shim that died left at `dir`: every entry detached and
 * removed, then the share's own mount and directory; 0 when nothing is
 * left (or nothing was there). */
int ps_vm_share_remove_stale(const char *dir, struct ps_err **err);

/* The share's directory on the host. */
const char *ps_vm_share_path(const struct ps_vm_share *s);

/* Binds `bundle` (recursively) at <share>/<id>; id must be a valid
 * container id (base/fs.h ps_id_valid). On failure nothing is left. */
int ps_vm_share_add(struct ps_vm_share *s, const char *id, const char *bundle, struct ps_err **err);

/* Binds host path `source` (followed, as mount(2) does) at
 * <share>/.<id>.mounts/<n>, made on the first call for id; recursively when
 * `recursive`, read-only when `readonly` (the bind's top mount: the guest's
 * kernel cannot write through it whatever its runtime does), private.
 * INVALID_ARGUMENT for a bad id or a source that does not exist,
 * ALREADY_EXISTS for an entry that does. On failure nothing of this bind
 * is left (earlier ones are: ps_vm_share_remove takes them). */
int ps_vm_share_add_bind(struct ps_vm_share *s, const char *id, unsigned n, const char *source,
                         bool recursive, bool readonly, struct ps_err **err);

/* Detaches <share>/<id> and <share>/.<id>.mounts/ and removes them; 0 when
 * they are gone (or never were). */
int ps_vm_share_remove(struct ps_vm_share *s, const char *id, struct ps_err **err);

/* Removes every entry and the share itself (failures logged); NULL ok.
 * Returns NULL. */
struct ps_vm_share *ps_vm_share_free(struct ps_vm_share *s);

#endif
