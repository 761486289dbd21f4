/* The pause-less infra process of a pod: started by the shim itself as its
 * direct child (so its exit reaches the reaper), in the namespaces the
 * sandbox's OCI spec asks for, and nothing else: no OCI runtime, no pause
 * image.
 *
 * Setup runs in the child between clone() and the final exec; the parent
 * does not wait for it on its loop thread: it watches a report pipe, which
 * reaches EOF at the exec (success) or carries the first error:
 *   given its oom_score_adj by the parent, enters the pod cgroup (born
 *   there, or by its own writes: cgroup/pod.h ps_pod_cgroup_entry),
 *   joins the network namespace path (or owns the new one it was cloned
 *   with; the caller brings its `lo` up), sets the pod hostname in its new UTS namespace,
 *   drops every capability and the bounding set, sets no_new_privs, becomes
 *   an unprivileged uid/gid, closes every inherited fd, then execs the static
 *   `podshim-infra` helper next to the shim binary (or, without it, runs the
 *   same tiny reap loop in place). The helper's one argument, when given,
 *   is the fd of the entry's `later` file: it writes "0" there before its
 *   loop, after the shim has had its report.
 *
 * A pod with a user namespace (linux.namespaces has "user") is built the
 * way runc builds a pause container's, so that the namespaces the pod
 * creates belong to its user namespace (the pod's containers join them from
 * inside it, and setns() there needs CAP_SYS_ADMIN over the owner):
 *   - a first stage, cloned by the shim in the shim's namespaces and still
 *     root there, joins the namespaces given by path, the user namespace
 *     first (then its privileges are the pod's: a network namespace made by
 *     CRI inside the pod's user namespace can be joined), and clones the
 *     infra process with CLONE_PARENT (a child of the shim, not of the first
 *     stage) and the new namespaces, CLONE_NEWUSER among them for a new user
 *     namespace, which the kernel then creates first and makes the owner of
 *     the others. The first stage reports the pid and exits; it never waits
 *     for anything, and the shim reaps it right away with waitpid(its pid)
 *     (the one wait outside the reaper for this module: it matches nothing
 *     else, and the infra process itself goes to the reaper as usual).
 *   - a new user namespace gets its uid_map and gid_map from
 *     linux.uidMappings/gidMappings, written by the shim (root in the parent
 *     namespace, so setgroups stays allowed) while the infra process waits,
 *     before anything else runs in it: runc's order. A joined one keeps its
 *     maps; if the spec also gives mappings they must be the namespace's
 *     (containerd 2.1 sends both; runc's rule).
 *   - the infra process's uid and gid are ids inside the user namespace and
 *     must be mapped there.
 *
 * Ownership: a struct ps_infra_spec borrows its strings, sysctls and
 * mappings from the parsed OCI spec it was made from (oci/spec.h), which
 * must outlive it; the spawn itself copies what the child needs (clone), so
 * the spec may go as soon as ps_infra_spawn() returns. */
#ifndef PS_SANDBOX_LINUX_INFRA_PROCESS_H
#define PS_SANDBOX_LINUX_INFRA_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "cgroup/pod.h"
#include "oci/spec.h"

#define PS_INFRA_DEFAULT_ID 65535 /* the pause image's "nobody" */

struct ps_infra_spec {
        const char *hostname;
        bool new_pid, new_ipc, new_uts, new_net; /* namespace entries without a path */
        const char *netns_path;                  /* network entry with a path: joined */
        const char *ipc_path, *uts_path;         /* other joined namespaces (rare) */
        bool new_user;                           /* a user namespace entry without a path */
        const char *user_path;                   /* a user namespace to join */
        /* linux.uidMappings/gidMappings: the maps of a new user namespace,
         * or those a joined one must have (none: not checked) */
        const struct ps_idmap *uid_map, *gid_map;
        size_t n_uid_map, n_gid_map;
        uid_t uid;
        gid_t gid;
        bool has_oom_score_adj;
        int oom_score_adj;
        /* linux.sysctl: namespaced kernel parameters (net.*, kernel.shm*,
         * ...), written from inside the pod's namespaces as runc does; at
         * most PS_SPEC_MAX_SYSCTLS. */
        const struct ps_spec_kv *sysctls;
        size_t n_sysctls;
};

/* What the infra process of a sandbox with this spec does: its
 * linux.namespaces, uidMappings, gidMappings, hostname, process.user,
 * process.oomScoreAdj and linux.sysctl. A uid or gid of 0 (or none) becomes
 * PS_INFRA_DEFAULT_ID: the infra process never runs as root, not even as a
 * user namespace's. INVALID_ARGUMENT for what it cannot do: join a pid
 * namespace by path; mappings without a user namespace, a new user
 * namespace without both uid and gid mappings, mappings the kernel would
 * refuse (oci/idmap.h), a uid or gid they do not map; a sysctl name that is
 * not a plain dotted (or slashed) name of at most 200 bytes. */
int ps_infra_spec_from(const struct ps_spec *spec, struct ps_infra_spec *ret, struct ps_err **err);

/* Called in the parent with the child's pid before the child proceeds
 * (and before the maps of a new user namespace are written): the place to
 * attach a process with a user namespace to the pod cgroup. */
typedef int (*ps_infra_place_fn)(void *data, pid_t pid, struct ps_err **err);

/* Starts the infra process; returns its pid (in the shim's pid namespace)
 * and in *ret_report the non-blocking read end of its report pipe (the
 * caller owns it). `helper` is the static helper to exec, or NULL to run the
 * loop in place. The process is set up only once ps_infra_report says so.
 * With a user namespace, what fails before the infra process exists (a
 * namespace path that cannot be joined) or before it is released (maps
 * that cannot be written, a joined namespace whose maps differ from the
 * spec's or do not map its uid/gid: INVALID_ARGUMENT) fails here.
 *
 * `entry` (NULL: the process stays in the shim's cgroups) is how it enters
 * the pod cgroup; the caller keeps it and may close it once this returns.
 * A process with a user namespace is spawned in two stages and placed by
 * `place` instead, as a whole process: its own writes would be checked
 * against its mapped ids by kernels before 5.16. A failed self-placement is
 * reported as the step "enter the pod cgroup". */
pid_t ps_infra_spawn(const struct ps_infra_spec *spec, const char *helper,
                     const struct ps_pod_cgroup_entry *entry, ps_infra_place_fn place, void *data,
                     int *ret_report, struct ps_err **err);

/* Reads the report once `report` is readable (or at any time): 1 if nothing
 * is there yet, 0 if the process finished its setup and runs the helper,
 * -1 with err naming the step that failed (the process is then killed; its
 * exit goes to the reaper like any other). */
int ps_infra_report(int report, pid_t pid, struct ps_err **err);

/* Path of the helper installed next to the running shim, or NULL if absent.
 * Caller frees. */
char *ps_infra_helper_path(void);

#endif
