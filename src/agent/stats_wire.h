/* The fields of the agent's Stats answer (agent.proto StatsCPU,
 * StatsMemory, StatsMemoryEvents), which are those of the cgroup layer's
 * v2 metrics under the same names (cgroup/stats.h): one list, used by both
 * ends to copy them across. */
#ifndef PS_AGENT_STATS_WIRE_H
#define PS_AGENT_STATS_WIRE_H

/* clang-format off */
#define PS_AGENT_STATS_CPU(X) X(usage_usec) X(user_usec) X(system_usec) X(nr_periods)            \
        X(nr_throttled) X(throttled_usec)

#define PS_AGENT_STATS_MEMORY(X) X(anon) X(file) X(kernel_stack) X(slab) X(sock) X(shmem)        \
        X(file_mapped) X(file_dirty) X(file_writeback) X(anon_thp) X(inactive_anon)              \
        X(active_anon) X(inactive_file) X(active_file) X(unevictable) X(slab_reclaimable)        \
        X(slab_unreclaimable) X(pgfault) X(pgmajfault) X(workingset_refault)                     \
        X(workingset_activate) X(workingset_nodereclaim) X(pgrefill) X(pgscan) X(pgsteal)        \
        X(pgactivate) X(pgdeactivate) X(pglazyfree) X(pglazyfreed) X(thp_fault_alloc)            \
        X(thp_collapse_alloc) X(usage) X(usage_limit) X(swap_usage) X(swap_limit)

#define PS_AGENT_STATS_MEMORY_EVENTS(X) X(low) X(high) X(max) X(oom) X(oom_kill)
/* clang-format on */

#endif
