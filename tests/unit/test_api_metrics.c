/* api/metrics.c: plain metrics packed as containerd's cgroups v1 / v2
 * Metrics and decoded back with protobuf-c. A fully filled struct must come
 * back field for field (and fill every field of the message but those we
 * never report: rdma, cgroup_stats); absent parts stay absent; bad input is
 * refused. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/metrics.h"
#include "base/cleanup.h"
#include "cgroups/v1/metrics.pb-c.h"
#include "cgroups/v2/metrics.pb-c.h"
#include "check.h"

typedef Io__Containerd__Cgroups__V1__Metrics V1Metrics;
typedef Io__Containerd__Cgroups__V2__Metrics V2Metrics;

#define SAME(d, s, field) CHECK_INTEQ((d)->field, (s)->field)

/* Distinct values: each call to next() gives a new one. */
static uint64_t counter = 1000;

static uint64_t next(void)
{
        return counter++;
}

/* Fills a struct made of uint64_t members only, each with its own value. */
static void fill_u64s(void *obj, size_t size)
{
        for (size_t off = 0; off + sizeof(uint64_t) <= size; off += sizeof(uint64_t)) {
                uint64_t v = next();

                memcpy((char *)obj + off, &v, sizeof(v));
        }
}

/* ---- "every field is set", through the descriptors */

static bool skipped(const char *qualified, const char *const *skip)
{
        for (; *skip; skip++)
                if (strcmp(*skip, qualified) == 0)
                        return true;
        return false;
}

/* Counts (and names) the fields of msg, recursively, that are zero, empty
 * or absent, but for the "Message.field" names in skip. */
static int unset_fields(const ProtobufCMessage *msg, const char *const *skip)
{
        const ProtobufCMessageDescriptor *d = msg->descriptor;
        int unset = 0;

        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];
                const char *at = (const char *)msg + f->offset;
                char qualified[128];
                bool set = false;

                snprintf(qualified, sizeof(qualified), "%s.%s", d->short_name, f->name);
                if (skipped(qualified, skip))
                        continue;
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *)((const char *)msg + f->quantifier_offset);
                        void *const *v = *(void *const *const *)at;

                        set = n > 0;
                        for (size_t j = 0; f->type == PROTOBUF_C_TYPE_MESSAGE && j < n; j++)
                                unset += unset_fields(v[j], skip);
                } else if (f->type == PROTOBUF_C_TYPE_UINT64) {
                        set = *(const uint64_t *)at != 0;
                } else if (f->type == PROTOBUF_C_TYPE_STRING) {
                        const char *s = *(const char *const *)at;
                        set = s && *s;
                } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)at;
                        set = sub != NULL;
                        if (sub)
                                unset += unset_fields(sub, skip);
                }
                if (!set) {
                        fprintf(stderr, "not set: %s\n", qualified);
                        unset++;
                }
        }
        return unset;
}

/* ---- cgroup v1 */

static void fill_blkio(struct ps_cgroup_blkio_list *l, size_t n)
{
        l->v = calloc(n, sizeof(*l->v));
        l->n = l->v ? n : 0;
        for (size_t i = 0; i < l->n; i++) {
                snprintf(l->v[i].op, sizeof(l->v[i].op), "Op%zu", (size_t)next());
                snprintf(l->v[i].device, sizeof(l->v[i].device), "/dev/d%zu", (size_t)next());
                l->v[i].major = next();
                l->v[i].minor = next();
                l->v[i].value = next();
        }
}

static void fill_v1(struct ps_metrics *m)
{
        struct ps_cgroup_v1_metrics *v = &m->cgroup.v1;

        m->cgroup.version = PS_CGROUP_METRICS_V1;
        fill_u64s(&v->memory, sizeof(v->memory));
        fill_u64s(&v->oom_control, sizeof(v->oom_control));
        v->has_cpu = v->has_pids = v->has_blkio = true;
        v->cpu.total = next();
        v->cpu.kernel = next();
        v->cpu.user = next();
        v->cpu.per_cpu = calloc(3, sizeof(uint64_t));
        v->cpu.n_per_cpu = v->cpu.per_cpu ? 3 : 0;
        for (size_t i = 0; i < v->cpu.n_per_cpu; i++)
                v->cpu.per_cpu[i] = next();
        v->cpu.periods = next();
        v->cpu.throttled_periods = next();
        v->cpu.throttled_time = next();
        fill_u64s(&v->pids, sizeof(v->pids));
        for (int k = 0; k < PS_CGROUP_BLKIO_LIST_MAX; k++)
                fill_blkio(&v->blkio[k], 1 + (size_t)k % 3);
        v->hugetlb = calloc(2, sizeof(*v->hugetlb));
        v->n_hugetlb = v->hugetlb ? 2 : 0;
        for (size_t i = 0; i < v->n_hugetlb; i++) {
                snprintf(v->hugetlb[i].pagesize, sizeof(v->hugetlb[i].pagesize), "%zuMB",
                         (size_t)next());
                v->hugetlb[i].usage = next();
                v->hugetlb[i].max = next();
                v->hugetlb[i].failcnt = next();
        }
        m->links = calloc(2, sizeof(*m->links));
        m->n_links = m->links ? 2 : 0;
        for (size_t i = 0; i < m->n_links; i++) {
                struct ps_link_stats *l = &m->links[i];

                snprintf(l->name, sizeof(l->name), "eth%d", (int)i);
                l->rx_bytes = next();
                l->rx_packets = next();
                l->rx_errors = next();
                l->rx_dropped = next();
                l->tx_bytes = next();
                l->tx_packets = next();
                l->tx_errors = next();
                l->tx_dropped = next();
        }
}

static void check_v1_memory_entry(const Io__Containerd__Cgroups__V1__MemoryEntry *d,
                                  const struct ps_cgroup_v1_memory_entry *s)
{
        CHECK(d != NULL);
        if (!d)
                return;
        SAME(d, s, limit);
        SAME(d, s, usage);
        SAME(d, s, max);
        SAME(d, s, failcnt);
}

static void check_v1_memory(const Io__Containerd__Cgroups__V1__MemoryStat *d,
                            const struct ps_cgroup_v1_memory *s)
{
        SAME(d, s, cache);
        SAME(d, s, rss);
        SAME(d, s, rss_huge);
        SAME(d, s, mapped_file);
        SAME(d, s, dirty);
        SAME(d, s, writeback);
        SAME(d, s, pg_pg_in);
        SAME(d, s, pg_pg_out);
        SAME(d, s, pg_fault);
        SAME(d, s, pg_maj_fault);
        SAME(d, s, inactive_anon);
        SAME(d, s, active_anon);
        SAME(d, s, inactive_file);
        SAME(d, s, active_file);
        SAME(d, s, unevictable);
        SAME(d, s, hierarchical_memory_limit);
        SAME(d, s, hierarchical_swap_limit);
        SAME(d, s, total_cache);
        SAME(d, s, total_rss);
        SAME(d, s, total_rss_huge);
        SAME(d, s, total_mapped_file);
        SAME(d, s, total_dirty);
        SAME(d, s, total_writeback);
        SAME(d, s, total_pg_pg_in);
        SAME(d, s, total_pg_pg_out);
        SAME(d, s, total_pg_fault);
        SAME(d, s, total_pg_maj_fault);
        SAME(d, s, total_inactive_anon);
        SAME(d, s, total_active_anon);
        SAME(d, s, total_inactive_file);
        SAME(d, s, total_active_file);
        SAME(d, s, total_unevictable);
        check_v1_memory_entry(d->usage, &s->usage);
        check_v1_memory_entry(d->swap, &s->swap);
        check_v1_memory_entry(d->kernel, &s->kernel);
        check_v1_memory_entry(d->kernel_tcp, &s->kernel_tcp);
}

static void check_v1_blkio_list(size_t n, Io__Containerd__Cgroups__V1__BlkIOEntry *const *d,
                                const struct ps_cgroup_blkio_list *s)
{
        CHECK_INTEQ(n, s->n);
        for (size_t i = 0; i < n && i < s->n; i++) {
                CHECK_STREQ(d[i]->op, s->v[i].op);
                CHECK_STREQ(d[i]->device, s->v[i].device);
                SAME(d[i], &s->v[i], major);
                SAME(d[i], &s->v[i], minor);
                SAME(d[i], &s->v[i], value);
        }
}

static void check_v1_blkio(const Io__Containerd__Cgroups__V1__BlkIOStat *d,
                           const struct ps_cgroup_blkio_list *s)
{
        check_v1_blkio_list(d->n_io_service_bytes_recursive, d->io_service_bytes_recursive,
                            &s[PS_CGROUP_BLKIO_SERVICE_BYTES]);
        check_v1_blkio_list(d->n_io_serviced_recursive, d->io_serviced_recursive,
                            &s[PS_CGROUP_BLKIO_SERVICED]);
        check_v1_blkio_list(d->n_io_queued_recursive, d->io_queued_recursive,
                            &s[PS_CGROUP_BLKIO_QUEUED]);
        check_v1_blkio_list(d->n_io_service_time_recursive, d->io_service_time_recursive,
                            &s[PS_CGROUP_BLKIO_SERVICE_TIME]);
        check_v1_blkio_list(d->n_io_wait_time_recursive, d->io_wait_time_recursive,
                            &s[PS_CGROUP_BLKIO_WAIT_TIME]);
        check_v1_blkio_list(d->n_io_merged_recursive, d->io_merged_recursive,
                            &s[PS_CGROUP_BLKIO_MERGED]);
        check_v1_blkio_list(d->n_io_time_recursive, d->io_time_recursive, &s[PS_CGROUP_BLKIO_TIME]);
        check_v1_blkio_list(d->n_sectors_recursive, d->sectors_recursive,
                            &s[PS_CGROUP_BLKIO_SECTORS]);
}

static void check_v1_rest(const V1Metrics *d, const struct ps_metrics *pm)
{
        const struct ps_cgroup_v1_metrics *s = &pm->cgroup.v1;

        SAME(d->memory_oom_control, &s->oom_control, oom_kill_disable);
        SAME(d->memory_oom_control, &s->oom_control, under_oom);
        SAME(d->memory_oom_control, &s->oom_control, oom_kill);
        SAME(d->cpu->usage, &s->cpu, total);
        SAME(d->cpu->usage, &s->cpu, kernel);
        SAME(d->cpu->usage, &s->cpu, user);
        CHECK_INTEQ(d->cpu->usage->n_per_cpu, s->cpu.n_per_cpu);
        for (size_t i = 0; i < d->cpu->usage->n_per_cpu && i < s->cpu.n_per_cpu; i++)
                CHECK_INTEQ(d->cpu->usage->per_cpu[i], s->cpu.per_cpu[i]);
        SAME(d->cpu->throttling, &s->cpu, periods);
        SAME(d->cpu->throttling, &s->cpu, throttled_periods);
        SAME(d->cpu->throttling, &s->cpu, throttled_time);
        SAME(d->pids, &s->pids, current);
        SAME(d->pids, &s->pids, limit);
        CHECK_INTEQ(d->n_hugetlb, s->n_hugetlb);
        for (size_t i = 0; i < d->n_hugetlb && i < s->n_hugetlb; i++) {
                CHECK_STREQ(d->hugetlb[i]->pagesize, s->hugetlb[i].pagesize);
                SAME(d->hugetlb[i], &s->hugetlb[i], usage);
                SAME(d->hugetlb[i], &s->hugetlb[i], max);
                SAME(d->hugetlb[i], &s->hugetlb[i], failcnt);
        }
        CHECK_INTEQ(d->n_network, pm->n_links);
        for (size_t i = 0; i < d->n_network && i < pm->n_links; i++) {
                const struct ps_link_stats *l = &pm->links[i];

                CHECK_STREQ(d->network[i]->name, l->name);
                SAME(d->network[i], l, rx_bytes);
                SAME(d->network[i], l, rx_packets);
                SAME(d->network[i], l, rx_errors);
                SAME(d->network[i], l, rx_dropped);
                SAME(d->network[i], l, tx_bytes);
                SAME(d->network[i], l, tx_packets);
                SAME(d->network[i], l, tx_errors);
                SAME(d->network[i], l, tx_dropped);
        }
}

static V1Metrics *pack_v1(const struct ps_metrics *m)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ uint8_t *value = NULL;
        const char *url = NULL;
        size_t len = 0;

        CHECK(ps_api_metrics_pack(m, &url, &value, &len, &e) == 0);
        if (e)
                fprintf(stderr, "pack: %s\n", ps_err_msg(e));
        CHECK_STREQ(url, "io.containerd.cgroups.v1.Metrics");
        return value ? io__containerd__cgroups__v1__metrics__unpack(NULL, len, value) : NULL;
}

static void test_v1_full(void)
{
        static const char *const never[] = {"Metrics.rdma", "Metrics.cgroup_stats", NULL};
        _cleanup_(ps_metrics_clear) struct ps_metrics m = {0};
        V1Metrics *d;

        fill_v1(&m);
        d = pack_v1(&m);
        CHECK(d != NULL);
        if (!d)
                return;
        CHECK_INTEQ(unset_fields(&d->base, never), 0);
        CHECK(d->memory && d->memory_oom_control && d->cpu && d->cpu->usage && d->cpu->throttling &&
              d->pids && d->blkio);
        if (d->memory && d->memory_oom_control && d->cpu && d->cpu->usage && d->cpu->throttling &&
            d->pids && d->blkio) {
                check_v1_memory(d->memory, &m.cgroup.v1.memory);
                check_v1_blkio(d->blkio, m.cgroup.v1.blkio);
                check_v1_rest(d, &m);
        }
        io__containerd__cgroups__v1__metrics__free_unpacked(d, NULL);
}

/* Parts marked absent stay out; the rest is there even when all zeros. */
static void test_v1_presence(void)
{
        struct ps_metrics m = {.cgroup = {.version = PS_CGROUP_METRICS_V1}};
        struct ps_cgroup_blkio_entry bare = {.major = 8, .value = 1}; /* no op, no device */
        V1Metrics *d = pack_v1(&m);

        CHECK(d && d->memory && d->memory->usage && d->memory->swap && d->memory->kernel &&
              d->memory->kernel_tcp && d->memory_oom_control);
        CHECK(d && !d->cpu && !d->pids && !d->blkio && !d->n_hugetlb && !d->n_network);
        if (d)
                io__containerd__cgroups__v1__metrics__free_unpacked(d, NULL);

        m.cgroup.v1.has_cpu = m.cgroup.v1.has_pids = m.cgroup.v1.has_blkio = true;
        m.cgroup.v1.blkio[PS_CGROUP_BLKIO_SERVICED] = (struct ps_cgroup_blkio_list){&bare, 1};
        d = pack_v1(&m);
        CHECK(d && d->cpu && d->cpu->usage && d->cpu->throttling && d->pids && d->blkio);
        CHECK(d && d->blkio && d->blkio->n_io_serviced_recursive == 1 &&
              d->blkio->n_io_service_bytes_recursive == 0);
        if (d && d->blkio && d->blkio->n_io_serviced_recursive == 1) {
                const Io__Containerd__Cgroups__V1__BlkIOEntry *e =
                    d->blkio->io_serviced_recursive[0];

                CHECK(e->major == 8 && e->value == 1);
                CHECK_STREQ(e->op, "");
                CHECK_STREQ(e->device, "");
        }
        if (d)
                io__containerd__cgroups__v1__metrics__free_unpacked(d, NULL);
}

/* ---- cgroup v2 */

static void fill_v2(struct ps_metrics *m)
{
        struct ps_cgroup_v2_metrics *v = &m->cgroup.v2;

        m->cgroup.version = PS_CGROUP_METRICS_V2;
        fill_u64s(&v->pids, sizeof(v->pids));
        fill_u64s(&v->cpu, sizeof(v->cpu));
        fill_u64s(&v->memory, sizeof(v->memory));
        v->has_memory_events = true;
        fill_u64s(&v->memory_events, sizeof(v->memory_events));
        v->io = calloc(3, sizeof(*v->io));
        v->n_io = v->io ? 3 : 0;
        fill_u64s(v->io, v->n_io * sizeof(*v->io));
        v->hugetlb = calloc(2, sizeof(*v->hugetlb));
        v->n_hugetlb = v->hugetlb ? 2 : 0;
        for (size_t i = 0; i < v->n_hugetlb; i++) {
                snprintf(v->hugetlb[i].pagesize, sizeof(v->hugetlb[i].pagesize), "%zuGB",
                         (size_t)next());
                v->hugetlb[i].current = next();
                v->hugetlb[i].max = next();
        }
}

static void check_v2_memory(const Io__Containerd__Cgroups__V2__MemoryStat *d,
                            const struct ps_cgroup_v2_memory *s)
{
        SAME(d, s, anon);
        SAME(d, s, file);
        SAME(d, s, kernel_stack);
        SAME(d, s, slab);
        SAME(d, s, sock);
        SAME(d, s, shmem);
        SAME(d, s, file_mapped);
        SAME(d, s, file_dirty);
        SAME(d, s, file_writeback);
        SAME(d, s, anon_thp);
        SAME(d, s, inactive_anon);
        SAME(d, s, active_anon);
        SAME(d, s, inactive_file);
        SAME(d, s, active_file);
        SAME(d, s, unevictable);
        SAME(d, s, slab_reclaimable);
        SAME(d, s, slab_unreclaimable);
        SAME(d, s, pgfault);
        SAME(d, s, pgmajfault);
        SAME(d, s, workingset_refault);
        SAME(d, s, workingset_activate);
        SAME(d, s, workingset_nodereclaim);
        SAME(d, s, pgrefill);
        SAME(d, s, pgscan);
        SAME(d, s, pgsteal);
        SAME(d, s, pgactivate);
        SAME(d, s, pgdeactivate);
        SAME(d, s, pglazyfree);
        SAME(d, s, pglazyfreed);
        SAME(d, s, thp_fault_alloc);
        SAME(d, s, thp_collapse_alloc);
        SAME(d, s, usage);
        SAME(d, s, usage_limit);
        SAME(d, s, swap_usage);
        SAME(d, s, swap_limit);
}

static void check_v2_rest(const V2Metrics *d, const struct ps_cgroup_v2_metrics *s)
{
        SAME(d->pids, &s->pids, current);
        SAME(d->pids, &s->pids, limit);
        SAME(d->cpu, &s->cpu, usage_usec);
        SAME(d->cpu, &s->cpu, user_usec);
        SAME(d->cpu, &s->cpu, system_usec);
        SAME(d->cpu, &s->cpu, nr_periods);
        SAME(d->cpu, &s->cpu, nr_throttled);
        SAME(d->cpu, &s->cpu, throttled_usec);
        SAME(d->memory_events, &s->memory_events, low);
        SAME(d->memory_events, &s->memory_events, high);
        SAME(d->memory_events, &s->memory_events, max);
        SAME(d->memory_events, &s->memory_events, oom);
        SAME(d->memory_events, &s->memory_events, oom_kill);
        CHECK_INTEQ(d->io->n_usage, s->n_io);
        for (size_t i = 0; i < d->io->n_usage && i < s->n_io; i++) {
                SAME(d->io->usage[i], &s->io[i], major);
                SAME(d->io->usage[i], &s->io[i], minor);
                SAME(d->io->usage[i], &s->io[i], rbytes);
                SAME(d->io->usage[i], &s->io[i], wbytes);
                SAME(d->io->usage[i], &s->io[i], rios);
                SAME(d->io->usage[i], &s->io[i], wios);
        }
        CHECK_INTEQ(d->n_hugetlb, s->n_hugetlb);
        for (size_t i = 0; i < d->n_hugetlb && i < s->n_hugetlb; i++) {
                CHECK_STREQ(d->hugetlb[i]->pagesize, s->hugetlb[i].pagesize);
                SAME(d->hugetlb[i], &s->hugetlb[i], current);
                SAME(d->hugetlb[i], &s->hugetlb[i], max);
        }
}

static V2Metrics *pack_v2(const struct ps_metrics *m, size_t *ret_len)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ uint8_t *value = NULL;
        const char *url = NULL;
        size_t len = 0;

        CHECK(ps_api_metrics_pack(m, &url, &value, &len, &e) == 0);
        if (e)
                fprintf(stderr, "pack: %s\n", ps_err_msg(e));
        CHECK_STREQ(url, "io.containerd.cgroups.v2.Metrics");
        *ret_len = len;
        return value ? io__containerd__cgroups__v2__metrics__unpack(NULL, len, value) : NULL;
}

static void test_v2_full(void)
{
        static const char *const never[] = {"Metrics.rdma", NULL};
        _cleanup_(ps_metrics_clear) struct ps_metrics m = {0};
        struct ps_link_stats link = {.name = "eth0", .rx_bytes = 5};
        size_t len = 0, len_links = 0;
        V2Metrics *d;

        fill_v2(&m);
        d = pack_v2(&m, &len);
        CHECK(d != NULL);
        if (!d)
                return;
        CHECK_INTEQ(unset_fields(&d->base, never), 0);
        CHECK(d->pids && d->cpu && d->memory && d->memory_events && d->io);
        if (d->pids && d->cpu && d->memory && d->memory_events && d->io) {
                check_v2_memory(d->memory, &m.cgroup.v2.memory);
                check_v2_rest(d, &m.cgroup.v2);
        }
        io__containerd__cgroups__v2__metrics__free_unpacked(d, NULL);

        /* v2 Metrics has no network field: links change nothing. */
        m.links = malloc(sizeof(link));
        if (m.links) {
                *m.links = link;
                m.n_links = 1;
        }
        d = pack_v2(&m, &len_links);
        CHECK_INTEQ(len_links, len);
        if (d)
                io__containerd__cgroups__v2__metrics__free_unpacked(d, NULL);
}

static void test_v2_presence(void)
{
        struct ps_metrics m = {.cgroup = {.version = PS_CGROUP_METRICS_V2}};
        size_t len = 0;
        V2Metrics *d = pack_v2(&m, &len);

        CHECK(d && d->pids && d->cpu && d->memory && d->io && d->io->n_usage == 0);
        CHECK(d && !d->memory_events && !d->n_hugetlb);
        if (d)
                io__containerd__cgroups__v2__metrics__free_unpacked(d, NULL);
        m.cgroup.v2.has_memory_events = true;
        d = pack_v2(&m, &len);
        CHECK(d && d->memory_events);
        if (d)
                io__containerd__cgroups__v2__metrics__free_unpacked(d, NULL);
}

/* ---- refused input */

static void check_refused(const struct ps_metrics *m, enum ps_code code)
{
        _cleanup_err_ struct ps_err *e = NULL;
        uint8_t *value = (uint8_t *)&counter; /* sentinels: untouched on failure */
        const char *url = "untouched";
        size_t len = 12345;

        CHECK(ps_api_metrics_pack(m, &url, &value, &len, &e) < 0);
        CHECK(e && e->code == code);
        CHECK(value == (uint8_t *)&counter && len == 12345 && strcmp(url, "untouched") == 0);
}

static void test_refused(void)
{
        struct ps_metrics m = {0};
        struct ps_link_stats link;
        struct ps_cgroup_blkio_entry entry = {0};

        check_refused(&m, PS_INTERNAL); /* no cgroup version */

        m.cgroup.version = PS_CGROUP_METRICS_V1;
        m.links = &link;
        m.n_links = PS_NET_MAX_LINKS + 1;
        check_refused(&m, PS_INVALID_ARGUMENT);
        m.links = NULL;
        m.n_links = 1;
        check_refused(&m, PS_INVALID_ARGUMENT);
        memset(&link, 'x', sizeof(link)); /* a name without its NUL */
        m.links = &link;
        check_refused(&m, PS_INVALID_ARGUMENT);

        m.links = NULL;
        m.n_links = 0;
        m.cgroup.v1.has_blkio = true;
        memset(entry.op, 'R', sizeof(entry.op));
        m.cgroup.v1.blkio[PS_CGROUP_BLKIO_MERGED] = (struct ps_cgroup_blkio_list){&entry, 1};
        check_refused(&m, PS_INVALID_ARGUMENT);
}

int main(void)
{
        RUN(test_v1_full);
        RUN(test_v1_presence);
        RUN(test_v2_full);
        RUN(test_v2_presence);
        RUN(test_refused);
        return check_summary();
}
