/* A task's metrics (task/metrics.h) as the Any of a Stats reply:
 * containerd's io.containerd.cgroups.v1.Metrics or .v2.Metrics, packed. The
 * only place that knows the protobuf shape of metrics.
 *
 * cgroup v1 metrics give a v1 Metrics message with one NetworkStat per link.
 * v2 metrics give a v2 Metrics message, which has no network field: links
 * are not reported there (containerd's own shim reports none either).
 *
 * Presence follows the plain struct: a part it marks absent (has_cpu,
 * has_pids, has_blkio, has_memory_events false) is left out; every other
 * part is in the message, all zeros or not, because CRI reads them. Empty
 * strings (a blkio entry without op or device) are left out, as proto3
 * does. */
#ifndef PS_API_METRICS_H
#define PS_API_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "task/metrics.h"

/* Packs m. On success *ret_type_url is the message's full name (static:
 * "io.containerd.cgroups.v1.Metrics" or "io.containerd.cgroups.v2.Metrics") and
 * *ret_value, malloc'ed for the caller (non-NULL even when *ret_len is 0),
 * holds the message. Metrics of no cgroup version give INTERNAL; more than
 * PS_NET_MAX_LINKS links or a string that fills its whole array (no NUL)
 * give INVALID_ARGUMENT. m is only read. */
int ps_api_metrics_pack(const struct ps_metrics *m, const char **ret_type_url, uint8_t **ret_value,
                        size_t *ret_len, struct ps_err **err);

#endif
