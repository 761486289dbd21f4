#include "api/task_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "api/metrics.h"
#include "api/options.h"
#include "api/rpc.h"
#include "containerd/runc/options.pb-c.h"
#include "containerd/task/v2/task.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define SVC(data) ((struct ps_task_service *)(data))

enum { RPC_EMPTY, RPC_CREATE, RPC_START, RPC_DELETE };

/* The end of a grouped pod: a remembered Shutdown and no task left. */
static void exit_if_done(struct ps_task_service *s)
{
        if (s->shutdown_pending && s->sandboxes->tasks.n_containers == 0 && s->on_shutdown) {
                ps_log_info("Shutdown: the last task is deleted");
                s->on_shutdown(s->shutdown_data);
        }
}

static void op_done(void *data, struct ps_err *e, const struct ps_op_result *res)
{
        struct ps_rpc *r = data;
        struct ttrpc_call *call = r->call;
        struct ps_task_service *svc = r->owner;
        int kind = r->kind;

        ps_rpc_free(r);
        if (!call || e) {
                if (call)
                        ps_rpc_fail(call, e);
                else if (!e && kind == RPC_DELETE)
                        exit_if_done(svc);
                ps_err_free(e);
                return;
        }
        if (kind == RPC_CREATE) {
                Containerd__Task__V2__CreateTaskResponse resp =
                    CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
                resp.pid = (uint32_t)res->pid;
                ttrpc_call_reply(call, &resp.base);
        } else if (kind == RPC_START) {
                Containerd__Task__V2__StartResponse resp =
                    CONTAINERD__TASK__V2__START_RESPONSE__INIT;
                resp.pid = (uint32_t)res->pid;
                ttrpc_call_reply(call, &resp.base);
        } else if (kind == RPC_DELETE) {
                Containerd__Task__V2__DeleteResponse resp =
                    CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
                Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
                resp.pid = (uint32_t)res->pid;
                resp.exit_status = res->exit_status;
                resp.exited_at = ps_rpc_time(&res->exited_at, &ts);
                ttrpc_call_reply(call, &resp.base);
                exit_if_done(svc); /* after the answer, as Shutdown does */
        } else {
                ttrpc_call_reply(call, NULL);
        }
}

/* Runs an operation that follows the container module's 0/1/-1 rule. */
#define RUN_OP(call, kind, expr)                                                                   \
        do {                                                                                       \
                struct ps_err *_e = NULL;                                                          \
                struct ps_rpc *_r = ps_rpc_new(call, kind);                                        \
                int _rc;                                                                           \
                if (!_r)                                                                           \
                        return;                                                                    \
                _r->owner = SVC(data);                                                             \
                _rc = (expr);                                                                      \
                if (_rc != 0) {                                                                    \
                        ps_rpc_free(_r);                                                           \
                        if (_rc < 0) {                                                             \
                                ps_rpc_fail(call, _e);                                             \
                                ps_err_free(_e);                                                   \
                        } else {                                                                   \
                                ttrpc_call_reply(call, NULL);                                      \
                        }                                                                          \
                }                                                                                  \
        } while (0)

static struct ps_process *find(void *data, struct ttrpc_call *call, const char *id,
                               const char *exec_id)
{
        struct ps_err *e = NULL;
        struct ps_process *p = ps_tasks_process(&SVC(data)->sandboxes->tasks, id, exec_id, &e);

        if (!p) {
                ps_rpc_fail(call, e);
                ps_err_free(e);
        }
        return p;
}

/* find() for a call whose whole work is here: the process must also be
 * in a state that allows `op`. */
static struct ps_process *find_for(void *data, struct ttrpc_call *call, const char *id,
                                   const char *exec_id, enum ps_proc_op op)
{
        struct ps_err *e = NULL;
        struct ps_process *p = find(data, call, id, exec_id);

        if (p && ps_process_check(p, op, &e) < 0) {
                ps_rpc_fail(call, e);
                ps_err_free(e);
                return NULL;
        }
        return p;
}

static int create_task(struct ps_task_service *s,
                       const Containerd__Task__V2__CreateTaskRequest *req, struct ps_rpc *r,
                       struct ps_err **err)
{
        struct ps_options opts = {0};
        struct ps_mount *mounts = ps_rpc_mounts(req->rootfs, req->n_rootfs, err);
        struct ps_create_request cr = {.id = req->id,
                                       .bundle = req->bundle,
                                       .rootfs = mounts,
                                       .n_rootfs = req->n_rootfs,
                                       .stdin_path = req->stdin,
                                       .stdout_path = req->stdout,
                                       .stderr_path = req->stderr,
                                       .terminal = req->terminal,
                                       .checkpoint = req->checkpoint,
                                       .options = &opts};
        int rc;

        if (!mounts)
                return -1;
        if (req->options)
                rc = ps_options_decode_for(s->sandboxes->profile, req->options->type_url,
                                           req->options->value.data, req->options->value.len, &opts,
                                           err);
        else if (s->sandboxes->profile)
                rc = ps_options_profile_defaults(s->sandboxes->profile, &opts, err);
        else
                rc = ps_options_defaults(&opts, err);
        if (rc == 0)
                rc = ps_sandboxes_create_task(s->sandboxes, &cr, op_done, r, err);
        ps_options_clear(&opts);
        free(mounts);
        return rc;
}

static void h_create(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__CreateTaskRequest *req = (const void *)m;

        RUN_OP(call, RPC_CREATE, create_task(SVC(data), req, _r, &_e));
}

static void h_start(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__StartRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, req->exec_id);

        if (p) {
                struct ps_err *e = NULL;
                struct ps_rpc *r = ps_rpc_new(call, RPC_START);
                int rc;

                if (!r)
                        return;
                rc = ps_process_start(p, op_done, r, &e);
                if (rc == 1) { /* restored init: already running */
                        Containerd__Task__V2__StartResponse resp =
                            CONTAINERD__TASK__V2__START_RESPONSE__INIT;
                        ps_rpc_free(r);
                        resp.pid = (uint32_t)p->pid;
                        ttrpc_call_reply(call, &resp.base);
                } else if (rc < 0) {
                        ps_rpc_free(r);
                        ps_rpc_fail(call, e);
                        ps_err_free(e);
                }
        }
}

static void h_delete(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__DeleteRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, req->exec_id);

        if (p)
                RUN_OP(call, RPC_DELETE, ps_process_delete(p, op_done, _r, &_e));
}

static void h_kill(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__KillRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, req->exec_id);

        if (p)
                RUN_OP(call, RPC_EMPTY,
                       ps_process_kill(p, req->signal, req->all, op_done, _r, &_e));
}

static void h_pause(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__PauseRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, NULL);

        if (p)
                RUN_OP(call, RPC_EMPTY, ps_container_pause(p->c, op_done, _r, &_e));
}

static void h_resume(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__ResumeRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, NULL);

        if (p)
                RUN_OP(call, RPC_EMPTY, ps_container_resume(p->c, op_done, _r, &_e));
}

static void checkpoint_options_freep(Containerd__Runc__V1__CheckpointOptions **o)
{
        if (*o)
                containerd__runc__v1__checkpoint_options__free_unpacked(*o, NULL);
}

static int checkpoint_task(struct ps_container *c,
                           const Containerd__Task__V2__CheckpointTaskRequest *r, struct ps_rpc *rpc,
                           struct ps_err **err)
{
        _cleanup_(checkpoint_options_freep) Containerd__Runc__V1__CheckpointOptions *o = NULL;
        struct ps_checkpoint_request cr = {.path = r->path};

        if (r->options && r->options->type_url &&
            strcmp(r->options->type_url, "containerd.runc.v1.CheckpointOptions") == 0) {
                o = containerd__runc__v1__checkpoint_options__unpack(NULL, r->options->value.len,
                                                                     r->options->value.data);
                if (!o)
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "bad checkpoint options");
                cr.image_path = o->image_path;
                cr.work_path = o->work_path;
                cr.exit = o->exit;
                cr.open_tcp = o->open_tcp;
                cr.external_unix_sockets = o->external_unix_sockets;
                cr.terminal = o->terminal;
                cr.file_locks = o->file_locks;
                cr.empty_namespaces = (const char *const *)o->empty_namespaces;
                cr.n_empty_namespaces = o->n_empty_namespaces;
        }
        return ps_container_checkpoint(c, &cr, op_done, rpc, err);
}

static void h_checkpoint(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__CheckpointTaskRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, NULL);

        if (p)
                RUN_OP(call, RPC_EMPTY, checkpoint_task(p->c, req, _r, &_e));
}

static void h_update(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__UpdateTaskRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, NULL);

        if (!p)
                return;
        if (!req->resources) {
                ttrpc_call_failf(call, PS_INVALID_ARGUMENT, "update without resources");
                return;
        }
        RUN_OP(call, RPC_EMPTY,
               ps_container_update(p->c, (const char *)req->resources->value.data,
                                   req->resources->value.len, op_done, _r, &_e));
}

static void h_exec(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__ExecProcessRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, NULL);
        struct ps_err *e = NULL;

        struct ps_exec_request er;

        if (!p)
                return; /* answered, and req is gone with the call */
        er = (struct ps_exec_request){.exec_id = req->exec_id,
                                      .terminal = req->terminal,
                                      .stdin_path = req->stdin,
                                      .stdout_path = req->stdout,
                                      .stderr_path = req->stderr,
                                      .spec = req->spec ? req->spec->value.data : NULL,
                                      .spec_len = req->spec ? req->spec->value.len : 0};
        if (ps_container_exec(p->c, &er, &e) < 0) {
                ps_rpc_fail(call, e);
                ps_err_free(e);
                return;
        }
        ttrpc_call_reply(call, NULL);
}

static void h_state(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__StateRequest *req = (const void *)m;
        struct ps_process *p = find_for(data, call, req->id, req->exec_id, PS_OP_STATE);
        Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

        if (!p)
                return;
        resp.id = p->exec_id ? p->exec_id : p->c->id;
        resp.bundle = p->c->bundle;
        resp.pid = (uint32_t)p->pid;
        /* the core's status values are containerd.v1.types.Status's */
        resp.status = (Containerd__V1__Types__Status)ps_process_status(p);
        resp.stdin = p->stdin_path;
        resp.stdout = p->stdout_path;
        resp.stderr = p->stderr_path;
        resp.terminal = p->terminal;
        resp.exit_status = p->exit_status;
        resp.exited_at = ps_rpc_time(&p->exited_at, &ts);
        resp.exec_id = p->exec_id ? p->exec_id : "";
        ttrpc_call_reply(call, &resp.base);
}

/* Wait parks the call on the process; the waiter goes when either the
 * process exits or the connection does. */
struct wait_rpc {
        struct ttrpc_call *call;
        struct ps_waiter *w;
};

static void wait_reply(struct ttrpc_call *call, const struct ps_process *p)
{
        Containerd__Task__V2__WaitResponse resp = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

        resp.exit_status = p->exit_status;
        resp.exited_at = ps_rpc_time(&p->exited_at, &ts);
        ttrpc_call_reply(call, &resp.base);
}

static void wait_released(void *data, const struct ps_process *p)
{
        struct wait_rpc *wr = data;

        ttrpc_call_on_cancel(wr->call, NULL, NULL);
        if (p->state == PS_PROC_STOPPED || ps_process_exited(p))
                wait_reply(wr->call, p);
        else
                ttrpc_call_failf(wr->call, PS_NOT_FOUND, "process %s was deleted: not found",
                                 ps_process_name(p));
        free(wr);
}

static void wait_cancelled(struct ttrpc_call *call, void *data)
{
        struct wait_rpc *wr = data;

        ps_process_remove_waiter(wr->w);
        free(wr);
}

static void h_wait(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__WaitRequest *req = (const void *)m;
        struct ps_process *p = find_for(data, call, req->id, req->exec_id, PS_OP_WAIT);
        struct ps_err *e = NULL;
        struct wait_rpc *wr;

        if (!p)
                return;
        if (p->state == PS_PROC_STOPPED || p->state == PS_PROC_DELETING) {
                wait_reply(call, p);
                return;
        }
        wr = calloc(1, sizeof(*wr));
        if (!wr) {
                ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED, "out of memory");
                return;
        }
        wr->call = call;
        wr->w = ps_process_add_waiter(p, wait_released, wr, &e);
        if (!wr->w) {
                free(wr);
                ps_rpc_fail(call, e);
                ps_err_free(e);
                return;
        }
        ttrpc_call_on_cancel(call, wait_cancelled, wr);
}

/* Pids */
static void pids_reply(void *data, struct ps_err *e, const struct ps_pid_info *pids, size_t n)
{
        struct ps_rpc *r = data;
        struct ttrpc_call *call = r->call;
        Containerd__Task__V2__PidsResponse resp = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
        _cleanup_free_ Containerd__V1__Types__ProcessInfo *infos = NULL;
        _cleanup_free_ Containerd__V1__Types__ProcessInfo **ptrs = NULL;
        _cleanup_free_ Google__Protobuf__Any *anys = NULL;
        _cleanup_free_ uint8_t *details = NULL;
        size_t off = 0;

        ps_rpc_free(r);
        if (!call || e) {
                if (call)
                        ps_rpc_fail(call, e);
                ps_err_free(e);
                return;
        }
        infos = calloc(n + 1, sizeof(*infos));
        ptrs = calloc(n + 1, sizeof(*ptrs));
        anys = calloc(n + 1, sizeof(*anys));
        details = malloc((n + 1) * 96);
        if (!infos || !ptrs || !anys || !details) {
                ttrpc_call_failf(call, PS_RESOURCE_EXHAUSTED, "out of memory");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                containerd__v1__types__process_info__init(&infos[i]);
                infos[i].pid = (uint32_t)pids[i].pid;
                if (pids[i].exec_id) {
                        Containerd__Runc__V1__ProcessDetails d =
                            CONTAINERD__RUNC__V1__PROCESS_DETAILS__INIT;
                        d.exec_id = (char *)(uintptr_t)pids[i].exec_id;
                        google__protobuf__any__init(&anys[i]);
                        anys[i].type_url = "containerd.runc.v1.ProcessDetails";
                        anys[i].value.data = details + off;
                        anys[i].value.len =
                            containerd__runc__v1__process_details__pack(&d, details + off);
                        off += anys[i].value.len;
                        infos[i].info = &anys[i];
                }
                ptrs[i] = &infos[i];
        }
        resp.processes = ptrs;
        resp.n_processes = n;
        ttrpc_call_reply(call, &resp.base);
}

static void h_pids(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__PidsRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, NULL);
        struct ps_err *e = NULL;
        struct ps_rpc *r;

        if (!p || !(r = ps_rpc_new(call, RPC_EMPTY)))
                return;
        if (ps_container_pids(p->c, pids_reply, r, &e) < 0) {
                ps_rpc_free(r);
                ps_rpc_fail(call, e);
                ps_err_free(e);
        }
}

static void resize_reply(void *data, struct ps_err *e, const struct ps_op_result *res)
{
        struct ps_rpc *r = data;
        struct ttrpc_call *call = r->call;

        (void)res;
        ps_rpc_free(r);
        if (call && e)
                ps_rpc_fail(call, e);
        else if (call)
                ttrpc_call_reply(call, NULL);
        ps_err_free(e);
}

/* Parked until the terminal has its size (a VM's agent applied it). */
static void h_resize(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__ResizePtyRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, req->exec_id);
        struct ps_err *e = NULL;
        struct ps_rpc *r;

        if (!p || !(r = ps_rpc_new(call, RPC_EMPTY)))
                return;
        if (ps_process_resize(p, req->width, req->height, resize_reply, r, &e) < 0) {
                ps_rpc_free(r);
                ps_rpc_fail(call, e);
                ps_err_free(e);
        }
}

static void h_close_io(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__CloseIORequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, req->exec_id);
        struct ps_err *e = NULL;

        if (!p)
                return;
        if (ps_process_close_io(p, req->stdin, &e) < 0) {
                ps_rpc_fail(call, e);
                ps_err_free(e);
                return;
        }
        ttrpc_call_reply(call, NULL);
}

static void stats_reply(void *data, struct ps_err *e, struct ps_metrics *m)
{
        struct ps_rpc *r = data;
        struct ttrpc_call *call = r->call;
        Containerd__Task__V2__StatsResponse resp = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        _cleanup_free_ uint8_t *value = NULL;
        const char *type_url = NULL;
        size_t len = 0;

        ps_rpc_free(r);
        if (call && !e)
                ps_api_metrics_pack(m, &type_url, &value, &len, &e);
        if (!call || e) {
                if (call)
                        ps_rpc_fail(call, e);
                ps_err_free(e);
                return;
        }
        any.type_url = (char *)type_url;
        any.value.data = value;
        any.value.len = len;
        resp.stats = &any;
        ttrpc_call_reply(call, &resp.base);
}

static void h_stats(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__StatsRequest *req = (const void *)m;
        struct ps_process *p = find(data, call, req->id, NULL);
        struct ps_err *e = NULL;
        struct ps_rpc *r;

        if (!p || !(r = ps_rpc_new(call, RPC_EMPTY)))
                return;
        if (ps_container_stats_async(p->c, stats_reply, r, &e) < 0) {
                ps_rpc_free(r);
                ps_rpc_fail(call, e);
                ps_err_free(e);
        }
}

static void h_connect(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        const Containerd__Task__V2__ConnectRequest *req = (const void *)m;
        struct ps_container *c =
            req->id ? ps_tasks_find(&SVC(data)->sandboxes->tasks, req->id) : NULL;
        Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

        resp.shim_pid = (uint32_t)getpid();
        resp.task_pid = c && c->init ? (uint32_t)c->init->pid : 0;
        resp.version = "";
        ttrpc_call_reply(call, &resp.base);
}

static void h_shutdown(void *data, struct ttrpc_call *call, const ProtobufCMessage *m)
{
        struct ps_task_service *s = SVC(data);

        ttrpc_call_reply(call, NULL);
        /* Shared by the pod: only the last task's Shutdown ends the shim;
         * in grouped mode, the only Shutdown ends it with the last task. */
        if (s->grouped)
                s->shutdown_pending = true;
        if (s->sandboxes->tasks.n_containers == 0 && s->on_shutdown)
                s->on_shutdown(s->shutdown_data);
}

#define M(name, type, fn)                                                                          \
        {                                                                                          \
                name, &containerd__task__v2__##type##__descriptor, fn                              \
        }

static const struct ttrpc_method task_methods[] = {
    M("State", state_request, h_state),
    M("Create", create_task_request, h_create),
    M("Start", start_request, h_start),
    M("Delete", delete_request, h_delete),
    M("Pids", pids_request, h_pids),
    M("Pause", pause_request, h_pause),
    M("Resume", resume_request, h_resume),
    M("Checkpoint", checkpoint_task_request, h_checkpoint),
    M("Kill", kill_request, h_kill),
    M("Exec", exec_process_request, h_exec),
    M("ResizePty", resize_pty_request, h_resize),
    M("CloseIO", close_iorequest, h_close_io),
    M("Update", update_task_request, h_update),
    M("Wait", wait_request, h_wait),
    M("Stats", stats_request, h_stats),
    M("Connect", connect_request, h_connect),
    M("Shutdown", shutdown_request, h_shutdown),
};

void ps_task_service_init(struct ps_task_service *s, struct ps_sandboxes *sandboxes, bool grouped,
                          void (*on_shutdown)(void *data), void *data)
{
        s->sandboxes = sandboxes;
        s->grouped = grouped;
        s->shutdown_pending = false;
        s->on_shutdown = on_shutdown;
        s->shutdown_data = data;
}

void ps_task_service_describe(struct ps_task_service *s, struct ttrpc_service ret[2])
{
        /* v3 is v2 with its proto package renamed: the same messages, field
         * for field, so one set of handlers serves both names */
        static const char *const names[2] = {"containerd.task.v2.Task", "containerd.task.v3.Task"};

        for (size_t i = 0; i < 2; i++)
                ret[i] = (struct ttrpc_service){.name = names[i],
                                                .methods = task_methods,
                                                .n_methods =
                                                    sizeof(task_methods) / sizeof(task_methods[0]),
                                                .data = s};
}
