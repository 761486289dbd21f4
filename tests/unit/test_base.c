#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/backoff.h"
#include "base/cleanup.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/sha256.h"
#include "base/spawn.h"
#include "check.h"

static void test_sha256(void)
{
        char hex[65];

        ps_sha256_hex("", 0, hex);
        CHECK_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        ps_sha256_hex("abc", 3, hex);
        CHECK_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        /* 56 bytes: the padding spills into a second block. */
        ps_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
        CHECK_STREQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        /* The socket-name example from the protocol notes. */
        ps_sha256_hex("/tmp/probe/c.sock/probe/probe2", 30, hex);
        CHECK(strncmp(hex, "6870f158", 8) == 0);
        CHECK(strcmp(hex + 60, "757e") == 0);
}

static void test_ids(void)
{
        CHECK(ps_id_valid("abc"));
        CHECK(ps_id_valid("a.b-c_d"));
        CHECK(ps_id_valid("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
        CHECK(!ps_id_valid(""));
        CHECK(!ps_id_valid(NULL));
        CHECK(!ps_id_valid("../x"));
        CHECK(!ps_id_valid("a/b"));
        CHECK(!ps_id_valid(".."));
        CHECK(!ps_id_valid("a..b"));
        CHECK(!ps_id_valid("-a"));
        CHECK(!ps_id_valid("a-"));
        CHECK(!ps_id_valid("a b"));
        char long_id[100];
        memset(long_id, 'a', 99);
        long_id[99] = 0;
        CHECK(!ps_id_valid(long_id));
}

static void test_errors(void)
{
        _cleanup_err_ struct ps_err *e = NULL;

        CHECK(ps_err_errno(&e, ENOENT, PS_UNKNOWN, "open %s", "x") == -1);
        CHECK(e && e->code == PS_NOT_FOUND);
        ps_err_prefix(&e, "load spec");
        CHECK_STREQ(ps_err_msg(e), "load spec: open x: No such file or directory");
        /* A second error never overwrites the first. */
        ps_err_set(&e, PS_INTERNAL, "later");
        CHECK(e->code == PS_NOT_FOUND);
}

static void test_files(void)
{
        char dir[] = "/tmp/ps-test-XXXXXX", path[256], deep[256];
        _cleanup_free_ char *buf = NULL;
        _cleanup_err_ struct ps_err *e = NULL;
        size_t len = 0;
        pid_t pid = 0;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/pid", dir);
        CHECK(ps_write_file_atomic(path, "1234\n", 5, 0600, &e) == 0);
        CHECK(ps_read_pid_file(path, &pid, &e) == 0);
        CHECK_INTEQ(pid, 1234);
        CHECK(ps_read_file(path, 3, &buf, &len, &e) < 0);
        CHECK(e && e->code == PS_RESOURCE_EXHAUSTED);
        e = ps_err_free(e);
        CHECK(ps_write_file_atomic(path, "x12", 3, 0600, &e) == 0);
        CHECK(ps_read_pid_file(path, &pid, &e) < 0);
        e = ps_err_free(e);
        snprintf(deep, sizeof(deep), "%s/a/b/c", dir);
        CHECK(ps_mkdir_p(deep, 0700, &e) == 0);
        CHECK(access(deep, F_OK) == 0);
        char *rm[] = {"rm", "-rf", dir, NULL};
        struct ps_spawn_opts o = {.path = "rm", .argv = rm, .stdio = {-1, -1, -1}};
        pid_t c = ps_spawn(&o, &e);
        int st = 0;
        CHECK(c > 0);
        CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK(access(dir, F_OK) < 0);
}

/* A directory of files goes whole; a link to one is refused and its target
 * left as it was; a subdirectory is an error, not a recursion. */
static void test_remove_flat_dir(void)
{
        char dir[] = "/tmp/ps-test-XXXXXX", flat[64], file[128], link[64], sub[128];
        _cleanup_err_ struct ps_err *e = NULL;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(flat, sizeof(flat), "%s/flat", dir);
        CHECK(mkdir(flat, 0700) == 0);
        for (int i = 0; i < 3; i++) {
                snprintf(file, sizeof(file), "%s/f%d", flat, i);
                CHECK(ps_write_file_atomic(file, "x", 1, 0600, NULL) == 0);
        }
        snprintf(link, sizeof(link), "%s/link", dir);
        CHECK(symlink(flat, link) == 0);
        CHECK(ps_remove_flat_dir(link, &e) < 0);
        CHECK(e && e->code == PS_INTERNAL);
        e = ps_err_free(e);
        CHECK(access(file, F_OK) == 0);
        CHECK(ps_remove_flat_dir(flat, &e) == 0);
        CHECK(access(flat, F_OK) < 0);
        CHECK(ps_remove_flat_dir(flat, &e) == 0); /* gone is no error */
        CHECK(unlink(link) == 0);

        snprintf(sub, sizeof(sub), "%s/flat/sub", dir);
        CHECK(ps_mkdir_p(sub, 0700, NULL) == 0);
        CHECK(ps_remove_flat_dir(flat, &e) < 0);
        e = ps_err_free(e);
        CHECK(rmdir(sub) == 0 && rmdir(flat) == 0 && rmdir(dir) == 0);
}

static void test_spawn_fds(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        int p[2], st = 0;
        char buf[64] = {0};

        CHECK(pipe2(p, O_CLOEXEC) == 0);
        /* The pipe's write end becomes the child's fd 4 (extra[1]). */
        int extra[2] = {-1, p[1]};
        char *argv[] = {"sh", "-c", "echo hello >&4", NULL};
        struct ps_spawn_opts o = {
            .path = "/bin/sh", .argv = argv, .stdio = {-1, -1, -1}, .extra = extra, .n_extra = 2};
        pid_t c = ps_spawn(&o, &e);
        CHECK(c > 0);
        close(p[1]);
        CHECK(read(p[0], buf, sizeof(buf) - 1) == 6);
        CHECK_STREQ(buf, "hello\n");
        close(p[0]);
        CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);

        char *missing[] = {"no-such-binary-xyz", NULL};
        o = (struct ps_spawn_opts){.path = missing[0], .argv = missing, .stdio = {-1, -1, -1}};
        CHECK(ps_spawn(&o, &e) < 0);
        CHECK(e && e->code == PS_NOT_FOUND);
        while (waitpid(-1, &st, WNOHANG) > 0)
                ;
}

/* enter_fds are written "0" by the child before its exec (what makes a
 * program start in a cgroup); one that cannot be written fails the spawn. */
static void test_spawn_enter_fds(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        char *argv[] = {"true", NULL}, buf[8] = {0};
        int p[2], st = 0, ro;
        struct ps_spawn_opts o = {.path = "/bin/true", .argv = argv, .stdio = {-1, -1, -1}};
        pid_t c;

        CHECK(pipe2(p, O_CLOEXEC) == 0);
        o.enter_fds = &p[1];
        o.n_enter_fds = 1;
        c = ps_spawn(&o, &e);
        CHECK(c > 0);
        close(p[1]);
        CHECK(read(p[0], buf, sizeof(buf) - 1) == 1);
        CHECK_STREQ(buf, "0");
        close(p[0]);
        CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);

        ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(ro >= 0);
        o.enter_fds = &ro;
        CHECK(ps_spawn(&o, &e) < 0);
        CHECK(e && strstr(ps_err_msg(e), "Bad file descriptor") != NULL);
        close(ro);
        while (waitpid(-1, &st, WNOHANG) > 0)
                ;
}

static void on_usr2(int sig)
{
        (void)sig;
}

/* Reads the child's /proc/self/status line starting with key, as hex. */
static unsigned long long status_mask(const char *status, const char *key)
{
        const char *l = strstr(status, key);

        return l ? strtoull(l + strlen(key), NULL, 16) : ~0ULL;
}

/* The child starts with no blocked signal and SIGPIPE at its default even
 * though the shim blocks signals (signalfd) and ignores SIGPIPE; handlers
 * are reset in the child only, never in the shim that shares its memory. */
static void test_spawn_signals(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct sigaction usr2 = {.sa_handler = on_usr2}, now;
        sigset_t block, old, after;
        char status[4096] = {0};
        size_t len = 0;
        ssize_t n;
        int p[2], st = 0;

        sigemptyset(&block);
        sigaddset(&block, SIGUSR1);
        sigaddset(&block, SIGCHLD);
        CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0);
        CHECK(sigaction(SIGUSR2, &usr2, NULL) == 0);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        CHECK(pipe2(p, O_CLOEXEC) == 0);
        char *argv[] = {"cat", "/proc/self/status", NULL};
        struct ps_spawn_opts o = {.path = "cat", .argv = argv, .stdio = {-1, p[1], -1}};
        pid_t c = ps_spawn(&o, &e);
        CHECK(c > 0);
        close(p[1]);
        while (len < sizeof(status) - 1 &&
               (n = read(p[0], status + len, sizeof(status) - 1 - len)) > 0)
                len += (size_t)n;
        close(p[0]);
        CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK(status_mask(status, "SigBlk:") == 0);
        CHECK((status_mask(status, "SigIgn:") & (1ULL << (SIGPIPE - 1))) == 0);
        CHECK((status_mask(status, "SigIgn:") & (1ULL << (SIGHUP - 1))) != 0);
        /* The shim's side is untouched. */
        CHECK(sigprocmask(SIG_SETMASK, NULL, &after) == 0);
        CHECK(sigismember(&after, SIGUSR1) && sigismember(&after, SIGCHLD));
        CHECK(sigaction(SIGUSR2, NULL, &now) == 0 && now.sa_handler == on_usr2);
        CHECK(sigaction(SIGPIPE, NULL, &now) == 0 && now.sa_handler == SIG_IGN);
        signal(SIGUSR2, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
}

static void test_backoff(void)
{
        struct ps_backoff b = {.min_ms = 100, .max_ms = 5000};
        unsigned want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
        struct timeval tv;

        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                CHECK_INTEQ(ps_backoff_next(&b), want[i]);
        CHECK_INTEQ(b.tries, 8);
        ps_backoff_reset(&b);
        CHECK_INTEQ(ps_backoff_next(&b), 100);
        tv = ps_ms_timeval(2750);
        CHECK(tv.tv_sec == 2 && tv.tv_usec == 750000);
        /* a step that would overshoot lands on the bound */
        b = (struct ps_backoff){.min_ms = 3, .max_ms = 10};
        CHECK(ps_backoff_next(&b) == 3 && ps_backoff_next(&b) == 6 && ps_backoff_next(&b) == 10);
        /* the largest bound never overflows */
        b = (struct ps_backoff){.min_ms = 1, .max_ms = 0xffffffffu};
        for (int i = 0; i < 40; i++)
                ps_backoff_next(&b);
        CHECK_INTEQ(b.cur_ms, 0xffffffffu);
}

int main(void)
{
        RUN(test_backoff);
        RUN(test_sha256);
        RUN(test_ids);
        RUN(test_errors);
        RUN(test_files);
        RUN(test_remove_flat_dir);
        RUN(test_spawn_fds);
        RUN(test_spawn_enter_fds);
        RUN(test_spawn_signals);
        return check_summary();
}
