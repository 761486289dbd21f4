#include "task/infra_task.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "cgroup/pod.h"
#include "cgroup/stats.h"
#include "net/metrics.h"
#include "net/netns.h"
#include "sandbox/infra.h"
#include "shim/reaper.h"

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

int ps_infra_task_create(struct ps_container *c, const struct ps_spec *spec, struct ps_err **err)
{
        _cleanup_free_ char *helper = ps_infra_helper_path(), *pidfile = NULL;
        struct ps_infra_spec is;
        char buf[32];
        pid_t pid;

        if (ps_infra_spec_parse(spec->json, &is, err) < 0 || make_cgroup(c, spec, err) < 0)
                return -1;
        pid = ps_infra_spawn(&is, helper, place_in_cgroup, c, err);
        if (pid < 0)
                return -1;
        /* The delete action kills this pid if the shim itself is gone. */
        snprintf(buf, sizeof(buf), "%d", pid);
        if (asprintf(&pidfile, "%s/init.pid", c->bundle) < 0 ||
            ps_write_file_atomic(pidfile, buf, strlen(buf), 0644, err) < 0 ||
            ps_reaper_watch(c->tasks->env.reaper, pid, ps_container_on_exit, c->init, err) < 0) {
                kill(pid, SIGKILL);
                return ps_err_prefix(err, "infra process");
        }
        ps_process_set_pid(c->init, pid);
        /* A network namespace of our own making: nobody else (no CNI) will
         * bring its loopback up. The handle is kept for Stats. */
        if (is.new_net &&
            (!(c->netns = ps_netns_open(pid, err)) || ps_netns_link_up(c->netns, "lo", err) < 0)) {
                c->netns = ps_netns_free(c->netns); /* c->infra is not set: no cleanup */
                kill(pid, SIGKILL);
                return ps_err_prefix(err, "infra process");
        }
        c->infra = true;
        c->private_pid_ns = true; /* nothing to kill but the infra process */
        ps_log_debug("%s: infra process %d (helper %s)", c->id, pid, helper ? helper : "inline");
        return 0;
}

void ps_infra_task_cleanup(struct ps_container *c)
{
        _cleanup_err_ struct ps_err *e = NULL;

        if (c->pod_cgroup && ps_pod_cgroup_remove(c->pod_cgroup, &e) < 0)
                ps_log_warn("%s: %s", c->id, ps_err_msg(e));
        c->pod_cgroup = ps_pod_cgroup_free(c->pod_cgroup);
        c->netns = ps_netns_free(c->netns);
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

                if (c == infra || c->infra)
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

        if (ps_cgroup_stats(c->init->pid, &type_url, &value, &len, err) < 0)
                return -1;
        /* Only the cgroup v1 Metrics message has a network field. */
        if (strcmp(type_url, "io.containerd.cgroups.v1.Metrics") == 0) {
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
