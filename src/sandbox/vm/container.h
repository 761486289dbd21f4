/* Containers of a vm pod (docs/vm-backend.md, slice 2): each one runs in
 * the pod's VM, created, started, signalled and deleted by the agent, which
 * runs the OCI runtime there. The backend context (c->be_ctx) of a member
 * is its pod (struct ps_vm_pod); its exits come from the pod's WaitExits
 * (sandbox/vm/pod.c) and reach the task core as ps_task_process_exited.
 *
 * The bundle is the same path in the guest: the pod shares containerd's
 * bundle directory of the namespace with the VM, so a member must live
 * there (FAILED_PRECONDITION otherwise). Before Create the sandbox layer
 * adapts config.json to the guest (ps_vm_guest_spec). Stdio in this slice:
 * the container's stdout and stderr go to files in its bundle
 * (PS_VM_STDOUT_FILE, PS_VM_STDERR_FILE), containerd's FIFOs get nothing
 * and stdin is /dev/null; the relay to the FIFOs is slice 3. A terminal,
 * exec, pause, resume, update, checkpoint and stats are UNIMPLEMENTED.
 *
 * Pids are guest pids. Once the pod's VM is gone, what ran in it is gone
 * too: delete succeeds with nothing to do, the rest is FAILED_PRECONDITION.
 */
#ifndef PS_SANDBOX_VM_CONTAINER_H
#define PS_SANDBOX_VM_CONTAINER_H

#include <cjson/cJSON.h>

#include "task/backend.h"

#define PS_VM_STDOUT_FILE   "vm-stdout.log"
#define PS_VM_STDERR_FILE   "vm-stderr.log"
#define PS_VM_CGROUP_PARENT "/podshim" /* agent/containers.h PS_AGENT_CGROUP_PARENT */

extern const struct ps_backend_ops ps_vm_container_ops;

/* Adapts a member's config.json (its parsed `tree`, edited here) to the
 * guest and writes it back to <bundle>/config.json: namespaces created
 * anew (their paths name the host's /proc/<QEMU pid>/ns/...), the guest's
 * cgroup PS_VM_CGROUP_PARENT/<id>, no AppArmor profile or SELinux label
 * (the guest loads no policy). */
int ps_vm_guest_spec(const char *bundle, cJSON *tree, const char *id, struct ps_err **err);

#endif
