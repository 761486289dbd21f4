/* Plain metrics -> packed cgroups Metrics. The messages are built on the
 * stack and in a few blocks (one per repeated field), point into the plain
 * struct for per-CPU values and strings, and live only until packed. */
#include "api/metrics.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "cgroups/v1/metrics.pb-c.h"
#include "cgroups/v2/metrics.pb-c.h"

typedef Io__Containerd__Cgroups__V1__Metrics V1Metrics;
typedef Io__Containerd__Cgroups__V1__MemoryStat V1MemoryStat;
typedef Io__Containerd__Cgroups__V1__MemoryEntry V1MemoryEntry;
typedef Io__Containerd__Cgroups__V1__MemoryOomControl V1OomControl;
typedef Io__Containerd__Cgroups__V1__CPUStat V1CPUStat;
typedef Io__Containerd__Cgroups__V1__CPUUsage V1CPUUsage;
typedef Io__Containerd__Cgroups__V1__Throttle V1Throttle;
typedef Io__Containerd__Cgroups__V1__PidsStat V1PidsStat;
typedef Io__Containerd__Cgroups__V1__BlkIOStat V1BlkIOStat;
typedef Io__Containerd__Cgroups__V1__BlkIOEntry V1BlkIOEntry;
typedef Io__Containerd__Cgroups__V1__HugetlbStat V1HugetlbStat;
typedef Io__Containerd__Cgroups__V1__NetworkStat V1NetworkStat;
typedef Io__Containerd__Cgroups__V2__Metrics V2Metrics;
typedef Io__Containerd__Cgroups__V2__PidsStat V2PidsStat;
typedef Io__Containerd__Cgroups__V2__CPUStat V2CPUStat;
typedef Io__Containerd__Cgroups__V2__MemoryStat V2MemoryStat;
typedef Io__Containerd__Cgroups__V2__MemoryEvents V2MemoryEvents;
typedef Io__Containerd__Cgroups__V2__IOStat V2IOStat;
typedef Io__Containerd__Cgroups__V2__IOEntry V2IOEntry;
typedef Io__Containerd__Cgroups__V2__HugeTlbStat V2HugeTlbStat;

#define V1(name) io__containerd__cgroups__v1__##name##__descriptor
#define V2(name) io__containerd__cgroups__v2__##name##__descriptor

/* --- the blocks of repeated fields: at most one per blkio list, hugetlb
 * and network. */

#define MAX_BLOCKS (PS_CGROUP_BLKIO_LIST_MAX + 2)

struct blocks {
        void *v[MAX_BLOCKS];
        size_t n;
};

static void blocks_done(struct blocks *b)
{
        for (size_t i = 0; i < b->n; i++)
                free(b->v[i]);
}

static int enomem(struct ps_err **err)
{
        return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "pack metrics");
}

/* n > 0 messages of type d, initialised, behind an array of pointers to
 * them, all in one block that b frees. Returns the pointer array, or NULL
 * (err set). */
static void **msg_array(struct blocks *b, const ProtobufCMessageDescriptor *d, size_t n,
                        struct ps_err **err)
{
        const size_t align = alignof(max_align_t);
        size_t head;
        void **ptrs;
        char *block;

        if (b->n == MAX_BLOCKS) {
                ps_err_set(err, PS_INTERNAL, "pack metrics: too many repeated fields");
                return NULL;
        }
        if (n > (SIZE_MAX / 2) / (sizeof(void *) + d->sizeof_message)) {
                enomem(err);
                return NULL;
        }
        /* The messages start aligned for any type. */
        head = (n * sizeof(void *) + align - 1) / align * align;
        if (!(block = malloc(head + n * d->sizeof_message))) {
                enomem(err);
                return NULL;
        }
        b->v[b->n++] = block;
        ptrs = (void **)block;
        for (size_t i = 0; i < n; i++) {
                ptrs[i] = block + head + i * d->sizeof_message;
                protobuf_c_message_init(d, ptrs[i]);
        }
        return ptrs;
}

/* A string field pointing at a fixed-size array, which must hold its NUL. */
static int str_field(char **field, const char *s, size_t size, struct ps_err **err)
{
        if (!memchr(s, '\0', size))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "pack metrics: unterminated string");
        *field = (char *)s;
        return 0;
}

static int pack(const ProtobufCMessage *msg, uint8_t **ret_value, size_t *ret_len,
                struct ps_err **err)
{
        size_t len = protobuf_c_message_get_packed_size(msg);
        uint8_t *value = malloc(len ? len : 1);

        if (!value)
                return enomem(err);
        protobuf_c_message_pack(msg, value);
        *ret_value = value;
        *ret_len = len;
        return 0;
}

/* --- cgroup v1 */

/* Every singular message of a v1 Metrics. */
struct v1_msgs {
        V1Metrics m;
        V1MemoryStat memory;
        V1MemoryEntry usage, swap, kernel, kernel_tcp;
        V1OomControl oom;
        V1CPUStat cpu;
        V1CPUUsage cpu_usage;
        V1Throttle throttling;
        V1PidsStat pids;
        V1BlkIOStat blkio;
        struct blocks *blocks;
};

static void v1_memory_entry(V1MemoryEntry *e, const struct ps_cgroup_v1_memory_entry *s)
{
        io__containerd__cgroups__v1__memory_entry__init(e);
        e->limit = s->limit;
        e->usage = s->usage;
        e->max = s->max;
        e->failcnt = s->failcnt;
}

static void v1_memory(struct v1_msgs *w, const struct ps_cgroup_v1_memory *s)
{
        V1MemoryStat *d = &w->memory;

        io__containerd__cgroups__v1__memory_stat__init(d);
        d->cache = s->cache;
        d->rss = s->rss;
        d->rss_huge = s->rss_huge;
        d->mapped_file = s->mapped_file;
        d->dirty = s->dirty;
        d->writeback = s->writeback;
        d->pg_pg_in = s->pg_pg_in;
        d->pg_pg_out = s->pg_pg_out;
        d->pg_fault = s->pg_fault;
        d->pg_maj_fault = s->pg_maj_fault;
        d->inactive_anon = s->inactive_anon;
        d->active_anon = s->active_anon;
        d->inactive_file = s->inactive_file;
        d->active_file = s->active_file;
        d->unevictable = s->unevictable;
        d->hierarchical_memory_limit = s->hierarchical_memory_limit;
        d->hierarchical_swap_limit = s->hierarchical_swap_limit;
        d->total_cache = s->total_cache;
        d->total_rss = s->total_rss;
        d->total_rss_huge = s->total_rss_huge;
        d->total_mapped_file = s->total_mapped_file;
        d->total_dirty = s->total_dirty;
        d->total_writeback = s->total_writeback;
        d->total_pg_pg_in = s->total_pg_pg_in;
        d->total_pg_pg_out = s->total_pg_pg_out;
        d->total_pg_fault = s->total_pg_fault;
        d->total_pg_maj_fault = s->total_pg_maj_fault;
        d->total_inactive_anon = s->total_inactive_anon;
        d->total_active_anon = s->total_active_anon;
        d->total_inactive_file = s->total_inactive_file;
        d->total_active_file = s->total_active_file;
        d->total_unevictable = s->total_unevictable;
        v1_memory_entry(d->usage = &w->usage, &s->usage);
        v1_memory_entry(d->swap = &w->swap, &s->swap);
        v1_memory_entry(d->kernel = &w->kernel, &s->kernel);
        v1_memory_entry(d->kernel_tcp = &w->kernel_tcp, &s->kernel_tcp);
        w->m.memory = d;
}

static void v1_oom_control(struct v1_msgs *w, const struct ps_cgroup_v1_oom_control *s)
{
        io__containerd__cgroups__v1__memory_oom_control__init(&w->oom);
        w->oom.oom_kill_disable = s->oom_kill_disable;
        w->oom.under_oom = s->under_oom;
        w->oom.oom_kill = s->oom_kill;
        w->m.memory_oom_control = &w->oom;
}

static void v1_cpu(struct v1_msgs *w, const struct ps_cgroup_v1_cpu *s)
{
        io__containerd__cgroups__v1__cpustat__init(&w->cpu);
        io__containerd__cgroups__v1__cpuusage__init(&w->cpu_usage);
        io__containerd__cgroups__v1__throttle__init(&w->throttling);
        w->cpu_usage.total = s->total;
        w->cpu_usage.kernel = s->kernel;
        w->cpu_usage.user = s->user;
        w->cpu_usage.n_per_cpu = s->n_per_cpu;
        w->cpu_usage.per_cpu = s->per_cpu;
        w->throttling.periods = s->periods;
        w->throttling.throttled_periods = s->throttled_periods;
        w->throttling.throttled_time = s->throttled_time;
        w->cpu.usage = &w->cpu_usage;
        w->cpu.throttling = &w->throttling;
        w->m.cpu = &w->cpu;
}

static void v1_pids(struct v1_msgs *w, const struct ps_cgroup_pids *s)
{
        io__containerd__cgroups__v1__pids_stat__init(&w->pids);
        w->pids.current = s->current;
        w->pids.limit = s->limit;
        w->m.pids = &w->pids;
}

static int v1_blkio_list(struct blocks *b, const struct ps_cgroup_blkio_list *s, size_t *ret_n,
                         V1BlkIOEntry ***ret_v, struct ps_err **err)
{
        V1BlkIOEntry **v;

        if (!s->n)
                return 0;
        if (!(v = (V1BlkIOEntry **)msg_array(b, &V1(blk_ioentry), s->n, err)))
                return -1;
        for (size_t i = 0; i < s->n; i++) {
                const struct ps_cgroup_blkio_entry *e = &s->v[i];

                if (str_field(&v[i]->op, e->op, sizeof(e->op), err) < 0 ||
                    str_field(&v[i]->device, e->device, sizeof(e->device), err) < 0)
                        return -1;
                v[i]->major = e->major;
                v[i]->minor = e->minor;
                v[i]->value = e->value;
        }
        *ret_v = v;
        *ret_n = s->n;
        return 0;
}

static int v1_blkio(struct v1_msgs *w, const struct ps_cgroup_v1_metrics *s, struct ps_err **err)
{
        V1BlkIOStat *d = &w->blkio;
        const struct {
                size_t *n;
                V1BlkIOEntry ***v;
        } lists[PS_CGROUP_BLKIO_LIST_MAX] = {
            [PS_CGROUP_BLKIO_SERVICE_BYTES] = {&d->n_io_service_bytes_recursive,
                                               &d->io_service_bytes_recursive},
            [PS_CGROUP_BLKIO_SERVICED] = {&d->n_io_serviced_recursive, &d->io_serviced_recursive},
            [PS_CGROUP_BLKIO_QUEUED] = {&d->n_io_queued_recursive, &d->io_queued_recursive},
            [PS_CGROUP_BLKIO_SERVICE_TIME] = {&d->n_io_service_time_recursive,
                                              &d->io_service_time_recursive},
            [PS_CGROUP_BLKIO_WAIT_TIME] = {&d->n_io_wait_time_recursive,
                                           &d->io_wait_time_recursive},
            [PS_CGROUP_BLKIO_MERGED] = {&d->n_io_merged_recursive, &d->io_merged_recursive},
            [PS_CGROUP_BLKIO_TIME] = {&d->n_io_time_recursive, &d->io_time_recursive},
            [PS_CGROUP_BLKIO_SECTORS] = {&d->n_sectors_recursive, &d->sectors_recursive},
        };

        io__containerd__cgroups__v1__blk_iostat__init(d);
        for (size_t i = 0; i < PS_CGROUP_BLKIO_LIST_MAX; i++)
                if (v1_blkio_list(w->blocks, &s->blkio[i], lists[i].n, lists[i].v, err) < 0)
                        return -1;
        w->m.blkio = d;
        return 0;
}

static int v1_hugetlb(struct v1_msgs *w, const struct ps_cgroup_v1_metrics *s, struct ps_err **err)
{
        V1HugetlbStat **v;

        if (!s->n_hugetlb)
                return 0;
        if (!(v = (V1HugetlbStat **)msg_array(w->blocks, &V1(hugetlb_stat), s->n_hugetlb, err)))
                return -1;
        for (size_t i = 0; i < s->n_hugetlb; i++) {
                const struct ps_cgroup_v1_hugetlb *h = &s->hugetlb[i];

                if (str_field(&v[i]->pagesize, h->pagesize, sizeof(h->pagesize), err) < 0)
                        return -1;
                v[i]->usage = h->usage;
                v[i]->max = h->max;
                v[i]->failcnt = h->failcnt;
        }
        w->m.hugetlb = v;
        w->m.n_hugetlb = s->n_hugetlb;
        return 0;
}

static int v1_network(struct v1_msgs *w, const struct ps_link_stats *links, size_t n,
                      struct ps_err **err)
{
        V1NetworkStat **v;

        if (n > PS_NET_MAX_LINKS || (n && !links))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "pack metrics: bad links");
        if (!n)
                return 0;
        if (!(v = (V1NetworkStat **)msg_array(w->blocks, &V1(network_stat), n, err)))
                return -1;
        for (size_t i = 0; i < n; i++) {
                const struct ps_link_stats *l = &links[i];

                if (str_field(&v[i]->name, l->name, sizeof(l->name), err) < 0)
                        return -1;
                v[i]->rx_bytes = l->rx_bytes;
                v[i]->rx_packets = l->rx_packets;
                v[i]->rx_errors = l->rx_errors;
                v[i]->rx_dropped = l->rx_dropped;
                v[i]->tx_bytes = l->tx_bytes;
                v[i]->tx_packets = l->tx_packets;
                v[i]->tx_errors = l->tx_errors;
                v[i]->tx_dropped = l->tx_dropped;
        }
        w->m.network = v;
        w->m.n_network = n;
        return 0;
}

static int pack_v1(const struct ps_metrics *pm, uint8_t **ret_value, size_t *ret_len,
                   struct ps_err **err)
{
        const struct ps_cgroup_v1_metrics *s = &pm->cgroup.v1;
        _cleanup_(blocks_done) struct blocks blocks = {0};
        struct v1_msgs w = {.m = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT, .blocks = &blocks};

        v1_memory(&w, &s->memory);
        v1_oom_control(&w, &s->oom_control);
        if (s->has_cpu)
                v1_cpu(&w, &s->cpu);
        if (s->has_pids)
                v1_pids(&w, &s->pids);
        if ((s->has_blkio && v1_blkio(&w, s, err) < 0) || v1_hugetlb(&w, s, err) < 0 ||
            v1_network(&w, pm->links, pm->n_links, err) < 0)
                return -1;
        return pack(&w.m.base, ret_value, ret_len, err);
}

/* --- cgroup v2 */

/* Every singular message of a v2 Metrics. */
struct v2_msgs {
        V2Metrics m;
        V2PidsStat pids;
        V2CPUStat cpu;
        V2MemoryStat memory;
        V2MemoryEvents memory_events;
        V2IOStat io;
        struct blocks *blocks;
};

static void v2_cpu(struct v2_msgs *w, const struct ps_cgroup_v2_cpu *s)
{
        io__containerd__cgroups__v2__cpustat__init(&w->cpu);
        w->cpu.usage_usec = s->usage_usec;
        w->cpu.user_usec = s->user_usec;
        w->cpu.system_usec = s->system_usec;
        w->cpu.nr_periods = s->nr_periods;
        w->cpu.nr_throttled = s->nr_throttled;
        w->cpu.throttled_usec = s->throttled_usec;
        w->m.cpu = &w->cpu;
}

static void v2_memory(struct v2_msgs *w, const struct ps_cgroup_v2_memory *s)
{
        V2MemoryStat *d = &w->memory;

        io__containerd__cgroups__v2__memory_stat__init(d);
        d->anon = s->anon;
        d->file = s->file;
        d->kernel_stack = s->kernel_stack;
        d->slab = s->slab;
        d->sock = s->sock;
        d->shmem = s->shmem;
        d->file_mapped = s->file_mapped;
        d->file_dirty = s->file_dirty;
        d->file_writeback = s->file_writeback;
        d->anon_thp = s->anon_thp;
        d->inactive_anon = s->inactive_anon;
        d->active_anon = s->active_anon;
        d->inactive_file = s->inactive_file;
        d->active_file = s->active_file;
        d->unevictable = s->unevictable;
        d->slab_reclaimable = s->slab_reclaimable;
        d->slab_unreclaimable = s->slab_unreclaimable;
        d->pgfault = s->pgfault;
        d->pgmajfault = s->pgmajfault;
        d->workingset_refault = s->workingset_refault;
        d->workingset_activate = s->workingset_activate;
        d->workingset_nodereclaim = s->workingset_nodereclaim;
        d->pgrefill = s->pgrefill;
        d->pgscan = s->pgscan;
        d->pgsteal = s->pgsteal;
        d->pgactivate = s->pgactivate;
        d->pgdeactivate = s->pgdeactivate;
        d->pglazyfree = s->pglazyfree;
        d->pglazyfreed = s->pglazyfreed;
        d->thp_fault_alloc = s->thp_fault_alloc;
        d->thp_collapse_alloc = s->thp_collapse_alloc;
        d->usage = s->usage;
        d->usage_limit = s->usage_limit;
        d->swap_usage = s->swap_usage;
        d->swap_limit = s->swap_limit;
        w->m.memory = d;
}

static void v2_memory_events(struct v2_msgs *w, const struct ps_cgroup_v2_memory_events *s)
{
        io__containerd__cgroups__v2__memory_events__init(&w->memory_events);
        w->memory_events.low = s->low;
        w->memory_events.high = s->high;
        w->memory_events.max = s->max;
        w->memory_events.oom = s->oom;
        w->memory_events.oom_kill = s->oom_kill;
        w->m.memory_events = &w->memory_events;
}

static int v2_io(struct v2_msgs *w, const struct ps_cgroup_v2_metrics *s, struct ps_err **err)
{
        V2IOEntry **v = NULL;

        io__containerd__cgroups__v2__iostat__init(&w->io);
        if (s->n_io && !(v = (V2IOEntry **)msg_array(w->blocks, &V2(ioentry), s->n_io, err)))
                return -1;
        for (size_t i = 0; i < s->n_io; i++) {
                v[i]->major = s->io[i].major;
                v[i]->minor = s->io[i].minor;
                v[i]->rbytes = s->io[i].rbytes;
                v[i]->wbytes = s->io[i].wbytes;
                v[i]->rios = s->io[i].rios;
                v[i]->wios = s->io[i].wios;
        }
        w->io.usage = v;
        w->io.n_usage = s->n_io;
        w->m.io = &w->io;
        return 0;
}

static int v2_hugetlb(struct v2_msgs *w, const struct ps_cgroup_v2_metrics *s, struct ps_err **err)
{
        V2HugeTlbStat **v;

        if (!s->n_hugetlb)
                return 0;
        if (!(v = (V2HugeTlbStat **)msg_array(w->blocks, &V2(huge_tlb_stat), s->n_hugetlb, err)))
                return -1;
        for (size_t i = 0; i < s->n_hugetlb; i++) {
                const struct ps_cgroup_v2_hugetlb *h = &s->hugetlb[i];

                if (str_field(&v[i]->pagesize, h->pagesize, sizeof(h->pagesize), err) < 0)
                        return -1;
                v[i]->current = h->current;
                v[i]->max = h->max;
        }
        w->m.hugetlb = v;
        w->m.n_hugetlb = s->n_hugetlb;
        return 0;
}

static int pack_v2(const struct ps_metrics *pm, uint8_t **ret_value, size_t *ret_len,
                   struct ps_err **err)
{
        const struct ps_cgroup_v2_metrics *s = &pm->cgroup.v2;
        _cleanup_(blocks_done) struct blocks blocks = {0};
        struct v2_msgs w = {.m = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT, .blocks = &blocks};

        io__containerd__cgroups__v2__pids_stat__init(&w.pids);
        w.pids.current = s->pids.current;
        w.pids.limit = s->pids.limit;
        w.m.pids = &w.pids;
        v2_cpu(&w, &s->cpu);
        v2_memory(&w, &s->memory);
        if (s->has_memory_events)
                v2_memory_events(&w, &s->memory_events);
        if (v2_io(&w, s, err) < 0 || v2_hugetlb(&w, s, err) < 0)
                return -1;
        /* pm->links: no network field in v2 Metrics. */
        return pack(&w.m.base, ret_value, ret_len, err);
}

int ps_api_metrics_pack(const struct ps_metrics *m, const char **ret_type_url, uint8_t **ret_value,
                        size_t *ret_len, struct ps_err **err)
{
        switch (m->cgroup.version) {
        case PS_CGROUP_METRICS_V1:
                if (pack_v1(m, ret_value, ret_len, err) < 0)
                        return -1;
                *ret_type_url = V1(metrics).name;
                return 0;
        case PS_CGROUP_METRICS_V2:
                if (pack_v2(m, ret_value, ret_len, err) < 0)
                        return -1;
                *ret_type_url = V2(metrics).name;
                return 0;
        case PS_CGROUP_METRICS_NONE:
                break;
        }
        return ps_err_set(err, PS_INTERNAL, "pack metrics: no cgroup metrics");
}
