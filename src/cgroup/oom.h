/* OOM notifications for one process's memory cgroup.
 * cgroup v1: an eventfd registered through cgroup.event_control on
 * memory.oom_control; cgroup v2: inotify on memory.events, firing when its
 * oom_kill counter increases. The callback runs from the event loop once per
 * OOM kill observed.
 *
 * Ownership: the container owns its watch; free it before the container.
 */
#ifndef PS_CGROUP_OOM_H
#define PS_CGROUP_OOM_H

#include <sys/types.h>

#include "base/error.h"

struct event_base;
struct ps_oom_watch;
struct ps_cgroup_paths;

typedef void (*ps_oom_fn)(void *data);

struct ps_oom_watch *ps_oom_watch_new(struct event_base *base, pid_t pid, ps_oom_fn fn, void *data,
                                      struct ps_err **err);

/* The same for cgroup paths resolved already (cgroup/paths.h), which the
 * watch does not keep. */
struct ps_oom_watch *ps_oom_watch_new_at(struct event_base *base, const struct ps_cgroup_paths *p,
                                         ps_oom_fn fn, void *data, struct ps_err **err);
struct ps_oom_watch *ps_oom_watch_free(struct ps_oom_watch *w);

#endif
