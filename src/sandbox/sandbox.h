/* Pods: the shim's sandboxes and the tasks that belong to them.
 *
 * A sandbox is one pod: its id, whether it still runs, its member tasks
 * and the backend that runs them. A pod is born in one of two ways, and is
 * the same object either way:
 *  - containerd's podsandbox mode: a Task Create whose spec says
 *    io.kubernetes.cri.container-type=sandbox; that task is the sandbox's
 *    own (the pause-less infra process on the Linux backend) and containerd
 *    drives it through the Task API;
 *  - containerd 2.x's shim sandboxer: the Sandbox API's CreateSandbox
 *    (sandbox/lifecycle.h), which makes the same own task from the pod's
 *    CRI config (sandbox/pod_spec.h) and drives it itself; such a sandbox
 *    is `api`, and its own task's events go out as SandboxCreate,
 *    SandboxStart and SandboxExit instead of task events.
 * Every Create whose io.kubernetes.cri.sandbox-id names a sandbox joins it
 * as a member. A task with no sandbox (plain `ctr run`) runs on its own.
 *
 * When a sandbox's own task ends, the pod is gone: every member still
 * alive is killed (and reported like any exit), and only that sandbox's
 * members, however many pods share the shim. The pod has *ended* (is
 * settled) once its own task and every member have exited: that is what
 * WaitSandbox, StopSandbox and ShutdownSandbox wait for.
 *
 * Ownership: the shim root owns the registry; the registry owns the task
 * core (ps_tasks), the Linux backend's context and every sandbox. A
 * sandbox lives as long as its own task, and its memory as long as an
 * operation of sandbox/lifecycle.c still holds it (`holds`).
 */
#ifndef PS_SANDBOX_SANDBOX_H
#define PS_SANDBOX_SANDBOX_H

#include <stdbool.h>
#include <time.h>

#include "base/error.h"
#include "base/list.h"
#include "oci/spec.h"
#include "sandbox/linux/linux.h"
#include "sandbox/pod_files.h"
#include "sandbox/vm/pod.h"
#include "task/container.h"

#define PS_ANNOTATION_CONTAINER_TYPE "io.kubernetes.cri.container-type"
#define PS_ANNOTATION_SANDBOX_ID     "io.kubernetes.cri.sandbox-id"

struct ps_sandboxes;

/* What a sandbox made by the Sandbox API reports of itself (the layer
 * above publishes containerd.events.Sandbox*). May be NULL members. */
struct ps_sandbox_events {
        void (*sandbox_create)(void *data, const char *id);
        void (*sandbox_start)(void *data, const char *id);
        void (*sandbox_exit)(void *data, const char *id, unsigned exit_status,
                             const struct timespec *exited_at);
        void *data;
};

struct ps_sandbox {
        struct ps_list link; /* in reg->sandboxes, until freed */
        struct ps_sandboxes *reg;
        char *id;
        struct ps_container *task; /* its own task: the infra process */
        bool api;                  /* made by CreateSandbox (shim sandboxer) */
        bool vm;                   /* its own task runs on the vm backend */
        bool exited;               /* its own task ended: the pod is gone */
        bool dead;                 /* freed; memory kept while `holds` */
        bool shutting_down;        /* a ShutdownSandbox is in progress */
        unsigned exit_status;      /* the own task's, once exited */
        struct timespec exited_at;
        struct timespec created_at; /* the infra process came up */
        struct ps_spec *spec;       /* api: its own task's spec, for the status */
        struct ps_pod_files files;  /* api: the pod's hostname, hosts, resolv.conf, shm */
        int userns_fd;              /* api: the pod's user namespace the infra joins; -1 */
        unsigned holds;             /* lifecycle operations still pointing here */
        struct ps_list waiters;     /* struct ps_sandbox_waiter: until settled */
        struct ps_list stops;       /* StopSandbox calls in their grace period */
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
        /* the vm backend's context: pods whose options say Backend = "vm" */
        struct ps_vm_backend vm;
        /* the runtime type's defaults (oci/options.h), borrowed from the
         * shim root; NULL: io.containerd.podshim.v2's */
        const struct ps_options_profile *profile;
        struct event_base *base; /* StopSandbox's grace timers; NULL: no grace */
        /* The task core reports to `filter`, which passes everything on to
         * `events` except what an api sandbox's own task does: that goes
         * to `sandbox_events`. */
        struct ps_task_events filter;
        const struct ps_task_events *events;
        const struct ps_sandbox_events *sandbox_events;
};

/* events and sandbox_events are borrowed; sandbox_events may be NULL (no
 * Sandbox API: nothing to report). */
void ps_sandboxes_init(struct ps_sandboxes *s, const struct ps_task_events *events,
                       const struct ps_sandbox_events *sandbox_events, struct event_base *base,
                       struct ps_reaper *reaper, const char *ns, const char *tmp_dir);
/* Kills and frees everything (the shim is exiting). */
void ps_sandboxes_destroy(struct ps_sandboxes *s);

struct ps_sandbox *ps_sandboxes_find(struct ps_sandboxes *s, const char *id);
/* The same, with NOT_FOUND ("sandbox <id>: not found") for none. */
struct ps_sandbox *ps_sandboxes_get(struct ps_sandboxes *s, const char *id, struct ps_err **err);

/* A Task Create: reads <bundle>/config.json, picks the sandbox and the
 * backend, and creates the task (task/container.h's rules). req->spec is
 * filled in here and freed before this returns: no container keeps the
 * parsed spec, a backend copies what it needs during create. */
int ps_sandboxes_create_task(struct ps_sandboxes *s, struct ps_create_request *req, ps_op_fn done,
                             void *data, struct ps_err **err);

/* True for a container that is some sandbox's own task. */
bool ps_sandbox_is_own_task(const struct ps_container *c);
/* True for a member of sb (not its own task). */
bool ps_sandbox_is_member(const struct ps_sandbox *sb, const struct ps_container *c);

/* ---- for sandbox/lifecycle.c ---- */

/* Something waiting for the pod to end (settle), or for the sandbox to be
 * freed before that (sb->dead then): fn runs once, then the waiter is
 * freed. */
typedef void (*ps_sandbox_wait_fn)(void *data, struct ps_sandbox *sb);
struct ps_sandbox_waiter {
        struct ps_list link;
        ps_sandbox_wait_fn fn;
        void *data;
};

/* A member that may still produce an exit: created or running. */
bool ps_sandbox_member_pending(const struct ps_container *c);
/* Some member of sb is pending. */
bool ps_sandbox_members_pending(const struct ps_sandbox *sb);
/* Re-evaluates sb after a change: grace periods end when no member is
 * left, waiters are released when the pod has ended. May free sb (when
 * nothing holds it any more). */
void ps_sandbox_check(struct ps_sandbox *sb);
/* Releases a hold (sb->holds--); frees a dead sandbox nobody holds. */
void ps_sandbox_unhold(struct ps_sandbox *sb);
/* A new sandbox, registered, without its task yet. */
struct ps_sandbox *ps_sandbox_new(struct ps_sandboxes *s, const char *id, struct ps_err **err);
/* After a create that failed at once: a task that was registered took its
 * sandbox along when it was freed; one that never was leaves it to this. */
void ps_sandbox_drop_unborn(struct ps_sandboxes *s, const char *id);
/* Ends the grace period of every StopSandbox on sb and kills its own task
 * (lifecycle.c). */
void ps_sandbox_end_graces(struct ps_sandbox *sb);
/* Every member of a stopping sb has ended: the grace periods end, and its
 * own task is stopped (a VM pod's VM shut down in order). */
void ps_sandbox_members_gone(struct ps_sandbox *sb);

#endif
