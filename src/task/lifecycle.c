/* Start, Kill and Delete of container processes (init and exec). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "core/reaper.h"
#include "task/container.h"
#include "task/events.h"
#include "task/exec.h"
#include "task/op.h"
#include "sandbox/linux/stdio.h"

/* ---- Start (init) ------------------------------------------------------ */

static void start_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        struct ps_process *p = c->init;

        c->busy--;
        if (e) {
                ps_process_revert(p, PS_PROC_CREATED); /* containerd may retry or delete */
                ps_op_fail(op, e);
        } else if (ps_process_set_state(p, PS_PROC_RUNNING, &e) < 0) {
                ps_op_fail(op, e);
        } else {
                /* TaskStart is queued before any exit seen meanwhile. */
                ps_events_task_start(c);
                ps_op_succeed(op, (struct ps_op_result){.pid = p->pid});
        }
        if (p->exit_deferred)
                ps_container_on_exit(p, p->pid, p->deferred_status);
}

/* The infra process runs from Create on; its Start is a state change. */
static int start_infra(struct ps_process *p, struct ps_err **err)
{
        if (ps_process_set_state(p, PS_PROC_STARTING, err) < 0 ||
            ps_process_set_state(p, PS_PROC_RUNNING, err) < 0)
                return -1;
        ps_events_task_start(p->c);
        return 1;
}

int ps_process_start(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_container *c = p->c;
        struct ps_op *op;
        char *args[] = {"start", c->id, NULL};

        if (p->exec_id)
                return ps_exec_start(p, done, data, err);
        if (c->restore_start_pending && p->state == PS_PROC_RUNNING) {
                /* A restored container runs from Create on; its first
                 * Start only reports it. */
                c->restore_start_pending = false;
                ps_events_task_start(c);
                return 1;
        }
        if (ps_process_check(p, PS_OP_START, err) < 0)
                return -1;
        if (c->infra)
                return start_infra(p, err);
        op = ps_op_new(c, p, "start", done, data, err);
        if (!op)
                return -1;
        if (ps_process_set_state(p, PS_PROC_STARTING, err) < 0) {
                ps_op_free(op);
                return -1;
        }
        if (ps_op_run_cmd(op, args, start_done, err) < 0) {
                ps_process_revert(p, PS_PROC_CREATED);
                ps_op_free(op);
                return -1;
        }
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
        if (e)
                ps_op_fail(op, map_kill_error(e));
        else
                ps_op_succeed(op, (struct ps_op_result){0});
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
        if (ps_process_check(p, PS_OP_KILL, err) < 0)
                return -1;
        if (p->exec_id || !all || c->infra) {
                /* A direct signal through the pidfd: what the runtime's kill
                 * does for one process, without spawning it. */
                return ps_process_signal(p, (int)sig, err) < 0 ? -1 : 1;
        }
        snprintf(sigbuf, sizeof(sigbuf), "%u", sig);
        op = ps_op_new(c, p, "kill", done, data, err);
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
        ps_op_succeed(op, res);
}

static bool runtime_says_gone(const struct ps_err *e)
{
        return strstr(ps_err_msg(e), "does not exist") || strstr(ps_err_msg(e), "not exist");
}

static void delete_init_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        struct ps_process *p = c->init;
        struct ps_op_result res = exit_result(p);
        struct ps_list *pos, *tmp;

        c->busy--;
        if (e && !runtime_says_gone(e)) {
                ps_process_revert(p, ps_process_exited(p) ? PS_PROC_STOPPED : PS_PROC_CREATED);
                ps_op_fail(op, e);
                return;
        }
        ps_err_free(e);
        /* Every exec still registered is deleted with its container. */
        ps_list_for_each_safe(pos, tmp, &c->execs)
            ps_events_task_delete(ps_list_entry(pos, struct ps_process, link));
        ps_events_task_delete(p);
        ps_container_free(c);
        ps_op_succeed(op, res);
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
                ps_process_revert(c->init, created ? PS_PROC_CREATED : PS_PROC_STOPPED);
                ps_op_fail(op, e);
        }
}

int ps_process_delete(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_op *op;
        bool unstarted_exec = p->exec_id && p->state == PS_PROC_CREATED;

        if (ps_process_check(p, PS_OP_DELETE, err) < 0)
                return -1;
        if (!p->exec_id && p->c->busy)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "container %s has an operation in progress: failed precondition",
                                  p->c->id);
        op = ps_op_new(p->c, p, "delete", done, data, err);
        if (!op)
                return -1;
        if (ps_process_set_state(p, PS_PROC_DELETING, err) < 0) {
                ps_op_free(op);
                return -1;
        }
        if (p->exec_id) {
                op->resume = delete_exec_finish;
                if (unstarted_exec || p->stdio_drained || !p->stdio)
                        delete_exec_finish(op);
                else
                        p->drain_waiter = op; /* continue once output is flushed */
                return 0;
        }
        op->resume = delete_init_run;
        if (ps_process_exited(p) && p->stdio && !p->stdio_drained) {
                p->drain_waiter = op;
                return 0;
        }
        delete_init_run(op);
        return 0;
}

/* ---- ResizePty, CloseIO ------------------------------------------------ */

int ps_process_resize(struct ps_process *p, uint32_t width, uint32_t height, struct ps_err **err)
{
        if (ps_process_check(p, PS_OP_RESIZE, err) < 0)
                return -1;
        /* Without a terminal there is nothing to resize (runc-v2: no-op). */
        return p->stdio ? ps_stdio_resize(p->stdio, width, height, err) : 0;
}

int ps_process_close_io(struct ps_process *p, bool close_stdin, struct ps_err **err)
{
        if (ps_process_check(p, PS_OP_CLOSE_IO, err) < 0)
                return -1;
        if (close_stdin && p->stdio)
                ps_stdio_close_stdin(p->stdio);
        return 0;
}
