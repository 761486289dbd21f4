/* The task events as containerd.events messages, published in order. */
#include "api/events.h"

#include <stdint.h>
#include <stdlib.h>

#include "containerd/events/sandbox.pb-c.h"
#include "containerd/events/task.pb-c.h"
#include "base/log.h"
#include "core/publisher.h"
#include "task/container.h"
#include "task/process.h"

static void set_time(Google__Protobuf__Timestamp *ts, const struct timespec *t)
{
        ts->seconds = t->tv_sec;
        ts->nanos = (int32_t)t->tv_nsec;
}

static void ev_task_create(void *pub, const struct ps_container *c)
{
        const struct ps_process *p = c->init;
        Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
        Containerd__Events__TaskIO io = CONTAINERD__EVENTS__TASK_IO__INIT;
        Containerd__Types__Mount *ms = calloc(c->n_rootfs + 1, sizeof(*ms));
        Containerd__Types__Mount **mp = calloc(c->n_rootfs + 1, sizeof(*mp));

        ev.container_id = c->id;
        ev.bundle = c->bundle;
        /* the mounts as containerd sent them (packing only reads) */
        for (size_t i = 0; ms && mp && i < c->n_rootfs; i++) {
                containerd__types__mount__init(&ms[i]);
                ms[i].type = c->rootfs[i].type;
                ms[i].source = c->rootfs[i].source;
                ms[i].target = c->rootfs[i].target;
                ms[i].options = c->rootfs[i].options;
                ms[i].n_options = c->rootfs[i].n_options;
                mp[i] = &ms[i];
        }
        if (c->n_rootfs && (!ms || !mp))
                ps_log_error("%s: out of memory: TaskCreate goes out without its rootfs", c->id);
        ev.rootfs = mp;
        ev.n_rootfs = ms && mp ? c->n_rootfs : 0;
        io.stdin = p->stdin_path;
        io.stdout = p->stdout_path;
        io.stderr = p->stderr_path;
        io.terminal = p->terminal;
        ev.io = &io;
        ev.checkpoint = c->checkpoint ? c->checkpoint : "";
        ev.pid = (uint32_t)p->pid;
        ps_publisher_publish(pub, "/tasks/create", &ev.base);
        free(ms);
        free(mp);
}

static void ev_task_start(void *pub, const struct ps_container *c)
{
        Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;

        ev.container_id = c->id;
        ev.pid = (uint32_t)c->init->pid;
        ps_publisher_publish(pub, "/tasks/start", &ev.base);
}

static void ev_task_exit(void *pub, const struct ps_process *p)
{
        Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

        ev.container_id = p->c->id;
        ev.id = (char *)(uintptr_t)ps_process_name(p); /* packing only reads */
        ev.pid = (uint32_t)p->pid;
        ev.exit_status = p->exit_status;
        set_time(&ts, &p->exited_at);
        ev.exited_at = &ts;
        ps_publisher_publish(pub, "/tasks/exit", &ev.base);
}

static void ev_task_delete(void *pub, const struct ps_process *p)
{
        Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

        ev.container_id = p->c->id;
        ev.pid = (uint32_t)p->pid;
        ev.exit_status = p->exit_status;
        if (ps_process_exited(p)) {
                set_time(&ts, &p->exited_at);
                ev.exited_at = &ts;
        }
        ev.id = p->exec_id ? p->exec_id : "";
        ps_publisher_publish(pub, "/tasks/delete", &ev.base);
}

static void ev_exec_added(void *pub, const struct ps_process *p)
{
        Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;

        ev.container_id = p->c->id;
        ev.exec_id = p->exec_id;
        ps_publisher_publish(pub, "/tasks/exec-added", &ev.base);
}

static void ev_exec_started(void *pub, const struct ps_process *p)
{
        Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;

        ev.container_id = p->c->id;
        ev.exec_id = p->exec_id;
        ev.pid = (uint32_t)p->pid;
        ps_publisher_publish(pub, "/tasks/exec-started", &ev.base);
}

static void ev_paused(void *pub, const struct ps_container *c)
{
        Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;

        ev.container_id = c->id;
        ps_publisher_publish(pub, "/tasks/paused", &ev.base);
}

static void ev_resumed(void *pub, const struct ps_container *c)
{
        Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;

        ev.container_id = c->id;
        ps_publisher_publish(pub, "/tasks/resumed", &ev.base);
}

static void ev_oom(void *pub, const struct ps_container *c)
{
        Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;

        ev.container_id = c->id;
        ps_publisher_publish(pub, "/tasks/oom", &ev.base);
}

static void ev_checkpointed(void *pub, const struct ps_container *c, const char *path)
{
        Containerd__Events__TaskCheckpointed ev = CONTAINERD__EVENTS__TASK_CHECKPOINTED__INIT;

        ev.container_id = c->id;
        ev.checkpoint = (char *)(uintptr_t)path;
        ps_publisher_publish(pub, "/tasks/checkpointed", &ev.base);
}

void ps_api_events_init(struct ps_task_events *ev, struct ps_publisher *pub)
{
        *ev = (struct ps_task_events){.task_create = ev_task_create,
                                      .task_start = ev_task_start,
                                      .task_exit = ev_task_exit,
                                      .task_delete = ev_task_delete,
                                      .exec_added = ev_exec_added,
                                      .exec_started = ev_exec_started,
                                      .paused = ev_paused,
                                      .resumed = ev_resumed,
                                      .oom = ev_oom,
                                      .checkpointed = ev_checkpointed,
                                      .data = pub};
}

/* ---- the Sandbox API's pods -------------------------------------------- */

static void ev_sandbox_create(void *pub, const char *id)
{
        Containerd__Events__SandboxCreate ev = CONTAINERD__EVENTS__SANDBOX_CREATE__INIT;

        ev.sandbox_id = (char *)(uintptr_t)id;
        ps_publisher_publish(pub, "/sandboxes/create", &ev.base);
}

static void ev_sandbox_start(void *pub, const char *id)
{
        Containerd__Events__SandboxStart ev = CONTAINERD__EVENTS__SANDBOX_START__INIT;

        ev.sandbox_id = (char *)(uintptr_t)id;
        ps_publisher_publish(pub, "/sandboxes/start", &ev.base);
}

static void ev_sandbox_exit(void *pub, const char *id, unsigned exit_status,
                            const struct timespec *exited_at)
{
        Containerd__Events__SandboxExit ev = CONTAINERD__EVENTS__SANDBOX_EXIT__INIT;
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

        ev.sandbox_id = (char *)(uintptr_t)id;
        ev.exit_status = exit_status;
        set_time(&ts, exited_at);
        ev.exited_at = &ts;
        ps_publisher_publish(pub, "/sandboxes/exit", &ev.base);
}

void ps_api_sandbox_events_init(struct ps_sandbox_events *ev, struct ps_publisher *pub)
{
        *ev = (struct ps_sandbox_events){.sandbox_create = ev_sandbox_create,
                                         .sandbox_start = ev_sandbox_start,
                                         .sandbox_exit = ev_sandbox_exit,
                                         .data = pub};
}
