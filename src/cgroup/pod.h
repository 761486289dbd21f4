/* The pod-level cgroup the shim's pause-less infra process lives in.
 *
 * Hierarchies: every mounted cgroup v1 hierarchy that has a controller (the
 * named name=systemd hierarchy is left alone), plus the cgroup2 hierarchy if
 * one is mounted. Mounts are discovered anew on every create, from
 * /proc/self/mountinfo and /proc/cgroups (cgroup/paths.h). This module never
 * calls libcgroup: cgroup_init() makes ~850 kB of libcgroup's static mount
 * tables resident (measured), for the life of the long-lived per-pod shim
 * daemon that uses this module.
 *
 * What is written outside the pod's own cgroups (the rule):
 *  - hybrid host (any v1 hierarchy mounted, cgroup2 beside it, e.g. at
 *    /sys/fs/cgroup/unified): the cgroup2 hierarchy is membership only, as
 *    runc treats it. The directories are made, the process is attached,
 *    they are removed; no cgroup.subtree_control is ever written there and
 *    no resource is set there, whatever controllers cgroup2 holds (a
 *    controller enabled there stays bound to cgroup2: crun 1.8 then refuses
 *    every container on the node, and the controller can no longer be
 *    mounted as v1).
 *  - cgroup v2-only host: a cgroup only has the controllers its parent
 *    enables, so create enables, top-down from the hierarchy root to the
 *    pod cgroup's parent (the directories on the pod's path, never the pod
 *    cgroup itself nor any other cgroup), the controllers the pod cgroup
 *    uses (cpu, memory, pids, io, hugetlb) that the directory has and does
 *    not enable yet; nothing else (runc enables every available one, such
 *    as cpuset, rdma and misc: the pod cgroup uses none of them). They are
 *    never disabled again: by then other cgroups below (the pod's
 *    containers) may rely on them; runc does not disable them either.
 *  - v1: an empty cpuset.cpus/mems on the pod's path is filled from its
 *    parent (a cgroup without cpus takes no process), as runc does; no
 *    other value outside the pod cgroup is touched.
 *
 * Paths (OCI linux.cgroupsPath):
 *  - cgroupfs driver: "/kubepods/burstable/pod123/<id>"; a relative path is
 *    taken relative to the hierarchy roots, as runc does. "", "/" and any
 *    "." or ".." component are INVALID_ARGUMENT.
 *  - systemd driver: "slice:prefix:name", e.g.
 *    "kubepods-burstable-pod123.slice:cri-containerd:<id>" ->
 *    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice/
 *     cri-containerd-<id>.scope". Slices expand as systemd does (each '-'
 *    prefix is a parent slice, "-.slice" is the root, an empty slice means
 *    "system.slice"); a name ending in ".slice" is itself a slice, placed by
 *    its own name. We do NOT talk to systemd over D-Bus: the same
 *    directories are created with cgroupfs, so systemd does not know the
 *    scope as a unit (no unit properties, no systemctl view of it).
 *
 * Ownership: the infra container owns its ps_pod_cgroup; ps_pod_cgroup_free
 * releases the handle only (the directories stay until ps_pod_cgroup_remove).
 * Everything here does short synchronous cgroupfs I/O and never sleeps.
 */
#ifndef PS_CGROUP_POD_H
#define PS_CGROUP_POD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

struct ps_pod_cgroup;
struct ps_cgroup_paths;

/* Creates (mkdir -p semantics) the cgroup named by `cgroups_path` (see above)
 * in every hierarchy, writing outside it only what the rule above allows:
 * on a v2-only host the pod's controllers in the subtree_control of the
 * directories above it, on v1 an empty cpuset.cpus/mems. The handle
 * remembers exactly which directories it created, so remove never deletes a
 * parent it did not create (e.g. the kubelet's pod cgroup); the cgroup
 * itself (the last component) always counts as the handle's, even when it
 * existed already (left over by a shim that died). On failure nothing
 * created is left behind. */
struct ps_pod_cgroup *ps_pod_cgroup_create(const char *cgroups_path, bool systemd,
                                           struct ps_err **err);

/* A handle on the cgroup `cgroups_path` names as a shim that died left it,
 * for its removal: nothing is made or written. Only the cgroup itself (the
 * last component) counts as the handle's, in the hierarchies that have it:
 * which of its parents that shim made can no longer be told. NOT_FOUND
 * when no hierarchy has it. */
struct ps_pod_cgroup *ps_pod_cgroup_open(const char *cgroups_path, bool systemd,
                                         struct ps_err **err);

/* The most hierarchies a pod cgroup spans. */
#define PS_POD_CGROUP_MAX_HIER 16

/* How a new process enters the pod cgroup without an attach on the pod's
 * critical path. Moving a process (a cgroup.procs write) takes the kernel's
 * threadgroup lock, whose write side waits for an RCU grace period when no
 * other attach happened just before: 8-16 ms per pod on these hosts. Three
 * ways around it, each an O_CLOEXEC fd the entry owns (-1 where it does not
 * apply):
 *  - `dir`, a cgroup2-only host: the pod cgroup's directory, to fork
 *    straight into (clone3 CLONE_INTO_CGROUP);
 *  - `self`, written "0" by the new process itself before it reports set
 *    up, unless it was born in `dir`: v1's `tasks` files, which move only
 *    the writer's own thread (the whole process while it has one) and so,
 *    since Linux 6.0, take no threadgroup lock (0.4 ms for every v1
 *    hierarchy against 15 ms for their cgroup.procs, measured here); on a
 *    cgroup2-only host its cgroup.procs, for a kernel without clone3;
 *  - `later`, a hybrid host: cgroup.procs of the membership-only cgroup2
 *    hierarchy, written "0" by the process once it runs, when nobody waits
 *    for it any more. The write is checked with the credentials of the
 *    open (Linux 5.16 and later), so the unprivileged process may make it.
 * The process must be single-threaded until it has written `self`. */
struct ps_pod_cgroup_entry {
        int dir;
        int self[PS_POD_CGROUP_MAX_HIER];
        size_t n_self;
        int later;
};

/* Opens `e` for `cg` (every fd -1 first, so closing a failed open is
 * safe). */
int ps_pod_cgroup_entry_open(const struct ps_pod_cgroup *cg, struct ps_pod_cgroup_entry *e,
                             struct ps_err **err);
void ps_pod_cgroup_entry_close(struct ps_pod_cgroup_entry *e);

/* The pod cgroup's directories as cgroup/paths.h has them (for its metrics
 * and OOM watch), from the handle, without reading /proc. On a hybrid host
 * `unified` is the pod's membership-only cgroup2 directory. The caller owns
 * *ret. */
int ps_pod_cgroup_paths(const struct ps_pod_cgroup *cg, struct ps_cgroup_paths **ret,
                        struct ps_err **err);

/* Moves the whole process `pid` (all its threads) into the cgroup in every
 * hierarchy (cgroup.procs writes). A pid that does not exist: NOT_FOUND.
 * Stops at the first failure, so the process may then be in only some of
 * the hierarchies (the caller kills it). On a hybrid host this includes the
 * cgroup2 hierarchy (membership only, see above). */
int ps_pod_cgroup_attach(struct ps_pod_cgroup *cg, pid_t pid, struct ps_err **err);

/* Applies the few resources a sandbox spec carries; 0 leaves a value unset.
 * v1: cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us,
 * memory.limit_in_bytes. v2-only host: cpu.weight (converted from shares as
 * runc does), cpu.max ("<quota|max> [<period>]"), memory.max. A negative
 * quota or memory limit means unlimited. Hierarchies without the controller
 * are skipped, and so is the cgroup2 hierarchy of a hybrid host. */
int ps_pod_cgroup_set_resources(struct ps_pod_cgroup *cg, uint64_t cpu_shares, int64_t cpu_quota,
                                uint64_t cpu_period, int64_t memory_limit, struct ps_err **err);

/* ps_pod_cgroup_remove: not done yet, call again later. */
#define PS_POD_CGROUP_BUSY 1

/* Removes the directories the handle created, deepest first, in every
 * hierarchy, with at most one rmdir per directory per call: it never
 * sleeps, so it may run on the event loop. Returns
 *  - 0: every directory the handle created is gone (a parent we created
 *    that now holds other cgroups, e.g. the pod's containers', is left in
 *    place and dropped from the handle). Calling again returns 0 and
 *    touches nothing.
 *  - PS_POD_CGROUP_BUSY (1), *err untouched: the kernel still refused a
 *    directory with EBUSY (a cgroup stays busy for a moment after its last
 *    process left, v1 and v2). What could go is gone, in every hierarchy;
 *    the handle remembers what is left. Call again later, from a timer
 *    (the EBUSY normally clears within milliseconds; back off, e.g. 1, 2,
 *    4 ... ms, and give up after a bound of the caller's choice).
 *  - -1 and *err: FAILED_PRECONDITION when the cgroup still has processes
 *    or a child cgroup of someone else (checked first: then nothing is
 *    removed; the caller kills and reaps first); any other failure (rmdir
 *    errno) with what could go removed. A later call only handles what is
 *    left.
 * Idempotent: directories already gone count as removed. */
int ps_pod_cgroup_remove(struct ps_pod_cgroup *cg, struct ps_err **err);

/* The path relative to the hierarchy roots ("/kubepods/pod1/abc"). */
const char *ps_pod_cgroup_path(const struct ps_pod_cgroup *cg);

/* `cg` takes over what `old`, a handle on the same path whose removal was
 * still pending (a pod of the same cgroups path made again at once), made
 * and has not removed yet: `old` must then be freed without a removal, and
 * cg's removal takes those directories too. Hierarchies are matched by
 * mount point; a handle on another path is left alone. */
void ps_pod_cgroup_inherit(struct ps_pod_cgroup *cg, const struct ps_pod_cgroup *old);

/* Does not remove anything. Accepts NULL; returns NULL. */
struct ps_pod_cgroup *ps_pod_cgroup_free(struct ps_pod_cgroup *cg);

/* Validates and normalizes an OCI cgroupsPath into the path relative to the
 * hierarchy roots ("/a/b/c": one leading '/', no empty, "." or ".."
 * components), expanding the systemd form when `systemd`. On success the
 * caller owns *ret_path. Bad input: INVALID_ARGUMENT. */
int ps_pod_cgroup_expand_path(const char *cgroups_path, bool systemd, char **ret_path,
                              struct ps_err **err);

/* cgroup v1 cpu.shares -> v2 cpu.weight, as runc converts them: shares are
 * clamped to [2, 262144], then weight = 1 + ((shares - 2) * 9999) / 262142.
 * 0 (unset) stays 0. */
uint64_t ps_pod_cgroup_shares_to_weight(uint64_t shares);

static inline void ps_pod_cgroup_freep(struct ps_pod_cgroup **cg)
{
        ps_pod_cgroup_free(*cg);
}

#endif
