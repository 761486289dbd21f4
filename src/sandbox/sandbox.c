#include "sandbox/sandbox.h"

#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/log.h"
#include "oci/spec.h"
#include "sandbox/vm/container.h"
#include "sandbox/vm/leftovers.h"
#include "sandbox/vm/solo.h"

struct ps_sandbox *ps_sandboxes_find(struct ps_sandboxes *s, const char *id)
{
        struct ps_list *pos;

        if (!id)
                return NULL;
        for (pos = s->sandboxes.next; pos != &s->sandboxes; pos = pos->next) {
                struct ps_sandbox *sb = ps_list_entry(pos, struct ps_sandbox, link);
                if (strcmp(sb->id, id) == 0)
                        return sb;
        }
        return NULL;
}

struct ps_sandbox *ps_sandboxes_get(struct ps_sandboxes *s, const char *id, struct ps_err **err)
{
        struct ps_sandbox *sb = ps_sandboxes_find(s, id);

        if (!sb)
                ps_err_set(err, PS_NOT_FOUND, "sandbox %.200s: not found", id ? id : "");
        return sb;
}

/* In both modes the sandbox's own task has the sandbox's id. */
bool ps_sandbox_is_own_task(const struct ps_container *c)
{
        const struct ps_sandbox *sb = c->sandbox;

        return sb && sb->task == c;
}

bool ps_sandbox_is_member(const struct ps_sandbox *sb, const struct ps_container *c)
{
        return c->sandbox == sb && sb->task != c;
}

bool ps_sandbox_member_pending(const struct ps_container *c)
{
        return c->init && (c->init->state == PS_PROC_CREATED || ps_process_live(c->init));
}

static void container_added(struct ps_sandboxes *s, struct ps_container *c)
{
        struct ps_sandbox *sb = c->sandbox;

        if (sb && !sb->task && strcmp(sb->id, c->id) == 0)
                sb->task = c;
}

/* ---- waiting for the pod to end -------------------------------------------- */

bool ps_sandbox_members_pending(const struct ps_sandbox *sb)
{
        const struct ps_tasks *t = &sb->reg->tasks;
        const struct ps_list *pos;

        for (pos = t->containers.next; pos != &t->containers; pos = pos->next) {
                const struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                if (ps_sandbox_is_member(sb, c) && ps_sandbox_member_pending(c))
                        return true;
        }
        return false;
}

static void sandbox_destroy(struct ps_sandbox *sb)
{
        ps_pod_files_clear(&sb->files);
        ps_spec_free(sb->spec);
        free(sb->id);
        free(sb);
}

/* Runs every waiter once, holding sb so that a waiter that ends the
 * sandbox (a ShutdownSandbox deleting its task) does not free it under
 * the loop. */
static void release_waiters(struct ps_sandbox *sb)
{
        struct ps_sandbox_waiter *w;

        sb->holds++;
        while ((w = ps_list_first(&sb->waiters, struct ps_sandbox_waiter, link))) {
                ps_list_remove(&w->link);
                w->fn(w->data, sb);
                free(w);
        }
        ps_sandbox_unhold(sb);
}

void ps_sandbox_unhold(struct ps_sandbox *sb)
{
        if (--sb->holds == 0 && sb->dead)
                sandbox_destroy(sb);
}

void ps_sandbox_check(struct ps_sandbox *sb)
{
        bool pending;

        if (sb->dead)
                return;
        pending = ps_sandbox_members_pending(sb);
        if (!pending && !ps_list_empty(&sb->stops))
                ps_sandbox_members_gone(sb);
        if (!sb->exited || pending)
                return;
        /* The pod has ended: no member is left to use its files. */
        ps_pod_files_release(&sb->files);
        if (!ps_list_empty(&sb->waiters))
                release_waiters(sb);
}

/* Members that outlive their sandbox (deleted after it) run on alone.
 * Whoever still waits learns that the sandbox is gone (sb->dead). */
static void sandbox_free(struct ps_sandbox *sb)
{
        struct ps_list *pos;
        struct ps_tasks *t = &sb->reg->tasks;

        for (pos = t->containers.next; pos != &t->containers; pos = pos->next) {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                if (c->sandbox == sb)
                        c->sandbox = NULL;
        }
        ps_list_remove(&sb->link);
        ps_pod_files_release(&sb->files);
        if (sb->userns_fd >= 0)
                close(sb->userns_fd);
        sb->userns_fd = -1;
        sb->task = NULL;
        sb->dead = true;
        sb->holds++;
        release_waiters(sb);
        ps_sandbox_unhold(sb);
}

/* ---- the pod ends with its own task -------------------------------------- */

static void teardown_kill_done(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        if (err)
                ps_log_debug("pod teardown: %s", ps_err_msg(err));
        ps_err_free(err);
}

/* Every member still alive is killed; its exit is reported like any other. */
static void teardown(struct ps_sandbox *sb)
{
        struct ps_tasks *t = &sb->reg->tasks;
        struct ps_list *pos, *tmp;
        const struct ps_process *own = sb->task->init;

        sb->exited = true;
        sb->exit_status = own->exit_status;
        sb->exited_at = own->exited_at;
        ps_list_for_each_safe(pos, tmp, &t->containers)
        {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                _cleanup_err_ struct ps_err *e = NULL;

                if (!ps_sandbox_is_member(sb, c) || !ps_sandbox_member_pending(c))
                        continue;
                ps_log_info("pod %s is gone: killing container %s", sb->id, c->id);
                if (ps_process_kill(c->init, SIGKILL, true, teardown_kill_done, NULL, &e) < 0)
                        ps_log_warn("%s: %s", c->id, ps_err_msg(e));
        }
}

/* ---- the task core's hooks -------------------------------------------- */

static void hook_added(void *data, struct ps_container *c)
{
        container_added(data, c);
}

static void hook_init_exited(void *data, struct ps_container *c)
{
        struct ps_sandbox *sb = c->sandbox;

        if (!sb)
                return;
        /* The pod ends: its grace periods are over, and its waiters go once
         * every member's exit is in too. */
        if (ps_sandbox_is_own_task(c))
                teardown(sb);
        ps_sandbox_check(sb);
}

static void hook_freed(void *data, struct ps_container *c)
{
        struct ps_sandbox *sb = c->sandbox;

        if (!sb)
                return;
        if (ps_sandbox_is_own_task(c)) {
                sandbox_free(sb);
                return;
        }
        /* A member deleted (or never created): maybe the last one. It is
         * still listed while this runs, so it must not count. */
        c->sandbox = NULL;
        ps_sandbox_check(sb);
        c->sandbox = sb;
}

/* ---- events: an api sandbox's own task speaks for the pod ---------------- */

#define REG(data) ((struct ps_sandboxes *)(data))

static bool api_task(const struct ps_container *c)
{
        const struct ps_sandbox *sb = c->sandbox;

        return sb && sb->api && sb->task == c;
}

static void f_task_create(void *data, const struct ps_container *c)
{
        const struct ps_sandbox_events *sev = REG(data)->sandbox_events;
        const struct ps_task_events *ev = REG(data)->events;
        struct ps_sandbox *sb = c->sandbox;

        if (sb && sb->task == c)
                clock_gettime(CLOCK_REALTIME, &sb->created_at);
        if (!api_task(c))
                ev->task_create(ev->data, c);
        else if (sev && sev->sandbox_create)
                sev->sandbox_create(sev->data, c->id);
}

static void f_task_start(void *data, const struct ps_container *c)
{
        const struct ps_sandbox_events *sev = REG(data)->sandbox_events;
        const struct ps_task_events *ev = REG(data)->events;

        if (!api_task(c))
                ev->task_start(ev->data, c);
        else if (sev && sev->sandbox_start)
                sev->sandbox_start(sev->data, c->id);
}

static void f_task_exit(void *data, const struct ps_process *p)
{
        const struct ps_sandbox_events *sev = REG(data)->sandbox_events;
        const struct ps_task_events *ev = REG(data)->events;

        if (!api_task(p->c))
                ev->task_exit(ev->data, p);
        else if (!p->exec_id && sev && sev->sandbox_exit)
                sev->sandbox_exit(sev->data, p->c->id, p->exit_status, &p->exited_at);
}

/* The rest of an api sandbox's own task is nobody's business. */
#define PASS_P(name)                                                                               \
        static void f_##name(void *data, const struct ps_process *p)                               \
        {                                                                                          \
                const struct ps_task_events *ev = REG(data)->events;                               \
                if (!api_task(p->c))                                                               \
                        ev->name(ev->data, p);                                                     \
        }
#define PASS_C(name)                                                                               \
        static void f_##name(void *data, const struct ps_container *c)                             \
        {                                                                                          \
                const struct ps_task_events *ev = REG(data)->events;                               \
                if (!api_task(c))                                                                  \
                        ev->name(ev->data, c);                                                     \
        }

PASS_P(task_delete)
PASS_P(exec_added)
PASS_P(exec_started)
PASS_C(paused)
PASS_C(resumed)
PASS_C(oom)

static void f_checkpointed(void *data, const struct ps_container *c, const char *path)
{
        const struct ps_task_events *ev = REG(data)->events;

        if (!api_task(c))
                ev->checkpointed(ev->data, c, path);
}

/* ---- the registry --------------------------------------------------------- */

void ps_sandboxes_init(struct ps_sandboxes *s, const struct ps_task_events *events,
                       const struct ps_sandbox_events *sandbox_events, struct event_base *base,
                       struct ps_reaper *reaper, const char *ns, const char *tmp_dir)
{
        struct ps_task_env env = {.events = &s->filter,
                                  .container_added = hook_added,
                                  .init_exited = hook_init_exited,
                                  .container_freed = hook_freed,
                                  .data = s};

        s->events = events;
        s->sandbox_events = sandbox_events;
        s->filter = (struct ps_task_events){.task_create = f_task_create,
                                            .task_start = f_task_start,
                                            .task_exit = f_task_exit,
                                            .task_delete = f_task_delete,
                                            .exec_added = f_exec_added,
                                            .exec_started = f_exec_started,
                                            .paused = f_paused,
                                            .resumed = f_resumed,
                                            .oom = f_oom,
                                            .checkpointed = f_checkpointed,
                                            .data = s};
        s->base = base;
        ps_tasks_init(&s->tasks, &env);
        ps_linux_init(&s->lx, base, reaper, ns, tmp_dir);
        ps_list_init(&s->sandboxes);
        s->pod_ops = &ps_linux_pod_ops;
        s->container_ops = &ps_linux_runc_ops;
        s->be_ctx = &s->lx;
        s->vm = (struct ps_vm_backend){.base = base, .reaper = reaper, .ns = ns};
        s->profile = NULL;
}

/* Backend = "vm" in the task's runtime options (oci/options.h). */
static bool wants_vm(const struct ps_create_request *req)
{
        return req->options && req->options->backend &&
               strcmp(req->options->backend, PS_BACKEND_VM) == 0;
}

void ps_sandboxes_destroy(struct ps_sandboxes *s)
{
        ps_tasks_destroy(&s->tasks); /* frees every sandbox with its task */
        ps_linux_fini(&s->lx);
}

struct ps_sandbox *ps_sandbox_new(struct ps_sandboxes *s, const char *id, struct ps_err **err)
{
        struct ps_sandbox *sb = calloc(1, sizeof(*sb));

        if (!sb || !(sb->id = strdup(id))) {
                free(sb);
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "sandbox %s", id), NULL;
        }
        sb->reg = s;
        sb->userns_fd = -1;
        ps_list_init(&sb->waiters);
        ps_list_init(&sb->stops);
        ps_list_add_tail(&s->sandboxes, &sb->link);
        return sb;
}

void ps_sandbox_drop_unborn(struct ps_sandboxes *s, const char *id)
{
        struct ps_sandbox *sb = ps_sandboxes_find(s, id);

        if (sb && !sb->task)
                sandbox_free(sb);
}

static bool wants_sandbox(const struct ps_spec *spec)
{
        const char *type = ps_spec_annotation(spec, PS_ANNOTATION_CONTAINER_TYPE);

        return type && strcmp(type, "sandbox") == 0;
}

/* A container of a vm pod runs in the pod's VM (sandbox/vm/container.h);
 * one outside any pod (member_of NULL) in a VM of its own
 * (sandbox/vm/solo.h). */
static int create_vm_member(struct ps_sandboxes *s, struct ps_sandbox *sb,
                            struct ps_create_request *req, cJSON *tree, ps_op_fn done, void *data,
                            struct ps_err **err)
{
        if (sb && (sb->exited || !sb->task || !sb->task->impl))
                return ps_err_set(err, PS_FAILED_PRECONDITION, "task %s: pod %s has ended", req->id,
                                  sb->id);
        if (ps_vm_guest_spec(req->bundle, tree, req->id, err) < 0 ||
            ps_vm_save_options(req->bundle, req->options, err) < 0)
                return ps_err_prefix(err, "task %s", req->id);
        if (!sb)
                return ps_container_create(&s->tasks, req, &ps_vm_solo_ops, &s->vm, NULL, done,
                                           data, err);
        return ps_container_create(&s->tasks, req, &ps_vm_container_ops, sb->task->impl, sb, done,
                                   data, err);
}

int ps_sandboxes_create_task(struct ps_sandboxes *s, struct ps_create_request *req, ps_op_fn done,
                             void *data, struct ps_err **err)
{
        _cleanup_spec_ struct ps_spec *spec = NULL;
        _cleanup_json_ cJSON *tree = NULL;
        struct ps_sandbox *sb = NULL;
        const char *member_of;
        int r;

        if (ps_task_check_bundle(req->id, req->bundle, err) < 0)
                return -1;
        if (ps_tasks_find(&s->tasks, req->id))
                return ps_err_set(err, PS_ALREADY_EXISTS, "task %s: already exists", req->id);
        if (ps_spec_load_tree(req->bundle, &spec, &tree, err) < 0)
                return -1;
        req->spec = spec;
        if (!wants_sandbox(spec)) {
                member_of = ps_spec_annotation(spec, PS_ANNOTATION_SANDBOX_ID);
                sb = member_of ? ps_sandboxes_find(s, member_of) : NULL;
                /* A handler that promises VM isolation never runs a
                 * container on the host instead: a container on its own
                 * gets a VM of its own, one of a pod the shim does not
                 * know (or of a pod on the host) none. */
                if (wants_vm(req) && member_of && !(sb && sb->vm))
                        return ps_err_set(err, PS_UNIMPLEMENTED,
                                          "task %s: Backend = \"vm\" runs a pod's containers only "
                                          "in the VM of a vm pod of this shim; %s: not yet",
                                          req->id, sb ? "a pod on the host" : "an unknown pod");
                /* A pod the shim made itself gives its members the pod's
                 * files, as CRI does for a pod it made (pod_files.h). */
                if (sb && sb->api &&
                    ps_pod_files_bind(&sb->files, req->bundle, tree, spec->root_readonly, err) < 0)
                        return ps_err_prefix(err, "task %s", req->id);
                if (wants_vm(req) || (sb && sb->vm))
                        return create_vm_member(s, sb, req, tree, done, data, err);
                req->pod_bundle = sb && sb->task ? sb->task->bundle : NULL;
                return ps_container_create(&s->tasks, req, s->container_ops, s->be_ctx, sb, done,
                                           data, err);
        }
        if (ps_sandboxes_find(s, req->id))
                return ps_err_set(err, PS_ALREADY_EXISTS, "sandbox %s: already exists", req->id);
        sb = ps_sandbox_new(s, req->id, err);
        if (!sb)
                return -1;
        sb->vm = wants_vm(req);
        if (sb->vm)
                r = ps_container_create(&s->tasks, req, &ps_vm_pod_ops, &s->vm, sb, done, data,
                                        err);
        else
                r = ps_container_create(&s->tasks, req, s->pod_ops, s->be_ctx, sb, done, data, err);
        if (r < 0)
                ps_sandbox_drop_unborn(s, req->id);
        return r;
}
