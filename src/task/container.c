/* The container registry, the container object and the order of exits. */
#include "task/container.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "task/op.h"

void ps_tasks_init(struct ps_tasks *t, const struct ps_task_env *env)
{
        t->env = *env;
        ps_list_init(&t->containers);
        t->n_containers = 0;
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

static void free_mounts(struct ps_mount *m, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(m[i].type);
                free(m[i].source);
                free(m[i].target);
                ps_strv_free(m[i].options);
        }
        free(m);
}

/* Every backend operation counts in c->busy until it answers; the state
 * table keeps new ones from starting once the init is DELETING, and Delete
 * starts only at busy 0, so nothing the backend still runs can point at a
 * freed container. */
void ps_container_free(struct ps_container *c)
{
        struct ps_list *pos, *tmp;
        const struct ps_task_env *env = &c->tasks->env;

        if (c->link.next && env->container_freed)
                env->container_freed(env->data, c);
        ps_list_for_each_safe(pos, tmp, &c->execs)
            ps_process_free(ps_list_entry(pos, struct ps_process, link));
        ps_process_free(c->init);
        if (c->be)
                c->be->container_free(c);
        if (c->link.next) {
                ps_list_remove(&c->link);
                c->tasks->n_containers--;
        }
        free_mounts(c->rootfs, c->n_rootfs);
        free(c->checkpoint);
        free(c->bundle);
        free(c->id);
        free(c);
}

void ps_task_ignore_result(void *data, struct ps_err *err, const struct ps_backend_result *res)
{
        ps_err_free(err);
}

void ps_tasks_destroy(struct ps_tasks *t)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &t->containers)
        {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                _cleanup_err_ struct ps_err *e = NULL;

                /* The shim is going: nothing of ours may outlive it. */
                if (c->init && c->be && ps_process_live(c->init))
                        c->be->signal(c->init, SIGKILL, false, ps_task_ignore_result, NULL, &e);
                ps_container_free(c);
        }
}

/* ---- exits ------------------------------------------------------------ */

static void on_drained(void *data)
{
        struct ps_process *p = data;
        struct ps_op *op = p->drain_waiter;

        p->drained = true;
        p->drain_waiter = NULL;
        if (op)
                ps_op_resume(op);
}

static void finish_exit(struct ps_process *p, unsigned status)
{
        struct ps_container *c = p->c;
        struct ps_tasks *t = c->tasks;

        p->exit_deferred = false;
        ps_process_record_exit(p, status);
        /* Output written right before the exit may still be in flight: the
         * backend relays it to the end (bounded) before Delete goes on. */
        c->be->drain(p, on_drained, p);
        if (!p->exec_id && t->env.init_exited)
                t->env.init_exited(t->env.data, c);
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

static void kill_all_done(void *data, struct ps_err *err, const struct ps_backend_result *res)
{
        struct ps_container *c = data;

        if (err)
                ps_log_debug("%s: killing the rest after the init's exit: %s", c->id,
                             ps_err_msg(err));
        ps_err_free(err);
        c->busy--;
        ps_container_exit_ready(c);
}

int ps_backend_start_running_init(struct ps_container *c, ps_backend_fn done, void *data,
                                  struct ps_err **err)
{
        struct ps_backend_result res = {.pid = c->init->pid};

        (void)err;
        done(data, NULL, &res);
        return 0;
}

void ps_task_process_exited(struct ps_process *p, unsigned status)
{
        struct ps_container *c = p->c;
        _cleanup_err_ struct ps_err *e = NULL;

        if (p->state == PS_PROC_DELETING || p->state == PS_PROC_STARTING) {
                /* Killed by the backend's delete (the container is going
                 * away), or exited before its start was reported: held. */
                p->exit_deferred = true;
                p->deferred_status = status;
                return;
        }
        if (p->exec_id) {
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
                c->busy++;
                if (c->be->signal(p, SIGKILL, true, kill_all_done, c, &e) == 0)
                        return;
                c->busy--;
                ps_log_warn("%s: %s", c->id, ps_err_msg(e));
        }
        ps_container_exit_ready(c);
}

void ps_task_oom(struct ps_container *c)
{
        const struct ps_task_events *ev = c->tasks->env.events;

        ev->oom(ev->data, c);
}

/* ---- create ------------------------------------------------------------ */

static int copy_mounts(struct ps_container *c, const struct ps_create_request *req,
                       struct ps_err **err)
{
        if (req->n_rootfs == 0)
                return 0;
        c->rootfs = calloc(req->n_rootfs, sizeof(*c->rootfs));
        if (!c->rootfs)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "copy mounts");
        for (size_t i = 0; i < req->n_rootfs; i++) {
                const struct ps_mount *src = &req->rootfs[i];
                struct ps_mount *m = &c->rootfs[c->n_rootfs++];

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

int ps_task_check_bundle(const char *id, const char *bundle, struct ps_err **err)
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

static struct ps_container *container_new(struct ps_tasks *t, const struct ps_create_request *req,
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
        if (!c->id || !c->bundle || (req->checkpoint && req->checkpoint[0] && !c->checkpoint) ||
            copy_mounts(c, req, err) < 0) {
                ps_err_errno(err, ENOMEM, PS_UNKNOWN, "new container");
                ps_container_free(c);
                return NULL;
        }
        c->init = ps_process_new(c, NULL, req->stdin_path, req->stdout_path, req->stderr_path,
                                 req->terminal, err);
        if (!c->init) {
                ps_container_free(c);
                return NULL;
        }
        return c;
}

static void create_done(void *data, struct ps_err *e, const struct ps_backend_result *res)
{
        struct ps_op *op = data;
        struct ps_container *c = op->c;
        const struct ps_task_events *ev = c->tasks->env.events;

        c->busy--;
        if (!e) {
                c->init->pid = res->pid;
                if (ps_process_set_state(c->init, res->running ? PS_PROC_RUNNING : PS_PROC_CREATED,
                                         &e) < 0)
                        c->be->signal(c->init, SIGKILL, false, ps_task_ignore_result, NULL, NULL);
        }
        if (e) {
                ps_container_free(c);
                ps_op_fail(op, e);
                return;
        }
        c->restore_start_pending = res->running;
        ev->task_create(ev->data, c);
        ps_op_succeed(op, (struct ps_op_result){.pid = res->pid});
}

int ps_container_create(struct ps_tasks *t, const struct ps_create_request *req,
                        const struct ps_backend_ops *be, void *be_ctx, void *sandbox, ps_op_fn done,
                        void *data, struct ps_err **err)
{
        struct ps_container *c;
        struct ps_op *op;

        if (ps_task_check_bundle(req->id, req->bundle, err) < 0)
                return -1;
        if (ps_tasks_find(t, req->id))
                return ps_err_set(err, PS_ALREADY_EXISTS, "task %s: already exists", req->id);
        c = container_new(t, req, err);
        if (!c)
                return -1;
        c->be = be;
        c->be_ctx = be_ctx;
        c->sandbox = sandbox;
        op = ps_op_new(c, c->init, "create", done, data, err);
        if (!op) {
                ps_container_free(c);
                return -1;
        }
        /* Registered from here on: a duplicate Create is refused. */
        ps_list_add_tail(&t->containers, &c->link);
        t->n_containers++;
        if (t->env.container_added)
                t->env.container_added(t->env.data, c);
        c->busy++;
        if (be->create(c, req, create_done, op, err) < 0) {
                c->busy--;
                ps_container_free(c);
                ps_op_free(op);
                return -1;
        }
        return 0;
}
