#include "sandbox/vm/container.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "sandbox/linux/mount.h"
#include "sandbox/vm/pod.h"
#include "sandbox/vm/vm.h"
#include "task/container.h"
#include "task/process.h"

/* runc create and start under TCG take a second or two; a loaded host more. */
#define CALL_MS 60000

static struct ps_vm_member *member_of(const struct ps_container *c)
{
        return c->impl;
}

/* The agent of c's pod, or NULL with FAILED_PRECONDITION. */
static struct ps_agent_client *agent_of(const struct ps_container *c, struct ps_err **err)
{
        const struct ps_vm_member *m = member_of(c);
        struct ps_agent_client *a = m && m->pod ? ps_vm_agent(m->pod->vm) : NULL;

        if (!a)
                ps_err_set(err, PS_FAILED_PRECONDITION, "%s: the pod's VM is not running", c->id);
        return a;
}

/* One call to the agent on behalf of the task core's `done`. */
struct call {
        ps_backend_fn done;
        void *data;
};

static struct call *call_new(ps_backend_fn done, void *data, struct ps_err **err)
{
        struct call *k = calloc(1, sizeof(*k));

        if (!k) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm call");
                return NULL;
        }
        k->done = done;
        k->data = data;
        return k;
}

static void call_finish(struct call *k, const struct ps_err *err, pid_t pid)
{
        struct ps_backend_result res = {.pid = pid};
        struct ps_err *e = NULL;

        if (err)
                ps_err_set(&e, err->code, "vm: %s", ps_err_msg(err));
        k->done(k->data, e, e ? NULL : &res);
        ps_err_free(e);
        free(k);
}

static void on_pid(void *data, const struct ps_err *err, uint32_t pid)
{
        call_finish(data, err, (pid_t)pid);
}

static void on_done(void *data, const struct ps_err *err)
{
        call_finish(data, err, 0);
}

/* The call is on its way, or k is freed and err set. */
static int sent(struct call *k, int r)
{
        if (r < 0)
                free(k);
        return r;
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
        cJSON_ArrayForEach(entry, ns)
        {
                drop(entry, "path");
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

/* ---- the ops ---------------------------------------------------------------- */

static int same_dir(const char *bundle, const char *dir)
{
        size_t n = strlen(dir);

        return strncmp(bundle, dir, n) == 0 && bundle[n] == '/' && !strchr(bundle + n + 1, '/');
}

static int member_create(struct ps_container *c, const struct ps_create_request *req,
                         ps_backend_fn done, void *data, struct ps_err **err)
{
        struct ps_vm_pod *pod = c->be_ctx;
        _cleanup_free_ char *out = NULL, *errf = NULL;
        struct ps_agent_container_spec spec;
        struct ps_agent_client *a = pod ? ps_vm_agent(pod->vm) : NULL;
        struct ps_vm_member *m;
        struct call *k;

        if (!a)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "%s: the pod's VM is not running",
                                  c->id);
        if (req->terminal || (req->checkpoint && req->checkpoint[0]))
                return ps_err_set(err, PS_UNIMPLEMENTED,
                                  "%s: a terminal or a restore in a vm pod: not yet", c->id);
        if (!same_dir(c->bundle, pod->bundles))
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "%s: bundle %s is not in the pod's bundle directory %s", c->id,
                                  c->bundle, pod->bundles);
        if (asprintf(&out, "%s/%s", c->bundle, PS_VM_STDOUT_FILE) < 0 ||
            asprintf(&errf, "%s/%s", c->bundle, PS_VM_STDERR_FILE) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "%s", c->id);
        spec = (struct ps_agent_container_spec){.id = c->id,
                                                .bundle = c->bundle,
                                                .runtime = pod->runtime,
                                                .stdout_path = out,
                                                .stderr_path = errf};
        m = calloc(1, sizeof(*m));
        if (!m)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "%s", c->id);
        m->c = c;
        if (mount_rootfs(m, req, err) < 0) {
                free(m);
                return ps_err_prefix(err, "%s", c->id);
        }
        k = call_new(done, data, err);
        if (!k || sent(k, ps_agent_client_create(a, &spec, CALL_MS, on_pid, k, err)) < 0) {
                unmount_rootfs(m, NULL);
                free(m);
                return ps_err_prefix(err, "%s", c->id);
        }
        m->pod = pod;
        ps_list_add_tail(&pod->members, &m->link);
        c->impl = m;
        c->private_pid_ns = true; /* its own pid namespace in the guest */
        return 0;
}

static int member_start(struct ps_container *c, ps_backend_fn done, void *data, struct ps_err **err)
{
        struct ps_agent_client *a = agent_of(c, err);
        struct call *k = a ? call_new(done, data, err) : NULL;

        if (!k)
                return -1;
        return sent(k, ps_agent_client_start(a, c->id, CALL_MS, on_pid, k, err));
}

static int member_signal(struct ps_process *p, int sig, bool all, ps_backend_fn done, void *data,
                         struct ps_err **err)
{
        struct ps_agent_client *a;
        struct call *k;

        if (p->exec_id)
                return ps_err_set(err, PS_UNIMPLEMENTED, "exec in a vm pod: not yet");
        a = agent_of(p->c, err);
        k = a ? call_new(done, data, err) : NULL;
        if (!k)
                return -1;
        return sent(k, ps_agent_client_signal(a, p->c->id, sig, all, CALL_MS, on_done, k, err));
}

struct delete_call {
        struct call k;
        struct ps_vm_member *m;
};

static void on_deleted(void *data, const struct ps_err *err)
{
        struct delete_call *d = data;
        _cleanup_err_ struct ps_err *e = NULL;

        /* never created in the guest (its create failed): nothing to remove */
        if (err && err->code == PS_NOT_FOUND)
                err = NULL;
        if (!err && unmount_rootfs(d->m, &e) < 0)
                err = e;
        call_finish(&d->k, err, 0); /* frees d: k is its first member */
}

static int member_delete(struct ps_container *c, bool force, ps_backend_fn done, void *data,
                         struct ps_err **err)
{
        struct ps_vm_member *m = member_of(c);
        struct ps_agent_client *a = m && m->pod ? ps_vm_agent(m->pod->vm) : NULL;
        struct ps_backend_result res = {0};
        struct delete_call *d;

        (void)force; /* the agent's delete is always --force */
        if (!a) {
                /* the VM is gone, and everything that ran in it */
                if (m && unmount_rootfs(m, err) < 0)
                        return -1;
                done(data, NULL, &res);
                return 0;
        }
        d = calloc(1, sizeof(*d));
        if (!d)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm delete");
        *d = (struct delete_call){.k = {.done = done, .data = data}, .m = m};
        if (ps_agent_client_delete(a, c->id, CALL_MS, on_deleted, d, err) < 0) {
                free(d);
                return -1;
        }
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
        k->done(k->data, e, e ? NULL : out, e ? 0 : n);
        ps_err_free(e);
        free(k);
}

static int member_pids(struct ps_container *c, ps_backend_pids_fn done, void *data,
                       struct ps_err **err)
{
        struct ps_agent_client *a = agent_of(c, err);
        struct pids_call *k;

        if (!a)
                return -1;
        k = calloc(1, sizeof(*k));
        if (!k)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "pids");
        *k = (struct pids_call){.done = done, .data = data};
        if (ps_agent_client_pids(a, c->id, CALL_MS, on_pids, k, err) < 0) {
                free(k);
                return -1;
        }
        return 0;
}

static int member_resize(struct ps_process *p, uint32_t w, uint32_t h, struct ps_err **err)
{
        return ps_err_set(err, PS_UNIMPLEMENTED, "%s: no terminal in a vm pod yet", p->c->id);
}

static void member_close_stdin(struct ps_process *p)
{
        /* stdin is /dev/null in the guest until slice 3 */
}

static void member_drain(struct ps_process *p, void (*done)(void *data), void *data)
{
        done(data); /* the output is in files of the bundle, not on the host's FIFOs */
}

static void member_process_free(struct ps_process *p)
{
}

static void member_free(struct ps_container *c)
{
        struct ps_vm_member *m = member_of(c);
        _cleanup_err_ struct ps_err *e = NULL;

        if (!m)
                return;
        if (unmount_rootfs(m, &e) < 0)
                ps_log_warn("%s", ps_err_msg(e));
        ps_list_remove(&m->link); /* a node of its own once the pod is gone */
        free(m);
        c->impl = NULL;
}

const struct ps_backend_ops ps_vm_container_ops = {
    .name = "vm container",
    .create = member_create,
    .start = member_start,
    .signal = member_signal,
    .delete = member_delete,
    .pids = member_pids,
    .resize = member_resize,
    .close_stdin = member_close_stdin,
    .drain = member_drain,
    .process_free = member_process_free,
    .container_free = member_free,
};
