#include "agent/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/service.h"
#include "agent/stats_wire.h"
#include "base/version.h"
#include "podshim/agent/v1/agent.pb-c.h"
#include "ttrpc/client.h"

struct ps_agent_client {
        struct ttrpc_client *ttrpc;
};

struct pending;

/* Hands a decoded reply (NULL exactly when err is set) to the caller's
 * callback in the plain types of agent/client.h. */
typedef void (*deliver_fn)(const struct pending *p, const struct ps_err *err,
                           const ProtobufCMessage *reply);

/* One call in flight: the caller's callback and how its reply is decoded;
 * freed when it has run. */
struct pending {
        union {
                ps_agent_hello_fn hello;
                ps_agent_done_fn done;
                ps_agent_pid_fn pid;
                ps_agent_pids_fn pids;
                ps_agent_exits_fn exits;
                ps_agent_output_fn output;
                ps_agent_taken_fn taken;
                ps_agent_stats_fn stats;
        } fn;
        void *data;
        const ProtobufCMessageDescriptor *reply; /* NULL: an Empty reply */
        deliver_fn deliver;
};

struct ps_agent_client *ps_agent_client_new(struct event_base *base, const char *socket_path,
                                            struct ps_err **err)
{
        struct ps_agent_client *c = calloc(1, sizeof(*c));

        if (!c) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "agent client");
                return NULL;
        }
        c->ttrpc = ttrpc_client_new(base, socket_path, err);
        if (!c->ttrpc) {
                free(c);
                return NULL;
        }
        return c;
}

struct ps_agent_client *ps_agent_client_free(struct ps_agent_client *c)
{
        if (!c)
                return NULL;
        ttrpc_client_free(c->ttrpc);
        free(c);
        return NULL;
}

/* Every answer comes here: the reply is decoded by the method's
 * descriptor, a transport error or a reply that does not decode becomes
 * the callback's error, and the pending call is freed after it ran. */
static void on_reply(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ProtobufCMessage *reply = NULL;
        struct ps_err bad = {.code = PS_INTERNAL};
        char msg[160];

        if (!err && p->reply) {
                reply = protobuf_c_message_unpack(p->reply, NULL, len, payload);
                if (!reply) {
                        snprintf(msg, sizeof(msg), "agent: malformed %s", p->reply->name);
                        bad.msg = msg;
                        err = &bad;
                }
        }
        p->deliver(p, err, reply);
        if (reply)
                protobuf_c_message_free_unpacked(reply, NULL);
        free(p);
}

/* Queues method(req) whose reply `reply` (NULL: Empty) goes to deliver,
 * then to fn(data); -1 with err when it could not be queued (fn never
 * runs). */
static int call(struct ps_agent_client *c, const char *method, const ProtobufCMessage *req,
                unsigned timeout_ms, const ProtobufCMessageDescriptor *reply, deliver_fn deliver,
                struct pending proto, struct ps_err **err)
{
        struct pending *p = malloc(sizeof(*p));

        if (!p)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "agent %s", method);
        *p = proto;
        p->reply = reply;
        p->deliver = deliver;
        if (ttrpc_client_call(c->ttrpc, PS_AGENT_SERVICE_NAME, method, req, NULL, 0, timeout_ms,
                              on_reply, p, err) < 0) {
                free(p);
                return ps_err_prefix(err, "agent %s", method);
        }
        return 0;
}

#define PENDING(member, f, d) ((struct pending){.fn.member = (f), .data = (d)})

/* ---- the replies, each in the caller's plain types -------------------------- */

static void deliver_done(const struct pending *p, const struct ps_err *err,
                         const ProtobufCMessage *reply)
{
        (void)reply;
        p->fn.done(p->data, err);
}

static void deliver_hello(const struct pending *p, const struct ps_err *err,
                          const ProtobufCMessage *reply)
{
        const Podshim__Agent__V1__HelloResponse *r = (const void *)reply;
        struct ps_agent_hello h;

        if (!r)
                return p->fn.hello(p->data, err, NULL);
        h = (struct ps_agent_hello){.version = r->version,
                                    .kernel_release = r->kernel_release,
                                    .boot_id = r->boot_id,
                                    .pid = r->pid};
        p->fn.hello(p->data, NULL, &h);
}

/* CreateContainerResponse, StartContainerResponse and ExecProcessResponse
 * all carry one `uint32 pid`: read it through the reply's descriptor. */
static uint32_t pid_of(const ProtobufCMessage *reply)
{
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(reply->descriptor, "pid");

        if (!f || f->type != PROTOBUF_C_TYPE_UINT32 || f->label != PROTOBUF_C_LABEL_NONE)
                return 0;
        return *(const uint32_t *)(const void *)((const char *)reply + f->offset);
}

static void deliver_pid(const struct pending *p, const struct ps_err *err,
                        const ProtobufCMessage *reply)
{
        p->fn.pid(p->data, err, reply ? pid_of(reply) : 0);
}

static void deliver_pids(const struct pending *p, const struct ps_err *err,
                         const ProtobufCMessage *reply)
{
        const Podshim__Agent__V1__PidsResponse *r = (const void *)reply;

        p->fn.pids(p->data, err, r ? r->pids : NULL, r ? r->n_pids : 0);
}

#define EXITS_MAX 64 /* agent/service.h PS_AGENT_EXITS_PER_REPLY */

static void deliver_exits(const struct pending *p, const struct ps_err *err,
                          const ProtobufCMessage *reply)
{
        static const struct ps_err bad = {.code = PS_INTERNAL,
                                          .msg = (char *)(uintptr_t) "agent: malformed answer"};
        const Podshim__Agent__V1__WaitExitsResponse *r = (const void *)reply;
        struct ps_agent_exit_info out[EXITS_MAX];
        size_t n = 0;

        if (r && (r->n_exits == 0 || r->n_exits > EXITS_MAX))
                err = &bad;
        if (err)
                return p->fn.exits(p->data, err, NULL, 0);
        for (; n < r->n_exits; n++) {
                const Podshim__Agent__V1__Exit *e = r->exits[n];

                out[n] = (struct ps_agent_exit_info){.seq = e->seq,
                                                     .id = e->id,
                                                     .exec_id = e->exec_id,
                                                     .pid = e->pid,
                                                     .exit_status = e->exit_status,
                                                     .exited_at_ns = e->exited_at_unix_nano,
                                                     .oom = e->oom};
        }
        p->fn.exits(p->data, NULL, out, n);
}

static void deliver_output(const struct pending *p, const struct ps_err *err,
                           const ProtobufCMessage *reply)
{
        const Podshim__Agent__V1__ReadOutputResponse *r = (const void *)reply;

        if (!r)
                return p->fn.output(p->data, err, NULL, 0, 0, false);
        p->fn.output(p->data, NULL, r->data.data, r->data.len, r->next_offset, r->eof);
}

static void deliver_taken(const struct pending *p, const struct ps_err *err,
                          const ProtobufCMessage *reply)
{
        const Podshim__Agent__V1__WriteStdinResponse *r = (const void *)reply;

        p->fn.taken(p->data, err, r ? r->taken : 0);
}

/* ---- the calls ------------------------------------------------------------ */

int ps_agent_client_hello(struct ps_agent_client *c, unsigned timeout_ms, ps_agent_hello_fn fn,
                          void *data, struct ps_err **err)
{
        Podshim__Agent__V1__HelloRequest req = PODSHIM__AGENT__V1__HELLO_REQUEST__INIT;

        req.host_version = (char *)(uintptr_t)ps_build_version;
        return call(c, "Hello", &req.base, timeout_ms,
                    &podshim__agent__v1__hello_response__descriptor, deliver_hello,
                    PENDING(hello, fn, data), err);
}

int ps_agent_client_shutdown(struct ps_agent_client *c, unsigned timeout_ms, ps_agent_done_fn fn,
                             void *data, struct ps_err **err)
{
        return call(c, "Shutdown", NULL, timeout_ms, NULL, deliver_done, PENDING(done, fn, data),
                    err);
}

int ps_agent_client_create(struct ps_agent_client *c, const struct ps_agent_container_spec *spec,
                           unsigned timeout_ms, ps_agent_pid_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__CreateContainerRequest req =
            PODSHIM__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;

        req.id = (char *)(uintptr_t)spec->id;
        req.bundle = (char *)(uintptr_t)spec->bundle;
        req.runtime = (char *)(uintptr_t)spec->runtime;
        req.stdin_pipe = spec->stdin_pipe;
        req.stdout_pipe = spec->stdout_pipe;
        req.stderr_pipe = spec->stderr_pipe;
        req.terminal = spec->terminal;
        return call(c, "CreateContainer", &req.base, timeout_ms,
                    &podshim__agent__v1__create_container_response__descriptor, deliver_pid,
                    PENDING(pid, fn, data), err);
}

/* A method taking a ContainerRequest. */
static int container_call(struct ps_agent_client *c, const char *method, const char *id,
                          const char *exec_id, unsigned timeout_ms,
                          const ProtobufCMessageDescriptor *reply, deliver_fn deliver,
                          struct pending proto, struct ps_err **err)
{
        Podshim__Agent__V1__ContainerRequest req = PODSHIM__AGENT__V1__CONTAINER_REQUEST__INIT;

        req.id = (char *)(uintptr_t)id;
        if (exec_id)
                req.exec_id = (char *)(uintptr_t)exec_id;
        return call(c, method, &req.base, timeout_ms, reply, deliver, proto, err);
}

int ps_agent_client_start(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                          ps_agent_pid_fn fn, void *data, struct ps_err **err)
{
        return container_call(c, "StartContainer", id, NULL, timeout_ms,
                              &podshim__agent__v1__start_container_response__descriptor,
                              deliver_pid, PENDING(pid, fn, data), err);
}

int ps_agent_client_signal(struct ps_agent_client *c, const char *id, const char *exec_id, int sig,
                           bool all, unsigned timeout_ms, ps_agent_done_fn fn, void *data,
                           struct ps_err **err)
{
        Podshim__Agent__V1__SignalRequest req = PODSHIM__AGENT__V1__SIGNAL_REQUEST__INIT;

        req.id = (char *)(uintptr_t)id;
        if (exec_id)
                req.exec_id = (char *)(uintptr_t)exec_id;
        req.signal = (uint32_t)sig;
        req.all = all;
        return call(c, "Signal", &req.base, timeout_ms, NULL, deliver_done, PENDING(done, fn, data),
                    err);
}

int ps_agent_client_delete(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                           ps_agent_done_fn fn, void *data, struct ps_err **err)
{
        return container_call(c, "DeleteContainer", id, NULL, timeout_ms, NULL, deliver_done,
                              PENDING(done, fn, data), err);
}

int ps_agent_client_pids(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                         ps_agent_pids_fn fn, void *data, struct ps_err **err)
{
        return container_call(c, "Pids", id, NULL, timeout_ms,
                              &podshim__agent__v1__pids_response__descriptor, deliver_pids,
                              PENDING(pids, fn, data), err);
}

int ps_agent_client_exec(struct ps_agent_client *c, const struct ps_agent_exec_spec *spec,
                         unsigned timeout_ms, ps_agent_pid_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__ExecProcessRequest req = PODSHIM__AGENT__V1__EXEC_PROCESS_REQUEST__INIT;

        req.id = (char *)(uintptr_t)spec->id;
        req.exec_id = (char *)(uintptr_t)spec->exec_id;
        req.process.data = (uint8_t *)(uintptr_t)spec->process;
        req.process.len = strlen(spec->process);
        req.stdin_pipe = spec->stdin_pipe;
        req.stdout_pipe = spec->stdout_pipe;
        req.stderr_pipe = spec->stderr_pipe;
        req.terminal = spec->terminal;
        return call(c, "ExecProcess", &req.base, timeout_ms,
                    &podshim__agent__v1__exec_process_response__descriptor, deliver_pid,
                    PENDING(pid, fn, data), err);
}

int ps_agent_client_delete_exec(struct ps_agent_client *c, const char *id, const char *exec_id,
                                unsigned timeout_ms, ps_agent_done_fn fn, void *data,
                                struct ps_err **err)
{
        return container_call(c, "DeleteExec", id, exec_id, timeout_ms, NULL, deliver_done,
                              PENDING(done, fn, data), err);
}

int ps_agent_client_resize(struct ps_agent_client *c, const char *id, const char *exec_id,
                           uint32_t width, uint32_t height, unsigned timeout_ms,
                           ps_agent_done_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__ResizeRequest req = PODSHIM__AGENT__V1__RESIZE_REQUEST__INIT;

        req.id = (char *)(uintptr_t)id;
        if (exec_id)
                req.exec_id = (char *)(uintptr_t)exec_id;
        req.width = width;
        req.height = height;
        return call(c, "Resize", &req.base, timeout_ms, NULL, deliver_done, PENDING(done, fn, data),
                    err);
}

int ps_agent_client_wait_exits(struct ps_agent_client *c, uint64_t ack, ps_agent_exits_fn fn,
                               void *data, struct ps_err **err)
{
        Podshim__Agent__V1__WaitExitsRequest req = PODSHIM__AGENT__V1__WAIT_EXITS_REQUEST__INIT;

        req.ack = ack;
        return call(c, "WaitExits", &req.base, 0,
                    &podshim__agent__v1__wait_exits_response__descriptor, deliver_exits,
                    PENDING(exits, fn, data), err);
}

int ps_agent_client_read_output(struct ps_agent_client *c, const char *id, const char *exec_id,
                                int stream, uint64_t offset, uint32_t max_bytes,
                                ps_agent_output_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__ReadOutputRequest req = PODSHIM__AGENT__V1__READ_OUTPUT_REQUEST__INIT;

        req.id = (char *)(uintptr_t)id;
        if (exec_id)
                req.exec_id = (char *)(uintptr_t)exec_id;
        req.stream = stream == 1 ? PODSHIM__AGENT__V1__OUTPUT_STREAM__STDERR
                                 : PODSHIM__AGENT__V1__OUTPUT_STREAM__STDOUT;
        req.offset = offset;
        req.max_bytes = max_bytes;
        return call(c, "ReadOutput", &req.base, 0,
                    &podshim__agent__v1__read_output_response__descriptor, deliver_output,
                    PENDING(output, fn, data), err);
}

int ps_agent_client_write_stdin(struct ps_agent_client *c, const char *id, const char *exec_id,
                                uint64_t offset, const uint8_t *bytes, size_t n,
                                ps_agent_taken_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__WriteStdinRequest req = PODSHIM__AGENT__V1__WRITE_STDIN_REQUEST__INIT;

        req.id = (char *)(uintptr_t)id;
        if (exec_id)
                req.exec_id = (char *)(uintptr_t)exec_id;
        req.offset = offset;
        req.data.data = (uint8_t *)(uintptr_t)bytes;
        req.data.len = n;
        return call(c, "WriteStdin", &req.base, 0,
                    &podshim__agent__v1__write_stdin_response__descriptor, deliver_taken,
                    PENDING(taken, fn, data), err);
}

int ps_agent_client_close_stdin(struct ps_agent_client *c, const char *id, const char *exec_id,
                                unsigned timeout_ms, ps_agent_done_fn fn, void *data,
                                struct ps_err **err)
{
        return container_call(c, "CloseStdin", id, exec_id, timeout_ms, NULL, deliver_done,
                              PENDING(done, fn, data), err);
}

/* ---- stats ----------------------------------------------------------------- */

static void deliver_stats(const struct pending *p, const struct ps_err *err,
                          const ProtobufCMessage *reply)
{
        const Podshim__Agent__V1__StatsResponse *r = (const void *)reply;
        struct ps_cgroup_metrics m = {.version = PS_CGROUP_METRICS_V2};
        const struct ps_err no_figures = {.code = PS_INTERNAL,
                                          .msg = (char *)"agent: Stats without cpu or memory"};

        if (!r)
                return p->fn.stats(p->data, err, NULL);
        if (!r->cpu || !r->memory)
                return p->fn.stats(p->data, &no_figures, NULL);
#define CPU(f) m.v2.cpu.f = r->cpu->f;
#define MEM(f) m.v2.memory.f = r->memory->f;
#define EV(f)  m.v2.memory_events.f = r->memory_events->f;
        PS_AGENT_STATS_CPU(CPU)
        PS_AGENT_STATS_MEMORY(MEM)
        if (r->memory_events) {
                m.v2.has_memory_events = true;
                PS_AGENT_STATS_MEMORY_EVENTS(EV)
        }
#undef CPU
#undef MEM
#undef EV
        m.v2.pids.current = r->pids_current;
        m.v2.pids.limit = r->pids_limit;
        p->fn.stats(p->data, NULL, &m);
}

int ps_agent_client_stats(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                          ps_agent_stats_fn fn, void *data, struct ps_err **err)
{
        return container_call(c, "Stats", id, NULL, timeout_ms,
                              &podshim__agent__v1__stats_response__descriptor, deliver_stats,
                              PENDING(stats, fn, data), err);
}

/* ---- network --------------------------------------------------------------- */

#define NET_MAX_IFS    8
#define NET_MAX_ROUTES 64

int ps_agent_client_setup_network(struct ps_agent_client *c, const struct ps_agent_net_iface *ifs,
                                  size_t n_ifs, const struct ps_agent_net_route *routes,
                                  size_t n_routes, unsigned timeout_ms, ps_agent_done_fn fn,
                                  void *data, struct ps_err **err)
{
        Podshim__Agent__V1__SetupNetworkRequest req =
            PODSHIM__AGENT__V1__SETUP_NETWORK_REQUEST__INIT;
        Podshim__Agent__V1__NetworkInterface im[NET_MAX_IFS], *ip[NET_MAX_IFS];
        Podshim__Agent__V1__NetworkRoute rm[NET_MAX_ROUTES], *rp[NET_MAX_ROUTES];

        if (n_ifs > NET_MAX_IFS || n_routes > NET_MAX_ROUTES)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "agent SetupNetwork: too many");
        for (size_t i = 0; i < n_ifs; i++) {
                podshim__agent__v1__network_interface__init(&im[i]);
                im[i].name = (char *)(uintptr_t)ifs[i].name;
                im[i].mac = (char *)(uintptr_t)ifs[i].mac;
                im[i].mtu = ifs[i].mtu;
                im[i].n_addresses = ifs[i].n_addrs;
                im[i].addresses = (char **)(uintptr_t)ifs[i].addrs;
                ip[i] = &im[i];
        }
        for (size_t i = 0; i < n_routes; i++) {
                podshim__agent__v1__network_route__init(&rm[i]);
                rm[i].destination = (char *)(uintptr_t)routes[i].dst;
                rm[i].gateway = (char *)(uintptr_t)(routes[i].gw ? routes[i].gw : "");
                rm[i].device = (char *)(uintptr_t)routes[i].dev;
                rp[i] = &rm[i];
        }
        req.n_interfaces = n_ifs;
        req.interfaces = ip;
        req.n_routes = n_routes;
        req.routes = rp;
        return call(c, "SetupNetwork", &req.base, timeout_ms, NULL, deliver_done,
                    PENDING(done, fn, data), err);
}
