/* A pod's sandbox task on the vm backend (docs/vm-backend.md): its init is
 * the VM, i.e. the QEMU process (sandbox/vm/vm.h). Create boots the VM and
 * answers once the agent inside has said Hello; Start reports QEMU's pid;
 * Kill signals QEMU; QEMU's exit, whatever the cause, is the task's exit
 * (ps_task_process_exited with its status), after which the sandbox layer
 * ends the pod's members as for the Linux backend's infra death.
 *
 * Slice 1: the pod only. Containers in a vm pod, exec, pause, stats and
 * the rest are not offered yet (UNIMPLEMENTED).
 *
 * Ownership: the shim root owns the ps_vm_backend context (c->be_ctx of
 * every vm pod); each pod's VM hangs on c->impl and goes with the
 * container (container_free), QEMU SIGKILLed if still running.
 */
#ifndef PS_SANDBOX_VM_POD_H
#define PS_SANDBOX_VM_POD_H

#include "task/backend.h"

struct event_base;
struct ps_reaper;

#define PS_VM_RUN_DIR "/run/podshim/vm"

struct ps_vm_backend {
        struct event_base *base;
        struct ps_reaper *reaper;
        const char *run_dir; /* where each VM's run directory goes; NULL: PS_VM_RUN_DIR */
};

extern const struct ps_backend_ops ps_vm_pod_ops;

#endif
