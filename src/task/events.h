/* Builders for the task events (containerd.events.*), published in order
 * through the shim's publisher. Each takes the state it reports from the
 * container or process, so every event carries exactly what State says. */
#ifndef PS_TASK_EVENTS_H
#define PS_TASK_EVENTS_H

struct ps_container;
struct ps_process;

void ps_events_task_create(const struct ps_container *c);
void ps_events_task_start(const struct ps_container *c);
void ps_events_task_exit(const struct ps_process *p);
/* For an init: id left empty; for an exec: id = exec id. */
void ps_events_task_delete(const struct ps_process *p);
void ps_events_exec_added(const struct ps_process *p);
void ps_events_exec_started(const struct ps_process *p);
void ps_events_paused(const struct ps_container *c);
void ps_events_resumed(const struct ps_container *c);
void ps_events_oom(const struct ps_container *c);
void ps_events_checkpointed(const struct ps_container *c, const char *path);

#endif
