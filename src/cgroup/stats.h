/* Task metrics from the cgroup a process lives in, as containerd expects
 * them in Stats replies: a packed io.containerd.cgroups.v1.Metrics (cgroup
 * v1 hierarchies) or io.containerd.cgroups.v2.Metrics (unified hierarchy),
 * type URL = that full message name.
 *
 * The cgroup is found from /proc/<pid>/cgroup, so it works for the cgroupfs
 * and systemd drivers alike and for any cgroup parent.
 */
#ifndef PS_CGROUP_STATS_H
#define PS_CGROUP_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* On success the caller owns *ret_type_url and *ret_value (free()). A pid
 * that no longer exists gives NOT_FOUND. */
int ps_cgroup_stats(pid_t pid, char **ret_type_url, uint8_t **ret_value, size_t *ret_len,
                    struct ps_err **err);

/* The same for cgroups resolved earlier (ps_cgroup_paths_of while the
 * process lived): a task's cgroup outlives its init until the runtime
 * deletes it, and so do its metrics. A cgroup directory that is gone gives
 * NOT_FOUND. */
struct ps_cgroup_paths;
int ps_cgroup_stats_of(const struct ps_cgroup_paths *paths, char **ret_type_url,
                       uint8_t **ret_value, size_t *ret_len, struct ps_err **err);

/* The v2 Metrics of one cgroup2 directory (absolute path), for callers that
 * already know the cgroup (and for tests on hybrid hosts, where
 * ps_cgroup_stats picks v1). A missing directory gives NOT_FOUND. */
int ps_cgroup_stats_v2_dir(const char *dir, char **ret_type_url, uint8_t **ret_value,
                           size_t *ret_len, struct ps_err **err);

#endif
