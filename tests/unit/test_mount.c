/* Rootfs mounts against the real kernel (needs root). The test runs in its
 * own mount namespace so a failing test cannot leave mounts on the host. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "check.h"
#include "sandbox/linux/mount.h"

#define TMPFS_MAGIC_ 0x01021994

static char tmpdir[64];

static char *path_of(const char *name)
{
        char *p = NULL;

        if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
                abort();
        return p;
}

/* Mount entries whose mount point is at or below `dir`. */
static int count_mounts(const char *dir)
{
        _cleanup_free_ char *buf = NULL;
        char *line, *save = NULL;
        size_t n = strlen(dir);
        int count = 0;

        if (ps_read_file("/proc/self/mountinfo", 16u << 20, &buf, NULL, NULL) < 0)
                return -1;
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char mp[PATH_MAX];
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, dir, n) == 0 &&
                    (mp[n] == '\0' || mp[n] == '/'))
                        count++;
        }
        return count;
}

static int mount_list(const char *target, struct ps_mount *m, size_t n, struct ps_err **err)
{
        return ps_mount_all(target, m, n, err);
}

static struct ps_mount mk(const char *type, const char *source, char **opts)
{
        struct ps_mount m = {0};
        size_t n = 0;

        while (opts && opts[n])
                n++;
        m.type = (char *)type;
        m.source = (char *)source;
        m.options = opts;
        m.n_options = n;
        return m;
}

static bool file_exists(const char *dir, const char *name)
{
        _cleanup_free_ char *p = NULL;

        return asprintf(&p, "%s/%s", dir, name) > 0 && access(p, F_OK) == 0;
}

static int write_file(const char *dir, const char *name)
{
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -1;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return -1;
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        return fd < 0 ? -1 : 0;
}

static void test_tmpfs(void)
{
        _cleanup_free_ char *t = path_of("tmpfs/rootfs");
        char *opts[] = {"nosuid", "size=1m", "mode=0755", NULL};
        struct ps_mount m = mk("tmpfs", "tmpfs", opts);
        struct ps_err *e = NULL;
        struct statfs sf;
        struct stat st;

        mkdir(tmpdir, 0700);
        CHECK(mkdir(t, 0700) < 0); /* parent missing: ps_mount_all creates only the leaf */
        _cleanup_free_ char *parent = path_of("tmpfs");
        CHECK(mkdir(parent, 0700) == 0);
        CHECK_INTEQ(mount_list(t, &m, 1, &e), 0);
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        CHECK(statfs(t, &sf) == 0 && sf.f_type == TMPFS_MAGIC_);
        CHECK(stat(t, &st) == 0 && (st.st_mode & 07777) == 0755);
        CHECK_INTEQ(count_mounts(t), 1);
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        CHECK_INTEQ(count_mounts(t), 0);
        /* idempotent, and a missing target is fine */
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        _cleanup_free_ char *missing = path_of("nope");
        CHECK_INTEQ(ps_unmount_all(missing, &e), 0);
        CHECK_INTEQ(mount_list(t, NULL, 0, &e), 0);
        CHECK(e == NULL);
        ps_err_free(e);
}

static void test_bind_ro(void)
{
        _cleanup_free_ char *src = path_of("bind-src"), *t = path_of("bind-rootfs");
        char *opts[] = {"rbind", "ro", NULL};
        struct ps_mount m = mk("bind", src, opts);
        struct ps_err *e = NULL;

        CHECK(mkdir(src, 0755) == 0);
        CHECK(write_file(src, "before") == 0);
        CHECK_INTEQ(mount_list(t, &m, 1, &e), 0);
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        CHECK(file_exists(t, "before"));
        errno = 0;
        CHECK(write_file(t, "x") < 0 && errno == EROFS);
        CHECK(write_file(src, "y") == 0); /* the source stays writable */
        CHECK(file_exists(t, "y"));
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        CHECK_INTEQ(count_mounts(t), 0);
        CHECK(!file_exists(t, "before"));
        ps_err_free(e);
}

static void test_overlay(void)
{
        _cleanup_free_ char *l1 = path_of("ov-l1"), *l2 = path_of("ov-l2"), *up = path_of("ov-up"),
                            *wk = path_of("ov-work"), *t = path_of("ov-rootfs"), *lower = NULL,
                            *upper = NULL, *work = NULL;
        struct ps_err *e = NULL;

        CHECK(mkdir(l1, 0755) == 0 && mkdir(l2, 0755) == 0 && mkdir(up, 0755) == 0 &&
              mkdir(wk, 0755) == 0);
        CHECK(write_file(l1, "a") == 0 && write_file(l2, "b") == 0);
        CHECK(asprintf(&lower, "lowerdir=%s:%s", l1, l2) > 0);
        CHECK(asprintf(&upper, "upperdir=%s", up) > 0);
        CHECK(asprintf(&work, "workdir=%s", wk) > 0);
        char *opts[] = {"index=off", work, upper, lower, NULL};
        struct ps_mount m = mk("overlay", "overlay", opts);

        CHECK_INTEQ(mount_list(t, &m, 1, &e), 0);
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        CHECK(file_exists(t, "a") && file_exists(t, "b"));
        CHECK(write_file(t, "c") == 0);
        CHECK(file_exists(up, "c") && !file_exists(l1, "c"));
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        CHECK_INTEQ(count_mounts(t), 0);
        ps_err_free(e);
}

/* Twenty lowerdirs under a long common parent: the data would not fit a
 * page, so lowerdir must be rewritten relative to that parent. */
static void test_overlay_long_lowerdir(void)
{
        char long1[201], long2[201], cwd_before[PATH_MAX], cwd_after[PATH_MAX];
        _cleanup_free_ char *base = NULL, *lower = NULL, *up = path_of("ovl-up"),
                            *wk = path_of("ovl-work"), *t = path_of("ovl-rootfs"), *upper = NULL,
                            *work = NULL;
        struct ps_err *e = NULL;
        size_t len;

        memset(long1, 'd', 200);
        memset(long2, 'e', 200);
        long1[200] = long2[200] = '\0';
        CHECK(asprintf(&base, "%s/%s", tmpdir, long1) > 0 && mkdir(base, 0755) == 0);
        free(base);
        CHECK(asprintf(&base, "%s/%s/%s/snapshots", tmpdir, long1, long2) > 0);
        CHECK_INTEQ(ps_mkdir_p(base, 0755, NULL), 0);
        lower = strdup("lowerdir=");
        for (int i = 1; i <= 20; i++) {
                _cleanup_free_ char *d = NULL;
                char *nl = NULL, name[16];

                CHECK(asprintf(&d, "%s/%d/fs", base, i) > 0);
                CHECK_INTEQ(ps_mkdir_p(d, 0755, NULL), 0);
                snprintf(name, sizeof(name), "f%d", i);
                CHECK(write_file(d, name) == 0);
                CHECK(asprintf(&nl, "%s%s%s", lower, i == 1 ? "" : ":", d) > 0);
                free(lower);
                lower = nl;
        }
        len = strlen(lower);
        CHECK(len > 8000);
        CHECK(mkdir(up, 0755) == 0 && mkdir(wk, 0755) == 0);
        CHECK(asprintf(&upper, "upperdir=%s", up) > 0 && asprintf(&work, "workdir=%s", wk) > 0);
        char *opts[] = {work, upper, lower, NULL};
        struct ps_mount m = mk("overlay", "overlay", opts);

        CHECK(getcwd(cwd_before, sizeof(cwd_before)) != NULL);
        CHECK_INTEQ(mount_list(t, &m, 1, &e), 0);
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        CHECK(getcwd(cwd_after, sizeof(cwd_after)) != NULL);
        CHECK_STREQ(cwd_after, cwd_before);
        CHECK(file_exists(t, "f1") && file_exists(t, "f20"));
        CHECK_STREQ(lower + len - 5, "20/fs"); /* the caller's options are untouched */
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        ps_err_free(e);
}

/* The new mount API is there: valgrind 3.19 (the valgrind stage) does not
 * know open_tree, move_mount or mount_setattr and answers ENOSYS; the
 * sanitizer runs test them against the kernel. */
static bool have_mount_api(const char *test)
{
        if (syscall(SYS_open_tree, -1, "", 0) < 0 && errno == ENOSYS) {
                fprintf(stderr, "  %s: not run: open_tree is ENOSYS here (valgrind?)\n", test);
                return false;
        }
        return true;
}

static uid_t owner_of(const char *dir, const char *name)
{
        _cleanup_free_ char *p = NULL;
        struct stat st;

        if (asprintf(&p, "%s/%s", dir, name) < 0 || stat(p, &st) < 0)
                return (uid_t)-1;
        return st.st_uid;
}

/* containerd 2.x's remapped snapshot of a user-namespace pod's container:
 * lower layers owned by host root read as the mapped root (100000) through
 * the rootfs, the upper layer is written as it is, and nothing but the
 * rootfs mount exists, during or after (no temporary mount point). */
static void test_overlay_idmapped(void)
{
        _cleanup_free_ char *l1 = path_of("idm/snapshots/1/fs"),
                            *l2 = path_of("idm/snapshots/2/fs"), *up = path_of("idm/up"),
                            *wk = path_of("idm/work"), *t = path_of("idm/rootfs"),
                            *top = path_of("idm"), *lower = NULL, *upper = NULL, *work = NULL;
        struct ps_err *e = NULL;
        int before = count_mounts(tmpdir);

        if (!have_mount_api(__func__))
                return;

        CHECK(ps_mkdir_p(l1, 0755, NULL) == 0 && ps_mkdir_p(l2, 0755, NULL) == 0);
        CHECK(mkdir(up, 0755) == 0 && mkdir(wk, 0755) == 0);
        CHECK(write_file(l1, "a") == 0 && write_file(l2, "b") == 0);
        CHECK(chown(up, 100000, 100000) == 0);
        CHECK(asprintf(&lower, "lowerdir=%s:%s", l2, l1) > 0);
        CHECK(asprintf(&upper, "upperdir=%s", up) > 0 && asprintf(&work, "workdir=%s", wk) > 0);
        char *opts[] = {
            "index=off", work, upper, lower, "uidmap=0:100000:65536", "gidmap=0:100000:65536",
            NULL};
        struct ps_mount m = mk("overlay", "overlay", opts);

        CHECK_INTEQ(mount_list(t, &m, 1, &e), 0);
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        CHECK_INTEQ(count_mounts(top), 1);             /* the overlay alone */
        CHECK_INTEQ(count_mounts(tmpdir), before + 1); /* and nothing elsewhere */
        CHECK_INTEQ(owner_of(t, "a"), 100000);
        CHECK_INTEQ(owner_of(t, "b"), 100000);
        CHECK_INTEQ(owner_of(l1, "a"), 0); /* the layer itself is untouched */
        CHECK(write_file(t, "c") == 0);
        CHECK_INTEQ(owner_of(up, "c"), 0); /* written by us, host root */
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        CHECK_INTEQ(count_mounts(top), 0);
        CHECK_INTEQ(count_mounts(tmpdir), before);
        ps_err_free(e);

        /* one layer: idmapped through its own parent directory */
        _cleanup_free_ char *one = NULL;
        CHECK(asprintf(&one, "lowerdir=%s", l1) > 0);
        char *one_opts[] = {work, upper, one, "uidmap=0:100000:65536", "gidmap=0:100000:65536",
                            NULL};
        m = mk("overlay", "overlay", one_opts);
        e = NULL;
        CHECK_INTEQ(mount_list(t, &m, 1, &e), 0);
        CHECK_INTEQ(owner_of(t, "a"), 100000);
        CHECK(!file_exists(t, "b"));
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        CHECK_INTEQ(count_mounts(top), 0);
        ps_err_free(e);
}

/* A one-layer snapshot is a bind mount: shown through the maps by an
 * idmapped clone stacked on it, both gone with the rootfs. */
static void test_bind_idmapped(void)
{
        _cleanup_free_ char *src = path_of("idb-src"), *t = path_of("idb-rootfs");
        char *opts[] = {"uidmap=0:100000:65536", "gidmap=0:100000:65536", "rw", "rbind", NULL};
        struct ps_mount m = mk("bind", src, opts);
        struct ps_err *e = NULL;

        if (!have_mount_api(__func__))
                return;
        CHECK(mkdir(src, 0755) == 0 && write_file(src, "f") == 0);
        CHECK_INTEQ(mount_list(t, &m, 1, &e), 0);
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        CHECK_INTEQ(owner_of(t, "f"), 100000);
        CHECK_INTEQ(owner_of(src, "f"), 0);
        CHECK_INTEQ(count_mounts(t), 2);
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        CHECK_INTEQ(count_mounts(t), 0);
        ps_err_free(e);
}

/* What a remapped mount refuses, before anything is mounted. */
static void test_idmapped_refused(void)
{
        _cleanup_free_ char *src = path_of("idr-src"), *t = path_of("idr-rootfs");
        static char *const bad[][4] = {
            {"rbind", "uidmap=0:100000:65536", NULL},                    /* no gidmap */
            {"rbind", "gidmap=0:100000:65536", NULL},                    /* no uidmap */
            {"uidmap=0:100000", "gidmap=0:100000:65536", "rbind", NULL}, /* two numbers */
            {"uidmap=0:100000:0", "gidmap=0:100000:1", "rbind", NULL},   /* size 0 */
            {"uidmap=0:1:1", "uidmap=0:1:1", "gidmap=0:1:1", NULL},      /* twice */
        };
        struct ps_err *e = NULL;

        CHECK(mkdir(src, 0755) == 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct ps_mount m = mk("bind", src, (char **)bad[i]);
                CHECK_INTEQ(mount_list(t, &m, 1, &e), -1);
                CHECK(e && e->code == PS_INVALID_ARGUMENT);
                CHECK_INTEQ(count_mounts(t), 0);
                e = ps_err_free(e);
        }
        /* an overlay's layers need a common parent below / */
        char *ov[] = {"lowerdir=/tmp", "upperdir=/x",  "workdir=/y",
                      "uidmap=0:1:1",  "gidmap=0:1:1", NULL};
        struct ps_mount m = mk("overlay", "overlay", ov);
        CHECK_INTEQ(mount_list(t, &m, 1, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "common parent"));
        ps_err_free(e);
}

static void test_unmount_nested(void)
{
        _cleanup_free_ char *t = path_of("nest"), *a = path_of("nest/a"), *b = path_of("nest/a/b");
        char *opts[] = {"size=1m", NULL};
        struct ps_mount m[2] = {mk("tmpfs", "tmpfs", opts), mk("tmpfs", "tmpfs", opts)};
        struct ps_err *e = NULL;

        /* two tmpfs stacked on the target, then two more nested below */
        CHECK_INTEQ(mount_list(t, m, 2, &e), 0);
        CHECK(mkdir(a, 0755) == 0);
        CHECK(mount("tmpfs", a, "tmpfs", 0, "size=1m") == 0);
        CHECK(mkdir(b, 0755) == 0);
        CHECK(mount("tmpfs", b, "tmpfs", 0, "size=1m") == 0);
        CHECK_INTEQ(count_mounts(t), 4);
        /* a busy mount below is detached rather than failing the teardown */
        _cleanup_close_ int busy = open(b, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(busy >= 0);
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        CHECK_INTEQ(count_mounts(t), 0);
        ps_err_free(e);
}

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A rootfs kept busy (an open fd inside it, and a child whose cwd is in it)
 * is torn down at once, without waiting for the holders: the unmount runs
 * on the event loop. The mount leaves the namespace; the holders keep the
 * detached file system until they let go. */
static void test_unmount_busy_is_immediate(void)
{
        char t[80], held[96]; /* not on the heap: the forked child would leak it */
        char *opts[] = {"size=1m", NULL};
        struct ps_mount m = mk("tmpfs", "tmpfs", opts);
        struct ps_err *e = NULL;
        int go[2], ready[2], status = 0;
        double t0, ms;
        pid_t child;
        char c = 0;

        snprintf(t, sizeof(t), "%s/busy", tmpdir);
        snprintf(held, sizeof(held), "%s/busy/held", tmpdir);
        CHECK_INTEQ(mount_list(t, &m, 1, &e), 0);
        CHECK(write_file(t, "held") == 0);
        _cleanup_close_ int fd = open(held, O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK(pipe2(go, O_CLOEXEC) == 0 && pipe2(ready, O_CLOEXEC) == 0);
        child = fork();
        if (child == 0) {
                char b;
                close(go[1]);
                if (chdir(t) < 0 || write(ready[1], "r", 1) != 1)
                        _exit(1);
                _exit(read(go[0], &b, 1) >= 0 ? 0 : 1); /* parked in the mount */
        }
        CHECK(child > 0);
        close(go[0]);
        close(ready[1]);
        CHECK(read(ready[0], &c, 1) == 1 && c == 'r');
        close(ready[0]);
        /* Precondition: the kernel does refuse a plain unmount. */
        errno = 0;
        CHECK(umount2(t, UMOUNT_NOFOLLOW) < 0 && errno == EBUSY);

        t0 = now_ms();
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        ms = now_ms() - t0;
        fprintf(stderr, "  busy rootfs unmounted in %.3f ms\n", ms);
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        CHECK(ms < 50.0); /* generous: the syscalls take microseconds */
        CHECK_INTEQ(count_mounts(t), 0);
        CHECK(!file_exists(t, "held"));
        /* The holder still reads the detached file system. */
        struct stat st;
        CHECK(fstat(fd, &st) == 0 && st.st_nlink == 1);

        close(go[1]);
        CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ps_err_free(e);
}

static void test_bad_options(void)
{
        _cleanup_free_ char *t = path_of("bad"), *huge = malloc(5000);
        char *opts[] = {NULL, NULL};
        char *fs_opts[] = {"size=1m", NULL};
        struct ps_mount m;
        struct ps_mount two[2] = {mk("tmpfs", "tmpfs", fs_opts), mk("nosuchfs", "none", NULL)};
        struct ps_err *e = NULL;

        memset(huge, 'x', 4999);
        huge[4999] = '\0';
        memcpy(huge, "opt=", 4);
        opts[0] = huge;
        m = mk("tmpfs", "tmpfs", opts);
        CHECK_INTEQ(mount_list(t, &m, 1, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "too long"));
        CHECK_INTEQ(count_mounts(t), 0);
        e = ps_err_free(e);

        /* the second entry fails: the first is unmounted again */
        CHECK_INTEQ(mount_list(t, two, 2, &e), -1);
        CHECK(e != NULL);
        CHECK_INTEQ(count_mounts(t), 0);
        ps_err_free(e);
}

static void test_propagation(void)
{
        _cleanup_free_ char *t = path_of("prop"), *buf = NULL;
        char *opts[] = {"size=1m", "shared", NULL};
        struct ps_mount m = mk("tmpfs", "tmpfs", opts);
        struct ps_err *e = NULL;
        char *line;

        CHECK_INTEQ(mount_list(t, &m, 1, &e), 0);
        CHECK_INTEQ(ps_read_file("/proc/self/mountinfo", 16u << 20, &buf, NULL, NULL), 0);
        line = buf ? strstr(buf, t) : NULL;
        CHECK(line != NULL);
        if (line) {
                char *eol = strchr(line, '\n');
                if (eol)
                        *eol = '\0';
                CHECK(strstr(line, " shared:") != NULL);
                /* "shared" is a flag, never passed to tmpfs as data */
                CHECK(strstr(line, "shared,") == NULL);
        }
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        ps_err_free(e);
}

static int run(char *const argv[])
{
        int status = 0;
        pid_t pid = fork();

        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(null, 1);
                dup2(null, 2);
                execvp(argv[0], argv);
                _exit(127);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_loop(void)
{
        _cleanup_free_ char *img = path_of("disk.img"), *t = path_of("loop-rootfs");
        char *mkfs[] = {"mkfs.ext4", "-q", "-F", img, NULL};
        char *opts[] = {"loop", "rw", NULL};
        struct ps_mount m = mk("ext4", img, opts);
        struct ps_err *e = NULL;
        double t0;
        _cleanup_close_ int fd = open(img, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

        CHECK(fd >= 0 && ftruncate(fd, 8 << 20) == 0);
        if (run(mkfs) != 0) {
                fprintf(stderr, "  mkfs.ext4 unavailable: loop test skipped\n");
                return;
        }
        t0 = now_ms();
        CHECK_INTEQ(mount_list(t, &m, 1, &e), 0);
        fprintf(stderr, "  loop-backed ext4 mounted in %.3f ms\n", now_ms() - t0);
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        CHECK(file_exists(t, "lost+found"));
        CHECK(write_file(t, "hello") == 0);
        t0 = now_ms();
        CHECK_INTEQ(ps_unmount_all(t, &e), 0);
        fprintf(stderr, "  and unmounted in %.3f ms\n", now_ms() - t0);
        CHECK_INTEQ(count_mounts(t), 0);
        ps_err_free(e);
}

/* A loop source that is a FIFO is refused at once: a read-only open of it
 * would wait for a writer. SIGALRM ends the test if it hangs. */
static void test_loop_fifo_source(void)
{
        _cleanup_free_ char *fifo = path_of("fifo.img"), *t = path_of("fifo-rootfs");
        char *opts[] = {"loop", "ro", NULL};
        struct ps_mount m = mk("ext4", fifo, opts);
        struct ps_err *e = NULL;

        CHECK(mkfifo(fifo, 0600) == 0);
        alarm(10);
        CHECK_INTEQ(mount_list(t, &m, 1, &e), -1);
        alarm(0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        CHECK_INTEQ(count_mounts(t), 0);
        ps_err_free(e);
}

#define LOOP_RACERS 6

/* Several processes mount loop images at the same moment, as the shims of
 * pods starting together do: they race for the same free loop device, and
 * every loser must move on to another device at once. All of them get
 * their mount. */
static void test_loop_race(void)
{
        char img[LOOP_RACERS][96], t[LOOP_RACERS][96];
        pid_t pids[LOOP_RACERS];
        int go[2];

        for (int i = 0; i < LOOP_RACERS; i++) {
                snprintf(img[i], sizeof(img[i]), "%s/race%d.img", tmpdir, i);
                snprintf(t[i], sizeof(t[i]), "%s/race%d", tmpdir, i);
                _cleanup_close_ int fd = open(img[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                char *mkfs[] = {"mkfs.ext4", "-q", "-F", img[i], NULL};
                CHECK(fd >= 0 && ftruncate(fd, 8 << 20) == 0);
                if (run(mkfs) != 0) {
                        fprintf(stderr, "  mkfs.ext4 unavailable: loop race test skipped\n");
                        return;
                }
        }
        CHECK(pipe2(go, O_CLOEXEC) == 0);
        for (int i = 0; i < LOOP_RACERS; i++) {
                pids[i] = fork();
                if (pids[i] == 0) {
                        char *opts[] = {"loop", "rw", NULL};
                        struct ps_mount m = mk("ext4", img[i], opts);
                        struct ps_err *e = NULL;
                        char b;
                        close(go[1]);
                        if (read(go[0], &b, 1) != 0) /* all start together */
                                _exit(3);
                        if (mount_list(t[i], &m, 1, &e) < 0) {
                                fprintf(stderr, "  racer %d: %s\n", i, ps_err_msg(e));
                                _exit(1);
                        }
                        _exit(0);
                }
                CHECK(pids[i] > 0);
        }
        close(go[0]);
        close(go[1]);
        for (int i = 0; i < LOOP_RACERS; i++) {
                int status = 0;
                CHECK(waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) &&
                      WEXITSTATUS(status) == 0);
                CHECK(file_exists(t[i], "lost+found"));
                CHECK_INTEQ(ps_unmount_all(t[i], NULL), 0);
                CHECK_INTEQ(count_mounts(t[i]), 0);
        }
}

static void rm_rf(const char *dir)
{
        char *const argv[] = {"rm", "-rf", (char *)dir, NULL};

        run(argv);
}

int main(void)
{
        if (geteuid() != 0) {
                fprintf(stderr, "test_mount needs root\n");
                return 77;
        }
        /* Private mount namespace: nothing mounted here reaches the host. */
        if (unshare(CLONE_NEWNS) < 0 || mount("", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                perror("unshare");
                return 2;
        }
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_mount.XXXXXX");
        if (!mkdtemp(tmpdir))
                return 2;
        RUN(test_tmpfs);
        RUN(test_bind_ro);
        RUN(test_overlay);
        RUN(test_overlay_long_lowerdir);
        RUN(test_overlay_idmapped);
        RUN(test_bind_idmapped);
        RUN(test_idmapped_refused);
        RUN(test_unmount_nested);
        RUN(test_unmount_busy_is_immediate);
        RUN(test_bad_options);
        RUN(test_propagation);
        RUN(test_loop);
        RUN(test_loop_race);
        RUN(test_loop_fifo_source);
        ps_unmount_all(tmpdir, NULL);
        rm_rf(tmpdir);
        return check_summary();
}
