/* Start, Kill and Delete of container processes (init and exec). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "shim/reaper.h"
#include "task/container.h"
#include "task/events.h"
#include "task/exec.h"
#include "task/op.h"
#include "task/stdio.h"

/* ---- Start (init) ------------------------------------------------------ */

static void start_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        struct ps_process *p = c->init;
        struct ps_op_result res = {.pid = p->pid};

        c->busy--;
        if (e) {
                ps_process_set_state(p, PS_PROC_CREATED);
                ps_op_finish(op, e, NULL);
        } else {
                ps_process_set_state(p, PS_PROC_RUNNING);
                /* TaskStart is queued before any exit seen meanwhile. */
                ps_events_task_start(c);
                ps_op_finish(op, NULL, &res);
        }
        if (p->exit_deferred)
                ps_container_on_exit(p, p->pid, p->deferred_status);
}

int ps_process_start(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_container *c = p->c;
        struct ps_op *op;
        char *args[] = {"start", c->id, NULL};

        if (p->exec_id)
                return ps_exec_start(p, done, data, err);
        if (c->infra) {
                /* The infra process runs from Create on; Start is a state. */
                if (p->state != PS_PROC_CREATED)
                        return ps_err_set(err, PS_FAILED_PRECONDITION,
                                          "cannot start a %s process: failed precondition",
                                          ps_process_state_name(p->state));
                ps_process_set_state(p, PS_PROC_STARTING);
                ps_process_set_state(p, PS_PROC_RUNNING);
                ps_events_task_start(c);
                return 1;
        }
        if (c->checkpoint && p->state == PS_PROC_RUNNING && !c->init->exit_deferred) {
                /* A restored container runs from Create on; Start reports it. */
                ps_events_task_start(c);
                return 1;
        }
        if (p->state != PS_PROC_CREATED)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "cannot start a %s process: failed precondition",
                                  ps_process_state_name(p->state));
        op = ps_op_new(c, p, done, data, err);
        if (!op)
                return -1;
        if (ps_op_run_cmd(op, args, start_done, err) < 0) {
                ps_op_free(op);
                return -1;
        }
        ps_process_set_state(p, PS_PROC_STARTING);
        return 0;
}

/* ---- Kill -------------------------------------------------------------- */

static struct ps_err *map_kill_error(struct ps_err *e)
{
        const char *m = ps_err_msg(e);

        if (strstr(m, "not running") || strstr(m, "process already finished") ||
            strstr(m, "no such process") || strstr(m, "does not exist")) {
                ps_err_free(e);
                e = NULL;
                ps_err_set(&e, PS_NOT_FOUND, "process already finished: not found");
        }
        return e;
}

static void kill_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;

        struct ps_container *c = op->c;

        c->busy--;
        ps_op_finish(op, e ? map_kill_error(e) : NULL, NULL);
        /* An init exit may have been held for this operation. */
        ps_container_exit_ready(c);
}

int ps_process_kill(struct ps_process *p, unsigned sig, bool all, ps_op_fn done, void *data,
                    struct ps_err **err)
{
        char sigbuf[16], *args[] = {"kill", "--all", p->c->id, sigbuf, NULL};
        struct ps_container *c = p->c;
        struct ps_op *op;

        if (sig == 0 || sig > 64)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid signal %u", sig);
        switch (p->state) {
        case PS_PROC_CREATING:
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "process not created: failed precondition");
        case PS_PROC_STOPPED:
        case PS_PROC_DELETING:
                return ps_err_set(err, PS_NOT_FOUND, "process already finished: not found");
        case PS_PROC_CREATED:
                if (p->exec_id)
                        return ps_err_set(err, PS_FAILED_PRECONDITION,
                                          "process not created: failed precondition");
                break;
        default:
                break;
        }
        if (p->exec_id || !all || c->infra) {
                /* A direct signal through the pidfd: what the runtime's kill
                 * does for one process, without spawning it. */
                return ps_process_signal(p, (int)sig, err) < 0 ? -1 : 1;
        }
        snprintf(sigbuf, sizeof(sigbuf), "%u", sig);
        op = ps_op_new(c, p, done, data, err);
        if (!op)
                return -1;
        if (ps_op_run_cmd(op, args, kill_done, err) < 0) {
                ps_op_free(op);
                return -1;
        }
        return 0;
}

/* ---- Delete ------------------------------------------------------------ */

static struct ps_op_result exit_result(const struct ps_process *p)
{
        return (struct ps_op_result){
            .pid = p->pid, .exit_status = p->exit_status, .exited_at = p->exited_at};
}

static void delete_exec_finish(struct ps_op *op)
{
        struct ps_process *p = op->p;
        struct ps_op_result res = exit_result(p);
        _cleanup_free_ char *pidfile = NULL;

        if (asprintf(&pidfile, "%s/%s.pid", p->c->bundle, p->exec_id) >= 0)
                unlink(pidfile);
        ps_events_task_delete(p);
        ps_process_free(p);
        ps_op_finish(op, NULL, &res);
}

static void delete_init_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        struct ps_process *p = c->init;
        struct ps_op_result res = exit_result(p);
        struct ps_list *pos, *tmp;

        c->busy--;
        if (e && !strstr(ps_err_msg(e), "does not exist") && !strstr(ps_err_msg(e), "not exist")) {
                ps_process_set_state(p, ps_process_exited(p) ? PS_PROC_STOPPED : PS_PROC_CREATED);
                ps_op_finish(op, e, NULL);
                return;
        }
        ps_err_free(e);
        /* Every exec still registered is deleted with its container. */
        ps_list_for_each_safe(pos, tmp, &c->execs)
            ps_events_task_delete(ps_list_entry(pos, struct ps_process, link));
        ps_events_task_delete(p);
        ps_container_free(c);
        ps_op_finish(op, NULL, &res);
}

static void delete_init_run(struct ps_op *op)
{
        struct ps_container *c = op->c;
        bool created = !ps_process_exited(c->init);
        char *args[] = {"delete", created ? "--force" : c->id, created ? c->id : NULL, NULL};
        struct ps_err *e = NULL;

        if (c->infra) { /* no runtime container to delete */
                c->busy++;
                delete_init_done(op, NULL, NULL, 0);
                return;
        }
        if (ps_op_run_cmd(op, args, delete_init_done, &e) < 0) {
                ps_process_set_state(c->init, created ? PS_PROC_CREATED : PS_PROC_STOPPED);
                ps_op_finish(op, e, NULL);
        }
}

int ps_process_delete(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_op *op;
        bool exec_unstarted = p->exec_id && p->state == PS_PROC_CREATED;

        if (p->state != PS_PROC_STOPPED && !(p->state == PS_PROC_CREATED))
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "cannot delete a %s process: failed precondition",
                                  ps_process_state_name(p->state));
        if (!p->exec_id && p->c->busy)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "container %s has an operation in progress", p->c->id);
        op = ps_op_new(p->c, p, done, data, err);
        if (!op)
                return -1;
        if (p->exec_id) {
                op->resume = delete_exec_finish;
                if (exec_unstarted || p->stdio_drained || !p->stdio) {
                        delete_exec_finish(op);
                        return 0;
                }
                ps_process_set_state(p, PS_PROC_DELETING);
                p->drain_waiter = op;
                return 0;
        }
        op->resume = delete_init_run;
        ps_process_set_state(p, PS_PROC_DELETING);
        if (ps_process_exited(p) && p->stdio && !p->stdio_drained) {
                p->drain_waiter = op; /* continue once output is flushed */
                return 0;
        }
        delete_init_run(op);
        return 0;
}
