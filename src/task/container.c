#include "task/container.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "api/options.h"
#include "base/fs.h"
#include "base/log.h"
#include "cgroup/oom.h"
#include "cgroup/paths.h"
#include "cgroup/stats.h"
#include "core/reaper.h"
#include "task/events.h"
#include "task/infra_task.h"
#include "sandbox/linux/mount.h"
#include "task/op.h"
#include "oci/spec.h"
#include "sandbox/linux/stdio.h"

void ps_tasks_init(struct ps_tasks *t, const struct ps_task_env *env)
{
        t->env = *env;
        ps_list_init(&t->containers);
        t->n_containers = 0;
        ps_list_init(&t->cgroup_removals);
}

struct ps_container *ps_tasks_find(struct ps_tasks *t, const char *id)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &t->containers)
        {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                if (strcmp(c->id, id) == 0)
                        return c;
        }
        return NULL;
}

struct ps_process *ps_tasks_process(struct ps_tasks *t, const char *id, const char *exec_id,
                                    struct ps_err **err)
{
        struct ps_container *c = id ? ps_tasks_find(t, id) : NULL;
        struct ps_list *pos, *tmp;

        if (!c || !c->init)
                return ps_err_set(err, PS_NOT_FOUND, "container %s: not found", id ? id : ""), NULL;
        if (!exec_id || !exec_id[0])
                return c->init;
        ps_list_for_each_safe(pos, tmp, &c->execs)
        {
                struct ps_process *p = ps_list_entry(pos, struct ps_process, link);
                if (strcmp(p->exec_id, exec_id) == 0)
                        return p;
        }
        return ps_err_set(err, PS_NOT_FOUND, "process does not exist %s: not found", exec_id), NULL;
}

static void free_mounts(struct ps_container *c)
{
        for (size_t i = 0; i < c->n_rootfs; i++) {
                Containerd__Types__Mount *m = c->rootfs[i];
                free(m->type);
                free(m->source);
                free(m->target);
                ps_strv_free(m->options);
                free(m);
        }
        free(c->rootfs);
        c->rootfs = NULL;
        c->n_rootfs = 0;
}

/* Unlinks and frees a container and everything it owns. Callers make sure
 * no runtime operation is in flight (c->busy == 0). */
void ps_container_free(struct ps_container *c)
{
        struct ps_list *pos, *tmp;
        _cleanup_err_ struct ps_err *e = NULL;

        ps_list_for_each_safe(pos, tmp, &c->execs)
            ps_process_free(ps_list_entry(pos, struct ps_process, link));
        ps_process_free(c->init);
        ps_oom_watch_free(c->oom);
        if (c->infra)
                ps_infra_task_cleanup(c); /* also after a failed create */
        if (c->rootfs_mounted) {
                _cleanup_free_ char *rootfs = NULL;
                if (asprintf(&rootfs, "%s/rootfs", c->bundle) >= 0 &&
                    ps_unmount_all(rootfs, &e) < 0)
                        ps_log_warn("%s: %s", c->id, ps_err_msg(e));
        }
        if (c->link.next) {
                ps_list_remove(&c->link);
                c->tasks->n_containers--;
        }
        free_mounts(c);
        ps_options_clear(&c->opts);
        ps_cgroup_paths_free(c->cgroup);
        free(c->sandbox_id);
        free(c->checkpoint);
        free(c->bundle);
        free(c->id);
        free(c);
}

void ps_tasks_destroy(struct ps_tasks *t)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &t->containers)
        {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                if (c->init && ps_process_live(c->init))
                        ps_process_signal(c->init, SIGKILL, NULL);
                ps_container_free(c);
        }
        ps_infra_task_finish_removals(t);
}

/* ---- exits ------------------------------------------------------------ */

static void on_drained(void *data)
{
        struct ps_process *p = data;
        struct ps_op *op = p->drain_waiter;

        p->stdio_drained = true;
        p->drain_waiter = NULL;
        if (op)
                ps_op_resume(op);
}

static void finish_exit(struct ps_process *p, int status)
{
        p->exit_deferred = false;
        ps_process_record_exit(p, status);
        if (!p->exec_id && p->c->infra)
                ps_infra_task_teardown(p->c); /* the pod is gone */
        if (p->stdio)
                /* Output written right before the exit is still in the pipes;
                 * keep relaying until every writer is gone, bounded so a
                 * leftover child holding the pipe cannot stall Delete. */
                ps_stdio_drain(p->stdio, 2000, on_drained, p);
        else
                p->stdio_drained = true;
}

void ps_container_exit_ready(struct ps_container *c)
{
        struct ps_process *init = c->init;
        struct ps_list *pos, *tmp;

        if (!init || !init->exit_deferred || init->state == PS_PROC_STARTING || c->busy)
                return;
        ps_list_for_each_safe(pos, tmp, &c->execs)
        {
                if (ps_process_live(ps_list_entry(pos, struct ps_process, link)))
                        return; /* an init's TaskExit goes out after its execs' */
        }
        finish_exit(init, init->deferred_status);
}

static void kill_all_done(void *data, struct ps_err *err, const char *out, size_t len)
{
        struct ps_container *c = data;

        if (err)
                ps_log_debug("%s: kill --all after init exit: %s", c->id, ps_err_msg(err));
        ps_err_free(err);
        c->busy--;
        ps_container_exit_ready(c);
}

void ps_container_on_exit(void *data, pid_t pid, int status)
{
        struct ps_process *p = data;
        struct ps_container *c = p->c;

        if (p->state == PS_PROC_DELETING) {
                /* Killed by the runtime's delete: the container is going away. */
                p->exit_deferred = true;
                p->deferred_status = status;
                return;
        }
        if (p->exec_id) {
                if (p->state == PS_PROC_STARTING) {
                        p->exit_deferred = true;
                        p->deferred_status = status;
                        return;
                }
                finish_exit(p, status);
                ps_container_exit_ready(c);
                return;
        }
        p->exit_deferred = true;
        p->deferred_status = status;
        if (!c->private_pid_ns) {
                /* Without its own pid namespace the container's other
                 * processes survive the init: kill them all first, as
                 * runc-v2 does, so their exits come before the init's. */
                char sig[] = "9", *args[] = {"kill", "--all", c->id, sig, NULL};
                struct ps_runtime_req req = {.op = "kill", .args = args, .stdio = {-1, -1, -1}};
                _cleanup_err_ struct ps_err *e = NULL;

                if (ps_runtime_run(&c->rt, &req, kill_all_done, c, &e) == 0) {
                        c->busy++;
                        return;
                }
                ps_log_warn("%s: %s", c->id, ps_err_msg(e));
        }
        ps_container_exit_ready(c);
}

/* ---- create ------------------------------------------------------------ */

static int copy_mounts(struct ps_container *c, const Containerd__Task__V2__CreateTaskRequest *req,
                       struct ps_err **err)
{
        if (req->n_rootfs == 0)
                return 0;
        c->rootfs = calloc(req->n_rootfs, sizeof(*c->rootfs));
        if (!c->rootfs)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "copy mounts");
        for (size_t i = 0; i < req->n_rootfs; i++) {
                const Containerd__Types__Mount *src = req->rootfs[i];
                Containerd__Types__Mount *m = calloc(1, sizeof(*m));

                if (!m)
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "copy mounts");
                containerd__types__mount__init(m);
                c->rootfs[c->n_rootfs++] = m;
                m->type = strdup(src->type ? src->type : "");
                m->source = strdup(src->source ? src->source : "");
                m->target = strdup(src->target ? src->target : "");
                m->options = calloc(src->n_options + 1, sizeof(char *));
                if (!m->type || !m->source || !m->target || !m->options)
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "copy mounts");
                for (size_t j = 0; j < src->n_options; j++) {
                        m->options[j] = strdup(src->options[j]);
                        if (!m->options[j])
                                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "copy mounts");
                        m->n_options++;
                }
        }
        return 0;
}

/* Any ".." component, wherever it stands ("/a/..", "/../b", "/a/../b"). */
static bool has_dotdot(const char *path)
{
        for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
                bool starts = p == path || p[-1] == '/';
                bool ends = p[2] == '\0' || p[2] == '/';
                if (starts && ends)
                        return true;
        }
        return false;
}

static int check_bundle(const char *id, const char *bundle, struct ps_err **err)
{
        struct stat st;

        if (!ps_id_valid(id))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid task id '%s'", id ? id : "");
        if (!bundle || bundle[0] != '/' || has_dotdot(bundle) || strlen(bundle) > 3000)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid bundle path '%s'",
                                  bundle ? bundle : "");
        if (stat(bundle, &st) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "bundle %s", bundle);
        if (!S_ISDIR(st.st_mode))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "bundle %s is not a directory", bundle);
        return 0;
}

static struct ps_container *container_new(struct ps_tasks *t,
                                          const Containerd__Task__V2__CreateTaskRequest *req,
                                          struct ps_err **err)
{
        struct ps_container *c = calloc(1, sizeof(*c));

        if (!c)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "new container"), NULL;
        ps_list_init(&c->execs);
        c->tasks = t;
        c->id = strdup(req->id);
        c->bundle = strdup(req->bundle);
        if (req->checkpoint && req->checkpoint[0])
                c->checkpoint = strdup(req->checkpoint);
        if (!c->id || !c->bundle || copy_mounts(c, req, err) < 0) {
                ps_err_errno(err, ENOMEM, PS_UNKNOWN, "new container");
                ps_container_free(c);
                return NULL;
        }
        c->init = ps_process_new(c, NULL, req->stdin, req->stdout, req->stderr, req->terminal, err);
        if (!c->init) {
                ps_container_free(c);
                return NULL;
        }
        c->rt = (struct ps_runtime){.base = t->env.base,
                                    .reaper = t->env.reaper,
                                    .opts = &c->opts,
                                    .ns = t->env.ns,
                                    .bundle = c->bundle};
        return c;
}

static int load_options(struct ps_container *c, const Containerd__Task__V2__CreateTaskRequest *req,
                        struct ps_err **err)
{
        if (req->options && req->options->type_url && req->options->type_url[0])
                return ps_options_decode(req->options->type_url, req->options->value.data,
                                         req->options->value.len, &c->opts, err);
        return ps_options_defaults(&c->opts, err);
}

static void create_fail(struct ps_op *op, struct ps_err *e)
{
        struct ps_container *c = op->c;

        c->busy--;
        ps_container_free(c);
        ps_op_fail(op, e);
}

static void on_oom(void *data)
{
        ps_events_oom(data);
}

/* Best effort: a task without a memory cgroup of its own still runs. */
static void arm_oom_watch(struct ps_container *c)
{
        _cleanup_err_ struct ps_err *e = NULL;

        c->oom = ps_oom_watch_new(c->tasks->env.base, c->init->pid, on_oom, c, &e);
        if (!c->oom)
                ps_log_debug("%s: no OOM watch: %s", c->id, ps_err_msg(e));
}

static void create_undo_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_err *failure = op->err;

        op->c->busy--;
        if (e)
                ps_log_warn("%s: deleting it after the failed create: %s", op->c->id,
                            ps_err_msg(e));
        ps_err_free(e);
        op->err = NULL;
        create_fail(op, failure);
}

/* The runtime created the container but the shim cannot supervise it (its
 * pid file is unreadable, the reaper is full): nobody would ever delete it,
 * so it is force-deleted (which kills its init) before Create fails. */
static void create_undo(struct ps_op *op, struct ps_err *failure)
{
        struct ps_container *c = op->c;
        char *args[] = {"delete", "--force", c->id, NULL};
        struct ps_err *e = NULL;

        op->err = failure;
        if (ps_op_run_cmd(op, args, create_undo_done, &e) < 0) {
                ps_log_warn("%s: cannot delete it after the failed create: %s", c->id,
                            ps_err_msg(e));
                ps_err_free(e);
                op->err = NULL;
                create_fail(op, failure);
        }
}

/* Where Stats reads from: resolved while the init surely lives, so that
 * the metrics stay readable after it exits, until the runtime deletes the
 * cgroup (as with runc-v2). Best effort: without it Stats falls back to the
 * live pid. */
static void remember_cgroup(struct ps_container *c)
{
        _cleanup_err_ struct ps_err *e = NULL;

        if (ps_cgroup_paths_of(c->init->pid, &c->cgroup, &e) < 0)
                ps_log_debug("%s: cgroup not resolved: %s", c->id, ps_err_msg(e));
}

static void create_done(void *data, struct ps_err *e, const char *out, size_t len)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        struct ps_process *p = c->init;
        pid_t pid;

        if (e)
                return create_fail(op, e);
        /* op->arg, the pid file, was named before the runtime ran. */
        if (ps_read_pid_file(op->arg, &pid, &e) < 0 || ps_stdio_started(p->stdio, &e) < 0 ||
            ps_process_set_state(p, c->checkpoint ? PS_PROC_RUNNING : PS_PROC_CREATED, &e) < 0 ||
            /* last: nothing may fail once the reaper points at p */
            ps_reaper_watch(c->tasks->env.reaper, pid, ps_container_on_exit, p, &e) < 0) {
                ps_err_set(&e, PS_INTERNAL, "create %s", c->id);
                return create_undo(op, e);
        }
        ps_process_set_pid(p, pid);
        remember_cgroup(c);
        arm_oom_watch(c);
        c->busy--;
        c->restore_start_pending = c->checkpoint != NULL;
        ps_events_task_create(c);
        ps_op_succeed(op, (struct ps_op_result){.pid = pid});
}

static void create_stdio_ready(void *data, struct ps_err *e)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        const char *console = ps_stdio_console_socket(c->init->stdio);
        _cleanup_free_ char *work = NULL;
        char *args[24];
        size_t n = 0;
        struct ps_runtime_req req = {.op = c->checkpoint ? "restore" : "create", .args = args};

        if (e)
                return create_fail(op, e);
        if (asprintf(&op->arg, "%s/init.pid", c->bundle) < 0 ||
            asprintf(&work, "%s/work", c->bundle) < 0) {
                ps_err_errno(&e, ENOMEM, PS_UNKNOWN, "create %s", c->id);
                return create_fail(op, e);
        }
        args[n++] = c->checkpoint ? "restore" : "create";
        if (c->checkpoint) {
                args[n++] = "--detach";
                args[n++] = "--no-subreaper";
                args[n++] = "--image-path";
                args[n++] = c->checkpoint;
                args[n++] = "--work-path";
                args[n++] = c->opts.criu_work_path ? c->opts.criu_work_path : work;
        }
        args[n++] = "--bundle";
        args[n++] = c->bundle;
        args[n++] = "--pid-file";
        args[n++] = op->arg;
        if (console) {
                args[n++] = "--console-socket";
                args[n++] = (char *)(uintptr_t)console;
        }
        if (c->opts.no_pivot_root)
                args[n++] = "--no-pivot";
        if (c->opts.no_new_keyring && !c->checkpoint)
                args[n++] = "--no-new-keyring";
        args[n++] = c->id;
        args[n] = NULL;
        ps_stdio_runtime_fds(c->init->stdio, req.stdio);
        if (ps_runtime_run(&c->rt, &req, create_done, op, &e) < 0)
                return create_fail(op, e);
}

static void spec_freep(struct ps_spec **s)
{
        ps_spec_free(*s);
}

static int create_prepare(struct ps_container *c,
                          const Containerd__Task__V2__CreateTaskRequest *req,
                          const struct ps_spec *spec, struct ps_err **err)
{
        _cleanup_free_ char *rootfs = NULL;

        const char *sandbox = ps_spec_annotation(spec, PS_ANNOTATION_SANDBOX_ID);

        if (load_options(c, req, err) < 0)
                return -1;
        /* The pod it belongs to: its own id for the pod's sandbox task. */
        if (ps_infra_task_wanted(spec))
                sandbox = c->id;
        if (sandbox && sandbox[0] && !(c->sandbox_id = strdup(sandbox)))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "sandbox id");
        c->private_pid_ns = spec->private_pid_ns;
        /* A pod's infra task needs no rootfs: nothing runs from the image. */
        if (c->n_rootfs > 0 && !ps_infra_task_wanted(spec)) {
                if (asprintf(&rootfs, "%s/rootfs", c->bundle) < 0)
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "rootfs");
                if (ps_mount_all(rootfs, c->rootfs, c->n_rootfs, err) < 0)
                        return ps_err_prefix(err, "mount rootfs");
                c->rootfs_mounted = true;
        }
        return ps_options_save(c->bundle, &c->opts, err);
}

static void registered(struct ps_tasks *t, struct ps_container *c)
{
        ps_list_add_tail(&t->containers, &c->link);
        t->n_containers++;
}

static void infra_ready(void *data, struct ps_err *e)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;

        if (!e && ps_process_set_state(c->init, PS_PROC_CREATED, &e) < 0)
                ps_process_signal(c->init, SIGKILL, NULL);
        if (e)
                return create_fail(op, e);
        c->busy--;
        remember_cgroup(c);
        arm_oom_watch(c);
        ps_events_task_create(c);
        ps_op_succeed(op, (struct ps_op_result){.pid = c->init->pid});
}

/* The pod's infra task needs no runtime: it is created once its process is
 * set up. */
static int create_infra(struct ps_tasks *t, struct ps_container *c, const struct ps_spec *spec,
                        ps_op_fn done, void *data, struct ps_err **err)
{
        struct ps_op *op = ps_op_new(c, c->init, "create", done, data, err);

        if (!op) {
                ps_container_free(c);
                return -1;
        }
        /* Registered from here on: a duplicate Create is refused. */
        registered(t, c);
        c->busy++;
        if (ps_infra_task_create(c, spec, infra_ready, op, err) < 0) {
                c->busy--;
                ps_container_free(c);
                ps_op_free(op);
                return -1;
        }
        return 0;
}

int ps_container_create(struct ps_tasks *t, const Containerd__Task__V2__CreateTaskRequest *req,
                        ps_op_fn done, void *data, struct ps_err **err)
{
        _cleanup_(spec_freep) struct ps_spec *spec = NULL;
        struct ps_container *c;
        struct ps_op *op;
        struct ps_stdio_config cfg;

        if (check_bundle(req->id, req->bundle, err) < 0)
                return -1;
        if (ps_tasks_find(t, req->id))
                return ps_err_set(err, PS_ALREADY_EXISTS, "task %s: already exists", req->id);
        if (ps_spec_load(req->bundle, &spec, err) < 0)
                return -1;
        c = container_new(t, req, err);
        if (!c)
                return -1;
        if (create_prepare(c, req, spec, err) < 0) {
                ps_container_free(c);
                return -1;
        }
        if (ps_infra_task_wanted(spec))
                return create_infra(t, c, spec, done, data, err);
        op = ps_op_new(c, c->init, "create", done, data, err);
        if (!op) {
                ps_container_free(c);
                return -1;
        }
        /* Registered from here on: a duplicate Create is refused. */
        registered(t, c);
        c->busy++;
        cfg = (struct ps_stdio_config){.stdin_path = req->stdin,
                                       .stdout_path = req->stdout,
                                       .stderr_path = req->stderr,
                                       .terminal = req->terminal,
                                       .io_uid = c->opts.io_uid,
                                       .io_gid = c->opts.io_gid,
                                       .container_id = c->id,
                                       .ns = t->env.ns,
                                       .tmp_dir = t->env.tmp_dir};
        c->init->stdio =
            ps_stdio_new(t->env.base, t->env.reaper, &cfg, create_stdio_ready, op, err);
        if (!c->init->stdio) {
                c->busy--;
                ps_container_free(c);
                ps_op_free(op);
                return -1;
        }
        return 0;
}
