#include "task/exec.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "core/reaper.h"
#include "task/events.h"
#include "task/op.h"
#include "sandbox/linux/stdio.h"

static void cjson_deletep(cJSON **j)
{
        cJSON_Delete(*j);
}

/* Validates the OCI Process JSON and forces "terminal" to the request's
 * value, as runc-v2 does; returns the JSON to hand to the runtime. */
static char *exec_spec(const ProtobufCBinaryData *value, bool terminal, struct ps_err **err)
{
        _cleanup_(cjson_deletep) cJSON *j = NULL;
        const cJSON *args, *a;
        char *out;

        if (value->len == 0 || value->len > PS_EXEC_SPEC_MAX)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec spec must be 1..%u bytes",
                                  PS_EXEC_SPEC_MAX),
                       NULL;
        j = cJSON_ParseWithLength((const char *)value->data, value->len);
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

int ps_container_exec(struct ps_container *c, const Containerd__Task__V2__ExecProcessRequest *req,
                      struct ps_err **err)
{
        struct ps_process *p;
        char *spec;

        if (c->infra)
                return ps_err_set(err, PS_UNIMPLEMENTED,
                                  "exec in a pod infra task: not implemented");
        if (!ps_id_valid(req->exec_id))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid exec id '%s'",
                                  req->exec_id ? req->exec_id : "");
        if (ps_process_check(c->init, PS_OP_EXEC, err) < 0)
                return -1;
        if (ps_tasks_process(c->tasks, c->id, req->exec_id, NULL))
                return ps_err_set(err, PS_ALREADY_EXISTS, "id %s: already exists", req->exec_id);
        if (!req->spec)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec %s has no spec", req->exec_id);
        spec = exec_spec(&req->spec->value, req->terminal, err);
        if (!spec)
                return -1;
        p = ps_process_new(c, req->exec_id, req->stdin, req->stdout, req->stderr, req->terminal,
                           err);
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
        ps_events_exec_added(p);
        return 0;
}

static void exec_failed(struct ps_op *op, struct ps_err *e)
{
        struct ps_process *p = op->p;

        ps_process_fail_start(p);
        ps_op_fail(op, e);
        /* The container's init may have been waiting for this exec. */
        ps_container_exit_ready(p->c);
}

/* The runtime started the exec but the shim cannot supervise it: a process
 * nobody would report or reap must not keep running. Its exit goes to the
 * reaper's cache of unclaimed exits. */
static void exec_unsupervised(struct ps_op *op, pid_t pid, struct ps_err *e)
{
        if (pid > 0)
                kill(pid, SIGKILL);
        ps_err_prefix(&e, "exec %s", op->p->exec_id);
        exec_failed(op, e);
}

static void exec_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_process *p = op->p;
        struct ps_container *c = p->c;
        pid_t pid = 0;

        c->busy--;
        if (e)
                return exec_failed(op, e);
        /* op->arg, the pid file, was named before the runtime ran: nothing
         * is allocated before the pid is known, so a process that runs is
         * either supervised or killed. */
        if (ps_read_pid_file(op->arg, &pid, &e) < 0)
                return exec_unsupervised(op, 0, e);
        if (ps_reaper_watch(c->tasks->env.reaper, pid, ps_container_on_exit, p, &e) < 0)
                return exec_unsupervised(op, pid, e);
        ps_process_set_pid(p, pid);
        if (ps_process_set_state(p, PS_PROC_RUNNING, &e) < 0) {
                ps_reaper_unwatch(c->tasks->env.reaper, pid);
                return exec_unsupervised(op, pid, e);
        }
        if (ps_stdio_started(p->stdio, &e) < 0)
                ps_log_warn("%s/%s: stdio: %s", c->id, p->exec_id, ps_err_msg(e));
        ps_err_free(e);
        /* A cached exit is delivered on the next loop turn, after this. */
        ps_events_exec_started(p);
        ps_op_succeed(op, (struct ps_op_result){.pid = pid});
        ps_container_exit_ready(c);
}

static void exec_stdio_ready(void *data, struct ps_err *e)
{
        struct ps_op *op = data;
        struct ps_process *p = op->p;
        struct ps_container *c = p->c;
        const char *console = ps_stdio_console_socket(p->stdio);
        char *args[16];
        size_t n = 0;
        struct ps_runtime_req req = {.op = "exec", .args = args};

        if (e)
                return exec_failed(op, e);
        if (asprintf(&op->arg, "%s/%s.pid", c->bundle, p->exec_id) < 0 ||
            asprintf(&op->tmp_path, "%s/.exec-%s.json", c->bundle, p->exec_id) < 0) {
                ps_err_errno(&e, ENOMEM, PS_UNKNOWN, "exec %s", p->exec_id);
                return exec_failed(op, e);
        }
        if (ps_write_file_atomic(op->tmp_path, p->spec_json, strlen(p->spec_json), 0600, &e) < 0)
                return exec_failed(op, e);
        args[n++] = "exec";
        args[n++] = "--process";
        args[n++] = op->tmp_path;
        args[n++] = "--detach";
        args[n++] = "--pid-file";
        args[n++] = op->arg;
        if (console) {
                args[n++] = "--console-socket";
                args[n++] = (char *)(uintptr_t)console;
        }
        args[n++] = c->id;
        args[n] = NULL;
        ps_stdio_runtime_fds(p->stdio, req.stdio);
        if (ps_op_run(op, &req, exec_done, &e) < 0)
                return exec_failed(op, e);
}

int ps_exec_start(struct ps_process *p, ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_container *c = p->c;
        struct ps_tasks *t = c->tasks;
        struct ps_stdio_config cfg = {.stdin_path = p->stdin_path,
                                      .stdout_path = p->stdout_path,
                                      .stderr_path = p->stderr_path,
                                      .terminal = p->terminal,
                                      .io_uid = c->opts.io_uid,
                                      .io_gid = c->opts.io_gid,
                                      .container_id = c->id,
                                      .ns = t->env.ns,
                                      .tmp_dir = t->env.tmp_dir};
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
        p->stdio = ps_stdio_new(t->env.base, t->env.reaper, &cfg, exec_stdio_ready, op, err);
        if (!p->stdio) {
                ps_process_fail_start(p);
                ps_op_free(op);
                return -1;
        }
        return 0;
}
