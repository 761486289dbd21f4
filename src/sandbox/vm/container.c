#include "sandbox/vm/container.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "sandbox/linux/mount.h"
#include "sandbox/vm/binds.h"
#include "sandbox/vm/container_impl.h"
#include "sandbox/vm/pod.h"
#include "sandbox/vm/share.h"
#include "sandbox/vm/stdio.h"
#include "sandbox/vm/vm.h"
#include "task/container.h"
#include "task/process.h"

struct ps_vm_member *ps_vm_ct_member(const struct ps_container *c)
{
        return c->impl;
}

/* The agent of c's pod, or NULL with FAILED_PRECONDITION. */
struct ps_agent_client *ps_vm_ct_agent(const struct ps_container *c, struct ps_err **err)
{
        const struct ps_vm_member *m = ps_vm_ct_member(c);
        struct ps_agent_client *a = m && m->pod ? ps_vm_agent(m->pod->vm) : NULL;

        if (!a)
                ps_err_set(err, PS_FAILED_PRECONDITION, "%s: the pod's VM is not running", c->id);
        return a;
}

struct ps_vm_call *ps_vm_call_new(ps_backend_fn done, void *data, struct ps_err **err)
{
        struct ps_vm_call *k = calloc(1, sizeof(*k));

        if (!k) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm call");
                return NULL;
        }
        k->done = done;
        k->data = data;
        return k;
}

void ps_vm_call_finish(struct ps_vm_call *k, const struct ps_err *err, pid_t pid)
{
        struct ps_backend_result res = {.pid = pid};
        struct ps_err *e = NULL;

        if (err)
                ps_err_set(&e, err->code, "vm: %s", ps_err_msg(err));
        k->done(k->data, e, e ? NULL : &res); /* e is done's (task/backend.h) */
        free(k);
}

void ps_vm_call_on_pid(void *data, const struct ps_err *err, uint32_t pid)
{
        ps_vm_call_finish(data, err, (pid_t)pid);
}

void ps_vm_call_on_done(void *data, const struct ps_err *err)
{
        ps_vm_call_finish(data, err, 0);
}

int ps_vm_call_sent(struct ps_vm_call *k, int r)
{
        if (r < 0)
                free(k);
        return r;
}

struct ps_agent_client *ps_vm_ct_member_agent(void *data)
{
        const struct ps_vm_member *m = data;

        return m->pod ? ps_vm_agent(m->pod->vm) : NULL;
}

void ps_vm_ct_ignored(void *data, const struct ps_err *err)
{
        if (err)
                ps_log_debug("vm: removing a container after its failed create: %s",
                             ps_err_msg(err));
}

/* ---- the spec in the guest ------------------------------------------------ */

static void drop(cJSON *obj, const char *key)
{
        if (cJSON_IsObject(obj))
                cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

int ps_vm_guest_spec(const char *bundle, cJSON *tree, const char *id, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL, *cgroup = NULL, *out = NULL;
        cJSON *linux_ = cJSON_GetObjectItemCaseSensitive(tree, "linux");
        cJSON *ns, *entry;
        struct stat st;

        if (asprintf(&path, "%s/config.json", bundle) < 0 ||
            asprintf(&cgroup, "%s/%s", PS_VM_CGROUP_PARENT, id) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "guest spec");
        if (!cJSON_IsObject(tree))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s: not a JSON object", path);
        if (!linux_ && !(linux_ = cJSON_AddObjectToObject(tree, "linux")))
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "guest spec");
        if (!cJSON_IsObject(linux_))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s: linux is not an object", path);
        ns = cJSON_GetObjectItemCaseSensitive(linux_, "namespaces");
        for (entry = cJSON_IsArray(ns) ? ns->child : NULL; entry;) {
                cJSON *next = entry->next;
                const cJSON *type = cJSON_GetObjectItemCaseSensitive(entry, "type");
                const cJSON *nspath = cJSON_GetObjectItemCaseSensitive(entry, "path");

                /* Joining the pod's network namespace means, in the guest,
                 * staying in the guest's own: it has the pod's eth0
                 * (sandbox/vm/pod_net.h). A new one (no path) stays new. */
                if (cJSON_IsString(type) && strcmp(type->valuestring, "network") == 0 &&
                    cJSON_IsString(nspath) && nspath->valuestring[0])
                        cJSON_Delete(cJSON_DetachItemViaPointer(ns, entry));
                else
                        drop(entry, "path");
                entry = next;
        }
        drop(linux_, "mountLabel");
        drop(cJSON_GetObjectItemCaseSensitive(tree, "process"), "apparmorProfile");
        drop(cJSON_GetObjectItemCaseSensitive(tree, "process"), "selinuxLabel");
        drop(linux_, "cgroupsPath");
        if (!cJSON_AddStringToObject(linux_, "cgroupsPath", cgroup))
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "guest spec");
        if (stat(path, &st) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "stat %s", path);
        out = cJSON_PrintUnformatted(tree);
        if (!out)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "guest spec");
        return ps_write_file_atomic(path, out, strlen(out), st.st_mode & 07777, err);
}

/* The rootfs is mounted on the host, where containerd's snapshot is; the
 * guest sees it through the bundle share. */
static int mount_rootfs(struct ps_vm_member *m, const struct ps_create_request *req,
                        struct ps_err **err)
{
        _cleanup_free_ char *rootfs = NULL;

        if (req->n_rootfs == 0)
                return 0;
        if (asprintf(&rootfs, "%s/rootfs", m->c->bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "rootfs");
        if (ps_mount_all(rootfs, req->rootfs, req->n_rootfs, err) < 0)
                return ps_err_prefix(err, "mount rootfs");
        m->rootfs_mounted = true;
        return 0;
}

static int unmount_rootfs(struct ps_vm_member *m, struct ps_err **err)
{
        _cleanup_free_ char *rootfs = NULL;

        if (!m->rootfs_mounted)
                return 0;
        if (asprintf(&rootfs, "%s/rootfs", m->c->bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "rootfs");
        if (ps_unmount_all(rootfs, err) < 0)
                return ps_err_prefix(err, "%s: unmount rootfs", m->c->id);
        m->rootfs_mounted = false;
        return 0;
}

/* The member's bundle, its rootfs mounted, is bound in the pod's share,
 * where the guest finds it at the bundle's own path. */
static int share_bundle(struct ps_vm_member *m, struct ps_vm_pod *pod, struct ps_err **err)
{
        if (!pod->share)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "the pod's VM is gone");
        /* the host paths it binds first: config.json is read before the
         * guest can reach the bundle (sandbox/vm/binds.h) */
        if (ps_vm_binds_share(pod->share, m->c->id, m->c->bundle, pod->bundles, err) < 0 ||
            ps_vm_share_add(pod->share, m->c->id, m->c->bundle, err) < 0) {
                /* nothing of another member's (a duplicate id) goes */
                if (!err || !*err || (*err)->code != PS_ALREADY_EXISTS)
                        ps_vm_share_remove(pod->share, m->c->id, NULL);
                return ps_err_prefix(err, "share the bundle");
        }
        m->shared = true;
        return 0;
}

/* Before the rootfs goes: the bind holds a copy of its mount. A share
 * already gone (with QEMU, or the pod) took the bind with it. */
static int unshare_bundle(struct ps_vm_member *m, struct ps_err **err)
{
        if (!m->shared)
                return 0;
        if (m->pod && m->pod->share && ps_vm_share_remove(m->pod->share, m->c->id, err) < 0)
                return ps_err_prefix(err, "%s: unshare the bundle", m->c->id);
        m->shared = false;
        return 0;
}

/* ---- the ops ---------------------------------------------------------------- */

static int same_dir(const char *bundle, const char *dir)
{
        size_t n = strlen(dir);

        return strncmp(bundle, dir, n) == 0 && bundle[n] == '/' && !strchr(bundle + n + 1, '/');
}

struct create_call {
        struct ps_vm_call k; /* first: call_finish frees the whole */
        struct ps_vm_member *m;
};

static void on_created(void *data, const struct ps_err *err, uint32_t pid)
{
        struct create_call *cc = data;
        struct ps_vm_member *m = cc->m;
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_agent_client *a;

        if (!err && ps_vm_stdio_start(m->stdio, m->c->id, NULL, ps_vm_ct_member_agent, m, &e) < 0) {
                /* Create fails: nothing may run in the guest that nobody
                 * would ever delete. */
                ps_err_prefix(&e, "%s: stdio", m->c->id);
                a = ps_vm_ct_member_agent(m);
                if (a)
                        ps_agent_client_delete(a, m->c->id, PS_VM_CALL_MS, ps_vm_ct_ignored, NULL,
                                               NULL);
                err = e;
        }
        ps_vm_call_finish(&cc->k, err, (pid_t)pid);
}

/* The host's end of the stdio is ready (a binary:// logger has started)
 * and the VM is up: the guest's container is made with the pipes the host
 * needs. While the VM still boots (a solo container's) the create parks
 * until ps_vm_member_vm_ready. */
static void on_stdio_ready(void *data, struct ps_err *e)
{
        struct create_call *cc = data;
        struct ps_vm_member *m = cc->m;
        struct ps_agent_client *a = ps_vm_ct_member_agent(m);
        struct ps_agent_container_spec spec;
        bool want[3];

        if (!e && !a && m->pod && ps_vm_pid(m->pod->vm) > 0) {
                m->create_parked = cc;
                return;
        }
        if (!e && !a)
                ps_err_set(&e, PS_FAILED_PRECONDITION, "%s: the pod's VM is not running", m->c->id);
        if (e) {
                ps_vm_call_finish(&cc->k, e, 0);
                ps_err_free(e);
                return;
        }
        ps_vm_stdio_wants(m->stdio, want);
        spec = (struct ps_agent_container_spec){.id = m->c->id,
                                                .bundle = m->c->bundle,
                                                .runtime = m->pod->runtime,
                                                .stdin_pipe = want[0],
                                                .stdout_pipe = want[1],
                                                .stderr_pipe = want[2],
                                                .terminal = m->c->init->terminal};
        if (ps_agent_client_create(a, &spec, PS_VM_CALL_MS, on_created, cc, &e) < 0) {
                ps_vm_call_finish(&cc->k, e, 0);
                ps_err_free(e);
        }
}

void ps_vm_member_vm_ready(struct ps_vm_member *m)
{
        struct create_call *cc = m->create_parked;

        m->create_parked = NULL;
        if (cc)
                on_stdio_ready(cc, NULL);
}

int ps_vm_member_create(struct ps_vm_pod *pod, struct ps_container *c,
                        const struct ps_create_request *req, ps_backend_fn done, void *data,
                        struct ps_err **err)
{
        const struct ps_vm_backend *be = pod ? pod->be : NULL;
        struct ps_stdio_config cfg = {.stdin_path = req->stdin_path,
                                      .stdout_path = req->stdout_path,
                                      .stderr_path = req->stderr_path,
                                      .container_id = c->id,
                                      .ns = be ? be->ns : NULL};
        struct ps_vm_member *m;
        struct create_call *cc;

        if (!pod || !pod->vm || ps_vm_pid(pod->vm) <= 0)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "%s: the pod's VM is not running",
                                  c->id);
        if (req->checkpoint && req->checkpoint[0])
                return ps_err_set(err, PS_UNIMPLEMENTED, "%s: a restore in a vm pod: not yet",
                                  c->id);
        if (!same_dir(c->bundle, pod->bundles))
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "%s: bundle %s is not in the pod's bundle directory %s", c->id,
                                  c->bundle, pod->bundles);
        m = calloc(1, sizeof(*m));
        cc = calloc(1, sizeof(*cc));
        if (!m || !cc) {
                free(m);
                free(cc);
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "%s", c->id);
        }
        m->c = c;
        m->pod = pod;
        *cc = (struct create_call){.k = {.done = done, .data = data}, .m = m};
        if (mount_rootfs(m, req, err) < 0 || share_bundle(m, pod, err) < 0 ||
            !(m->stdio = ps_vm_stdio_new(be->base, be->reaper, &cfg, on_stdio_ready, cc, err))) {
                unshare_bundle(m, NULL);
                unmount_rootfs(m, NULL);
                free(m);
                free(cc);
                return ps_err_prefix(err, "%s", c->id);
        }
        ps_list_add_tail(&pod->members, &m->link);
        c->impl = m;
        c->private_pid_ns = true; /* its own pid namespace in the guest */
        return 0;
}

static int member_create(struct ps_container *c, const struct ps_create_request *req,
                         ps_backend_fn done, void *data, struct ps_err **err)
{
        struct ps_vm_pod *pod = c->be_ctx;

        if (pod && !ps_vm_agent(pod->vm))
                return ps_err_set(err, PS_FAILED_PRECONDITION, "%s: the pod's VM is not running",
                                  c->id);
        return ps_vm_member_create(pod, c, req, done, data, err);
}

static int member_start(struct ps_container *c, ps_backend_fn done, void *data, struct ps_err **err)
{
        struct ps_agent_client *a = ps_vm_ct_agent(c, err);
        struct ps_vm_call *k = a ? ps_vm_call_new(done, data, err) : NULL;

        if (!k)
                return -1;
        return ps_vm_call_sent(
            k, ps_agent_client_start(a, c->id, PS_VM_CALL_MS, ps_vm_call_on_pid, k, err));
}

static int member_signal(struct ps_process *p, int sig, bool all, ps_backend_fn done, void *data,
                         struct ps_err **err)
{
        struct ps_agent_client *a = ps_vm_ct_agent(p->c, err);
        struct ps_vm_call *k = a ? ps_vm_call_new(done, data, err) : NULL;

        if (!k)
                return -1;
        return ps_vm_call_sent(k, ps_agent_client_signal(a, p->c->id, p->exec_id, sig,
                                                         all && !p->exec_id, PS_VM_CALL_MS,
                                                         ps_vm_call_on_done, k, err));
}

/* A Delete whose connection broke is asked again: QEMU may be dying with
 * its exit not reaped yet (the answer then is the VM's end), or the link
 * had a hiccup. */
#define DELETE_RETRY_MS 100
#define DELETE_TRIES    100

struct delete_call {
        struct ps_vm_call k; /* first: call_finish frees the whole */
        struct ps_vm_member *m;
        struct event_base *base;
        unsigned tries;
};

static void delete_done(struct delete_call *d, const struct ps_err *err)
{
        _cleanup_err_ struct ps_err *e = NULL;

        if (!err && (unshare_bundle(d->m, &e) < 0 || unmount_rootfs(d->m, &e) < 0))
                err = e;
        ps_vm_call_finish(&d->k, err, 0);
}

static void delete_send(struct delete_call *d);

static void on_delete_retry(evutil_socket_t fd, short what, void *arg)
{
        delete_send(arg);
}

static void on_deleted(void *data, const struct ps_err *err)
{
        struct delete_call *d = data;
        struct timeval tv = {.tv_usec = DELETE_RETRY_MS * 1000};

        /* never created in the guest (its create failed): nothing to remove */
        if (err && err->code == PS_NOT_FOUND)
                err = NULL;
        if (err && (err->code == PS_UNAVAILABLE || err->code == PS_CANCELLED) &&
            d->tries++ < DELETE_TRIES &&
            event_base_once(d->base, -1, EV_TIMEOUT, on_delete_retry, d, &tv) == 0)
                return;
        delete_done(d, err);
}

static void delete_send(struct delete_call *d)
{
        struct ps_agent_client *a = ps_vm_ct_member_agent(d->m);
        _cleanup_err_ struct ps_err *e = NULL;

        if (!a)
                return delete_done(d, NULL); /* the VM is gone, and all that ran in it */
        if (ps_agent_client_delete(a, d->m->c->id, PS_VM_CALL_MS, on_deleted, d, &e) < 0)
                delete_done(d, e);
}

static int member_delete(struct ps_container *c, bool force, ps_backend_fn done, void *data,
                         struct ps_err **err)
{
        struct ps_vm_member *m = ps_vm_ct_member(c);
        struct ps_backend_result res = {0};
        struct delete_call *d;

        (void)force; /* the agent's delete is always --force */
        if (!m) {
                done(data, NULL, &res); /* its create never got as far */
                return 0;
        }
        d = calloc(1, sizeof(*d));
        if (!d)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm delete");
        *d = (struct delete_call){.k = {.done = done, .data = data}, .m = m};
        if (m->pod)
                d->base = m->pod->be->base;
        delete_send(d);
        return 0;
}

struct pids_call {
        ps_backend_pids_fn done;
        void *data;
};

static void on_pids(void *data, const struct ps_err *err, const uint32_t *pids, size_t n)
{
        struct pids_call *k = data;
        _cleanup_free_ pid_t *out = calloc(n ? n : 1, sizeof(*out));
        struct ps_err *e = NULL;

        if (err)
                ps_err_set(&e, err->code, "vm: %s", ps_err_msg(err));
        else if (!out)
                ps_err_errno(&e, ENOMEM, PS_RESOURCE_EXHAUSTED, "pids");
        for (size_t i = 0; !e && i < n; i++)
                out[i] = (pid_t)pids[i];
        k->done(k->data, e, e ? NULL : out, e ? 0 : n); /* e is done's */
        free(k);
}

static int member_pids(struct ps_container *c, ps_backend_pids_fn done, void *data,
                       struct ps_err **err)
{
        struct ps_agent_client *a = ps_vm_ct_agent(c, err);
        struct pids_call *k;

        if (!a)
                return -1;
        k = calloc(1, sizeof(*k));
        if (!k)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "pids");
        *k = (struct pids_call){.done = done, .data = data};
        if (ps_agent_client_pids(a, c->id, PS_VM_CALL_MS, on_pids, k, err) < 0) {
                free(k);
                return -1;
        }
        return 0;
}

struct stats_call {
        ps_backend_stats_fn done;
        void *data;
};

static void on_stats(void *data, const struct ps_err *err, const struct ps_cgroup_metrics *cg)
{
        struct stats_call k = *(struct stats_call *)data;
        struct ps_metrics m = {0};
        struct ps_err *e = NULL;

        free(data);
        if (err) {
                ps_err_set(&e, err->code, "vm: %s", ps_err_msg(err));
                return k.done(k.data, e, NULL); /* e is done's */
        }
        m.cgroup = *cg; /* owns nothing: no io or hugetlb lists from the agent */
        k.done(k.data, NULL, &m);
}

/* The container's cgroup in the guest, as the agent reads it: cgroup v2
 * Metrics whatever the host runs. */
static int member_stats(struct ps_container *c, ps_backend_stats_fn done, void *data,
                        struct ps_err **err)
{
        struct ps_agent_client *a = ps_vm_ct_agent(c, err);
        struct stats_call *k;

        if (!a)
                return -1;
        k = calloc(1, sizeof(*k));
        if (!k)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "stats");
        *k = (struct stats_call){.done = done, .data = data};
        if (ps_agent_client_stats(a, c->id, PS_VM_CALL_MS, on_stats, k, err) < 0) {
                free(k);
                return -1;
        }
        return 0;
}

static void report_exit(void *data)
{
        struct ps_vm_member *m = data;

        ps_task_process_exited(m->c->init, m->exit_status);
}

void ps_vm_member_exited(struct ps_vm_member *m, unsigned exit_status)
{
        m->exited = true;
        m->exit_status = exit_status;
        if (m->stdio)
                ps_vm_stdio_on_output_end(m->stdio, report_exit, m);
        else
                report_exit(m);
}

void ps_vm_member_vm_gone(struct ps_vm_member *m)
{
        struct create_call *cc = m->create_parked;

        /* a create waiting for the boot fails: there will be none */
        m->create_parked = NULL;
        if (cc) {
                const struct ps_err *why = m->pod ? m->pod->exit_err : NULL;
                _cleanup_err_ struct ps_err *e = NULL;

                if (!why) {
                        ps_err_set(&e, PS_UNAVAILABLE, "the VM is gone");
                        why = e;
                }
                ps_vm_call_finish(&cc->k, why, 0);
        }
        /* a held exit is reported now, from here: before the pod's own */
        ps_vm_ct_execs_vm_gone(m);
        if (m->stdio)
                ps_vm_stdio_cut(m->stdio);
}

static void member_free(struct ps_container *c)
{
        struct ps_vm_member *m = ps_vm_ct_member(c);
        _cleanup_err_ struct ps_err *e = NULL;

        if (!m)
                return;
        m->stdio = ps_vm_stdio_free(m->stdio);
        free(m->create_parked); /* the shim is going: nobody waits for it */
        if (unshare_bundle(m, &e) < 0 || unmount_rootfs(m, &e) < 0)
                ps_log_warn("%s", ps_err_msg(e));
        ps_list_remove(&m->link); /* a node of its own once the pod is gone */
        free(m);
        c->impl = NULL;
}

const struct ps_backend_ops ps_vm_container_ops = {
    .name = "vm container",
    .create = member_create,
    .start = member_start,
    .exec = ps_vm_ct_exec,
    .signal = member_signal,
    .delete = member_delete,
    .pids = member_pids,
    .stats_async = member_stats,
    .resize_async = ps_vm_ct_resize,
    .close_stdin = ps_vm_ct_close_stdin,
    .drain = ps_vm_ct_drain,
    .process_free = ps_vm_ct_process_free,
    .container_free = member_free,
};
