/* A container process: the init (exec_id NULL) or an exec. Holds the
 * explicit state machine, the exit record, stdio and the parked Waits.
 *
 * Two const tables are the authority over the process state:
 *  - what each Task operation may do in each state (ps_process_check): an
 *    operation refused there answers containerd's runc-v2 wording with the
 *    code containerd branches on (FAILED_PRECONDITION for a state that does
 *    not allow it, NOT_FOUND for a process that is gone or finished);
 *  - which state changes exist (ps_process_set_state): every write of
 *    `state` goes through it, and a change the table refuses is a bug that
 *    the caller must handle (the function is warn_unused_result).
 * The exit that arrives while its report must wait (an init behind its
 * execs, an exit racing a start) is data, not a state: `exit_deferred` and
 * `deferred_status` hold it until ps_process_record_exit() moves the
 * process to STOPPED through the table.
 *
 * Ownership: the container owns its processes (init and execs); a process
 * owns its waiter records, never the calls behind them; its backend owns
 * `impl` (stdio, pid handles), freed through the backend's process_free.
 */
#ifndef PS_TASK_PROCESS_H
#define PS_TASK_PROCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/list.h"

struct ps_container;

enum ps_proc_state {
        PS_PROC_CREATING = 0, /* init: runtime create in flight */
        PS_PROC_CREATED,      /* init created / exec registered, not started */
        PS_PROC_STARTING,     /* runtime start / exec in flight */
        PS_PROC_RUNNING,
        PS_PROC_PAUSING,
        PS_PROC_PAUSED,
        PS_PROC_STOPPED,
        PS_PROC_DELETING,
        PS_PROC_N_STATES
};

/* Task operations, as far as the process state decides them. The
 * container-wide ones (EXEC .. STATS) are asked of the container's init. */
enum ps_proc_op {
        PS_OP_STATE = 0,
        PS_OP_START,
        PS_OP_KILL,
        PS_OP_DELETE,
        PS_OP_WAIT,
        PS_OP_RESIZE,
        PS_OP_CLOSE_IO,
        PS_OP_EXEC,
        PS_OP_PAUSE,
        PS_OP_RESUME,
        PS_OP_UPDATE,
        PS_OP_CHECKPOINT,
        PS_OP_PIDS,
        PS_OP_STATS,
        PS_OP_N
};

struct ps_process;

/* Runs once when the process has exited (or is dropped); then the waiter is
 * freed by the process. */
typedef void (*ps_wait_fn)(void *data, const struct ps_process *p);

struct ps_waiter {
        struct ps_list link;
        ps_wait_fn fn;
        void *data;
};

struct ps_process {
        struct ps_list link; /* in container->execs (execs only) */
        struct ps_container *c;
        char *exec_id; /* NULL for init */
        enum ps_proc_state state;
        pid_t pid; /* as the backend reports it; 0 until created/started */
        unsigned exit_status;
        struct timespec exited_at; /* zero until exited */
        bool exit_deferred;        /* exit seen while the start event is pending */
        unsigned deferred_status;
        /* request data echoed back by State */
        char *stdin_path, *stdout_path, *stderr_path;
        bool terminal;
        char *spec_json; /* exec: the OCI Process JSON */
        void *impl;      /* the backend's */
        /* Backend operations in flight on this process (Kill, exec Start):
         * the backend may hold the pointer until it answers, so an exec is
         * not deleted (freed) before they have (ps_process_delete). */
        unsigned busy;
        bool drained;       /* output relayed to the end after the exit */
        void *drain_waiter; /* container module: a Delete waiting for the drain */
        struct ps_list waiters;
};

struct ps_process *ps_process_new(struct ps_container *c, const char *exec_id, const char *in,
                                  const char *out, const char *errp, bool terminal,
                                  struct ps_err **err);
/* Releases waiters (as if exited, without a status) and frees. NULL ok. */
struct ps_process *ps_process_free(struct ps_process *p);

/* 0 if `op` may run on p in its current state; otherwise -1 with err set
 * to the answer containerd gets (code and wording from the table). */
int ps_process_check(const struct ps_process *p, enum ps_proc_op op, struct ps_err **err);

/* Moves p to `to` if the transition table allows it; otherwise returns -1
 * with an INTERNAL error (the state is unchanged): a refused transition is a
 * bug in the caller, never a client's mistake. */
int ps_process_set_state(struct ps_process *p, enum ps_proc_state to, struct ps_err **err)
    __attribute__((warn_unused_result));
/* The same for a rollback at the end of a failed operation (back to the
 * state it started from), where nobody is left to answer: a refusal is
 * logged at error level as the bug it is, and the state stays. */
void ps_process_revert(struct ps_process *p, enum ps_proc_state to);
const char *ps_process_state_name(enum ps_proc_state s);
const char *ps_process_op_name(enum ps_proc_op op);
bool ps_process_exited(const struct ps_process *p);
/* True while the process may still produce an exit (started, not stopped). */
bool ps_process_live(const struct ps_process *p);

/* The task status State reports, as containerd names them (the values are
 * containerd.v1.types.Status's; api/ maps them onto the wire). */
enum ps_task_status {
        PS_TASK_UNKNOWN = 0,
        PS_TASK_CREATED = 1,
        PS_TASK_RUNNING = 2,
        PS_TASK_STOPPED = 3,
        PS_TASK_PAUSED = 4,
        PS_TASK_PAUSING = 5,
};
enum ps_task_status ps_process_status(const struct ps_process *p);

/* The name used in events and State.id: exec id, or the container id. */
const char *ps_process_name(const struct ps_process *p);

/* Parks a Wait. Returns the waiter (for cancellation), or NULL with err. */
struct ps_waiter *ps_process_add_waiter(struct ps_process *p, ps_wait_fn fn, void *data,
                                        struct ps_err **err);
void ps_process_remove_waiter(struct ps_waiter *w);

/* Marks the process stopped with this status now: releases Waits and
 * publishes TaskExit. Called by the container module once ordering allows. */
void ps_process_record_exit(struct ps_process *p, unsigned exit_status);

/* An exec whose start failed (STARTING): stopped with status 255, its Waits
 * released and nothing left to drain, so Delete completes at once; no
 * TaskExit (it never ran, as with runc-v2). */
void ps_process_fail_start(struct ps_process *p);

#endif
