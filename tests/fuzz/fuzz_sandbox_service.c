/* libFuzzer target: the real Sandbox service (api/sandbox_service.c) and
 * Task service on one ttrpc server, as the shim serves them, over the real
 * sandbox layer and task core on the fake backend, driven through a real
 * connection by a program the input encodes (the harness,
 * tests/fuzz/support/fuzz_harness.h, runs it and checks the end).
 *
 * Each input byte pair is one step: a Sandbox API call (CreateSandbox with
 * good, missing, mistyped or garbage options, Start, Platform, Stop with or
 * without grace, Wait, Status, Ping, Shutdown, Metrics), a Task API call on
 * the pod's members or the pod's own task, or what the backend does on its
 * own (a held operation completes or fails, a process exits, its mood
 * changes), or raw bytes: a broken frame (op 20). Ids come from a small set, so
 * calls meet the same pod again. After the program everything held
 * completes, every process exits, the loop runs until the peer's hang-up is
 * seen; then the registry is destroyed without a leak (ASan/LSan). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <event2/event.h>

#include "api/sandbox_service.h"
#include "api/task_service.h"
#include "containerd/runtime/sandbox/v1/sandbox.pb-c.h"
#include "containerd/task/v2/task.pb-c.h"
#include "cri/runtime/v1/pod_sandbox.pb-c.h"
#include "fake_backend.h"
#include "fuzz_harness.h"
#include "sandbox/sandbox.h"

#define SB_(name)     Containerd__Runtime__Sandbox__V1__##name
#define SB_INIT(NAME) CONTAINERD__RUNTIME__SANDBOX__V1__##NAME##__INIT

static const char *const ids[] = {"pod", "c1", "c2"};

struct sandbox_fuzz {
        struct fuzz_harness h;
        struct ps_task_service tsvc;
        struct ps_sandbox_service ssvc;
        struct ttrpc_service desc[PS_TASK_SERVICE_NAMES + 1];
        uint8_t config[512]; /* a packed PodSandboxConfig */
        size_t config_len, config_bad_len;
        uint8_t config_bad[512]; /* one a pod cannot be (network CONTAINER) */
};

static void no_shutdown(void *data)
{
}

static size_t pack_config(uint8_t *out, size_t max, int network)
{
        Runtime__V1__PodSandboxConfig c = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
        Runtime__V1__LinuxPodSandboxConfig lx = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
        Runtime__V1__LinuxSandboxSecurityContext sc =
            RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
        Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry sysctl =
            RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *sysctls[1] = {&sysctl};

        ns.network = (Runtime__V1__NamespaceMode)network;
        ns.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
        sc.namespace_options = &ns;
        sysctl.key = "net.ipv4.ip_unprivileged_port_start";
        sysctl.value = "0";
        lx.cgroup_parent = "/fuzz/pod";
        lx.security_context = &sc;
        lx.sysctls = sysctls;
        lx.n_sysctls = 1;
        c.hostname = "fuzz";
        c.linux_config = &lx;
        if (runtime__v1__pod_sandbox_config__get_packed_size(&c) > max)
                abort();
        return runtime__v1__pod_sandbox_config__pack(&c, out);
}

static void sandbox_call(struct sandbox_fuzz *f, int fd, const char *method,
                         const ProtobufCMessage *msg)
{
        fuzz_harness_call(&f->h, fd, PS_SANDBOX_SERVICE_NAME, method, msg);
}

static void task_call(struct sandbox_fuzz *f, int fd, const char *method,
                      const ProtobufCMessage *msg)
{
        fuzz_harness_call(&f->h, fd, "containerd.task.v3.Task", method, msg);
}

static void create_sandbox(struct sandbox_fuzz *f, int fd, uint8_t a)
{
        SB_(CreateSandboxRequest) r = SB_INIT(CREATE_SANDBOX_REQUEST);
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        char bundle[128];

        /* mostly the pod, sometimes a member's id or a bad bundle */
        r.sandbox_id = (char *)(uintptr_t)ids[(a & 0x30) == 0x30 ? 1 : 0];
        snprintf(bundle, sizeof(bundle), "%s/%s", f->h.dir, r.sandbox_id);
        r.bundle_path = (a & 0x40) ? "relative/bundle" : bundle;
        any.type_url = "runtime.v1.PodSandboxConfig";
        switch (a % 5) {
        case 0:
                any.value.data = f->config;
                any.value.len = f->config_len;
                break;
        case 1:
                any.value.data = f->config_bad;
                any.value.len = f->config_bad_len;
                break;
        case 2:
                any.type_url = "containerd.runc.v1.Options";
                break;
        case 3:
                any.value.data = (uint8_t *)"\x0a\xff\xff";
                any.value.len = 3;
                break;
        default:
                break; /* no options at all */
        }
        r.options = a % 5 == 4 ? NULL : &any;
        r.netns_path = (a & 0x80) ? "/proc/self/ns/net" : "";
        sandbox_call(f, fd, "CreateSandbox", &r.base);
}

static struct ps_process *some_process(struct sandbox_fuzz *f, uint8_t a)
{
        return ps_tasks_process(&f->h.sbs.tasks, ids[a % 3], NULL, NULL);
}

/* One step of the program: op and its argument byte. */
static void step(void *data, int fd, uint8_t op, uint8_t a)
{
        struct sandbox_fuzz *f = data;
        char *id = (char *)(uintptr_t)ids[a % 3];
        char *pod = (a & 0x80) ? "nope" : "pod";
        char bundle[128];

        switch (op % 21) {
        case 0:
                create_sandbox(f, fd, a);
                break;
        case 1: {
                SB_(StartSandboxRequest) r = SB_INIT(START_SANDBOX_REQUEST);
                r.sandbox_id = pod;
                sandbox_call(f, fd, "StartSandbox", &r.base);
                break;
        }
        case 2:
        case 6:
        case 8: {
                /* Platform, Ping and Metrics share the message layout */
                SB_(PlatformRequest) r = SB_INIT(PLATFORM_REQUEST);
                r.sandbox_id = pod;
                sandbox_call(f, fd,
                             op % 21 == 2   ? "Platform"
                             : op % 21 == 6 ? "PingSandbox"
                                            : "SandboxMetrics",
                             &r.base);
                break;
        }
        case 3: {
                SB_(StopSandboxRequest) r = SB_INIT(STOP_SANDBOX_REQUEST);
                r.sandbox_id = pod;
                r.timeout_secs = a & 1;
                sandbox_call(f, fd, "StopSandbox", &r.base);
                break;
        }
        case 4:
        case 7: {
                SB_(WaitSandboxRequest) r = SB_INIT(WAIT_SANDBOX_REQUEST);
                r.sandbox_id = pod;
                sandbox_call(f, fd, op % 21 == 4 ? "WaitSandbox" : "ShutdownSandbox", &r.base);
                break;
        }
        case 5: {
                SB_(SandboxStatusRequest) r = SB_INIT(SANDBOX_STATUS_REQUEST);
                r.sandbox_id = pod;
                r.verbose = a & 1;
                sandbox_call(f, fd, "SandboxStatus", &r.base);
                break;
        }
        case 9: {
                Containerd__Task__V2__CreateTaskRequest r =
                    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
                snprintf(bundle, sizeof(bundle), "%s/%s", f->h.dir, id);
                r.id = id;
                r.bundle = bundle;
                task_call(f, fd, "Create", &r.base);
                break;
        }
        case 10:
        case 12:
        case 13: {
                /* Start, Delete and Wait share the message layout */
                Containerd__Task__V2__StartRequest r = CONTAINERD__TASK__V2__START_REQUEST__INIT;
                r.id = id;
                task_call(f, fd,
                          op % 21 == 10   ? "Start"
                          : op % 21 == 12 ? "Delete"
                                          : "Wait",
                          &r.base);
                break;
        }
        case 11: {
                Containerd__Task__V2__KillRequest r = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
                r.id = id;
                r.signal = 9;
                r.all = a & 0x40;
                task_call(f, fd, "Kill", &r.base);
                break;
        }
        case 14:
        case 15: {
                Containerd__Task__V2__ConnectRequest r =
                    CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
                r.id = id;
                task_call(f, fd, op % 21 == 14 ? "Shutdown" : "Connect", &r.base);
                break;
        }
        case 16: /* a held backend operation completes, or fails */
                fuzz_harness_release(&f->h, a);
                break;
        case 17: { /* a process exits on its own: the infra process, a member */
                struct ps_process *p = some_process(f, a);
                if (p && (ps_process_live(p) || p->state == PS_PROC_CREATED))
                        fake_exit(p, a);
                break;
        }
        case 18:
                fuzz_harness_mood(&f->h, a);
                break;
        case 19:
                fuzz_harness_drains(&f->h, a);
                break;
        case 20:
                fuzz_harness_junk(fd, a);
                break;
        }
}

/* The first init that may still exit (a created one too: one that never
 * started) does; one a round, as an exit may free containers. */
static bool exit_rest(void *data)
{
        struct sandbox_fuzz *f = data;
        struct ps_list *pos, *tmp;
        bool changed = false;

        ps_list_for_each_safe(pos, tmp, &f->h.sbs.tasks.containers)
        {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);

                if (ps_process_live(c->init) || c->init->state == PS_PROC_CREATED) {
                        fake_exit(c->init, 0);
                        changed = true;
                        break; /* an exit may free containers: walk again */
                }
        }
        /* a ShutdownSandbox that ends inside exit handling runs its deletes
         * from the loop (sandbox/lifecycle.c, shutdown_ended) */
        event_base_loop(f->h.base, EVLOOP_NONBLOCK);
        return changed;
}

static const struct ps_sandbox_events no_sandbox_events;

static const struct fuzz_target target = {
    .dir_template = "/tmp/ps-fuzzsb-XXXXXX",
    .sandbox_events = &no_sandbox_events,
    .step = step,
    .exit_rest = exit_rest,
};

static struct sandbox_fuzz *fuzz_init(void)
{
        static struct sandbox_fuzz st;

        fuzz_harness_init(&st.h, &target, &st);
        /* a shim-mode pod's bundle has no spec */
        for (size_t i = 0; i < 3; i++)
                fuzz_harness_bundle(&st.h, ids[i], i == 0 ? NULL : "container");
        st.config_len = pack_config(st.config, sizeof(st.config), 0);
        st.config_bad_len = pack_config(st.config_bad, sizeof(st.config_bad), 1);
        /* grouped, as a shim serving the Sandbox API is (version 3) */
        ps_task_service_init(&st.tsvc, &st.h.sbs, true, no_shutdown, NULL);
        ps_task_service_describe(&st.tsvc, st.desc);
        ps_sandbox_service_init(&st.ssvc, &st.h.sbs, no_shutdown, NULL);
        ps_sandbox_service_describe(&st.ssvc, &st.desc[PS_TASK_SERVICE_NAMES]);
        fuzz_harness_serve(&st.h, st.desc, PS_TASK_SERVICE_NAMES + 1);
        return &st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct sandbox_fuzz *f;

        if (!f)
                f = fuzz_init();
        fuzz_harness_run(&f->h, data, size);
        /* deletes a ShutdownSandbox deferred to the loop (see exit_rest) */
        event_base_loop(f->h.base, EVLOOP_NONBLOCK);
        return 0;
}
