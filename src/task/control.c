/* Container-wide operations: Pause, Resume, Update, Checkpoint, Pids, Stats.
 * A backend that leaves one of them out (NULL) answers UNIMPLEMENTED. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "task/container.h"
#include "task/op.h"

static int unimplemented(const struct ps_container *c, const char *what, struct ps_err **err)
{
        return ps_err_set(err, PS_UNIMPLEMENTED, "%s of a %s task: not implemented", what,
                          c->be->name);
}

/* One operation's completion for the backend calls below. */
static void finish(struct ps_op *op, struct ps_err *e)
{
        struct ps_container *c = op->c;

        c->busy--;
        if (e)
                ps_op_fail(op, e);
        else
                ps_op_succeed(op, (struct ps_op_result){0});
        /* An init exit may have been held for this operation. */
        ps_container_exit_ready(c);
}

static struct ps_op *begin(struct ps_container *c, const char *what, ps_op_fn done, void *data,
                           struct ps_err **err)
{
        struct ps_op *op = ps_op_new(c, c->init, what, done, data, err);

        if (op)
                c->busy++;
        return op;
}

/* The backend refused at once: undo begin(). */
static int abort_op(struct ps_op *op)
{
        op->c->busy--;
        ps_op_free(op);
        return -1;
}

/* ---- Pause / Resume ------------------------------------------------------ */

static void pause_done(void *data, struct ps_err *e, const struct ps_backend_result *res)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        const struct ps_task_events *ev = c->tasks->env.events;

        if (e)
                ps_process_revert(c->init, PS_PROC_RUNNING);
        else if (ps_process_set_state(c->init, PS_PROC_PAUSED, &e) == 0)
                ev->paused(ev->data, c);
        finish(op, e);
}

int ps_container_pause(struct ps_container *c, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_op *op;

        if (!c->be->pause)
                return unimplemented(c, "pause", err);
        if (ps_process_check(c->init, PS_OP_PAUSE, err) < 0)
                return -1;
        op = begin(c, "pause", done, data, err);
        if (!op)
                return -1;
        if (ps_process_set_state(c->init, PS_PROC_PAUSING, err) < 0)
                return abort_op(op);
        if (c->be->pause(c, pause_done, op, err) < 0) {
                ps_process_revert(c->init, PS_PROC_RUNNING);
                return abort_op(op);
        }
        return 0;
}

static void resume_done(void *data, struct ps_err *e, const struct ps_backend_result *res)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        const struct ps_task_events *ev = c->tasks->env.events;

        /* An exit may have stopped the init meanwhile: then it stays so. */
        if (!e && c->init->state == PS_PROC_PAUSED &&
            ps_process_set_state(c->init, PS_PROC_RUNNING, &e) == 0)
                ev->resumed(ev->data, c);
        finish(op, e);
}

int ps_container_resume(struct ps_container *c, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_op *op;

        if (!c->be->resume)
                return unimplemented(c, "resume", err);
        if (ps_process_check(c->init, PS_OP_RESUME, err) < 0)
                return -1;
        op = begin(c, "resume", done, data, err);
        if (!op)
                return -1;
        return c->be->resume(c, resume_done, op, err) < 0 ? abort_op(op) : 0;
}

/* ---- Update, Checkpoint ---------------------------------------------------- */

static void simple_done(void *data, struct ps_err *e, const struct ps_backend_result *res)
{
        finish(data, e);
}

int ps_container_update(struct ps_container *c, const char *json, size_t len, ps_op_fn done,
                        void *data, struct ps_err **err)
{
        struct ps_op *op;

        if (!c->be->update)
                return unimplemented(c, "update", err);
        if (ps_process_check(c->init, PS_OP_UPDATE, err) < 0)
                return -1;
        op = begin(c, "update", done, data, err);
        if (!op)
                return -1;
        return c->be->update(c, json, len, simple_done, op, err) < 0 ? abort_op(op) : 0;
}

static void checkpoint_done(void *data, struct ps_err *e, const struct ps_backend_result *res)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        const struct ps_task_events *ev = c->tasks->env.events;

        if (!e)
                ev->checkpointed(ev->data, c, op->arg);
        finish(op, e);
}

int ps_container_checkpoint(struct ps_container *c, const struct ps_checkpoint_request *req,
                            ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_op *op;

        if (!c->be->checkpoint)
                return unimplemented(c, "checkpoint", err);
        if (ps_process_check(c->init, PS_OP_CHECKPOINT, err) < 0)
                return -1;
        if (!req->path || req->path[0] != '/')
                return ps_err_set(err, PS_INVALID_ARGUMENT, "checkpoint path must be absolute");
        op = begin(c, "checkpoint", done, data, err);
        if (!op)
                return -1;
        op->arg = strdup(req->path);
        if (!op->arg) {
                abort_op(op);
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "checkpoint");
        }
        return c->be->checkpoint(c, req, checkpoint_done, op, err) < 0 ? abort_op(op) : 0;
}

/* ---- Pids ---------------------------------------------------------------- */

struct pids_op {
        struct ps_container *c;
        ps_pids_fn done;
        void *data;
};

static const char *exec_of(const struct ps_container *c, pid_t pid)
{
        const struct ps_list *pos;

        for (pos = c->execs.next; pos != &c->execs; pos = pos->next) {
                const struct ps_process *p = ps_list_entry(pos, struct ps_process, link);
                if (p->pid == pid)
                        return p->exec_id;
        }
        return NULL;
}

static void pids_done(void *data, struct ps_err *e, const pid_t *list, size_t n)
{
        struct pids_op *op = data;
        struct ps_container *c = op->c;
        _cleanup_free_ struct ps_pid_info *pids = NULL;

        c->busy--;
        if (!e) {
                pids = calloc(n + 1, sizeof(*pids));
                if (!pids)
                        ps_err_errno(&e, ENOMEM, PS_UNKNOWN, "pids");
        }
        for (size_t i = 0; !e && i < n; i++)
                pids[i] = (struct ps_pid_info){.pid = list[i], .exec_id = exec_of(c, list[i])};
        op->done(op->data, e, e ? NULL : pids, e ? 0 : n);
        free(op);
        ps_container_exit_ready(c);
}

int ps_container_pids(struct ps_container *c, ps_pids_fn done, void *data, struct ps_err **err)
{
        struct pids_op *op;

        if (ps_process_check(c->init, PS_OP_PIDS, err) < 0)
                return -1;
        op = calloc(1, sizeof(*op));
        if (!op)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pids");
        *op = (struct pids_op){.c = c, .done = done, .data = data};
        c->busy++;
        if (c->be->pids(c, pids_done, op, err) < 0) {
                c->busy--;
                free(op);
                return -1;
        }
        return 0;
}

/* ---- Stats --------------------------------------------------------------- */

int ps_container_stats(struct ps_container *c, struct ps_metrics *ret, struct ps_err **err)
{
        if (!c->be->stats)
                return unimplemented(c, "stats", err);
        if (ps_process_check(c->init, PS_OP_STATS, err) < 0)
                return -1;
        return c->be->stats(c, ret, err);
}

struct stats_op {
        struct ps_container *c;
        ps_backend_stats_fn done;
        void *data;
};

static void stats_done(void *data, struct ps_err *e, struct ps_metrics *m)
{
        struct stats_op *op = data;
        struct ps_container *c = op->c;

        c->busy--;
        op->done(op->data, e, e ? NULL : m);
        free(op);
        ps_container_exit_ready(c);
}

int ps_container_stats_async(struct ps_container *c, ps_backend_stats_fn done, void *data,
                             struct ps_err **err)
{
        _cleanup_(ps_metrics_clear) struct ps_metrics m = {0};
        struct stats_op *op;

        if (!c->be->stats_async) {
                if (ps_container_stats(c, &m, err) < 0)
                        return -1;
                done(data, NULL, &m);
                return 0;
        }
        if (ps_process_check(c->init, PS_OP_STATS, err) < 0)
                return -1;
        op = calloc(1, sizeof(*op));
        if (!op)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "stats");
        *op = (struct stats_op){.c = c, .done = done, .data = data};
        c->busy++;
        if (c->be->stats_async(c, stats_done, op, err) < 0) {
                c->busy--;
                free(op);
                return -1;
        }
        return 0;
}
