/* Cgroup stats and OOM watch against real cgroups: each test creates its own
 * cgroups next to (under) the test process's own, moves a forked child into
 * them and reads what the kernel accounted. Needs root. */
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
        RUN(test_oom_fires);
        RUN(test_oom_quiet_on_removal);
        RUN(test_oom_not_found);
        return check_summary();
}
