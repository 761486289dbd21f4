#include "cgroup/stats.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "cgroup/cgfile.h"
#include "cgroup/paths.h"

#define PARTITIONS_MAX (1024 * 1024)

static int enomem(struct ps_err **err)
{
        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup stats");
}

/* Room for element n of the malloc'ed array v of n elements of `size`
 * bytes, whose capacity is implicit: the next power of two. Returns v or
 * its moved copy, or NULL (v unchanged) when out of memory. */
static void *array_room(void *v, size_t n, size_t size)
{
        if (n & (n - 1))
                return v;
        return reallocarray(v, n ? n * 2 : 1, size);
}

/* --- uint64 fields by name. A table maps a kernel key (or file name) to
 * the offset of a uint64_t member in the struct being filled. */

struct field {
        const char *key;
        size_t offset;
};

/* (clang-format would lay the braces out as a block) */
/* clang-format off */
#define FIELD(type, key, member) {key, offsetof(type, member)}
/* clang-format on */

static const struct field *field_find(const struct field *fields, const char *key)
{
        for (const struct field *f = fields; f->key; f++)
                if (strcmp(f->key, key) == 0)
                        return f;
        return NULL;
}

/* Stores a parsed value in the member f names; junk leaves it as it was. */
static void field_set(void *obj, const struct field *f, const char *value)
{
        uint64_t v;

        if (ps_cgfile_parse_u64(value, &v) == 0)
                memcpy((char *)obj + f->offset, &v, sizeof(v));
}

/* Fills obj from "key value" lines; keys not in `fields` are skipped, as
 * kernels keep adding. */
static void kv_fill(void *obj, char *buf, const struct field *fields)
{
        char *save = NULL;

        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *sp = strchr(line, ' ');
                const struct field *f;

                if (!sp)
                        continue;
                *sp = '\0';
                if ((f = field_find(fields, line)))
                        field_set(obj, f, sp + 1);
        }
}

/* kv_fill from dir/name; 0 if the file is missing. */
static int kv_file(const char *dir, const char *name, void *obj, const struct field *fields,
                   struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;
        int r = ps_cgfile_read(dir, name, &buf, err);

        if (r > 0)
                kv_fill(obj, buf, fields);
        return r;
}

/* One single-value file per field: dir/<prefix><key>. Missing files are
 * skipped. */
static int read_u64s(const char *dir, const char *prefix, const struct field *files, void *obj,
                     struct ps_err **err)
{
        for (const struct field *f = files; f->key; f++) {
                _cleanup_free_ char *buf = NULL;
                char name[NAME_MAX + 1];
                int r;

                if ((size_t)snprintf(name, sizeof(name), "%s%s", prefix, f->key) >= sizeof(name))
                        return ps_err_set(err, PS_INTERNAL, "%s: file name too long", dir);
                r = ps_cgfile_read(dir, name, &buf, err);
                if (r < 0)
                        return -1;
                if (r > 0)
                        field_set(obj, f, buf);
        }
        return 0;
}

static int read_pids(const char *dir, struct ps_cgroup_pids *p, struct ps_err **err)
{
        if (ps_cgfile_read_u64(dir, "pids.current", &p->current, err) < 0)
                return -1;
        return ps_cgfile_read_u64(dir, "pids.max", &p->limit, err) < 0 ? -1 : 0;
}

/* --- hugetlb page sizes */

struct pagesizes {
        char (*v)[PS_CGROUP_PAGESIZE_SIZE];
        size_t n;
};

static void pagesizes_done(struct pagesizes *p)
{
        free(p->v);
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

/* The page sizes of dir, in directory order: those with a
 * hugetlb.<size><probe> file. A missing dir has none. */
static int pagesizes_scan(const char *dir, const char *probe, struct pagesizes *sizes,
                          struct ps_err **err)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : ps_err_errno(err, errno, PS_UNKNOWN, "%s", dir);
        while ((de = readdir(d))) {
                char size[PS_CGROUP_PAGESIZE_SIZE];
                char(*grown)[PS_CGROUP_PAGESIZE_SIZE];

                if (!hugetlb_pagesize(de->d_name, probe, size, sizeof(size)))
                        continue;
                if (!(grown = array_room(sizes->v, sizes->n, sizeof(*grown))))
                        return enomem(err);
                sizes->v = grown;
                memcpy(sizes->v[sizes->n++], size, sizeof(size));
        }
        return 0;
}

/* --- cgroup v1 */

#define V1MEM(key, member) FIELD(struct ps_cgroup_v1_memory, key, member)

static const struct field v1_memory_stat[] = {
    V1MEM("cache", cache),
    V1MEM("rss", rss),
    V1MEM("rss_huge", rss_huge),
    V1MEM("mapped_file", mapped_file),
    V1MEM("dirty", dirty),
    V1MEM("writeback", writeback),
    V1MEM("pgpgin", pg_pg_in),
    V1MEM("pgpgout", pg_pg_out),
    V1MEM("pgfault", pg_fault),
    V1MEM("pgmajfault", pg_maj_fault),
    V1MEM("inactive_anon", inactive_anon),
    V1MEM("active_anon", active_anon),
    V1MEM("inactive_file", inactive_file),
    V1MEM("active_file", active_file),
    V1MEM("unevictable", unevictable),
    V1MEM("hierarchical_memory_limit", hierarchical_memory_limit),
    V1MEM("hierarchical_memsw_limit", hierarchical_swap_limit),
    V1MEM("total_cache", total_cache),
    V1MEM("total_rss", total_rss),
    V1MEM("total_rss_huge", total_rss_huge),
    V1MEM("total_mapped_file", total_mapped_file),
    V1MEM("total_dirty", total_dirty),
    V1MEM("total_writeback", total_writeback),
    V1MEM("total_pgpgin", total_pg_pg_in),
    V1MEM("total_pgpgout", total_pg_pg_out),
    V1MEM("total_pgfault", total_pg_fault),
    V1MEM("total_pgmajfault", total_pg_maj_fault),
    V1MEM("total_inactive_anon", total_inactive_anon),
    V1MEM("total_active_anon", total_active_anon),
    V1MEM("total_inactive_file", total_inactive_file),
    V1MEM("total_active_file", total_active_file),
    V1MEM("total_unevictable", total_unevictable),
    {NULL, 0},
};

#define V1MEMENT(key, member) FIELD(struct ps_cgroup_v1_memory_entry, key, member)

static const struct field v1_memory_entry_files[] = {
    V1MEMENT("usage_in_bytes", usage),
    V1MEMENT("max_usage_in_bytes", max),
    V1MEMENT("failcnt", failcnt),
    V1MEMENT("limit_in_bytes", limit),
    {NULL, 0},
};

#define V1OOM(key) FIELD(struct ps_cgroup_v1_oom_control, #key, key)

static const struct field v1_oom_control[] = {
    V1OOM(oom_kill_disable),
    V1OOM(under_oom),
    V1OOM(oom_kill),
    {NULL, 0},
};

static int v1_memory(const char *dir, struct ps_cgroup_v1_metrics *m, struct ps_err **err)
{
        struct {
                const char *prefix;
                struct ps_cgroup_v1_memory_entry *entry;
        } kinds[] = {
            {"memory.", &m->memory.usage},
            {"memory.memsw.", &m->memory.swap},
            {"memory.kmem.", &m->memory.kernel},
            {"memory.kmem.tcp.", &m->memory.kernel_tcp},
        };
        _cleanup_free_ char *buf = NULL;
        int r = ps_cgfile_read(dir, "memory.stat", &buf, err);

        if (r <= 0)
                return r < 0 ? -1 : ps_err_set(err, PS_NOT_FOUND, "%s: cgroup is gone", dir);
        kv_fill(&m->memory, buf, v1_memory_stat);
        /* memsw.* is absent without swap accounting: zeros, like containerd. */
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                if (read_u64s(dir, kinds[i].prefix, v1_memory_entry_files, kinds[i].entry, err) < 0)
                        return -1;
        }
        if (kv_file(dir, "memory.oom_control", &m->oom_control, v1_oom_control, err) < 0)
                return -1;
        return 0;
}

/* cpuacct.stat counts USER_HZ ticks; Metrics wants nanoseconds. Split the
 * multiplication so that long-lived cgroups do not overflow. */
static uint64_t ticks_to_ns(uint64_t ticks, uint64_t hz)
{
        return ticks / hz * 1000000000ULL + ticks % hz * 1000000000ULL / hz;
}

static int v1_cpuacct(const char *dir, struct ps_cgroup_v1_cpu *c, struct ps_err **err)
{
        _cleanup_free_ char *stat = NULL, *percpu = NULL;
        long hz = sysconf(_SC_CLK_TCK);
        char *save = NULL;
        uint64_t v;

        if (ps_cgfile_read_u64(dir, "cpuacct.usage", &c->total, err) < 0 ||
            ps_cgfile_read(dir, "cpuacct.stat", &stat, err) < 0 ||
            ps_cgfile_read(dir, "cpuacct.usage_percpu", &percpu, err) < 0)
                return -1;
        if (hz <= 0)
                hz = 100;
        if (stat && ps_cgfile_kv_get(stat, "user", &v) == 0)
                c->user = ticks_to_ns(v, (uint64_t)hz);
        if (stat && ps_cgfile_kv_get(stat, "system", &v) == 0)
                c->kernel = ticks_to_ns(v, (uint64_t)hz);
        for (char *t = percpu ? strtok_r(percpu, " \n", &save) : NULL; t;
             t = strtok_r(NULL, " \n", &save)) {
                uint64_t *grown;

                if (ps_cgfile_parse_u64(t, &v) < 0)
                        return ps_err_set(err, PS_INTERNAL, "%s: bad cpuacct.usage_percpu", dir);
                if (!(grown = array_room(c->per_cpu, c->n_per_cpu, sizeof(*grown))))
                        return enomem(err);
                c->per_cpu = grown;
                c->per_cpu[c->n_per_cpu++] = v;
        }
        return 0;
}

static int v1_cpu(const struct ps_cgroup_paths *p, struct ps_cgroup_v1_metrics *m,
                  struct ps_err **err)
{
        static const struct field throttling[] = {
            FIELD(struct ps_cgroup_v1_cpu, "nr_periods", periods),
            FIELD(struct ps_cgroup_v1_cpu, "nr_throttled", throttled_periods),
            FIELD(struct ps_cgroup_v1_cpu, "throttled_time", throttled_time),
            {NULL, 0},
        };
        const char *acct = p->v1[PS_CGROUP_CPUACCT], *cpu = p->v1[PS_CGROUP_CPU];

        if (!acct && !cpu)
                return 0;
        m->has_cpu = true;
        if (acct && v1_cpuacct(acct, &m->cpu, err) < 0)
                return -1;
        if (cpu && kv_file(cpu, "cpu.stat", &m->cpu, throttling, err) < 0)
                return -1;
        return 0;
}

/* /proc/partitions, for the optional device names of blkio entries. */
struct blk_dev {
        unsigned long major, minor;
        char name[PS_CGROUP_DEVNAME_MAX + 1];
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

                /* %63s: PS_CGROUP_DEVNAME_MAX */
                if (sscanf(line, " %lu %lu %*u %63s", &dev.major, &dev.minor, dev.name) != 3)
                        continue; /* the header */
                if (!(grown = array_room(d->v, d->n, sizeof(*grown))))
                        return enomem(err);
                d->v = grown;
                d->v[d->n++] = dev;
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
static int blkio_line(char *line, struct ps_cgroup_blkio_list *l, const struct blk_devs *devs,
                      struct ps_err **err)
{
        char *save = NULL, *dev = strtok_r(line, " ", &save), *a = strtok_r(NULL, " ", &save);
        char *b = strtok_r(NULL, " ", &save);
        struct ps_cgroup_blkio_entry *e;
        unsigned long major, minor;
        const char *name;

        if (!dev || !a || sscanf(dev, "%lu:%lu", &major, &minor) != 2)
                return 0;
        if (!(e = array_room(l->v, l->n, sizeof(*e))))
                return enomem(err);
        l->v = e;
        e = &l->v[l->n++];
        memset(e, 0, sizeof(*e));
        e->major = major;
        e->minor = minor;
        if (ps_cgfile_parse_u64(b ? b : a, &e->value) < 0)
                e->value = 0;
        if (b)
                snprintf(e->op, sizeof(e->op), "%s", a);
        name = blk_dev_name(devs, major, minor);
        if (name)
                snprintf(e->device, sizeof(e->device), "/dev/%s", name);
        return 0;
}

struct blkio_file {
        const char *name;
        enum ps_cgroup_blkio_list_kind list;
};

/* Reads one set of blkio files; *found tells whether any had entries. */
static int blkio_set(const char *dir, const struct blkio_file *set, struct ps_cgroup_v1_metrics *m,
                     const struct blk_devs *devs, bool *found, struct ps_err **err)
{
        for (const struct blkio_file *f = set; f->name; f++) {
                _cleanup_free_ char *buf = NULL;
                char *save = NULL;
                int r = ps_cgfile_read(dir, f->name, &buf, err);

                if (r < 0)
                        return -1;
                for (char *line = r ? strtok_r(buf, "\n", &save) : NULL; line;
                     line = strtok_r(NULL, "\n", &save)) {
                        if (blkio_line(line, &m->blkio[f->list], devs, err) < 0)
                                return -1;
                }
        }
        *found = m->blkio[PS_CGROUP_BLKIO_SERVICE_BYTES].n ||
                 m->blkio[PS_CGROUP_BLKIO_SERVICED].n || m->blkio[PS_CGROUP_BLKIO_SECTORS].n;
        return 0;
}

/* CFQ files when the kernel has them, else BFQ's, else the throttle layer's
 * (which counts every device); the first set with entries wins. */
static int v1_blkio(const char *dir, struct ps_cgroup_v1_metrics *m, struct ps_err **err)
{
        static const struct blkio_file cfq[] = {
            {"blkio.io_service_bytes_recursive", PS_CGROUP_BLKIO_SERVICE_BYTES},
            {"blkio.io_serviced_recursive", PS_CGROUP_BLKIO_SERVICED},
            {"blkio.io_queued_recursive", PS_CGROUP_BLKIO_QUEUED},
            {"blkio.io_service_time_recursive", PS_CGROUP_BLKIO_SERVICE_TIME},
            {"blkio.io_wait_time_recursive", PS_CGROUP_BLKIO_WAIT_TIME},
            {"blkio.io_merged_recursive", PS_CGROUP_BLKIO_MERGED},
            {"blkio.time_recursive", PS_CGROUP_BLKIO_TIME},
            {"blkio.sectors_recursive", PS_CGROUP_BLKIO_SECTORS},
            {NULL, 0},
        };
        static const struct blkio_file bfq[] = {
            {"blkio.bfq.io_service_bytes_recursive", PS_CGROUP_BLKIO_SERVICE_BYTES},
            {"blkio.bfq.io_serviced_recursive", PS_CGROUP_BLKIO_SERVICED},
            {NULL, 0},
        };
        static const struct blkio_file throttle_rec[] = {
            {"blkio.throttle.io_service_bytes_recursive", PS_CGROUP_BLKIO_SERVICE_BYTES},
            {"blkio.throttle.io_serviced_recursive", PS_CGROUP_BLKIO_SERVICED},
            {NULL, 0},
        };
        static const struct blkio_file throttle[] = {
            {"blkio.throttle.io_service_bytes", PS_CGROUP_BLKIO_SERVICE_BYTES},
            {"blkio.throttle.io_serviced", PS_CGROUP_BLKIO_SERVICED},
            {NULL, 0},
        };
        static const struct blkio_file *const sets[] = {cfq, bfq, throttle_rec, throttle};
        _cleanup_(blk_devs_done) struct blk_devs devs = {0};
        bool found = false;

        if (blk_devs_load(&devs, err) < 0)
                return -1;
        m->has_blkio = true;
        for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]) && !found; i++)
                if (blkio_set(dir, sets[i], m, &devs, &found, err) < 0)
                        return -1;
        return 0;
}

static int v1_hugetlb(const char *dir, struct ps_cgroup_v1_metrics *m, struct ps_err **err)
{
        static const struct field files[] = {
            FIELD(struct ps_cgroup_v1_hugetlb, "usage_in_bytes", usage),
            FIELD(struct ps_cgroup_v1_hugetlb, "max_usage_in_bytes", max),
            FIELD(struct ps_cgroup_v1_hugetlb, "failcnt", failcnt),
            {NULL, 0},
        };
        _cleanup_(pagesizes_done) struct pagesizes sizes = {0};

        if (pagesizes_scan(dir, ".usage_in_bytes", &sizes, err) < 0)
                return -1;
        if (sizes.n && !(m->hugetlb = calloc(sizes.n, sizeof(*m->hugetlb))))
                return enomem(err);
        m->n_hugetlb = sizes.n;
        for (size_t i = 0; i < sizes.n; i++) {
                char prefix[sizeof("hugetlb..") + PS_CGROUP_PAGESIZE_SIZE];

                memcpy(m->hugetlb[i].pagesize, sizes.v[i], sizeof(sizes.v[i]));
                snprintf(prefix, sizeof(prefix), "hugetlb.%s.", sizes.v[i]);
                if (read_u64s(dir, prefix, files, &m->hugetlb[i], err) < 0)
                        return -1;
        }
        return 0;
}

static int v1_collect(const struct ps_cgroup_paths *p, struct ps_cgroup_metrics *ret,
                      struct ps_err **err)
{
        _cleanup_(ps_cgroup_metrics_clear) struct ps_cgroup_metrics cm = {.version =
                                                                              PS_CGROUP_METRICS_V1};
        struct ps_cgroup_v1_metrics *m = &cm.v1;
        const char *pids = p->v1[PS_CGROUP_PIDS];

        if (!p->v1[PS_CGROUP_MEMORY])
                return ps_err_set(err, PS_NOT_FOUND, "memory cgroup not visible here");
        if (v1_memory(p->v1[PS_CGROUP_MEMORY], m, err) < 0 || v1_cpu(p, m, err) < 0)
                return -1;
        m->has_pids = pids != NULL;
        if (pids && read_pids(pids, &m->pids, err) < 0)
                return -1;
        if (p->v1[PS_CGROUP_BLKIO] && v1_blkio(p->v1[PS_CGROUP_BLKIO], m, err) < 0)
                return -1;
        if (p->v1[PS_CGROUP_HUGETLB] && v1_hugetlb(p->v1[PS_CGROUP_HUGETLB], m, err) < 0)
                return -1;
        *ret = cm;
        cm = (struct ps_cgroup_metrics){0}; /* moved */
        return 0;
}

/* --- cgroup v2 */

#define V2IO(key) FIELD(struct ps_cgroup_v2_io_entry, #key, key)

/* io.stat: "<major>:<minor> rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=.." */
static int v2_io(const char *dir, struct ps_cgroup_v2_metrics *m, struct ps_err **err)
{
        static const struct field keys[] = {
            V2IO(rbytes), V2IO(wbytes), V2IO(rios), V2IO(wios), {NULL, 0}};
        _cleanup_free_ char *buf = NULL;
        char *save = NULL;
        int r;

        if ((r = ps_cgfile_read(dir, "io.stat", &buf, err)) <= 0)
                return r;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *tsave = NULL, *t = strtok_r(line, " ", &tsave);
                struct ps_cgroup_v2_io_entry *e;
                unsigned long major, minor;

                if (!t || sscanf(t, "%lu:%lu", &major, &minor) != 2)
                        continue;
                if (!(e = array_room(m->io, m->n_io, sizeof(*e))))
                        return enomem(err);
                m->io = e;
                e = &m->io[m->n_io++];
                *e = (struct ps_cgroup_v2_io_entry){.major = major, .minor = minor};
                while ((t = strtok_r(NULL, " ", &tsave))) {
                        char *eq = strchr(t, '=');
                        const struct field *f;

                        if (!eq)
                                continue;
                        *eq = '\0';
                        if ((f = field_find(keys, t)))
                                field_set(e, f, eq + 1);
                }
        }
        return 0;
}

#define V2MEM(key) FIELD(struct ps_cgroup_v2_memory, #key, key)

static const struct field v2_memory_stat[] = {
    V2MEM(anon),
    V2MEM(file),
    V2MEM(kernel_stack),
    V2MEM(slab),
    V2MEM(sock),
    V2MEM(shmem),
    V2MEM(file_mapped),
    V2MEM(file_dirty),
    V2MEM(file_writeback),
    V2MEM(anon_thp),
    V2MEM(inactive_anon),
    V2MEM(active_anon),
    V2MEM(inactive_file),
    V2MEM(active_file),
    V2MEM(unevictable),
    V2MEM(slab_reclaimable),
    V2MEM(slab_unreclaimable),
    V2MEM(pgfault),
    V2MEM(pgmajfault),
    V2MEM(workingset_refault),
    V2MEM(workingset_activate),
    V2MEM(workingset_nodereclaim),
    V2MEM(pgrefill),
    V2MEM(pgscan),
    V2MEM(pgsteal),
    V2MEM(pgactivate),
    V2MEM(pgdeactivate),
    V2MEM(pglazyfree),
    V2MEM(pglazyfreed),
    V2MEM(thp_fault_alloc),
    V2MEM(thp_collapse_alloc),
    {NULL, 0},
};

static int v2_memory(const char *dir, struct ps_cgroup_v2_metrics *m, struct ps_err **err)
{
        static const struct field files[] = {
            FIELD(struct ps_cgroup_v2_memory, "memory.current", usage),
            FIELD(struct ps_cgroup_v2_memory, "memory.max", usage_limit),
            FIELD(struct ps_cgroup_v2_memory, "memory.swap.current", swap_usage),
            FIELD(struct ps_cgroup_v2_memory, "memory.swap.max", swap_limit),
            {NULL, 0},
        };
        static const struct field events[] = {
            FIELD(struct ps_cgroup_v2_memory_events, "low", low),
            FIELD(struct ps_cgroup_v2_memory_events, "high", high),
            FIELD(struct ps_cgroup_v2_memory_events, "max", max),
            FIELD(struct ps_cgroup_v2_memory_events, "oom", oom),
            FIELD(struct ps_cgroup_v2_memory_events, "oom_kill", oom_kill),
            {NULL, 0},
        };
        int r;

        if (kv_file(dir, "memory.stat", &m->memory, v2_memory_stat, err) < 0)
                return -1;
        /* After memory.stat, so that no future key there can shadow these. */
        if (read_u64s(dir, "", files, &m->memory, err) < 0)
                return -1;
        if ((r = kv_file(dir, "memory.events", &m->memory_events, events, err)) < 0)
                return -1;
        m->has_memory_events = r > 0;
        return 0;
}

static int v2_hugetlb(const char *dir, struct ps_cgroup_v2_metrics *m, struct ps_err **err)
{
        static const struct field files[] = {
            FIELD(struct ps_cgroup_v2_hugetlb, "current", current),
            FIELD(struct ps_cgroup_v2_hugetlb, "max", max),
            {NULL, 0},
        };
        _cleanup_(pagesizes_done) struct pagesizes sizes = {0};

        if (pagesizes_scan(dir, ".current", &sizes, err) < 0)
                return -1;
        if (sizes.n && !(m->hugetlb = calloc(sizes.n, sizeof(*m->hugetlb))))
                return enomem(err);
        m->n_hugetlb = sizes.n;
        for (size_t i = 0; i < sizes.n; i++) {
                char prefix[sizeof("hugetlb..") + PS_CGROUP_PAGESIZE_SIZE];

                memcpy(m->hugetlb[i].pagesize, sizes.v[i], sizeof(sizes.v[i]));
                snprintf(prefix, sizeof(prefix), "hugetlb.%s.", sizes.v[i]);
                if (read_u64s(dir, prefix, files, &m->hugetlb[i], err) < 0)
                        return -1;
        }
        return 0;
}

static int v2_collect(const char *dir, struct ps_cgroup_metrics *ret, struct ps_err **err)
{
        static const struct field cpu_stat[] = {
            FIELD(struct ps_cgroup_v2_cpu, "usage_usec", usage_usec),
            FIELD(struct ps_cgroup_v2_cpu, "user_usec", user_usec),
            FIELD(struct ps_cgroup_v2_cpu, "system_usec", system_usec),
            FIELD(struct ps_cgroup_v2_cpu, "nr_periods", nr_periods),
            FIELD(struct ps_cgroup_v2_cpu, "nr_throttled", nr_throttled),
            FIELD(struct ps_cgroup_v2_cpu, "throttled_usec", throttled_usec),
            {NULL, 0},
        };
        _cleanup_(ps_cgroup_metrics_clear) struct ps_cgroup_metrics cm = {.version =
                                                                              PS_CGROUP_METRICS_V2};
        struct ps_cgroup_v2_metrics *m = &cm.v2;

        /* Every file below is optional (controllers come and go), so tell a
         * removed cgroup apart first. */
        if (access(dir, F_OK) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "%s", dir);
        if (read_pids(dir, &m->pids, err) < 0 ||
            kv_file(dir, "cpu.stat", &m->cpu, cpu_stat, err) < 0 || v2_memory(dir, m, err) < 0 ||
            v2_io(dir, m, err) < 0 || v2_hugetlb(dir, m, err) < 0)
                return -1;
        *ret = cm;
        cm = (struct ps_cgroup_metrics){0}; /* moved */
        return 0;
}

/* --- entry points */

void ps_cgroup_metrics_clear(struct ps_cgroup_metrics *m)
{
        if (!m)
                return;
        switch (m->version) {
        case PS_CGROUP_METRICS_V1:
                free(m->v1.cpu.per_cpu);
                for (size_t i = 0; i < PS_CGROUP_BLKIO_LIST_MAX; i++)
                        free(m->v1.blkio[i].v);
                free(m->v1.hugetlb);
                break;
        case PS_CGROUP_METRICS_V2:
                free(m->v2.io);
                free(m->v2.hugetlb);
                break;
        case PS_CGROUP_METRICS_NONE:
                break;
        }
        *m = (struct ps_cgroup_metrics){0};
}

int ps_cgroup_stats_v2_dir(const char *dir, struct ps_cgroup_metrics *ret, struct ps_err **err)
{
        return v2_collect(dir, ret, err);
}

int ps_cgroup_stats(pid_t pid, struct ps_cgroup_metrics *ret, struct ps_err **err)
{
        _cleanup_(ps_cgroup_paths_freep) struct ps_cgroup_paths *p = NULL;

        if (ps_cgroup_paths_of(pid, &p, err) < 0)
                return -1;
        if (ps_cgroup_stats_of(p, ret, err) < 0)
                return ps_err_prefix(err, "stats of pid %d", (int)pid);
        return 0;
}

int ps_cgroup_stats_of(const struct ps_cgroup_paths *p, struct ps_cgroup_metrics *ret,
                       struct ps_err **err)
{
        if (ps_cgroup_paths_use_v1(p))
                return v1_collect(p, ret, err);
        if (p->unified)
                return v2_collect(p->unified, ret, err);
        return ps_err_set(err, PS_FAILED_PRECONDITION, "no cgroup hierarchy mounted");
}
