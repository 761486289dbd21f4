/* The task core: the shim's containers and the operations on them, free of
 * any backend (task/backend.h does the work) and of any wire format (the
 * api/ layer translates). A container is one task: its init process, its
 * execs, what containerd created it with, and the backend it runs on.
 *
 * Every operation checks the process state table first (process.h), moves
 * the process through it, asks the backend, and on the backend's answer
 * moves it on and reports the events (events.h), in containerd's order:
 * an init's exit waits for its execs' exits, a TaskStart goes out before
 * any exit seen meanwhile.
 *
 * Asynchronous operations follow one rule: -1 with err set when they failed
 * at once, 0 when `done` runs exactly once (usually later from the loop,
 * possibly before the function returns), 1 when they completed at once
 * without calling `done`. After a 0 the caller must not touch what `done`
 * may have released.
 *
 * Ownership: ps_tasks owns its containers; a container owns its processes
 * and its copies of the request; its backend owns `impl` (freed through the
 * backend's container_free). A container with an operation in flight is
 * never freed (deletion waits for `busy` to drop).
 */
#ifndef PS_TASK_CONTAINER_H
#define PS_TASK_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/list.h"
#include "task/backend.h"
#include "task/events.h"
#include "task/process.h"

/* What the task core borrows from the layers above. The hooks may be NULL. */
struct ps_task_env {
        const struct ps_task_events *events;
        /* A container was registered (before its backend creates it). */
        void (*container_added)(void *data, struct ps_container *c);
        /* An init's exit was recorded (the sandbox layer tears a pod down
         * when its own task ends). */
        void (*init_exited)(void *data, struct ps_container *c);
        /* A container is about to be freed (deleted, or its create failed). */
        void (*container_freed)(void *data, struct ps_container *c);
        void *data;
};

struct ps_tasks {
        struct ps_task_env env;
        struct ps_list containers;
        size_t n_containers;
};

struct ps_container {
        struct ps_list link;
        struct ps_tasks *tasks;
        char *id;
        char *bundle;
        char *checkpoint;        /* restore source, NULL for a plain create */
        struct ps_mount *rootfs; /* copy of the request's mounts (TaskCreate reports them) */
        size_t n_rootfs;
        struct ps_process *init;
        struct ps_list execs;
        const struct ps_backend_ops *be;
        void *be_ctx;               /* the backend's state shared by its containers */
        void *impl;                 /* the backend's state for this container */
        void *sandbox;              /* the sandbox layer's pod, opaque here; NULL if none */
        bool private_pid_ns;        /* set by the backend at create */
        bool restore_start_pending; /* restored at Create; Start only reports it */
        unsigned busy;              /* backend operations in flight */
};

struct ps_op_result {
        pid_t pid;
        unsigned exit_status;
        struct timespec exited_at;
};

/* An operation's completion. Exactly one of err and res is non-NULL, always
 * (task/op.h's ps_op_succeed/ps_op_fail keep that rule). err is owned by
 * the callee; res is valid during the call only. */
typedef void (*ps_op_fn)(void *data, struct ps_err *err, const struct ps_op_result *res);

void ps_tasks_init(struct ps_tasks *t, const struct ps_task_env *env);
/* Kills (SIGKILL, through the backends) and frees every container; used
 * when the shim exits. */
void ps_tasks_destroy(struct ps_tasks *t);
struct ps_container *ps_tasks_find(struct ps_tasks *t, const char *id);

/* Looks up a process: NOT_FOUND errors in containerd's wording. */
struct ps_process *ps_tasks_process(struct ps_tasks *t, const char *id, const char *exec_id,
                                    struct ps_err **err);

/* The checks Create makes of its id and bundle (INVALID_ARGUMENT, or the
 * bundle's stat error). */
int ps_task_check_bundle(const char *id, const char *bundle, struct ps_err **err);

/* Create: registered at once (a duplicate id is ALREADY_EXISTS), created
 * by `be` (with its shared context be_ctx); `sandbox` is the sandbox
 * layer's pod it joins (opaque, may be NULL). */
int ps_container_create(struct ps_tasks *t, const struct ps_create_request *req,
                        const struct ps_backend_ops *be, void *be_ctx, void *sandbox, ps_op_fn done,
                        void *data, struct ps_err **err);
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
int ps_container_checkpoint(struct ps_container *c, const struct ps_checkpoint_request *req,
                            ps_op_fn done, void *data, struct ps_err **err);

/* Pids: the list comes through done. */
struct ps_pid_info {
        pid_t pid;
        const char *exec_id; /* NULL unless the pid is one of our execs */
};
typedef void (*ps_pids_fn)(void *data, struct ps_err *err, const struct ps_pid_info *pids,
                           size_t n);
int ps_container_pids(struct ps_container *c, ps_pids_fn done, void *data, struct ps_err **err);

/* Stats: the metrics of the container (of the pod, for a sandbox's task),
 * from create until delete. *ret is written only on success; the caller
 * then owns it (ps_metrics_clear). */
int ps_container_stats(struct ps_container *c, struct ps_metrics *ret, struct ps_err **err);
/* The same for every backend, answered through done (at once for one with
 * a synchronous `stats`; later for one whose metrics come from elsewhere):
 * done gets the metrics (task/backend.h's ownership rule) or an error. */
int ps_container_stats_async(struct ps_container *c, ps_backend_stats_fn done, void *data,
                             struct ps_err **err);

/* ResizePty and CloseIO(stdin) of a process, checked against its state.
 * A resize answers once the backend applied it (at once for a synchronous
 * `resize`, before returning); while it runs the process is busy, as for
 * a Kill. */
int ps_process_resize(struct ps_process *p, uint32_t width, uint32_t height, ps_op_fn done,
                      void *data, struct ps_err **err);
int ps_process_close_io(struct ps_process *p, bool close_stdin, struct ps_err **err);

/* Registers an exec (nothing runs until Start). spec: its OCI process JSON. */
struct ps_exec_request {
        const char *exec_id;
        bool terminal;
        const char *stdin_path, *stdout_path, *stderr_path;
        const uint8_t *spec;
        size_t spec_len;
};
int ps_container_exec(struct ps_container *c, const struct ps_exec_request *req,
                      struct ps_err **err);

/* Unlinks and frees a container and all it owns (no operation in flight). */
void ps_container_free(struct ps_container *c);

/* A backend completion nobody waits for (a kill on the way out). */
void ps_task_ignore_result(void *data, struct ps_err *err, const struct ps_backend_result *res);

/* Internal to the task core: the exit ordering (an init's exit waits for
 * its execs' exits). */
void ps_container_exit_ready(struct ps_container *c);

#endif
