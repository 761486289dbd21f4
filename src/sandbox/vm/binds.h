/* The host paths a VM member's spec binds, given to the guest through its
 * pod's share (sandbox/vm/share.h), since the guest's root holds no host
 * file (docs/vm-backend.md, "Guest root, as built"): CRI's hosts,
 * resolv.conf, hostname and pod shm, the shim sandboxer's pod files,
 * hostPath volumes.
 *
 * A mount of <bundle>/config.json is such a bind when it is one (type
 * "bind", or a "bind"/"rbind" option) and its source is an absolute path
 * that the guest does not resolve itself:
 *  - a source under `guest_dir` (where the guest mounts the share:
 *    containerd's task directory of the namespace, so the member's own
 *    bundle too) stays: in the guest that path is the pod's own share, and
 *    a host bind of it would hand the guest every pod's bundles;
 *  - a source under /proc, /sys or /dev stays: those are the guest
 *    kernel's own (a host process's /proc entry means nothing there);
 *  - any other is bound at <share>/.<id>.mounts/<n> (n: the mount's index),
 *    recursively for "rbind", read-only for "ro", and its source in
 *    config.json becomes that entry's path in the guest,
 *    <guest_dir>/.<id>.mounts/<n>; the rest of the mount is unchanged, so
 *    the guest's runtime binds it where the spec says.
 * A relative source stays (the runtime resolves it in the bundle, which the
 * guest has).
 *
 * Done before the bundle is bound in the share, so config.json is read
 * before the guest can write it. At most PS_VM_MAX_BINDS binds
 * (INVALID_ARGUMENT beyond); a source that does not exist is
 * INVALID_ARGUMENT naming it. On failure the binds made so far are left:
 * ps_vm_share_remove(s, id) takes them, as it does at the member's end. */
#ifndef PS_SANDBOX_VM_BINDS_H
#define PS_SANDBOX_VM_BINDS_H

#include "base/error.h"

#define PS_VM_MAX_BINDS 256

struct ps_vm_share;

int ps_vm_binds_share(struct ps_vm_share *s, const char *id, const char *bundle,
                      const char *guest_dir, struct ps_err **err);

#endif
