/* Network statistics in containerd's cgroups v1 Metrics.
 *
 * io.containerd.cgroups.v1.Metrics has a repeated `network` field (7) that
 * the cgroup code cannot fill; the pod's Stats reply gets it from here. The
 * v2 Metrics message has no such field, so callers use this for v1 only.
 */
#ifndef PS_NET_METRICS_H
#define PS_NET_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "net/netns.h"

/* Unpacks `packed_v1_metrics` (len bytes; len 0 is an empty message),
 * replaces its `network` entries with one NetworkStat per element of
 * links[0..n) and packs the result. Every other field is kept as it was.
 *
 * On success *ret (malloc'ed, caller frees with free()) and *ret_len hold the
 * new packed message. Input that is not a valid Metrics message gives
 * INVALID_ARGUMENT, as does n > PS_NET_MAX_LINKS. The inputs are not taken. */
int ps_net_add_to_metrics(const uint8_t *packed_v1_metrics, size_t len,
                          const struct ps_link_stats *links, size_t n, uint8_t **ret,
                          size_t *ret_len, struct ps_err **err);

#endif
