#include "task/infra_task.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "cgroup/pod.h"
#include "cgroup/stats.h"
#include "net/metrics.h"
#include "net/netns.h"
#include "sandbox/linux/infra_process.h"
#include "core/reaper.h"

bool ps_infra_task_wanted(const struct ps_spec *spec)
{
        const char *type = ps_spec_annotation(spec, PS_ANNOTATION_CONTAINER_TYPE);

        return type && strcmp(type, "sandbox") == 0;
}

static int place_in_cgroup(void *data, pid_t pid, struct ps_err **err)
{
        struct ps_container *c = data;

        return c->pod_cgroup ? ps_pod_cgroup_attach(c->pod_cgroup, pid, err) : 0;
}

static uint64_t json_u64(const cJSON *obj, const char *a, const char *b)
{
        const cJSON *v =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, a), b);

        return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static int make_cgroup(struct ps_container *c, const struct ps_spec *spec, struct ps_err **err)
{
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(spec->json, "linux"), "resources");

        if (!spec->cgroups_path || !spec->cgroups_path[0])
                return 0;
        c->pod_cgroup = ps_pod_cgroup_create(spec->cgroups_path, c->opts.systemd_cgroup, err);
        if (!c->pod_cgroup)
                return ps_err_prefix(err, "pod cgroup %s", spec->cgroups_path);
        return ps_pod_cgroup_set_resources(
            c->pod_cgroup, json_u64(res, "cpu", "shares"), (int64_t)json_u64(res, "cpu", "quota"),
            json_u64(res, "cpu", "period"), (int64_t)json_u64(res, "memory", "limit"), err);
}

/* An infra process between its spawn and the end of its setup. */
struct ps_infra_launch {
        struct ps_container *c;
        pid_t pid;
        int report;
        struct event *ev;
        bool new_net;
        ps_infra_ready_fn ready;
        void *data;
};

static void launch_free(struct ps_infra_launch *l)
{
        if (!l)
                return;
        if (l->ev)
                event_free(l->ev);
        ps_close(l->report);
        if (l->c->launch == l)
                l->c->launch = NULL;
        free(l);
}

/* The process runs the helper: adopt it as the container's init. */
static int adopt(struct ps_container *c, pid_t pid, bool new_net, struct ps_err **err)
{
        _cleanup_free_ char *pidfile = NULL;
        char buf[32];

        /* The delete action kills this pid if the shim itself is gone. */
        snprintf(buf, sizeof(buf), "%d", pid);
        if (asprintf(&pidfile, "%s/init.pid", c->bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "infra process");
        if (ps_write_file_atomic(pidfile, buf, strlen(buf), 0644, err) < 0 ||
            ps_reaper_watch(c->tasks->env.reaper, pid, ps_container_on_exit, c->init, err) < 0)
                return ps_err_prefix(err, "infra process");
        ps_process_set_pid(c->init, pid);
        /* A network namespace of our own making: nobody else (no CNI) will
         * bring its loopback up. The handle is kept for Stats (freed by
         * ps_infra_task_cleanup, which also runs after a failed create). */
        if (new_net &&
            (!(c->netns = ps_netns_open(pid, err)) || ps_netns_link_up(c->netns, "lo", err) < 0))
                return ps_err_prefix(err, "infra process");
        return 0;
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
        struct ps_infra_launch *l = arg;
        struct ps_container *c = l->c;
        ps_infra_ready_fn ready = l->ready;
        void *data = l->data;
        pid_t pid = l->pid;
        bool new_net = l->new_net;
        struct ps_err *e = NULL;
        int r = ps_infra_report(l->report, pid, &e);

        if (r == 1)
                return; /* spurious wakeup: the report is not there yet */
        launch_free(l);
        if (r == 0 && adopt(c, pid, new_net, &e) < 0) {
                kill(pid, SIGKILL);
                r = -1;
        }
        if (r == 0)
                ps_log_debug("%s: infra process %d set up", c->id, pid);
        ready(data, r == 0 ? NULL : e);
}

int ps_infra_task_create(struct ps_container *c, const struct ps_spec *spec,
                         ps_infra_ready_fn ready, void *data, struct ps_err **err)
{
        _cleanup_free_ char *helper = ps_infra_helper_path();
        struct ps_infra_launch *l;
        struct ps_infra_spec is;

        c->infra = true;
        c->private_pid_ns = true; /* nothing to kill but the infra process */
        if (ps_infra_spec_parse(spec->json, &is, err) < 0 || make_cgroup(c, spec, err) < 0)
                return -1;
        l = calloc(1, sizeof(*l));
        if (!l)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "infra process");
        *l = (struct ps_infra_launch){
            .c = c, .report = -1, .new_net = is.new_net, .ready = ready, .data = data};
        l->pid = ps_infra_spawn(&is, helper, place_in_cgroup, c, &l->report, err);
        if (l->pid < 0) {
                free(l);
                return -1;
        }
        l->ev = event_new(c->tasks->env.base, l->report, EV_READ | EV_PERSIST, on_report, l);
        if (!l->ev || event_add(l->ev, NULL) < 0) {
                kill(l->pid, SIGKILL);
                launch_free(l);
                return ps_err_set(err, PS_INTERNAL, "infra process: event");
        }
        c->launch = l;
        ps_log_debug("%s: infra process %d (helper %s)", c->id, l->pid, helper ? helper : "inline");
        return 0;
}

/* The removal of a deleted pod's cgroup, which outlives the infra task:
 * the kernel keeps a cgroup busy (EBUSY) for a moment after its last
 * process left, and the event loop must not sleep that moment away. */
struct cgroup_removal {
        struct ps_list link; /* in tasks->cgroup_removals */
        struct ps_tasks *t;
        struct ps_pod_cgroup *cg;
        struct event *timer;
        unsigned tries;
};

/* 1, 2, 4 ... 512 ms: about a second in all, then it is left (logged). */
#define REMOVAL_TRIES 10

static void removal_free(struct cgroup_removal *r)
{
        ps_list_remove(&r->link);
        if (r->timer)
                event_free(r->timer);
        ps_pod_cgroup_free(r->cg);
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

        if (rc == 0)
                return 0;
        if (++r->tries < REMOVAL_TRIES)
                return 1;
        ps_log_warn("pod cgroup %s: left in place after %u tries: %s", ps_pod_cgroup_path(r->cg),
                    r->tries, rc < 0 ? ps_err_msg(e) : "still busy");
        return 0;
}

static void removal_arm(struct cgroup_removal *r)
{
        struct timeval tv = {0, (1L << r->tries) * 1000};

        if (tv.tv_usec >= 1000000) {
                tv.tv_sec = tv.tv_usec / 1000000;
                tv.tv_usec %= 1000000;
        }
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

/* Takes ownership of cg. */
static void remove_pod_cgroup(struct ps_tasks *t, struct ps_pod_cgroup *cg)
{
        struct cgroup_removal *r = calloc(1, sizeof(*r));

        if (!r) {
                ps_log_warn("pod cgroup %s: out of memory, left in place", ps_pod_cgroup_path(cg));
                ps_pod_cgroup_free(cg);
                return;
        }
        r->t = t;
        r->cg = cg;
        ps_list_add_tail(&t->cgroup_removals, &r->link);
        if (!removal_try(r)) {
                removal_free(r);
                return;
        }
        r->timer = evtimer_new(t->env.base, removal_retry, r);
        if (!r->timer) {
                ps_log_warn("pod cgroup %s: no timer, left in place", ps_pod_cgroup_path(cg));
                removal_free(r);
                return;
        }
        removal_arm(r);
}

void ps_infra_task_cleanup(struct ps_container *c)
{
        if (c->launch) { /* freed while it was being set up */
                kill(c->launch->pid, SIGKILL);
                launch_free(c->launch);
        }
        if (c->pod_cgroup)
                remove_pod_cgroup(c->tasks, TAKE_PTR(c->pod_cgroup));
        c->netns = ps_netns_free(c->netns);
}

void ps_infra_task_finish_removals(struct ps_tasks *t)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &t->cgroup_removals)
        {
                struct cgroup_removal *r = ps_list_entry(pos, struct cgroup_removal, link);

                /* The shim is exiting and serves nobody any more: a short
                 * bounded wait is better than a leaked cgroup. */
                while (removal_try(r)) {
                        struct timespec ts = {0, (1L << r->tries) * 1000000L};
                        nanosleep(&ts, NULL);
                }
                removal_free(r);
        }
}

static void teardown_kill_done(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        if (err)
                ps_log_debug("pod teardown: %s", ps_err_msg(err));
        ps_err_free(err);
}

void ps_infra_task_teardown(struct ps_container *infra)
{
        struct ps_tasks *t = infra->tasks;
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &t->containers)
        {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                _cleanup_err_ struct ps_err *e = NULL;
                enum ps_proc_state s = c->init->state;

                if (c == infra || c->infra || !c->sandbox_id ||
                    strcmp(c->sandbox_id, infra->id) != 0)
                        continue;
                if (s != PS_PROC_CREATED && !ps_process_live(c->init))
                        continue;
                ps_log_info("pod %s is gone: killing container %s", infra->id, c->id);
                if (ps_process_kill(c->init, SIGKILL, true, teardown_kill_done, NULL, &e) < 0)
                        ps_log_warn("%s: %s", c->id, ps_err_msg(e));
        }
}

int ps_infra_task_stats(struct ps_container *c, char **ret_type_url, uint8_t **ret_value,
                        size_t *ret_len, struct ps_err **err)
{
        _cleanup_free_ char *type_url = NULL;
        _cleanup_free_ uint8_t *value = NULL;
        _cleanup_free_ struct ps_link_stats *links = NULL;
        uint8_t *merged = NULL;
        size_t len = 0, n = 0, merged_len = 0;

        if ((c->cgroup ? ps_cgroup_stats_of(c->cgroup, &type_url, &value, &len, err)
                       : ps_cgroup_stats(c->init->pid, &type_url, &value, &len, err)) < 0)
                return -1;
        /* Only the cgroup v1 Metrics message has a network field; the
         * namespace is gone with an exited infra process. */
        if (strcmp(type_url, "io.containerd.cgroups.v1.Metrics") == 0 &&
            !ps_process_exited(c->init)) {
                /* Opened once per pod: see net/netns.h. */
                if ((!c->netns && !(c->netns = ps_netns_open(c->init->pid, err))) ||
                    ps_netns_link_stats(c->netns, &links, &n, err) < 0 ||
                    ps_net_add_to_metrics(value, len, links, n, &merged, &merged_len, err) < 0)
                        return -1;
                free(value);
                value = merged;
                len = merged_len;
        }
        *ret_type_url = TAKE_PTR(type_url);
        *ret_value = TAKE_PTR(value);
        *ret_len = len;
        return 0;
}
