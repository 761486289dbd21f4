/* Start, Kill, Delete, ResizePty and CloseIO of container processes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "task/container.h"
#include "task/exec.h"
#include "task/op.h"

static const struct ps_task_events *events_of(const struct ps_container *c)
{
        return c->tasks->env.events;
}

/* ---- Start (init) ------------------------------------------------------ */

static void start_done(void *data, struct ps_err *e, const struct ps_backend_result *res)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        struct ps_process *p = c->init;
        const struct ps_task_events *ev = events_of(c);

        c->busy--;
        if (e) {
                ps_process_revert(p, PS_PROC_CREATED); /* containerd may retry or delete */
                ps_op_fail(op, e);
        } else if (ps_process_set_state(p, PS_PROC_RUNNING, &e) < 0) {
                ps_op_fail(op, e);
        } else {
                /* TaskStart is queued before any exit seen meanwhile. */
                ev->task_start(ev->data, c);
                ps_op_succeed(op, (struct ps_op_result){.pid = p->pid});
        }
        if (p->exit_deferred && p->state != PS_PROC_STARTING)
                ps_task_process_exited(p, p->deferred_status);
}

int ps_process_start(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_container *c = p->c;
        struct ps_op *op;

        if (p->exec_id)
                return ps_exec_start(p, done, data, err);
        if (c->restore_start_pending && p->state == PS_PROC_RUNNING) {
                /* A restored container runs from Create on; its first
                 * Start only reports it. */
                c->restore_start_pending = false;
                events_of(c)->task_start(events_of(c)->data, c);
                return 1;
        }
        if (ps_process_check(p, PS_OP_START, err) < 0)
                return -1;
        op = ps_op_new(c, p, "start", done, data, err);
        if (!op)
                return -1;
        if (ps_process_set_state(p, PS_PROC_STARTING, err) < 0) {
                ps_op_free(op);
                return -1;
        }
        c->busy++;
        if (c->be->start(c, start_done, op, err) < 0) {
                c->busy--;
                ps_process_revert(p, PS_PROC_CREATED);
                ps_op_free(op);
                return -1;
        }
        return 0;
}

/* ---- Kill -------------------------------------------------------------- */

/* A Kill's or a ResizePty's answer: the process was busy until now. */
static void busy_op_done(void *data, struct ps_err *e, const struct ps_backend_result *res)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;

        c->busy--;
        op->p->busy--;
        if (e)
                ps_op_fail(op, e);
        else
                ps_op_succeed(op, (struct ps_op_result){0});
        /* An init exit may have been held for this operation. */
        ps_container_exit_ready(c);
}

int ps_process_kill(struct ps_process *p, unsigned sig, bool all, ps_op_fn done, void *data,
                    struct ps_err **err)
{
        struct ps_container *c = p->c;
        struct ps_op *op;

        if (sig == 0 || sig > 64)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid signal %u", sig);
        if (ps_process_check(p, PS_OP_KILL, err) < 0)
                return -1;
        op = ps_op_new(c, p, "kill", done, data, err);
        if (!op)
                return -1;
        c->busy++;
        p->busy++;
        if (c->be->signal(p, (int)sig, all && !p->exec_id, busy_op_done, op, err) < 0) {
                c->busy--;
                p->busy--;
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
        const struct ps_task_events *ev = events_of(p->c);
        struct ps_op_result res = exit_result(p);

        ev->task_delete(ev->data, p);
        ps_process_free(p);
        ps_op_succeed(op, res);
}

static void delete_init_done(void *data, struct ps_err *e, const struct ps_backend_result *r)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        struct ps_process *p = c->init;
        const struct ps_task_events *ev = events_of(c);
        struct ps_op_result res = exit_result(p);
        struct ps_list *pos, *tmp;

        c->busy--;
        if (e) {
                ps_process_revert(p, ps_process_exited(p) ? PS_PROC_STOPPED : PS_PROC_CREATED);
                ps_op_fail(op, e);
                return;
        }
        /* Every exec still registered is deleted with its container. */
        ps_list_for_each_safe(pos, tmp, &c->execs)
            ev->task_delete(ev->data, ps_list_entry(pos, struct ps_process, link));
        ev->task_delete(ev->data, p);
        ps_container_free(c);
        ps_op_succeed(op, res);
}

static void delete_init_run(struct ps_op *op)
{
        struct ps_container *c = op->c;
        bool created = !ps_process_exited(c->init);
        struct ps_err *e = NULL;

        c->busy++;
        if (c->be->delete (c, created, delete_init_done, op, &e) < 0) {
                c->busy--;
                ps_process_revert(c->init, created ? PS_PROC_CREATED : PS_PROC_STOPPED);
                ps_op_fail(op, e);
        }
}

int ps_process_delete(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_op *op;

        if (ps_process_check(p, PS_OP_DELETE, err) < 0)
                return -1;
        if (!p->exec_id && p->c->busy)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "container %s has an operation in progress: failed precondition",
                                  p->c->id);
        if (p->exec_id && p->busy)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "exec %s has an operation in progress: failed precondition",
                                  p->exec_id);
        op = ps_op_new(p->c, p, "delete", done, data, err);
        if (!op)
                return -1;
        /* Nothing ran (an exec never started, or its start failed): nothing
         * to wait for. */
        if (p->state == PS_PROC_CREATED && p->exec_id)
                p->drained = true;
        if (ps_process_set_state(p, PS_PROC_DELETING, err) < 0) {
                ps_op_free(op);
                return -1;
        }
        op->resume = p->exec_id ? delete_exec_finish : delete_init_run;
        if (ps_process_exited(p) && !p->drained) {
                p->drain_waiter = op; /* continue once output is flushed */
                return 0;
        }
        op->resume(op);
        return 0;
}

/* ---- ResizePty, CloseIO ------------------------------------------------ */

int ps_process_resize(struct ps_process *p, uint32_t width, uint32_t height, ps_op_fn done,
                      void *data, struct ps_err **err)
{
        struct ps_container *c = p->c;
        struct ps_op *op;

        if (ps_process_check(p, PS_OP_RESIZE, err) < 0)
                return -1;
        if (!c->be->resize_async) {
                if (c->be->resize(p, width, height, err) < 0)
                        return -1;
                done(data, NULL, &(struct ps_op_result){0});
                return 0;
        }
        op = ps_op_new(c, p, "resize", done, data, err);
        if (!op)
                return -1;
        c->busy++;
        p->busy++;
        if (c->be->resize_async(p, width, height, busy_op_done, op, err) < 0) {
                c->busy--;
                p->busy--;
                ps_op_free(op);
                return -1;
        }
        return 0;
}

int ps_process_close_io(struct ps_process *p, bool close_stdin, struct ps_err **err)
{
        if (ps_process_check(p, PS_OP_CLOSE_IO, err) < 0)
                return -1;
        if (close_stdin)
                p->c->be->close_stdin(p);
        return 0;
}
