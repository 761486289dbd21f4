/* Container-wide operations: Pause, Resume, Update, Checkpoint, Pids. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "containerd/runc/options.pb-c.h"
#include "cgroup/stats.h"
#include "task/container.h"
#include "task/events.h"
#include "task/infra_task.h"
#include "task/op.h"

static void checkpoint_options_freep(Containerd__Runc__V1__CheckpointOptions **o)
{
        if (*o)
                containerd__runc__v1__checkpoint_options__free_unpacked(*o, NULL);
}

/* Runs args (args[0] names the command) on the container's init, feeding it
 * input on stdin when input is non-NULL. */
static int start_op(struct ps_container *c, char *const *args, const char *input, size_t input_len,
                    ps_runtime_done_fn cb, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_runtime_req req = {.op = args[0],
                                     .args = args,
                                     .stdio = {-1, -1, -1},
                                     .input = input,
                                     .input_len = input_len};
        struct ps_op *op = ps_op_new(c, c->init, args[0], done, data, err);

        if (!op)
                return -1;
        if (ps_op_run(op, &req, cb, err) < 0) {
                ps_op_free(op);
                return -1;
        }
        return 0;
}

static int not_for_infra(const struct ps_container *c, const char *what, struct ps_err **err)
{
        if (!c->infra)
                return 0;
        return ps_err_set(err, PS_UNIMPLEMENTED, "%s of a pod infra task: not implemented", what);
}

/* One operation's completion for the runtime commands below. */
static void finish(struct ps_op *op, struct ps_err *e)
{
        if (e)
                ps_op_fail(op, e);
        else
                ps_op_succeed(op, (struct ps_op_result){0});
}

/* ---- Pause / Resume ------------------------------------------------------ */

static void pause_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;

        c->busy--;
        if (e)
                ps_process_revert(c->init, PS_PROC_RUNNING);
        else if (ps_process_set_state(c->init, PS_PROC_PAUSED, &e) == 0)
                ps_events_paused(c);
        finish(op, e);
        ps_container_exit_ready(c);
}

int ps_container_pause(struct ps_container *c, ps_op_fn done, void *data, struct ps_err **err)
{
        char *args[] = {"pause", c->id, NULL};

        if (not_for_infra(c, "pause", err) < 0 || ps_process_check(c->init, PS_OP_PAUSE, err) < 0)
                return -1;
        if (ps_process_set_state(c->init, PS_PROC_PAUSING, err) < 0)
                return -1;
        if (start_op(c, args, NULL, 0, pause_done, done, data, err) < 0) {
                ps_process_revert(c->init, PS_PROC_RUNNING);
                return -1;
        }
        return 0;
}

static void resume_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;

        c->busy--;
        /* An exit may have stopped the init meanwhile: then it stays so. */
        if (!e && c->init->state == PS_PROC_PAUSED &&
            ps_process_set_state(c->init, PS_PROC_RUNNING, &e) == 0)
                ps_events_resumed(c);
        finish(op, e);
        ps_container_exit_ready(c);
}

int ps_container_resume(struct ps_container *c, ps_op_fn done, void *data, struct ps_err **err)
{
        char *args[] = {"resume", c->id, NULL};

        if (not_for_infra(c, "resume", err) < 0 || ps_process_check(c->init, PS_OP_RESUME, err) < 0)
                return -1;
        return start_op(c, args, NULL, 0, resume_done, done, data, err);
}

/* ---- Update -------------------------------------------------------------- */

static void simple_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;

        c->busy--;
        finish(op, e);
        ps_container_exit_ready(c);
}

int ps_container_update(struct ps_container *c, const char *json, size_t len, ps_op_fn done,
                        void *data, struct ps_err **err)
{
        char *args[] = {"update", "--resources", "-", c->id, NULL};
        cJSON *j;

        if (not_for_infra(c, "update", err) < 0 || ps_process_check(c->init, PS_OP_UPDATE, err) < 0)
                return -1;
        j = len ? cJSON_ParseWithLength(json, len) : NULL;
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return ps_err_set(err, PS_INVALID_ARGUMENT, "resources are not a JSON object");
        }
        cJSON_Delete(j);
        return start_op(c, args, json, len, simple_done, done, data, err);
}

/* ---- Checkpoint ---------------------------------------------------------- */

static void checkpoint_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;

        c->busy--;
        if (!e)
                ps_events_checkpointed(c, op->arg);
        finish(op, e);
        ps_container_exit_ready(c);
}

int ps_container_checkpoint(struct ps_container *c,
                            const Containerd__Task__V2__CheckpointTaskRequest *r, ps_op_fn done,
                            void *data, struct ps_err **err)
{
        _cleanup_(checkpoint_options_freep) Containerd__Runc__V1__CheckpointOptions *o = NULL;
        _cleanup_free_ char *work = NULL;
        char *args[32];
        size_t n = 0;
        struct ps_op *op;

        if (not_for_infra(c, "checkpoint", err) < 0 ||
            ps_process_check(c->init, PS_OP_CHECKPOINT, err) < 0)
                return -1;
        if (!r->path || r->path[0] != '/')
                return ps_err_set(err, PS_INVALID_ARGUMENT, "checkpoint path must be absolute");
        if (r->options && r->options->type_url &&
            strcmp(r->options->type_url, "containerd.runc.v1.CheckpointOptions") == 0) {
                o = containerd__runc__v1__checkpoint_options__unpack(NULL, r->options->value.len,
                                                                     r->options->value.data);
                if (!o)
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "bad checkpoint options");
        }
        if (asprintf(&work, "%s/work", c->bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "checkpoint");
        args[n++] = "checkpoint";
        args[n++] = "--image-path";
        args[n++] = (o && o->image_path && o->image_path[0]) ? o->image_path : r->path;
        args[n++] = "--work-path";
        args[n++] = (o && o->work_path && o->work_path[0]) ? o->work_path : work;
        if (!o || !o->exit)
                args[n++] = "--leave-running";
        if (o && o->open_tcp)
                args[n++] = "--tcp-established";
        if (o && o->external_unix_sockets)
                args[n++] = "--ext-unix-sk";
        if ((o && o->terminal) || c->init->terminal)
                args[n++] = "--shell-job";
        if (o && o->file_locks)
                args[n++] = "--file-locks";
        for (size_t i = 0; o && i < o->n_empty_namespaces && n < 28; i++) {
                args[n++] = "--empty-ns";
                args[n++] = o->empty_namespaces[i];
        }
        args[n++] = c->id;
        args[n] = NULL;
        op = ps_op_new(c, c->init, "checkpoint", done, data, err);
        if (!op)
                return -1;
        op->arg = strdup(r->path);
        if (!op->arg) {
                ps_op_free(op);
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "checkpoint");
        }
        if (ps_op_run_cmd(op, args, checkpoint_done, err) < 0) {
                ps_op_free(op);
                return -1;
        }
        return 0;
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

static void pids_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct pids_op *op = data;
        struct ps_container *c = op->c;
        _cleanup_free_ struct ps_pid_info *pids = NULL;
        cJSON *j = NULL, *it;
        size_t n = 0;

        c->busy--;
        if (!e) {
                j = cJSON_Parse(out ? out : "");
                /* runc prints null, not [], for a stopped container */
                if (!cJSON_IsArray(j) && !cJSON_IsNull(j))
                        ps_err_set(&e, PS_UNKNOWN, "OCI runtime ps: unexpected output");
        }
        if (!e) {
                pids = calloc((size_t)cJSON_GetArraySize(j) + 1, sizeof(*pids));
                if (!pids)
                        ps_err_errno(&e, ENOMEM, PS_UNKNOWN, "pids");
        }
        if (!e) {
                cJSON_ArrayForEach(it, j)
                {
                        if (cJSON_IsNumber(it) && it->valuedouble > 0) {
                                pids[n].pid = (pid_t)it->valuedouble;
                                pids[n].exec_id = exec_of(c, pids[n].pid);
                                n++;
                        }
                }
        }
        cJSON_Delete(j);
        op->done(op->data, e, pids, n);
        free(op);
        ps_container_exit_ready(c);
}

int ps_container_pids(struct ps_container *c, ps_pids_fn done, void *data, struct ps_err **err)
{
        char *args[] = {"ps", "--format", "json", c->id, NULL};
        struct ps_runtime_req req = {
            .op = "ps", .args = args, .stdio = {-1, -1, -1}, .capture = true};
        struct pids_op *op;

        if (ps_process_check(c->init, PS_OP_PIDS, err) < 0)
                return -1;
        if (c->infra) { /* the infra process is the pod's only process */
                struct ps_pid_info self = {.pid = c->init->pid};
                done(data, NULL, &self, ps_process_exited(c->init) ? 0 : 1);
                return 0;
        }
        op = calloc(1, sizeof(*op));
        if (!op)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pids");
        *op = (struct pids_op){.c = c, .done = done, .data = data};
        if (ps_runtime_run(&c->rt, &req, pids_done, op, err) < 0) {
                free(op);
                return -1;
        }
        c->busy++;
        return 0;
}

/* ---- Stats --------------------------------------------------------------- */

int ps_container_stats(struct ps_container *c, char **ret_type_url, uint8_t **ret_value,
                       size_t *ret_len, struct ps_err **err)
{
        if (ps_process_check(c->init, PS_OP_STATS, err) < 0)
                return -1;
        if (c->infra)
                return ps_infra_task_stats(c, ret_type_url, ret_value, ret_len, err);
        if (c->cgroup)
                return ps_cgroup_stats_of(c->cgroup, ret_type_url, ret_value, ret_len, err);
        if (c->init->pid <= 0)
                return ps_err_set(err, PS_NOT_FOUND, "container %s has no process: not found",
                                  c->id);
        return ps_cgroup_stats(c->init->pid, ret_type_url, ret_value, ret_len, err);
}
