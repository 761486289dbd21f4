/* What both Linux op sets share: per-object state, supervision of a pid
 * (pidfd + reaper), stdio operations, the cgroup a container lives in. */
#include "sandbox/linux/linux.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "cgroup/oom.h"
#include "cgroup/paths.h"
#include "core/reaper.h"
#include "sandbox/linux/members.h"
#include "sandbox/linux/mount.h"
#include "sandbox/linux/stdio.h"

void ps_linux_init(struct ps_linux *lx, struct event_base *base, struct ps_reaper *reaper,
                   const char *ns, const char *tmp_dir)
{
        *lx = (struct ps_linux){.base = base, .reaper = reaper, .ns = ns, .tmp_dir = tmp_dir};
        ps_list_init(&lx->cgroup_removals);
}

int ps_linux_process_new(struct ps_process *p, struct ps_err **err)
{
        struct ps_linux_process *lp = calloc(1, sizeof(*lp));

        if (!lp)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "process state");
        lp->pidfd = -1;
        p->impl = lp;
        return 0;
}

int ps_linux_container_new(struct ps_container *c, const struct ps_options *opts,
                           struct ps_err **err)
{
        struct ps_linux_container *lc = calloc(1, sizeof(*lc));

        if (!lc)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "container state");
        c->impl = lc;
        lc->lx = c->be_ctx;
        if (ps_options_copy(&lc->opts, opts, err) < 0 || ps_linux_process_new(c->init, err) < 0)
                return -1;
        lc->rt = (struct ps_runtime){.base = lc->lx->base,
                                     .reaper = lc->lx->reaper,
                                     .opts = &lc->opts,
                                     .ns = lc->lx->ns,
                                     .bundle = c->bundle};
        return 0;
}

static void process_exited(void *data, pid_t pid, int wait_status)
{
        struct ps_process *p = data;

        lx_process(p)->watched = 0;
        ps_task_process_exited(p, ps_exit_code(wait_status));
}

int ps_linux_supervise(struct ps_process *p, pid_t pid, struct ps_err **err)
{
        struct ps_linux_process *lp = lx_process(p);
        struct ps_linux *lx = p->c->be_ctx;

        if (ps_reaper_watch(lx->reaper, pid, process_exited, p, err) < 0)
                return -1;
        lp->watched = pid;
        ps_close(lp->pidfd);
        /* A pidfd pins the process identity: a signal can never reach a
         * recycled pid. Kernels before 5.3 lack it; kill() is the fallback. */
        lp->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        return 0;
}

int ps_linux_signal_process(struct ps_process *p, int sig, struct ps_err **err)
{
        struct ps_linux_process *lp = lx_process(p);
        int r;

        if (p->pid <= 0)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "process not created: failed precondition");
        if (lp && lp->pidfd >= 0)
                r = (int)syscall(SYS_pidfd_send_signal, lp->pidfd, sig, NULL, 0);
        else
                r = kill(p->pid, sig);
        if (r < 0 && errno == ESRCH)
                return ps_err_set(err, PS_NOT_FOUND, "process already finished: not found");
        if (r < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "signal %d to pid %d", sig, p->pid);
        return 0;
}

static void on_oom(void *data)
{
        ps_task_oom(data);
}

void ps_linux_watch_cgroup(struct ps_container *c)
{
        struct ps_linux_container *lc = lx_container(c);
        _cleanup_err_ struct ps_err *e = NULL;

        /* Resolved while the init surely lives, so that the metrics stay
         * readable after it exits, until the runtime deletes the cgroup (as
         * with runc-v2); a pod's are known already (its pod cgroup). */
        if (!lc->cgroup && ps_cgroup_paths_of(c->init->pid, &lc->cgroup, &e) < 0) {
                ps_log_debug("%s: cgroup not resolved: %s", c->id, ps_err_msg(e));
                e = ps_err_free(e);
        }
        /* A task without a memory cgroup of its own still runs. */
        lc->oom = lc->cgroup ? ps_oom_watch_new_at(lc->lx->base, lc->cgroup, on_oom, c, &e) : NULL;
        if (!lc->oom)
                ps_log_debug("%s: no OOM watch: %s", c->id, ps_err_msg(e));
}

void ps_linux_process_free(struct ps_process *p)
{
        struct ps_linux_process *lp = lx_process(p);
        struct ps_linux *lx = p->c->be_ctx;

        if (!lp)
                return;
        if (lp->watched > 0)
                ps_reaper_unwatch(lx->reaper, lp->watched);
        ps_stdio_free(lp->stdio);
        ps_close(lp->pidfd);
        free(lp);
        p->impl = NULL;
}

void ps_linux_container_free(struct ps_container *c)
{
        struct ps_linux_container *lc = lx_container(c);
        _cleanup_err_ struct ps_err *e = NULL, *forget = NULL;

        if (!lc)
                return;
        ps_oom_watch_free(lc->oom);
        if (lc->rootfs_mounted) {
                _cleanup_free_ char *rootfs = NULL;
                if (asprintf(&rootfs, "%s/rootfs", c->bundle) >= 0 &&
                    ps_unmount_all(rootfs, &e) < 0)
                        ps_log_warn("%s: %s", c->id, ps_err_msg(e));
        }
        ps_cgroup_paths_free(lc->cgroup);
        /* A container the runtime may still hold (a failed delete, the
         * shim exiting under it) keeps its record for the pod's action. */
        if (lc->pod_bundle && !lc->runtime_has_it &&
            ps_members_forget(lc->pod_bundle, c->id, &forget) < 0)
                ps_log_warn("%s: %s", c->id, ps_err_msg(forget));
        free(lc->pod_bundle);
        ps_options_clear(&lc->opts);
        free(lc);
        c->impl = NULL;
}

int ps_linux_resize(struct ps_process *p, uint32_t width, uint32_t height, struct ps_err **err)
{
        struct ps_linux_process *lp = lx_process(p);

        /* Without a terminal there is nothing to resize (runc-v2: no-op). */
        return lp && lp->stdio ? ps_stdio_resize(lp->stdio, width, height, err) : 0;
}

void ps_linux_close_stdin(struct ps_process *p)
{
        struct ps_linux_process *lp = lx_process(p);

        if (lp && lp->stdio)
                ps_stdio_close_stdin(lp->stdio);
}

/* Output written right before the exit is still in the pipes; keep
 * relaying until every writer is gone, bounded so a leftover child holding
 * the pipe cannot stall Delete. */
#define DRAIN_TIMEOUT_MS 2000

void ps_linux_drain(struct ps_process *p, void (*done)(void *data), void *data)
{
        struct ps_linux_process *lp = lx_process(p);

        if (lp && lp->stdio)
                ps_stdio_drain(lp->stdio, DRAIN_TIMEOUT_MS, done, data);
        else
                done(data);
}
