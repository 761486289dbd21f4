/* Task metrics from the cgroup a process lives in: everything a Stats reply
 * carries, read into plain structs. The cgroup v1 part mirrors containerd's
 * io.containerd.cgroups.v1.Metrics, the v2 part its
 * io.containerd.cgroups.v2.Metrics, field for field and under the same
 * names; api/metrics.h turns them into those messages. Nothing here knows
 * protobuf.
 *
 * The cgroup is found from /proc/<pid>/cgroup, so it works for the cgroupfs
 * and systemd drivers alike and for any cgroup parent. Metrics come from v1
 * controllers when the memory controller is mounted as v1 (as containerd
 * decides), else from the cgroup2 directory.
 *
 * Values are what the kernel reports: "max" reads as UINT64_MAX, a counter
 * that a file lacks (or a file that does not exist, as controllers come and
 * go) stays 0, and keys the kernel adds later are skipped.
 *
 * Ownership: a filled struct ps_cgroup_metrics owns its arrays (malloc'ed);
 * ps_cgroup_metrics_clear() frees them. Strings are inline.
 */
#ifndef PS_CGROUP_STATS_H
#define PS_CGROUP_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* ---- both versions */

/* pids.current and pids.max. */
struct ps_cgroup_pids {
        uint64_t current, limit;
};

/* ---- cgroup v1 */

/* One memory counter group: memory.[<kind>.]{limit_in_bytes, usage_in_bytes,
 * max_usage_in_bytes, failcnt}. */
struct ps_cgroup_v1_memory_entry {
        uint64_t limit, usage, max, failcnt;
};

/* memory.stat under containerd's names (pgpgin is pg_pg_in,
 * hierarchical_memsw_limit is hierarchical_swap_limit), then the four
 * counter groups. */
struct ps_cgroup_v1_memory {
        uint64_t cache, rss, rss_huge, mapped_file, dirty, writeback;
        uint64_t pg_pg_in, pg_pg_out, pg_fault, pg_maj_fault;
        uint64_t inactive_anon, active_anon, inactive_file, active_file, unevictable;
        uint64_t hierarchical_memory_limit, hierarchical_swap_limit;
        uint64_t total_cache, total_rss, total_rss_huge, total_mapped_file, total_dirty;
        uint64_t total_writeback, total_pg_pg_in, total_pg_pg_out, total_pg_fault;
        uint64_t total_pg_maj_fault, total_inactive_anon, total_active_anon;
        uint64_t total_inactive_file, total_active_file, total_unevictable;
        struct ps_cgroup_v1_memory_entry usage;      /* memory.* */
        struct ps_cgroup_v1_memory_entry swap;       /* memory.memsw.* (zeros without swap
                                                        accounting, as in containerd) */
        struct ps_cgroup_v1_memory_entry kernel;     /* memory.kmem.* */
        struct ps_cgroup_v1_memory_entry kernel_tcp; /* memory.kmem.tcp.* */
};

/* memory.oom_control. */
struct ps_cgroup_v1_oom_control {
        uint64_t oom_kill_disable, under_oom, oom_kill;
};

struct ps_cgroup_v1_cpu {
        /* cpuacct, in nanoseconds (cpuacct.stat's ticks are converted). */
        uint64_t total, kernel, user;
        uint64_t *per_cpu; /* cpuacct.usage_percpu: n_per_cpu values, malloc'ed */
        size_t n_per_cpu;
        /* cpu.stat of the cpu controller. */
        uint64_t periods, throttled_periods, throttled_time;
};

/* The blkio files, as the recursive lists of containerd's BlkIOStat. */
enum ps_cgroup_blkio_list_kind {
        PS_CGROUP_BLKIO_SERVICE_BYTES, /* io_service_bytes_recursive */
        PS_CGROUP_BLKIO_SERVICED,      /* io_serviced_recursive */
        PS_CGROUP_BLKIO_QUEUED,        /* io_queued_recursive */
        PS_CGROUP_BLKIO_SERVICE_TIME,  /* io_service_time_recursive */
        PS_CGROUP_BLKIO_WAIT_TIME,     /* io_wait_time_recursive */
        PS_CGROUP_BLKIO_MERGED,        /* io_merged_recursive */
        PS_CGROUP_BLKIO_TIME,          /* io_time_recursive */
        PS_CGROUP_BLKIO_SECTORS,       /* sectors_recursive */
        PS_CGROUP_BLKIO_LIST_MAX,
};

/* Longest /proc/partitions name kept, and the "/dev/<name>" built from it. */
#define PS_CGROUP_DEVNAME_MAX 63
#define PS_CGROUP_DEVICE_SIZE (sizeof("/dev/") + PS_CGROUP_DEVNAME_MAX)

/* One "<major>:<minor> [<op>] <value>" line of a blkio file. */
struct ps_cgroup_blkio_entry {
        char op[16]; /* "Read", "Write", "Sync", "Async", "Discard", "Total"; "" for
                        files without ops. A longer op (none exists) is cut. */
        char device[PS_CGROUP_DEVICE_SIZE]; /* "/dev/<name>", "" if not in /proc/partitions */
        uint64_t major, minor, value;
};

struct ps_cgroup_blkio_list {
        struct ps_cgroup_blkio_entry *v; /* n entries, malloc'ed (NULL when n is 0) */
        size_t n;
};

/* Page sizes are the <size> of hugetlb.<size>.* names ("2MB"); longer ones
 * are not reported. */
#define PS_CGROUP_PAGESIZE_SIZE 32

/* hugetlb.<pagesize>.{usage_in_bytes, max_usage_in_bytes, failcnt}. */
struct ps_cgroup_v1_hugetlb {
        char pagesize[PS_CGROUP_PAGESIZE_SIZE];
        uint64_t usage, max, failcnt;
};

struct ps_cgroup_v1_metrics {
        /* Always read: without a memory cgroup there are no v1 metrics. */
        struct ps_cgroup_v1_memory memory;
        struct ps_cgroup_v1_oom_control oom_control;
        /* The cpu part is read when cpu or cpuacct is mounted as v1 (whichever
         * is missing leaves its half 0), pids and blkio when theirs is. */
        bool has_cpu, has_pids, has_blkio;
        struct ps_cgroup_v1_cpu cpu;
        struct ps_cgroup_pids pids;
        /* From the first of these file sets that has entries: CFQ's, BFQ's,
         * the throttle layer's recursive ones, its plain ones. */
        struct ps_cgroup_blkio_list blkio[PS_CGROUP_BLKIO_LIST_MAX];
        struct ps_cgroup_v1_hugetlb *hugetlb; /* one per page size, malloc'ed */
        size_t n_hugetlb;
};

/* ---- cgroup v2 */

/* cpu.stat, in microseconds. */
struct ps_cgroup_v2_cpu {
        uint64_t usage_usec, user_usec, system_usec;
        uint64_t nr_periods, nr_throttled, throttled_usec;
};

/* memory.stat keys under their kernel names, then memory.current,
 * memory.max, memory.swap.current and memory.swap.max. */
struct ps_cgroup_v2_memory {
        uint64_t anon, file, kernel_stack, slab, sock, shmem;
        uint64_t file_mapped, file_dirty, file_writeback, anon_thp;
        uint64_t inactive_anon, active_anon, inactive_file, active_file, unevictable;
        uint64_t slab_reclaimable, slab_unreclaimable, pgfault, pgmajfault;
        uint64_t workingset_refault, workingset_activate, workingset_nodereclaim;
        uint64_t pgrefill, pgscan, pgsteal, pgactivate, pgdeactivate, pglazyfree, pglazyfreed;
        uint64_t thp_fault_alloc, thp_collapse_alloc;
        uint64_t usage, usage_limit, swap_usage, swap_limit;
};

/* memory.events. */
struct ps_cgroup_v2_memory_events {
        uint64_t low, high, max, oom, oom_kill;
};

/* One device line of io.stat. */
struct ps_cgroup_v2_io_entry {
        uint64_t major, minor, rbytes, wbytes, rios, wios;
};

/* hugetlb.<pagesize>.current and .max. */
struct ps_cgroup_v2_hugetlb {
        char pagesize[PS_CGROUP_PAGESIZE_SIZE];
        uint64_t current, max;
};

struct ps_cgroup_v2_metrics {
        /* Always reported (zeros where a controller is not enabled), as CRI
         * reads them. */
        struct ps_cgroup_pids pids;
        struct ps_cgroup_v2_cpu cpu;
        struct ps_cgroup_v2_memory memory;
        bool has_memory_events; /* memory.events exists */
        struct ps_cgroup_v2_memory_events memory_events;
        struct ps_cgroup_v2_io_entry *io; /* n_io device lines, malloc'ed */
        size_t n_io;
        struct ps_cgroup_v2_hugetlb *hugetlb; /* one per page size, malloc'ed */
        size_t n_hugetlb;
};

/* ---- the metrics of one cgroup */

enum ps_cgroup_metrics_version {
        PS_CGROUP_METRICS_NONE = 0, /* a zeroed struct: nothing read */
        PS_CGROUP_METRICS_V1 = 1,
        PS_CGROUP_METRICS_V2 = 2,
};

struct ps_cgroup_metrics {
        enum ps_cgroup_metrics_version version; /* which member is filled */
        union {
                struct ps_cgroup_v1_metrics v1;
                struct ps_cgroup_v2_metrics v2;
        };
};

/* Frees what m holds and zeroes it (version NONE). Accepts NULL and a zeroed
 * struct. */
void ps_cgroup_metrics_clear(struct ps_cgroup_metrics *m);

/* The metrics of pid's cgroups. A pid that no longer exists gives NOT_FOUND.
 * On success *ret is filled (the caller clears it); on failure it is left
 * untouched. */
int ps_cgroup_stats(pid_t pid, struct ps_cgroup_metrics *ret, struct ps_err **err);

/* The same for cgroups resolved earlier (ps_cgroup_paths_of while the
 * process lived): a task's cgroup outlives its init until the runtime
 * deletes it, and so do its metrics. A cgroup directory that is gone gives
 * NOT_FOUND. */
struct ps_cgroup_paths;
int ps_cgroup_stats_of(const struct ps_cgroup_paths *paths, struct ps_cgroup_metrics *ret,
                       struct ps_err **err);

/* The v2 metrics of one cgroup2 directory (absolute path), for callers that
 * already know the cgroup (and for tests on hybrid hosts, where
 * ps_cgroup_stats picks v1). A missing directory gives NOT_FOUND. */
int ps_cgroup_stats_v2_dir(const char *dir, struct ps_cgroup_metrics *ret, struct ps_err **err);

#endif
