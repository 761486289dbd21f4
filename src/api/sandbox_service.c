#include "api/sandbox_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "api/metrics.h"
#include "api/pod_config.h"
#include "api/rpc.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "containerd/runtime/sandbox/v1/sandbox.pb-c.h"
#include "sandbox/lifecycle.h"

#define SVC(data)     ((struct ps_sandbox_service *)(data))
#define SB_(name)     Containerd__Runtime__Sandbox__V1__##name
#define SB_INIT(NAME) CONTAINERD__RUNTIME__SANDBOX__V1__##NAME##__INIT

/* ---- parked calls ----------------------------------------------------- */

enum { RPC_EMPTY, RPC_START, RPC_SHUTDOWN };

/* A call answered when a lifecycle operation is done. */
struct sb_rpc {
        struct ps_rpc *r;
        struct ps_sandbox_service *svc;
        struct timespec created_at; /* StartSandbox's answer */
};

static struct sb_rpc *sb_rpc_new(struct ps_sandbox_service *svc, struct ttrpc_call *call, int kind)
{
        struct sb_rpc *sr = calloc(1, sizeof(*sr));

        if (!sr) {
                ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED, "out of memory");
                return NULL;
        }
        sr->r = ps_rpc_new(call, kind);
        if (!sr->r) {
                free(sr);
                return NULL;
        }
        sr->svc = svc;
        return sr;
}

static void sb_rpc_free(struct sb_rpc *sr)
{
        ps_rpc_free(sr->r);
        free(sr);
}

/* Nothing left to serve: the shim may go (after the reply is out). */
static void maybe_exit(struct ps_sandbox_service *svc)
{
        if (svc->sandboxes->tasks.n_containers == 0 && ps_list_empty(&svc->sandboxes->sandboxes) &&
            svc->on_shutdown) {
                ps_log_info("ShutdownSandbox: no sandbox or task left");
                svc->on_shutdown(svc->shutdown_data);
        }
}

static void op_done(void *data, struct ps_err *e, const struct ps_op_result *res)
{
        struct sb_rpc *sr = data;
        struct ttrpc_call *call = sr->r->call;
        struct ps_sandbox_service *svc = sr->svc;
        int kind = sr->r->kind;
        struct timespec created = sr->created_at;

        sb_rpc_free(sr);
        if (call && e) {
                ps_rpc_fail(call, e);
        } else if (call && kind == RPC_START) {
                SB_(StartSandboxResponse) resp = SB_INIT(START_SANDBOX_RESPONSE);
                Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

                resp.pid = (uint32_t)res->pid;
                resp.created_at = ps_rpc_time(&created, &ts);
                ttrpc_call_reply(call, &resp.base);
        } else if (call) {
                ttrpc_call_reply(call, NULL); /* every other answer is an empty message */
        }
        ps_err_free(e);
        if (kind == RPC_SHUTDOWN)
                maybe_exit(svc);
}

/* The outcome rc of a lifecycle operation started with sr: -1 failed
 * (with e), 0 parked (sr belongs to the operation, which may even have
 * answered and freed it already), 1 done at once. Callers compute rc in a
 * statement of its own: e is only set once the operation has returned. */
static void run(struct ps_sandbox_service *svc, struct ttrpc_call *call, struct sb_rpc *sr,
                int kind, int rc, struct ps_err *e)
{
        if (rc == 0)
                return;
        sb_rpc_free(sr);
        if (rc < 0)
                ps_rpc_fail(call, e);
        else
                ttrpc_call_reply(call, NULL);
        ps_err_free(e);
        if (kind == RPC_SHUTDOWN)
                maybe_exit(svc);
}

static struct ps_sandbox *find(struct ps_sandbox_service *svc, struct ttrpc_call *call,
                               const char *id)
{
        struct ps_err *e = NULL;
        struct ps_sandbox *sb = ps_sandboxes_get(svc->sandboxes, id, &e);

        if (!sb) {
                ps_rpc_fail(call, e);
                ps_err_free(e);
        }
        return sb;
}

/* ---- CreateSandbox, StartSandbox --------------------------------------- */

static int create_pod(struct ps_sandbox_service *svc, const SB_(CreateSandboxRequest) * req,
                      struct sb_rpc *sr, struct ps_err **err)
{
        _cleanup_(ps_api_pod_config_clear) struct ps_api_pod_config pc = {0};
        _cleanup_free_ struct ps_mount *mounts = NULL;
        struct ps_pod_request pr;

        if (ps_api_pod_config_decode(req->options ? req->options->type_url : NULL,
                                     req->options ? req->options->value.data : NULL,
                                     req->options ? req->options->value.len : 0, &pc, err) < 0)
                return ps_err_prefix(err, "sandbox %.200s", req->sandbox_id);
        mounts = ps_rpc_mounts(req->rootfs, req->n_rootfs, err);
        if (!mounts)
                return -1;
        pr = (struct ps_pod_request){.id = req->sandbox_id,
                                     .bundle = req->bundle_path,
                                     .netns_path = req->netns_path,
                                     .rootfs = mounts,
                                     .n_rootfs = req->n_rootfs,
                                     .config = &pc.cfg};
        return ps_sandboxes_create_pod(svc->sandboxes, &pr, op_done, sr, err);
}

static void h_create(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const SB_(CreateSandboxRequest) *req = (const void *)m;
        struct sb_rpc *sr = sb_rpc_new(SVC(data), call, RPC_EMPTY);
        struct ps_err *e = NULL;

        if (sr) {
                int rc = create_pod(SVC(data), req, sr, &e);

                run(SVC(data), call, sr, RPC_EMPTY, rc, e);
        }
}

static void h_start(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const SB_(StartSandboxRequest) *req = (const void *)m;
        struct ps_sandbox *sb = find(SVC(data), call, req->sandbox_id);
        struct ps_err *e = NULL;
        struct sb_rpc *sr;
        int rc;

        if (!sb || !(sr = sb_rpc_new(SVC(data), call, RPC_START)))
                return;
        sr->created_at = sb->created_at;
        rc = ps_sandbox_start(sb, op_done, sr, &e);
        run(SVC(data), call, sr, RPC_START, rc, e);
}

/* ---- Platform, Ping --------------------------------------------------- */

const char *ps_sandbox_platform_arch(void)
{
#if defined(__x86_64__)
        return "amd64";
#elif defined(__aarch64__)
        return "arm64";
#elif defined(__arm__)
        return "arm";
#elif defined(__i386__)
        return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return "ppc64le";
#elif defined(__powerpc64__)
        return "ppc64";
#elif defined(__s390x__)
        return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
        return "riscv64";
#elif defined(__loongarch64)
        return "loong64";
#elif defined(__mips64) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return "mips64le";
#else
#error "no GOARCH name for this architecture: add it to ps_sandbox_platform_arch"
#endif
}

const char *ps_sandbox_platform_variant(void)
{
#if defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7
        return "v7";
#elif defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH == 6
        return "v6";
#elif defined(__arm__)
        return "v5";
#else
        return "";
#endif
}

static void h_platform(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const SB_(PlatformRequest) *req = (const void *)m;
        SB_(PlatformResponse) resp = SB_INIT(PLATFORM_RESPONSE);
        Containerd__Types__Platform p = CONTAINERD__TYPES__PLATFORM__INIT;

        if (!find(SVC(data), call, req->sandbox_id))
                return;
        p.os = "linux";
        p.architecture = (char *)(uintptr_t)ps_sandbox_platform_arch();
        p.variant = (char *)(uintptr_t)ps_sandbox_platform_variant();
        resp.platform = &p;
        ttrpc_call_reply(call, &resp.base);
}

static void h_ping(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const SB_(PingRequest) *req = (const void *)m;

        if (find(SVC(data), call, req->sandbox_id))
                ttrpc_call_reply(call, NULL);
}

/* ---- StopSandbox, ShutdownSandbox --------------------------------------- */

static void h_stop(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const SB_(StopSandboxRequest) *req = (const void *)m;
        struct ps_sandbox *sb = find(SVC(data), call, req->sandbox_id);
        struct ps_err *e = NULL;
        struct sb_rpc *sr;
        int rc;

        if (!sb || !(sr = sb_rpc_new(SVC(data), call, RPC_EMPTY)))
                return;
        rc = ps_sandbox_stop(sb, req->timeout_secs, op_done, sr, &e);
        run(SVC(data), call, sr, RPC_EMPTY, rc, e);
}

static void h_shutdown(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const SB_(ShutdownSandboxRequest) *req = (const void *)m;
        struct ps_sandbox_service *svc = SVC(data);
        struct ps_err *e = NULL;
        struct ps_sandbox *sb = ps_sandboxes_get(svc->sandboxes, req->sandbox_id, &e);
        struct sb_rpc *sr;

        if (!sb) {
                /* containerd's cleanup after a failed CreateSandbox asks
                 * for a sandbox that never was: the answer is the truth,
                 * and a shim with nothing to serve goes all the same. */
                ps_rpc_fail(call, e);
                ps_err_free(e);
                maybe_exit(svc);
                return;
        }
        sr = sb_rpc_new(svc, call, RPC_SHUTDOWN);
        if (sr) {
                int rc = ps_sandbox_shutdown(sb, op_done, sr, &e);

                run(svc, call, sr, RPC_SHUTDOWN, rc, e);
        }
}

/* ---- WaitSandbox -------------------------------------------------------- */

struct wait_rpc {
        struct ttrpc_call *call;
        struct ps_sandbox_waiter *w;
};

static void wait_reply(struct ttrpc_call *call, const struct ps_sandbox *sb)
{
        SB_(WaitSandboxResponse) resp = SB_INIT(WAIT_SANDBOX_RESPONSE);
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

        resp.exit_status = sb->exit_status;
        resp.exited_at = ps_rpc_time(&sb->exited_at, &ts);
        ttrpc_call_reply(call, &resp.base);
}

static void wait_released(void *data, struct ps_sandbox *sb)
{
        struct wait_rpc *wr = data;

        ttrpc_call_on_cancel(wr->call, NULL, NULL);
        if (sb->exited)
                wait_reply(wr->call, sb);
        else
                ttrpc_call_failf(wr->call, PS_NOT_FOUND,
                                 "sandbox %s was deleted before it ended: not found", sb->id);
        free(wr);
}

static void wait_cancelled(struct ttrpc_call *call, void *data)
{
        struct wait_rpc *wr = data;

        ps_sandbox_remove_waiter(wr->w);
        free(wr);
}

static void h_wait(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const SB_(WaitSandboxRequest) *req = (const void *)m;
        struct ps_sandbox *sb = find(SVC(data), call, req->sandbox_id);
        struct ps_err *e = NULL;
        struct wait_rpc *wr;

        if (!sb)
                return;
        if (ps_sandbox_ended(sb)) {
                wait_reply(call, sb);
                return;
        }
        wr = calloc(1, sizeof(*wr));
        if (!wr) {
                ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED, "out of memory");
                return;
        }
        wr->call = call;
        wr->w = ps_sandbox_add_waiter(sb, wait_released, wr, &e);
        if (!wr->w) {
                free(wr);
                ps_rpc_fail(call, e);
                ps_err_free(e);
                return;
        }
        ttrpc_call_on_cancel(call, wait_cancelled, wr);
}

/* ---- SandboxStatus ------------------------------------------------------ */

/* containerd's task status names, as CRI's processStatus shows them */
static const char *process_status(const struct ps_sandbox *sb)
{
        static const char *const names[] = {"unknown", "created", "running",
                                            "stopped", "paused",  "pausing"};
        enum ps_task_status st = sb->task ? ps_process_status(sb->task->init) : PS_TASK_STOPPED;

        return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

/* An OCI spec's id mappings ({containerID, hostID, size}); none: no key. */
static void add_id_mappings(cJSON *lx, const char *key, const struct ps_idmap *m, size_t n)
{
        cJSON *a;

        if (!n || !(a = cJSON_AddArrayToObject(lx, key)))
                return;
        for (size_t i = 0; i < n; i++) {
                cJSON *o = cJSON_CreateObject();

                if (!o)
                        return;
                cJSON_AddNumberToObject(o, "containerID", m[i].container_id);
                cJSON_AddNumberToObject(o, "hostID", m[i].host_id);
                cJSON_AddNumberToObject(o, "size", m[i].size);
                cJSON_AddItemToArray(a, o);
        }
}

static cJSON *spec_json(const struct ps_spec *spec)
{
        static const char *const ns_names[PS_SPEC_NS_COUNT] = {"pid", "network", "mount",  "ipc",
                                                               "uts", "user",    "cgroup", "time"};
        cJSON *rs = cJSON_CreateObject(), *lx = cJSON_CreateObject(), *nss = cJSON_CreateArray();

        if (!rs || !lx || !nss) {
                cJSON_Delete(rs);
                cJSON_Delete(lx);
                cJSON_Delete(nss);
                return NULL;
        }
        cJSON_AddItemToObject(rs, "linux", lx);
        cJSON_AddItemToObject(lx, "namespaces", nss);
        if (spec->hostname)
                cJSON_AddStringToObject(rs, "hostname", spec->hostname);
        if (spec->cgroups_path)
                cJSON_AddStringToObject(lx, "cgroupsPath", spec->cgroups_path);
        for (int t = 0; t < PS_SPEC_NS_COUNT; t++) {
                cJSON *ns;

                if (!spec->ns[t].present || !(ns = cJSON_CreateObject()))
                        continue;
                cJSON_AddStringToObject(ns, "type", ns_names[t]);
                if (spec->ns[t].path)
                        cJSON_AddStringToObject(ns, "path", spec->ns[t].path);
                cJSON_AddItemToArray(nss, ns);
        }
        add_id_mappings(lx, "uidMappings", spec->uid_mappings, spec->n_uid_mappings);
        add_id_mappings(lx, "gidMappings", spec->gid_mappings, spec->n_gid_mappings);
        return rs;
}

/* info["info"]: CRI's sandbox info keys where podshim has the value. */
static char *status_info(struct ps_sandbox_service *svc, const struct ps_sandbox *sb)
{
        cJSON *o = cJSON_CreateObject(), *members = cJSON_CreateArray();
        struct ps_tasks *t = &svc->sandboxes->tasks;
        struct ps_list *pos;
        char *text;

        if (!o || !members) {
                cJSON_Delete(o);
                cJSON_Delete(members);
                return NULL;
        }
        cJSON_AddNumberToObject(o, "pid", ps_sandbox_pid(sb));
        cJSON_AddStringToObject(o, "processStatus", process_status(sb));
        cJSON_AddStringToObject(o, "sandboxer", sb->api ? "podshim" : "podsandbox");
        if (sb->task)
                cJSON_AddStringToObject(o, "bundle", sb->task->bundle);
        if (sb->spec)
                cJSON_AddItemToObject(o, "runtimeSpec", spec_json(sb->spec));
        for (pos = t->containers.next; pos != &t->containers; pos = pos->next) {
                struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                if (ps_sandbox_is_member(sb, c))
                        cJSON_AddItemToArray(members, cJSON_CreateString(c->id));
        }
        cJSON_AddItemToObject(o, "members", members);
        text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return text;
}

static void h_status(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const SB_(SandboxStatusRequest) *req = (const void *)m;
        struct ps_sandbox *sb = find(SVC(data), call, req->sandbox_id);
        SB_(SandboxStatusResponse) resp = SB_INIT(SANDBOX_STATUS_RESPONSE);
        SB_(SandboxStatusResponse__InfoEntry) entry = SB_INIT(SANDBOX_STATUS_RESPONSE__INFO_ENTRY);
        SB_(SandboxStatusResponse__InfoEntry) * entries[1] = {&entry};
        Google__Protobuf__Timestamp created = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        Google__Protobuf__Timestamp exited = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        _cleanup_free_ char *info = NULL;

        if (!sb)
                return;
        resp.sandbox_id = sb->id;
        resp.pid = (uint32_t)ps_sandbox_pid(sb);
        resp.state = ps_sandbox_ready(sb) ? "SANDBOX_READY" : "SANDBOX_NOTREADY";
        resp.created_at = ps_rpc_time(&sb->created_at, &created);
        resp.exited_at = sb->exited ? ps_rpc_time(&sb->exited_at, &exited) : NULL;
        if (req->verbose) {
                info = status_info(SVC(data), sb);
                if (!info) {
                        ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED, "out of memory");
                        return;
                }
                entry.key = "info";
                entry.value = info;
                resp.info = entries;
                resp.n_info = 1;
        }
        ttrpc_call_reply(call, &resp.base);
}

/* ---- SandboxMetrics ----------------------------------------------------- */

static void h_metrics(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const SB_(SandboxMetricsRequest) *req = (const void *)m;
        struct ps_sandbox *sb = find(SVC(data), call, req->sandbox_id);
        SB_(SandboxMetricsResponse) resp = SB_INIT(SANDBOX_METRICS_RESPONSE);
        Containerd__Types__Metric metric = CONTAINERD__TYPES__METRIC__INIT;
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        _cleanup_(ps_metrics_clear) struct ps_metrics metrics = {0};
        _cleanup_free_ uint8_t *value = NULL;
        const char *type_url = NULL;
        struct ps_err *e = NULL;
        struct timespec now;
        size_t len = 0;

        if (!sb)
                return;
        if (ps_sandbox_metrics(sb, &metrics, &e) < 0 ||
            ps_api_metrics_pack(&metrics, &type_url, &value, &len, &e) < 0) {
                ps_rpc_fail(call, e);
                ps_err_free(e);
                return;
        }
        clock_gettime(CLOCK_REALTIME, &now);
        any.type_url = (char *)(uintptr_t)type_url;
        any.value.data = value;
        any.value.len = len;
        metric.timestamp = ps_rpc_time(&now, &ts);
        metric.id = sb->id;
        metric.data = &any;
        resp.metrics = &metric;
        ttrpc_call_reply(call, &resp.base);
}

/* ---- the service -------------------------------------------------------- */

#define M(name, type, fn)                                                                          \
        {                                                                                          \
                name, &containerd__runtime__sandbox__v1__##type##__descriptor, fn                  \
        }

static const struct ttrpc_method sandbox_methods[] = {
    M("CreateSandbox", create_sandbox_request, h_create),
    M("StartSandbox", start_sandbox_request, h_start),
    M("Platform", platform_request, h_platform),
    M("StopSandbox", stop_sandbox_request, h_stop),
    M("WaitSandbox", wait_sandbox_request, h_wait),
    M("SandboxStatus", sandbox_status_request, h_status),
    M("PingSandbox", ping_request, h_ping),
    M("ShutdownSandbox", shutdown_sandbox_request, h_shutdown),
    M("SandboxMetrics", sandbox_metrics_request, h_metrics),
};

void ps_sandbox_service_init(struct ps_sandbox_service *s, struct ps_sandboxes *sandboxes,
                             void (*on_shutdown)(void *data), void *data)
{
        s->sandboxes = sandboxes;
        s->on_shutdown = on_shutdown;
        s->shutdown_data = data;
}

void ps_sandbox_service_describe(struct ps_sandbox_service *s, struct ttrpc_service *ret)
{
        *ret = (struct ttrpc_service){.name = PS_SANDBOX_SERVICE_NAME,
                                      .methods = sandbox_methods,
                                      .n_methods =
                                          sizeof(sandbox_methods) / sizeof(sandbox_methods[0]),
                                      .data = s};
}
