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
#include "task/spec.h"

#define PS_ANNOTATION_CONTAINER_TYPE "io.kubernetes.cri.container-type"

bool ps_infra_task_wanted(const struct ps_spec *spec);

/* Creates the pod cgroup and the infra process; on success the init has its
 * pid, is watched by the reaper, recorded in <bundle>/init.pid (for the
 * delete action), and is CREATED. */
int ps_infra_task_create(struct ps_container *c, const struct ps_spec *spec, struct ps_err **err);

/* Removes the pod cgroup (the process is gone by then) and releases the
 * pod's network namespace handle. */
void ps_infra_task_cleanup(struct ps_container *c);

/* Stats of the pod: the infra process's cgroup metrics plus, for cgroup v1
 * Metrics, the interface statistics of the pod network namespace. Caller
 * frees the outputs. */
int ps_infra_task_stats(struct ps_container *c, char **ret_type_url, uint8_t **ret_value,
                        size_t *ret_len, struct ps_err **err);

/* The infra process exited: kill every other container of this shim. */
void ps_infra_task_teardown(struct ps_container *c);

#endif
