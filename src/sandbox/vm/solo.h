/* A container outside any pod whose runtime options say Backend = "vm"
 * (what `ctr run --runtime io.containerd.podshim.v2 --runtime-config-path
 * <vm config>` makes): it gets a VM of its own, an implicit vm pod
 * (sandbox/vm/pod.h) with this container as its only member
 * (sandbox/vm/container.h), so it runs exactly as a vm pod's container does.
 *
 * Create boots the VM (sized from the container's own linux.resources on
 * top of the handler's base, in the spec's cgroupsPath on the host) and
 * creates the container in it once the agent answers; the task's pid is the
 * container's init in the guest. Start, Kill, Pids, Stats, stdio and the
 * exit are the member's: the task's exit is the container's. QEMU's death
 * reports the container exited 137 (a create then fails). Delete deletes the
 * container in the guest, then shuts the VM down (the agent's Shutdown,
 * SIGKILL if QEMU is still there after SHUTDOWN_MS) and answers once QEMU
 * has been reaped: its run directory, socket and cgroup are gone by then,
 * and the rootfs is unmounted. A create that fails also answers only once
 * QEMU is gone, so nothing of it is left either.
 *
 * Ownership: c->be_ctx is the vm backend (struct ps_vm_backend), c->impl
 * the member, whose pod (the VM and this module's state) goes with the
 * container (container_free).
 */
#ifndef PS_SANDBOX_VM_SOLO_H
#define PS_SANDBOX_VM_SOLO_H

#include "task/backend.h"

extern const struct ps_backend_ops ps_vm_solo_ops;

#endif
