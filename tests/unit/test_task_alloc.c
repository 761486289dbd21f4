/* Allocation failures in the task core, the sandbox layer and the Linux
 * backend: the Nth allocation of a whole container scenario (create,
 * start, exec, kill, delete, pause, resume, update, pids, stats and its
 * wire conversion, the init's exit and delete) fails, for every N until the
 * scenario runs clean. Whatever fails, the shim must not crash, leak (ASan,
 * valgrind), leave a process it cannot supervise, or complete an operation
 * with neither an error nor a result.
 *
 * The allocator hook is the linker's --wrap (CMakeLists.txt links this test
 * with -Wl,--wrap=malloc,...): it sees every allocation the podshim core
 * makes itself, not those inside libevent, cJSON or libc's own internals.
 * The OCI runtime is a small script (tests only) that answers like runc:
 * `create` and `exec` start `sleep` and write its pid file, `kill` and
 * `delete` kill the init, `ps` prints [], anything else succeeds. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>

#include "api/metrics.h"
#include "base/cleanup.h"
#include "check.h"
#include "core/reaper.h"
#include "fake_backend.h"
#include "sandbox/sandbox.h"
#include "task/container.h"
#include "task/process.h"

/* ---- the allocator hook ---------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_reallocarray(void *p, size_t n, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **out, const char *fmt, va_list ap);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_reallocarray(void *p, size_t n, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);
int __wrap_asprintf(char **out, const char *fmt, ...);

/* volatile: the wrappers run behind calls the compiler takes for libc's,
 * which could not see a static; without it, setting countdown_paused
 * around the test's own strdup() is optimized away. */
static volatile long countdown;        /* > 0: that many allocations from now, the last fails */
static volatile bool countdown_paused; /* the test's own allocations: never counted */
static volatile bool persistent;       /* and so do all after it, until the round ends */
static volatile bool failing;
static volatile long injected, seen;

static bool fail_now(void)
{
        if (countdown_paused)
                return false;
        seen++;
        if (failing || (countdown > 0 && --countdown == 0)) {
                failing = persistent;
                injected++;
                errno = ENOMEM;
                return true;
        }
        return false;
}

void *__wrap_malloc(size_t n)
{
        return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
        return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
        return fail_now() ? NULL : __real_realloc(p, n);
}

void *__wrap_reallocarray(void *p, size_t n, size_t size)
{
        return fail_now() ? NULL : __real_reallocarray(p, n, size);
}

char *__wrap_strdup(const char *s)
{
        return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
        return fail_now() ? NULL : __real_strndup(s, n);
}

int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
        if (fail_now()) {
                *out = NULL;
                return -1;
        }
        return __real_vasprintf(out, fmt, ap);
}

int __wrap_asprintf(char **out, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = __wrap_vasprintf(out, fmt, ap);
        va_end(ap);
        return r;
}

/* ---- the scenario ------------------------------------------------------ */

static const char fake_runtime[] =
    "#!/bin/sh\n"
    "# written by tests/unit/test_task_alloc.c\n"
    "while [ $# -gt 0 ]; do\n"
    "  case $1 in --root|--log|--log-format) shift 2 ;; --systemd-cgroup) shift ;; *) break ;; "
    "esac\n"
    "done\n"
    "cmd=$1; shift\n"
    "case $cmd in\n"
    "create|exec)\n"
    "  while [ $# -gt 1 ]; do\n"
    "    case $1 in --pid-file) pidfile=$2; shift 2 ;; *) shift ;; esac\n"
    "  done\n"
    "  sleep 1000 </dev/null >/dev/null 2>&1 &\n"
    "  echo $! >\"$pidfile\" ;;\n"
    "kill|delete) [ -f init.pid ] && kill -9 \"$(cat init.pid)\" 2>/dev/null ;;\n"
    "ps) echo '[]' ;;\n"
    "esac\n"
    "exit 0\n";

static const char config_json[] =
    "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sleep\"],\"cwd\":\"/\"},"
    "\"root\":{\"path\":\"rootfs\"},\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}";

struct fixture {
        struct event_base *base;
        struct ps_reaper *reaper;
        struct fake_events events;
        struct ps_sandboxes sbs;
        char dir[64];
        char runtime[128];
};

static struct fixture fx;

struct outcome {
        int calls;
        bool err, res;
};

static int broken; /* completions that broke the rule, or ran twice */

static void on_done(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        struct outcome *o = data;

        o->calls++;
        o->err = err != NULL;
        o->res = res != NULL;
        if (o->calls != 1 || o->err == o->res) {
                fprintf(stderr, "completion %d: err %d res %d\n", o->calls, o->err, o->res);
                broken++;
        }
        ps_err_free(err);
}

static void on_pids(void *data, struct ps_err *err, const struct ps_pid_info *pids, size_t n)
{
        struct outcome *o = data;

        o->calls++;
        o->err = err != NULL;
        o->res = !err;
        if (o->calls != 1)
                broken++;
        ps_err_free(err);
}

/* libevent is linked statically, so its allocations are hooked too: the
 * loopexit timer is the test's own and must not fail (the loop would then
 * block for good); what the loop runs while dispatching is counted. */
static void spin(int ms)
{
        struct timeval tv = {0, ms * 1000};
        bool paused = countdown_paused;

        countdown_paused = true;
        event_base_loopexit(fx.base, &tv);
        countdown_paused = paused;
        event_base_dispatch(fx.base);
}

static void wait_for(const struct outcome *o)
{
        for (int i = 0; i < 1000 && o->calls == 0; i++)
                spin(5);
        CHECK_INTEQ(o->calls, 1);
}

/* rc: the 0 / 1 / -1 rule of container.h; -1 must carry an error. */
static void settle_at(int line, int rc, struct ps_err *e, struct outcome *o)
{
        if (rc < 0 && !e) {
                fprintf(stderr, "line %d failed without an error\n", line);
                broken++;
        }
        ps_err_free(e);
        if (rc == 0)
                wait_for(o);
}

#define settle(rc, e, o) settle_at(__LINE__, rc, e, o)

static void kill_children(void)
{
        _cleanup_closedir_ DIR *d = opendir("/proc");
        struct dirent *de;
        char path[64], buf[512];

        while (d && (de = readdir(d))) {
                FILE *f;
                int pid = atoi(de->d_name), ppid = 0;

                if (pid <= 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/stat", pid);
                f = fopen(path, "r");
                if (!f)
                        continue;
                if (fgets(buf, sizeof(buf), f)) {
                        char *rp = strrchr(buf, ')');
                        if (rp)
                                sscanf(rp + 2, "%*c %d", &ppid);
                }
                fclose(f);
                if (ppid == getpid())
                        kill(pid, SIGKILL);
        }
}

static void create_done(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        on_done(data, err, res);
}

/* Stats and its conversion to the wire message, as the Task service does. */
static void stats_step(struct ps_container *c)
{
        _cleanup_(ps_metrics_clear) struct ps_metrics m = {0};
        _cleanup_free_ uint8_t *value = NULL;
        const char *type_url = NULL;
        struct ps_err *e = NULL;
        size_t len = 0;
        int rc = ps_container_stats(c, &m, &e);

        if (rc == 0)
                rc = ps_api_metrics_pack(&m, &type_url, &value, &len, &e);
        settle(rc < 0 ? -1 : 1, e, NULL);
}

/* The scenario, every step tolerant of a step before it having failed. */
static void scenario(void)
{
        static const uint8_t spec[] = "{\"args\":[\"sleep\",\"1000\"],\"cwd\":\"/\"}";
        struct ps_options opts = {0};
        struct ps_create_request req = {.id = "alloc",
                                        .bundle = fx.dir,
                                        .stdin_path = "",
                                        .stdout_path = "",
                                        .stderr_path = "",
                                        .options = &opts};
        struct ps_exec_request ereq = {.exec_id = "x1", .spec = spec, .spec_len = sizeof(spec) - 1};
        struct outcome o = {0};
        struct ps_err *e = NULL;
        struct ps_container *c;
        struct ps_process *x;
        int rc;

        countdown_paused = true; /* the fixture's own allocations never fail */
        opts.binary_name = strdup(fx.runtime);
        opts.root = strdup(fx.dir);
        countdown_paused = false;
        rc = ps_sandboxes_create_task(&fx.sbs, &req, create_done, &o, &e);
        settle(rc, e, &o);
        countdown_paused = true;
        ps_options_clear(&opts);
        countdown_paused = false;
        c = ps_tasks_find(&fx.sbs.tasks, "alloc");
        if (!c || c->init->state != PS_PROC_CREATED)
                return;
        o = (struct outcome){0};
        e = NULL;
        rc = ps_process_start(c->init, on_done, &o, &e);
        settle(rc, e, &o);
        e = NULL;
        rc = ps_container_exec(c, &ereq, &e);
        settle(rc < 0 ? -1 : 1, e, NULL); /* registration is synchronous */
        x = rc < 0 ? NULL : ps_tasks_process(&fx.sbs.tasks, c->id, "x1", NULL);
        if (x) {
                o = (struct outcome){0};
                e = NULL;
                rc = ps_process_start(x, on_done, &o, &e);
                settle(rc, e, &o);
                if (x->state == PS_PROC_RUNNING) {
                        o = (struct outcome){0};
                        e = NULL;
                        rc = ps_process_kill(x, SIGKILL, false, on_done, &o, &e);
                        settle(rc, e, &o);
                        /* a kill that went out ends in an exit */
                        for (int i = 0;
                             rc >= 0 && !o.err && i < 1000 && x->state != PS_PROC_STOPPED; i++)
                                spin(5);
                        CHECK(rc < 0 || o.err || x->state == PS_PROC_STOPPED);
                }
                o = (struct outcome){0};
                e = NULL;
                rc = ps_process_delete(x, on_done, &o, &e);
                settle(rc, e, &o);
        }
        o = (struct outcome){0};
        e = NULL;
        rc = ps_container_pause(c, on_done, &o, &e);
        settle(rc, e, &o);
        if (c->init->state == PS_PROC_PAUSED) {
                o = (struct outcome){0};
                e = NULL;
                rc = ps_container_resume(c, on_done, &o, &e);
                settle(rc, e, &o);
        }
        o = (struct outcome){0};
        e = NULL;
        rc = ps_container_update(c, "{}", 2, on_done, &o, &e);
        settle(rc, e, &o);
        o = (struct outcome){0};
        e = NULL;
        rc = ps_container_pids(c, on_pids, &o, &e);
        settle(rc, e, &o);
        stats_step(c);
        if (ps_process_live(c->init)) {
                o = (struct outcome){0};
                e = NULL;
                rc = ps_process_kill(c->init, SIGKILL, false, on_done, &o, &e);
                settle(rc, e, &o);
                for (int i = 0; rc >= 0 && !o.err && i < 1000 && !ps_process_exited(c->init); i++)
                        spin(5);
        }
        if (c->init->state == PS_PROC_STOPPED) {
                for (int i = 0; i < 400 && !c->init->drained; i++)
                        spin(5);
                o = (struct outcome){0};
                e = NULL;
                rc = ps_process_delete(c->init, on_done, &o, &e);
                settle(rc, e, &o);
        }
}

/* mode false: only the Nth allocation fails; true: the Nth and every one
 * after it in that round (so errors themselves cannot be allocated). */
static void sweep(bool fail_the_rest)
{
        _cleanup_err_ struct ps_err *e = NULL;
        long rounds = 0, clean = 0;
        char path[128], cmd[128];
        FILE *f;

        injected = seen = 0;
        broken = 0;
        persistent = fail_the_rest;
        snprintf(fx.dir, sizeof(fx.dir), "/tmp/ps-alloc-XXXXXX");
        CHECK(mkdtemp(fx.dir) != NULL);
        snprintf(fx.runtime, sizeof(fx.runtime), "%s/fake-runtime", fx.dir);
        f = fopen(fx.runtime, "w");
        CHECK(f != NULL);
        fputs(fake_runtime, f);
        fclose(f);
        chmod(fx.runtime, 0755);
        snprintf(path, sizeof(path), "%s/config.json", fx.dir);
        f = fopen(path, "w");
        CHECK(f != NULL);
        fputs(config_json, f);
        fclose(f);
        fx.base = event_base_new();
        fx.reaper = ps_reaper_new(fx.base, &e);
        CHECK(fx.base && fx.reaper);
        fake_events_init(&fx.events);
        ps_sandboxes_init(&fx.sbs, &fx.events.sink, NULL, fx.base, fx.reaper, "alloc", fx.dir);

        /* N = 0: no failure, the scenario's own baseline; then every N until
         * a run passes without reaching its Nth allocation. */
        for (long n = 0; n < 4000; n++) {
                struct ps_container *c;
                long before = injected;

                countdown = n;
                scenario();
                countdown = 0;
                failing = false;
                rounds++;
                /* whatever is left: let runtimes finish, then free */
                c = ps_tasks_find(&fx.sbs.tasks, "alloc");
                for (int i = 0; c && i < 1000 && c->busy; i++)
                        spin(5);
                CHECK(!c || c->busy == 0);
                kill_children();
                spin(20);
                if ((c = ps_tasks_find(&fx.sbs.tasks, "alloc")))
                        ps_container_free(c);
                if (n > 0 && injected == before) {
                        clean++;
                        break; /* the scenario has fewer than n allocations */
                }
        }
        fprintf(stderr, "alloc (%s): %ld rounds, %ld failures injected, %ld allocations seen\n",
                fail_the_rest ? "the rest fail too" : "one fails", rounds, injected, seen);
        CHECK(injected > 20); /* the hook works and the scenario allocates */
        CHECK_INTEQ(clean, 1);
        CHECK_INTEQ(broken, 0);
        ps_sandboxes_destroy(&fx.sbs);
        ps_reaper_free(fx.reaper);
        event_base_free(fx.base);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.dir);
        CHECK(system(cmd) == 0);
}

static void test_one_allocation_fails(void)
{
        sweep(false);
}

static void test_all_allocations_fail_from_n_on(void)
{
        sweep(true);
}

int main(void)
{
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        RUN(test_one_allocation_fails);
        RUN(test_all_allocations_fail_from_n_on);
        return check_summary();
}
