/* What a VM pod's shim leaves on the host when it is killed while its VM
 * runs, and its removal (docs/vm-backend.md, "A shim killed while its VM
 * runs, as built").
 *
 * QEMU dies with its shim (pdeathsig), but nothing else of the pod goes by
 * itself. Every path of a VM is named by the bundle of its pod's own task
 * (or of a container in a VM of its own), <hex> being the first 16 hex
 * digits of the bundle path's sha256, below the run root (PS_VM_RUN_DIR):
 *   <hex>/         the VM's run directory (vm.h): QEMU's agent socket and
 *                  its pid file
 *   <hex>.bundles  the bundle share (share.h), with a bind per member
 *   <hex>.cgroup   the pod cgroup's record (cgroup/record.h), written once
 *                  the cgroup is made, dropped with the cgroup
 * so containerd's `delete` action for that task (shim/delete.c), which
 * knows only the bundle, finds them all; a member's own bundle names no
 * VM. The next boot of the same bundle clears them as well.
 */
#ifndef PS_SANDBOX_VM_LEFTOVERS_H
#define PS_SANDBOX_VM_LEFTOVERS_H

#include <limits.h>
#include <sys/types.h>

#include "base/error.h"

struct ps_options;

#define PS_VM_RUN_DIR "/run/podshim/vm"

struct ps_vm_paths {
        char dir[PATH_MAX];         /* <hex> */
        char share[PATH_MAX + 16];  /* <hex>.bundles */
        char cgroup[PATH_MAX + 16]; /* <hex>.cgroup */
};

/* The paths of the VM of `bundle` below run_root (NULL: PS_VM_RUN_DIR).
 * INVALID_ARGUMENT when they would not fit. */
int ps_vm_paths_of(const char *run_root, const char *bundle, struct ps_vm_paths *ret,
                   struct ps_err **err);

/* Saves a vm task's options in its bundle (oci/options.h ps_options_save)
 * with Backend = "vm" whatever `o` (NULL: the defaults) says: the delete
 * action then leaves the runtime and the bundle's init.pid alone, which
 * for a container in a VM is the guest's runc's, a guest pid. */
int ps_vm_save_options(const char *bundle, const struct ps_options *o, struct ps_err **err);

/* Clears what a shim that died left of the VM of `bundle`: QEMU SIGKILLed
 * if it still runs (base/orphan.h: only the QEMU its pid file was written
 * for), then waited for up to wait_ms (0: not waited for, for a caller on
 * the event loop: a cgroup QEMU still holds then stays), the run
 * directory removed with whatever is in it, the share with its binds, the
 * recorded cgroup (busy: tried again for up to wait_ms). Every step is
 * tried; 0 when nothing is left, -1 with the first failure otherwise.
 * *ret_qemu (may be NULL): QEMU's pid from its pid file, 0 if none. */
int ps_vm_leftovers_clear(const char *run_root, const char *bundle, unsigned wait_ms,
                          pid_t *ret_qemu, struct ps_err **err);

#endif
