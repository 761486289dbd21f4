/* The task events, as the core sees them happen: one callback per event,
 * called in the order containerd must receive them (TaskCreate before
 * TaskStart, every exec's TaskExit before its init's, ...). The layer above
 * (api/events.c) turns them into containerd.events messages and publishes
 * them; unit tests record them. Each callback reads what it reports from
 * the container or process, so an event carries exactly what State says. */
#ifndef PS_TASK_EVENTS_H
#define PS_TASK_EVENTS_H

struct ps_container;
struct ps_process;

struct ps_task_events {
        void (*task_create)(void *data, const struct ps_container *c);
        void (*task_start)(void *data, const struct ps_container *c);
        void (*task_exit)(void *data, const struct ps_process *p);
        /* For an init: id left empty; for an exec: id = exec id. */
        void (*task_delete)(void *data, const struct ps_process *p);
        void (*exec_added)(void *data, const struct ps_process *p);
        void (*exec_started)(void *data, const struct ps_process *p);
        void (*paused)(void *data, const struct ps_container *c);
        void (*resumed)(void *data, const struct ps_container *c);
        void (*oom)(void *data, const struct ps_container *c);
        void (*checkpointed)(void *data, const struct ps_container *c, const char *path);
        void *data;
};

#endif
