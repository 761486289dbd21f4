#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/spawn.h"
#include "check.h"
#include "core/reaper.h"

struct seen {
        int calls;
        pid_t pid;
        int status;
        struct event_base *base;
};

static void on_exit_cb(void *data, pid_t pid, int status)
{
        struct seen *s = data;

        s->calls++;
        s->pid = pid;
        s->status = status;
        event_base_loopbreak(s->base);
}

static pid_t spawn(char *const argv[])
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_spawn_opts o = {.path = argv[0], .argv = argv, .stdio = {-1, -1, -1}};

        return ps_spawn(&o, &e);
}

static void run_loop(struct event_base *base, int ms)
{
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
}

static void test_exit_codes(void)
{
        CHECK_INTEQ(ps_exit_code(3 << 8), 3);
        CHECK_INTEQ(ps_exit_code(SIGKILL), 137);
        CHECK_INTEQ(ps_exit_code(SIGTERM), 143);
}

static void test_watch_then_exit(void)
{
        struct event_base *base = event_base_new();
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_reaper *r = ps_reaper_new(base, &e);
        struct seen s = {.base = base};
        char *argv[] = {"/bin/sh", "-c", "sleep 0.05; exit 7", NULL};
        pid_t pid = spawn(argv);

        CHECK(r != NULL && pid > 0);
        CHECK(ps_reaper_watch(r, pid, on_exit_cb, &s, &e) == 0);
        CHECK(ps_reaper_watch(r, pid, on_exit_cb, &s, &e) < 0); /* one watch per pid */
        run_loop(base, 5000);
        CHECK_INTEQ(s.calls, 1);
        CHECK_INTEQ(s.pid, pid);
        CHECK_INTEQ(ps_exit_code(s.status), 7);
        ps_reaper_free(r);
        event_base_free(base);
}

/* The race a container exec hits: the process is gone before its pid is
 * known. Its exit must be kept and delivered once it is watched. */
static void test_exit_before_watch(void)
{
        struct event_base *base = event_base_new();
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_reaper *r = ps_reaper_new(base, &e);
        struct seen s = {.base = base};
        char *argv[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
        pid_t pid = spawn(argv);

        CHECK(pid > 0);
        run_loop(base, 300); /* reaped as unclaimed */
        CHECK_INTEQ(s.calls, 0);
        CHECK(ps_reaper_watch(r, pid, on_exit_cb, &s, &e) == 0);
        CHECK_INTEQ(s.calls, 0); /* never from inside watch() */
        run_loop(base, 2000);
        CHECK_INTEQ(s.calls, 1);
        CHECK_INTEQ(ps_exit_code(s.status), 137);
        ps_reaper_free(r);
        event_base_free(base);
}

/* Forks a child that sleeps, made to get pid `want` through ns_last_pid
 * (root only); returns its pid, which may differ if another process took
 * `want` first. */
static pid_t fork_sleeper_at(pid_t want)
{
        FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "we");
        pid_t pid;

        if (!f)
                return -1;
        fprintf(f, "%d", (int)want - 1);
        if (fclose(f) != 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                pause();
                _exit(0);
        }
        return pid;
}

/* Pid reuse: a cached exit of an earlier process must not be taken for the
 * exit of a live process that now has the same pid (it would report a
 * running exec or runtime as exited, with the old status). */
static void test_stale_exit_of_reused_pid(void)
{
        struct event_base *base = event_base_new();
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_reaper *r = ps_reaper_new(base, &e);
        struct seen s = {.base = base};
        char *argv[] = {"/bin/sh", "-c", "exit 255", NULL};
        pid_t old = 0, pid = -1;

        for (int attempt = 0; attempt < 20; attempt++) {
                old = spawn(argv);
                run_loop(base, 200); /* reaped: the exit is cached, unclaimed */
                pid = fork_sleeper_at(old);
                if (pid <= 0 || pid == old)
                        break;
                kill(pid, SIGKILL); /* someone else took the pid: again */
                waitpid(pid, NULL, 0);
                pid = -1;
        }
        CHECK(old > 0 && pid == old);
        if (pid != old) {
                fprintf(stderr, "  could not reuse pid %d (got %d)\n", (int)old, (int)pid);
                goto out;
        }
        CHECK(ps_reaper_watch(r, pid, on_exit_cb, &s, &e) == 0);
        run_loop(base, 300);
        CHECK_INTEQ(s.calls, 0); /* the stale "exit 255" is not this process's */
        kill(pid, SIGKILL);
        run_loop(base, 2000);
        CHECK_INTEQ(s.calls, 1);
        CHECK_INTEQ(ps_exit_code(s.status), 137);
        pid = -1;
out:
        if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        ps_reaper_free(r);
        event_base_free(base);
}

static void test_unwatch_and_many(void)
{
        struct event_base *base = event_base_new();
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_reaper *r = ps_reaper_new(base, &e);
        struct seen s[80];
        pid_t pids[80];
        char *argv[] = {"/bin/true", NULL};
        int total = 0;

        /* More exits than one reap batch, all at once. */
        for (int i = 0; i < 80; i++) {
                s[i] = (struct seen){.base = base};
                pids[i] = spawn(argv);
                CHECK(ps_reaper_watch(r, pids[i], on_exit_cb, &s[i], &e) == 0);
        }
        ps_reaper_unwatch(r, pids[0]);
        for (int round = 0; round < 100 && total < 79; round++) {
                run_loop(base, 50);
                total = 0;
                for (int i = 1; i < 80; i++)
                        total += s[i].calls;
        }
        CHECK_INTEQ(total, 79);
        CHECK_INTEQ(s[0].calls, 0);
        for (int i = 1; i < 80; i++)
                CHECK_INTEQ(ps_exit_code(s[i].status), 0);
        ps_reaper_free(r);
        event_base_free(base);
}

int main(void)
{
        RUN(test_exit_codes);
        RUN(test_stale_exit_of_reused_pid);
        RUN(test_watch_then_exit);
        RUN(test_exit_before_watch);
        RUN(test_unwatch_and_many);
        return check_summary();
}
