#include "sandbox/sandbox.h"

#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "oci/spec.h"

struct ps_sandbox *ps_sandboxes_find(struct ps_sandboxes *s, const char *id)
{
        struct ps_list *pos;

        for (pos = s->sandboxes.next; pos != &s->sandboxes; pos = pos->next) {
                struct ps_sandbox *sb = ps_list_entry(pos, struct ps_sandbox, link);
                if (strcmp(sb->id, id) == 0)
                        return sb;
        }
        return NULL;
}

/* In podsandbox mode the sandbox's own task has the sandbox's id. */
bool ps_sandbox_is_own_task(const struct ps_container *c)
{
        const struct ps_sandbox *sb = c->sandbox;

        return sb && sb->task == c;
}

static void container_added(void *data, struct ps_container *c)
{
        struct ps_sandbox *sb = c->sandbox;

        if (sb && !sb->task && strcmp(sb->id, c->id) == 0)
                sb->task = c;
}

/* Members that outlive their sandbox (deleted after it) run on alone. */
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
        free(sb->id);
        free(sb);
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

        sb->exited = true;
        ps_list_for_each_safe(pos, tmp, &t->containers)
        {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                _cleanup_err_ struct ps_err *e = NULL;
                enum ps_proc_state s = c->init->state;

                if (c->sandbox != sb || c == sb->task)
                        continue;
                if (s != PS_PROC_CREATED && !ps_process_live(c->init))
                        continue;
                ps_log_info("pod %s is gone: killing container %s", sb->id, c->id);
                if (ps_process_kill(c->init, SIGKILL, true, teardown_kill_done, NULL, &e) < 0)
                        ps_log_warn("%s: %s", c->id, ps_err_msg(e));
        }
}

static void init_exited(void *data, struct ps_container *c)
{
        if (ps_sandbox_is_own_task(c))
                teardown(c->sandbox);
}

static void container_freed(void *data, struct ps_container *c)
{
        if (ps_sandbox_is_own_task(c))
                sandbox_free(c->sandbox);
}

/* ---- the registry --------------------------------------------------------- */

void ps_sandboxes_init(struct ps_sandboxes *s, const struct ps_task_events *events,
                       struct event_base *base, struct ps_reaper *reaper, const char *ns,
                       const char *tmp_dir)
{
        struct ps_task_env env = {.events = events,
                                  .container_added = container_added,
                                  .init_exited = init_exited,
                                  .container_freed = container_freed,
                                  .data = s};

        ps_tasks_init(&s->tasks, &env);
        ps_linux_init(&s->lx, base, reaper, ns, tmp_dir);
        ps_list_init(&s->sandboxes);
        s->pod_ops = &ps_linux_pod_ops;
        s->container_ops = &ps_linux_runc_ops;
        s->be_ctx = &s->lx;
}

void ps_sandboxes_destroy(struct ps_sandboxes *s)
{
        ps_tasks_destroy(&s->tasks); /* frees every sandbox with its task */
        ps_linux_fini(&s->lx);
}

static bool wants_sandbox(const struct ps_spec *spec)
{
        const char *type = ps_spec_annotation(spec, PS_ANNOTATION_CONTAINER_TYPE);

        return type && strcmp(type, "sandbox") == 0;
}

int ps_sandboxes_create_task(struct ps_sandboxes *s, struct ps_create_request *req, ps_op_fn done,
                             void *data, struct ps_err **err)
{
        _cleanup_spec_ struct ps_spec *spec = NULL;
        struct ps_sandbox *sb = NULL;
        const char *member_of;
        int r;

        if (ps_task_check_bundle(req->id, req->bundle, err) < 0)
                return -1;
        if (ps_tasks_find(&s->tasks, req->id))
                return ps_err_set(err, PS_ALREADY_EXISTS, "task %s: already exists", req->id);
        if (ps_spec_load(req->bundle, &spec, err) < 0)
                return -1;
        req->spec = spec;
        if (!wants_sandbox(spec)) {
                member_of = ps_spec_annotation(spec, PS_ANNOTATION_SANDBOX_ID);
                sb = member_of ? ps_sandboxes_find(s, member_of) : NULL;
                return ps_container_create(&s->tasks, req, s->container_ops, s->be_ctx, sb, done,
                                           data, err);
        }
        if (ps_sandboxes_find(s, req->id))
                return ps_err_set(err, PS_ALREADY_EXISTS, "sandbox %s: already exists", req->id);
        sb = calloc(1, sizeof(*sb));
        if (!sb || !(sb->id = strdup(req->id))) {
                free(sb);
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "sandbox %s", req->id);
        }
        sb->reg = s;
        ps_list_add_tail(&s->sandboxes, &sb->link);
        r = ps_container_create(&s->tasks, req, s->pod_ops, s->be_ctx, sb, done, data, err);
        /* A task that was registered took the sandbox with it when it was
         * freed; one that never was leaves it to us. */
        if (r < 0 && (sb = ps_sandboxes_find(s, req->id)) && !sb->task)
                sandbox_free(sb);
        return r;
}
