/* The pod cgroup against real cgroups (needs root): create under a unique
 * test parent in every hierarchy, attach a forked child, set resources,
 * refuse removal while it lives, remove exactly what was created. Every test
 * tears down what it made, also after a failed check.
 *
 * Hybrid hosts: whatever the unified hierarchy holds (the boot state of
 * some hosts leaves hugetlb there, scripts/prepare-host.sh moves it to v1)
 * and whatever an earlier run left enabled in it, the checks only compare
 * it with what it was before the test. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#include "base/cleanup.h"
#include "base/error.h"
#include "base/fs.h"
#include "cgroup/paths.h"
#include "cgroup/pod.h"

#include <libcgroup.h>

#define CG_ROOT     "/sys/fs/cgroup"
#define UNIFIED     CG_ROOT "/unified"
#define NO_SUCH_PID 0x7ffffff0 /* above any pid_max */

static char top[64]; /* "podshim-podcg-<pid>": the unique test parent */

/* --- helpers */

static bool exists(const char *hier, const char *rel)
{
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s%s", CG_ROOT, hier, rel);
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool make(const char *hier, const char *rel)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s%s", CG_ROOT, hier, rel);
        return mkdir(path, 0755) == 0;
}

static char *read_cg(const char *hier, const char *rel, const char *file)
{
        char path[4096];
        char *buf = NULL;
        struct ps_err *e = NULL;

        snprintf(path, sizeof(path), "%s/%s%s/%s", CG_ROOT, hier, rel, file);
        if (ps_read_file(path, 65536, &buf, NULL, &e) < 0) {
                ps_err_free(e);
                return NULL;
        }
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

/* rmdir -r for cgroup trees (interface files go with their directory). */
static void rmtree(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char sub[4096];

                if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
                rmtree(sub);
        }
        closedir(d);
        for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
                usleep(10000);
}

/* Removes `name` (a top-level test cgroup) from every hierarchy. */
static void cleanup_top(const char *name)
{
        DIR *d = opendir(CG_ROOT);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char path[4096];

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s/%s", CG_ROOT, de->d_name, name);
                rmtree(path);
        }
        closedir(d);
}

static pid_t child_start(void)
{
        pid_t pid = fork();

        if (pid == 0) {
                /* Never outlive the test, nor hold its output open. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(STDOUT_FILENO);
                close(STDERR_FILENO);
                for (;;)
                        pause();
        }
        return pid;
}

static void child_stop(pid_t *pid)
{
        if (*pid <= 0)
                return;
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        *pid = -1;
}

/* The path of `pid` in the hierarchy whose /proc/<pid>/cgroup controller
 * field is `ctrls` ("memory", "" for cgroup2). */
static char *proc_cgroup(pid_t pid, const char *ctrls)
{
        char path[64], *buf = NULL, *save = NULL, *ret = NULL;
        struct ps_err *e = NULL;

        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        if (ps_read_file(path, 65536, &buf, NULL, &e) < 0) {
                ps_err_free(e);
                return NULL;
        }
        for (char *l = strtok_r(buf, "\n", &save); l && !ret; l = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

                if (!c2)
                        continue;
                *c2 = '\0';
                if (strcmp(c1 + 1, ctrls) == 0)
                        ret = strdup(c2 + 1);
        }
        free(buf);
        return ret;
}

static long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int code_of(struct ps_err **e)
{
        int code = *e ? (int)(*e)->code : PS_OK;

        *e = ps_err_free(*e);
        return code;
}

/* ps_pod_cgroup_remove until it is no longer busy (a cgroup stays busy for
 * a moment after its last process left), for at most 2 s. */
static int remove_settled(struct ps_pod_cgroup *cg, struct ps_err **e)
{
        long t0 = now_ms();
        int r;

        while ((r = ps_pod_cgroup_remove(cg, e)) == PS_POD_CGROUP_BUSY && now_ms() - t0 < 2000)
                usleep(1000);
        return r;
}

static bool word_listed(const char *list, const char *word)
{
        size_t n = strlen(word);

        for (const char *p = list; p && *p;) {
                if (strncmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
                        return true;
                p = strchr(p, ' ');
                p = p ? p + 1 : NULL;
        }
        return false;
}

static bool unified_mounted(void)
{
        return access(UNIFIED "/cgroup.procs", F_OK) == 0;
}

/* True if cgroup.subtree_control of `rel` in the unified hierarchy is
 * empty; reports it otherwise. */
static bool unified_nothing_enabled(const char *rel)
{
        char *v = read_cg("unified", rel, "cgroup.subtree_control");
        bool ok = v && v[0] == '\0';

        if (!ok)
                fprintf(stderr, "  unified%s/cgroup.subtree_control: '%s'\n", rel,
                        v ? v : "(none)");
        free(v);
        return ok;
}

/* --- path expansion */

static void expect_path(const char *in, bool systemd, const char *want)
{
        _cleanup_err_ struct ps_err *e = NULL;
        char *out = NULL;

        CHECK(ps_pod_cgroup_expand_path(in, systemd, &out, &e) == 0);
        if (e)
                fprintf(stderr, "  %s: %s\n", in, ps_err_msg(e));
        CHECK_STREQ(out, want);
        free(out);
}

static void expect_bad(const char *in, bool systemd)
{
        struct ps_err *e = NULL;
        char *out = NULL;

        CHECK(ps_pod_cgroup_expand_path(in, systemd, &out, &e) < 0);
        CHECK(out == NULL);
        if (code_of(&e) != PS_INVALID_ARGUMENT) {
                fprintf(stderr, "  '%s' (systemd=%d) not rejected as INVALID_ARGUMENT\n",
                        in ? in : "(null)", systemd);
                CHECK(false);
        }
}

static void test_expand_cgroupfs(void)
{
        expect_path("/kubepods/burstable/pod123/abc", false, "/kubepods/burstable/pod123/abc");
        expect_path("k8s.io/abc", false, "/k8s.io/abc");
        expect_path("//a//b/", false, "/a/b");
        expect_path("/a/..b/c.", false, "/a/..b/c.");
        expect_bad("", false);
        expect_bad("/", false);
        expect_bad("///", false);
        expect_bad("../x", false);
        expect_bad("/a/../b", false);
        expect_bad("./a", false);
        expect_bad("/a/.", false);
        expect_bad("/a\nb", false);
        expect_bad(NULL, false);
}

static void test_expand_systemd(void)
{
        expect_path("kubepods-burstable-pod123.slice:cri-containerd:abc", true,
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice/"
                    "cri-containerd-abc.scope");
        expect_path("kubepods.slice:cri-containerd:abc", true,
                    "/kubepods.slice/cri-containerd-abc.scope");
        expect_path("-.slice:p:n", true, "/p-n.scope");
        expect_path(":p:n", true, "/system.slice/p-n.scope");
        expect_path("a.slice::n", true, "/a.slice/n.scope");
        expect_path("x.slice:p:a-b.slice", true, "/a.slice/a-b.slice");
        expect_bad("", true);
        expect_bad("/kubepods/abc", true);
        expect_bad("a.slice:p", true);
        expect_bad("a.slice:p:n:x", true);
        expect_bad("a.slice:p:", true);
        expect_bad("notaslice:p:n", true);
        expect_bad(".slice:p:n", true);
        expect_bad("-a.slice:p:n", true);
        expect_bad("a-.slice:p:n", true);
        expect_bad("a--b.slice:p:n", true);
        expect_bad("a/b.slice:p:n", true);
        expect_bad("a.slice:p/q:n", true);
        expect_bad("a.slice:p:../n", true);
        expect_bad("a.slice:p:-.slice", true); /* the root */
}

static void test_shares_to_weight(void)
{
        CHECK_INTEQ(ps_pod_cgroup_shares_to_weight(0), 0);
        CHECK_INTEQ(ps_pod_cgroup_shares_to_weight(1), 1);
        CHECK_INTEQ(ps_pod_cgroup_shares_to_weight(2), 1);
        CHECK_INTEQ(ps_pod_cgroup_shares_to_weight(1024), 39);
        CHECK_INTEQ(ps_pod_cgroup_shares_to_weight(262144), 10000);
        CHECK_INTEQ(ps_pod_cgroup_shares_to_weight(1ULL << 40), 10000);
}

static void test_bad_create(void)
{
        struct ps_err *e = NULL;

        CHECK(ps_pod_cgroup_create("../x", false, &e) == NULL);
        CHECK_INTEQ(code_of(&e), PS_INVALID_ARGUMENT);
        CHECK(ps_pod_cgroup_create("", false, &e) == NULL);
        CHECK_INTEQ(code_of(&e), PS_INVALID_ARGUMENT);
        CHECK(ps_pod_cgroup_create("/kubepods/x", true, &e) == NULL);
        CHECK_INTEQ(code_of(&e), PS_INVALID_ARGUMENT);
}

/* --- real cgroups, v1 hierarchies */

static void check_resources(void)
{
        char rel[256];
        char *v;

        snprintf(rel, sizeof(rel), "/%s/kubepods/pod1/sb", top);
        v = read_cg("cpu", rel, "cpu.shares");
        CHECK_STREQ(v, "2");
        free(v);
        v = read_cg("cpu", rel, "cpu.cfs_period_us");
        CHECK_STREQ(v, "100000");
        free(v);
        v = read_cg("cpu", rel, "cpu.cfs_quota_us");
        CHECK_STREQ(v, "50000");
        free(v);
        v = read_cg("memory", rel, "memory.limit_in_bytes");
        CHECK_STREQ(v, "67108864");
        free(v);
}

static void check_membership(pid_t pid, const char *want)
{
        static const char *const ctrls[] = {"memory", "cpu", "pids", "cpuset"};

        for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++) {
                char *got = proc_cgroup(pid, ctrls[i]);

                CHECK_STREQ(got, want);
                free(got);
        }
}

/* The kubelet-made parent: `top` exists in memory and cpu beforehand, not in
 * pids; remove keeps the former and deletes the latter. */
static void test_v1_lifecycle(void)
{
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *cg = NULL;
        struct ps_err *e = NULL;
        char path[256], want[300], rel[256];
        pid_t pid = -1;
        long t0;

        snprintf(rel, sizeof(rel), "/%s", top);
        CHECK(make("memory", rel));
        CHECK(make("cpu", rel));
        snprintf(path, sizeof(path), "%s/kubepods/pod1/sb", top); /* relative form */
        snprintf(want, sizeof(want), "/%s", path);
        cg = ps_pod_cgroup_create(path, false, &e);
        CHECK(cg != NULL);
        if (!cg) {
                fprintf(stderr, "  create: %s\n", ps_err_msg(e));
                goto out;
        }
        CHECK_STREQ(ps_pod_cgroup_path(cg), want);
        CHECK(exists("pids", want) && exists("cpuacct", want) && exists("cpuset", want));
        CHECK(!exists("systemd", want));
        /* cgroup2 beside v1: membership only (test_hybrid_unified) */
        CHECK(exists("unified", want) == unified_mounted());

        pid = child_start();
        CHECK(pid > 0);
        CHECK(ps_pod_cgroup_attach(cg, pid, &e) == 0);
        CHECK(e == NULL);
        check_membership(pid, want);
        CHECK(ps_pod_cgroup_attach(cg, NO_SUCH_PID, &e) < 0);
        CHECK_INTEQ(code_of(&e), PS_NOT_FOUND);

        CHECK(ps_pod_cgroup_set_resources(cg, 2, 50000, 100000, 64 << 20, &e) == 0);
        CHECK(e == NULL);
        check_resources();
        CHECK(ps_pod_cgroup_set_resources(cg, 0, 0, 0, 0, &e) == 0);
        /* the kernel's EINVAL (quota below 1 ms) comes back through libcgroup */
        CHECK(ps_pod_cgroup_set_resources(cg, 0, 1, 0, 0, &e) < 0);
        CHECK_INTEQ(code_of(&e), PS_INVALID_ARGUMENT);

        t0 = now_ms();
        CHECK(ps_pod_cgroup_remove(cg, &e) < 0);
        CHECK_INTEQ(code_of(&e), PS_FAILED_PRECONDITION);
        CHECK(now_ms() - t0 < 25); /* refused up front, no EBUSY retries */
        CHECK(exists("memory", want) && exists("pids", want)); /* nothing removed */

        child_stop(&pid);
        CHECK(remove_settled(cg, &e) == 0);
        if (e)
                fprintf(stderr, "  remove: %s\n", ps_err_msg(e));
        CHECK(!exists("memory", want) && !exists("pids", want) && !exists("cpuset", want));
        CHECK(!exists("unified", want));
        snprintf(path, sizeof(path), "/%s/kubepods", top);
        CHECK(!exists("memory", path) && !exists("cpu", path));
        CHECK(exists("memory", rel) && exists("cpu", rel)); /* existed before */
        CHECK(!exists("pids", rel) && !exists("cpuacct", rel));
        CHECK(ps_pod_cgroup_remove(cg, &e) == 0); /* idempotent */
        CHECK(e == NULL);
out:
        ps_err_free(e);
        child_stop(&pid);
        cleanup_top(top);
}

/* The systemd driver's names for this test: the slice at the top, the
 * cgroupsPath spec, and the path it expands to. */
static void systemd_names(char slice[64], char spec[128], char want[256])
{
        snprintf(slice, 64, "podshimcg%d.slice", (int)getpid());
        snprintf(spec, 128, "podshimcg%d-pod1.slice:podcg:sb", (int)getpid());
        snprintf(want, 256, "/podshimcg%d.slice/podshimcg%d-pod1.slice/podcg-sb.scope",
                 (int)getpid(), (int)getpid());
}

static void test_systemd_create(void)
{
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *cg = NULL;
        struct ps_err *e = NULL;
        char spec[128], want[256], slice[64];

        systemd_names(slice, spec, want);
        cg = ps_pod_cgroup_create(spec, true, &e);
        CHECK(cg != NULL);
        if (!cg) {
                fprintf(stderr, "  create: %s\n", ps_err_msg(e));
                goto out;
        }
        CHECK_STREQ(ps_pod_cgroup_path(cg), want);
        CHECK(exists("memory", want) && exists("cpu", want));
        CHECK(ps_pod_cgroup_remove(cg, &e) == 0);
        CHECK(!exists("memory", want));
        snprintf(want, sizeof(want), "/%s", slice);
        CHECK(!exists("memory", want) && !exists("cpu", want)); /* we made the slices */
out:
        ps_err_free(e);
        cleanup_top(slice);
}

/* Others' cgroups: a child of our leaf blocks removal; a sibling of our leaf
 * inside a parent we made keeps that parent alive. */
static void test_foreign_children(void)
{
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *cg = NULL;
        struct ps_err *e = NULL;
        char path[256], other[256], intruder[256], parent[256];

        snprintf(path, sizeof(path), "/%s/pod2/sb", top);
        snprintf(other, sizeof(other), "/%s/pod2/ctr", top);
        snprintf(intruder, sizeof(intruder), "/%s/pod2/sb/x", top);
        snprintf(parent, sizeof(parent), "/%s/pod2", top);
        cg = ps_pod_cgroup_create(path, false, &e);
        CHECK(cg != NULL);
        if (!cg)
                goto out;
        CHECK(make("memory", intruder));
        CHECK(ps_pod_cgroup_remove(cg, &e) < 0);
        CHECK_INTEQ(code_of(&e), PS_FAILED_PRECONDITION);
        CHECK(exists("memory", path) && exists("pids", path));
        snprintf(intruder, sizeof(intruder), "%s/memory/%s/pod2/sb/x", CG_ROOT, top);
        CHECK(rmdir(intruder) == 0);
        CHECK(make("memory", other));
        CHECK(ps_pod_cgroup_remove(cg, &e) == 0);
        CHECK(!exists("memory", path) && !exists("pids", path));
        CHECK(exists("memory", other));  /* not ours */
        CHECK(exists("memory", parent)); /* ours, but in use */
        CHECK(!exists("pids", parent));
out:
        ps_err_free(e);
        cleanup_top(top);
}

/* A component that is an interface file in one hierarchy fails the create
 * after others were made: all of it is undone. */
static void test_create_rollback(void)
{
        struct ps_pod_cgroup *cg;
        struct ps_err *e = NULL;
        char path[256], rel[256];

        snprintf(rel, sizeof(rel), "/%s", top);
        snprintf(path, sizeof(path), "/%s/memory.limit_in_bytes/x", top);
        CHECK(make("memory", rel));
        cg = ps_pod_cgroup_create(path, false, &e);
        CHECK(cg == NULL);
        CHECK_INTEQ(code_of(&e), PS_INVALID_ARGUMENT);
        CHECK(!exists("cpu", rel) && !exists("pids", rel));
        CHECK(exists("memory", rel));
        ps_pod_cgroup_free(cg);
        cleanup_top(top);
}

/* --- the unified hierarchy of this hybrid host: membership only */

/* Whatever the unified hierarchy holds, create writes no
 * cgroup.subtree_control in it (neither the root's nor that of any
 * directory on the path) and sets no resource there; the process is a
 * member of the cgroup there, as runc makes it; remove takes the
 * directories it made away and keeps the kubelet-made parent. */
/* A pod made again on the path of one whose removal is pending: without
 * taking over, the new handle (which found every directory there) would
 * leave the parents the old one made; with ps_pod_cgroup_inherit its
 * removal takes them too. A handle on another path changes nothing. */
static void test_inherit(void)
{
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *old = NULL, *cg = NULL, *other = NULL;
        struct ps_err *e = NULL;
        char path[256], parent[256], elsewhere[256];

        snprintf(path, sizeof(path), "/%s/kubepods/pod2/sb", top);
        snprintf(parent, sizeof(parent), "/%s/kubepods", top);
        snprintf(elsewhere, sizeof(elsewhere), "/%s/kubepods/pod2/sb2", top);
        /* without: the parents stay */
        old = ps_pod_cgroup_create(path, false, &e);
        cg = ps_pod_cgroup_create(path, false, &e);
        CHECK(old && cg);
        CHECK(cg && remove_settled(cg, &e) == 0);
        CHECK(!exists("memory", path) && exists("memory", parent));
        cg = ps_pod_cgroup_free(cg);
        CHECK(old && remove_settled(old, &e) == 0); /* the old one's own removal */
        CHECK(!exists("memory", parent) && !exists("pids", parent));
        old = ps_pod_cgroup_free(old);

        /* with: the new handle removes everything */
        old = ps_pod_cgroup_create(path, false, &e);
        cg = ps_pod_cgroup_create(path, false, &e);
        other = ps_pod_cgroup_create(elsewhere, false, &e);
        CHECK(old && cg && other);
        if (old && cg && other) {
                ps_pod_cgroup_inherit(other, old); /* another path: nothing */
                ps_pod_cgroup_inherit(cg, old);
                old = ps_pod_cgroup_free(old);
                CHECK(remove_settled(other, &e) == 0);
                CHECK(!exists("memory", elsewhere) && exists("memory", path));
                CHECK(remove_settled(cg, &e) == 0);
                CHECK(!exists("memory", path) && !exists("memory", parent) &&
                      !exists("pids", parent) && !exists("cpuset", parent));
        }
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        ps_err_free(e);
        cleanup_top(top);
}

static void test_hybrid_unified(void)
{
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *cg = NULL;
        struct ps_err *e = NULL;
        char path[256], mid[256], rel[256];
        char *before = read_cg("unified", "", "cgroup.subtree_control"), *after, *got;
        pid_t pid = -1;

        snprintf(path, sizeof(path), "/%s/pod3/sb", top);
        snprintf(mid, sizeof(mid), "/%s/pod3", top);
        snprintf(rel, sizeof(rel), "/%s", top);
        CHECK(before != NULL);
        CHECK(make("unified", rel));
        cg = ps_pod_cgroup_create(path, false, &e);
        CHECK(cg != NULL);
        if (!cg) {
                fprintf(stderr, "  create: %s\n", ps_err_msg(e));
                goto out;
        }
        CHECK(exists("unified", path) && exists("memory", path));
        CHECK(unified_nothing_enabled(rel) && unified_nothing_enabled(mid) &&
              unified_nothing_enabled(path));
        pid = child_start();
        CHECK(ps_pod_cgroup_attach(cg, pid, &e) == 0);
        got = proc_cgroup(pid, "");
        CHECK_STREQ(got, path);
        free(got);
        CHECK(ps_pod_cgroup_set_resources(cg, 2, 50000, 100000, 64 << 20, &e) == 0);
        CHECK(e == NULL);
        after = read_cg("unified", "", "cgroup.subtree_control");
        CHECK_STREQ(after, before);
        free(after);
        CHECK(ps_pod_cgroup_remove(cg, &e) < 0);
        CHECK_INTEQ(code_of(&e), PS_FAILED_PRECONDITION);
        CHECK(exists("unified", path));
        child_stop(&pid);
        CHECK(remove_settled(cg, &e) == 0);
        if (e)
                fprintf(stderr, "  remove: %s\n", ps_err_msg(e));
        CHECK(!exists("unified", path) && !exists("unified", mid));
        CHECK(exists("unified", rel));
        CHECK(unified_nothing_enabled(rel));
        after = read_cg("unified", "", "cgroup.subtree_control");
        CHECK_STREQ(after, before);
        free(after);
        CHECK(ps_pod_cgroup_remove(cg, &e) == 0);
out:
        free(before);
        ps_err_free(e);
        child_stop(&pid);
        cleanup_top(top);
}

/* --- remove never sleeps */

static bool write_cg(const char *hier, const char *rel, const char *file, const char *val)
{
        char path[4096];
        int fd;
        bool ok;

        snprintf(path, sizeof(path), "%s/%s%s/%s", CG_ROOT, hier, rel, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
        close(fd);
        return ok;
}

/* A cgroup the kernel keeps busy: a process in a parent that create made
 * (in `hier`; "" is a v2-only host's tree, whose parent first drops the
 * controllers it enabled, as a v2 cgroup with controllers for its children
 * takes no process). remove takes what it can at once and answers BUSY
 * without waiting, as often as asked; once the process is gone a later
 * call finishes the job. */
static void remove_busy(const char *hier)
{
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *cg = NULL;
        struct ps_err *e = NULL;
        char path[256], parent[256], rel[256], buf[32];
        pid_t pid = -1;

        snprintf(path, sizeof(path), "/%s/pod5/sb", top);
        snprintf(parent, sizeof(parent), "/%s/pod5", top);
        snprintf(rel, sizeof(rel), "/%s", top);
        cg = ps_pod_cgroup_create(path, false, &e);
        CHECK(cg != NULL);
        if (!cg)
                goto out;
        if (hier[0] == '\0') {
                char *ctl = read_cg(hier, parent, "cgroup.subtree_control");

                for (char *save = NULL, *w = strtok_r(ctl, " ", &save); w;
                     w = strtok_r(NULL, " ", &save)) {
                        char op[64];

                        snprintf(op, sizeof(op), "-%s", w);
                        CHECK(write_cg(hier, parent, "cgroup.subtree_control", op));
                }
                free(ctl);
        }
        pid = child_start();
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        CHECK(write_cg(hier, parent, "cgroup.procs", buf));
        for (int i = 0; i < 2; i++) {
                long t0 = now_ms();

                CHECK_INTEQ(ps_pod_cgroup_remove(cg, &e), PS_POD_CGROUP_BUSY);
                CHECK(e == NULL);
                CHECK(now_ms() - t0 < 25); /* one attempt, no sleeping */
        }
        CHECK(!exists(hier, path) && exists(hier, parent));
        if (hier[0] != '\0')
                CHECK(!exists("pids", path) && !exists("pids", parent) && !exists("pids", rel));
        child_stop(&pid);
        CHECK(remove_settled(cg, &e) == 0);
        if (e)
                fprintf(stderr, "  remove: %s\n", ps_err_msg(e));
        CHECK(!exists(hier, parent) && !exists(hier, rel));
        CHECK(ps_pod_cgroup_remove(cg, &e) == 0);
out:
        ps_err_free(e);
        child_stop(&pid);
        cleanup_top(top);
}

static void test_remove_busy(void)
{
        remove_busy("memory");
}

static void test_v2_remove_busy(void)
{
        remove_busy("");
}

/* --- a cgroup v2-only host (scripts/cgroup-v2-vm.sh boots one) */

static void check_v2_value(const char *rel, const char *file, const char *want)
{
        char *v = read_cg("", rel, file);

        if (!v || strcmp(v, want) != 0)
                fprintf(stderr, "  %s/%s: '%s', want '%s'\n", rel, file, v ? v : "(none)", want);
        CHECK(v && strcmp(v, want) == 0);
        free(v);
}

/* True if every controller in the space-separated `list` is one the pod
 * cgroup uses, or in `also`; reports it otherwise. */
static bool only_pod_controllers(const char *what, const char *list, const char *also)
{
        static const char *const pod[] = {"cpu", "io", "memory", "pids", "hugetlb"};
        _cleanup_free_ char *copy = strdup(list ? list : "");
        bool ok = copy != NULL;

        for (char *save = NULL, *w = copy ? strtok_r(copy, " ", &save) : NULL; w;
             w = strtok_r(NULL, " ", &save)) {
                bool known = also && word_listed(also, w);

                for (size_t i = 0; i < sizeof(pod) / sizeof(pod[0]); i++)
                        known = known || strcmp(w, pod[i]) == 0;
                if (!known) {
                        fprintf(stderr, "  %s: '%s' enabled\n", what, w);
                        ok = false;
                }
        }
        return ok;
}

/* The whole life on the real v2 tree: every parent made enables the pod's
 * controllers for its children (a v2 child only has what its parent
 * delegates) and no other, the pod cgroup itself enables none, the root
 * gains none but the pod's, the values land in cpu.weight, cpu.max and
 * memory.max, and remove takes exactly what create made. */
static void test_v2_lifecycle(void)
{
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *cg = NULL;
        struct ps_err *e = NULL;
        char path[256], rel[256], weight[32];
        char *ctl, *got;
        pid_t pid = -1;
        char *root_before = read_cg("", "", "cgroup.subtree_control");

        snprintf(path, sizeof(path), "/%s/kubepods/pod1/sb", top);
        cg = ps_pod_cgroup_create(path, false, &e);
        CHECK(cg != NULL);
        if (!cg) {
                fprintf(stderr, "  create: %s\n", ps_err_msg(e));
                goto out;
        }
        CHECK_STREQ(ps_pod_cgroup_path(cg), path);
        CHECK(exists("", path));
        snprintf(rel, sizeof(rel), "/%s/kubepods/pod1", top);
        ctl = read_cg("", rel, "cgroup.subtree_control");
        CHECK(ctl && word_listed(ctl, "cpu") && word_listed(ctl, "memory") &&
              word_listed(ctl, "pids"));
        CHECK(only_pod_controllers(rel, ctl, NULL));
        free(ctl);
        snprintf(rel, sizeof(rel), "/%s", top);
        ctl = read_cg("", rel, "cgroup.subtree_control");
        CHECK(only_pod_controllers(rel, ctl, NULL));
        free(ctl);
        ctl = read_cg("", "", "cgroup.subtree_control");
        CHECK(only_pod_controllers("root", ctl, root_before));
        free(ctl);
        check_v2_value(path, "cgroup.subtree_control", "");

        pid = child_start();
        CHECK(ps_pod_cgroup_attach(cg, pid, &e) == 0);
        got = proc_cgroup(pid, "");
        CHECK_STREQ(got, path);
        free(got);
        CHECK(ps_pod_cgroup_attach(cg, NO_SUCH_PID, &e) < 0);
        CHECK_INTEQ(code_of(&e), PS_NOT_FOUND);

        CHECK(ps_pod_cgroup_set_resources(cg, 512, 50000, 100000, 64 << 20, &e) == 0);
        if (e)
                fprintf(stderr, "  set: %s\n", ps_err_msg(e));
        snprintf(weight, sizeof(weight), "%llu",
                 (unsigned long long)ps_pod_cgroup_shares_to_weight(512));
        check_v2_value(path, "cpu.weight", weight);
        check_v2_value(path, "cpu.max", "50000 100000");
        check_v2_value(path, "memory.max", "67108864");
        CHECK(ps_pod_cgroup_set_resources(cg, 0, -1, 100000, -1, &e) == 0);
        check_v2_value(path, "cpu.max", "max 100000");
        check_v2_value(path, "memory.max", "max");
        check_v2_value(path, "cpu.weight", weight); /* 0 leaves it */

        CHECK(ps_pod_cgroup_remove(cg, &e) < 0);
        CHECK_INTEQ(code_of(&e), PS_FAILED_PRECONDITION);
        CHECK(exists("", path));
        child_stop(&pid);
        CHECK(remove_settled(cg, &e) == 0);
        if (e)
                fprintf(stderr, "  remove: %s\n", ps_err_msg(e));
        snprintf(rel, sizeof(rel), "/%s", top);
        CHECK(!exists("", path) && !exists("", rel)); /* we made every level */
        CHECK(ps_pod_cgroup_remove(cg, &e) == 0);
out:
        free(root_before);
        ps_err_free(e);
        child_stop(&pid);
        cleanup_top(top);
}

/* The systemd driver's slice nesting on v2, and a kubelet-made parent that
 * remove keeps. */
static void test_v2_systemd_and_kept_parent(void)
{
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *cg = NULL;
        struct ps_err *e = NULL;
        char spec[128], want[256], slice[64], parent[80];

        systemd_names(slice, spec, want);
        snprintf(parent, sizeof(parent), "/%s", slice);
        CHECK(make("", parent)); /* the kubelet's, before us */
        cg = ps_pod_cgroup_create(spec, true, &e);
        CHECK(cg != NULL);
        if (!cg) {
                fprintf(stderr, "  create: %s\n", ps_err_msg(e));
                goto out;
        }
        CHECK_STREQ(ps_pod_cgroup_path(cg), want);
        CHECK(exists("", want));
        CHECK(ps_pod_cgroup_set_resources(cg, 2, 0, 0, 32 << 20, &e) == 0);
        check_v2_value(want, "memory.max", "33554432");
        check_v2_value(want, "cpu.weight", "1");
        CHECK(ps_pod_cgroup_remove(cg, &e) == 0);
        CHECK(!exists("", want));
        CHECK(exists("", parent)); /* not ours: kept */
out:
        ps_err_free(e);
        cleanup_top(slice);
}

/* A v2-only host: one cgroup2 mount at the root, no v1 hierarchy. */
static void test_v2_mounts_list(void)
{
        _cleanup_(ps_cgroup_mounts_freep) struct ps_cgroup_mounts *m = NULL;
        struct ps_err *e = NULL;

        CHECK(ps_cgroup_mounts_list(&m, &e) == 0);
        CHECK(m && m->n == 1);
        if (m && m->n == 1)
                CHECK(m->m[0].v2 && strcmp(m->m[0].dir, CG_ROOT) == 0);
        ps_err_free(e);
}

/* --- the mounted hierarchies, and no libcgroup in this module */

static const struct ps_cgroup_mount *find_mount(const struct ps_cgroup_mounts *m, const char *dir)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->m[i].dir, dir) == 0)
                        return &m->m[i];
        return NULL;
}

/* This host: v1 controllers each on its own mount, name=systemd, cgroup2
 * at unified. */
static void test_mounts_list(void)
{
        _cleanup_(ps_cgroup_mounts_freep) struct ps_cgroup_mounts *m = NULL;
        struct ps_err *e = NULL;
        const struct ps_cgroup_mount *mp;

        CHECK(ps_cgroup_mounts_list(&m, &e) == 0);
        CHECK(e == NULL);
        if (!m)
                goto out;
        mp = find_mount(m, CG_ROOT "/memory");
        CHECK(mp && !mp->v2 && strcmp(mp->ctrls, "memory") == 0);
        mp = find_mount(m, CG_ROOT "/pids");
        CHECK(mp && !mp->v2 && strcmp(mp->ctrls, "pids") == 0);
        CHECK(find_mount(m, CG_ROOT "/cpu") || find_mount(m, CG_ROOT "/cpu,cpuacct"));
        CHECK(find_mount(m, CG_ROOT "/systemd") == NULL); /* named only */
        CHECK(find_mount(m, CG_ROOT) == NULL);            /* the tmpfs */
        if (unified_mounted()) {
                mp = &m->m[m->n - 1];
                CHECK(mp->v2 && strcmp(mp->dir, UNIFIED) == 0 && strcmp(mp->ctrls, "") == 0);
        }
        for (size_t i = 0; i + 1 < m->n; i++)
                CHECK(!m->m[i].v2 && m->m[i].ctrls[0] != '\0');
out:
        ps_err_free(e);
}

/* A whole lifecycle, then libcgroup must still be uninitialised in this
 * process: the daemon never pays for libcgroup's mount tables. Also the
 * "unlimited" values (negative quota and limit). */
static void test_no_libcgroup(void)
{
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *cg = NULL;
        struct cgroup_mount_point mp;
        struct ps_err *e = NULL;
        struct cgroup *lcg;
        char path[256];
        void *it = NULL;
        char *v;
        pid_t pid = -1;

        snprintf(path, sizeof(path), "/%s/pod4/sb", top);
        cg = ps_pod_cgroup_create(path, false, &e);
        CHECK(cg != NULL);
        if (!cg)
                goto out;
        pid = child_start();
        CHECK(ps_pod_cgroup_attach(cg, pid, &e) == 0);
        CHECK(ps_pod_cgroup_set_resources(cg, 512, -1, 100000, -1, &e) == 0);
        CHECK(e == NULL);
        v = read_cg("cpu", path, "cpu.cfs_quota_us");
        CHECK_STREQ(v, "-1");
        free(v);
        v = read_cg("cpu", path, "cpu.shares");
        CHECK_STREQ(v, "512");
        free(v);
        v = read_cg("memory", path, "memory.limit_in_bytes");
        CHECK(v && strtoull(v, NULL, 10) >= (1ULL << 62)); /* unlimited, page-rounded */
        free(v);
        child_stop(&pid);
        CHECK(remove_settled(cg, &e) == 0);
        CHECK(!exists("memory", path));

        lcg = cgroup_new_cgroup("/");
        CHECK(lcg != NULL);
        CHECK_INTEQ(cgroup_get_cgroup(lcg), ECGROUPNOTINITIALIZED);
        cgroup_free(&lcg);
        memset(&mp, 0, sizeof(mp));
        CHECK_INTEQ(cgroup_get_controller_begin(&it, &mp), ECGROUPNOTINITIALIZED);
        free(it);
out:
        ps_err_free(e);
        child_stop(&pid);
        cleanup_top(top);
}

int main(void)
{
        snprintf(top, sizeof(top), "podshim-podcg-%d", (int)getpid());
        if (geteuid() == 0 && access(CG_ROOT "/cgroup.controllers", F_OK) == 0) {
                RUN(test_expand_cgroupfs);
                RUN(test_expand_systemd);
                RUN(test_shares_to_weight);
                RUN(test_bad_create);
                RUN(test_v2_lifecycle);
                RUN(test_v2_systemd_and_kept_parent);
                RUN(test_v2_remove_busy);
                RUN(test_v2_mounts_list);
                cleanup_top(top);
                return check_summary();
        }
        if (geteuid() != 0 || access(CG_ROOT "/memory/cgroup.procs", F_OK) < 0) {
                fprintf(stderr, "needs root and cgroup v1 memory at %s/memory\n", CG_ROOT);
                return 1;
        }
        RUN(test_expand_cgroupfs);
        RUN(test_expand_systemd);
        RUN(test_shares_to_weight);
        RUN(test_bad_create);
        RUN(test_v1_lifecycle);
        RUN(test_systemd_create);
        RUN(test_foreign_children);
        RUN(test_create_rollback);
        RUN(test_inherit);
        RUN(test_remove_busy);
        if (unified_mounted())
                RUN(test_hybrid_unified);
        RUN(test_mounts_list);
        RUN(test_no_libcgroup); /* last: it covers every test before it */
        cleanup_top(top);
        return check_summary();
}
