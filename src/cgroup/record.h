/* A pod cgroup's path kept in a file, for whoever must remove the cgroup
 * after the shim that made it died.
 *
 * A shim that is SIGKILLed removes nothing. containerd then runs the shim
 * binary's `delete` action for each of its tasks (shim/delete.c), which
 * knows only the task's bundle and cannot tell the pod cgroup's path from
 * it: a shim sandboxer pod's bundle has no config.json, and the cgroup
 * driver's expansion of cgroupsPath depends on options. So the pod records
 * the path (ps_pod_cgroup_path, already expanded) in a file of its own
 * naming once the cgroup is made, drops the record with the cgroup, and
 * the delete action clears what a record names. Who names the file and
 * where: sandbox/linux/linux.h (in the pod's bundle),
 * sandbox/vm/leftovers.h (in the VM's run directory).
 *
 * Unlike cgroup/pod.h, clearing may sleep (bounded by the caller): it is
 * for the short-lived delete action, or wait_ms 0 on the event loop. */
#ifndef PS_CGROUP_RECORD_H
#define PS_CGROUP_RECORD_H

#include "base/error.h"

/* Writes `cgroup_path` (a path relative to the hierarchy roots) to the
 * record `record`, atomically. */
int ps_cgroup_record_write(const char *record, const char *cgroup_path, struct ps_err **err);

/* The cgroup is gone: so goes its record. A missing record is fine. */
void ps_cgroup_record_drop(const char *record);

/* Removes the cgroup `record` names (cgroup/pod.h ps_pod_cgroup_open: only
 * the cgroup itself, in every hierarchy that has it, never a parent), then
 * the record. A cgroup stays busy for a moment after its last process
 * left, so a busy removal is tried again, backing off, until wait_ms have
 * passed (0: tried once). 0 when nothing is left (no record, or a record
 * of a cgroup that is gone); -1 otherwise, the record kept:
 * DEADLINE_EXCEEDED when still busy, FAILED_PRECONDITION while a process
 * or someone else's child cgroup is in it (cgroup/pod.h), or the failure
 * to read the record or to remove. */
int ps_cgroup_record_clear(const char *record, unsigned wait_ms, struct ps_err **err);

#endif
