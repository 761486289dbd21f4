/* libFuzzer target: the real Sandbox service (api/sandbox_service.c) and
 * Task service on one ttrpc server, as the shim serves them, over the real
 * sandbox layer and task core on the fake backend, driven through a real
 * connection by a program the input encodes.
 *
 * Each input byte pair is one step: a Sandbox API call (CreateSandbox with
 * good, missing, mistyped or garbage options, Start, Platform, Stop with or
 * without grace, Wait, Status, Ping, Shutdown, Metrics), a Task API call on
 * the pod's members or the pod's own task, what the backend does on its
 * own (a held operation completes or fails, a process exits, its mood
 * changes), or a burst of raw bytes. Ids come from a small set, so calls
 * meet the same pod again. After the program everything held completes,
 * every process exits, the loop runs until the peer's hang-up is seen;
 * then the registry is destroyed without a leak (ASan/LSan). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>

#include "api/sandbox_service.h"
#include "api/task_service.h"
#include "base/log.h"
#include "containerd/runtime/sandbox/v1/sandbox.pb-c.h"
#include "containerd/task/v2/task.pb-c.h"
#include "cri/runtime/v1/pod_sandbox.pb-c.h"
#include "fake_backend.h"
#include "sandbox/sandbox.h"
#include "ttrpc/server.h"
#include "ttrpc/ttrpc.pb-c.h"

#define SB_(name)     Containerd__Runtime__Sandbox__V1__##name
#define SB_INIT(NAME) CONTAINERD__RUNTIME__SANDBOX__V1__##NAME##__INIT

static const char *const ids[] = {"pod", "c1", "c2"};

struct fuzz {
        struct event_base *base;
        struct ttrpc_server *srv;
        struct fake_backend fb;
        struct fake_events ev;
        struct ps_sandboxes sbs;
        struct ps_task_service tsvc;
        struct ps_sandbox_service ssvc;
        struct ttrpc_service desc[PS_TASK_SERVICE_NAMES + 1];
        char dir[64];
        uint32_t stream;
        uint8_t config[512]; /* a packed PodSandboxConfig */
        size_t config_len, config_bad_len;
        uint8_t config_bad[512]; /* one a pod cannot be (network CONTAINER) */
};

static struct fuzz *fz;

static void no_shutdown(void *data)
{
}

static void write_bundle(const char *dir, const char *id)
{
        char path[160];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, id);
        mkdir(path, 0700);
        if (strcmp(id, "pod") == 0)
                return; /* a shim-mode pod's bundle has no spec */
        snprintf(path, sizeof(path), "%s/%s/config.json", dir, id);
        f = fopen(path, "w");
        if (!f)
                abort();
        fprintf(f, "{\"process\":{\"args\":[\"x\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},"
                   "\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
                   "\"io.kubernetes.cri.sandbox-id\":\"pod\"}}");
        fclose(f);
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

static struct fuzz *fuzz_init(void)
{
        static struct fuzz st;
        int lfd;

        ps_log_setup(PS_LOG_ERROR, NULL, NULL);
        snprintf(st.dir, sizeof(st.dir), "/tmp/ps-fuzzsb-XXXXXX");
        if (!mkdtemp(st.dir))
                abort();
        for (size_t i = 0; i < 3; i++)
                write_bundle(st.dir, ids[i]);
        st.config_len = pack_config(st.config, sizeof(st.config), 0);
        st.config_bad_len = pack_config(st.config_bad, sizeof(st.config_bad), 1);
        st.base = event_base_new();
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (!st.base || lfd < 0 ||
            bind(lfd, (struct sockaddr *)&(struct sockaddr_un){.sun_family = AF_UNIX},
                 sizeof(sa_family_t)) < 0 ||
            listen(lfd, 1) < 0)
                abort();
        /* grouped, as a shim serving the Sandbox API is (version 3) */
        ps_task_service_init(&st.tsvc, &st.sbs, true, no_shutdown, NULL);
        ps_task_service_describe(&st.tsvc, st.desc);
        ps_sandbox_service_init(&st.ssvc, &st.sbs, no_shutdown, NULL);
        ps_sandbox_service_describe(&st.ssvc, &st.desc[PS_TASK_SERVICE_NAMES]);
        st.srv = ttrpc_server_new(st.base, lfd, st.desc, PS_TASK_SERVICE_NAMES + 1, NULL);
        if (!st.srv)
                abort();
        return &st;
}

static const struct ps_sandbox_events no_sandbox_events;

static void registry_init(struct fuzz *f)
{
        fake_backend_init(&f->fb);
        fake_events_init(&f->ev);
        ps_sandboxes_init(&f->sbs, &f->ev.sink, &no_sandbox_events, f->base, NULL, "fuzz", f->dir);
        f->sbs.pod_ops = &f->fb.ops;
        f->sbs.container_ops = &f->fb.ops;
        f->sbs.be_ctx = &f->fb;
}

static void drain(int fd)
{
        uint8_t sink[4096];

        while (read(fd, sink, sizeof(sink)) > 0)
                ;
}

static void send_call(int fd, const char *service, const char *method, const ProtobufCMessage *msg)
{
        Ttrpc__Request req = TTRPC__REQUEST__INIT;
        uint8_t payload[4096], frame[8192];
        size_t plen = msg ? protobuf_c_message_get_packed_size(msg) : 0, len;

        if (plen > sizeof(payload))
                return;
        if (msg)
                protobuf_c_message_pack(msg, payload);
        req.service = (char *)(uintptr_t)service;
        req.method = (char *)(uintptr_t)method;
        req.payload.data = payload;
        req.payload.len = plen;
        len = ttrpc__request__get_packed_size(&req);
        if (len + 10 > sizeof(frame))
                return;
        frame[0] = (uint8_t)(len >> 24);
        frame[1] = (uint8_t)(len >> 16);
        frame[2] = (uint8_t)(len >> 8);
        frame[3] = (uint8_t)len;
        fz->stream += 2;
        frame[4] = (uint8_t)(fz->stream >> 24);
        frame[5] = (uint8_t)(fz->stream >> 16);
        frame[6] = (uint8_t)(fz->stream >> 8);
        frame[7] = (uint8_t)fz->stream;
        frame[8] = 1; /* request */
        frame[9] = 0;
        ttrpc__request__pack(&req, frame + 10);
        if (write(fd, frame, len + 10) < 0 && errno != EAGAIN)
                return;
}

static void sandbox_call(int fd, const char *method, const ProtobufCMessage *msg)
{
        send_call(fd, PS_SANDBOX_SERVICE_NAME, method, msg);
}

static void task_call(int fd, const char *method, const ProtobufCMessage *msg)
{
        send_call(fd, "containerd.task.v3.Task", method, msg);
}

static void create_sandbox(int fd, uint8_t a)
{
        SB_(CreateSandboxRequest) r = SB_INIT(CREATE_SANDBOX_REQUEST);
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        char bundle[128];

        /* mostly the pod, sometimes a member's id or a bad bundle */
        r.sandbox_id = (char *)(uintptr_t)ids[(a & 0x30) == 0x30 ? 1 : 0];
        snprintf(bundle, sizeof(bundle), "%s/%s", fz->dir, r.sandbox_id);
        r.bundle_path = (a & 0x40) ? "relative/bundle" : bundle;
        any.type_url = "runtime.v1.PodSandboxConfig";
        switch (a % 5) {
        case 0:
                any.value.data = fz->config;
                any.value.len = fz->config_len;
                break;
        case 1:
                any.value.data = fz->config_bad;
                any.value.len = fz->config_bad_len;
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
        sandbox_call(fd, "CreateSandbox", &r.base);
}

static struct ps_process *some_process(uint8_t a)
{
        return ps_tasks_process(&fz->sbs.tasks, ids[a % 3], NULL, NULL);
}

/* One step of the program: op and its argument byte. */
static void step(int fd, uint8_t op, uint8_t a)
{
        char *id = (char *)(uintptr_t)ids[a % 3];
        char *pod = (a & 0x80) ? "nope" : "pod";
        char bundle[128];

        switch (op % 20) {
        case 0:
                create_sandbox(fd, a);
                break;
        case 1: {
                SB_(StartSandboxRequest) r = SB_INIT(START_SANDBOX_REQUEST);
                r.sandbox_id = pod;
                sandbox_call(fd, "StartSandbox", &r.base);
                break;
        }
        case 2:
        case 6:
        case 8: {
                /* Platform, Ping and Metrics share the message layout */
                SB_(PlatformRequest) r = SB_INIT(PLATFORM_REQUEST);
                r.sandbox_id = pod;
                sandbox_call(fd,
                             op % 20 == 2   ? "Platform"
                             : op % 20 == 6 ? "PingSandbox"
                                            : "SandboxMetrics",
                             &r.base);
                break;
        }
        case 3: {
                SB_(StopSandboxRequest) r = SB_INIT(STOP_SANDBOX_REQUEST);
                r.sandbox_id = pod;
                r.timeout_secs = a & 1;
                sandbox_call(fd, "StopSandbox", &r.base);
                break;
        }
        case 4:
        case 7: {
                SB_(WaitSandboxRequest) r = SB_INIT(WAIT_SANDBOX_REQUEST);
                r.sandbox_id = pod;
                sandbox_call(fd, op % 20 == 4 ? "WaitSandbox" : "ShutdownSandbox", &r.base);
                break;
        }
        case 5: {
                SB_(SandboxStatusRequest) r = SB_INIT(SANDBOX_STATUS_REQUEST);
                r.sandbox_id = pod;
                r.verbose = a & 1;
                sandbox_call(fd, "SandboxStatus", &r.base);
                break;
        }
        case 9: {
                Containerd__Task__V2__CreateTaskRequest r =
                    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
                snprintf(bundle, sizeof(bundle), "%s/%s", fz->dir, id);
                r.id = id;
                r.bundle = bundle;
                task_call(fd, "Create", &r.base);
                break;
        }
        case 10:
        case 12:
        case 13: {
                /* Start, Delete and Wait share the message layout */
                Containerd__Task__V2__StartRequest r = CONTAINERD__TASK__V2__START_REQUEST__INIT;
                r.id = id;
                task_call(fd, op % 20 == 10 ? "Start" : op % 20 == 12 ? "Delete" : "Wait", &r.base);
                break;
        }
        case 11: {
                Containerd__Task__V2__KillRequest r = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
                r.id = id;
                r.signal = 9;
                r.all = a & 0x40;
                task_call(fd, "Kill", &r.base);
                break;
        }
        case 14:
        case 15: {
                Containerd__Task__V2__ConnectRequest r =
                    CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
                r.id = id;
                task_call(fd, op % 20 == 14 ? "Shutdown" : "Connect", &r.base);
                break;
        }
        case 16: /* a held backend operation completes, or fails */
                if (fz->fb.n_held) {
                        struct ps_err *e = NULL;
                        if (a & 1)
                                ps_err_set(&e, PS_UNKNOWN, "fuzzed failure");
                        fake_release(&fz->fb, a % fz->fb.n_held, e);
                }
                break;
        case 17: { /* a process exits on its own: the infra process, a member */
                struct ps_process *p = some_process(a);
                if (p && (ps_process_live(p) || p->state == PS_PROC_CREATED))
                        fake_exit(p, a);
                break;
        }
        case 18:
                fz->fb.mode = (enum fake_mode)(a % 3);
                break;
        case 19:
                fake_release_drains(&fz->fb);
                fz->fb.hold_drain = a & 1;
                break;
        default: { /* raw bytes: a broken frame */
                uint8_t junk[16];
                memset(junk, a, sizeof(junk));
                if (write(fd, junk, 1 + a % sizeof(junk)) < 0 && errno != EAGAIN)
                        return;
                break;
        }
        }
}

/* Lets the backend finish everything: held calls complete, drains end,
 * every process that may still exit does; until nothing changes. */
static void settle(void)
{
        for (int round = 0; round < 64; round++) {
                struct ps_list *pos, *tmp;
                bool changed = false;

                fz->fb.mode = FAKE_OK;
                fz->fb.hold_drain = false;
                while (fz->fb.n_held) {
                        fake_release(&fz->fb, 0, NULL);
                        changed = true;
                }
                if (fz->fb.n_drains) {
                        fake_release_drains(&fz->fb);
                        changed = true;
                }
                ps_list_for_each_safe(pos, tmp, &fz->sbs.tasks.containers)
                {
                        struct ps_container *c = ps_list_entry(pos, struct ps_container, link);

                        if (ps_process_live(c->init) || c->init->state == PS_PROC_CREATED) {
                                fake_exit(c->init, 0);
                                changed = true;
                                break; /* an exit may free containers: walk again */
                        }
                }
                event_base_loop(fz->base, EVLOOP_NONBLOCK);
                if (!changed)
                        return;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        int fds[2];

        if (!fz)
                fz = fuzz_init();
        registry_init(fz);
        fz->stream = 1;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                abort();
        if (ttrpc_server_adopt(fz->srv, fds[0], NULL) < 0)
                abort();
        for (size_t i = 0; i + 1 < size && i < 512; i += 2) {
                step(fds[1], data[i], data[i + 1]);
                event_base_loop(fz->base, EVLOOP_NONBLOCK);
                drain(fds[1]);
        }
        settle();
        event_base_loop(fz->base, EVLOOP_NONBLOCK);
        drain(fds[1]);
        shutdown(fds[1], SHUT_WR);
        for (int i = 0; i < 100000 && ttrpc_server_connections(fz->srv); i++) {
                event_base_loop(fz->base, EVLOOP_NONBLOCK);
                drain(fds[1]);
        }
        if (ttrpc_server_connections(fz->srv))
                abort(); /* the server must notice the hang-up */
        close(fds[1]);
        /* what is left is freed by destroy, as when the shim exits */
        ps_sandboxes_destroy(&fz->sbs);
        event_base_loop(fz->base, EVLOOP_NONBLOCK);
        return 0;
}
