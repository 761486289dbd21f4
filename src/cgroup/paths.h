/* Where a process's cgroups live in this mount namespace.
 *
 * Read from /proc/<pid>/cgroup (paths relative to each hierarchy's root) and
 * /proc/self/mountinfo (where those hierarchies, or parts of them, are
 * mounted). Works for combined (cpu,cpuacct) and separate v1 mounts, hybrid
 * hosts (v1 controllers plus cgroup2 at /sys/fs/cgroup/unified) and
 * unified-only hosts.
 */
#ifndef PS_CGROUP_PATHS_H
#define PS_CGROUP_PATHS_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

/* The v1 controllers the shim reads. */
enum ps_cgroup_ctrl {
        PS_CGROUP_MEMORY,
        PS_CGROUP_CPU,
        PS_CGROUP_CPUACCT,
        PS_CGROUP_PIDS,
        PS_CGROUP_BLKIO,
        PS_CGROUP_HUGETLB,
        PS_CGROUP_CTRL_MAX,
};

struct ps_cgroup_paths {
        /* Absolute directory of the process's cgroup in each v1 controller's
         * hierarchy; NULL where that controller is not mounted as v1 (or the
         * process's cgroup lies outside the mounted part). Combined mounts
         * give equal strings. */
        char *v1[PS_CGROUP_CTRL_MAX];
        /* Absolute directory of its cgroup2 cgroup; NULL without a cgroup2
         * mount. */
        char *unified;
        /* The memory controller is mounted as v1 (even if this process's
         * memory cgroup is not visible here). */
        bool memory_v1;
};

/* Resolves the cgroup directories of `pid`. A pid that does not exist gives
 * NOT_FOUND. On success the caller owns *ret (ps_cgroup_paths_free). */
int ps_cgroup_paths_of(pid_t pid, struct ps_cgroup_paths **ret, struct ps_err **err);

/* The paths of a cgroup whose directories the caller knows (it made them:
 * cgroup/pod.h), without reading /proc: `dirs[i]` lies in the hierarchy
 * whose controllers are `ctrls[i]` ("memory", "cpu,cpuacct"; "" for
 * cgroup2). On success the caller owns *ret. */
int ps_cgroup_paths_from(const char *const *ctrls, const char *const *dirs, size_t n,
                         struct ps_cgroup_paths **ret, struct ps_err **err);

/* True when metrics and OOM events come from v1 controllers: the memory
 * controller is mounted as v1 (containerd makes the same choice). */
bool ps_cgroup_paths_use_v1(const struct ps_cgroup_paths *p);

/* Accepts NULL; returns NULL. */
struct ps_cgroup_paths *ps_cgroup_paths_free(struct ps_cgroup_paths *p);

static inline void ps_cgroup_paths_freep(struct ps_cgroup_paths **p)
{
        ps_cgroup_paths_free(*p);
}

/* One mounted cgroup hierarchy (see ps_cgroup_mounts_list). */
struct ps_cgroup_mount {
        char *dir;   /* mount point */
        char *ctrls; /* v1: its controllers, comma-separated ("cpu,cpuacct"); cgroup2: "" */
        bool v2;
};

#define PS_CGROUP_MOUNTS_MAX 32

struct ps_cgroup_mounts {
        size_t n;
        struct ps_cgroup_mount m[PS_CGROUP_MOUNTS_MAX];
};

/* The hierarchies mounted in this mount namespace, from /proc/self/mountinfo
 * and /proc/cgroups, without libcgroup: every cgroup v1 hierarchy that has
 * at least one controller named in /proc/cgroups (named-only hierarchies
 * such as name=systemd are left out), in mount order, then the first
 * cgroup2 mount if there is one. A hierarchy mounted more than once is
 * listed once, at its first mount point. More hierarchies than
 * PS_CGROUP_MOUNTS_MAX: RESOURCE_EXHAUSTED. On success the caller owns *ret
 * (ps_cgroup_mounts_free). */
int ps_cgroup_mounts_list(struct ps_cgroup_mounts **ret, struct ps_err **err);

/* Accepts NULL; returns NULL. */
struct ps_cgroup_mounts *ps_cgroup_mounts_free(struct ps_cgroup_mounts *m);

static inline void ps_cgroup_mounts_freep(struct ps_cgroup_mounts **m)
{
        ps_cgroup_mounts_free(*m);
}

#endif
