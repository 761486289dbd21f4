/* What a task's Stats reports, as plain values: the metrics of its cgroup
 * and, for a pod's sandbox task, the links of the pod network namespace. A
 * backend fills it (task/backend.h: stats); the RPC layer alone turns it
 * into containerd's Metrics message (api/metrics.h).
 *
 * Ownership: a filled struct owns what it points to; ps_metrics_clear()
 * releases it. */
#ifndef PS_TASK_METRICS_H
#define PS_TASK_METRICS_H

#include <stddef.h>

#include "cgroup/stats.h"
#include "net/netns.h"

struct ps_metrics {
        struct ps_cgroup_metrics cgroup;
        /* n_links entries (at most PS_NET_MAX_LINKS), malloc'ed; NULL and 0
         * when the task has no links of its own to report. */
        struct ps_link_stats *links;
        size_t n_links;
};

/* Frees what m holds and zeroes it. Accepts NULL and a zeroed struct. */
void ps_metrics_clear(struct ps_metrics *m);

#endif
