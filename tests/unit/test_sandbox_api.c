/* The Sandbox API's pod lifecycle (sandbox/lifecycle.c) over the fake
 * backend, and the infra spec it derives from a pod's CRI config
 * (sandbox/pod_spec.c): which events go out, when a pod has ended (its
 * infra process and every member exited), what stop, wait and shutdown
 * wait for, and what is refused with which code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "check.h"
#include "fake_backend.h"
#include "sandbox/lifecycle.h"
#include "sandbox/vm/sizing.h"
#include "shim/profile.h"

static char dir[64];
static struct fake_backend fb;
static struct fake_events ev;
static struct ps_sandboxes sbs;
static struct event_base *base;
static char sblog[FAKE_LOG_SIZE];

/* ---- a sandbox event recorder ------------------------------------------- */

static void logline(const char *fmt, const char *id, unsigned n)
{
        size_t len = strlen(sblog);

        snprintf(sblog + len, sizeof(sblog) - len, fmt, id, n);
}

static void s_create(void *d, const char *id)
{
        logline("sandbox-create %s\n", id, 0);
}

static void s_start(void *d, const char *id)
{
        logline("sandbox-start %s\n", id, 0);
}

static void s_exit(void *d, const char *id, unsigned status, const struct timespec *at)
{
        CHECK(at->tv_sec != 0);
        logline("sandbox-exit %s %u\n", id, status);
}

static const struct ps_sandbox_events sev = {
    .sandbox_create = s_create, .sandbox_start = s_start, .sandbox_exit = s_exit};

/* ---- fixtures ----------------------------------------------------------- */

struct result {
        int calls;
        enum ps_code code;
        pid_t pid;
};

static void record(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        struct result *r = data;

        r->calls++;
        r->code = err ? err->code : PS_OK;
        r->pid = res ? res->pid : 0;
        CHECK((err == NULL) != (res == NULL));
        ps_err_free(err);
}

static void setup(bool with_base)
{
        snprintf(dir, sizeof(dir), "/tmp/ps-sbapi-XXXXXX");
        CHECK(mkdtemp(dir) != NULL);
        fake_backend_init(&fb);
        fake_events_init(&ev);
        sblog[0] = '\0';
        base = with_base ? event_base_new() : NULL;
        ps_sandboxes_init(&sbs, &ev.sink, &sev, base, NULL, "test", dir);
        sbs.pod_ops = &fb.ops;
        sbs.container_ops = &fb.ops;
        sbs.be_ctx = &fb;
}

static void teardown(void)
{
        char cmd[128];

        ps_tasks_destroy(&sbs.tasks);
        if (base)
                event_base_free(base);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
}

static char *bundle(const char *id)
{
        static char path[128];

        snprintf(path, sizeof(path), "%s/%s", dir, id);
        mkdir(path, 0700);
        return path;
}

static const struct ps_pod_config default_config = {.hostname = "pod",
                                                    .cgroup_parent = "/kubepods/podx",
                                                    .network = PS_POD_NS_POD,
                                                    .pid = PS_POD_NS_CONTAINER,
                                                    .ipc = PS_POD_NS_POD};

static int create_pod_with(const char *id, const struct ps_pod_config *cfg, const char *netns,
                           struct result *r, enum ps_code *code)
{
        struct ps_pod_request req = {
            .id = id, .bundle = bundle(id), .netns_path = netns, .config = cfg};
        _cleanup_err_ struct ps_err *e = NULL;
        int rc = ps_sandboxes_create_pod(&sbs, &req, record, r, &e);

        *code = e ? e->code : PS_OK;
        return rc;
}

/* A created and started pod. */
static struct ps_sandbox *pod(const char *id)
{
        struct result r = {0}, s = {0};
        enum ps_code code;
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_sandbox *sb;

        CHECK(create_pod_with(id, &default_config, "/var/run/netns/x", &r, &code) == 0);
        CHECK(r.calls == 1 && r.code == PS_OK);
        sb = ps_sandboxes_find(&sbs, id);
        CHECK(sb && sb->api && sb->task);
        CHECK(ps_sandbox_start(sb, record, &s, &e) == 0);
        CHECK(s.calls == 1 && s.code == PS_OK && s.pid == sb->task->init->pid);
        return sb;
}

/* A member container of pod `pod_id`, started. */
static struct ps_container *member(const char *id, const char *pod_id)
{
        char path[160];
        struct ps_create_request req;
        _cleanup_err_ struct ps_err *e = NULL;
        struct result r = {0}, s = {0};
        struct ps_container *c;
        FILE *f;

        snprintf(path, sizeof(path), "%s/config.json", bundle(id));
        f = fopen(path, "w");
        CHECK(f != NULL);
        fprintf(f,
                "{\"process\":{\"args\":[\"x\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},"
                "\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
                "\"io.kubernetes.cri.sandbox-id\":\"%s\"}}",
                pod_id);
        fclose(f);
        req = fake_request(id, bundle(id));
        CHECK(ps_sandboxes_create_task(&sbs, &req, record, &r, &e) == 0);
        c = ps_tasks_find(&sbs.tasks, id);
        CHECK(c && r.code == PS_OK);
        CHECK(ps_process_start(c->init, record, &s, &e) == 0);
        return c;
}

static void waited(void *data, struct ps_sandbox *sb)
{
        int *n = data;

        (*n)++;
        CHECK(sb->exited || sb->dead);
}

/* ---- tests -------------------------------------------------------------- */

static void test_create_start_events(void)
{
        setup(false);
        struct ps_sandbox *sb = pod("p1");
        struct ps_container *m = member("m1", "p1");

        CHECK(ps_sandbox_ready(sb));
        CHECK(m->sandbox == sb);
        CHECK(sb->created_at.tv_sec != 0);
        CHECK(strstr(sblog, "sandbox-create p1\nsandbox-start p1\n") != NULL);
        /* the pod's own task is the pod's: no task event of it goes out */
        CHECK(strstr(ev.log, "p1") == NULL);
        CHECK(strstr(ev.log, "create m1") != NULL && strstr(ev.log, "start m1") != NULL);
        /* the infra spec the backend got: CRI's, from the config */
        CHECK_STREQ(sb->spec->cgroups_path, "/kubepods/podx/p1");
        CHECK_STREQ(sb->spec->ns[PS_SPEC_NS_NETWORK].path, "/var/run/netns/x");
        teardown();
}

static void test_end_waits_for_every_member(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        int released = 0;

        setup(false);
        struct ps_sandbox *sb = pod("p1");
        struct ps_container *m1 = member("m1", "p1");
        struct ps_container *m2 = member("m2", "p1");

        CHECK(ps_sandbox_add_waiter(sb, waited, &released, &e) != NULL);
        fb.log[0] = '\0';
        fake_exit(sb->task->init, 137);
        CHECK(sb->exited && !ps_sandbox_ready(sb));
        CHECK(ps_sandbox_pid(sb) == 0); /* a pid that may be reused by now */
        CHECK(strstr(sblog, "sandbox-exit p1 137") != NULL);
        CHECK(strstr(fb.log, "signal m1 9 all") && strstr(fb.log, "signal m2 9 all"));
        CHECK(released == 0 && !ps_sandbox_ended(sb)); /* members still to report */
        fake_exit(m1->init, 137);
        CHECK(released == 0);
        fake_exit(m2->init, 137);
        CHECK(released == 1 && ps_sandbox_ended(sb));
        CHECK(strstr(ev.log, "exit m1 137") && strstr(ev.log, "exit m2 137"));
        CHECK(sb->exit_status == 137);
        teardown();
}

static void test_stop_without_grace(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct result r = {0};

        setup(false);
        struct ps_sandbox *sb = pod("p1");
        struct ps_container *m1 = member("m1", "p1");

        fb.log[0] = '\0';
        CHECK(ps_sandbox_stop(sb, 30, record, &r, &e) == 0); /* no event base: no grace */
        CHECK(strstr(fb.log, "signal p1 9") != NULL && strstr(fb.log, "m1 15") == NULL);
        CHECK(r.calls == 0);
        fake_exit(sb->task->init, 137);
        CHECK(r.calls == 0);
        fake_exit(m1->init, 137);
        CHECK(r.calls == 1 && r.code == PS_OK);
        /* stopping a pod that has ended is done at once */
        CHECK(ps_sandbox_stop(sb, 0, record, &r, &e) == 1);
        teardown();
}

static void test_stop_with_grace(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct result r = {0};

        setup(true);
        struct ps_sandbox *sb = pod("p1");
        struct ps_container *m1 = member("m1", "p1");

        fb.log[0] = '\0';
        CHECK(ps_sandbox_stop(sb, 30, record, &r, &e) == 0);
        CHECK(strstr(fb.log, "signal m1 15 all") != NULL);
        CHECK(strstr(fb.log, "signal p1") == NULL); /* the infra process waits */
        fake_exit(m1->init, 0);                     /* the last member left in time */
        CHECK(strstr(fb.log, "signal p1 9") != NULL);
        CHECK(r.calls == 0);
        fake_exit(sb->task->init, 137);
        CHECK(r.calls == 1 && r.code == PS_OK);
        teardown();
}

static void test_stop_grace_runs_out(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct result r = {0};

        setup(true);
        struct ps_sandbox *sb = pod("p1");
        struct ps_container *m1 = member("m1", "p1");

        fb.log[0] = '\0';
        CHECK(ps_sandbox_stop(sb, 1, record, &r, &e) == 0);
        CHECK(strstr(fb.log, "signal p1") == NULL);
        event_base_loop(base, EVLOOP_ONCE); /* the 1 s grace timer */
        CHECK(strstr(fb.log, "signal p1 9") != NULL);
        fake_exit(sb->task->init, 137);
        CHECK(strstr(fb.log, "signal m1 9 all") != NULL); /* the pod's end kills the rest */
        fake_exit(m1->init, 137);
        CHECK(r.calls == 1 && r.code == PS_OK);
        teardown();
}

static void test_shutdown_deletes_everything(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct result r = {0};
        int released = 0;

        setup(false);
        struct ps_sandbox *sb = pod("p1");
        struct ps_container *m1 = member("m1", "p1");

        CHECK(ps_sandbox_add_waiter(sb, waited, &released, &e) != NULL);
        CHECK(ps_sandbox_shutdown(sb, record, &r, &e) == 0);
        CHECK(sb->shutting_down);
        CHECK(ps_sandbox_shutdown(sb, record, &r, &e) < 0 && e->code == PS_FAILED_PRECONDITION);
        fake_exit(sb->task->init, 137);
        fake_exit(m1->init, 137);
        CHECK(r.calls == 1 && r.code == PS_OK);
        CHECK(released == 1);
        CHECK(ps_sandboxes_find(&sbs, "p1") == NULL);
        CHECK(sbs.tasks.n_containers == 0);
        CHECK(strstr(ev.log, "delete m1") != NULL);
        teardown();
}

static void test_refusals(void)
{
        static const struct ps_idmap overlapping[] = {{0, 100000, 10}, {5, 200000, 10}};
        struct ps_pod_config cfg = default_config;
        struct result r = {0};
        enum ps_code code;
        _cleanup_err_ struct ps_err *e = NULL;

        setup(false);
        pod("p1");
        CHECK(create_pod_with("p1", &default_config, NULL, &r, &code) < 0);
        CHECK_INTEQ(code, PS_ALREADY_EXISTS);
        CHECK(create_pod_with("bad/id", &default_config, NULL, &r, &code) < 0);
        CHECK_INTEQ(code, PS_INVALID_ARGUMENT);
        cfg.network = PS_POD_NS_CONTAINER;
        CHECK(create_pod_with("p2", &cfg, NULL, &r, &code) < 0);
        CHECK_INTEQ(code, PS_INVALID_ARGUMENT);
        cfg = default_config;
        cfg.network = PS_POD_NS_NODE;
        CHECK(create_pod_with("p2", &cfg, "/var/run/netns/x", &r, &code) < 0);
        CHECK_INTEQ(code, PS_INVALID_ARGUMENT);
        CHECK(create_pod_with("p2", &default_config, "relative/netns", &r, &code) < 0);
        CHECK_INTEQ(code, PS_INVALID_ARGUMENT);
        cfg = default_config;
        cfg.has_userns = true;
        cfg.userns = PS_POD_NS_POD; /* and no maps */
        CHECK(create_pod_with("p2", &cfg, NULL, &r, &code) < 0);
        CHECK_INTEQ(code, PS_INVALID_ARGUMENT);
        cfg.uid_map = cfg.gid_map = overlapping;
        cfg.n_uid_map = cfg.n_gid_map = 2;
        CHECK(create_pod_with("p2", &cfg, NULL, &r, &code) < 0);
        CHECK_INTEQ(code, PS_INVALID_ARGUMENT);
        cfg = default_config;
        cfg.has_run_as_user = true;
        cfg.run_as_user = -1;
        CHECK(create_pod_with("p2", &cfg, NULL, &r, &code) < 0);
        CHECK_INTEQ(code, PS_INVALID_ARGUMENT);
        CHECK(ps_sandboxes_find(&sbs, "p2") == NULL && r.calls == 0);

        /* a pod born from a Task Create is containerd's to drive as a task */
        struct ps_sandbox *tb = ps_sandbox_new(&sbs, "taskborn", &e);
        CHECK(tb != NULL);
        CHECK(ps_sandbox_start(tb, record, &r, &e) < 0 && e->code == PS_FAILED_PRECONDITION);
        ps_err_free(TAKE_PTR(e));
        CHECK(ps_sandbox_stop(tb, 0, record, &r, &e) < 0 && e->code == PS_FAILED_PRECONDITION);
        ps_err_free(TAKE_PTR(e));
        CHECK(ps_sandbox_shutdown(tb, record, &r, &e) < 0 && e->code == PS_FAILED_PRECONDITION);
        ps_err_free(TAKE_PTR(e));
        ps_sandbox_drop_unborn(&sbs, "taskborn");
        CHECK(ps_sandboxes_get(&sbs, "taskborn", &e) == NULL && e->code == PS_NOT_FOUND);
        teardown();
}

static void test_start_twice_and_while_creating(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct result r = {0}, s = {0};
        enum ps_code code;

        setup(false);
        fb.mode = FAKE_HOLD;
        CHECK(create_pod_with("p1", &default_config, NULL, &r, &code) == 0);
        struct ps_sandbox *sb = ps_sandboxes_find(&sbs, "p1");
        CHECK(sb && !ps_sandbox_ready(sb));
        CHECK(ps_sandbox_start(sb, record, &s, &e) < 0 && e->code == PS_FAILED_PRECONDITION);
        ps_err_free(TAKE_PTR(e));
        CHECK(ps_sandbox_stop(sb, 0, record, &s, &e) < 0 && e->code == PS_FAILED_PRECONDITION);
        ps_err_free(TAKE_PTR(e));
        fb.mode = FAKE_OK;
        fake_release(&fb, 0, NULL);
        CHECK(r.calls == 1 && r.code == PS_OK);
        CHECK(ps_sandbox_start(sb, record, &s, &e) == 0 && s.code == PS_OK);
        CHECK(ps_sandbox_start(sb, record, &s, &e) < 0 && e->code == PS_FAILED_PRECONDITION);
        teardown();
}

static void test_failed_create_leaves_nothing(void)
{
        struct result r = {0};
        enum ps_code code;

        setup(false);
        fb.mode = FAKE_FAIL;
        CHECK(create_pod_with("p1", &default_config, NULL, &r, &code) == 0);
        CHECK(r.calls == 1 && r.code != PS_OK);
        CHECK(ps_sandboxes_find(&sbs, "p1") == NULL && sbs.tasks.n_containers == 0);
        CHECK(strstr(sblog, "sandbox-create") == NULL);
        teardown();
}

/* CreateSandbox brings no options: the runtime type's defaults decide the
 * backend. Under the VM type's profile the pod is a VM (here one that
 * cannot boot: its vm.toml names no kernel, so the vm backend refuses it
 * before spawning anything, where the fake pod backend would have
 * succeeded), and nothing of it is left. */
static void test_vm_profile_picks_the_vm_backend(void)
{
        struct ps_options_profile prof;
        _cleanup_free_ char *cfg = NULL, *mounts = NULL;
        struct result r = {0};
        enum ps_code code;

        setup(false);
        CHECK(asprintf(&cfg, "%s/vm.toml", dir) > 0);
        CHECK(ps_write_file_atomic(cfg, "VMAccel = 'tcg'\n", 16, 0644, NULL) == 0);
        ps_shim_profile("/usr/bin/containerd-shim-podshim-vm-v2", cfg, &prof);
        sbs.profile = &prof;
        CHECK(create_pod_with("p1", &default_config, NULL, &r, &code) == -1);
        CHECK(code == PS_INVALID_ARGUMENT && r.calls == 0);
        CHECK(ps_sandboxes_find(&sbs, "p1") == NULL && sbs.tasks.n_containers == 0);
        CHECK(fb.log[0] == '\0'); /* the fake pod backend was not asked */
        CHECK(ps_read_file("/proc/self/mounts", 1u << 20, &mounts, NULL, NULL) == 0);
        CHECK(mounts && strstr(mounts, dir) == NULL); /* the pod's shm went */

        /* the Linux type's profile: the registry's pod backend, as before */
        ps_shim_profile("containerd-shim-podshim-v2", NULL, &prof);
        CHECK(create_pod_with("p2", &default_config, NULL, &r, &code) == 0);
        CHECK(r.calls == 1 && r.code == PS_OK && !ps_sandboxes_find(&sbs, "p2")->vm);
        teardown();
}

/* ---- the infra spec ----------------------------------------------------- */

static void test_spec_forms(void)
{
        _cleanup_spec_ struct ps_spec *s = NULL;
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_pod_config cfg = default_config;
        struct ps_spec_kv sysctl = {.key = "net.ipv4.ping_group_range", .value = "0 1"};

        cfg.sysctls = &sysctl;
        cfg.n_sysctls = 1;
        cfg.has_run_as_user = true;
        cfg.run_as_user = 1234;
        CHECK(ps_pod_spec_build("id1", "/run/netns/n", NULL, &cfg, -999, &s, &e) == 0);
        CHECK_STREQ(s->cgroups_path, "/kubepods/podx/id1");
        CHECK_STREQ(s->hostname, "pod");
        CHECK(s->ns[PS_SPEC_NS_NETWORK].present && s->ns[PS_SPEC_NS_UTS].present);
        CHECK(s->ns[PS_SPEC_NS_PID].present && s->ns[PS_SPEC_NS_IPC].present);
        CHECK(!s->ns[PS_SPEC_NS_USER].present);
        CHECK(s->uid == 1234 && s->gid == 0);
        CHECK(s->has_oom_score_adj && s->oom_score_adj == PS_POD_OOM_SCORE_ADJ);
        CHECK(s->resources.cpu_shares == PS_POD_CPU_SHARES);
        CHECK(s->n_sysctls == 1 && strcmp(s->sysctls[0].value, "0 1") == 0);
        CHECK(s->n_annotations == 0); /* no resources, none of their annotations */
        s = ps_spec_free(s);

        /* the pod's resources: CRI's pause-spec annotations, which size a
         * VM pod as in podsandbox mode (1.5 CPUs -> 2 more vCPUs at most
         * the host's, 128 MiB more memory) */
        cfg.has_resources = true;
        cfg.cpu_period = 100000;
        cfg.cpu_quota = 150000;
        cfg.memory_limit = 128 << 20;
        CHECK(ps_pod_spec_build("id1", "/run/netns/n", NULL, &cfg, -999, &s, &e) == 0);
        CHECK_STREQ(ps_spec_annotation(s, "io.kubernetes.cri.sandbox-cpu-period"), "100000");
        CHECK_STREQ(ps_spec_annotation(s, "io.kubernetes.cri.sandbox-cpu-quota"), "150000");
        CHECK_STREQ(ps_spec_annotation(s, "io.kubernetes.cri.sandbox-cpu-shares"), "0");
        CHECK_STREQ(ps_spec_annotation(s, "io.kubernetes.cri.sandbox-memory"), "134217728");
        {
                struct ps_vm_size size;
                long cpus = sysconf(_SC_NPROCESSORS_ONLN);

                CHECK(ps_vm_size_for_pod(s, 1, 256, &size, &e) == 0);
                CHECK(size.mem_mib == 384);
                CHECK(size.vcpus == (unsigned)(cpus < 3 ? cpus : 3));
        }
        s = ps_spec_free(s);

        /* host network: no network or uts namespace, so no hostname; the
         * shim's own oom_score_adj is the floor */
        cfg = default_config;
        cfg.network = PS_POD_NS_NODE;
        cfg.pid = PS_POD_NS_NODE;
        cfg.ipc = PS_POD_NS_NODE;
        cfg.cgroup_parent = "kubepods-besteffort-podx.slice";
        CHECK(ps_pod_spec_build("id2", NULL, NULL, &cfg, 5, &s, &e) == 0);
        CHECK(!s->ns[PS_SPEC_NS_NETWORK].present && !s->ns[PS_SPEC_NS_UTS].present);
        CHECK(!s->ns[PS_SPEC_NS_PID].present && !s->ns[PS_SPEC_NS_IPC].present);
        CHECK(s->hostname == NULL);
        CHECK(s->oom_score_adj == 5);
        CHECK_STREQ(s->cgroups_path, "kubepods-besteffort-podx.slice:cri-containerd:id2");
        s = ps_spec_free(s);

        /* the pod network without a path: a namespace of the pod's own */
        cfg = default_config;
        cfg.cgroup_parent = NULL;
        CHECK(ps_pod_spec_build("id3", "", NULL, &cfg, 0, &s, &e) == 0);
        CHECK(ps_spec_new_ns(s, PS_SPEC_NS_NETWORK));
        CHECK(s->cgroups_path == NULL);
}

static void test_slice_parent(void)
{
        CHECK(ps_pod_cgroup_parent_is_slice("kubepods.slice"));
        CHECK(ps_pod_cgroup_parent_is_slice("/a.slice/b.slice/"));
        CHECK(!ps_pod_cgroup_parent_is_slice("/kubepods/pod1"));
        CHECK(!ps_pod_cgroup_parent_is_slice(".slice/x"));
        CHECK(!ps_pod_cgroup_parent_is_slice(""));
        CHECK(!ps_pod_cgroup_parent_is_slice(NULL));
}

int main(void)
{
        RUN(test_create_start_events);
        RUN(test_end_waits_for_every_member);
        RUN(test_stop_without_grace);
        RUN(test_stop_with_grace);
        RUN(test_stop_grace_runs_out);
        RUN(test_shutdown_deletes_everything);
        RUN(test_refusals);
        RUN(test_start_twice_and_while_creating);
        RUN(test_failed_create_leaves_nothing);
        RUN(test_vm_profile_picks_the_vm_backend);
        RUN(test_spec_forms);
        RUN(test_slice_parent);
        return check_summary();
}
