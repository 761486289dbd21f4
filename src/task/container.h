/* Containers of this shim and the operations on them. A container is one
 * OCI runtime container: its init process, its execs, its rootfs mounts and
 * the runtime options it was created with.
 *
 * Every asynchronous operation follows one rule: it returns -1 with err set
 * if it failed at once, 0 if `done` runs exactly once (usually later from the
 * loop, possibly before the function returns), or 1 if it completed at once
 * without calling `done`. After a 0 the caller must not touch what `done`
 * may have released.
 *
 * Ownership: ps_tasks owns its containers; a container owns its processes.
 * A container with an operation in flight is never freed (deletion waits for
 * `busy` to drop).
 */
#ifndef PS_TASK_CONTAINER_H
#define PS_TASK_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/list.h"
#include "containerd/task/v2/task.pb-c.h"
#include "oci/options.h"
#include "task/process.h"
#include "sandbox/linux/runtime.h"

struct event_base;
struct ps_reaper;
struct ps_publisher;
struct ps_oom_watch;
struct ps_pod_cgroup;
struct ps_cgroup_paths;
struct ps_infra_launch;
struct ps_netns;

/* What the task module borrows from the shim. */
struct ps_task_env {
        struct event_base *base;
        struct ps_reaper *reaper;
        struct ps_publisher *pub;
        const char *ns;
        const char *tmp_dir; /* console sockets; NULL = /tmp */
};

struct ps_tasks {
        struct ps_task_env env;
        struct ps_list containers;
        size_t n_containers;
        struct ps_list cgroup_removals; /* pod cgroups still being removed */
};

struct ps_container {
        struct ps_list link;
        struct ps_tasks *tasks;
        char *id;
        char *bundle;
        char *checkpoint;                  /* restore source, NULL for a plain create */
        Containerd__Types__Mount **rootfs; /* copy of the request's mounts */
        size_t n_rootfs;
        bool rootfs_mounted;
        bool private_pid_ns;
        struct ps_options opts;
        struct ps_runtime rt;
        struct ps_process *init;
        struct ps_list execs;
        struct ps_oom_watch *oom;
        bool infra;                       /* the pod's pause-less infra task */
        struct ps_pod_cgroup *pod_cgroup; /* infra only */
        struct ps_infra_launch *launch;   /* infra only, while its setup runs */
        struct ps_netns *netns;           /* infra only: the pod's netns, once first used */
        char *sandbox_id;                 /* the pod it belongs to (CRI), NULL if none */
        struct ps_cgroup_paths *cgroup;   /* the init's cgroups, from create on (Stats) */
        bool restore_start_pending;       /* restored at Create; Start only reports it */
        unsigned busy;                    /* runtime operations in flight */
};

struct ps_op_result {
        pid_t pid;
        unsigned exit_status;
        struct timespec exited_at;
};

/* An operation's completion. Exactly one of err and res is non-NULL, always
 * (task/op.h's ps_op_succeed/ps_op_fail and ps_op_done_* below are the only
 * callers and keep that rule). err is owned by the callee; res is valid
 * during the call only. */
typedef void (*ps_op_fn)(void *data, struct ps_err *err, const struct ps_op_result *res);

void ps_tasks_init(struct ps_tasks *t, const struct ps_task_env *env);
/* Kills (SIGKILL) and frees every container; used when the shim exits. */
void ps_tasks_destroy(struct ps_tasks *t);
struct ps_container *ps_tasks_find(struct ps_tasks *t, const char *id);

/* Looks up a process: NOT_FOUND errors in containerd's wording. */
struct ps_process *ps_tasks_process(struct ps_tasks *t, const char *id, const char *exec_id,
                                    struct ps_err **err);

int ps_container_create(struct ps_tasks *t, const Containerd__Task__V2__CreateTaskRequest *req,
                        ps_op_fn done, void *data, struct ps_err **err);
int ps_process_start(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err);
int ps_process_kill(struct ps_process *p, unsigned sig, bool all, ps_op_fn done, void *data,
                    struct ps_err **err);
/* On success the process (and for an init the whole container) is gone;
 * res carries its pid and exit. */
int ps_process_delete(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err);
int ps_container_pause(struct ps_container *c, ps_op_fn done, void *data, struct ps_err **err);
int ps_container_resume(struct ps_container *c, ps_op_fn done, void *data, struct ps_err **err);
int ps_container_update(struct ps_container *c, const char *resources_json, size_t len,
                        ps_op_fn done, void *data, struct ps_err **err);
int ps_container_checkpoint(struct ps_container *c,
                            const Containerd__Task__V2__CheckpointTaskRequest *req, ps_op_fn done,
                            void *data, struct ps_err **err);

/* Pids: `done` gets res == NULL; the list comes through pids_done. */
struct ps_pid_info {
        pid_t pid;
        const char *exec_id; /* NULL unless the pid is one of our execs */
};
typedef void (*ps_pids_fn)(void *data, struct ps_err *err, const struct ps_pid_info *pids,
                           size_t n);
int ps_container_pids(struct ps_container *c, ps_pids_fn done, void *data, struct ps_err **err);

/* Stats: the metrics of the container's cgroup (of the pod, for an infra
 * task), from create until delete; the caller owns the outputs (free()). */
int ps_container_stats(struct ps_container *c, char **ret_type_url, uint8_t **ret_value,
                       size_t *ret_len, struct ps_err **err);

/* ResizePty and CloseIO(stdin) of a process, checked against its state. */
int ps_process_resize(struct ps_process *p, uint32_t width, uint32_t height, struct ps_err **err);
int ps_process_close_io(struct ps_process *p, bool close_stdin, struct ps_err **err);

/* Registers an exec (nothing runs until Start). */
int ps_container_exec(struct ps_container *c, const Containerd__Task__V2__ExecProcessRequest *req,
                      struct ps_err **err);

/* Unlinks and frees a container and all it owns (no operation in flight). */
void ps_container_free(struct ps_container *c);

/* Internal to the task module: the reaper callback for started processes and
 * the exit ordering (an init's exit waits for its execs' exits). */
void ps_container_on_exit(void *data, pid_t pid, int status);
void ps_container_exit_ready(struct ps_container *c);

#endif
