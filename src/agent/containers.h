/* The guest agent's containers (docs/vm-backend.md, slice 2): the OCI
 * runtime run inside the VM, the containers' inits reaped, their exits
 * queued in order for the host.
 *
 * Every runtime call is asynchronous: the runtime (runc or crun, the
 * host's binary seen through the guest's 9p root) runs with the same
 * argv as on the host (oci/runtime_cli.h) under --root
 * PS_AGENT_RUNTIME_ROOT, its exit reaches the reaper, and `done` runs once,
 * later, from the loop. A container's init, which the runtime leaves
 * behind, is the agent's own child once runc exits (the agent is the
 * guest's pid 1, and a subreaper when it is not), so the reaper sees its
 * exit; one that exits before its pid file is read waits in the reaper's
 * cache.
 *
 * Stdio: pipes in the guest (agent/streams.h), read and written by the host
 * through the agent; they go with the container.
 *
 * Execs (slice 4): `runtime exec --detach --pid-file` in a running
 * container, with pipes of their own as streams (or a pty); the exec's process is the
 * agent's child once the runtime exits (as a container's init is), its
 * exit is queued with its exec id like an init's. An exec stays until the
 * host deletes it (ps_agent_exec_delete) or its container goes.
 *
 * Exits: each init's exit becomes a numbered ps_agent_exit (seq 1, 2, ...)
 * kept in a FIFO until the host acknowledges it (ps_agent_exits_ack):
 * a host that loses an answer asks again from the same ack and gets the
 * same exits, so none is lost and none is reported twice.
 *
 * OOM kills: each created container's cgroup in the guest
 * (/sys/fs/cgroup/podshim/<id>) is watched (cgroup/oom.h: inotify on its
 * memory.events); when its oom_kill count grows, an OOM record (oom set,
 * no exec id, pid or status) joins the same FIFO. When the init exits, the
 * count is read again before its exit (or an exec's) is queued: an OOM
 * kill that ended the process is queued before that exit even if the
 * watch has not fired yet (the kernel counts the kill before the victim
 * can die).
 *
 * Limits: at most PS_AGENT_MAX_CONTAINERS containers and
 * PS_AGENT_MAX_EXITS unacknowledged exits (beyond that the oldest is
 * dropped with an error in the log: a host that never acknowledges must not
 * exhaust the guest). Ids are 1-128 characters of [A-Za-z0-9_.-].
 *
 * Ownership: the caller owns the table; freeing it fails nothing (the
 * pending calls' `done` never runs), and leaves the containers running.
 */
#ifndef PS_AGENT_CONTAINERS_H
#define PS_AGENT_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/list.h"

struct event_base;
struct ps_reaper;
struct ps_agent_containers;
struct ps_agent_streams;
struct ps_cgroup_metrics;

#define PS_AGENT_RUNTIME_ROOT   "/run/podshim-agent/runtime"
#define PS_AGENT_CGROUP_PARENT  "podshim"
#define PS_AGENT_MAX_CONTAINERS 1024
#define PS_AGENT_MAX_EXITS      4096
#define PS_AGENT_MAX_EXECS      4096 /* in all containers together */
#define PS_AGENT_EXEC_SPEC_MAX  (1u << 20)

struct ps_agent_create {
        const char *id;
        const char *bundle;  /* absolute, in the guest */
        const char *runtime; /* "runc", "crun", or an absolute path ending in either */
        bool stdin_pipe, stdout_pipe, stderr_pipe; /* false: /dev/null */
        bool terminal; /* a pty (runc --console-socket) instead of the pipes */
};

/* An exec: process is the OCI Process JSON (not NUL-terminated). */
struct ps_agent_exec {
        const char *id, *exec_id;
        const uint8_t *process;
        size_t process_len;
        bool stdin_pipe, stdout_pipe, stderr_pipe;
        bool terminal; /* a pty (runc --console-socket) instead of the pipes */
};

struct ps_agent_exit {
        struct ps_list link;
        uint64_t seq;
        char *id;
        char *exec_id; /* NULL for an init */
        pid_t pid;
        unsigned status;       /* exit code or 128 + signal */
        uint64_t exited_at_ns; /* CLOCK_REALTIME */
        bool oom;              /* an OOM kill in container id, not an exit */
};

/* err is owned by the callee; pid is the init's (create, start), else 0. */
typedef void (*ps_agent_run_fn)(void *data, struct ps_err *err, pid_t pid);
/* An exit was queued. */
typedef void (*ps_agent_exit_queued_fn)(void *data);

/* bundles_dir: the shared directory of bundles; a container's bundle must
 * be <bundles_dir>/<id>, so the host names nothing else of the guest (NULL:
 * no container can be made).
 * runtime_dir: where the runtime binary is looked up by its base name
 * (NULL: as named, $PATH for a bare name): tests point it elsewhere.
 * runtime_root: the runtime's state directory (--root; NULL:
 * PS_AGENT_RUNTIME_ROOT): a test on the host gives one of its own, so that
 * runs side by side never share runc's state. */
struct ps_agent_containers *
ps_agent_containers_new(struct event_base *base, struct ps_reaper *reaper, const char *bundles_dir,
                        const char *runtime_dir, const char *runtime_root,
                        ps_agent_exit_queued_fn on_exit, void *data, struct ps_err **err);
struct ps_agent_containers *ps_agent_containers_free(struct ps_agent_containers *t);

/* `runtime create`, the init's stdio the pipes asked for (agent/streams.h),
 * whose container ends are closed here once the runtime is done. Returns 0
 * when done will run, -1 with err (ALREADY_EXISTS, INVALID_ARGUMENT,
 * NOT_FOUND for a missing runtime). */
int ps_agent_container_create(struct ps_agent_containers *t, const struct ps_agent_create *req,
                              ps_agent_run_fn done, void *data, struct ps_err **err);
int ps_agent_container_start(struct ps_agent_containers *t, const char *id, ps_agent_run_fn done,
                             void *data, struct ps_err **err);
/* kill(2) of the init (exec_id NULL or "") or of an exec, or `runtime kill
 * --all` with all (not with an exec: INVALID_ARGUMENT). */
int ps_agent_container_signal(struct ps_agent_containers *t, const char *id, const char *exec_id,
                              int sig, bool all, ps_agent_run_fn done, void *data,
                              struct ps_err **err);
/* `runtime delete --force`, then the container is forgotten. */
int ps_agent_container_delete(struct ps_agent_containers *t, const char *id, ps_agent_run_fn done,
                              void *data, struct ps_err **err);
/* The container's processes (its cgroup's cgroup.procs), guest pids;
 * synchronous. *ret_pids is the caller's to free. */
int ps_agent_container_pids(struct ps_agent_containers *t, const char *id, pid_t **ret_pids,
                            size_t *ret_n, struct ps_err **err);

/* The v2 metrics of the container's cgroup in the guest (cgroup/stats.h);
 * synchronous: a few small files. *ret is the caller's to clear. */
int ps_agent_container_stats(struct ps_agent_containers *t, const char *id,
                             struct ps_cgroup_metrics *ret, struct ps_err **err);

/* The stdio of the container's init (exec_id NULL or "") or of one of its
 * execs, for ReadOutput, WriteStdin and CloseStdin (NOT_FOUND for an
 * unknown or deleted container or exec). Owned by the container or exec:
 * valid until the next call into the table. */
struct ps_agent_streams *ps_agent_container_streams(struct ps_agent_containers *t, const char *id,
                                                    const char *exec_id, struct ps_err **err);

/* `runtime exec --detach` of req->process in the running container
 * req->id, with the pipes asked for, or a terminal (its master, which
 * runc hands over through a console socket, the exec's streams: agent/
 * streams.h ps_agent_streams_new_pty); done gets the exec's pid. -1 with
 * err, the request's own mistakes first: INVALID_ARGUMENT (an id, or a
 * process that is no JSON object with non-empty string args, or whose
 * terminal is not the request's); then NOT_FOUND (no such
 * container), FAILED_PRECONDITION (its init does not run), ALREADY_EXISTS
 * (the exec id is taken), RESOURCE_EXHAUSTED. A failed exec leaves
 * nothing behind. */
int ps_agent_exec_create(struct ps_agent_containers *t, const struct ps_agent_exec *req,
                         ps_agent_run_fn done, void *data, struct ps_err **err);
/* Forgets an exec: SIGKILLed if it runs (its exit is still queued), its
 * streams freed. Synchronous; NOT_FOUND for an unknown exec. */
int ps_agent_exec_delete(struct ps_agent_containers *t, const char *id, const char *exec_id,
                         struct ps_err **err);

/* Forgets the exits up to and including `ack`, then returns the first
 * unacknowledged one (NULL if none); walk on with ps_agent_exit_next. */
const struct ps_agent_exit *ps_agent_exits_ack(struct ps_agent_containers *t, uint64_t ack);
const struct ps_agent_exit *ps_agent_exit_next(struct ps_agent_containers *t,
                                               const struct ps_agent_exit *e);

#endif
