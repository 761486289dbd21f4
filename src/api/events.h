/* The task core's events (task/events.h) as containerd.events messages
 * (TaskCreate, TaskStart, TaskExit, TaskDelete, TaskExecAdded,
 * TaskExecStarted, TaskPaused, TaskResumed, TaskOOM, TaskCheckpointed),
 * handed to the publisher in the order the core reports them. */
#ifndef PS_API_EVENTS_H
#define PS_API_EVENTS_H

#include "task/events.h"

struct ps_publisher;

/* Fills ev with callbacks that publish through pub (borrowed). */
void ps_api_events_init(struct ps_task_events *ev, struct ps_publisher *pub);

#endif
