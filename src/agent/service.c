#include "agent/service.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/containers.h"
#include "agent/network.h"
#include "agent/stats_wire.h"
#include "agent/streams.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/version.h"
#include "cgroup/stats.h"
#include "podshim/agent/v1/agent.pb-c.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

static void h_hello(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        Podshim__Agent__V1__HelloResponse resp = PODSHIM__AGENT__V1__HELLO_RESPONSE__INIT;
        _cleanup_err_ struct ps_err *err = NULL;
        _cleanup_free_ char *boot_id = NULL;
        struct utsname u;

        (void)msg; /* host_version is informational */
        if (ps_read_file(s->boot_id_path, 64, &boot_id, NULL, &err) < 0) {
                ps_err_prefix(&err, "boot id");
                return ttrpc_call_fail(call, err);
        }
        boot_id[strcspn(boot_id, "\n")] = '\0';
        if (uname(&u) < 0)
                return ttrpc_call_failf(call, PS_INTERNAL, "uname: %m");
        resp.version = (char *)(uintptr_t)ps_build_version;
        resp.kernel_release = u.release;
        resp.boot_id = boot_id;
        resp.pid = (uint32_t)getpid();
        ttrpc_call_reply(call, &resp.base);
}

static void h_shutdown(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;

        (void)msg;
        ttrpc_call_reply(call, NULL);
        if (s->on_shutdown)
                s->on_shutdown(s->data);
}

/* ---- containers ----------------------------------------------------------- */

/* A call waiting for the runtime; the call is dropped if its connection
 * goes first, the struct lives until the runtime is done. */
struct pending {
        struct ttrpc_call *call;
        enum { ANSWER_EMPTY, ANSWER_CREATE, ANSWER_START, ANSWER_EXEC } answer;
};

static void pending_cancelled(struct ttrpc_call *call, void *data)
{
        struct pending *p = data;

        (void)call;
        p->call = NULL;
}

static struct pending *pending_new(struct ttrpc_call *call, int answer)
{
        struct pending *p = calloc(1, sizeof(*p));

        if (!p) {
                ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED, "out of memory");
                return NULL;
        }
        p->call = call;
        p->answer = answer;
        ttrpc_call_on_cancel(call, pending_cancelled, p);
        return p;
}

static void pending_done(void *data, struct ps_err *err, pid_t pid)
{
        struct pending *p = data;
        Podshim__Agent__V1__CreateContainerResponse cr =
            PODSHIM__AGENT__V1__CREATE_CONTAINER_RESPONSE__INIT;
        Podshim__Agent__V1__StartContainerResponse sr =
            PODSHIM__AGENT__V1__START_CONTAINER_RESPONSE__INIT;
        Podshim__Agent__V1__ExecProcessResponse er =
            PODSHIM__AGENT__V1__EXEC_PROCESS_RESPONSE__INIT;

        cr.pid = sr.pid = er.pid = (uint32_t)pid;
        if (!p->call)
                ps_log_debug("agent: an answer nobody waits for: %s", err ? ps_err_msg(err) : "ok");
        else if (err)
                ttrpc_call_fail(p->call, err);
        else if (p->answer == ANSWER_CREATE)
                ttrpc_call_reply(p->call, &cr.base);
        else if (p->answer == ANSWER_START)
                ttrpc_call_reply(p->call, &sr.base);
        else if (p->answer == ANSWER_EXEC)
                ttrpc_call_reply(p->call, &er.base);
        else
                ttrpc_call_reply(p->call, NULL);
        ps_err_free(err);
        free(p);
}

/* After the operation that took p: r < 0 means it failed at once (p's
 * done never runs), so the call is answered with *err here. err is a
 * pointer because the operation that sets it is an argument of this very
 * call, and C leaves the order in which arguments are evaluated open. */
static void pending_started(struct pending *p, int r, struct ps_err *const *err)
{
        if (r == 0)
                return;
        ttrpc_call_fail(p->call, *err); /* the cancel callback goes with the call */
        free(p);
}

/* The methods whose ContainerRequest names a container only: an exec id
 * there is a mistake of the host, never ignored. */
static int no_exec_id(struct ttrpc_call *call, const char *exec_id)
{
        if (!exec_id || !exec_id[0])
                return 0;
        ttrpc_call_failf(call, PS_INVALID_ARGUMENT, "%s takes no exec id (got '%.128s')",
                         ttrpc_call_method(call), exec_id);
        return -1;
}

#define NEED_CONTAINERS(s, call)                                                                   \
        do {                                                                                       \
                if (!(s)->containers)                                                              \
                        return ttrpc_call_failf(call, PS_UNIMPLEMENTED, "no containers here");     \
        } while (0)

/* The pending call for a runtime operation: NULL when the call was
 * answered already (no containers here, no memory). */
static struct pending *run_begin(const struct ps_agent_service *s, struct ttrpc_call *call,
                                 int answer)
{
        if (!s->containers) {
                ttrpc_call_failf(call, PS_UNIMPLEMENTED, "no containers here");
                return NULL;
        }
        return pending_new(call, answer);
}

static void h_create(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        const Podshim__Agent__V1__CreateContainerRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_agent_create c = {.id = req->id,
                                    .bundle = req->bundle,
                                    .runtime = req->runtime,
                                    .stdin_pipe = req->stdin_pipe,
                                    .stdout_pipe = req->stdout_pipe,
                                    .stderr_pipe = req->stderr_pipe,
                                    .terminal = req->terminal};
        struct pending *p = run_begin(s, call, ANSWER_CREATE);

        if (p)
                pending_started(
                    p, ps_agent_container_create(s->containers, &c, pending_done, p, &err), &err);
}

static void h_start(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        const Podshim__Agent__V1__ContainerRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;
        struct pending *p =
            no_exec_id(call, req->exec_id) < 0 ? NULL : run_begin(s, call, ANSWER_START);

        if (p)
                pending_started(
                    p, ps_agent_container_start(s->containers, req->id, pending_done, p, &err),
                    &err);
}

static void h_signal(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        const Podshim__Agent__V1__SignalRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;
        struct pending *p;

        if (req->signal > 64)
                return ttrpc_call_failf(call, PS_INVALID_ARGUMENT, "signal %u", req->signal);
        if ((p = run_begin(s, call, ANSWER_EMPTY)))
                pending_started(p,
                                ps_agent_container_signal(s->containers, req->id, req->exec_id,
                                                          (int)req->signal, req->all, pending_done,
                                                          p, &err),
                                &err);
}

static void h_delete(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        const Podshim__Agent__V1__ContainerRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;
        struct pending *p =
            no_exec_id(call, req->exec_id) < 0 ? NULL : run_begin(s, call, ANSWER_EMPTY);

        if (p)
                pending_started(
                    p, ps_agent_container_delete(s->containers, req->id, pending_done, p, &err),
                    &err);
}

static void h_pids(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        const Podshim__Agent__V1__ContainerRequest *req = (const void *)msg;
        Podshim__Agent__V1__PidsResponse resp = PODSHIM__AGENT__V1__PIDS_RESPONSE__INIT;
        _cleanup_err_ struct ps_err *err = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ uint32_t *out = NULL;
        size_t n = 0;

        NEED_CONTAINERS(s, call);
        if (no_exec_id(call, req->exec_id) < 0)
                return;
        if (ps_agent_container_pids(s->containers, req->id, &pids, &n, &err) < 0)
                return ttrpc_call_fail(call, err);
        out = calloc(n ? n : 1, sizeof(*out));
        if (!out)
                return ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED, "out of memory");
        for (size_t i = 0; i < n; i++)
                out[i] = (uint32_t)pids[i];
        resp.n_pids = n;
        resp.pids = out;
        ttrpc_call_reply(call, &resp.base);
}

/* ---- stdio ---------------------------------------------------------------- */

/* A ReadOutput or WriteStdin waiting in the container's streams: the call
 * is dropped if its connection goes first, the struct lives until the
 * streams answer (they always do, at the latest when they are freed). */
struct io_wait {
        struct ttrpc_call *call;
};

static void io_cancelled(struct ttrpc_call *call, void *data)
{
        struct io_wait *w = data;

        (void)call;
        w->call = NULL;
}

static struct io_wait *io_wait_new(struct ttrpc_call *call)
{
        struct io_wait *w = calloc(1, sizeof(*w));

        if (!w) {
                ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED, "out of memory");
                return NULL;
        }
        w->call = call;
        ttrpc_call_on_cancel(call, io_cancelled, w);
        return w;
}

/* After the streams took w: r < 0 means they did not (w's callback never
 * runs), so the call is answered with err here. */
static void io_wait_started(struct io_wait *w, int r, struct ps_err *const *err)
{
        if (r == 0)
                return;
        ttrpc_call_fail(w->call, *err); /* as pending_started: err set by r's call */
        free(w);
}

/* The streams of the request's container (or exec): NULL when the call
 * was answered already (no containers here, no such container or exec). */
static struct ps_agent_streams *streams_of(const struct ps_agent_service *s,
                                           struct ttrpc_call *call, const char *id,
                                           const char *exec_id)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_agent_streams *st;

        if (!s->containers) {
                ttrpc_call_failf(call, PS_UNIMPLEMENTED, "no containers here");
                return NULL;
        }
        if (!(st = ps_agent_container_streams(s->containers, id, exec_id, &err)))
                ttrpc_call_fail(call, err);
        return st;
}

/* The streams, and the call parked on them: NULL when the call was
 * answered already (as streams_of, or no memory). */
static struct io_wait *io_begin(struct ps_agent_service *s, struct ttrpc_call *call, const char *id,
                                const char *exec_id, struct ps_agent_streams **ret_streams)
{
        struct ps_agent_streams *st = streams_of(s, call, id, exec_id);

        if (!st)
                return NULL;
        *ret_streams = st;
        return io_wait_new(call);
}

/* The streams' answer to w: err or reply to its call, if that is still
 * there; w is freed. */
static void io_answer(struct io_wait *w, const struct ps_err *err, const ProtobufCMessage *reply)
{
        if (w->call && err)
                ttrpc_call_fail(w->call, err);
        else if (w->call)
                ttrpc_call_reply(w->call, reply);
        free(w);
}

/* How many bytes an output answer may carry now: the connection's output
 * is bounded (16 MiB, then it is closed), and every container's streams may
 * answer at once, so a large backlog shrinks the answers. Bytes left out
 * are not lost: they stay buffered until acknowledged. */
static size_t output_budget(const struct ttrpc_call *call)
{
        size_t backlog = ttrpc_call_backlog(call);

        if (backlog + PS_AGENT_READ_MIN >= PS_AGENT_BACKLOG_MAX)
                return PS_AGENT_READ_MIN;
        return PS_AGENT_BACKLOG_MAX - backlog;
}

static void on_output(void *data, const struct ps_err *err, const uint8_t *bytes, size_t n,
                      uint64_t next, bool eof)
{
        struct io_wait *w = data;
        Podshim__Agent__V1__ReadOutputResponse resp =
            PODSHIM__AGENT__V1__READ_OUTPUT_RESPONSE__INIT;
        size_t budget = w->call ? output_budget(w->call) : 0;

        if (w->call && !err && n > budget) {
                next -= n - budget;
                n = budget;
                eof = false;
        }
        resp.data.data = (uint8_t *)(uintptr_t)bytes;
        resp.data.len = n;
        resp.next_offset = next;
        resp.eof = eof;
        io_answer(w, err, &resp.base);
}

static void h_read_output(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        const Podshim__Agent__V1__ReadOutputRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_agent_streams *st;
        struct io_wait *w = io_begin(data, call, req->id, req->exec_id, &st);

        if (w)
                io_wait_started(w,
                                ps_agent_streams_read(st, (enum ps_agent_stream)req->stream,
                                                      req->offset, req->max_bytes, on_output, w,
                                                      &err),
                                &err);
}

static void on_written(void *data, const struct ps_err *err, size_t taken)
{
        Podshim__Agent__V1__WriteStdinResponse resp =
            PODSHIM__AGENT__V1__WRITE_STDIN_RESPONSE__INIT;

        resp.taken = (uint32_t)taken;
        io_answer(data, err, &resp.base);
}

static void h_write_stdin(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        const Podshim__Agent__V1__WriteStdinRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_agent_streams *st;
        struct io_wait *w = io_begin(data, call, req->id, req->exec_id, &st);

        if (w)
                io_wait_started(w,
                                ps_agent_streams_write(st, req->offset, req->data.data,
                                                       req->data.len, on_written, w, &err),
                                &err);
}

static void h_close_stdin(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        const Podshim__Agent__V1__ContainerRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_agent_streams *st = streams_of(data, call, req->id, req->exec_id);

        if (st && ps_agent_streams_close_stdin(st, &err) < 0)
                return ttrpc_call_fail(call, err);
        if (st)
                ttrpc_call_reply(call, NULL);
}

static void h_resize(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        const Podshim__Agent__V1__ResizeRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_agent_streams *st = streams_of(data, call, req->id, req->exec_id);

        if (st && ps_agent_streams_resize(st, req->width, req->height, &err) < 0)
                return ttrpc_call_fail(call, err);
        if (st)
                ttrpc_call_reply(call, NULL);
}

/* ---- execs ------------------------------------------------------------------- */

static void h_exec(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        const Podshim__Agent__V1__ExecProcessRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_agent_exec x = {.id = req->id,
                                  .exec_id = req->exec_id,
                                  .process = req->process.data,
                                  .process_len = req->process.len,
                                  .stdin_pipe = req->stdin_pipe,
                                  .stdout_pipe = req->stdout_pipe,
                                  .stderr_pipe = req->stderr_pipe,
                                  .terminal = req->terminal};
        struct pending *p = run_begin(s, call, ANSWER_EXEC);

        if (p)
                pending_started(p, ps_agent_exec_create(s->containers, &x, pending_done, p, &err),
                                &err);
}

static void h_delete_exec(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        const Podshim__Agent__V1__ContainerRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;

        NEED_CONTAINERS(s, call);
        if (ps_agent_exec_delete(s->containers, req->id, req->exec_id, &err) < 0)
                return ttrpc_call_fail(call, err);
        ttrpc_call_reply(call, NULL);
}

/* ---- exits ------------------------------------------------------------------- */

static void waiter_cancelled(struct ttrpc_call *call, void *data)
{
        struct ps_agent_service *s = data;

        if (s->exit_waiter == call)
                s->exit_waiter = NULL;
}

/* Answers the parked WaitExits if an exit after its ack is queued. */
static void answer_waiter(struct ps_agent_service *s)
{
        Podshim__Agent__V1__Exit msgs[PS_AGENT_EXITS_PER_REPLY];
        Podshim__Agent__V1__Exit *ptrs[PS_AGENT_EXITS_PER_REPLY];
        Podshim__Agent__V1__WaitExitsResponse resp = PODSHIM__AGENT__V1__WAIT_EXITS_RESPONSE__INIT;
        const struct ps_agent_exit *e;
        struct ttrpc_call *call = s->exit_waiter;
        size_t n = 0;

        if (!call)
                return;
        for (e = ps_agent_exits_ack(s->containers, s->exit_ack); e && n < PS_AGENT_EXITS_PER_REPLY;
             e = ps_agent_exit_next(s->containers, e)) {
                podshim__agent__v1__exit__init(&msgs[n]);
                msgs[n].seq = e->seq;
                msgs[n].id = e->id;
                if (e->exec_id)
                        msgs[n].exec_id = e->exec_id;
                msgs[n].pid = (uint32_t)e->pid;
                msgs[n].exit_status = e->status;
                msgs[n].exited_at_unix_nano = e->exited_at_ns;
                msgs[n].oom = e->oom;
                ptrs[n] = &msgs[n];
                n++;
        }
        if (n == 0)
                return;
        s->exit_waiter = NULL;
        resp.n_exits = n;
        resp.exits = ptrs;
        ttrpc_call_reply(call, &resp.base);
}

static void h_wait_exits(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        const Podshim__Agent__V1__WaitExitsRequest *req = (const void *)msg;

        NEED_CONTAINERS(s, call);
        if (s->exit_waiter) {
                struct ttrpc_call *old = s->exit_waiter;

                s->exit_waiter = NULL;
                ttrpc_call_failf(old, PS_FAILED_PRECONDITION, "a newer WaitExits took over");
        }
        s->exit_waiter = call;
        s->exit_ack = req->ack;
        ttrpc_call_on_cancel(call, waiter_cancelled, s);
        answer_waiter(s);
}

void ps_agent_service_exit_queued(void *data)
{
        answer_waiter(data);
}

void ps_agent_service_set_containers(struct ps_agent_service *s, struct ps_agent_containers *t)
{
        s->containers = t;
}

/* ---- stats ----------------------------------------------------------------- */

static void h_stats(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        const Podshim__Agent__V1__ContainerRequest *req = (const void *)msg;
        Podshim__Agent__V1__StatsResponse resp = PODSHIM__AGENT__V1__STATS_RESPONSE__INIT;
        Podshim__Agent__V1__StatsCPU cpu = PODSHIM__AGENT__V1__STATS_CPU__INIT;
        Podshim__Agent__V1__StatsMemory mem = PODSHIM__AGENT__V1__STATS_MEMORY__INIT;
        Podshim__Agent__V1__StatsMemoryEvents ev = PODSHIM__AGENT__V1__STATS_MEMORY_EVENTS__INIT;
        _cleanup_(ps_cgroup_metrics_clear) struct ps_cgroup_metrics m = {0};
        _cleanup_err_ struct ps_err *err = NULL;

        NEED_CONTAINERS(s, call);
        if (ps_agent_container_stats(s->containers, req->id, &m, &err) < 0)
                return ttrpc_call_fail(call, err);
#define CPU(f) cpu.f = m.v2.cpu.f;
#define MEM(f) mem.f = m.v2.memory.f;
#define EV(f)  ev.f = m.v2.memory_events.f;
        PS_AGENT_STATS_CPU(CPU)
        PS_AGENT_STATS_MEMORY(MEM)
        PS_AGENT_STATS_MEMORY_EVENTS(EV)
#undef CPU
#undef MEM
#undef EV
        resp.pids_current = m.v2.pids.current;
        resp.pids_limit = m.v2.pids.limit;
        resp.cpu = &cpu;
        resp.memory = &mem;
        if (m.v2.has_memory_events)
                resp.memory_events = &ev;
        ttrpc_call_reply(call, &resp.base);
}

/* ---- network --------------------------------------------------------------- */

static void h_setup_network(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        const Podshim__Agent__V1__SetupNetworkRequest *req = (const void *)msg;
        _cleanup_err_ struct ps_err *err = NULL;

        if (ps_agent_net_check(req, &err) < 0)
                return ttrpc_call_fail(call, err);
        if (!s->network)
                return ttrpc_call_failf(call, PS_FAILED_PRECONDITION,
                                        "this agent does not manage the network");
        if (ps_agent_net_apply(req, &err) < 0)
                return ttrpc_call_fail(call, err);
        ttrpc_call_reply(call, NULL);
}

static const struct ttrpc_method agent_methods[] = {
    {"Hello", &podshim__agent__v1__hello_request__descriptor, h_hello},
    {"Shutdown", NULL, h_shutdown},
    {"CreateContainer", &podshim__agent__v1__create_container_request__descriptor, h_create},
    {"StartContainer", &podshim__agent__v1__container_request__descriptor, h_start},
    {"Signal", &podshim__agent__v1__signal_request__descriptor, h_signal},
    {"DeleteContainer", &podshim__agent__v1__container_request__descriptor, h_delete},
    {"Pids", &podshim__agent__v1__container_request__descriptor, h_pids},
    {"WaitExits", &podshim__agent__v1__wait_exits_request__descriptor, h_wait_exits},
    {"ReadOutput", &podshim__agent__v1__read_output_request__descriptor, h_read_output},
    {"WriteStdin", &podshim__agent__v1__write_stdin_request__descriptor, h_write_stdin},
    {"CloseStdin", &podshim__agent__v1__container_request__descriptor, h_close_stdin},
    {"Stats", &podshim__agent__v1__container_request__descriptor, h_stats},
    {"ExecProcess", &podshim__agent__v1__exec_process_request__descriptor, h_exec},
    {"DeleteExec", &podshim__agent__v1__container_request__descriptor, h_delete_exec},
    {"Resize", &podshim__agent__v1__resize_request__descriptor, h_resize},
    {"SetupNetwork", &podshim__agent__v1__setup_network_request__descriptor, h_setup_network},
};

void ps_agent_service_init(struct ps_agent_service *s, ps_agent_shutdown_fn on_shutdown, void *data)
{
        *s = (struct ps_agent_service){
            .svc = {.name = PS_AGENT_SERVICE_NAME,
                    .methods = agent_methods,
                    .n_methods = sizeof(agent_methods) / sizeof(agent_methods[0])},
            .on_shutdown = on_shutdown,
            .data = data,
            .boot_id_path = BOOT_ID_PATH,
        };
        s->svc.data = s;
}
