/* The pod sandbox container as a pause-less infra task: the container whose
 * spec says io.kubernetes.cri.container-type=sandbox gets no OCI runtime;
 * its "init" is the shim's own infra process (sandbox/infra.h), living in
 * the pod cgroup. When it exits, every other container of the pod is killed:
 * the pod is gone. */
#ifndef PS_TASK_INFRA_TASK_H
#define PS_TASK_INFRA_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "task/container.h"
#include "oci/spec.h"

#define PS_ANNOTATION_CONTAINER_TYPE "io.kubernetes.cri.container-type"
#define PS_ANNOTATION_SANDBOX_ID     "io.kubernetes.cri.sandbox-id"

bool ps_infra_task_wanted(const struct ps_spec *spec);

/* Once the infra process is set up (or failed to be): err NULL on success,
 * else owned by the callee. */
typedef void (*ps_infra_ready_fn)(void *data, struct ps_err *err);

/* Creates the pod cgroup and starts the infra process. Its setup (joining
 * namespaces, hostname, sysctls, dropping privileges) runs in the child and
 * is waited for from the loop: `ready` runs once it is done, with the init
 * then holding its pid, watched by the reaper and recorded in
 * <bundle>/init.pid (for the delete action), or with the error that stopped
 * it (the process is then killed). -1 with err: failed at once, `ready`
 * never runs. Either way ps_container_free cleans up (the pod cgroup). */
int ps_infra_task_create(struct ps_container *c, const struct ps_spec *spec,
                         ps_infra_ready_fn ready, void *data, struct ps_err **err);

/* Removes the pod cgroup (the process is gone by then). The removal may
 * outlive the container: the kernel can keep the cgroup busy for a moment
 * after its last process left, so it is retried from a timer (about a
 * second in all), never by sleeping on the loop. Releases the pod's
 * network namespace handle. */
void ps_infra_task_cleanup(struct ps_container *c);

/* When the shim exits: the removals still pending get a last, bounded
 * (about a second) synchronous try each. */
void ps_infra_task_finish_removals(struct ps_tasks *t);

/* Stats of the pod: the infra process's cgroup metrics plus, for cgroup v1
 * Metrics, the interface statistics of the pod network namespace. Caller
 * frees the outputs. */
int ps_infra_task_stats(struct ps_container *c, char **ret_type_url, uint8_t **ret_value,
                        size_t *ret_len, struct ps_err **err);

/* The infra process exited: kill every other container of its pod (those
 * whose sandbox id is the infra task's id), and only those: one shim may
 * serve several pods (containers grouped by io.containerd.runc.v2.group). */
void ps_infra_task_teardown(struct ps_container *c);

#endif
