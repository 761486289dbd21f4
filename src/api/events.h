/* The task core's events (task/events.h) as containerd.events messages
 * (TaskCreate, TaskStart, TaskExit, TaskDelete, TaskExecAdded,
 * TaskExecStarted, TaskPaused, TaskResumed, TaskOOM, TaskCheckpointed),
 * and the Sandbox API's pods' (sandbox/sandbox.h) as SandboxCreate,
 * SandboxStart and SandboxExit under /sandboxes/{create,start,exit}, as
 * containerd's own sandbox controller service names them; all handed to
 * the publisher in the order they are reported. */
#ifndef PS_API_EVENTS_H
#define PS_API_EVENTS_H

#include "sandbox/sandbox.h"
#include "task/events.h"

struct ps_publisher;

/* Fills ev with callbacks that publish through pub (borrowed). */
void ps_api_events_init(struct ps_task_events *ev, struct ps_publisher *pub);
void ps_api_sandbox_events_init(struct ps_sandbox_events *ev, struct ps_publisher *pub);

#endif
