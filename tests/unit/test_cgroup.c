/* Cgroup stats and OOM watch against real cgroups: each test creates its own
 * cgroups next to (under) the test process's own, moves a forked child into
 * them and reads what the kernel accounted. The stats parsers also run on
 * crafted interface files in plain directories, for exact values. Needs
 * root. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "check.h"

#include "base/cleanup.h"
#include "cgroup/oom.h"
#include "cgroup/paths.h"
#include "cgroup/stats.h"

#define MIB         (1024ULL * 1024ULL)
#define NO_SUCH_PID 0x7ffffff0 /* above any pid_max */

/* --- a test cgroup in several hierarchies */

struct testcg {
        char *dir[PS_CGROUP_CTRL_MAX + 1]; /* the last slot is cgroup2 */
};

static bool write_str(const char *dir, const char *file, const char *val)
{
        char path[4096];
        int fd;
        bool ok;

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
        close(fd);
        return ok;
}

static bool file_exists(const char *dir, const char *file)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        return access(path, F_OK) == 0;
}

/* Creates <own cgroup>/podshim-test-<pid>-<tag> in the v1 controllers `ctrls`
 * (terminated by -1; PS_CGROUP_CTRL_MAX means cgroup2). */
static bool cg_create(struct testcg *t, const char *tag, const int *ctrls)
{
        struct ps_cgroup_paths *own = NULL;
        struct ps_err *e = NULL;
        bool ok = true;

        memset(t, 0, sizeof(*t));
        if (ps_cgroup_paths_of(getpid(), &own, &e) < 0) {
                fprintf(stderr, "own cgroups: %s\n", ps_err_msg(e));
                ps_err_free(e);
                return false;
        }
        for (const int *c = ctrls; *c >= 0 && ok; c++) {
                const char *base = *c == PS_CGROUP_CTRL_MAX ? own->unified : own->v1[*c];

                if (!base)
                        continue;
                ok = asprintf(&t->dir[*c], "%s/podshim-test-%d-%s", base, (int)getpid(), tag) > 0;
                if (ok && mkdir(t->dir[*c], 0755) < 0 && errno != EEXIST) {
                        fprintf(stderr, "mkdir %s: %m\n", t->dir[*c]);
                        ok = false;
                }
        }
        ps_cgroup_paths_free(own);
        return ok;
}

static bool cg_attach(const struct testcg *t, pid_t pid)
{
        char buf[32];

        snprintf(buf, sizeof(buf), "%d", (int)pid);
        for (int c = 0; c <= PS_CGROUP_CTRL_MAX; c++)
                if (t->dir[c] && !write_str(t->dir[c], "cgroup.procs", buf))
                        return false;
        return true;
}

static void cg_destroy(struct testcg *t)
{
        for (int c = 0; c <= PS_CGROUP_CTRL_MAX; c++) {
                /* An exiting task may keep a cgroup busy for a moment. */
                for (int i = 0; t->dir[c] && i < 100; i++) {
                        if (rmdir(t->dir[c]) == 0 || errno == ENOENT)
                                break;
                        usleep(10000);
                }
                free(t->dir[c]);
                t->dir[c] = NULL;
        }
}

/* --- a child that waits for "go", burns CPU, touches memory, reports back */

struct child {
        pid_t pid;
        int go, ready;
};

static void burn_cpu(long ms)
{
        struct timespec ts;

        do {
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        } while (ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < ms);
}

static void touch_memory(size_t bytes)
{
        volatile char *p = malloc(bytes);

        for (size_t i = 0; p && i < bytes; i += 4096)
                p[i] = 1; /* volatile: the pages really get faulted in */
}

static bool child_start(struct child *c, long burn_ms, size_t bytes)
{
        int go[2], ready[2];

        if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
                return false;
        c->pid = fork();
        if (c->pid == 0) {
                char b;

                if (read(go[0], &b, 1) != 1)
                        _exit(1);
                burn_cpu(burn_ms);
                touch_memory(bytes);
                if (write(ready[1], "r", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(go[0]);
        close(ready[1]);
        c->go = go[1];
        c->ready = ready[0];
        return c->pid > 0;
}

/* Lets the child run; waits until it reports (false if it died first). */
static bool child_run(struct child *c, bool wait_ready)
{
        char b;

        if (write(c->go, "g", 1) != 1)
                return false;
        return !wait_ready || read(c->ready, &b, 1) == 1;
}

static int child_end(struct child *c)
{
        int status = 0;

        kill(c->pid, SIGKILL);
        waitpid(c->pid, &status, 0);
        close(c->go);
        close(c->ready);
        return status;
}

static bool host_uses_v1(void)
{
        struct ps_cgroup_paths *own = NULL;
        bool v1;

        if (ps_cgroup_paths_of(getpid(), &own, NULL) < 0)
                return false;
        v1 = ps_cgroup_paths_use_v1(own);
        ps_cgroup_paths_free(own);
        return v1;
}

/* --- stats */

static void test_stats_not_found(void)
{
        struct ps_cgroup_metrics m = {.version = PS_CGROUP_METRICS_V2, .v2 = {.n_io = 42}};
        struct ps_err *e = NULL;

        CHECK(ps_cgroup_stats(NO_SUCH_PID, &m, &e) < 0);
        CHECK(e && e->code == PS_NOT_FOUND);
        CHECK(m.version == PS_CGROUP_METRICS_V2 && m.v2.n_io == 42); /* untouched */
        ps_err_free(e);
        e = NULL;
        CHECK(ps_cgroup_stats_v2_dir("/sys/fs/cgroup/podshim-no-such-cgroup", &m, &e) < 0);
        CHECK(e && e->code == PS_NOT_FOUND);
        CHECK(m.version == PS_CGROUP_METRICS_V2 && m.v2.n_io == 42);
        ps_err_free(e);
        ps_cgroup_metrics_clear(NULL);
}

static void test_stats_self(void)
{
        _cleanup_(ps_cgroup_metrics_clear) struct ps_cgroup_metrics m = {0};
        struct ps_err *e = NULL;
        bool v1 = host_uses_v1();

        CHECK(ps_cgroup_stats(getpid(), &m, &e) == 0);
        if (e)
                fprintf(stderr, "stats: %s\n", ps_err_msg(e));
        CHECK_INTEQ(m.version, v1 ? PS_CGROUP_METRICS_V1 : PS_CGROUP_METRICS_V2);
        if (m.version == PS_CGROUP_METRICS_V1)
                CHECK(m.v1.memory.usage.usage > 0);
        ps_err_free(e);
}

static uint64_t sum(const uint64_t *v, size_t n)
{
        uint64_t total = 0;

        for (size_t i = 0; i < n; i++)
                total += v[i];
        return total;
}

static void check_v1_metrics(const struct ps_cgroup_v1_metrics *m)
{
        CHECK(m->memory.usage.usage >= 8 * MIB);
        CHECK(m->memory.usage.max >= m->memory.usage.usage);
        CHECK_INTEQ(m->memory.usage.limit, 512 * MIB);
        CHECK(m->memory.total_rss + m->memory.total_cache >= 8 * MIB);
        CHECK(m->memory.pg_fault > 0);
        /* An ancestor of ours may have a lower limit. */
        CHECK(m->memory.hierarchical_memory_limit <= 512 * MIB);
        CHECK(m->has_cpu);
        CHECK(m->cpu.total >= 100000000ULL); /* burnt 200 ms */
        CHECK(m->cpu.user + m->cpu.kernel > 0);
        CHECK(m->cpu.n_per_cpu >= 1 && m->cpu.per_cpu);
        CHECK(sum(m->cpu.per_cpu, m->cpu.n_per_cpu) >= 100000000ULL);
        CHECK(m->has_pids);
        CHECK(m->pids.current >= 1);
        CHECK_INTEQ(m->pids.limit, 64);
        CHECK(m->has_blkio);
}

static void test_stats_v1(void)
{
        static const int ctrls[] = {PS_CGROUP_MEMORY, PS_CGROUP_CPU,   PS_CGROUP_CPUACCT,
                                    PS_CGROUP_PIDS,   PS_CGROUP_BLKIO, -1};
        _cleanup_(ps_cgroup_metrics_clear) struct ps_cgroup_metrics m = {0};
        struct testcg t;
        struct child c;
        struct ps_err *e = NULL;

        if (!host_uses_v1()) {
                fprintf(stderr, "skip test_stats_v1: memory is not a v1 controller here\n");
                return;
        }
        CHECK(cg_create(&t, "stats", ctrls));
        CHECK(write_str(t.dir[PS_CGROUP_MEMORY], "memory.limit_in_bytes", "536870912"));
        CHECK(!t.dir[PS_CGROUP_PIDS] || write_str(t.dir[PS_CGROUP_PIDS], "pids.max", "64"));
        CHECK(child_start(&c, 200, 16 * MIB));
        CHECK(cg_attach(&t, c.pid));
        CHECK(child_run(&c, true));
        CHECK(ps_cgroup_stats(c.pid, &m, &e) == 0);
        if (e)
                fprintf(stderr, "stats: %s\n", ps_err_msg(e));
        CHECK_INTEQ(m.version, PS_CGROUP_METRICS_V1);
        if (m.version == PS_CGROUP_METRICS_V1)
                check_v1_metrics(&m.v1);
        child_end(&c);
        cg_destroy(&t);
        ps_err_free(e);
}

static void check_v2_metrics(const struct ps_cgroup_v2_metrics *m, const char *dir)
{
        CHECK(m->cpu.usage_usec >= 100000); /* burnt 200 ms */
        CHECK(m->cpu.user_usec + m->cpu.system_usec > 0);
        if (file_exists(dir, "memory.current")) {
                CHECK(m->memory.usage >= 8 * MIB);
                CHECK(m->memory.anon > 0);
                CHECK(m->has_memory_events);
        }
        if (file_exists(dir, "pids.current")) {
                CHECK(m->pids.current >= 1);
                CHECK(m->pids.limit == UINT64_MAX); /* "max" */
        }
}

/* On hybrid hosts ps_cgroup_stats picks v1, so the v2 reader is driven on
 * the cgroup2 directory directly, with whatever controllers it has. */
static void test_stats_v2(void)
{
        static const int ctrls[] = {PS_CGROUP_CTRL_MAX, -1};
        _cleanup_(ps_cgroup_metrics_clear) struct ps_cgroup_metrics m = {0};
        struct testcg t;
        struct child c;
        struct ps_err *e = NULL;

        CHECK(cg_create(&t, "v2", ctrls));
        if (!t.dir[PS_CGROUP_CTRL_MAX]) {
                fprintf(stderr, "skip test_stats_v2: no cgroup2 mount\n");
                return;
        }
        CHECK(child_start(&c, 200, 16 * MIB));
        CHECK(cg_attach(&t, c.pid));
        CHECK(child_run(&c, true));
        CHECK(ps_cgroup_stats_v2_dir(t.dir[PS_CGROUP_CTRL_MAX], &m, &e) == 0);
        if (e)
                fprintf(stderr, "stats: %s\n", ps_err_msg(e));
        CHECK_INTEQ(m.version, PS_CGROUP_METRICS_V2);
        if (m.version == PS_CGROUP_METRICS_V2)
                check_v2_metrics(&m.v2, t.dir[PS_CGROUP_CTRL_MAX]);
        child_end(&c);
        cg_destroy(&t);
        ps_err_free(e);
}

/* --- stats from crafted interface files: every key, alias and fallback */

static char *fake_dir(const char *root, const char *name)
{
        char *dir = NULL;

        if (asprintf(&dir, "%s/%s", root, name) < 0)
                return NULL;
        if (mkdir(dir, 0755) < 0) {
                free(dir);
                return NULL;
        }
        return dir;
}

static bool write_new(const char *dir, const char *file, const char *content)
{
        char path[4096];
        FILE *f;
        bool ok;

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        if (!(f = fopen(path, "we")))
                return false;
        ok = fputs(content, f) >= 0;
        return fclose(f) == 0 && ok;
}

/* A device /proc/partitions names, to see blkio entries get "/dev/<name>". */
static bool some_partition(unsigned long *major, unsigned long *minor, char *name)
{
        char line[256];
        FILE *f = fopen("/proc/partitions", "re");
        bool found = false;

        while (f && !found && fgets(line, sizeof(line), f))
                found = sscanf(line, " %lu %lu %*u %63s", major, minor, name) == 3;
        if (f)
                fclose(f);
        return found;
}

static const char v1_memory_stat[] =
    "cache 1\nrss 2\nrss_huge 3\nshmem 99\nmapped_file 4\ndirty 5\nwriteback 6\nswap 99\n"
    "pgpgin 7\npgpgout 8\npgfault 9\npgmajfault 10\ninactive_anon 11\nactive_anon 12\n"
    "inactive_file 13\nactive_file 14\nunevictable 15\nhierarchical_memory_limit max\n"
    "hierarchical_memsw_limit 17\ntotal_cache 18\ntotal_rss 19\ntotal_rss_huge 20\n"
    "total_mapped_file 21\ntotal_dirty 22\ntotal_writeback 23\ntotal_pgpgin 24\n"
    "total_pgpgout 25\ntotal_pgfault 26\ntotal_pgmajfault 27\ntotal_inactive_anon 28\n"
    "total_active_anon 29\ntotal_inactive_file 30\ntotal_active_file 31\n"
    "total_unevictable 32\nsome_future_key 99\nbad junk\n";

static void check_fake_v1_memory(const struct ps_cgroup_v1_metrics *m)
{
        const struct ps_cgroup_v1_memory *mem = &m->memory;

        CHECK(mem->cache == 1 && mem->rss == 2 && mem->rss_huge == 3 && mem->mapped_file == 4);
        CHECK(mem->dirty == 5 && mem->writeback == 6 && mem->pg_pg_in == 7);
        CHECK(mem->pg_pg_out == 8 && mem->pg_fault == 9 && mem->pg_maj_fault == 10);
        CHECK(mem->inactive_anon == 11 && mem->active_anon == 12 && mem->inactive_file == 13);
        CHECK(mem->active_file == 14 && mem->unevictable == 15);
        CHECK(mem->hierarchical_memory_limit == UINT64_MAX && mem->hierarchical_swap_limit == 17);
        CHECK(mem->total_cache == 18 && mem->total_rss == 19 && mem->total_rss_huge == 20);
        CHECK(mem->total_mapped_file == 21 && mem->total_dirty == 22);
        CHECK(mem->total_writeback == 23 && mem->total_pg_pg_in == 24);
        CHECK(mem->total_pg_pg_out == 25 && mem->total_pg_fault == 26);
        CHECK(mem->total_pg_maj_fault == 27 && mem->total_inactive_anon == 28);
        CHECK(mem->total_active_anon == 29 && mem->total_inactive_file == 30);
        CHECK(mem->total_active_file == 31 && mem->total_unevictable == 32);
        CHECK(mem->usage.usage == 100 && mem->usage.max == 101 && mem->usage.failcnt == 102);
        CHECK(mem->usage.limit == UINT64_MAX);
        CHECK(mem->swap.usage == 0 && mem->swap.limit == 0); /* no memsw files */
        CHECK(mem->kernel.usage == 200 && mem->kernel_tcp.usage == 300);
        CHECK(m->oom_control.oom_kill_disable == 1 && m->oom_control.under_oom == 0 &&
              m->oom_control.oom_kill == 7);
}

/* A "cgroup" of plain directories in tmp: every v1 controller's files. */
static void test_stats_v1_files(void)
{
        _cleanup_(ps_cgroup_metrics_clear) struct ps_cgroup_metrics m = {0};
        char root[] = "/tmp/ps-cgstats-XXXXXX", blk[256], dev[64] = "", cmd[64];
        struct ps_cgroup_paths p = {.memory_v1 = true};
        unsigned long major = 0, minor = 0;
        struct ps_err *e = NULL;
        const char *mem, *cpu, *acct, *pids, *blkio, *huge;
        bool have_dev = some_partition(&major, &minor, dev);

        CHECK(mkdtemp(root) != NULL);
        mem = p.v1[PS_CGROUP_MEMORY] = fake_dir(root, "memory");
        cpu = p.v1[PS_CGROUP_CPU] = fake_dir(root, "cpu");
        acct = p.v1[PS_CGROUP_CPUACCT] = fake_dir(root, "cpuacct");
        pids = p.v1[PS_CGROUP_PIDS] = fake_dir(root, "pids");
        blkio = p.v1[PS_CGROUP_BLKIO] = fake_dir(root, "blkio");
        huge = p.v1[PS_CGROUP_HUGETLB] = fake_dir(root, "hugetlb");
        CHECK(mem && cpu && acct && pids && blkio && huge);
        if (!mem || !cpu || !acct || !pids || !blkio || !huge)
                goto out;
        CHECK(write_new(mem, "memory.stat", v1_memory_stat));
        CHECK(write_new(mem, "memory.usage_in_bytes", "100\n"));
        CHECK(write_new(mem, "memory.max_usage_in_bytes", "101\n"));
        CHECK(write_new(mem, "memory.failcnt", "102\n"));
        CHECK(write_new(mem, "memory.limit_in_bytes", "max\n"));
        CHECK(write_new(mem, "memory.kmem.usage_in_bytes", "200\n"));
        CHECK(write_new(mem, "memory.kmem.tcp.usage_in_bytes", "300\n"));
        CHECK(
            write_new(mem, "memory.oom_control", "oom_kill_disable 1\nunder_oom 0\noom_kill 7\n"));
        CHECK(write_new(cpu, "cpu.stat", "nr_periods 11\nnr_throttled 12\nthrottled_time 13\n"));
        CHECK(write_new(acct, "cpuacct.usage", "123456789\n"));
        CHECK(write_new(acct, "cpuacct.usage_percpu", "1 2 3 4 5 \n"));
        CHECK(write_new(pids, "pids.current", "5\n"));
        CHECK(write_new(pids, "pids.max", "max\n"));
        /* CFQ's set is empty, so the throttle layer's recursive one is read;
         * the plain throttle files after it are not. */
        CHECK(write_new(blkio, "blkio.io_service_bytes_recursive", "Total 0\n"));
        snprintf(blk, sizeof(blk),
                 "%lu:%lu Read 100\n%lu:%lu Write 200\n4095:4095 Read 5\nTotal 305\n", major, minor,
                 major, minor);
        CHECK(write_new(blkio, "blkio.throttle.io_service_bytes_recursive", blk));
        CHECK(write_new(blkio, "blkio.throttle.io_serviced_recursive", "4095:4095 7\n"));
        CHECK(write_new(blkio, "blkio.throttle.io_service_bytes", "4095:4095 Read 9\n"));
        CHECK(write_new(huge, "hugetlb.2MB.usage_in_bytes", "1\n"));
        CHECK(write_new(huge, "hugetlb.2MB.max_usage_in_bytes", "2\n"));
        CHECK(write_new(huge, "hugetlb.2MB.failcnt", "3\n"));
        CHECK(write_new(huge, "hugetlb.2MB.rsvd.usage_in_bytes", "9\n")); /* not a page size */

        CHECK(ps_cgroup_stats_of(&p, &m, &e) == 0);
        if (e)
                fprintf(stderr, "stats: %s\n", ps_err_msg(e));
        CHECK_INTEQ(m.version, PS_CGROUP_METRICS_V1);
        if (m.version != PS_CGROUP_METRICS_V1)
                goto out;
        check_fake_v1_memory(&m.v1);
        CHECK(m.v1.has_cpu && m.v1.has_pids && m.v1.has_blkio);
        CHECK(m.v1.cpu.total == 123456789 && m.v1.cpu.user == 0); /* no cpuacct.stat */
        CHECK(m.v1.cpu.n_per_cpu == 5 && m.v1.cpu.per_cpu[0] == 1 && m.v1.cpu.per_cpu[4] == 5);
        CHECK(m.v1.cpu.periods == 11 && m.v1.cpu.throttled_periods == 12 &&
              m.v1.cpu.throttled_time == 13);
        CHECK(m.v1.pids.current == 5 && m.v1.pids.limit == UINT64_MAX);

        const struct ps_cgroup_blkio_list *bytes = &m.v1.blkio[PS_CGROUP_BLKIO_SERVICE_BYTES];
        const struct ps_cgroup_blkio_list *ios = &m.v1.blkio[PS_CGROUP_BLKIO_SERVICED];
        CHECK_INTEQ(bytes->n, 3);
        CHECK_INTEQ(ios->n, 1);
        CHECK_INTEQ(m.v1.blkio[PS_CGROUP_BLKIO_SECTORS].n, 0);
        if (bytes->n == 3 && ios->n == 1) {
                char want[80];

                snprintf(want, sizeof(want), "/dev/%s", dev);
                CHECK(bytes->v[0].major == major && bytes->v[0].minor == minor);
                CHECK_STREQ(bytes->v[0].op, "Read");
                CHECK(bytes->v[0].value == 100 && bytes->v[1].value == 200);
                CHECK_STREQ(bytes->v[1].op, "Write");
                CHECK(!have_dev || strcmp(bytes->v[0].device, want) == 0);
                CHECK_STREQ(bytes->v[2].device, ""); /* not in /proc/partitions */
                CHECK(ios->v[0].major == 4095 && ios->v[0].value == 7);
                CHECK_STREQ(ios->v[0].op, "");
        }
        CHECK_INTEQ(m.v1.n_hugetlb, 1);
        if (m.v1.n_hugetlb == 1) {
                CHECK_STREQ(m.v1.hugetlb[0].pagesize, "2MB");
                CHECK(m.v1.hugetlb[0].usage == 1 && m.v1.hugetlb[0].max == 2 &&
                      m.v1.hugetlb[0].failcnt == 3);
        }
        ps_cgroup_metrics_clear(&m);
        CHECK(m.version == PS_CGROUP_METRICS_NONE && !m.v1.hugetlb);

        /* Without memory.stat the cgroup is gone. */
        snprintf(blk, sizeof(blk), "%s/memory.stat", mem);
        CHECK(unlink(blk) == 0);
        CHECK(ps_cgroup_stats_of(&p, &m, &e) < 0);
        CHECK(e && e->code == PS_NOT_FOUND);
out:
        for (int i = 0; i < PS_CGROUP_CTRL_MAX; i++)
                free(p.v1[i]);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        CHECK(system(cmd) == 0);
        ps_err_free(e);
}

static const char v2_memory_stat[] =
    "anon 1\nfile 2\nkernel 99\nkernel_stack 3\npagetables 99\nslab 4\nsock 5\nshmem 6\n"
    "file_mapped 7\nfile_dirty 8\nfile_writeback 9\nanon_thp 10\ninactive_anon 11\n"
    "active_anon 12\ninactive_file 13\nactive_file 14\nunevictable 15\nslab_reclaimable 16\n"
    "slab_unreclaimable 17\npgfault 18\npgmajfault 19\nworkingset_refault 20\n"
    "workingset_activate 21\nworkingset_nodereclaim 22\npgrefill 23\npgscan 24\n"
    "pgsteal 25\npgactivate 26\npgdeactivate 27\npglazyfree 28\npglazyfreed 29\n"
    "thp_fault_alloc 30\nthp_collapse_alloc 31\n";

static void check_fake_v2_memory(const struct ps_cgroup_v2_memory *mem)
{
        CHECK(mem->anon == 1 && mem->file == 2 && mem->kernel_stack == 3 && mem->slab == 4);
        CHECK(mem->sock == 5 && mem->shmem == 6 && mem->file_mapped == 7 && mem->file_dirty == 8);
        CHECK(mem->file_writeback == 9 && mem->anon_thp == 10 && mem->inactive_anon == 11);
        CHECK(mem->active_anon == 12 && mem->inactive_file == 13 && mem->active_file == 14);
        CHECK(mem->unevictable == 15 && mem->slab_reclaimable == 16);
        CHECK(mem->slab_unreclaimable == 17 && mem->pgfault == 18 && mem->pgmajfault == 19);
        CHECK(mem->workingset_refault == 20 && mem->workingset_activate == 21);
        CHECK(mem->workingset_nodereclaim == 22 && mem->pgrefill == 23 && mem->pgscan == 24);
        CHECK(mem->pgsteal == 25 && mem->pgactivate == 26 && mem->pgdeactivate == 27);
        CHECK(mem->pglazyfree == 28 && mem->pglazyfreed == 29 && mem->thp_fault_alloc == 30);
        CHECK(mem->thp_collapse_alloc == 31);
        CHECK(mem->usage == 4096 && mem->usage_limit == UINT64_MAX);
        CHECK(mem->swap_usage == 0 && mem->swap_limit == 12345);
}

static void test_stats_v2_files(void)
{
        _cleanup_(ps_cgroup_metrics_clear) struct ps_cgroup_metrics m = {0};
        char dir[] = "/tmp/ps-cgstats2-XXXXXX", path[64];
        struct ps_err *e = NULL;

        CHECK(mkdtemp(dir) != NULL);
        /* An empty directory: all zeros, no memory events. */
        CHECK(ps_cgroup_stats_v2_dir(dir, &m, &e) == 0);
        CHECK(m.version == PS_CGROUP_METRICS_V2 && !m.v2.has_memory_events && m.v2.n_io == 0);
        ps_cgroup_metrics_clear(&m);

        CHECK(write_new(dir, "memory.stat", v2_memory_stat));
        CHECK(write_new(dir, "memory.current", "4096\n"));
        CHECK(write_new(dir, "memory.max", "max\n"));
        CHECK(write_new(dir, "memory.swap.current", "0\n"));
        CHECK(write_new(dir, "memory.swap.max", "12345\n"));
        CHECK(write_new(dir, "memory.events",
                        "low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 6\n"));
        CHECK(write_new(dir, "cpu.stat",
                        "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 7\n"
                        "nr_throttled 8\nthrottled_usec 9\nnr_bursts 1\n"));
        CHECK(write_new(dir, "pids.current", "3\n"));
        CHECK(write_new(dir, "pids.max", "64\n"));
        CHECK(write_new(dir, "io.stat",
                        "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\n"
                        "8:16 rbytes=10 major=99 wios=40\nbad line\n"));
        CHECK(write_new(dir, "hugetlb.1GB.current", "11\n"));
        CHECK(write_new(dir, "hugetlb.1GB.max", "max\n"));
        CHECK(write_new(dir, "hugetlb.1GB.rsvd.current", "1\n"));

        CHECK(ps_cgroup_stats_v2_dir(dir, &m, &e) == 0);
        if (e)
                fprintf(stderr, "stats: %s\n", ps_err_msg(e));
        CHECK_INTEQ(m.version, PS_CGROUP_METRICS_V2);
        if (m.version == PS_CGROUP_METRICS_V2) {
                const struct ps_cgroup_v2_metrics *v = &m.v2;

                check_fake_v2_memory(&v->memory);
                CHECK(v->has_memory_events && v->memory_events.low == 1 &&
                      v->memory_events.high == 2 && v->memory_events.max == 3 &&
                      v->memory_events.oom == 4 && v->memory_events.oom_kill == 5);
                CHECK(v->cpu.usage_usec == 100 && v->cpu.user_usec == 60 &&
                      v->cpu.system_usec == 40 && v->cpu.nr_periods == 7 &&
                      v->cpu.nr_throttled == 8 && v->cpu.throttled_usec == 9);
                CHECK(v->pids.current == 3 && v->pids.limit == 64);
                CHECK_INTEQ(v->n_io, 2);
                if (v->n_io == 2) {
                        CHECK(v->io[0].major == 8 && v->io[0].minor == 0 && v->io[0].rbytes == 1 &&
                              v->io[0].wbytes == 2 && v->io[0].rios == 3 && v->io[0].wios == 4);
                        CHECK(v->io[1].major == 8 && v->io[1].minor == 16 &&
                              v->io[1].rbytes == 10 && v->io[1].wbytes == 0 && v->io[1].wios == 40);
                }
                CHECK_INTEQ(v->n_hugetlb, 1);
                if (v->n_hugetlb == 1) {
                        CHECK_STREQ(v->hugetlb[0].pagesize, "1GB");
                        CHECK(v->hugetlb[0].current == 11 && v->hugetlb[0].max == UINT64_MAX);
                }
        }
        snprintf(path, sizeof(path), "rm -rf %s", dir);
        CHECK(system(path) == 0);
        ps_err_free(e);
}

/* --- OOM watch */

struct oom_ctx {
        struct event_base *base;
        int fired;
};

static void on_oom(void *data)
{
        struct oom_ctx *ctx = data;

        ctx->fired++;
        event_base_loopbreak(ctx->base);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
        event_base_loopbreak(arg);
}

/* Runs the loop until an OOM callback or `ms` milliseconds. */
static void run_loop(struct event_base *base, int ms)
{
        struct event *timer = evtimer_new(base, on_timeout, base);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

        evtimer_add(timer, &tv);
        event_base_dispatch(base);
        event_free(timer);
}

/* A memory cgroup of the kind the watch will pick, limited to `limit`
 * bytes with no swap to fall back on; false if this host has none. */
static bool mem_cg_create(struct testcg *t, const char *tag, const char *limit)
{
        static const int v1[] = {PS_CGROUP_MEMORY, -1}, v2[] = {PS_CGROUP_CTRL_MAX, -1};
        bool use_v1 = host_uses_v1();
        const char *dir;

        if (!cg_create(t, tag, use_v1 ? v1 : v2))
                return false;
        dir = t->dir[use_v1 ? PS_CGROUP_MEMORY : PS_CGROUP_CTRL_MAX];
        if (!dir || (!use_v1 && !file_exists(dir, "memory.max"))) {
                fprintf(stderr, "skip: no memory controller for a test cgroup\n");
                cg_destroy(t);
                return false;
        }
        if (!limit)
                return true;
        if (use_v1)
                return write_str(dir, "memory.limit_in_bytes", limit) &&
                       (!file_exists(dir, "memory.memsw.limit_in_bytes") ||
                        write_str(dir, "memory.memsw.limit_in_bytes", limit));
        return write_str(dir, "memory.max", limit) &&
               (!file_exists(dir, "memory.swap.max") || write_str(dir, "memory.swap.max", "0"));
}

static void test_oom_fires(void)
{
        struct oom_ctx ctx = {event_base_new(), 0};
        struct ps_oom_watch *w = NULL;
        struct ps_err *e = NULL;
        struct testcg t;
        struct child c;
        int fired;

        if (!mem_cg_create(&t, "oom", "16777216")) {
                event_base_free(ctx.base);
                return;
        }
        CHECK(child_start(&c, 0, 64 * MIB));
        CHECK(cg_attach(&t, c.pid));
        w = ps_oom_watch_new(ctx.base, c.pid, on_oom, &ctx, &e);
        CHECK(w != NULL);
        if (e)
                fprintf(stderr, "watch: %s\n", ps_err_msg(e));
        CHECK(child_run(&c, false));
        run_loop(ctx.base, 10000);
        CHECK(ctx.fired >= 1);
        child_end(&c);
        /* Removing the cgroup signals a v1 eventfd too: that is no OOM. */
        cg_destroy(&t);
        fired = ctx.fired;
        run_loop(ctx.base, 300);
        CHECK_INTEQ(ctx.fired, fired);
        ps_oom_watch_free(w);
        ps_err_free(e);
        event_base_free(ctx.base);
}

static void test_oom_quiet_on_removal(void)
{
        struct oom_ctx ctx = {event_base_new(), 0};
        struct ps_oom_watch *w = NULL;
        struct ps_err *e = NULL;
        struct testcg t;
        struct child c;

        if (!mem_cg_create(&t, "quiet", NULL)) {
                event_base_free(ctx.base);
                return;
        }
        CHECK(child_start(&c, 10, 4 * MIB));
        CHECK(cg_attach(&t, c.pid));
        w = ps_oom_watch_new(ctx.base, c.pid, on_oom, &ctx, &e);
        CHECK(w != NULL);
        CHECK(child_run(&c, true));
        child_end(&c);
        cg_destroy(&t);
        run_loop(ctx.base, 300);
        CHECK_INTEQ(ctx.fired, 0);
        ps_oom_watch_free(w);
        ps_err_free(e);
        event_base_free(ctx.base);
}

/* Paths from known directories: combined v1 mounts share a string, the
 * first cgroup2 directory is the unified one, memory decides v1, and an
 * unnamed controller (net_cls) is not kept. */
static void test_paths_from(void)
{
        const char *ctrls[] = {"cpu,cpuacct", "memory", "net_cls", "", ""};
        const char *dirs[] = {"/c/cpu/p", "/c/memory/p", "/c/net_cls/p", "/c/unified/p", "/x"};
        _cleanup_(ps_cgroup_paths_freep) struct ps_cgroup_paths *p = NULL, *v2 = NULL;
        _cleanup_err_ struct ps_err *e = NULL;

        CHECK(ps_cgroup_paths_from(ctrls, dirs, 5, &p, &e) == 0);
        CHECK(p && p->memory_v1 && ps_cgroup_paths_use_v1(p));
        CHECK_STREQ(p ? p->v1[PS_CGROUP_CPU] : NULL, "/c/cpu/p");
        CHECK_STREQ(p ? p->v1[PS_CGROUP_CPUACCT] : NULL, "/c/cpu/p");
        CHECK_STREQ(p ? p->v1[PS_CGROUP_MEMORY] : NULL, "/c/memory/p");
        CHECK(p && !p->v1[PS_CGROUP_PIDS] && !p->v1[PS_CGROUP_BLKIO]);
        CHECK_STREQ(p ? p->unified : NULL, "/c/unified/p");
        CHECK(ps_cgroup_paths_from(ctrls + 3, dirs + 3, 1, &v2, &e) == 0);
        CHECK(v2 && !v2->memory_v1 && !v2->v1[PS_CGROUP_MEMORY]);
        CHECK_STREQ(v2 ? v2->unified : NULL, "/c/unified/p");
        /* no memory cgroup among them: no OOM watch */
        {
                _cleanup_(ps_cgroup_paths_freep) struct ps_cgroup_paths *none = NULL;
                struct event_base *base = event_base_new();

                CHECK(ps_cgroup_paths_from(ctrls + 2, dirs + 2, 1, &none, &e) == 0);
                CHECK(none && ps_oom_watch_new_at(base, none, on_oom, NULL, &e) == NULL);
                CHECK(e && e->code == PS_NOT_FOUND);
                event_base_free(base);
        }
}

static void test_oom_not_found(void)
{
        struct event_base *base = event_base_new();
        struct ps_err *e = NULL;

        CHECK(ps_oom_watch_new(base, NO_SUCH_PID, on_oom, NULL, &e) == NULL);
        CHECK(e && e->code == PS_NOT_FOUND);
        ps_err_free(e);
        CHECK(ps_oom_watch_free(NULL) == NULL);
        event_base_free(base);
}

int main(void)
{
        if (geteuid() != 0) {
                fprintf(stderr, "test_cgroup needs root to create cgroups\n");
                return 1;
        }
        RUN(test_stats_not_found);
        RUN(test_stats_self);
        RUN(test_stats_v1);
        RUN(test_stats_v2);
        RUN(test_stats_v1_files);
        RUN(test_stats_v2_files);
        RUN(test_oom_fires);
        RUN(test_oom_quiet_on_removal);
        RUN(test_oom_not_found);
        RUN(test_paths_from);
        return check_summary();
}
