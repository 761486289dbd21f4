/* The backend interface: what the task core asks of whatever actually runs
 * containers (today the Linux backend of src/sandbox/linux/: runc or crun,
 * rootfs mounts, stdio relays, the pause-less infra process; next a VM).
 *
 * The core (task/) owns every container and process object, their one state
 * table, the order of exits and events and the parked Waits; it never runs
 * a program, mounts or opens a FIFO. A backend owns the work and its own
 * state, which it hangs on the objects (`impl` of a container or process),
 * and changes task state only through the upcalls at the end of this file.
 *
 * Calling rules for every operation that takes `done`: it returns -1 with
 * err set when it failed at once (done never runs), or 0, after which done
 * runs exactly once, with an error or with a result, never neither, either
 * before the call returns or later from the event loop; an error passed to
 * done is done's to free (so for every callback type below). Until done has run
 * the core keeps the container alive (its `busy` count).
 *
 * Requests are plain C structs with borrowed strings: valid during the
 * call only; a backend copies what it keeps.
 */
#ifndef PS_TASK_BACKEND_H
#define PS_TASK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "task/metrics.h"

struct ps_container;
struct ps_process;
struct ps_options;
struct ps_spec;

/* A rootfs mount as containerd describes it. */
struct ps_mount {
        char *type, *source, *target;
        char **options; /* NULL-terminated */
        size_t n_options;
};

struct ps_create_request {
        const char *id;
        const char *bundle;
        const struct ps_mount *rootfs;
        size_t n_rootfs;
        const char *stdin_path, *stdout_path, *stderr_path;
        bool terminal;
        const char *checkpoint;           /* restore from this image; NULL: plain create */
        const struct ps_options *options; /* decoded runtime options */
        const struct ps_spec *spec;       /* <bundle>/config.json, parsed */
        /* The bundle of the pod's own task this container joins as a
         * member; NULL for none (and for a pod's own task). */
        const char *pod_bundle;
};

struct ps_checkpoint_request {
        const char *path; /* where the image goes (absolute) */
        const char *image_path, *work_path;
        bool exit; /* stop the container once dumped */
        bool open_tcp, external_unix_sockets, terminal, file_locks;
        const char *const *empty_namespaces;
        size_t n_empty_namespaces;
};

struct ps_backend_result {
        pid_t pid;
        bool running; /* create: the init runs already (restored from a checkpoint) */
};

typedef void (*ps_backend_fn)(void *data, struct ps_err *err, const struct ps_backend_result *res);
typedef void (*ps_backend_pids_fn)(void *data, struct ps_err *err, const pid_t *pids, size_t n);
/* m is NULL exactly when err is set; the callee owns it during the call
 * and may move what it holds out (zeroing it); the rest is cleared after. */
typedef void (*ps_backend_stats_fn)(void *data, struct ps_err *err, struct ps_metrics *m);

struct ps_backend_ops {
        const char *name;
        /* For a pod's own task (sandbox/lifecycle.c), how a pod on this
         * backend is stopped: the signal that ends the own task once no
         * member is left (0: SIGKILL, for a task that holds nothing worth
         * a clean end), and whether a StopSandbox past its grace period
         * kills the members through the backend before the own task (so
         * that their exits are their own, not made up when the own task's
         * end takes them along). */
        int pod_stop_signal;
        bool pod_kills_members_first;
        /* Creates (or restores) the container's init, not started. The
         * backend sets c->private_pid_ns before done. */
        int (*create)(struct ps_container *c, const struct ps_create_request *req,
                      ps_backend_fn done, void *data, struct ps_err **err);
        int (*start)(struct ps_container *c, ps_backend_fn done, void *data, struct ps_err **err);
        /* An exec (p->spec_json holds its OCI process JSON). When it fails,
         * nothing of it is left running or open (its stdio is closed). */
        int (*exec)(struct ps_process *p, ps_backend_fn done, void *data, struct ps_err **err);
        /* `sig` to p, or with `all` to every process of p's container. */
        int (*signal)(struct ps_process *p, int sig, bool all, ps_backend_fn done, void *data,
                      struct ps_err **err);
        /* Removes the container's runtime state; `force` kills a created init. */
        int (*delete)(struct ps_container *c, bool force, ps_backend_fn done, void *data,
                      struct ps_err **err);
        int (*pause)(struct ps_container *c, ps_backend_fn done, void *data, struct ps_err **err);
        int (*resume)(struct ps_container *c, ps_backend_fn done, void *data, struct ps_err **err);
        /* resources: a LinuxResources JSON object */
        int (*update)(struct ps_container *c, const char *resources, size_t len, ps_backend_fn done,
                      void *data, struct ps_err **err);
        int (*checkpoint)(struct ps_container *c, const struct ps_checkpoint_request *req,
                          ps_backend_fn done, void *data, struct ps_err **err);
        int (*pids)(struct ps_container *c, ps_backend_pids_fn done, void *data,
                    struct ps_err **err);
        /* The container's metrics (task/metrics.h), plain values: *ret is
         * written only on success, and the caller then owns it
         * (ps_metrics_clear). Synchronous and bounded. */
        int (*stats)(struct ps_container *c, struct ps_metrics *ret, struct ps_err **err);
        /* The same, answered through done (a backend that must ask
         * elsewhere: a VM's agent); used instead of `stats` when set. */
        int (*stats_async)(struct ps_container *c, ps_backend_stats_fn done, void *data,
                           struct ps_err **err);
        int (*resize)(struct ps_process *p, uint32_t width, uint32_t height, struct ps_err **err);
        /* The same, answered through done once the terminal has its size
         * (a backend whose terminal is elsewhere: a VM's pty, sized by its
         * agent); used instead of `resize` when set. */
        int (*resize_async)(struct ps_process *p, uint32_t width, uint32_t height,
                            ps_backend_fn done, void *data, struct ps_err **err);
        void (*close_stdin)(struct ps_process *p);
        /* After p exited: relay what it wrote until every writer is gone
         * (bounded), then done(data), from the loop or before returning. */
        void (*drain)(struct ps_process *p, void (*done)(void *data), void *data);
        /* Releases p->impl / c->impl (and what they hold: stdio, mounts,
         * watches); a drain of p still running is cancelled (its done never
         * runs). c's processes are released first. */
        void (*process_free)(struct ps_process *p);
        void (*container_free)(struct ps_container *c);
};

/* A `start` for a backend whose init already runs from Create on (a pod's
 * infra process, its VM): it answers at once with the init's pid. */
int ps_backend_start_running_init(struct ps_container *c, ps_backend_fn done, void *data,
                                  struct ps_err **err);

/* ---- upcalls: the only way a backend changes task state ---------------- */

/* p's process exited; exit_status as containerd reports it (the exit code,
 * or 128 + the signal that killed it). */
void ps_task_process_exited(struct ps_process *p, unsigned exit_status);
/* A process of c was killed by the OOM killer. */
void ps_task_oom(struct ps_container *c);

#endif
