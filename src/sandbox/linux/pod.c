/* A pod's sandbox task on the Linux backend (containerd's podsandbox mode):
 * no OCI runtime; its init is the shim's own pause-less infra process
 * (infra_process.h) in the pod cgroup, its Stats are the pod's. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "base/backoff.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "cgroup/pod.h"
#include "cgroup/record.h"
#include "cgroup/stats.h"
#include "net/netns.h"
#include "oci/spec.h"
#include "sandbox/linux/infra_process.h"
#include "sandbox/linux/linux.h"

static int place_in_cgroup(void *data, pid_t pid, struct ps_err **err)
{
        struct ps_linux_container *lc = data;

        return lc->pod_cgroup ? ps_pod_cgroup_attach(lc->pod_cgroup, pid, err) : 0;
}

static void claim_pending_removal(struct ps_linux *lx, struct ps_pod_cgroup *cg);

char *ps_linux_pod_cgroup_record(const char *bundle)
{
        char *p;

        return asprintf(&p, "%s/%s", bundle, PS_LINUX_POD_CGROUP_RECORD) < 0 ? NULL : p;
}

static int make_cgroup(struct ps_container *c, const struct ps_spec *spec, struct ps_err **err)
{
        _cleanup_free_ char *record = NULL;
        struct ps_linux_container *lc = lx_container(c);
        const struct ps_spec_resources *res = &spec->resources;

        if (!spec->cgroups_path)
                return 0;
        lc->pod_cgroup = ps_pod_cgroup_create(spec->cgroups_path, lc->opts.systemd_cgroup, err);
        if (!lc->pod_cgroup)
                return ps_err_prefix(err, "pod cgroup %s", spec->cgroups_path);
        claim_pending_removal(c->be_ctx, lc->pod_cgroup);
        /* before any process is in it: a shim killed from here on leaves
         * the delete action a record of what to remove */
        record = ps_linux_pod_cgroup_record(c->bundle);
        if (!record)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod cgroup record");
        if (ps_cgroup_record_write(record, ps_pod_cgroup_path(lc->pod_cgroup), err) < 0)
                return ps_err_prefix(err, "pod cgroup record");
        return ps_pod_cgroup_set_resources(lc->pod_cgroup, res->cpu_shares, res->cpu_quota,
                                           res->cpu_period, res->memory_limit, err);
}

/* An infra process between its spawn and the end of its setup. */
struct ps_infra_launch {
        struct ps_container *c;
        pid_t pid;
        int report;
        struct event *ev;
        bool new_net;
        ps_backend_fn done;
        void *data;
};

static void launch_free(struct ps_infra_launch *l)
{
        if (!l)
                return;
        if (l->ev)
                event_free(l->ev);
        ps_close(l->report);
        if (lx_container(l->c)->launch == l)
                lx_container(l->c)->launch = NULL;
        free(l);
}

/* The delete action kills the pid in the bundle's init.pid if the shim
 * itself is gone. */
static int write_init_pid(const struct ps_container *c, pid_t pid, struct ps_err **err)
{
        _cleanup_free_ char *pidfile = NULL;
        char buf[32];

        snprintf(buf, sizeof(buf), "%d", pid);
        if (asprintf(&pidfile, "%s/init.pid", c->bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "infra process");
        return ps_write_file_atomic(pidfile, buf, strlen(buf), 0644, err);
}

/* A process that never ran the helper names no pid to kill. */
static void remove_init_pid(const struct ps_container *c)
{
        _cleanup_free_ char *pidfile = NULL;

        if (asprintf(&pidfile, "%s/init.pid", c->bundle) >= 0)
                unlink(pidfile);
}

/* The process runs the helper: adopt it as the container's init. */
static int adopt(struct ps_container *c, pid_t pid, bool new_net, struct ps_err **err)
{
        struct ps_linux_container *lc = lx_container(c);

        if (ps_linux_supervise(c->init, pid, err) < 0)
                return ps_err_prefix(err, "infra process");
        c->init->pid = pid;
        /* A network namespace of our own making: nobody else (no CNI) will
         * bring its loopback up. The handle is kept for Stats (freed with
         * the container, also after a failed create). */
        if (new_net &&
            (!(lc->netns = ps_netns_open(pid, err)) || ps_netns_link_up(lc->netns, "lo", err) < 0))
                return ps_err_prefix(err, "infra process");
        return 0;
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
        struct ps_infra_launch *l = arg;
        struct ps_container *c = l->c;
        struct ps_linux_container *lc;
        ps_backend_fn done = l->done;
        void *data = l->data;
        pid_t pid = l->pid;
        bool new_net = l->new_net;
        struct ps_backend_result res = {.pid = pid};
        struct ps_err *e = NULL;
        int r = ps_infra_report(l->report, pid, &e);

        if (r == 1)
                return; /* spurious wakeup: the report is not there yet */
        launch_free(l);
        if (r == 0 && adopt(c, pid, new_net, &e) < 0) {
                kill(pid, SIGKILL);
                r = -1;
        }
        if (r < 0) {
                remove_init_pid(c);
                done(data, e, NULL);
                return;
        }
        ps_log_debug("%s: infra process %d set up", c->id, pid);
        /* Its cgroups are the pod cgroup's, whose cgroup2 membership on a
         * hybrid host the process may not have made yet. */
        lc = lx_container(c);
        if (lc->pod_cgroup && ps_pod_cgroup_paths(lc->pod_cgroup, &lc->cgroup, &e) < 0)
                e = ps_err_free(e);
        ps_linux_watch_cgroup(c);
        done(data, NULL, &res);
}

static int pod_create(struct ps_container *c, const struct ps_create_request *req,
                      ps_backend_fn done, void *data, struct ps_err **err)
{
        _cleanup_free_ char *helper = ps_infra_helper_path();
        struct ps_linux *lx = c->be_ctx;
        struct ps_linux_container *lc;
        struct ps_infra_launch *l;
        struct ps_infra_spec is;
        struct ps_pod_cgroup_entry entry;

        if (ps_linux_container_new(c, req->options, err) < 0)
                return -1;
        lc = lx_container(c);
        c->private_pid_ns = true; /* nothing to kill but the infra process */
        if (ps_infra_spec_from(req->spec, &is, err) < 0 || make_cgroup(c, req->spec, err) < 0)
                return -1;
        l = calloc(1, sizeof(*l));
        if (!l)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "infra process");
        *l = (struct ps_infra_launch){
            .c = c, .report = -1, .new_net = is.new_net, .done = done, .data = data};
        if (lc->pod_cgroup && ps_pod_cgroup_entry_open(lc->pod_cgroup, &entry, err) < 0) {
                free(l);
                return -1;
        }
        l->pid = ps_infra_spawn(&is, helper, lc->pod_cgroup ? &entry : NULL, place_in_cgroup, lc,
                                &l->report, err);
        if (lc->pod_cgroup)
                ps_pod_cgroup_entry_close(&entry);
        if (l->pid < 0) {
                free(l);
                return -1;
        }
        /* Written while the process sets itself up, on another CPU if
         * there is one: CreateSandbox waits for the slower of the two. */
        if (ps_options_save(c->bundle, &lc->opts, err) < 0 || write_init_pid(c, l->pid, err) < 0) {
                kill(l->pid, SIGKILL); /* its exit goes to the reaper's unclaimed cache */
                remove_init_pid(c);
                launch_free(l);
                return -1;
        }
        l->ev = event_new(lx->base, l->report, EV_READ | EV_PERSIST, on_report, l);
        if (!l->ev || event_add(l->ev, NULL) < 0) {
                kill(l->pid, SIGKILL);
                remove_init_pid(c);
                launch_free(l);
                return ps_err_set(err, PS_INTERNAL, "infra process: event");
        }
        lc->launch = l;
        ps_log_debug("%s: infra process %d (helper %s)", c->id, l->pid, helper ? helper : "inline");
        return 0;
}

static int pod_signal(struct ps_process *p, int sig, bool all, ps_backend_fn done, void *data,
                      struct ps_err **err)
{
        struct ps_backend_result res = {0};

        /* The infra process is the task's only process, `all` or not. */
        if (ps_linux_signal_process(p, sig, err) < 0)
                return -1;
        done(data, NULL, &res);
        return 0;
}

/* No runtime state: the pod cgroup goes with the container (pod_free). */
static int pod_delete(struct ps_container *c, bool force, ps_backend_fn done, void *data,
                      struct ps_err **err)
{
        struct ps_backend_result res = {0};

        if (force && !ps_process_exited(c->init))
                ps_linux_signal_process(c->init, SIGKILL, NULL);
        done(data, NULL, &res);
        return 0;
}

static int pod_pids(struct ps_container *c, ps_backend_pids_fn done, void *data,
                    struct ps_err **err)
{
        pid_t self = c->init->pid;

        /* the infra process is the pod's only process */
        done(data, NULL, &self, ps_process_exited(c->init) ? 0 : 1);
        return 0;
}

/* Stats of the pod: the infra process's cgroup metrics plus, on cgroup v1,
 * the interface statistics of the pod network namespace (only containerd's
 * v1 Metrics message has a network field: api/metrics.h). */
static int pod_stats(struct ps_container *c, struct ps_metrics *ret, struct ps_err **err)
{
        struct ps_linux_container *lc = lx_container(c);
        _cleanup_(ps_metrics_clear) struct ps_metrics m = {0};

        if ((lc->cgroup ? ps_cgroup_stats_of(lc->cgroup, &m.cgroup, err)
                        : ps_cgroup_stats(c->init->pid, &m.cgroup, err)) < 0)
                return -1;
        /* The namespace is gone with an exited infra process. */
        if (m.cgroup.version == PS_CGROUP_METRICS_V1 && !ps_process_exited(c->init)) {
                /* Opened once per pod: see net/netns.h. */
                if ((!lc->netns && !(lc->netns = ps_netns_open(c->init->pid, err))) ||
                    ps_netns_link_stats(lc->netns, &m.links, &m.n_links, err) < 0)
                        return -1;
        }
        *ret = m;
        m = (struct ps_metrics){0}; /* moved */
        return 0;
}

static int pod_resize(struct ps_process *p, uint32_t w, uint32_t h, struct ps_err **err)
{
        return 0; /* no terminal */
}

static void pod_close_stdin(struct ps_process *p)
{
}

static void pod_free(struct ps_container *c)
{
        struct ps_linux_container *lc = lx_container(c);

        if (!lc)
                return;
        if (lc->launch) { /* freed while it was being set up */
                kill(lc->launch->pid, SIGKILL);
                launch_free(lc->launch);
        }
        if (lc->pod_cgroup)
                ps_linux_remove_pod_cgroup(lc->lx, TAKE_PTR(lc->pod_cgroup),
                                           ps_linux_pod_cgroup_record(c->bundle));
        lc->netns = ps_netns_free(lc->netns);
        ps_linux_container_free(c);
}

const struct ps_backend_ops ps_linux_pod_ops = {
    .name = "pod infra",
    .create = pod_create,
    .start = ps_backend_start_running_init, /* it runs from Create on */
    .signal = pod_signal,
    .delete = pod_delete,
    .pids = pod_pids,
    .stats = pod_stats,
    .resize = pod_resize,
    .close_stdin = pod_close_stdin,
    .drain = ps_linux_drain,
    .process_free = ps_linux_process_free,
    .container_free = pod_free,
};

/* ---- the pod cgroup's removal -------------------------------------------- */

/* The removal of a deleted pod's cgroup, which outlives the infra task:
 * the kernel keeps a cgroup busy (EBUSY) for a moment after its last
 * process left, and the event loop must not sleep that moment away. */
struct cgroup_removal {
        struct ps_list link; /* in lx->cgroup_removals */
        struct ps_pod_cgroup *cg;
        char *record; /* cg's record, dropped once cg is gone; may be NULL */
        struct event *timer;
        struct ps_backoff backoff; /* 1, 2, 4 ... 512 ms */
};

/* 1, 2, 4 ... 512 ms: about a second in all, then it is left (logged). */
#define REMOVAL_TRIES  10
#define REMOVAL_MAX_MS 512

static void removal_free(struct cgroup_removal *r)
{
        ps_list_remove(&r->link);
        if (r->timer)
                event_free(r->timer);
        ps_pod_cgroup_free(r->cg);
        free(r->record);
        free(r);
}

/* 1: not done, try later; 0: done, or given up (logged). Busy and "still
 * has processes" both clear by themselves in milliseconds (an infra process
 * killed after a failed create is reaped, the kernel lets go of the
 * cgroup), so every failure is retried within the bound. */
static int removal_try(struct cgroup_removal *r)
{
        _cleanup_err_ struct ps_err *e = NULL;
        int rc = ps_pod_cgroup_remove(r->cg, &e);

        if (rc == 0) {
                if (r->record)
                        ps_cgroup_record_drop(r->record);
                return 0;
        }
        if (r->backoff.tries + 1 < REMOVAL_TRIES)
                return 1;
        /* the record stays: a delete action may still remove it */
        ps_log_warn("pod cgroup %s: left in place after %u tries: %s", ps_pod_cgroup_path(r->cg),
                    r->backoff.tries + 1, rc < 0 ? ps_err_msg(e) : "still busy");
        return 0;
}

static void removal_arm(struct cgroup_removal *r)
{
        struct timeval tv = ps_ms_timeval(ps_backoff_next(&r->backoff));

        evtimer_add(r->timer, &tv);
}

static void removal_retry(evutil_socket_t fd, short what, void *data)
{
        struct cgroup_removal *r = data;

        if (removal_try(r))
                removal_arm(r);
        else
                removal_free(r);
}

void ps_linux_remove_pod_cgroup(struct ps_linux *lx, struct ps_pod_cgroup *cg, char *record)
{
        struct cgroup_removal *r = calloc(1, sizeof(*r));

        if (!r) {
                ps_log_warn("pod cgroup %s: out of memory, left in place", ps_pod_cgroup_path(cg));
                ps_pod_cgroup_free(cg);
                free(record);
                return;
        }
        r->cg = cg;
        r->record = record;
        r->backoff = (struct ps_backoff){.min_ms = 1, .max_ms = REMOVAL_MAX_MS};
        ps_list_add_tail(&lx->cgroup_removals, &r->link);
        if (!removal_try(r)) {
                removal_free(r);
                return;
        }
        r->timer = evtimer_new(lx->base, removal_retry, r);
        if (!r->timer) {
                ps_log_warn("pod cgroup %s: no timer, left in place", ps_pod_cgroup_path(cg));
                removal_free(r);
                return;
        }
        removal_arm(r);
}

/* A pod made again on the cgroups path of one whose cgroup is still being
 * removed (a failed create retried at once with the same id): that removal
 * stops, or its next try would take the new pod's cgroup away (rmdir works
 * until the new infra process is in it, and it enters it by itself, later),
 * and the new handle removes what the old one made. */
static void claim_pending_removal(struct ps_linux *lx, struct ps_pod_cgroup *cg)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &lx->cgroup_removals)
        {
                struct cgroup_removal *r = ps_list_entry(pos, struct cgroup_removal, link);

                if (strcmp(ps_pod_cgroup_path(r->cg), ps_pod_cgroup_path(cg)) != 0)
                        continue;
                ps_pod_cgroup_inherit(cg, r->cg);
                removal_free(r);
        }
}

void ps_linux_fini(struct ps_linux *lx)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &lx->cgroup_removals)
        {
                struct cgroup_removal *r = ps_list_entry(pos, struct cgroup_removal, link);

                /* The shim is exiting and serves nobody any more: a short
                 * bounded wait is better than a leaked cgroup. */
                while (removal_try(r))
                        ps_sleep_ms(ps_backoff_next(&r->backoff));
                removal_free(r);
        }
}
