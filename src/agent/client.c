#include "agent/client.h"

#include <errno.h>
#include <stdlib.h>

#include "agent/service.h"
#include "agent/stats_wire.h"
#include "base/version.h"
#include "podshim/agent/v1/agent.pb-c.h"
#include "ttrpc/client.h"

struct ps_agent_client {
        struct ttrpc_client *ttrpc;
};

/* One call in flight: the caller's callback, freed when it has run. */
struct pending {
        union {
                ps_agent_hello_fn hello;
                ps_agent_done_fn done;
                ps_agent_pid_fn pid;
                ps_agent_pids_fn pids;
                ps_agent_exits_fn exits;
                ps_agent_output_fn output;
                ps_agent_taken_fn taken;
        } fn;
        void *data;
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

static struct pending *pending_new(void *data, struct ps_err **err)
{
        struct pending *p = calloc(1, sizeof(*p));

        if (!p) {
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "agent call");
                return NULL;
        }
        p->data = data;
        return p;
}

static void on_hello(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ps_agent_hello_fn fn = p->fn.hello;
        void *fn_data = p->data;
        Podshim__Agent__V1__HelloResponse *resp = NULL;
        struct ps_agent_hello h;

        free(p);
        if (err)
                return fn(fn_data, err, NULL);
        resp = podshim__agent__v1__hello_response__unpack(NULL, len, payload);
        if (!resp) {
                struct ps_err bad = {.code = PS_INTERNAL,
                                     .msg = (char *)(uintptr_t) "agent: malformed HelloResponse"};

                return fn(fn_data, &bad, NULL);
        }
        h = (struct ps_agent_hello){.version = resp->version,
                                    .kernel_release = resp->kernel_release,
                                    .boot_id = resp->boot_id,
                                    .pid = resp->pid};
        fn(fn_data, NULL, &h);
        podshim__agent__v1__hello_response__free_unpacked(resp, NULL);
}

int ps_agent_client_hello(struct ps_agent_client *c, unsigned timeout_ms, ps_agent_hello_fn fn,
                          void *data, struct ps_err **err)
{
        Podshim__Agent__V1__HelloRequest req = PODSHIM__AGENT__V1__HELLO_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.hello = fn;
        req.host_version = (char *)(uintptr_t)ps_build_version;
        if (ttrpc_client_call(c->ttrpc, PS_AGENT_SERVICE_NAME, "Hello", &req.base, NULL, 0,
                              timeout_ms, on_hello, p, err) < 0) {
                free(p);
                return -1;
        }
        return 0;
}

static void on_done(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ps_agent_done_fn fn = p->fn.done;
        void *fn_data = p->data;

        (void)payload;
        (void)len;
        free(p);
        fn(fn_data, err);
}

int ps_agent_client_shutdown(struct ps_agent_client *c, unsigned timeout_ms, ps_agent_done_fn fn,
                             void *data, struct ps_err **err)
{
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.done = fn;
        if (ttrpc_client_call(c->ttrpc, PS_AGENT_SERVICE_NAME, "Shutdown", NULL, NULL, 0,
                              timeout_ms, on_done, p, err) < 0) {
                free(p);
                return -1;
        }
        return 0;
}

static const struct ps_err malformed = {.code = PS_INTERNAL,
                                        .msg = (char *)(uintptr_t) "agent: malformed answer"};

/* Queues method(req) with `p` as the pending call; frees p if it fails. */
static int call(struct ps_agent_client *c, const char *method, const ProtobufCMessage *req,
                unsigned timeout_ms, ttrpc_client_done_fn on_answer, struct pending *p,
                struct ps_err **err)
{
        if (ttrpc_client_call(c->ttrpc, PS_AGENT_SERVICE_NAME, method, req, NULL, 0, timeout_ms,
                              on_answer, p, err) < 0) {
                free(p);
                return ps_err_prefix(err, "agent %s", method);
        }
        return 0;
}

static void on_create(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ps_agent_pid_fn fn = p->fn.pid;
        void *fn_data = p->data;
        Podshim__Agent__V1__CreateContainerResponse *resp = NULL;

        free(p);
        if (err)
                return fn(fn_data, err, 0);
        resp = podshim__agent__v1__create_container_response__unpack(NULL, len, payload);
        if (!resp)
                return fn(fn_data, &malformed, 0);
        fn(fn_data, NULL, resp->pid);
        podshim__agent__v1__create_container_response__free_unpacked(resp, NULL);
}

static void on_start(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ps_agent_pid_fn fn = p->fn.pid;
        void *fn_data = p->data;
        Podshim__Agent__V1__StartContainerResponse *resp = NULL;

        free(p);
        if (err)
                return fn(fn_data, err, 0);
        resp = podshim__agent__v1__start_container_response__unpack(NULL, len, payload);
        if (!resp)
                return fn(fn_data, &malformed, 0);
        fn(fn_data, NULL, resp->pid);
        podshim__agent__v1__start_container_response__free_unpacked(resp, NULL);
}

int ps_agent_client_create(struct ps_agent_client *c, const struct ps_agent_container_spec *spec,
                           unsigned timeout_ms, ps_agent_pid_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__CreateContainerRequest req =
            PODSHIM__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.pid = fn;
        req.id = (char *)(uintptr_t)spec->id;
        req.bundle = (char *)(uintptr_t)spec->bundle;
        req.runtime = (char *)(uintptr_t)spec->runtime;
        req.stdin_pipe = spec->stdin_pipe;
        req.stdout_pipe = spec->stdout_pipe;
        req.stderr_pipe = spec->stderr_pipe;
        return call(c, "CreateContainer", &req.base, timeout_ms, on_create, p, err);
}

int ps_agent_client_start(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                          ps_agent_pid_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__ContainerRequest req = PODSHIM__AGENT__V1__CONTAINER_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.pid = fn;
        req.id = (char *)(uintptr_t)id;
        return call(c, "StartContainer", &req.base, timeout_ms, on_start, p, err);
}

int ps_agent_client_signal(struct ps_agent_client *c, const char *id, int sig, bool all,
                           unsigned timeout_ms, ps_agent_done_fn fn, void *data,
                           struct ps_err **err)
{
        Podshim__Agent__V1__SignalRequest req = PODSHIM__AGENT__V1__SIGNAL_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.done = fn;
        req.id = (char *)(uintptr_t)id;
        req.signal = (uint32_t)sig;
        req.all = all;
        return call(c, "Signal", &req.base, timeout_ms, on_done, p, err);
}

int ps_agent_client_delete(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                           ps_agent_done_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__ContainerRequest req = PODSHIM__AGENT__V1__CONTAINER_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.done = fn;
        req.id = (char *)(uintptr_t)id;
        return call(c, "DeleteContainer", &req.base, timeout_ms, on_done, p, err);
}

static void on_pids(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ps_agent_pids_fn fn = p->fn.pids;
        void *fn_data = p->data;
        Podshim__Agent__V1__PidsResponse *resp = NULL;

        free(p);
        if (err)
                return fn(fn_data, err, NULL, 0);
        resp = podshim__agent__v1__pids_response__unpack(NULL, len, payload);
        if (!resp)
                return fn(fn_data, &malformed, NULL, 0);
        fn(fn_data, NULL, resp->pids, resp->n_pids);
        podshim__agent__v1__pids_response__free_unpacked(resp, NULL);
}

int ps_agent_client_pids(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                         ps_agent_pids_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__ContainerRequest req = PODSHIM__AGENT__V1__CONTAINER_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.pids = fn;
        req.id = (char *)(uintptr_t)id;
        return call(c, "Pids", &req.base, timeout_ms, on_pids, p, err);
}

#define EXITS_MAX 64 /* agent/service.h PS_AGENT_EXITS_PER_REPLY */

static void on_exits(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ps_agent_exits_fn fn = p->fn.exits;
        void *fn_data = p->data;
        Podshim__Agent__V1__WaitExitsResponse *resp = NULL;
        struct ps_agent_exit_info out[EXITS_MAX];
        size_t n = 0;

        free(p);
        if (err)
                return fn(fn_data, err, NULL, 0);
        resp = podshim__agent__v1__wait_exits_response__unpack(NULL, len, payload);
        if (!resp || resp->n_exits == 0 || resp->n_exits > EXITS_MAX) {
                if (resp)
                        podshim__agent__v1__wait_exits_response__free_unpacked(resp, NULL);
                return fn(fn_data, &malformed, NULL, 0);
        }
        for (; n < resp->n_exits; n++) {
                const Podshim__Agent__V1__Exit *e = resp->exits[n];

                out[n] = (struct ps_agent_exit_info){.seq = e->seq,
                                                     .id = e->id,
                                                     .exec_id = e->exec_id,
                                                     .pid = e->pid,
                                                     .exit_status = e->exit_status,
                                                     .exited_at_ns = e->exited_at_unix_nano};
        }
        fn(fn_data, NULL, out, n);
        podshim__agent__v1__wait_exits_response__free_unpacked(resp, NULL);
}

int ps_agent_client_wait_exits(struct ps_agent_client *c, uint64_t ack, ps_agent_exits_fn fn,
                               void *data, struct ps_err **err)
{
        Podshim__Agent__V1__WaitExitsRequest req = PODSHIM__AGENT__V1__WAIT_EXITS_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.exits = fn;
        req.ack = ack;
        return call(c, "WaitExits", &req.base, 0, on_exits, p, err);
}

static void on_output(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ps_agent_output_fn fn = p->fn.output;
        void *fn_data = p->data;
        Podshim__Agent__V1__ReadOutputResponse *resp = NULL;

        free(p);
        if (err)
                return fn(fn_data, err, NULL, 0, 0, false);
        resp = podshim__agent__v1__read_output_response__unpack(NULL, len, payload);
        if (!resp)
                return fn(fn_data, &malformed, NULL, 0, 0, false);
        fn(fn_data, NULL, resp->data.data, resp->data.len, resp->next_offset, resp->eof);
        podshim__agent__v1__read_output_response__free_unpacked(resp, NULL);
}

int ps_agent_client_read_output(struct ps_agent_client *c, const char *id, int stream,
                                uint64_t offset, uint32_t max_bytes, ps_agent_output_fn fn,
                                void *data, struct ps_err **err)
{
        Podshim__Agent__V1__ReadOutputRequest req = PODSHIM__AGENT__V1__READ_OUTPUT_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.output = fn;
        req.id = (char *)(uintptr_t)id;
        req.stream = stream == 1 ? PODSHIM__AGENT__V1__OUTPUT_STREAM__STDERR
                                 : PODSHIM__AGENT__V1__OUTPUT_STREAM__STDOUT;
        req.offset = offset;
        req.max_bytes = max_bytes;
        return call(c, "ReadOutput", &req.base, 0, on_output, p, err);
}

static void on_taken(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct pending *p = data;
        ps_agent_taken_fn fn = p->fn.taken;
        void *fn_data = p->data;
        Podshim__Agent__V1__WriteStdinResponse *resp = NULL;

        free(p);
        if (err)
                return fn(fn_data, err, 0);
        resp = podshim__agent__v1__write_stdin_response__unpack(NULL, len, payload);
        if (!resp)
                return fn(fn_data, &malformed, 0);
        fn(fn_data, NULL, resp->taken);
        podshim__agent__v1__write_stdin_response__free_unpacked(resp, NULL);
}

int ps_agent_client_write_stdin(struct ps_agent_client *c, const char *id, uint64_t offset,
                                const uint8_t *bytes, size_t n, ps_agent_taken_fn fn, void *data,
                                struct ps_err **err)
{
        Podshim__Agent__V1__WriteStdinRequest req = PODSHIM__AGENT__V1__WRITE_STDIN_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.taken = fn;
        req.id = (char *)(uintptr_t)id;
        req.offset = offset;
        req.data.data = (uint8_t *)(uintptr_t)bytes;
        req.data.len = n;
        return call(c, "WriteStdin", &req.base, 0, on_taken, p, err);
}

int ps_agent_client_close_stdin(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                                ps_agent_done_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__ContainerRequest req = PODSHIM__AGENT__V1__CONTAINER_REQUEST__INIT;
        struct pending *p = pending_new(data, err);

        if (!p)
                return -1;
        p->fn.done = fn;
        req.id = (char *)(uintptr_t)id;
        return call(c, "CloseStdin", &req.base, timeout_ms, on_done, p, err);
}

/* ---- stats ----------------------------------------------------------------- */

struct stats_call {
        ps_agent_stats_fn fn;
        void *data;
};

static void on_stats(void *data, const struct ps_err *err, const uint8_t *payload, size_t len)
{
        struct stats_call k = *(struct stats_call *)data;
        Podshim__Agent__V1__StatsResponse *resp = NULL;
        struct ps_cgroup_metrics m = {.version = PS_CGROUP_METRICS_V2};

        free(data);
        if (err)
                return k.fn(k.data, err, NULL);
        resp = podshim__agent__v1__stats_response__unpack(NULL, len, payload);
        if (!resp || !resp->cpu || !resp->memory) {
                if (resp)
                        podshim__agent__v1__stats_response__free_unpacked(resp, NULL);
                return k.fn(k.data, &malformed, NULL);
        }
#define CPU(f) m.v2.cpu.f = resp->cpu->f;
#define MEM(f) m.v2.memory.f = resp->memory->f;
#define EV(f)  m.v2.memory_events.f = resp->memory_events->f;
        PS_AGENT_STATS_CPU(CPU)
        PS_AGENT_STATS_MEMORY(MEM)
        if (resp->memory_events) {
                m.v2.has_memory_events = true;
                PS_AGENT_STATS_MEMORY_EVENTS(EV)
        }
#undef CPU
#undef MEM
#undef EV
        m.v2.pids.current = resp->pids_current;
        m.v2.pids.limit = resp->pids_limit;
        k.fn(k.data, NULL, &m);
        podshim__agent__v1__stats_response__free_unpacked(resp, NULL);
}

int ps_agent_client_stats(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                          ps_agent_stats_fn fn, void *data, struct ps_err **err)
{
        Podshim__Agent__V1__ContainerRequest req = PODSHIM__AGENT__V1__CONTAINER_REQUEST__INIT;
        struct stats_call *k = calloc(1, sizeof(*k));

        if (!k)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "agent call");
        *k = (struct stats_call){.fn = fn, .data = data};
        req.id = (char *)(uintptr_t)id;
        if (ttrpc_client_call(c->ttrpc, PS_AGENT_SERVICE_NAME, "Stats", &req.base, NULL, 0,
                              timeout_ms, on_stats, k, err) < 0) {
                free(k);
                return ps_err_prefix(err, "agent Stats");
        }
        return 0;
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
        struct pending *p;

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
        p = pending_new(data, err);
        if (!p)
                return -1;
        p->fn.done = fn;
        return call(c, "SetupNetwork", &req.base, timeout_ms, on_done, p, err);
}
