#include "sandbox/vm/pod.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "cgroup/paths.h"
#include "cgroup/pod.h"
#include "cgroup/record.h"
#include "cgroup/stats.h"
#include "core/reaper.h"
#include "oci/options.h"
#include "oci/spec.h"
#include "net/vmnic.h"
#include "sandbox/vm/container.h"
#include "sandbox/vm/pod_net.h"
#include "sandbox/vm/share.h"
#include "sandbox/vm/sizing.h"
#include "sandbox/vm/vm.h"
#include "task/backend.h"
#include "task/container.h"
#include "task/metrics.h"
#include "task/process.h"

/* TCG boots in ~6 s here, ASan builds in ~12 s; a loaded CI host more. */
#define BOOT_TIMEOUT_MS 120000
/* The agent's Shutdown ends the guest in well under a second; a guest that
 * does not go by then is killed. */
#define SHUTDOWN_MS 3000
#define SELF_MAX    4096
#define AGENT_MAX   (SELF_MAX + 16) /* SELF_MAX + "/podshim-agent" */

static struct ps_vm_pod *vm_pod(const struct ps_container *c)
{
        return c->impl;
}

/* Members created while the VM booted (a solo container's) go on now. */
static void resume_parked(struct ps_vm_pod *pod)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &pod->members)
        {
                ps_vm_member_vm_ready(ps_list_entry(pos, struct ps_vm_member, link));
        }
}

/* The VM is ready for its members: Create answers. */
static void vm_ready(struct ps_vm_pod *pod)
{
        struct ps_backend_result res = {.pid = ps_vm_pid(pod->vm)};
        ps_backend_fn done = pod->create_done;

        pod->create_done = NULL;
        if (done)
                done(pod->create_data, NULL, &res);
        resume_parked(pod);
}

static void on_network(void *data, const struct ps_err *err)
{
        struct ps_vm_pod *pod = data;
        _cleanup_err_ struct ps_err *e = NULL;

        /* A failure while QEMU goes (CANCELLED) is QEMU's exit's to report. */
        if (pod->freeing || ps_vm_pid(pod->vm) == 0)
                return;
        if (!err)
                return vm_ready(pod);
        ps_err_set(&pod->net_err, err->code, "vm: network setup in the guest: %s", ps_err_msg(err));
        if (ps_vm_kill(pod->vm, SIGKILL, &e) < 0)
                ps_log_warn("%s: %s", pod->c->id, ps_err_msg(e));
}

static void on_ready(void *data, struct ps_vm *vm, const struct ps_agent_hello *hello)
{
        struct ps_vm_pod *pod = data;
        _cleanup_err_ struct ps_err *e = NULL;

        ps_log_debug("%s: vm up in %llu ms, guest kernel %s, agent %s", pod->c->id,
                     (unsigned long long)ps_vm_boot_usec(vm) / 1000, hello->kernel_release,
                     hello->version);
        /* A solo VM's container has namespaces of its own; a pod without
         * a NIC (host network) still gets the guest's lo up. */
        if (pod->solo)
                return vm_ready(pod);
        if (ps_vm_pod_net_setup(ps_vm_agent(vm), pod->nic, on_network, pod, &e) < 0) {
                ps_err_set(&pod->net_err, e->code, "vm: network setup: %s", ps_err_msg(e));
                ps_err_free(TAKE_PTR(e));
                if (ps_vm_kill(vm, SIGKILL, &e) < 0)
                        ps_log_warn("%s: %s", pod->c->id, ps_err_msg(e));
        }
}

/* The member `id`; with live_only, only while its init has not exited (an
 * exec's exit may come after its init's: the task core orders them). */
static struct ps_vm_member *member(struct ps_vm_pod *pod, const char *id, bool live_only)
{
        struct ps_list *pos;

        for (pos = pod->members.next; pos != &pod->members; pos = pos->next) {
                struct ps_vm_member *m = ps_list_entry(pos, struct ps_vm_member, link);

                if ((!live_only || !m->exited) && strcmp(m->c->id, id) == 0)
                        return m;
        }
        return NULL;
}

static void on_container_exit(void *data, struct ps_vm *vm, const struct ps_agent_exit_info *e)
{
        struct ps_vm_pod *pod = data;
        bool exec = e->exec_id && e->exec_id[0];
        struct ps_vm_member *m = member(pod, e->id, !exec);

        (void)vm;
        if (!m) {
                ps_log_debug("%s: %s of %s/%s (guest pid %u): no such container", pod->c->id,
                             e->oom ? "OOM kill" : "exit", e->id, exec ? e->exec_id : "", e->pid);
                return;
        }
        /* TaskOOM as for a container on the host; the agent queued it before
         * the init's exit, whose TaskExit waits for the output besides */
        if (e->oom)
                ps_task_oom(m->c);
        else if (exec)
                ps_vm_member_exec_exited(m, e->exec_id, e->exit_status);
        else
                ps_vm_member_exited(m, e->exit_status);
}

/* QEMU is gone and with it everything that ran in the guest: every member
 * whose init was created and has not exited is reported killed. */
static void members_killed(struct ps_vm_pod *pod)
{
        struct ps_list *pos, *tmp;

        ps_list_for_each_safe(pos, tmp, &pod->members)
        {
                struct ps_vm_member *m = ps_list_entry(pos, struct ps_vm_member, link);
                const struct ps_process *p = m->c->init;

                ps_vm_member_vm_gone(m);
                if (m->exited || !p || p->state == PS_PROC_CREATING || ps_process_exited(p))
                        continue;
                m->exited = true;
                ps_task_process_exited(m->c->init, 128 + SIGKILL);
        }
}

/* Removes the pod cgroup once QEMU is gone (reaped: nothing is left in
 * it); 0 when it is gone or there was none. A cgroup still busy is tried
 * again when the pod is freed. */
static int remove_cgroup(struct ps_vm_pod *pod)
{
        _cleanup_err_ struct ps_err *e = NULL;
        int r;

        if (!pod->cgroup)
                return 0;
        r = ps_pod_cgroup_remove(pod->cgroup, &e);
        if (r < 0)
                ps_log_warn("%s: vm: remove the pod cgroup %s: %s", pod->c->id,
                            ps_pod_cgroup_path(pod->cgroup), ps_err_msg(e));
        if (r != 0)
                return -1;
        pod->cgroup = ps_pod_cgroup_free(pod->cgroup);
        if (pod->cgroup_record)
                ps_cgroup_record_drop(pod->cgroup_record); /* nothing to clear */
        return 0;
}

static void on_exited(void *data, struct ps_vm *vm, int wait_status, const struct ps_err *why)
{
        struct ps_vm_pod *pod = data;
        ps_backend_fn done = pod->create_done;

        (void)vm;
        if (pod->ev_shutdown)
                evtimer_del(pod->ev_shutdown);
        remove_cgroup(pod);
        pod->nic = ps_vmnic_free(pod->nic);        /* the tap went with QEMU */
        pod->share = ps_vm_share_free(pod->share); /* nobody reads it any more */
        if (!why && pod->net_err)
                why = pod->net_err;
        if (why)
                ps_err_set(&pod->exit_err, why->code, "%s", ps_err_msg(why));
        else
                ps_err_set(&pod->exit_err, PS_UNAVAILABLE, "vm: QEMU exited (status %u)",
                           ps_exit_code(wait_status));
        pod->create_done = NULL;
        if (done) {
                /* Create fails: nothing of the pod runs any more. */
                struct ps_err *e = NULL;

                if (why)
                        ps_err_set(&e, why->code, "%s", ps_err_msg(why));
                else
                        ps_err_set(&e, PS_UNAVAILABLE,
                                   "vm: QEMU exited (status %u) before the agent answered",
                                   ps_exit_code(wait_status));
                done(pod->create_data, e, NULL); /* e is done's (task/backend.h) */
                return;
        }
        members_killed(pod);
        if (!pod->solo)
                ps_task_process_exited(pod->c->init, ps_exit_code(wait_status));
        else if (pod->gone)
                pod->gone(pod->gone_data); /* last: it may free the pod */
}

/* containerd's state directories (<state>/<plugin type>.<id>, one
 * directory per namespace below each): 2.x's shim sandboxer keeps a pod's
 * bundle in its own (plugins/sandbox/controller.go, core/runtime/v2/
 * bundle.go), the pod's containers' bundles are the task manager's. */
#define SANDBOX_STATE "io.containerd.sandbox.controller.v1.shim"
#define TASK_STATE    "io.containerd.runtime.v2.task"

/* The directory of the bundles the pod's containers will have, where the
 * guest mounts its share: a task bundle's own directory
 * (<state>/<TASK_STATE>/<ns>/<id> -> its parent), or, for a pod the shim
 * sandboxer made (<state>/<SANDBOX_STATE>/<ns>/<id>), the task manager's
 * directory of that namespace. Only a path: the guest makes it in its own
 * root, the host's stays as containerd has it. */
static char *bundles_dir(const char *bundle, struct ps_err **err)
{
        _cleanup_free_ char *parent = strdup(bundle);
        char *slash = parent ? strrchr(parent, '/') : NULL, *ns, *out = NULL;
        size_t n;

        if (!parent)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm pod"), NULL;
        if (!slash || slash == parent)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "vm: bundle %s has no parent", bundle),
                       NULL;
        *slash = '\0';
        ns = strrchr(parent, '/');
        n = strlen("/" SANDBOX_STATE);
        if (!ns || (size_t)(ns - parent) < n || strncmp(ns - n, "/" SANDBOX_STATE, n) != 0)
                return TAKE_PTR(parent); /* a task's bundle */
        /* <state>/SANDBOX_STATE/<ns> -> <state>/TASK_STATE/<ns> */
        ns[-(ptrdiff_t)n] = '\0';
        if (asprintf(&out, "%s/" TASK_STATE "%s", parent, ns) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm pod"), NULL;
        return out;
}

/* The VM's settings from the runtime options (Backend = "vm" and VM*).
 * The agent is a path inside the guest's root (VMRoot), by default the
 * path the podshim-agent beside the shim's binary has on the host, which
 * is where podshim-vm-image puts the installed agent. */
static void vm_config(const struct ps_options *o, struct ps_vm_config *cfg, char agent[AGENT_MAX])
{
        char self[SELF_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        char *slash;

        self[n > 0 ? n : 0] = '\0';
        slash = strrchr(self, '/');
        if (slash)
                *slash = '\0';
        snprintf(agent, AGENT_MAX, "%s/podshim-agent", self);
        *cfg = (struct ps_vm_config){.kernel = o->vm_kernel,
                                     .initrd = o->vm_initrd,
                                     .root = o->vm_root,
                                     .agent = o->vm_agent ? o->vm_agent : agent,
                                     .accel = o->vm_accel ? o->vm_accel : "tcg",
                                     .cpu = o->vm_cpu,
                                     .vcpus = o->vm_cpus,
                                     .mem_mib = o->vm_memory_mib,
                                     .stderr_fd = 2};
}

/* The guest's root must hold the agent the guest's init will exec: a root
 * built for another agent path fails here, with the cure, rather than as a
 * guest that dies before its Hello. A stat or two on the loop. */
static int check_root(const struct ps_vm_config *cfg, struct ps_err **err)
{
        _cleanup_free_ char *agent = NULL;
        struct stat st;

        if (!cfg->root || cfg->root[0] != '/' || !cfg->agent || cfg->agent[0] != '/')
                return 0; /* qemu.c refuses them, naming the setting */
        if (stat(cfg->root, &st) < 0 || !S_ISDIR(st.st_mode))
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "vm: VMRoot %s is no directory (podshim-vm-image makes it)",
                                  cfg->root);
        if (asprintf(&agent, "%s%s", cfg->root, cfg->agent) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm root");
        if (stat(agent, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR))
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "vm: VMRoot %s holds no agent at %s (podshim-vm-image puts "
                                  "PODSHIM_VM_AGENT there, by default the installed "
                                  "podshim-agent; VMAgent names its path)",
                                  cfg->root, cfg->agent);
        return 0;
}

/* Makes the pod cgroup (when the spec names one) and boots the VM with
 * QEMU entering it before its exec: every v1 hierarchy's `tasks`, the
 * cgroup2 one's `cgroup.procs` (on a hybrid host its membership-only one
 * too: the child's write waits for the kernel's threadgroup lock, a few
 * milliseconds against a boot of seconds). */
static int enter_cgroup_and_start(struct ps_vm_backend *be, struct ps_vm_pod *pod,
                                  const struct ps_spec *spec, const struct ps_options *o,
                                  struct ps_vm_config *cfg, const struct ps_vm_paths *paths,
                                  const struct ps_vm_events *ev, struct ps_err **err)
{
        struct ps_pod_cgroup_entry entry;
        int fds[PS_POD_CGROUP_MAX_HIER + 1];
        size_t n = 0;

        if (spec && spec->cgroups_path) {
                pod->cgroup = ps_pod_cgroup_create(spec->cgroups_path, o->systemd_cgroup, err);
                if (!pod->cgroup)
                        return -1;
                /* for the delete action, should the shim die (leftovers.h);
                 * no record, no cleanup by it: the pod does not start */
                if (!(pod->cgroup_record = strdup(paths->cgroup)))
                        return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm pod");
                if (ps_cgroup_record_write(paths->cgroup, ps_pod_cgroup_path(pod->cgroup), err) <
                        0 ||
                    ps_pod_cgroup_entry_open(pod->cgroup, &entry, err) < 0)
                        return -1;
                for (size_t i = 0; i < entry.n_self; i++)
                        fds[n++] = entry.self[i];
                if (entry.later >= 0)
                        fds[n++] = entry.later;
                cfg->cgroup_fds = fds;
                cfg->n_cgroup_fds = n;
        }
        pod->vm = ps_vm_start(be->base, be->reaper, cfg, paths->dir, BOOT_TIMEOUT_MS, ev, err);
        if (pod->cgroup)
                ps_pod_cgroup_entry_close(&entry);
        cfg->cgroup_fds = NULL;
        cfg->n_cgroup_fds = 0;
        return pod->vm ? 0 : -1;
}

struct ps_vm_pod *ps_vm_pod_boot(struct ps_vm_backend *be, struct ps_container *c,
                                 const struct ps_create_request *req, bool solo,
                                 struct ps_err **err)
{
        struct ps_vm_events ev = {
            .ready = on_ready, .exited = on_exited, .container_exit = on_container_exit};
        const char *run_dir = be->run_dir ? be->run_dir : PS_VM_RUN_DIR;
        struct ps_vm_config cfg;
        struct ps_vm_size size;
        char agent[AGENT_MAX];
        _cleanup_free_ struct ps_vm_paths *paths = NULL;
        _cleanup_free_ char *bundles = NULL;
        _cleanup_err_ struct ps_err *stale = NULL;
        struct ps_vm_pod *pod;
        int r;

        if (!req->options || !req->options->vm_kernel || !req->options->vm_initrd)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "vm: the runtime options name no VMKernel and VMInitrd "
                                  "(podshim-vm-image, scripts/vm-initramfs.sh in a build tree, "
                                  "prints both; the runtime type io.containerd.podshim-vm.v2 "
                                  "reads them from " PS_VM_SYSTEM_CONFIG
                                  " or the file PODSHIM_VM_CONFIG names)"),
                       NULL;
        /* never the host's / instead: a guest must not read the host */
        if (!req->options->vm_root)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "vm: the runtime options name no VMRoot, the guest's root "
                                  "directory (podshim-vm-image, scripts/vm-initramfs.sh in a "
                                  "build tree, prints it after the kernel and initramfs; the "
                                  "runtime type io.containerd.podshim-vm.v2 reads it "
                                  "from " PS_VM_SYSTEM_CONFIG
                                  " or the file PODSHIM_VM_CONFIG names)"),
                       NULL;
        vm_config(req->options, &cfg, agent);
        if (check_root(&cfg, err) < 0)
                return ps_err_prefix(err, "%s", c->id), NULL;
        if (solo)
                r = ps_vm_size_for_container(req->spec, cfg.vcpus, cfg.mem_mib, &size, err);
        else
                r = ps_vm_size_for_pod(req->spec, cfg.vcpus, cfg.mem_mib, &size, err);
        if (r < 0)
                return ps_err_prefix(err, "%s", c->id), NULL;
        cfg.vcpus = size.vcpus;
        cfg.mem_mib = size.mem_mib;
        /* containerd keeps every bundle of a namespace in one directory
         * (<state>/<namespace>/<id>): the guest mounts its share there, so
         * a member's bundle path is the same on both sides. */
        bundles = bundles_dir(c->bundle, err);
        if (!bundles)
                return ps_err_prefix(err, "%s", c->id), NULL;
        cfg.bundles = bundles;
        /* the run directory, and beside it the share (which goes only
         * when its binds are gone) and the cgroup's record: leftovers.h */
        paths = calloc(1, sizeof(*paths));
        if (!paths)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm pod"), NULL;
        if (ps_vm_paths_of(run_dir, c->bundle, paths, err) < 0)
                return ps_err_prefix(err, "%s", c->id), NULL;
        cfg.bundles_share = paths->share;
        if (ps_mkdir_p(run_dir, 0700, err) < 0 ||
            (!solo && ps_vm_save_options(c->bundle, req->options, err) < 0))
                return NULL;
        /* A shim of this bundle that died, with no delete action after it,
         * left them: nothing of it is anyone's now. Not waited for (the
         * loop): a cgroup its QEMU still holds is made ours again. */
        if (ps_vm_leftovers_clear(run_dir, c->bundle, 0, NULL, &stale) < 0)
                ps_log_warn("%s: vm: %s", c->id, ps_err_msg(stale));
        pod = calloc(1, sizeof(*pod));
        if (!pod)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm pod"), NULL;
        pod->c = c;
        pod->be = be;
        pod->solo = solo;
        ps_list_init(&pod->members);
        pod->runtime = strdup(req->options->binary_name ? req->options->binary_name : "runc");
        pod->bundles = TAKE_PTR(bundles);
        ev.data = pod;
        if (!pod->runtime)
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm pod");
        else if (!(pod->share = ps_vm_share_new(paths->share, err)))
                ps_err_prefix(err, "%s: bundle share", c->id);
        else if ((!solo && ps_vm_pod_net_open(req->spec, &cfg, &pod->nic, err) < 0) ||
                 enter_cgroup_and_start(be, pod, req->spec, req->options, &cfg, paths, &ev, err) <
                     0)
                ps_err_prefix(err, "%s", c->id);
        if (pod->nic) /* QEMU has its own copy now (or never will) */
                ps_vmnic_close_tap(pod->nic);
        if (!pod->vm) {
                ps_vm_pod_free(pod);
                return NULL;
        }
        return pod;
}

static int pod_create(struct ps_container *c, const struct ps_create_request *req,
                      ps_backend_fn done, void *data, struct ps_err **err)
{
        struct ps_vm_pod *pod = ps_vm_pod_boot(c->be_ctx, c, req, false, err);

        if (!pod)
                return -1;
        pod->create_done = done;
        pod->create_data = data;
        c->impl = pod;
        c->private_pid_ns = true; /* nothing of the pod runs outside the VM */
        return 0;
}

static void on_shutdown_late(evutil_socket_t fd, short what, void *arg)
{
        struct ps_vm_pod *pod = arg;

        if (ps_vm_pid(pod->vm) == 0)
                return;
        ps_log_warn("%s: vm: still running %d ms after its shutdown: killed", pod->c->id,
                    SHUTDOWN_MS);
        ps_vm_kill(pod->vm, SIGKILL, NULL);
}

int ps_vm_pod_shutdown(struct ps_vm_pod *pod, struct ps_err **err)
{
        struct timeval tv = {.tv_sec = SHUTDOWN_MS / 1000, .tv_usec = SHUTDOWN_MS % 1000 * 1000};
        _cleanup_err_ struct ps_err *e = NULL;

        if (ps_vm_pid(pod->vm) == 0)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "vm: qemu has exited");
        if (!pod->ev_shutdown &&
            !(pod->ev_shutdown = evtimer_new(pod->be->base, on_shutdown_late, pod)))
                return ps_vm_kill(pod->vm, SIGKILL, err);
        /* not up (still booting), or the agent gone: nothing to ask */
        if (ps_vm_shutdown(pod->vm, &e) < 0) {
                ps_log_debug("%s: vm shutdown: %s", pod->c->id, ps_err_msg(e));
                return ps_vm_kill(pod->vm, SIGKILL, err);
        }
        evtimer_add(pod->ev_shutdown, &tv);
        return 0;
}

static int pod_signal(struct ps_process *p, int sig, bool all, ps_backend_fn done, void *data,
                      struct ps_err **err)
{
        struct ps_backend_result res = {0};
        struct ps_vm_pod *pod = vm_pod(p->c);

        /* QEMU is the task's only process on the host, `all` or not; a
         * SIGTERM is the VM's orderly end, through its agent. */
        if ((sig == SIGTERM ? ps_vm_pod_shutdown(pod, err) : ps_vm_kill(pod->vm, sig, err)) < 0)
                return -1;
        done(data, NULL, &res);
        return 0;
}

static int pod_delete(struct ps_container *c, bool force, ps_backend_fn done, void *data,
                      struct ps_err **err)
{
        struct ps_backend_result res = {0};
        struct ps_vm_pod *pod = vm_pod(c);

        if (force && pod && ps_vm_pid(pod->vm) > 0)
                ps_vm_kill(pod->vm, SIGKILL, NULL);
        done(data, NULL, &res);
        return 0;
}

static int pod_pids(struct ps_container *c, ps_backend_pids_fn done, void *data,
                    struct ps_err **err)
{
        pid_t qemu = vm_pod(c) ? ps_vm_pid(vm_pod(c)->vm) : 0;

        done(data, NULL, &qemu, qemu > 0 ? 1 : 0);
        return 0;
}

/* The whole VM as the host sees it: the pod cgroup QEMU runs in (guest
 * memory the guest has touched, QEMU's own, every vCPU thread), and the
 * pod netns's eth0, whose traffic is the VM's. */
static int pod_stats(struct ps_container *c, struct ps_metrics *ret, struct ps_err **err)
{
        struct ps_vm_pod *pod = vm_pod(c);
        _cleanup_(ps_cgroup_paths_freep) struct ps_cgroup_paths *paths = NULL;
        _cleanup_(ps_metrics_clear) struct ps_metrics m = {0};

        if (!pod || !pod->cgroup)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "vm: %s has no pod cgroup (its spec names none, or QEMU is gone)",
                                  c->id);
        if (ps_pod_cgroup_paths(pod->cgroup, &paths, err) < 0 ||
            ps_cgroup_stats_of(paths, &m.cgroup, err) < 0)
                return -1;
        /* The pod's eth0 carries every packet of the VM (net/vmnic.h); as
         * for the Linux backend, v1 Metrics only have a field for it. */
        if (pod->nic && m.cgroup.version == PS_CGROUP_METRICS_V1 &&
            ps_vmnic_link_stats(pod->nic, &m.links, &m.n_links, err) < 0)
                return -1;
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

static void pod_drain(struct ps_process *p, void (*done)(void *data), void *data)
{
        done(data); /* no stdio on the host */
}

static void pod_process_free(struct ps_process *p)
{
}

void ps_vm_pod_free(struct ps_vm_pod *pod)
{
        if (!pod)
                return;
        /* a Create still waiting is over: the task core frees it after
         * its last busy call, so this runs only once done has run */
        pod->freeing = true;
        if (pod->ev_shutdown)
                event_free(pod->ev_shutdown);
        ps_vm_free(pod->vm);
        pod->share = ps_vm_share_free(pod->share); /* QEMU is gone */
        pod->nic = ps_vmnic_free(pod->nic);
        ps_err_free(pod->net_err);
        if (pod->cgroup && remove_cgroup(pod) < 0)
                pod->cgroup = ps_pod_cgroup_free(pod->cgroup);
        while (!ps_list_empty(&pod->members)) {
                struct ps_vm_member *m = ps_list_first(&pod->members, struct ps_vm_member, link);

                ps_list_remove(&m->link);
                ps_list_init(&m->link);
                m->pod = NULL; /* it runs on alone: its calls fail */
        }
        ps_err_free(pod->exit_err);
        free(pod->cgroup_record);
        free(pod->runtime);
        free(pod->bundles);
        free(pod);
}

static void pod_free(struct ps_container *c)
{
        ps_vm_pod_free(vm_pod(c));
        c->impl = NULL;
}

const struct ps_backend_ops ps_vm_pod_ops = {
    .name = "vm pod",
    /* the VM's orderly end: the agent's Shutdown, QEMU exiting 0 (pod.h) */
    .pod_stop_signal = SIGTERM,
    /* QEMU's end would take the guest's containers with it, unreported */
    .pod_kills_members_first = true,
    .create = pod_create,
    .start = ps_backend_start_running_init, /* it runs from Create on */
    .signal = pod_signal,
    .delete = pod_delete,
    .pids = pod_pids,
    .stats = pod_stats,
    .resize = pod_resize,
    .close_stdin = pod_close_stdin,
    .drain = pod_drain,
    .process_free = pod_process_free,
    .container_free = pod_free,
};
