/* An OCI container on the Linux backend: every operation is the runtime's
 * (runc, crun) command line, run asynchronously, as containerd's runc-v2
 * shim runs it. */
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
#include "cgroup/stats.h"
#include "oci/spec.h"
#include "sandbox/linux/linux.h"
#include "sandbox/linux/members.h"
#include "sandbox/linux/mount.h"
#include "sandbox/linux/stdio.h"

/* One runtime command in flight for the core. */
struct run {
        struct ps_container *c;
        struct ps_process *p;
        ps_backend_fn done;
        void *data;
        char *pidfile;      /* create/exec: named before the runtime runs */
        char *tmp_path;     /* exec: the process JSON handed to the runtime */
        struct ps_err *err; /* create: its failure, held while it is undone */
        ps_backend_pids_fn pids_done;
        bool exec; /* the run starts an exec (r->p) */
};

static struct run *run_new(struct ps_container *c, struct ps_process *p, ps_backend_fn done,
                           void *data, struct ps_err **err)
{
        struct run *r = calloc(1, sizeof(*r));

        if (!r)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "runtime call"), NULL;
        *r = (struct run){.c = c, .p = p, .done = done, .data = data};
        return r;
}

static void run_free(struct run *r)
{
        if (!r)
                return;
        if (r->tmp_path)
                unlink(r->tmp_path);
        free(r->tmp_path);
        free(r->pidfile);
        ps_err_free(r->err);
        free(r);
}

/* Ends the run: exactly one of err / res reaches the core. An exec that
 * failed to start closes its stdio at once: the client's FIFO readers see
 * EOF and stop waiting for output that will never come. */
static void run_finish(struct run *r, struct ps_err *err, pid_t pid, bool running)
{
        ps_backend_fn done = r->done;
        void *data = r->data;
        struct ps_backend_result res = {.pid = pid, .running = running};

        if (err && r->exec && lx_process(r->p))
                lx_process(r->p)->stdio = ps_stdio_free(lx_process(r->p)->stdio);
        run_free(r);
        if (err)
                done(data, err, NULL);
        else
                done(data, NULL, &res);
}

/* Starts args (args[0] names the command) for r with no stdio of its own,
 * optionally feeding `input` on stdin. */
static int run_cmd(struct run *r, char *const *args, const char *input, size_t input_len,
                   ps_runtime_done_fn cb, struct ps_err **err)
{
        struct ps_runtime_req req = {.op = args[0],
                                     .args = args,
                                     .stdio = {-1, -1, -1},
                                     .input = input,
                                     .input_len = input_len};

        return ps_runtime_run(&lx_container(r->c)->rt, &req, cb, r, err);
}

/* ---- create / restore ---------------------------------------------------- */

static void create_undo_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct run *r = data;
        struct ps_err *failure = TAKE_PTR(r->err);

        if (e)
                ps_log_warn("%s: deleting it after the failed create: %s", r->c->id, ps_err_msg(e));
        else
                lx_container(r->c)->runtime_has_it = false;
        ps_err_free(e);
        run_finish(r, failure, 0, false);
}

/* The runtime created the container but the shim cannot supervise it (its
 * pid file is unreadable, the reaper is full): nobody would ever delete it,
 * so it is force-deleted (which kills its init) before Create fails. */
static void create_undo(struct run *r, struct ps_err *failure)
{
        char *args[] = {"delete", "--force", r->c->id, NULL};
        struct ps_err *e = NULL;

        r->err = failure;
        if (run_cmd(r, args, NULL, 0, create_undo_done, &e) < 0) {
                ps_log_warn("%s: cannot delete it after the failed create: %s", r->c->id,
                            ps_err_msg(e));
                ps_err_free(e);
                run_finish(r, TAKE_PTR(r->err), 0, false);
        }
}

static void create_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct run *r = data;
        struct ps_container *c = r->c;
        struct ps_linux_process *lp = lx_process(c->init);
        pid_t pid;

        if (e) {
                /* runc and crun undo a create that failed */
                lx_container(c)->runtime_has_it = false;
                return run_finish(r, e, 0, false);
        }
        if (ps_read_pid_file(r->pidfile, &pid, &e) < 0 || ps_stdio_started(lp->stdio, &e) < 0 ||
            /* last: nothing may fail once the reaper points at the init */
            ps_linux_supervise(c->init, pid, &e) < 0) {
                ps_err_set(&e, PS_INTERNAL, "create %s", c->id);
                return create_undo(r, e);
        }
        c->init->pid = pid;
        ps_linux_watch_cgroup(c);
        run_finish(r, NULL, pid, c->checkpoint != NULL);
}

static void create_stdio_ready(void *data, struct ps_err *e)
{
        struct run *r = data;
        struct ps_container *c = r->c;
        struct ps_linux_container *lc = lx_container(c);
        const char *console = ps_stdio_console_socket(lx_process(c->init)->stdio);
        _cleanup_free_ char *work = NULL;
        char *args[24];
        size_t n = 0;
        struct ps_runtime_req req = {.op = c->checkpoint ? "restore" : "create", .args = args};

        if (e)
                return run_finish(r, e, 0, false);
        if (asprintf(&r->pidfile, "%s/init.pid", c->bundle) < 0 ||
            asprintf(&work, "%s/work", c->bundle) < 0) {
                ps_err_errno(&e, ENOMEM, PS_UNKNOWN, "create %s", c->id);
                return run_finish(r, e, 0, false);
        }
        args[n++] = c->checkpoint ? "restore" : "create";
        if (c->checkpoint) {
                args[n++] = "--detach";
                args[n++] = "--no-subreaper";
                args[n++] = "--image-path";
                args[n++] = c->checkpoint;
                args[n++] = "--work-path";
                args[n++] = lc->opts.criu_work_path ? lc->opts.criu_work_path : work;
        }
        args[n++] = "--bundle";
        args[n++] = c->bundle;
        args[n++] = "--pid-file";
        args[n++] = r->pidfile;
        if (console) {
                args[n++] = "--console-socket";
                args[n++] = (char *)(uintptr_t)console;
        }
        if (lc->opts.no_pivot_root)
                args[n++] = "--no-pivot";
        if (lc->opts.no_new_keyring && !c->checkpoint)
                args[n++] = "--no-new-keyring";
        args[n++] = c->id;
        args[n] = NULL;
        ps_stdio_runtime_fds(lx_process(c->init)->stdio, req.stdio);
        if (ps_runtime_run(&lc->rt, &req, create_done, r, &e) < 0)
                return run_finish(r, e, 0, false);
        lc->runtime_has_it = true;
}

static int mount_rootfs(struct ps_container *c, const struct ps_create_request *req,
                        struct ps_err **err)
{
        _cleanup_free_ char *rootfs = NULL;

        if (req->n_rootfs == 0)
                return 0;
        if (asprintf(&rootfs, "%s/rootfs", c->bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "rootfs");
        if (ps_mount_all(rootfs, req->rootfs, req->n_rootfs, err) < 0)
                return ps_err_prefix(err, "mount rootfs");
        lx_container(c)->rootfs_mounted = true;
        return 0;
}

/* Before the runtime may know the container: its pod's `delete` action
 * must find it should the shim die (members.h). */
static int record_member(struct ps_container *c, const struct ps_create_request *req,
                         struct ps_err **err)
{
        struct ps_linux_container *lc = lx_container(c);

        if (!req->pod_bundle)
                return 0;
        lc->pod_bundle = strdup(req->pod_bundle);
        if (!lc->pod_bundle)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "create %s", c->id);
        if (ps_members_record(lc->pod_bundle, c->id, &lc->opts, err) < 0) {
                free(lc->pod_bundle);
                lc->pod_bundle = NULL;
                return -1;
        }
        return 0;
}

static int runc_create(struct ps_container *c, const struct ps_create_request *req,
                       ps_backend_fn done, void *data, struct ps_err **err)
{
        struct ps_linux *lx = c->be_ctx;
        struct ps_linux_container *lc;
        struct ps_stdio_config cfg;
        struct run *r;

        if (ps_linux_container_new(c, req->options, err) < 0)
                return -1;
        lc = lx_container(c);
        c->private_pid_ns = ps_spec_new_ns(req->spec, PS_SPEC_NS_PID);
        if (mount_rootfs(c, req, err) < 0 || ps_options_save(c->bundle, &lc->opts, err) < 0 ||
            record_member(c, req, err) < 0)
                return -1;
        r = run_new(c, c->init, done, data, err);
        if (!r)
                return -1;
        cfg = (struct ps_stdio_config){.stdin_path = req->stdin_path,
                                       .stdout_path = req->stdout_path,
                                       .stderr_path = req->stderr_path,
                                       .terminal = req->terminal,
                                       .io_uid = lc->opts.io_uid,
                                       .io_gid = lc->opts.io_gid,
                                       .container_id = c->id,
                                       .ns = lx->ns,
                                       .tmp_dir = lx->tmp_dir};
        lx_process(c->init)->stdio =
            ps_stdio_new(lx->base, lx->reaper, &cfg, create_stdio_ready, r, err);
        if (!lx_process(c->init)->stdio) {
                run_free(r);
                return -1;
        }
        return 0;
}

/* ---- start, exec --------------------------------------------------------- */

static void simple_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct run *r = data;

        run_finish(r, e, r->c->init->pid, false);
}

static int runc_start(struct ps_container *c, ps_backend_fn done, void *data, struct ps_err **err)
{
        char *args[] = {"start", c->id, NULL};
        struct run *r = run_new(c, c->init, done, data, err);

        if (!r)
                return -1;
        if (run_cmd(r, args, NULL, 0, simple_done, err) < 0) {
                run_free(r);
                return -1;
        }
        return 0;
}

/* The runtime started the exec but the shim cannot supervise it: a process
 * nobody would report or reap must not keep running. Its exit goes to the
 * reaper's cache of unclaimed exits. */
static void exec_unsupervised(struct run *r, pid_t pid, struct ps_err *e)
{
        if (pid > 0)
                kill(pid, SIGKILL);
        ps_err_prefix(&e, "exec %s", r->p->exec_id);
        run_finish(r, e, 0, false);
}

static void exec_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct run *r = data;
        struct ps_process *p = r->p;
        pid_t pid = 0;

        if (e)
                return run_finish(r, e, 0, false);
        /* The pid file was named before the runtime ran: nothing is
         * allocated before the pid is known, so a process that runs is
         * either supervised or killed. */
        if (ps_read_pid_file(r->pidfile, &pid, &e) < 0)
                return exec_unsupervised(r, 0, e);
        if (ps_linux_supervise(p, pid, &e) < 0)
                return exec_unsupervised(r, pid, e);
        if (ps_stdio_started(lx_process(p)->stdio, &e) < 0)
                ps_log_warn("%s/%s: stdio: %s", p->c->id, p->exec_id, ps_err_msg(e));
        ps_err_free(e);
        /* A cached exit is delivered on the next loop turn, after this. */
        run_finish(r, NULL, pid, false);
}

static void exec_stdio_ready(void *data, struct ps_err *e)
{
        struct run *r = data;
        struct ps_process *p = r->p;
        struct ps_container *c = p->c;
        const char *console = ps_stdio_console_socket(lx_process(p)->stdio);
        char *args[16];
        size_t n = 0;
        struct ps_runtime_req req = {.op = "exec", .args = args};

        if (e)
                return run_finish(r, e, 0, false);
        if (asprintf(&r->pidfile, "%s/%s.pid", c->bundle, p->exec_id) < 0 ||
            asprintf(&r->tmp_path, "%s/.exec-%s.json", c->bundle, p->exec_id) < 0) {
                ps_err_errno(&e, ENOMEM, PS_UNKNOWN, "exec %s", p->exec_id);
                return run_finish(r, e, 0, false);
        }
        if (ps_write_file_atomic(r->tmp_path, p->spec_json, strlen(p->spec_json), 0600, &e) < 0)
                return run_finish(r, e, 0, false);
        args[n++] = "exec";
        args[n++] = "--process";
        args[n++] = r->tmp_path;
        args[n++] = "--detach";
        args[n++] = "--pid-file";
        args[n++] = r->pidfile;
        if (console) {
                args[n++] = "--console-socket";
                args[n++] = (char *)(uintptr_t)console;
        }
        args[n++] = c->id;
        args[n] = NULL;
        ps_stdio_runtime_fds(lx_process(p)->stdio, req.stdio);
        if (ps_runtime_run(&lx_container(c)->rt, &req, exec_done, r, &e) < 0)
                return run_finish(r, e, 0, false);
}

static int runc_exec(struct ps_process *p, ps_backend_fn done, void *data, struct ps_err **err)
{
        struct ps_container *c = p->c;
        struct ps_linux *lx = c->be_ctx;
        struct ps_linux_container *lc = lx_container(c);
        struct ps_stdio_config cfg = {.stdin_path = p->stdin_path,
                                      .stdout_path = p->stdout_path,
                                      .stderr_path = p->stderr_path,
                                      .terminal = p->terminal,
                                      .io_uid = lc->opts.io_uid,
                                      .io_gid = lc->opts.io_gid,
                                      .container_id = c->id,
                                      .ns = lx->ns,
                                      .tmp_dir = lx->tmp_dir};
        struct run *r;

        if (!p->impl && ps_linux_process_new(p, err) < 0)
                return -1;
        r = run_new(c, p, done, data, err);
        if (!r)
                return -1;
        r->exec = true;
        lx_process(p)->stdio = ps_stdio_new(lx->base, lx->reaper, &cfg, exec_stdio_ready, r, err);
        if (!lx_process(p)->stdio) {
                run_free(r);
                return -1;
        }
        return 0;
}

/* ---- kill, delete -------------------------------------------------------- */

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
        struct run *r = data;

        run_finish(r, e ? map_kill_error(e) : NULL, 0, false);
}

static int runc_signal(struct ps_process *p, int sig, bool all, ps_backend_fn done, void *data,
                       struct ps_err **err)
{
        struct ps_backend_result res = {0};
        char sigbuf[16], *args[] = {"kill", "--all", p->c->id, sigbuf, NULL};
        struct run *r;

        if (!all) {
                /* A direct signal through the pidfd: what the runtime's kill
                 * does for one process, without spawning it. */
                if (ps_linux_signal_process(p, sig, err) < 0)
                        return -1;
                done(data, NULL, &res);
                return 0;
        }
        snprintf(sigbuf, sizeof(sigbuf), "%d", sig);
        r = run_new(p->c, p, done, data, err);
        if (!r)
                return -1;
        if (run_cmd(r, args, NULL, 0, kill_done, err) < 0) {
                run_free(r);
                return -1;
        }
        return 0;
}

static bool runtime_says_gone(const struct ps_err *e)
{
        return strstr(ps_err_msg(e), "does not exist") || strstr(ps_err_msg(e), "not exist");
}

static void delete_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct run *r = data;

        if (e && runtime_says_gone(e))
                e = ps_err_free(e);
        if (!e)
                lx_container(r->c)->runtime_has_it = false;
        run_finish(r, e, 0, false);
}

static int runc_delete(struct ps_container *c, bool force, ps_backend_fn done, void *data,
                       struct ps_err **err)
{
        char *args[] = {"delete", force ? "--force" : c->id, force ? c->id : NULL, NULL};
        struct run *r = run_new(c, c->init, done, data, err);

        if (!r)
                return -1;
        if (run_cmd(r, args, NULL, 0, delete_done, err) < 0) {
                run_free(r);
                return -1;
        }
        return 0;
}

/* ---- pause, resume, update, checkpoint, pids, stats ------------------------ */

static int simple(struct ps_container *c, char *const *args, const char *input, size_t len,
                  ps_backend_fn done, void *data, struct ps_err **err)
{
        struct run *r = run_new(c, c->init, done, data, err);

        if (!r)
                return -1;
        if (run_cmd(r, args, input, len, simple_done, err) < 0) {
                run_free(r);
                return -1;
        }
        return 0;
}

static int runc_pause(struct ps_container *c, ps_backend_fn done, void *data, struct ps_err **err)
{
        char *args[] = {"pause", c->id, NULL};

        return simple(c, args, NULL, 0, done, data, err);
}

static int runc_resume(struct ps_container *c, ps_backend_fn done, void *data, struct ps_err **err)
{
        char *args[] = {"resume", c->id, NULL};

        return simple(c, args, NULL, 0, done, data, err);
}

static int runc_update(struct ps_container *c, const char *json, size_t len, ps_backend_fn done,
                       void *data, struct ps_err **err)
{
        char *args[] = {"update", "--resources", "-", c->id, NULL};
        cJSON *j = len ? cJSON_ParseWithLength(json, len) : NULL;
        bool ok = cJSON_IsObject(j);

        cJSON_Delete(j);
        if (!ok)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "resources are not a JSON object");
        return simple(c, args, json, len, done, data, err);
}

static int runc_checkpoint(struct ps_container *c, const struct ps_checkpoint_request *req,
                           ps_backend_fn done, void *data, struct ps_err **err)
{
        _cleanup_free_ char *work = NULL;
        char *args[32];
        size_t n = 0;

        if (asprintf(&work, "%s/work", c->bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "checkpoint");
        args[n++] = "checkpoint";
        args[n++] = "--image-path";
        args[n++] = (char *)(uintptr_t)(req->image_path && req->image_path[0] ? req->image_path
                                                                              : req->path);
        args[n++] = "--work-path";
        args[n++] = req->work_path && req->work_path[0] ? (char *)(uintptr_t)req->work_path : work;
        if (!req->exit)
                args[n++] = "--leave-running";
        if (req->open_tcp)
                args[n++] = "--tcp-established";
        if (req->external_unix_sockets)
                args[n++] = "--ext-unix-sk";
        if (req->terminal || c->init->terminal)
                args[n++] = "--shell-job";
        if (req->file_locks)
                args[n++] = "--file-locks";
        for (size_t i = 0; i < req->n_empty_namespaces && n < 28; i++) {
                args[n++] = "--empty-ns";
                args[n++] = (char *)(uintptr_t)req->empty_namespaces[i];
        }
        args[n++] = c->id;
        args[n] = NULL;
        return simple(c, args, NULL, 0, done, data, err);
}

static void pids_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct run *r = data;
        ps_backend_pids_fn done = r->pids_done;
        void *d = r->data;
        _cleanup_free_ pid_t *pids = NULL;
        cJSON *j = NULL, *it;
        size_t n = 0;

        run_free(r);
        if (!e) {
                j = cJSON_Parse(out ? out : "");
                /* runc prints null, not [], for a stopped container */
                if (!cJSON_IsArray(j) && !cJSON_IsNull(j))
                        ps_err_set(&e, PS_UNKNOWN, "OCI runtime ps: unexpected output");
        }
        if (!e && !(pids = calloc((size_t)cJSON_GetArraySize(j) + 1, sizeof(*pids))))
                ps_err_errno(&e, ENOMEM, PS_UNKNOWN, "pids");
        if (!e) {
                cJSON_ArrayForEach(it, j)
                {
                        if (cJSON_IsNumber(it) && it->valuedouble > 0)
                                pids[n++] = (pid_t)it->valuedouble;
                }
        }
        cJSON_Delete(j);
        done(d, e, e ? NULL : pids, e ? 0 : n);
}

static int runc_pids(struct ps_container *c, ps_backend_pids_fn done, void *data,
                     struct ps_err **err)
{
        char *args[] = {"ps", "--format", "json", c->id, NULL};
        struct ps_runtime_req req = {
            .op = "ps", .args = args, .stdio = {-1, -1, -1}, .capture = true};
        struct run *r = run_new(c, c->init, NULL, data, err);

        if (!r)
                return -1;
        r->pids_done = done;
        if (ps_runtime_run(&lx_container(c)->rt, &req, pids_done, r, err) < 0) {
                run_free(r);
                return -1;
        }
        return 0;
}

static int runc_stats(struct ps_container *c, struct ps_metrics *ret, struct ps_err **err)
{
        struct ps_linux_container *lc = lx_container(c);
        struct ps_metrics m = {0};

        if (lc->cgroup) {
                if (ps_cgroup_stats_of(lc->cgroup, &m.cgroup, err) < 0)
                        return -1;
        } else if (c->init->pid <= 0) {
                return ps_err_set(err, PS_NOT_FOUND, "container %s has no process: not found",
                                  c->id);
        } else if (ps_cgroup_stats(c->init->pid, &m.cgroup, err) < 0) {
                return -1;
        }
        *ret = m; /* no links: those are the pod's */
        return 0;
}

const struct ps_backend_ops ps_linux_runc_ops = {
    .name = "runc",
    .create = runc_create,
    .start = runc_start,
    .exec = runc_exec,
    .signal = runc_signal,
    .delete = runc_delete,
    .pause = runc_pause,
    .resume = runc_resume,
    .update = runc_update,
    .checkpoint = runc_checkpoint,
    .pids = runc_pids,
    .stats = runc_stats,
    .resize = ps_linux_resize,
    .close_stdin = ps_linux_close_stdin,
    .drain = ps_linux_drain,
    .process_free = ps_linux_process_free,
    .container_free = ps_linux_container_free,
};
