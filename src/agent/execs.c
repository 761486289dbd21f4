/* The guest agent's execs (agent/containers.h): `runtime exec --detach` in
 * a running container, their streams, exits and deletion. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/containers_impl.h"
#include "agent/streams.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "core/reaper.h"

void ps_agent_exec_free(struct exec *ex)
{
        struct ps_agent_containers *t = ex->ct->t;

        if (ex->pid > 0)
                ps_reaper_unwatch(t->reaper, ex->pid);
        ps_list_remove(&ex->link);
        t->n_execs--;
        ps_agent_streams_free(ex->streams); /* answers the waiting calls */
        ps_console_socket_close(&ex->console);
        if (ex->spec_path)
                unlink(ex->spec_path);
        if (ex->pid_path)
                unlink(ex->pid_path);
        free(ex->spec_path);
        free(ex->pid_path);
        free(ex->id);
        free(ex);
}

static struct exec *find_exec(struct container *ct, const char *exec_id)
{
        struct ps_list *pos;

        for (pos = ct->execs.next; pos != &ct->execs; pos = pos->next) {
                struct exec *ex = ps_list_entry(pos, struct exec, link);

                if (!ex->deleted && strcmp(ex->id, exec_id) == 0)
                        return ex;
        }
        return NULL;
}

struct exec *ps_agent_exec_get(struct ps_agent_containers *t, const char *id, const char *exec_id,
                               struct ps_err **err)
{
        struct container *ct = ps_agent_ct_get(t, id, err);
        struct exec *ex;

        if (!ct || ps_agent_ct_check_id(exec_id, "exec", err) < 0)
                return NULL;
        ex = find_exec(ct, exec_id);
        if (!ex)
                ps_err_set(err, PS_NOT_FOUND, "exec %s of container %s: not found", exec_id, id);
        return ex;
}

static void on_exec_exit(void *data, pid_t pid, int status)
{
        struct exec *ex = data;

        ex->pid = 0;
        ps_log_debug("agent: exec %s/%s (pid %d) exited, status %d", ex->ct->id, ex->id, pid,
                     status);
        ps_agent_ct_oom_check(ex->ct); /* an OOM kill of the exec goes first, as an init's */
        ps_agent_ct_queue_exit(ex->ct->t, ex->ct->id, ex->id, pid, status);
        if (ex->deleted)
                ps_agent_exec_free(ex);
}

/* The runtime ran the exec: its pid from the pid file, watched from now
 * on (an exit before this waits in the reaper's cache). */
static struct ps_err *exec_watch(struct exec *ex)
{
        struct ps_err *e = NULL;
        pid_t pid;

        if (ps_read_pid_file(ex->pid_path, &pid, &e) < 0)
                return e;
        if (ps_reaper_watch(ex->ct->t->reaper, pid, on_exec_exit, ex, &e) < 0) {
                kill(pid, SIGKILL); /* nobody would report it: it must not run */
                return e;
        }
        ex->pid = pid;
        return NULL;
}

void ps_agent_exec_ran(struct run *r, int status)
{
        struct exec *ex = r->ex;
        struct container *ct = r->ct;
        struct ps_err *e = NULL;
        pid_t pid = 0;

        ex->starting = false;
        unlink(ex->spec_path);
        if (status != 0)
                e = ps_agent_ct_runtime_error(ct, "exec", status);
        else if (!(e = exec_watch(ex))) {
                if (ex->terminal && !ex->deleted)
                        e = ps_agent_ct_pty_streams(ct->t, &ex->console, &ex->streams);
                else if (ex->streams) /* the exec has its ends */
                        ps_agent_streams_started(ex->streams);
                /* deleted while it started, or no terminal for it: nobody
                 * wants it (its exit is queued, then it is freed) */
                if (e || ex->deleted)
                        kill(ex->pid, SIGKILL);
                pid = e ? 0 : ex->pid;
        }
        if (e)
                ex->deleted = true; /* a failed exec leaves nothing */
        if (ex->deleted && ex->pid == 0)
                ps_agent_exec_free(ex);
        if (ct->deleted && ct->runs == 0 && ct->pid == 0)
                ps_agent_ct_free(ct->t, ct);
        r->done(r->data, e, pid);
        free(r);
}

/* The process JSON the host sent: an object with non-empty string args
 * whose terminal is the request's. */
static int check_process(const struct ps_agent_exec *req, struct ps_err **err)
{
        _cleanup_json_ cJSON *j = NULL;
        const cJSON *args, *a;

        if (req->process_len == 0 || req->process_len > PS_AGENT_EXEC_SPEC_MAX)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec %s: process must be 1..%u bytes",
                                  req->exec_id, PS_AGENT_EXEC_SPEC_MAX);
        j = cJSON_ParseWithLength((const char *)req->process, req->process_len);
        if (!cJSON_IsObject(j))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec %s: process is no JSON object",
                                  req->exec_id);
        args = cJSON_GetObjectItemCaseSensitive(j, "args");
        if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) == 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "exec %s: process has no args",
                                  req->exec_id);
        cJSON_ArrayForEach(a, args)
        {
                if (!cJSON_IsString(a))
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "exec %s: process args must be strings", req->exec_id);
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "terminal")) != req->terminal)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "exec %s: process.terminal disagrees with the request's "
                                  "terminal (%s)",
                                  req->exec_id, req->terminal ? "true" : "false");
        return 0;
}

static struct exec *exec_new(struct container *ct, const char *exec_id, struct ps_err **err)
{
        struct ps_agent_containers *t = ct->t;
        struct exec *ex = calloc(1, sizeof(*ex));

        if (!ex || !(ex->id = strdup(exec_id)) ||
            asprintf(&ex->spec_path, "%s/.exec-%s.json", ct->bundle, exec_id) < 0 ||
            asprintf(&ex->pid_path, "%s/.exec-%s.pid", ct->bundle, exec_id) < 0) {
                if (ex) {
                        free(ex->id);
                        free(ex->spec_path);
                }
                free(ex);
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "exec %s", exec_id);
                return NULL;
        }
        ex->ct = ct;
        ex->console.fd = -1;
        ps_list_add_tail(&ct->execs, &ex->link);
        t->n_execs++;
        return ex;
}

/* The checks of ps_agent_exec_create: the request's own fields first
 * (ids, the process), then the container's state. */
static struct container *exec_target(struct ps_agent_containers *t, const struct ps_agent_exec *req,
                                     struct ps_err **err)
{
        struct container *ct;

        if (ps_agent_ct_check_id(req->id, "container", err) < 0 ||
            ps_agent_ct_check_id(req->exec_id, "exec", err) < 0)
                return NULL;
        if (check_process(req, err) < 0 || !(ct = ps_agent_ct_get(t, req->id, err)))
                return NULL;
        if (ct->pid <= 0) {
                ps_err_set(err, PS_FAILED_PRECONDITION, "container %s: not running", req->id);
                return NULL;
        }
        if (find_exec(ct, req->exec_id)) {
                ps_err_set(err, PS_ALREADY_EXISTS, "exec %s of container %s: already exists",
                           req->exec_id, req->id);
                return NULL;
        }
        if (t->n_execs >= PS_AGENT_MAX_EXECS) {
                ps_err_set(err, PS_RESOURCE_EXHAUSTED, "%u execs already", PS_AGENT_MAX_EXECS);
                return NULL;
        }
        return ct;
}

int ps_agent_exec_create(struct ps_agent_containers *t, const struct ps_agent_exec *req,
                         ps_agent_run_fn done, void *data, struct ps_err **err)
{
        struct container *ct = exec_target(t, req, err);
        const bool want[3] = {req->stdin_pipe, req->stdout_pipe, req->stderr_pipe};
        char *args[10] = {"exec", "--process", NULL, "--detach", "--pid-file", NULL};
        struct exec *ex;
        int fds[3] = {-1, -1, -1}, n = 6;

        if (!ct || !(ex = exec_new(ct, req->exec_id, err)))
                return -1;
        args[2] = ex->spec_path;
        args[5] = ex->pid_path;
        ex->terminal = req->terminal;
        if (ps_write_file_atomic(ex->spec_path, req->process, req->process_len, 0600, err) < 0)
                goto fail;
        if (ex->terminal) {
                /* the pty is made by runc; its master comes back here */
                if (ps_console_socket_open(NULL, &ex->console, err) < 0)
                        goto fail;
                args[n++] = "--console-socket";
                args[n++] = ex->console.path;
        } else {
                ex->streams = ps_agent_streams_new(t->base, want, err);
                if (!ex->streams)
                        goto fail;
                ps_agent_streams_fds(ex->streams, fds);
        }
        args[n++] = ct->id;
        args[n] = NULL;
        if (ps_agent_ct_run(ct, ex, RUN_EXEC, args, fds, done, data, err) < 0)
                goto fail;
        ex->starting = true;
        return 0;
fail:
        ps_agent_exec_free(ex);
        return ps_err_prefix(err, "exec %s", req->exec_id);
}

int ps_agent_exec_delete(struct ps_agent_containers *t, const char *id, const char *exec_id,
                         struct ps_err **err)
{
        struct exec *ex = ps_agent_exec_get(t, id, exec_id, err);

        if (!ex)
                return -1;
        ex->deleted = true;
        /* its parked reads and writes end now (NOT_FOUND) */
        ex->streams = ps_agent_streams_free(ex->streams);
        if (ex->pid > 0)
                kill(ex->pid, SIGKILL); /* freed once its exit is in */
        else if (!ex->starting)
                ps_agent_exec_free(ex);
        return 0;
}
