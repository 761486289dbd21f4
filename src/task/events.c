#include "task/events.h"

#include <stdint.h>

#include "containerd/events/task.pb-c.h"
#include "core/publisher.h"
#include "task/container.h"
#include "task/process.h"

static struct ps_publisher *pub_of(const struct ps_container *c)
{
        return c->tasks->env.pub;
}

static void set_time(Google__Protobuf__Timestamp *ts, const struct timespec *t)
{
        ts->seconds = t->tv_sec;
        ts->nanos = (int32_t)t->tv_nsec;
}

void ps_events_task_create(const struct ps_container *c)
{
        const struct ps_process *p = c->init;
        Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
        Containerd__Events__TaskIO io = CONTAINERD__EVENTS__TASK_IO__INIT;

        ev.container_id = c->id;
        ev.bundle = c->bundle;
        ev.rootfs = c->rootfs;
        ev.n_rootfs = c->n_rootfs;
        io.stdin = p->stdin_path;
        io.stdout = p->stdout_path;
        io.stderr = p->stderr_path;
        io.terminal = p->terminal;
        ev.io = &io;
        ev.checkpoint = c->checkpoint ? c->checkpoint : "";
        ev.pid = (uint32_t)p->pid;
        ps_publisher_publish(pub_of(c), "/tasks/create", &ev.base);
}

void ps_events_task_start(const struct ps_container *c)
{
        Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;

        ev.container_id = c->id;
        ev.pid = (uint32_t)c->init->pid;
        ps_publisher_publish(pub_of(c), "/tasks/start", &ev.base);
}

void ps_events_task_exit(const struct ps_process *p)
{
        Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

        ev.container_id = p->c->id;
        ev.id = (char *)(uintptr_t)ps_process_name(p); /* packing only reads */
        ev.pid = (uint32_t)p->pid;
        ev.exit_status = p->exit_status;
        set_time(&ts, &p->exited_at);
        ev.exited_at = &ts;
        ps_publisher_publish(pub_of(p->c), "/tasks/exit", &ev.base);
}

void ps_events_task_delete(const struct ps_process *p)
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
        ps_publisher_publish(pub_of(p->c), "/tasks/delete", &ev.base);
}

void ps_events_exec_added(const struct ps_process *p)
{
        Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;

        ev.container_id = p->c->id;
        ev.exec_id = p->exec_id;
        ps_publisher_publish(pub_of(p->c), "/tasks/exec-added", &ev.base);
}

void ps_events_exec_started(const struct ps_process *p)
{
        Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;

        ev.container_id = p->c->id;
        ev.exec_id = p->exec_id;
        ev.pid = (uint32_t)p->pid;
        ps_publisher_publish(pub_of(p->c), "/tasks/exec-started", &ev.base);
}

void ps_events_paused(const struct ps_container *c)
{
        Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;

        ev.container_id = c->id;
        ps_publisher_publish(pub_of(c), "/tasks/paused", &ev.base);
}

void ps_events_resumed(const struct ps_container *c)
{
        Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;

        ev.container_id = c->id;
        ps_publisher_publish(pub_of(c), "/tasks/resumed", &ev.base);
}

void ps_events_oom(const struct ps_container *c)
{
        Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;

        ev.container_id = c->id;
        ps_publisher_publish(pub_of(c), "/tasks/oom", &ev.base);
}

void ps_events_checkpointed(const struct ps_container *c, const char *path)
{
        Containerd__Events__TaskCheckpointed ev = CONTAINERD__EVENTS__TASK_CHECKPOINTED__INIT;

        ev.container_id = c->id;
        ev.checkpoint = (char *)(uintptr_t)path;
        ps_publisher_publish(pub_of(c), "/tasks/checkpointed", &ev.base);
}
