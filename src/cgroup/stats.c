#include "cgroup/stats.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "cgroup/cgfile.h"
#include "cgroup/paths.h"
#include "cgroups/v1/metrics.pb-c.h"
#include "cgroups/v2/metrics.pb-c.h"

typedef Io__Containerd__Cgroups__V1__Metrics V1Metrics;
typedef Io__Containerd__Cgroups__V1__MemoryStat V1MemoryStat;
typedef Io__Containerd__Cgroups__V1__MemoryEntry V1MemoryEntry;
typedef Io__Containerd__Cgroups__V1__CPUStat V1CPUStat;
typedef Io__Containerd__Cgroups__V1__BlkIOStat V1BlkIOStat;
typedef Io__Containerd__Cgroups__V1__BlkIOEntry V1BlkIOEntry;
typedef Io__Containerd__Cgroups__V1__HugetlbStat V1HugetlbStat;
typedef Io__Containerd__Cgroups__V2__Metrics V2Metrics;
typedef Io__Containerd__Cgroups__V2__MemoryStat V2MemoryStat;
typedef Io__Containerd__Cgroups__V2__IOEntry V2IOEntry;
typedef Io__Containerd__Cgroups__V2__HugeTlbStat V2HugeTlbStat;

#define V1(name) io__containerd__cgroups__v1__##name##__descriptor
#define V2(name) io__containerd__cgroups__v2__##name##__descriptor

#define PARTITIONS_MAX (1024 * 1024)

/* --- protobuf-c helpers. Every part of a Metrics tree is malloc'ed, so one
 * protobuf_c_message_free_unpacked() frees it, half-built or not. */

static void *msg_new(const ProtobufCMessageDescriptor *d)
{
        void *m = malloc(d->sizeof_message);

        if (m)
                protobuf_c_message_init(d, m);
        return m;
}

static void msg_freep(void *p)
{
        ProtobufCMessage **m = p;

        if (*m)
                protobuf_c_message_free_unpacked(*m, NULL);
}

#define _cleanup_msg_ _cleanup_(msg_freep)

static int enomem(struct ps_err **err)
{
        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup stats");
}

/* Appends `item` to the repeated message field `field` of `msg`; takes
 * ownership of item, even on failure. */
static int repeated_push(ProtobufCMessage *msg, const char *field, void *item, struct ps_err **err)
{
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, field);
        size_t *n = (size_t *)((char *)msg + f->quantifier_offset);
        void ***arr = (void ***)((char *)msg + f->offset);
        void **grown = reallocarray(*arr, *n + 1, sizeof(void *));

        if (!grown) {
                protobuf_c_message_free_unpacked(item, NULL);
                return enomem(err);
        }
        grown[(*n)++] = item;
        *arr = grown;
        return 0;
}

/* Stores a value in the singular uint64 field `name` of msg, if it has one. */
static void set_u64_field(ProtobufCMessage *msg, const char *name, const char *value)
{
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
        uint64_t v;

        if (!f || f->type != PROTOBUF_C_TYPE_UINT64 || f->label != PROTOBUF_C_LABEL_NONE)
                return;
        if (ps_cgfile_parse_u64(value, &v) == 0)
                memcpy((char *)msg + f->offset, &v, sizeof(v));
}

struct alias {
        const char *key, *field;
};

/* Fills msg from "key value" lines: a key (after `aliases`) that names a
 * uint64 field is stored; other keys are skipped, as kernels keep adding. */
static void kv_fill(ProtobufCMessage *msg, char *buf, const struct alias *aliases)
{
        char *save = NULL;

        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *sp = strchr(line, ' ');
                const char *name = line;

                if (!sp)
                        continue;
                *sp = '\0';
                for (const struct alias *a = aliases; a && a->key; a++) {
                        if (strcmp(a->key, line) == 0) {
                                name = a->field;
                                break;
                        }
                }
                set_u64_field(msg, name, sp + 1);
        }
}

/* kv_fill from dir/name; 0 if the file is missing. */
static int kv_file(const char *dir, const char *name, ProtobufCMessage *msg,
                   const struct alias *aliases, struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;
        int r = ps_cgfile_read(dir, name, &buf, err);

        if (r > 0)
                kv_fill(msg, buf, aliases);
        return r;
}

/* "hugetlb.<size><suffix>" -> <size>, for the plain per-size files only. */
static bool hugetlb_pagesize(const char *name, const char *suffix, char *out, size_t outlen)
{
        size_t nl = strlen(name), sl = strlen(suffix), pl = strlen("hugetlb.");

        if (nl <= pl + sl || strncmp(name, "hugetlb.", pl) != 0 ||
            strcmp(name + nl - sl, suffix) != 0 || nl - pl - sl >= outlen)
                return false;
        memcpy(out, name + pl, nl - pl - sl);
        out[nl - pl - sl] = '\0';
        return strchr(out, '.') == NULL; /* skips hugetlb.2MB.rsvd.* */
}

static int read_u64s(const char *dir, const char *prefix, const struct alias *files,
                     ProtobufCMessage *msg, struct ps_err **err)
{
        for (const struct alias *a = files; a->key; a++) {
                _cleanup_free_ char *name = NULL, *buf = NULL;
                int r;

                if (asprintf(&name, "%s%s", prefix, a->key) < 0)
                        return enomem(err);
                r = ps_cgfile_read(dir, name, &buf, err);
                if (r < 0)
                        return -1;
                if (r > 0)
                        set_u64_field(msg, a->field, buf);
        }
        return 0;
}

/* One message per page size found in dir, filled from hugetlb.<size>.<file>;
 * `probe` is the file suffix whose presence defines a page size. */
static int hugetlb_scan(const char *dir, ProtobufCMessage *metrics,
                        const ProtobufCMessageDescriptor *desc, const char *probe,
                        const struct alias *files, struct ps_err **err)
{
        const ProtobufCFieldDescriptor *pf =
            protobuf_c_message_descriptor_get_field_by_name(desc, "pagesize");
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : ps_err_errno(err, errno, PS_UNKNOWN, "%s", dir);
        while ((de = readdir(d))) {
                _cleanup_free_ char *prefix = NULL;
                ProtobufCMessage *h;
                char size[32], **pagesize;

                if (!hugetlb_pagesize(de->d_name, probe, size, sizeof(size)))
                        continue;
                if (asprintf(&prefix, "hugetlb.%s.", size) < 0 || !(h = msg_new(desc)))
                        return enomem(err);
                if (repeated_push(metrics, "hugetlb", h, err) < 0)
                        return -1;
                pagesize = (char **)((char *)h + pf->offset);
                if (!(*pagesize = strdup(size)))
                        return enomem(err);
                if (read_u64s(dir, prefix, files, h, err) < 0)
                        return -1;
        }
        return 0;
}

static int read_pids(const char *dir, uint64_t *current, uint64_t *limit, struct ps_err **err)
{
        if (!dir)
                return 0;
        if (ps_cgfile_read_u64(dir, "pids.current", current, err) < 0)
                return -1;
        return ps_cgfile_read_u64(dir, "pids.max", limit, err) < 0 ? -1 : 0;
}

/* --- cgroup v1 */

static const struct alias v1_memory_aliases[] = {
    {"pgpgin", "pg_pg_in"},
    {"pgpgout", "pg_pg_out"},
    {"pgfault", "pg_fault"},
    {"pgmajfault", "pg_maj_fault"},
    {"hierarchical_memsw_limit", "hierarchical_swap_limit"},
    {"total_pgpgin", "total_pg_pg_in"},
    {"total_pgpgout", "total_pg_pg_out"},
    {"total_pgfault", "total_pg_fault"},
    {"total_pgmajfault", "total_pg_maj_fault"},
    {NULL, NULL},
};

static const struct alias v1_memory_entry_files[] = {
    {"usage_in_bytes", "usage"},
    {"max_usage_in_bytes", "max"},
    {"failcnt", "failcnt"},
    {"limit_in_bytes", "limit"},
    {NULL, NULL},
};

static int v1_memory(const char *dir, V1Metrics *m, struct ps_err **err)
{
        static const struct {
                const char *prefix;
                size_t offset;
        } kinds[] = {
            {"memory.", offsetof(V1MemoryStat, usage)},
            {"memory.memsw.", offsetof(V1MemoryStat, swap)},
            {"memory.kmem.", offsetof(V1MemoryStat, kernel)},
            {"memory.kmem.tcp.", offsetof(V1MemoryStat, kernel_tcp)},
        };
        _cleanup_free_ char *buf = NULL;
        V1MemoryStat *mem;
        int r = ps_cgfile_read(dir, "memory.stat", &buf, err);

        if (r <= 0)
                return r < 0 ? -1 : ps_err_set(err, PS_NOT_FOUND, "%s: cgroup is gone", dir);
        if (!(m->memory = mem = msg_new(&V1(memory_stat))))
                return enomem(err);
        kv_fill(&mem->base, buf, v1_memory_aliases);
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                V1MemoryEntry *e = msg_new(&V1(memory_entry));

                if (!e)
                        return enomem(err);
                memcpy((char *)mem + kinds[i].offset, &e, sizeof(e));
                /* memsw.* is absent without swap accounting: zeros, like containerd. */
                if (read_u64s(dir, kinds[i].prefix, v1_memory_entry_files, &e->base, err) < 0)
                        return -1;
        }
        if (!(m->memory_oom_control = msg_new(&V1(memory_oom_control))))
                return enomem(err);
        if (kv_file(dir, "memory.oom_control", &m->memory_oom_control->base, NULL, err) < 0)
                return -1;
        return 0;
}

/* cpuacct.stat counts USER_HZ ticks; Metrics wants nanoseconds. Split the
 * multiplication so that long-lived cgroups do not overflow. */
static uint64_t ticks_to_ns(uint64_t ticks, uint64_t hz)
{
        return ticks / hz * 1000000000ULL + ticks % hz * 1000000000ULL / hz;
}

static int v1_cpuacct(const char *dir, Io__Containerd__Cgroups__V1__CPUUsage *u,
                      struct ps_err **err)
{
        _cleanup_free_ char *stat = NULL, *percpu = NULL;
        long hz = sysconf(_SC_CLK_TCK);
        char *save = NULL;
        uint64_t v;

        if (ps_cgfile_read_u64(dir, "cpuacct.usage", &u->total, err) < 0 ||
            ps_cgfile_read(dir, "cpuacct.stat", &stat, err) < 0 ||
            ps_cgfile_read(dir, "cpuacct.usage_percpu", &percpu, err) < 0)
                return -1;
        if (hz <= 0)
                hz = 100;
        if (stat && ps_cgfile_kv_get(stat, "user", &v) == 0)
                u->user = ticks_to_ns(v, (uint64_t)hz);
        if (stat && ps_cgfile_kv_get(stat, "system", &v) == 0)
                u->kernel = ticks_to_ns(v, (uint64_t)hz);
        for (char *t = percpu ? strtok_r(percpu, " \n", &save) : NULL; t;
             t = strtok_r(NULL, " \n", &save)) {
                uint64_t *grown;

                if (ps_cgfile_parse_u64(t, &v) < 0)
                        return ps_err_set(err, PS_INTERNAL, "%s: bad cpuacct.usage_percpu", dir);
                grown = reallocarray(u->per_cpu, u->n_per_cpu + 1, sizeof(*grown));
                if (!grown)
                        return enomem(err);
                grown[u->n_per_cpu++] = v;
                u->per_cpu = grown;
        }
        return 0;
}

static int v1_cpu(const struct ps_cgroup_paths *p, V1Metrics *m, struct ps_err **err)
{
        static const struct alias throttle_aliases[] = {
            {"nr_periods", "periods"},
            {"nr_throttled", "throttled_periods"},
            {NULL, NULL},
        };
        const char *acct = p->v1[PS_CGROUP_CPUACCT], *cpu = p->v1[PS_CGROUP_CPU];
        V1CPUStat *c;

        if (!acct && !cpu)
                return 0;
        if (!(m->cpu = c = msg_new(&V1(cpustat))) || !(c->usage = msg_new(&V1(cpuusage))) ||
            !(c->throttling = msg_new(&V1(throttle))))
                return enomem(err);
        if (acct && v1_cpuacct(acct, c->usage, err) < 0)
                return -1;
        if (cpu && kv_file(cpu, "cpu.stat", &c->throttling->base, throttle_aliases, err) < 0)
                return -1;
        return 0;
}

/* /proc/partitions, for the optional device names of blkio entries. */
struct blk_dev {
        unsigned long major, minor;
        char name[64];
};

struct blk_devs {
        struct blk_dev *v;
        size_t n;
};

static void blk_devs_done(struct blk_devs *d)
{
        free(d->v);
}

static int blk_devs_load(struct blk_devs *d, struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;
        char *save = NULL;

        if (ps_read_file("/proc/partitions", PARTITIONS_MAX, &buf, NULL, err) < 0)
                return -1;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                struct blk_dev dev, *grown;

                if (sscanf(line, " %lu %lu %*u %63s", &dev.major, &dev.minor, dev.name) != 3)
                        continue; /* the header */
                grown = reallocarray(d->v, d->n + 1, sizeof(*grown));
                if (!grown)
                        return enomem(err);
                grown[d->n++] = dev;
                d->v = grown;
        }
        return 0;
}

static const char *blk_dev_name(const struct blk_devs *d, unsigned long major, unsigned long minor)
{
        for (size_t i = 0; i < d->n; i++)
                if (d->v[i].major == major && d->v[i].minor == minor)
                        return d->v[i].name;
        return NULL;
}

/* One "<major>:<minor> [<op>] <value>" line ("Total <n>" lines are skipped). */
static int blkio_line(char *line, V1BlkIOStat *st, const char *field, const struct blk_devs *devs,
                      struct ps_err **err)
{
        char *save = NULL, *dev = strtok_r(line, " ", &save), *a = strtok_r(NULL, " ", &save);
        char *b = strtok_r(NULL, " ", &save);
        unsigned long major, minor;
        const char *name;
        V1BlkIOEntry *e;

        if (!dev || !a || sscanf(dev, "%lu:%lu", &major, &minor) != 2)
                return 0;
        if (!(e = msg_new(&V1(blk_ioentry))))
                return enomem(err);
        if (repeated_push(&st->base, field, e, err) < 0)
                return -1;
        e->major = major;
        e->minor = minor;
        if (ps_cgfile_parse_u64(b ? b : a, &e->value) < 0)
                e->value = 0;
        if (b && !(e->op = strdup(a)))
                return enomem(err);
        name = blk_dev_name(devs, major, minor);
        if (name && asprintf(&e->device, "/dev/%s", name) < 0) {
                e->device = NULL; /* asprintf leaves it undefined */
                return enomem(err);
        }
        return 0;
}

/* Reads one set of blkio files; *found tells whether any had entries. */
static int blkio_set(const char *dir, const struct alias *set, V1BlkIOStat *st,
                     const struct blk_devs *devs, bool *found, struct ps_err **err)
{
        for (const struct alias *f = set; f->key; f++) {
                _cleanup_free_ char *buf = NULL;
                char *save = NULL;
                int r = ps_cgfile_read(dir, f->key, &buf, err);

                if (r < 0)
                        return -1;
                for (char *line = r ? strtok_r(buf, "\n", &save) : NULL; line;
                     line = strtok_r(NULL, "\n", &save)) {
                        if (blkio_line(line, st, f->field, devs, err) < 0)
                                return -1;
                }
        }
        *found = st->n_io_service_bytes_recursive || st->n_io_serviced_recursive ||
                 st->n_sectors_recursive;
        return 0;
}

/* CFQ files when the kernel has them, else BFQ's, else the throttle layer's
 * (which counts every device); the first set with entries wins. */
static int v1_blkio(const char *dir, V1Metrics *m, struct ps_err **err)
{
        static const struct alias cfq[] = {
            {"blkio.io_service_bytes_recursive", "io_service_bytes_recursive"},
            {"blkio.io_serviced_recursive", "io_serviced_recursive"},
            {"blkio.io_queued_recursive", "io_queued_recursive"},
            {"blkio.io_service_time_recursive", "io_service_time_recursive"},
            {"blkio.io_wait_time_recursive", "io_wait_time_recursive"},
            {"blkio.io_merged_recursive", "io_merged_recursive"},
            {"blkio.time_recursive", "io_time_recursive"},
            {"blkio.sectors_recursive", "sectors_recursive"},
            {NULL, NULL},
        };
        static const struct alias bfq[] = {
            {"blkio.bfq.io_service_bytes_recursive", "io_service_bytes_recursive"},
            {"blkio.bfq.io_serviced_recursive", "io_serviced_recursive"},
            {NULL, NULL},
        };
        static const struct alias throttle_rec[] = {
            {"blkio.throttle.io_service_bytes_recursive", "io_service_bytes_recursive"},
            {"blkio.throttle.io_serviced_recursive", "io_serviced_recursive"},
            {NULL, NULL},
        };
        static const struct alias throttle[] = {
            {"blkio.throttle.io_service_bytes", "io_service_bytes_recursive"},
            {"blkio.throttle.io_serviced", "io_serviced_recursive"},
            {NULL, NULL},
        };
        static const struct alias *const sets[] = {cfq, bfq, throttle_rec, throttle};
        _cleanup_(blk_devs_done) struct blk_devs devs = {0};
        bool found = false;

        if (blk_devs_load(&devs, err) < 0)
                return -1;
        if (!(m->blkio = msg_new(&V1(blk_iostat))))
                return enomem(err);
        for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]) && !found; i++)
                if (blkio_set(dir, sets[i], m->blkio, &devs, &found, err) < 0)
                        return -1;
        return 0;
}

static int v1_collect(const struct ps_cgroup_paths *p, ProtobufCMessage **ret, struct ps_err **err)
{
        static const struct alias hugetlb_files[] = {
            {"usage_in_bytes", "usage"},
            {"max_usage_in_bytes", "max"},
            {"failcnt", "failcnt"},
            {NULL, NULL},
        };
        _cleanup_msg_ V1Metrics *m = msg_new(&V1(metrics));
        const char *pids = p->v1[PS_CGROUP_PIDS];

        if (!m)
                return enomem(err);
        if (!p->v1[PS_CGROUP_MEMORY])
                return ps_err_set(err, PS_NOT_FOUND, "memory cgroup not visible here");
        if (v1_memory(p->v1[PS_CGROUP_MEMORY], m, err) < 0 || v1_cpu(p, m, err) < 0)
                return -1;
        if (pids && !(m->pids = msg_new(&V1(pids_stat))))
                return enomem(err);
        if (pids && read_pids(pids, &m->pids->current, &m->pids->limit, err) < 0)
                return -1;
        if (p->v1[PS_CGROUP_BLKIO] && v1_blkio(p->v1[PS_CGROUP_BLKIO], m, err) < 0)
                return -1;
        if (p->v1[PS_CGROUP_HUGETLB] &&
            hugetlb_scan(p->v1[PS_CGROUP_HUGETLB], &m->base, &V1(hugetlb_stat), ".usage_in_bytes",
                         hugetlb_files, err) < 0)
                return -1;
        *ret = (ProtobufCMessage *)TAKE_PTR(m);
        return 0;
}

/* --- cgroup v2 */

/* io.stat: "<major>:<minor> rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=.." */
static int v2_io(const char *dir, V2Metrics *m, struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;
        char *save = NULL;
        int r;

        if (!(m->io = msg_new(&V2(iostat))))
                return enomem(err);
        if ((r = ps_cgfile_read(dir, "io.stat", &buf, err)) <= 0)
                return r;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *tsave = NULL, *t = strtok_r(line, " ", &tsave);
                unsigned long major, minor;
                V2IOEntry *e;

                if (!t || sscanf(t, "%lu:%lu", &major, &minor) != 2)
                        continue;
                if (!(e = msg_new(&V2(ioentry))))
                        return enomem(err);
                if (repeated_push(&m->io->base, "usage", e, err) < 0)
                        return -1;
                e->major = major;
                e->minor = minor;
                while ((t = strtok_r(NULL, " ", &tsave))) {
                        char *eq = strchr(t, '=');

                        if (!eq)
                                continue;
                        *eq = '\0';
                        if (strcmp(t, "major") != 0 && strcmp(t, "minor") != 0)
                                set_u64_field(&e->base, t, eq + 1);
                }
        }
        return 0;
}

static int v2_memory(const char *dir, V2Metrics *m, struct ps_err **err)
{
        static const struct alias files[] = {
            {"memory.current", "usage"},
            {"memory.max", "usage_limit"},
            {"memory.swap.current", "swap_usage"},
            {"memory.swap.max", "swap_limit"},
            {NULL, NULL},
        };
        _cleanup_free_ char *events = NULL;
        V2MemoryStat *mem;
        int r;

        /* Present (zeros) even without the memory controller, as CRI reads it. */
        if (!(m->memory = mem = msg_new(&V2(memory_stat))))
                return enomem(err);
        if (kv_file(dir, "memory.stat", &mem->base, NULL, err) < 0)
                return -1;
        /* After memory.stat, so that no future key there can shadow these. */
        if (read_u64s(dir, "", files, &mem->base, err) < 0)
                return -1;
        if ((r = ps_cgfile_read(dir, "memory.events", &events, err)) <= 0)
                return r;
        if (!(m->memory_events = msg_new(&V2(memory_events))))
                return enomem(err);
        kv_fill(&m->memory_events->base, events, NULL);
        return 0;
}

static int v2_collect(const char *dir, ProtobufCMessage **ret, struct ps_err **err)
{
        static const struct alias hugetlb_files[] = {
            {"current", "current"},
            {"max", "max"},
            {NULL, NULL},
        };
        _cleanup_msg_ V2Metrics *m = msg_new(&V2(metrics));

        if (!m)
                return enomem(err);
        /* Every file below is optional (controllers come and go), so tell a
         * removed cgroup apart first. */
        if (access(dir, F_OK) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "%s", dir);
        if (!(m->pids = msg_new(&V2(pids_stat))) || !(m->cpu = msg_new(&V2(cpustat))))
                return enomem(err);
        if (read_pids(dir, &m->pids->current, &m->pids->limit, err) < 0 ||
            kv_file(dir, "cpu.stat", &m->cpu->base, NULL, err) < 0 || v2_memory(dir, m, err) < 0 ||
            v2_io(dir, m, err) < 0)
                return -1;
        if (hugetlb_scan(dir, &m->base, &V2(huge_tlb_stat), ".current", hugetlb_files, err) < 0)
                return -1;
        *ret = (ProtobufCMessage *)TAKE_PTR(m);
        return 0;
}

/* --- packing */

static int pack(const ProtobufCMessage *m, char **ret_type_url, uint8_t **ret_value,
                size_t *ret_len, struct ps_err **err)
{
        size_t len = protobuf_c_message_get_packed_size(m);
        _cleanup_free_ uint8_t *value = malloc(len ? len : 1);
        char *url = strdup(m->descriptor->name);

        if (!value || !url) {
                free(url);
                return enomem(err);
        }
        protobuf_c_message_pack(m, value);
        *ret_type_url = url;
        *ret_value = TAKE_PTR(value);
        *ret_len = len;
        return 0;
}

int ps_cgroup_stats_v2_dir(const char *dir, char **ret_type_url, uint8_t **ret_value,
                           size_t *ret_len, struct ps_err **err)
{
        _cleanup_msg_ ProtobufCMessage *m = NULL;

        if (v2_collect(dir, &m, err) < 0)
                return -1;
        return pack(m, ret_type_url, ret_value, ret_len, err);
}

int ps_cgroup_stats(pid_t pid, char **ret_type_url, uint8_t **ret_value, size_t *ret_len,
                    struct ps_err **err)
{
        _cleanup_(ps_cgroup_paths_freep) struct ps_cgroup_paths *p = NULL;

        if (ps_cgroup_paths_of(pid, &p, err) < 0)
                return -1;
        if (ps_cgroup_stats_of(p, ret_type_url, ret_value, ret_len, err) < 0)
                return ps_err_prefix(err, "stats of pid %d", (int)pid);
        return 0;
}

int ps_cgroup_stats_of(const struct ps_cgroup_paths *p, char **ret_type_url, uint8_t **ret_value,
                       size_t *ret_len, struct ps_err **err)
{
        _cleanup_msg_ ProtobufCMessage *m = NULL;
        int r;

        if (ps_cgroup_paths_use_v1(p))
                r = v1_collect(p, &m, err);
        else if (p->unified)
                r = v2_collect(p->unified, &m, err);
        else
                return ps_err_set(err, PS_FAILED_PRECONDITION, "no cgroup hierarchy mounted");
        if (r < 0)
                return -1;
        return pack(m, ret_type_url, ret_value, ret_len, err);
}
