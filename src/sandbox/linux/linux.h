/* The Linux backend: containers run by an OCI runtime (runc, crun, any
 * runc-compatible binary) on this host, in pods whose namespaces and cgroup
 * a pause-less infra process of the shim's own holds.
 *
 * Two sets of backend operations (task/backend.h):
 *  - ps_linux_runc_ops: an OCI container: rootfs mounts, stdio relays, the
 *    runtime's create/start/exec/kill/delete/pause/resume/update/checkpoint/
 *    ps, exits through the reaper, OOM through the container's cgroup;
 *  - ps_linux_pod_ops: a pod's sandbox task in containerd's podsandbox mode
 *    (the container whose spec says container-type=sandbox): its init is
 *    the infra process (infra_process.h) in the pod cgroup; exec, pause,
 *    resume, update and checkpoint are not offered (UNIMPLEMENTED).
 *
 * Ownership: the shim root owns the ps_linux context, shared by every
 * container on this backend (c->be_ctx); each container and process keeps
 * its own state in `impl`, created here and freed through the ops' *_free.
 */
#ifndef PS_SANDBOX_LINUX_LINUX_H
#define PS_SANDBOX_LINUX_LINUX_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/list.h"
#include "oci/options.h"
#include "sandbox/linux/runtime.h"
#include "task/backend.h"
#include "task/container.h"

struct event_base;
struct ps_reaper;
struct ps_stdio;
struct ps_oom_watch;
struct ps_cgroup_paths;
struct ps_pod_cgroup;
struct ps_netns;
struct ps_infra_launch;

struct ps_linux {
        struct event_base *base;
        struct ps_reaper *reaper;
        const char *ns;
        const char *tmp_dir;            /* console sockets; NULL = /tmp */
        struct ps_list cgroup_removals; /* pod cgroups still being removed */
};

/* A container's state on this backend (c->impl). */
struct ps_linux_container {
        struct ps_linux *lx;
        struct ps_options opts;
        struct ps_runtime rt;
        bool rootfs_mounted;
        struct ps_oom_watch *oom;
        struct ps_cgroup_paths *cgroup; /* the init's cgroups, from create on (Stats) */
        /* a pod's member: the pod's bundle holding its record (members.h),
         * NULL if none was written; owned */
        char *pod_bundle;
        bool runtime_has_it; /* the runtime may hold state of it: keep the record */
        /* a pod's sandbox task only */
        struct ps_pod_cgroup *pod_cgroup;
        struct ps_infra_launch *launch; /* while the infra process sets up */
        struct ps_netns *netns;         /* the pod's netns, once first used */
};

/* A process's state on this backend (p->impl). */
struct ps_linux_process {
        int pidfd;     /* -1 when the kernel has no pidfd_open */
        pid_t watched; /* the pid the reaper watches for us, 0 if none */
        struct ps_stdio *stdio;
};

extern const struct ps_backend_ops ps_linux_runc_ops;
extern const struct ps_backend_ops ps_linux_pod_ops;

void ps_linux_init(struct ps_linux *lx, struct event_base *base, struct ps_reaper *reaper,
                   const char *ns, const char *tmp_dir);
/* When the shim exits: pod cgroup removals still pending get a last,
 * bounded (about a second) synchronous try each. */
void ps_linux_fini(struct ps_linux *lx);

/* ---- shared by the two op sets ---- */

static inline struct ps_linux_container *lx_container(const struct ps_container *c)
{
        return c->impl;
}

static inline struct ps_linux_process *lx_process(const struct ps_process *p)
{
        return p->impl;
}

/* Allocates c->impl (and the init's p->impl) with the given options. */
int ps_linux_container_new(struct ps_container *c, const struct ps_options *opts,
                           struct ps_err **err);
/* p->impl for an exec. */
int ps_linux_process_new(struct ps_process *p, struct ps_err **err);
/* The pid now runs: remember it (pidfd) and have the reaper report its
 * exit through ps_task_process_exited. */
int ps_linux_supervise(struct ps_process *p, pid_t pid, struct ps_err **err);
/* Signals p through its pidfd (pid-reuse safe) or kill(). */
int ps_linux_signal_process(struct ps_process *p, int sig, struct ps_err **err);
/* Resolves the init's cgroups for Stats and arms the OOM watch (best effort). */
void ps_linux_watch_cgroup(struct ps_container *c);
void ps_linux_process_free(struct ps_process *p);
void ps_linux_container_free(struct ps_container *c);
int ps_linux_resize(struct ps_process *p, uint32_t width, uint32_t height, struct ps_err **err);
void ps_linux_close_stdin(struct ps_process *p);
void ps_linux_drain(struct ps_process *p, void (*done)(void *data), void *data);

/* The pod cgroup's record (cgroup/record.h) in the bundle of a pod's own
 * task: written once the pod cgroup is made, dropped once it is removed.
 * Should the shim die, the `delete` action (shim/delete.c) removes the
 * cgroup it names: the infra process is no runtime's container, so no
 * `runc delete` does. */
#define PS_LINUX_POD_CGROUP_RECORD "pod-cgroup"
/* That record's path in `bundle`; caller frees. NULL: out of memory. */
char *ps_linux_pod_cgroup_record(const char *bundle);

/* The pod cgroup's removal, retried from a timer (pod.c). Takes cg, and
 * `record` (may be NULL), the path of cg's record, dropped once cg is
 * gone. */
void ps_linux_remove_pod_cgroup(struct ps_linux *lx, struct ps_pod_cgroup *cg, char *record);

#endif
