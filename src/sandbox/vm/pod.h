/* A pod's sandbox task on the vm backend (docs/vm-backend.md): its init is
 * the VM, i.e. the QEMU process (sandbox/vm/vm.h). Create boots the VM and
 * answers once the agent inside has said Hello; Start reports QEMU's pid;
 * Kill signals QEMU (SIGTERM is ps_vm_pod_shutdown); QEMU's exit, whatever
 * the cause, is the task's exit (ps_task_process_exited with its status),
 * after which the sandbox layer
 * ends the pod's members as for the Linux backend's infra death.
 *
 * Its members (sandbox/vm/container.h) run in the VM through the agent; the
 * pod keeps their list, hands each exit the agent reports to its member,
 * and when QEMU exits reports every member still running exited (137, as
 * runc-v2 reports a container killed with its pod) before the pod's own
 * exit. Its stats are the pod cgroup's, i.e. the whole VM's as the host sees it;
 * exec, pause and the rest are not offered yet (UNIMPLEMENTED).
 *
 * QEMU runs in the pod cgroup (the sandbox spec's cgroupsPath, made as the
 * Linux backend makes it for its infra process), entered by QEMU's process
 * before it execs, so the guest's memory is the pod's; and the VM is sized
 * from the pod's resources (sandbox/vm/sizing.h). The cgroup is removed
 * once QEMU is gone.
 *
 * Ownership: the shim root owns the ps_vm_backend context (c->be_ctx of
 * every vm pod); each pod's VM and cgroup hang on c->impl and go with the
 * container (container_free), QEMU SIGKILLed if still running.
 */
#ifndef PS_SANDBOX_VM_POD_H
#define PS_SANDBOX_VM_POD_H

#include <stdbool.h>

#include "base/list.h"
#include "sandbox/vm/leftovers.h"
#include "task/backend.h"

struct event_base;
struct ps_pod_cgroup;
struct ps_reaper;
struct ps_vm_share;
struct ps_vm_stdio;
struct ps_vmnic;

struct ps_vm_backend {
        struct event_base *base;
        struct ps_reaper *reaper;
        const char *run_dir; /* where each VM's run directory goes; NULL: PS_VM_RUN_DIR */
        const char *ns;      /* containerd's namespace, for binary:// loggers */
};

/* A vm pod's state (c->impl of its own task; be_ctx of its members), or
 * the implicit VM of a container outside any pod (`solo`, sandbox/vm/solo.h:
 * then c is that container, and the pod has it as its only member). */
struct ps_vm_pod {
        struct ps_container *c;
        struct ps_vm_backend *be;
        bool solo;
        struct ps_vm *vm;
        struct ps_pod_cgroup *cgroup; /* QEMU's, the spec's cgroupsPath; NULL: none */
        char *cgroup_record;          /* its record (leftovers.h), while it is ours */
        char *runtime;                /* the OCI runtime the guest runs (BinaryName) */
        char *bundles;                /* where the guest sees its share: containerd's directory
                                       * of the members' bundles */
        struct ps_vm_share *share;    /* sandbox/vm/share.h; NULL once QEMU is gone */
        struct ps_list members;       /* struct ps_vm_member */
        ps_backend_fn create_done;    /* until the agent's Hello (or QEMU's end) */
        void *create_data;
        /* solo: runs last when QEMU has exited (its members were told); it
         * may free the pod. */
        void (*gone)(void *data);
        void *gone_data;
        struct ps_err *exit_err;   /* why QEMU is gone, once it is (for parked creates) */
        struct ps_vmnic *nic;      /* the pod's network (sandbox/vm/pod_net.h); NULL: none */
        struct ps_err *net_err;    /* SetupNetwork failed: QEMU was killed for it */
        bool freeing;              /* ps_vm_pod_free runs: agent callbacks are ignored */
        struct event *ev_shutdown; /* SIGKILL once a shutdown took too long */
};

/* A container of a vm pod (c->impl). */
struct ps_vm_member {
        struct ps_list link; /* in pod->members while the pod lives */
        struct ps_container *c;
        struct ps_vm_pod *pod;     /* NULL once the pod's task is freed */
        bool exited;               /* the agent reported its exit (or the VM ended) */
        bool rootfs_mounted;       /* <bundle>/rootfs, by us, on the host */
        bool shared;               /* its bundle is bound in the pod's share */
        struct ps_vm_stdio *stdio; /* sandbox/vm/stdio.h; NULL once its init is freed */
        unsigned exit_status;      /* held until its output is on the host */
        void *create_parked;       /* its create, waiting for the VM's boot */
};

extern const struct ps_backend_ops ps_vm_pod_ops;

/* Boots the VM of c (a vm pod's own task, or with `solo` a container
 * outside any pod: sized from its own resources then) from req's options
 * and spec, in the spec's cgroupsPath on the host. Returns the pod with
 * QEMU started and its boot under way; NULL with err, nothing left. */
struct ps_vm_pod *ps_vm_pod_boot(struct ps_vm_backend *be, struct ps_container *c,
                                 const struct ps_create_request *req, bool solo,
                                 struct ps_err **err);

/* The VM's orderly end: the agent's Shutdown (everything in the guest ends
 * with it), QEMU exiting 0 by itself; SIGKILLed if it still runs 3 s
 * later, or at once when the agent is not up. QEMU's exit is reported as
 * any. FAILED_PRECONDITION once QEMU has exited. The pod's own task takes
 * SIGTERM as this (StopSandbox stops a VM pod so, once its members are
 * gone: sandbox/lifecycle.c). */
int ps_vm_pod_shutdown(struct ps_vm_pod *pod, struct ps_err **err);

/* SIGKILLs a QEMU still running, removes the cgroup (once QEMU is gone),
 * detaches the members (their calls fail from then on) and frees. Not from
 * the VM's `ready`; from its `exited` (the `gone` hook) it may. NULL ok. */
void ps_vm_pod_free(struct ps_vm_pod *pod);

#endif
