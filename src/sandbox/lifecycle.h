/* The pod lifecycle the Sandbox API drives (containerd 2.x's shim
 * sandboxer): create, start, stop, wait, shut down, status and metrics of
 * a sandbox, as plain operations on the sandbox registry.
 *
 * A pod made here is the same ps_sandbox a podsandbox-mode Task Create
 * makes: its own task runs the infra process on the registry's pod
 * backend, or is a VM (sandbox/vm/pod.h) when the options say Backend =
 * "vm" (CreateSandbox brings no options: the registry's profile, i.e. the
 * runtime type's defaults, decides), its members join it by their
 * io.kubernetes.cri.sandbox-id, and
 * its end kills and reports every member (sandbox.h). The differences:
 * the own task's spec comes from the pod's CRI config (pod_spec.h), and
 * the pod's own lifecycle is driven from here, not through the Task API.
 * Start, stop and shutdown of a sandbox born from a Task Create are
 * FAILED_PRECONDITION: containerd drives that one as a task.
 *
 * Asynchronous operations follow task/container.h's rule: -1 with err set
 * when they failed at once, 0 when `done` runs exactly once (possibly
 * before the call returns), 1 when they completed at once without `done`.
 *
 * Ownership: requests are borrowed for the call; an operation holds its
 * sandbox (sb->holds) until its `done` has run. */
#ifndef PS_SANDBOX_LIFECYCLE_H
#define PS_SANDBOX_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "oci/options.h"
#include "sandbox/pod_spec.h"
#include "sandbox/sandbox.h"
#include "task/metrics.h"

struct ps_pod_request {
        const char *id;
        const char *bundle;     /* absolute; holds no config.json */
        const char *netns_path; /* NULL or "": none (host network, or a new one) */
        /* Recorded (TaskCreate-style) but not mounted: the pod runs no
         * image, exactly as a podsandbox-mode pod ignores its pause
         * image's root file system. */
        const struct ps_mount *rootfs;
        size_t n_rootfs;
        const struct ps_pod_config *config; /* required */
        const struct ps_options *options;   /* NULL: the defaults */
};

/* CreateSandbox: the infra process is spawned in the pod's namespaces and
 * cgroup; `done` runs once it is set up (the own task CREATED). On the vm
 * backend the VM boots here and `done` runs once its agent said Hello. An id or
 * bundle that is not clean is INVALID_ARGUMENT, an id in use (a sandbox or
 * a task) ALREADY_EXISTS, and what the config asks that a pod cannot do is
 * refused as pod_spec.h says. */
int ps_sandboxes_create_pod(struct ps_sandboxes *s, const struct ps_pod_request *req, ps_op_fn done,
                            void *data, struct ps_err **err);

/* StartSandbox: the own task's Start (its state table's answers: starting
 * a started pod is FAILED_PRECONDITION). res->pid is the infra process. */
int ps_sandbox_start(struct ps_sandbox *sb, ps_op_fn done, void *data, struct ps_err **err);

/* StopSandbox: with timeout_secs > 0 and an event base, every member gets
 * SIGTERM and the pod that long to empty itself; then (or at once) the
 * infra process gets SIGKILL, which ends the pod: the rest is killed and
 * reported. `done` runs once the pod has ended; 1 when it had already. */
int ps_sandbox_stop(struct ps_sandbox *sb, unsigned timeout_secs, ps_op_fn done, void *data,
                    struct ps_err **err);

/* ShutdownSandbox: stops the pod (SIGKILL), waits for it to end, deletes
 * the members still registered and then the own task, which frees the
 * sandbox. A second call while one runs is FAILED_PRECONDITION. */
int ps_sandbox_shutdown(struct ps_sandbox *sb, ps_op_fn done, void *data, struct ps_err **err);

/* WaitSandbox: fn runs once the pod has ended, or the sandbox was freed
 * before (sb->dead; from a Task Delete of its own task, or the shim's
 * exit). The waiter is freed after fn; remove it to cancel. */
struct ps_sandbox_waiter *ps_sandbox_add_waiter(struct ps_sandbox *sb, ps_sandbox_wait_fn fn,
                                                void *data, struct ps_err **err);
void ps_sandbox_remove_waiter(struct ps_sandbox_waiter *w);

/* The own task runs and the pod has not ended: CRI's SANDBOX_READY. */
bool ps_sandbox_ready(const struct ps_sandbox *sb);
/* The own task and every member have exited. */
bool ps_sandbox_ended(const struct ps_sandbox *sb);
/* The infra process's pid: 0 before it was spawned and once the pod has
 * ended, as CRI itself forgets it then (handleSandboxExit). CRI builds
 * the namespace paths of every new container from it, and an exited
 * pid may be another process's by then. */
pid_t ps_sandbox_pid(const struct ps_sandbox *sb);

/* SandboxMetrics: the own task's Stats (the pod cgroup, and on cgroup v1
 * the pod network's links), task/container.h's rules. */
int ps_sandbox_metrics(struct ps_sandbox *sb, struct ps_metrics *ret, struct ps_err **err);

#endif
