/* Containers of a vm pod (docs/vm-backend.md, slice 2): each one runs in
 * the pod's VM, created, started, signalled and deleted by the agent, which
 * runs the OCI runtime there. The backend context (c->be_ctx) of a member
 * is its pod (struct ps_vm_pod); its exits come from the pod's WaitExits
 * (sandbox/vm/pod.c) and reach the task core as ps_task_process_exited.
 *
 * The bundle is the same path in the guest: the pod shares containerd's
 * bundle directory of the namespace with the VM, so a member must live
 * there (FAILED_PRECONDITION otherwise). Before Create the sandbox layer
 * adapts config.json to the guest (ps_vm_guest_spec). Stdio: containerd's
 * FIFOs relayed to and from pipes in the guest (sandbox/vm/stdio.h); a
 * member's exit is reported once its output is on the host. Execs (slice
 * 4) run in the guest through the agent (ExecProcess) with stdio of their
 * own, relayed the same way, and their exits held for their output as the
 * init's; deleting one deletes it in the guest. A terminal (a container's
 * or an exec's) is a pty in the guest, sized by the agent; the host relays
 * it through pipes as any stdio. A restore, pause, resume, update,
 * checkpoint and stats are UNIMPLEMENTED.
 *
 * Pids are guest pids. Once the pod's VM is gone, what ran in it is gone
 * too: delete succeeds with nothing to do, the rest is FAILED_PRECONDITION.
 */
#ifndef PS_SANDBOX_VM_CONTAINER_H
#define PS_SANDBOX_VM_CONTAINER_H

#include <cjson/cJSON.h>

#include "task/backend.h"

#define PS_VM_CGROUP_PARENT "/podshim" /* agent/containers.h PS_AGENT_CGROUP_PARENT */

struct ps_vm_member;
struct ps_vm_pod;

extern const struct ps_backend_ops ps_vm_container_ops;

/* The create of c as a member of pod (the ops' create, with the pod named:
 * a vm pod's members have it as be_ctx, a solo container has its own,
 * sandbox/vm/solo.h). The VM may still be booting: the guest's part of the
 * create then waits for ps_vm_member_vm_ready (or fails with
 * ps_vm_member_vm_gone). */
int ps_vm_member_create(struct ps_vm_pod *pod, struct ps_container *c,
                        const struct ps_create_request *req, ps_backend_fn done, void *data,
                        struct ps_err **err);

/* m's VM is up (its agent answered): a create waiting for it goes on. */
void ps_vm_member_vm_ready(struct ps_vm_member *m);

/* The agent reported m's init exited: the task core hears of it once m's
 * output ended in the guest and is on the host (bounded: see
 * ps_vm_stdio_on_output_end). */
void ps_vm_member_exited(struct ps_vm_member *m, unsigned exit_status);

/* The agent reported m's exec `exec_id` exited: reported to the task core
 * as the init's (held for its output). Unknown execs are ignored. */
void ps_vm_member_exec_exited(struct ps_vm_member *m, const char *exec_id, unsigned exit_status);

/* m's VM is gone: a create waiting for the boot fails (with the pod's
 * exit_err), its streams end, an exit held for them is reported now,
 * before this returns, and every exec that ran there is reported killed
 * (137). */
void ps_vm_member_vm_gone(struct ps_vm_member *m);

/* Adapts a member's config.json (its parsed `tree`, edited here) to the
 * guest and writes it back to <bundle>/config.json: namespaces created
 * anew (their paths name the host's /proc/<QEMU pid>/ns/...), the guest's
 * cgroup PS_VM_CGROUP_PARENT/<id>, no AppArmor profile or SELinux label
 * (the guest loads no policy). */
int ps_vm_guest_spec(const char *bundle, cJSON *tree, const char *id, struct ps_err **err);

#endif
