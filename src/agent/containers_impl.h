/* Private to the guest agent's container table: its state, shared by
 * agent/containers.c (containers, the runtime, exits) and agent/execs.c
 * (execs). Nothing else includes this. */
#ifndef PS_AGENT_CONTAINERS_IMPL_H
#define PS_AGENT_CONTAINERS_IMPL_H

#include "agent/containers.h"
#include "oci/console_socket.h"

#define PS_AGENT_ID_MAX 128

struct ps_oom_watch;

struct container {
        struct ps_list link; /* in t->containers */
        struct ps_agent_containers *t;
        char *id, *bundle, *runtime;
        pid_t pid;     /* the init while it runs; 0 before create and after its exit */
        bool deleted;  /* removed by the host: kept only until its init's exit is in */
        unsigned runs; /* runtime calls in flight */
        bool terminal; /* its stdio is a pty: the master from the console socket */
        struct ps_console_socket console; /* until runc create handed the master over */
        struct ps_agent_streams *streams; /* NULL for a terminal until created */
        struct ps_list execs;             /* struct exec */
        struct ps_oom_watch *oom;         /* from its creation until its init's exit */
        uint64_t oom_kills;               /* memory.events oom_kill reported so far */
};

/* An exec of a container: from ExecProcess until DeleteExec (or its
 * container's end). */
struct exec {
        struct ps_list link; /* in ct->execs */
        struct container *ct;
        char *id;
        char *spec_path, *pid_path; /* <bundle>/.exec-<id>.json, .exec-<id>.pid */
        pid_t pid;                  /* while it runs */
        bool starting;              /* runtime exec in flight */
        bool deleted;               /* kept only until its exit (or its exec's end) is in */
        bool terminal;              /* its stdio is a pty: the master from the console socket */
        struct ps_console_socket console; /* until runc exec handed the master over */
        struct ps_agent_streams *streams;
};

enum run_kind { RUN_CREATE, RUN_START, RUN_KILL, RUN_DELETE, RUN_EXEC };

struct run {
        struct ps_list link; /* in t->runs */
        struct ps_agent_containers *t;
        struct container *ct;
        struct exec *ex; /* RUN_EXEC */
        enum run_kind kind;
        pid_t pid;
        ps_agent_run_fn done;
        void *data;
};

struct ps_agent_containers {
        struct event_base *base;
        struct ps_reaper *reaper;
        char *bundles_dir, *runtime_dir, *runtime_root;
        ps_agent_exit_queued_fn on_exit;
        void *data;
        struct ps_list containers, runs, exits;
        size_t n_containers, n_exits, n_execs;
        uint64_t seq;
};

/* A container that is not deleted, or NOT_FOUND / INVALID_ARGUMENT. */
struct container *ps_agent_ct_get(struct ps_agent_containers *t, const char *id,
                                  struct ps_err **err);
/* 1-128 characters of [A-Za-z0-9_.-], not starting with '.'; `what`
 * names it in the error. */
int ps_agent_ct_check_id(const char *id, const char *what, struct ps_err **err);
/* Frees ct with its execs and streams (its init's watch dropped). */
void ps_agent_ct_free(struct ps_agent_containers *t, struct container *ct);
/* Queues an exit (exec_id NULL for an init) and tells the owner. */
void ps_agent_ct_queue_exit(struct ps_agent_containers *t, const char *id, const char *exec_id,
                            pid_t pid, int status);
/* Queues an OOM record for ct if its cgroup's oom_kill count grew since
 * the last one (before a process's exit is queued, so the OOM that killed
 * it goes first). */
void ps_agent_ct_oom_check(struct container *ct);
/* The runtime's error for op, from <bundle>/log.json or its status. */
struct ps_err *ps_agent_ct_runtime_error(const struct container *ct, const char *op, int st);
/* A terminal's master, sent by runc through cs before it exited, as
 * streams in *ret; cs is closed. */
struct ps_err *ps_agent_ct_pty_streams(struct ps_agent_containers *t, struct ps_console_socket *cs,
                                       struct ps_agent_streams **ret);
/* Runs the runtime with args for ct (ex: the exec a RUN_EXEC starts);
 * done runs once it exited. */
int ps_agent_ct_run(struct container *ct, struct exec *ex, enum run_kind kind, char *const *args,
                    const int *stdio, ps_agent_run_fn done, void *data, struct ps_err **err);

/* agent/execs.c */
struct exec *ps_agent_exec_get(struct ps_agent_containers *t, const char *id, const char *exec_id,
                               struct ps_err **err);
void ps_agent_exec_free(struct exec *ex);
/* The runtime's exec for r->ex exited with status: the exec runs, or not. */
void ps_agent_exec_ran(struct run *r, int status);

#endif
