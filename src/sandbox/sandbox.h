/* Pods: the shim's sandboxes and the tasks that belong to them.
 *
 * A sandbox is one pod: its id, whether it still runs, its member tasks
 * and the backend that runs them. Today a pod is born in containerd's
 * podsandbox mode, from a Task Create whose spec says
 * io.kubernetes.cri.container-type=sandbox: that task is the sandbox's own
 * (the pause-less infra process on the Linux backend), and every Create
 * whose io.kubernetes.cri.sandbox-id names it joins it as a member. A task
 * with no sandbox (plain `ctr run`) runs on its own.
 *
 * When a sandbox's own task ends, the pod is gone: every member still
 * alive is killed (and reported like any exit), and only that sandbox's
 * members, however many pods share the shim.
 *
 * Ownership: the shim root owns the registry; the registry owns the task
 * core (ps_tasks), the Linux backend's context and every sandbox. A
 * sandbox lives as long as its own task.
 */
#ifndef PS_SANDBOX_SANDBOX_H
#define PS_SANDBOX_SANDBOX_H

#include <stdbool.h>

#include "base/error.h"
#include "base/list.h"
#include "sandbox/linux/linux.h"
#include "task/container.h"

#define PS_ANNOTATION_CONTAINER_TYPE "io.kubernetes.cri.container-type"
#define PS_ANNOTATION_SANDBOX_ID     "io.kubernetes.cri.sandbox-id"

struct ps_sandboxes;

struct ps_sandbox {
        struct ps_list link;
        struct ps_sandboxes *reg;
        char *id;
        struct ps_container *task; /* its own task (podsandbox mode) */
        bool exited;
};

struct ps_sandboxes {
        struct ps_tasks tasks;
        struct ps_linux lx;
        struct ps_list sandboxes;
        /* The backend a sandbox's own task and its containers run on, and
         * its context: the Linux backend's pod and runc ops and `lx` after
         * init (a test may put another backend here). */
        const struct ps_backend_ops *pod_ops, *container_ops;
        void *be_ctx;
};

void ps_sandboxes_init(struct ps_sandboxes *s, const struct ps_task_events *events,
                       struct event_base *base, struct ps_reaper *reaper, const char *ns,
                       const char *tmp_dir);
/* Kills and frees everything (the shim is exiting). */
void ps_sandboxes_destroy(struct ps_sandboxes *s);

struct ps_sandbox *ps_sandboxes_find(struct ps_sandboxes *s, const char *id);

/* A Task Create: reads <bundle>/config.json, picks the sandbox and the
 * backend, and creates the task (task/container.h's rules). req->spec is
 * filled in here and freed before this returns: no container keeps the
 * parsed spec, a backend copies what it needs during create. */
int ps_sandboxes_create_task(struct ps_sandboxes *s, struct ps_create_request *req, ps_op_fn done,
                             void *data, struct ps_err **err);

/* True for a container that is some sandbox's own task. */
bool ps_sandbox_is_own_task(const struct ps_container *c);

#endif
