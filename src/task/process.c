#include "task/process.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "task/container.h"
#include "task/op.h"

#define S(x) PS_PROC_##x

/* allowed[from][to]; see shim-protocol.md §4.3. */
static const bool allowed[PS_PROC_N_STATES][PS_PROC_N_STATES] = {
    [S(CREATING)] = {[S(CREATED)] = true, [S(RUNNING)] = true /* restore */},
    [S(CREATED)] = {[S(STARTING)] = true, [S(STOPPED)] = true, [S(DELETING)] = true},
    [S(STARTING)] = {[S(RUNNING)] = true, [S(CREATED)] = true, [S(STOPPED)] = true},
    [S(RUNNING)] = {[S(PAUSING)] = true, [S(STOPPED)] = true},
    [S(PAUSING)] = {[S(PAUSED)] = true, [S(RUNNING)] = true, [S(STOPPED)] = true},
    [S(PAUSED)] = {[S(RUNNING)] = true, [S(STOPPED)] = true},
    [S(STOPPED)] = {[S(DELETING)] = true},
    [S(DELETING)] = {[S(STOPPED)] = true, [S(CREATED)] = true},
};

static const char *const state_names[PS_PROC_N_STATES] = {
    "creating", "created", "starting", "running", "pausing", "paused", "stopped", "deleting",
};

static const char *const op_names[PS_OP_N] = {
    "state", "start", "kill",   "delete", "wait",       "resize", "close io",
    "exec",  "pause", "resume", "update", "checkpoint", "pids",   "stats",
};

/* What an operation gets in a state where it may not run. Zero: allowed. */
struct rule {
        enum ps_code code;
        const char *text; /* containerd's (runc-v2's) wording */
};

#define OP(x) PS_OP_##x
#define REFUSE(t)                                                                                  \
        {                                                                                          \
                PS_FAILED_PRECONDITION, t                                                          \
        }
#define GONE(t)                                                                                    \
        {                                                                                          \
                PS_NOT_FOUND, t                                                                    \
        }

/* A container (init) not created yet is invisible, as in runc-v2 where it
 * is registered only once its create returned; the calls containerd could
 * race with the create are refused rather than reported gone. */
#define NOT_CREATED_YET                                                                            \
        [OP(STATE)] = GONE("container not created"), [OP(WAIT)] = GONE("container not created"),   \
        [OP(RESIZE)] = GONE("container not created"),                                              \
        [OP(CLOSE_IO)] = GONE("container not created"),                                            \
        [OP(EXEC)] = GONE("container not created"), [OP(PAUSE)] = GONE("container not created"),   \
        [OP(RESUME)] = GONE("container not created"),                                              \
        [OP(UPDATE)] = GONE("container not created"),                                              \
        [OP(CHECKPOINT)] = GONE("container not created"),                                          \
        [OP(PIDS)] = GONE("container not created"), [OP(STATS)] = GONE("container not created"),   \
        [OP(START)] = REFUSE("cannot start a process that is being created"),                      \
        [OP(KILL)] = REFUSE("process not created"),                                                \
        [OP(DELETE)] = REFUSE("cannot delete a process that is being created")

/* The process and container operations an init may do, per state
 * (runc-v2's pkg/process/init_state.go and deleted_state.go, plus the
 * transient states in which podshim answers while the runtime works). */
static const struct rule init_rules[PS_PROC_N_STATES][PS_OP_N] =
    {
        [S(CREATING)] = {NOT_CREATED_YET},
        [S(CREATED)] =
            {
                [OP(PAUSE)] = REFUSE("cannot pause task in created state"),
                [OP(RESUME)] = REFUSE("cannot resume task in created state"),
                [OP(CHECKPOINT)] = REFUSE("cannot checkpoint a task in created state"),
            },
        [S(STARTING)] =
            {
                [OP(START)] = REFUSE("cannot start a process that is starting"),
                [OP(DELETE)] = REFUSE("cannot delete a process that is starting"),
                [OP(PAUSE)] = REFUSE("cannot pause a container that is starting"),
                [OP(RESUME)] = REFUSE("cannot resume a container that is starting"),
                [OP(CHECKPOINT)] = REFUSE("cannot checkpoint a container that is starting"),
            },
        [S(RUNNING)] =
            {
                [OP(START)] = REFUSE("cannot start a running process"),
                [OP(DELETE)] = REFUSE("cannot delete a running process"),
                [OP(RESUME)] = REFUSE("cannot resume a running process"),
            },
        [S(PAUSING)] =
            {
                [OP(START)] = REFUSE("cannot start a pausing process"),
                [OP(DELETE)] = REFUSE("cannot delete a pausing process"),
                [OP(EXEC)] = REFUSE("cannot exec in a pausing state"),
                [OP(PAUSE)] = REFUSE("cannot pause a pausing container"),
                [OP(RESUME)] = REFUSE("cannot resume a pausing container"),
                [OP(CHECKPOINT)] = REFUSE("cannot checkpoint a pausing container"),
            },
        [S(PAUSED)] =
            {
                [OP(START)] = REFUSE("cannot start a paused process"),
                [OP(DELETE)] = REFUSE("cannot delete a paused process"),
                [OP(EXEC)] = REFUSE("cannot exec in a paused state"),
                [OP(PAUSE)] = REFUSE("cannot pause a paused container"),
            },
        [S(STOPPED)] =
            {
                [OP(START)] = REFUSE("cannot start a stopped process"),
                [OP(KILL)] = GONE("process already finished"),
                [OP(EXEC)] = REFUSE("cannot exec in a stopped state"),
                [OP(PAUSE)] = REFUSE("cannot pause a stopped container"),
                [OP(RESUME)] = REFUSE("cannot resume a stopped container"),
                [OP(UPDATE)] = REFUSE("cannot update a stopped container"),
                [OP(CHECKPOINT)] = REFUSE("cannot checkpoint a stopped container"),
            },
        [S(DELETING)] =
            {
                [OP(START)] = REFUSE("cannot start a deleted process"),
                [OP(KILL)] = GONE("cannot kill a deleted process"),
                [OP(DELETE)] = GONE("cannot delete a deleted process"),
                [OP(RESIZE)] = REFUSE("cannot resize a deleted process"),
                [OP(EXEC)] = REFUSE("cannot exec in a deleted state"),
                [OP(PAUSE)] = REFUSE("cannot pause a deleted process"),
                [OP(RESUME)] = REFUSE("cannot resume a deleted process"),
                [OP(UPDATE)] = REFUSE("cannot update a deleted process"),
                [OP(CHECKPOINT)] = REFUSE("cannot checkpoint a deleted process"),
                /* nothing may reach the backend while it deletes the container */
                [OP(PIDS)] = GONE("container is being deleted"),
            },
};

/* The same for an exec (runc-v2's exec_state.go); the container-wide
 * operations are never asked of an exec. An exec is never paused itself
 * (it reports its container's pause in State). */
#define EXEC_ONLY_PROCESS_OPS                                                                      \
        [OP(EXEC)] = REFUSE("not an operation of an exec"),                                        \
        [OP(PAUSE)] = REFUSE("not an operation of an exec"),                                       \
        [OP(RESUME)] = REFUSE("not an operation of an exec"),                                      \
        [OP(UPDATE)] = REFUSE("not an operation of an exec"),                                      \
        [OP(CHECKPOINT)] = REFUSE("not an operation of an exec"),                                  \
        [OP(PIDS)] = REFUSE("not an operation of an exec"),                                        \
        [OP(STATS)] = REFUSE("not an operation of an exec")

static const struct rule exec_rules[PS_PROC_N_STATES][PS_OP_N] = {
    [S(CREATING)] = {NOT_CREATED_YET},
    [S(CREATED)] =
        {
            EXEC_ONLY_PROCESS_OPS,
            [OP(KILL)] = REFUSE("process not created"),
        },
    [S(STARTING)] =
        {
            EXEC_ONLY_PROCESS_OPS,
            [OP(START)] = REFUSE("cannot start a process that is starting"),
            [OP(KILL)] = REFUSE("process not created"),
            [OP(DELETE)] = REFUSE("cannot delete a process that is starting"),
        },
    [S(RUNNING)] =
        {
            EXEC_ONLY_PROCESS_OPS,
            [OP(START)] = REFUSE("cannot start a running process"),
            [OP(DELETE)] = REFUSE("cannot delete a running process"),
        },
    [S(PAUSING)] =
        {
            EXEC_ONLY_PROCESS_OPS,
            [OP(START)] = REFUSE("cannot start a running process"),
            [OP(DELETE)] = REFUSE("cannot delete a running process"),
        },
    [S(PAUSED)] =
        {
            EXEC_ONLY_PROCESS_OPS,
            [OP(START)] = REFUSE("cannot start a running process"),
            [OP(DELETE)] = REFUSE("cannot delete a running process"),
        },
    [S(STOPPED)] =
        {
            EXEC_ONLY_PROCESS_OPS,
            [OP(START)] = REFUSE("cannot start a stopped process"),
            [OP(KILL)] = GONE("process already finished"),
            [OP(RESIZE)] = REFUSE("cannot resize a stopped container"),
        },
    [S(DELETING)] =
        {
            EXEC_ONLY_PROCESS_OPS,
            [OP(START)] = REFUSE("cannot start a deleted process"),
            [OP(KILL)] = GONE("cannot kill a deleted process"),
            [OP(DELETE)] = GONE("cannot delete a deleted process"),
            [OP(RESIZE)] = REFUSE("cannot resize a deleted process"),
        },
};

const char *ps_process_state_name(enum ps_proc_state s)
{
        return s < PS_PROC_N_STATES ? state_names[s] : "invalid";
}

const char *ps_process_op_name(enum ps_proc_op op)
{
        return op < PS_OP_N ? op_names[op] : "invalid";
}

int ps_process_check(const struct ps_process *p, enum ps_proc_op op, struct ps_err **err)
{
        const struct rule *r;

        if (p->state >= PS_PROC_N_STATES || op >= PS_OP_N)
                return ps_err_set(err, PS_INTERNAL, "%s: no rule for %s in state %d",
                                  ps_process_name(p), ps_process_op_name(op), (int)p->state);
        /* Once the container is being deleted nothing new may reach the
         * backend for it (its delete frees the container when it ends). */
        if (p->exec_id && p->c->init && p->c->init->state == S(DELETING) &&
            (op == OP(START) || op == OP(KILL)))
                return ps_err_set(err, PS_NOT_FOUND, "container %s is being deleted: not found",
                                  p->c->id);
        r = p->exec_id ? &exec_rules[p->state][op] : &init_rules[p->state][op];
        if (r->code == PS_OK)
                return 0;
        /* errdefs' wording: "<what>: failed precondition" / "<what>: not found" */
        return ps_err_set(err, r->code, "%s: %s", r->text,
                          r->code == PS_NOT_FOUND ? "not found" : "failed precondition");
}

int ps_process_set_state(struct ps_process *p, enum ps_proc_state to, struct ps_err **err)
{
        if (p->state >= PS_PROC_N_STATES || to >= PS_PROC_N_STATES || !allowed[p->state][to]) {
                ps_log_error("%s: refused state change %s -> %s", ps_process_name(p),
                             ps_process_state_name(p->state), ps_process_state_name(to));
                return ps_err_set(err, PS_INTERNAL, "%s: state change %s -> %s refused",
                                  ps_process_name(p), ps_process_state_name(p->state),
                                  ps_process_state_name(to));
        }
        p->state = to;
        return 0;
}

void ps_process_revert(struct ps_process *p, enum ps_proc_state to)
{
        _cleanup_err_ struct ps_err *e = NULL;

        if (p->state != to && ps_process_set_state(p, to, &e) < 0)
                return; /* logged by set_state */
}

bool ps_process_exited(const struct ps_process *p)
{
        return p->exited_at.tv_sec != 0;
}

bool ps_process_live(const struct ps_process *p)
{
        return p->state == S(STARTING) || p->state == S(RUNNING) || p->state == S(PAUSING) ||
               p->state == S(PAUSED);
}

enum ps_task_status ps_process_status(const struct ps_process *p)
{
        switch (p->state) {
        case S(CREATING):
        case S(CREATED):
        case S(STARTING):
                return PS_TASK_CREATED;
        case S(RUNNING):
                /* An exec mirrors its container while that is paused. */
                if (p->exec_id && p->c->init && p->c->init->state == S(PAUSED))
                        return PS_TASK_PAUSED;
                return PS_TASK_RUNNING;
        case S(PAUSING):
                return PS_TASK_PAUSING;
        case S(PAUSED):
                return PS_TASK_PAUSED;
        case S(STOPPED):
        case S(DELETING):
                return PS_TASK_STOPPED;
        default:
                return PS_TASK_UNKNOWN;
        }
}

const char *ps_process_name(const struct ps_process *p)
{
        return p->exec_id ? p->exec_id : p->c->id;
}

static char *dup_or_empty(const char *s)
{
        return strdup(s ? s : "");
}

struct ps_process *ps_process_new(struct ps_container *c, const char *exec_id, const char *in,
                                  const char *out, const char *errp, bool terminal,
                                  struct ps_err **err)
{
        struct ps_process *p = calloc(1, sizeof(*p));

        if (!p)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "new process"), NULL;
        ps_list_init(&p->link);
        ps_list_init(&p->waiters);
        p->c = c;
        p->terminal = terminal;
        p->stdin_path = dup_or_empty(in);
        p->stdout_path = dup_or_empty(out);
        p->stderr_path = dup_or_empty(errp);
        p->exec_id = exec_id && exec_id[0] ? strdup(exec_id) : NULL;
        if (!p->stdin_path || !p->stdout_path || !p->stderr_path ||
            (exec_id && exec_id[0] && !p->exec_id)) {
                ps_process_free(p);
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "new process"), NULL;
        }
        return p;
}

static void release_waiters(struct ps_process *p)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &p->waiters)
        {
                struct ps_waiter *w = ps_list_entry(pos, struct ps_waiter, link);
                ps_list_remove(&w->link);
                w->fn(w->data, p);
                free(w);
        }
}

struct ps_process *ps_process_free(struct ps_process *p)
{
        if (!p)
                return NULL;
        if (p->c->be)
                p->c->be->process_free(p); /* cancels a drain in progress */
        if (p->drain_waiter) {
                /* A Delete that waited for the drain: the process goes
                 * another way (with its container, or the shim exits). */
                struct ps_err *e = NULL;
                ps_err_set(&e, PS_NOT_FOUND, "process %s was deleted with its container",
                           ps_process_name(p));
                ps_op_fail(TAKE_PTR(p->drain_waiter), e);
        }
        release_waiters(p);
        ps_list_remove(&p->link);
        free(p->exec_id);
        free(p->stdin_path);
        free(p->stdout_path);
        free(p->stderr_path);
        free(p->spec_json);
        free(p);
        return NULL;
}

struct ps_waiter *ps_process_add_waiter(struct ps_process *p, ps_wait_fn fn, void *data,
                                        struct ps_err **err)
{
        struct ps_waiter *w = calloc(1, sizeof(*w));

        if (!w)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "wait"), NULL;
        w->fn = fn;
        w->data = data;
        ps_list_add_tail(&p->waiters, &w->link);
        return w;
}

void ps_process_remove_waiter(struct ps_waiter *w)
{
        ps_list_remove(&w->link);
        free(w);
}

/* Every state a process can exit from may end in STOPPED (an exit during
 * create or delete is held by the container module until then); a refusal
 * here is a bookkeeping bug, logged by set_state. The exit is recorded
 * regardless, so no Wait is left parked. */
static void mark_stopped(struct ps_process *p, unsigned status)
{
        _cleanup_err_ struct ps_err *e = NULL;

        clock_gettime(CLOCK_REALTIME, &p->exited_at);
        if (p->exited_at.tv_sec == 0) /* keep "exited" distinguishable from zero */
                p->exited_at.tv_sec = 1;
        p->exit_status = status;
        if (p->state != S(STOPPED) && ps_process_set_state(p, S(STOPPED), &e) < 0)
                return; /* logged there; exited_at and the status stand */
}

void ps_process_fail_start(struct ps_process *p)
{
        mark_stopped(p, 255);
        /* Nothing ran, so nothing is left to relay: Delete need not wait
         * for a drain that will never start. */
        p->drained = true;
        release_waiters(p);
}

void ps_process_record_exit(struct ps_process *p, unsigned exit_status)
{
        const struct ps_task_events *ev = p->c->tasks->env.events;

        mark_stopped(p, exit_status);
        ps_log_debug("%s: pid %d exited with %u", ps_process_name(p), p->pid, p->exit_status);
        ev->task_exit(ev->data, p);
        release_waiters(p);
}
