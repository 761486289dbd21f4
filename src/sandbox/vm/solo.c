#include "sandbox/vm/solo.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "sandbox/vm/container.h"
#include "sandbox/vm/pod.h"
#include "sandbox/vm/vm.h"
#include "task/container.h"

struct solo {
        struct ps_container *c;
        struct ps_vm_pod *pod;
        struct event *ev_finish; /* answers `done` from the loop, never nested */
        bool gone;               /* QEMU has been reaped */
        /* The create until it succeeded; once it failed (err set) it is
         * answered when QEMU is gone. */
        ps_backend_fn create_done;
        void *create_data;
        struct ps_err *err;
        /* A delete: the member's (in the guest) first, then, once that is
         * done (`shutting`), the VM's. */
        ps_backend_fn delete_done;
        void *delete_data;
        bool shutting;
};

static void solo_release(struct solo *s)
{
        if (!s)
                return;
        if (s->ev_finish)
                event_free(s->ev_finish);
        ps_err_free(s->err);
        free(s);
}

static struct solo *solo_of(const struct ps_container *c)
{
        const struct ps_vm_member *m = c->impl;

        return m && m->pod ? m->pod->gone_data : NULL;
}

static void finish_soon(struct solo *s)
{
        struct timeval now = {0};

        evtimer_add(s->ev_finish, &now);
}

/* QEMU is gone: whatever waited for it is answered (from the loop: this
 * runs inside the VM's exit handling). */
static void on_gone(void *data)
{
        struct solo *s = data;

        s->gone = true;
        if (s->shutting || (s->create_done && s->err))
                finish_soon(s);
}

static void on_finish(evutil_socket_t fd, short what, void *arg)
{
        struct solo *s = arg;
        struct ps_backend_result res = {0};
        ps_backend_fn done = s->create_done;
        void *data = s->create_data;
        struct ps_err *err = s->err;
        struct ps_container *c = s->c;

        if (s->shutting) {
                s->shutting = false;
                s->delete_done(s->delete_data, NULL, &res); /* the task core frees c */
                return;
        }
        if (!done || !err)
                return;
        /* A failed create: the task core frees c without a member, so
         * everything goes here, QEMU being gone already. */
        s->err = NULL;
        if (c->impl)
                ps_vm_container_ops.container_free(c);
        ps_vm_pod_free(s->pod);
        solo_release(s);
        done(data, err, NULL); /* err is done's */
}

/* The create failed (takes err): it is answered once nothing of the VM is
 * left. */
static void create_failed(struct solo *s, struct ps_err *err)
{
        s->err = err;
        if (s->gone)
                finish_soon(s);
        else
                ps_vm_kill(s->pod->vm, SIGKILL, NULL); /* may be dying already */
}

static void on_created(void *data, struct ps_err *err, const struct ps_backend_result *res)
{
        struct solo *s = data;
        ps_backend_fn done = s->create_done;

        if (err) {
                create_failed(s, err);
                return;
        }
        s->create_done = NULL;
        done(s->create_data, NULL, res);
}

static int solo_create(struct ps_container *c, const struct ps_create_request *req,
                       ps_backend_fn done, void *data, struct ps_err **err)
{
        struct ps_vm_backend *be = c->be_ctx;
        _cleanup_err_ struct ps_err *e = NULL;
        struct solo *s = calloc(1, sizeof(*s));

        if (!s)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "%s", c->id);
        s->c = c;
        s->ev_finish = evtimer_new(be->base, on_finish, s);
        if (!s->ev_finish) {
                solo_release(s);
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "%s: timers", c->id);
        }
        s->pod = ps_vm_pod_boot(be, c, req, true, err);
        if (!s->pod) {
                solo_release(s);
                return -1;
        }
        s->pod->gone = on_gone;
        s->pod->gone_data = s;
        s->create_done = done;
        s->create_data = data;
        /* From here on a failure is answered once QEMU is gone. */
        if (ps_vm_member_create(s->pod, c, req, on_created, s, &e) < 0)
                create_failed(s, TAKE_PTR(e));
        return 0;
}

static void on_member_deleted(void *data, struct ps_err *err, const struct ps_backend_result *res)
{
        struct solo *s = data;
        _cleanup_err_ struct ps_err *e = NULL;

        if (err) {
                /* the VM stays: a Delete may be tried again */
                s->delete_done(s->delete_data, err, NULL);
                return;
        }
        s->shutting = true;
        if (s->gone) {
                finish_soon(s);
                return;
        }
        /* QEMU's exit answers (on_gone), killed if it takes too long */
        if (ps_vm_pod_shutdown(s->pod, &e) < 0)
                ps_log_debug("%s: vm shutdown: %s", s->c->id, ps_err_msg(e));
}

static int solo_delete(struct ps_container *c, bool force, ps_backend_fn done, void *data,
                       struct ps_err **err)
{
        struct solo *s = solo_of(c);
        struct ps_backend_result res = {0};

        if (!s) {
                done(data, NULL, &res); /* its create never got as far */
                return 0;
        }
        s->delete_done = done;
        s->delete_data = data;
        return ps_vm_container_ops.delete(c, force, on_member_deleted, s, err);
}

static void solo_free(struct ps_container *c)
{
        struct solo *s = solo_of(c);

        ps_vm_container_ops.container_free(c);
        if (!s)
                return;
        ps_vm_pod_free(s->pod); /* SIGKILLs a QEMU still running (the shim is going) */
        solo_release(s);
}

/* ---- the rest is the member's ------------------------------------------- */

static int solo_start(struct ps_container *c, ps_backend_fn done, void *data, struct ps_err **err)
{
        return ps_vm_container_ops.start(c, done, data, err);
}

static int solo_signal(struct ps_process *p, int sig, bool all, ps_backend_fn done, void *data,
                       struct ps_err **err)
{
        return ps_vm_container_ops.signal(p, sig, all, done, data, err);
}

static int solo_pids(struct ps_container *c, ps_backend_pids_fn done, void *data,
                     struct ps_err **err)
{
        return ps_vm_container_ops.pids(c, done, data, err);
}

static int solo_stats(struct ps_container *c, ps_backend_stats_fn done, void *data,
                      struct ps_err **err)
{
        return ps_vm_container_ops.stats_async(c, done, data, err);
}

static int solo_resize(struct ps_process *p, uint32_t w, uint32_t h, ps_backend_fn done, void *data,
                       struct ps_err **err)
{
        return ps_vm_container_ops.resize_async(p, w, h, done, data, err);
}

static void solo_close_stdin(struct ps_process *p)
{
        ps_vm_container_ops.close_stdin(p);
}

static void solo_drain(struct ps_process *p, void (*done)(void *data), void *data)
{
        ps_vm_container_ops.drain(p, done, data);
}

static void solo_process_free(struct ps_process *p)
{
        ps_vm_container_ops.process_free(p);
}

const struct ps_backend_ops ps_vm_solo_ops = {
    .name = "vm container",
    .create = solo_create,
    .start = solo_start,
    .signal = solo_signal,
    .delete = solo_delete,
    .pids = solo_pids,
    .stats_async = solo_stats,
    .resize_async = solo_resize,
    .close_stdin = solo_close_stdin,
    .drain = solo_drain,
    .process_free = solo_process_free,
    .container_free = solo_free,
};
