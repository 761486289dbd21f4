#include "task/exec.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "task/op.h"

/* Validates the OCI Process JSON and forces "terminal" to the request's
 * value, as runc-v2 does; returns the JSON to hand to the runtime. */
static char *exec_spec(const uint8_t *value, size_t len, bool terminal, struct ps_err **err)
{
        _cleanup_json_ cJSON *j = NULL;
        const cJSON *args, *a;
        char *out;

        if (len == 0 || len > PS_EXEC_SPEC_MAX)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec spec must be 1..%u bytes",
                                  PS_EXEC_SPEC_MAX),
                       NULL;
        j = cJSON_ParseWithLength((const char *)value, len);
        if (!cJSON_IsObject(j))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec spec is not a JSON object"), NULL;
        args = cJSON_GetObjectItemCaseSensitive(j, "args");
        if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) == 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec spec has no args"), NULL;
        cJSON_ArrayForEach(a, args)
        {
                if (!cJSON_IsString(a))
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "exec args must be strings"),
                               NULL;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(j, "terminal");
        if (!cJSON_AddBoolToObject(j, "terminal", terminal))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "exec spec"), NULL;
        out = cJSON_PrintUnformatted(j);
        if (!out)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "exec spec"), NULL;
        return out;
}

int ps_container_exec(struct ps_container *c, const struct ps_exec_request *req,
                      struct ps_err **err)
{
        const struct ps_task_events *ev = c->tasks->env.events;
        struct ps_process *p;
        char *spec;

        if (!c->be->exec)
                return ps_err_set(err, PS_UNIMPLEMENTED, "exec in a %s task: not implemented",
                                  c->be->name);
        if (!ps_id_valid(req->exec_id))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid exec id '%s'",
                                  req->exec_id ? req->exec_id : "");
        if (ps_process_check(c->init, PS_OP_EXEC, err) < 0)
                return -1;
        if (ps_tasks_process(c->tasks, c->id, req->exec_id, NULL))
                return ps_err_set(err, PS_ALREADY_EXISTS, "id %s: already exists", req->exec_id);
        if (!req->spec)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec %s has no spec", req->exec_id);
        spec = exec_spec(req->spec, req->spec_len, req->terminal, err);
        if (!spec)
                return -1;
        p = ps_process_new(c, req->exec_id, req->stdin_path, req->stdout_path, req->stderr_path,
                           req->terminal, err);
        if (!p) {
                free(spec);
                return -1;
        }
        p->spec_json = spec;
        if (ps_process_set_state(p, PS_PROC_CREATED, err) < 0) {
                ps_process_free(p);
                return -1;
        }
        ps_list_add_tail(&c->execs, &p->link);
        ev->exec_added(ev->data, p);
        return 0;
}

static void exec_done(void *data, struct ps_err *e, const struct ps_backend_result *res)
{
        struct ps_op *op = data;
        struct ps_process *p = op->p;
        struct ps_container *c = p->c;
        const struct ps_task_events *ev = c->tasks->env.events;

        c->busy--;
        p->busy--;
        if (!e) {
                p->pid = res->pid;
                if (ps_process_set_state(p, PS_PROC_RUNNING, &e) < 0)
                        c->be->signal(p, SIGKILL, false, ps_task_ignore_result, NULL, NULL);
        }
        if (e) {
                ps_process_fail_start(p);
                ps_op_fail(op, e);
        } else {
                ev->exec_started(ev->data, p);
                ps_op_succeed(op, (struct ps_op_result){.pid = res->pid});
                if (p->exit_deferred) /* it exited before its start was reported */
                        ps_task_process_exited(p, p->deferred_status);
        }
        /* The container's init may have been waiting for this exec. */
        ps_container_exit_ready(c);
}

int ps_exec_start(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_container *c = p->c;
        struct ps_op *op;

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
        p->busy++;
        if (c->be->exec(p, exec_done, op, err) < 0) {
                c->busy--;
                p->busy--;
                ps_process_fail_start(p);
                ps_op_free(op);
                return -1;
        }
        return 0;
}
