#include "sandbox/lifecycle.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "sandbox/linux/userns.h"

static int refuse_task_born(const struct ps_sandbox *sb, const char *what, struct ps_err **err)
{
        return ps_err_set(err, PS_FAILED_PRECONDITION,
                          "%s sandbox %s: it was made by a Task Create (podsandbox mode), so "
                          "containerd drives it as a task: failed precondition",
                          what, sb->id);
}

/* The lifecycle calls need a pod whose infra process exists. */
static int check_api(const struct ps_sandbox *sb, const char *what, struct ps_err **err)
{
        if (!sb->api)
                return refuse_task_born(sb, what, err);
        if (!sb->task || sb->task->init->state == PS_PROC_CREATING)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "%s sandbox %s: it is being created: failed precondition", what,
                                  sb->id);
        return 0;
}

bool ps_sandbox_ready(const struct ps_sandbox *sb)
{
        return !sb->dead && !sb->exited && sb->task && sb->task->init->state == PS_PROC_RUNNING;
}

bool ps_sandbox_ended(const struct ps_sandbox *sb)
{
        return sb->dead || (sb->exited && !ps_sandbox_members_pending(sb));
}

pid_t ps_sandbox_pid(const struct ps_sandbox *sb)
{
        return sb->task && !sb->exited ? sb->task->init->pid : 0;
}

/* ---- create ----------------------------------------------------------- */

/* CRI never lowers a pod's oom_score_adj below containerd's own
 * (restrict_oom_score_adj); the shim's is containerd's + 1. */
static int own_oom_score_adj(void)
{
        _cleanup_free_ char *buf = NULL;

        if (ps_read_file("/proc/self/oom_score_adj", 32, &buf, NULL, NULL) < 0)
                return 0;
        return atoi(buf);
}

int ps_sandboxes_create_pod(struct ps_sandboxes *s, const struct ps_pod_request *req, ps_op_fn done,
                            void *data, struct ps_err **err)
{
        _cleanup_spec_ struct ps_spec *spec = NULL;
        struct ps_options opts = {0};
        struct ps_create_request cr;
        struct ps_sandbox *sb;
        const char *netns = req->netns_path && *req->netns_path ? req->netns_path : NULL;
        _cleanup_close_ int userns_fd = -1;
        char userns_path[64] = "";
        bool vm;
        int r;

        if (ps_task_check_bundle(req->id, req->bundle, err) < 0)
                return ps_err_prefix(err, "sandbox");
        if (ps_sandboxes_find(s, req->id) || ps_tasks_find(&s->tasks, req->id))
                return ps_err_set(err, PS_ALREADY_EXISTS, "sandbox %s: already exists", req->id);
        if (!req->config)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "sandbox %s: no pod config", req->id);
        if (req->config->has_userns && req->config->userns == PS_POD_NS_POD && netns) {
                /* containerd made the pod's network namespace inside the
                 * pod's user namespace: the infra process joins that one,
                 * named through the shim's fd while the pod lives */
                userns_fd = ps_userns_owner_of(netns, err);
                if (userns_fd < 0)
                        return ps_err_prefix(err, "sandbox %s: user namespace", req->id);
                snprintf(userns_path, sizeof(userns_path), "/proc/%d/fd/%d", (int)getpid(),
                         userns_fd);
        }
        if (ps_pod_spec_build(req->id, netns, userns_fd >= 0 ? userns_path : NULL, req->config,
                              own_oom_score_adj(), &spec, err) < 0)
                return ps_err_prefix(err, "sandbox %s", req->id);
        if ((req->options ? ps_options_copy(&opts, req->options, err)
             : s->profile ? ps_options_profile_defaults(s->profile, &opts, err)
                          : ps_options_defaults(&opts, err)) < 0)
                return -1;
        /* the cgroup driver CRI's cgroups path implies (pod_spec.h) */
        opts.systemd_cgroup = ps_pod_cgroup_parent_is_slice(req->config->cgroup_parent);
        vm = opts.backend && strcmp(opts.backend, PS_BACKEND_VM) == 0;
        sb = ps_sandbox_new(s, req->id, err);
        if (!sb) {
                ps_options_clear(&opts);
                return -1;
        }
        sb->api = true;
        sb->vm = vm;
        sb->spec = TAKE_PTR(spec); /* read by the backend during the create */
        sb->userns_fd = TAKE_FD(userns_fd);
        if (ps_pod_files_create(&sb->files, req->bundle, req->config, err) < 0) {
                ps_sandbox_drop_unborn(s, req->id);
                ps_options_clear(&opts);
                return ps_err_prefix(err, "sandbox %s", req->id);
        }
        cr = (struct ps_create_request){.id = req->id,
                                        .bundle = req->bundle,
                                        .rootfs = req->rootfs,
                                        .n_rootfs = req->n_rootfs,
                                        .options = &opts,
                                        .spec = sb->spec};
        /* On the vm backend the own task is the VM, booted here: CreateSandbox
         * answers once its agent said Hello (docs/vm-backend.md) */
        if (vm)
                r = ps_container_create(&s->tasks, &cr, &ps_vm_pod_ops, &s->vm, sb, done, data,
                                        err);
        else
                r = ps_container_create(&s->tasks, &cr, s->pod_ops, s->be_ctx, sb, done, data, err);
        if (r < 0)
                ps_sandbox_drop_unborn(s, req->id);
        ps_options_clear(&opts);
        return r;
}

int ps_sandbox_start(struct ps_sandbox *sb, ps_op_fn done, void *data, struct ps_err **err)
{
        if (!sb->api)
                return refuse_task_born(sb, "start", err);
        if (!sb->task)
                return ps_err_set(err, PS_NOT_FOUND, "sandbox %s: not found", sb->id);
        return ps_process_start(sb->task->init, done, data, err);
}

/* ---- waiting for the end ----------------------------------------------- */

struct ps_sandbox_waiter *ps_sandbox_add_waiter(struct ps_sandbox *sb, ps_sandbox_wait_fn fn,
                                                void *data, struct ps_err **err)
{
        struct ps_sandbox_waiter *w = calloc(1, sizeof(*w));

        if (!w)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "wait"), NULL;
        w->fn = fn;
        w->data = data;
        ps_list_add_tail(&sb->waiters, &w->link);
        return w;
}

void ps_sandbox_remove_waiter(struct ps_sandbox_waiter *w)
{
        ps_list_remove(&w->link);
        free(w);
}

static void kill_done(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        if (err)
                ps_log_debug("kill: %s", ps_err_msg(err));
        ps_err_free(err);
}

/* `sig` to the infra process, if it may still exit; the pod's end
 * (sandbox.c's teardown) follows from its exit. */
static void signal_infra(struct ps_sandbox *sb, int sig)
{
        struct ps_process *p = sb->task ? sb->task->init : NULL;
        _cleanup_err_ struct ps_err *e = NULL;

        if (!p || !(p->state == PS_PROC_CREATED || ps_process_live(p)))
                return;
        if (ps_process_kill(p, (unsigned)sig, false, kill_done, NULL, &e) < 0)
                ps_log_warn("sandbox %s: signal %d to the infra process: %s", sb->id, sig,
                            ps_err_msg(e));
}

static void kill_infra(struct ps_sandbox *sb)
{
        signal_infra(sb, SIGKILL);
}

/* The pod's own task, once no member is left to stop, with its backend's
 * signal for that (task/backend.h pod_stop_signal): a Linux pod's infra
 * process is SIGKILLed; a VM pod's SIGTERM is the VM's orderly end. */
static void stop_infra(struct ps_sandbox *sb)
{
        int sig = sb->task && sb->task->be ? sb->task->be->pod_stop_signal : 0;

        signal_infra(sb, sig ? sig : SIGKILL);
}

/* The backend of sb's own task has its members killed before it (task/
 * backend.h pod_kills_members_first). */
static bool kills_members_first(const struct ps_sandbox *sb)
{
        return sb->task && sb->task->be && sb->task->be->pod_kills_members_first;
}

/* ---- stop ---------------------------------------------------------------- */

/* Members SIGKILLed through their backend (a VM pod's, through its agent)
 * report their exits in milliseconds; when one does not by then, the own
 * task (QEMU) is killed. */
#define MEMBERS_KILL_MS 3000

struct stop_op {
        struct ps_list link; /* in sb->stops during the grace period */
        struct ps_sandbox *sb;
        struct event *timer;
        bool killing; /* the members were SIGKILLed first: the timer is the own task's */
        ps_op_fn done;
        void *data;
};

static void grace_end(struct stop_op *op)
{
        ps_list_remove(&op->link);
        if (op->timer)
                evtimer_del(op->timer);
}

static void stop_ended(void *data, struct ps_sandbox *sb)
{
        struct stop_op *op = data;
        ps_op_fn done = op->done;
        void *done_data = op->data;

        grace_end(op);
        if (op->timer)
                event_free(op->timer);
        free(op);
        done(done_data, NULL, &(struct ps_op_result){0});
        ps_sandbox_unhold(sb);
}

static void signal_members(struct ps_sandbox *sb, int sig);

/* Members killed first are killed where they run (a VM pod's through its
 * agent), so that their exits are their own (137 from the guest, as a Linux
 * pod's members get from their infra's teardown); the own task goes once
 * they are gone (ps_sandbox_members_gone), killed if they are not by
 * MEMBERS_KILL_MS. */
static void kill_members_first(struct stop_op *op)
{
        struct timeval tv = {.tv_sec = MEMBERS_KILL_MS / 1000,
                             .tv_usec = MEMBERS_KILL_MS % 1000 * 1000};

        op->killing = true;
        if (evtimer_add(op->timer, &tv) < 0) {
                grace_end(op);
                kill_infra(op->sb);
                return;
        }
        signal_members(op->sb, SIGKILL);
}

static void grace_over(evutil_socket_t fd, short what, void *arg)
{
        struct stop_op *op = arg;

        if (kills_members_first(op->sb) && !op->killing) {
                ps_log_info("sandbox %s: grace period over, killing its containers", op->sb->id);
                kill_members_first(op);
                return;
        }
        ps_log_info("sandbox %s: %s, killing the pod", op->sb->id,
                    op->killing ? "its containers did not exit" : "grace period over");
        grace_end(op);
        kill_infra(op->sb);
}

static void end_graces(struct ps_sandbox *sb)
{
        struct stop_op *op;

        while ((op = ps_list_first(&sb->stops, struct stop_op, link)))
                grace_end(op);
}

void ps_sandbox_end_graces(struct ps_sandbox *sb)
{
        end_graces(sb);
        kill_infra(sb);
}

void ps_sandbox_members_gone(struct ps_sandbox *sb)
{
        end_graces(sb);
        stop_infra(sb);
}

static void signal_members(struct ps_sandbox *sb, int sig)
{
        struct ps_tasks *t = &sb->reg->tasks;
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &t->containers)
        {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                _cleanup_err_ struct ps_err *e = NULL;

                if (!ps_sandbox_is_member(sb, c) || !ps_sandbox_member_pending(c))
                        continue;
                if (ps_process_kill(c->init, (unsigned)sig, true, kill_done, NULL, &e) < 0)
                        ps_log_debug("sandbox %s: signal %d to %s: %s", sb->id, sig, c->id,
                                     ps_err_msg(e));
        }
}

int ps_sandbox_stop(struct ps_sandbox *sb, unsigned timeout_secs, ps_op_fn done, void *data,
                    struct ps_err **err)
{
        struct stop_op *op;
        bool pending = sb->reg->base && ps_sandbox_members_pending(sb);
        /* members killed first are, without a grace period too */
        bool grace = pending && (timeout_secs || kills_members_first(sb));

        if (check_api(sb, "stop", err) < 0)
                return -1;
        if (ps_sandbox_ended(sb))
                return 1;
        op = calloc(1, sizeof(*op));
        if (!op)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "stop sandbox %s", sb->id);
        *op = (struct stop_op){.sb = sb, .done = done, .data = data};
        ps_list_init(&op->link);
        if (grace) {
                struct timeval tv = {.tv_sec = timeout_secs};

                op->timer = evtimer_new(sb->reg->base, grace_over, op);
                if (!op->timer || (timeout_secs && evtimer_add(op->timer, &tv) < 0)) {
                        if (op->timer)
                                event_free(op->timer);
                        free(op);
                        return ps_err_set(err, PS_INTERNAL, "stop sandbox %s: timer", sb->id);
                }
        }
        if (!ps_sandbox_add_waiter(sb, stop_ended, op, err)) {
                if (op->timer)
                        event_free(op->timer);
                free(op);
                return -1;
        }
        sb->holds++;
        if (grace) {
                ps_list_add_tail(&sb->stops, &op->link);
                if (timeout_secs)
                        signal_members(sb, SIGTERM);
                else
                        kill_members_first(op);
        } else {
                stop_infra(sb);
        }
        /* Everything may have ended already (members gone at once). */
        ps_sandbox_check(sb);
        return 0;
}

/* ---- shutdown ---------------------------------------------------------- */

struct shutdown_op {
        struct ps_sandbox *sb;
        unsigned pending; /* member deletes in flight, + 1 while they are issued */
        ps_op_fn done;
        void *data;
};

static void shutdown_finish(struct shutdown_op *op, struct ps_err *e)
{
        struct ps_sandbox *sb = op->sb;
        ps_op_fn done = op->done;
        void *data = op->data;

        free(op);
        sb->shutting_down = false;
        if (e)
                done(data, e, NULL);
        else
                done(data, NULL, &(struct ps_op_result){0});
        ps_sandbox_unhold(sb);
}

static void own_deleted(void *data, struct ps_err *e, const struct ps_op_result *res)
{
        shutdown_finish(data, e);
}

static void delete_own(struct shutdown_op *op)
{
        struct ps_sandbox *sb = op->sb;
        struct ps_err *e = NULL;

        if (sb->dead || !sb->task) {
                shutdown_finish(op, NULL);
                return;
        }
        if (ps_process_delete(sb->task->init, own_deleted, op, &e) < 0)
                shutdown_finish(op, e);
}

static void member_deleted(void *data, struct ps_err *e, const struct ps_op_result *res)
{
        struct shutdown_op *op = data;

        if (e)
                ps_log_warn("sandbox %s: delete member: %s", op->sb->id, ps_err_msg(e));
        ps_err_free(e);
        if (--op->pending == 0)
                delete_own(op);
}

/* The pod has ended: what containerd left registered of it goes, its own
 * task last (which frees the sandbox). */
static void delete_all(struct shutdown_op *op)
{
        struct ps_sandbox *sb = op->sb;
        struct ps_tasks *t = &sb->reg->tasks;
        struct ps_list *pos, *tmp;

        if (sb->dead) {
                shutdown_finish(op, NULL);
                return;
        }
        op->pending = 1;
        ps_list_for_each_safe(pos, tmp, &t->containers)
        {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                _cleanup_err_ struct ps_err *e = NULL;

                if (!ps_sandbox_is_member(sb, c) || c->init->state != PS_PROC_STOPPED)
                        continue;
                op->pending++;
                if (ps_process_delete(c->init, member_deleted, op, &e) < 0) {
                        op->pending--;
                        ps_log_warn("sandbox %s: member %s stays: %s", sb->id, c->id,
                                    ps_err_msg(e));
                }
        }
        if (--op->pending == 0)
                delete_own(op);
}

static void delete_all_later(evutil_socket_t fd, short what, void *arg)
{
        delete_all(arg);
}

/* The end is seen from inside the task core's exit handling (an exit hook):
 * the deletes, which free containers, run from the loop instead. */
static void shutdown_ended(void *data, struct ps_sandbox *sb)
{
        struct shutdown_op *op = data;
        struct timeval now = {0, 0};

        if (sb->dead || !sb->reg->base ||
            event_base_once(sb->reg->base, -1, EV_TIMEOUT, delete_all_later, op, &now) < 0)
                delete_all(op);
}

int ps_sandbox_shutdown(struct ps_sandbox *sb, ps_op_fn done, void *data, struct ps_err **err)
{
        struct shutdown_op *op;

        if (check_api(sb, "shut down", err) < 0)
                return -1;
        if (sb->shutting_down)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "sandbox %s is already shutting down: failed precondition",
                                  sb->id);
        op = calloc(1, sizeof(*op));
        if (!op)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "shut down sandbox %s", sb->id);
        *op = (struct shutdown_op){.sb = sb, .done = done, .data = data};
        if (!ps_sandbox_add_waiter(sb, shutdown_ended, op, err)) {
                free(op);
                return -1;
        }
        sb->holds++;
        sb->shutting_down = true;
        ps_sandbox_end_graces(sb); /* kills the infra process */
        ps_sandbox_check(sb);
        return 0;
}

/* ---- metrics ----------------------------------------------------------- */

int ps_sandbox_metrics(struct ps_sandbox *sb, struct ps_metrics *ret, struct ps_err **err)
{
        if (!sb->task)
                return ps_err_set(err, PS_NOT_FOUND, "sandbox %s: not found", sb->id);
        return ps_container_stats(sb->task, ret, err);
}
