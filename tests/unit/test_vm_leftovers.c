/* What a VM pod's shim leaves when it dies (sandbox/vm/leftovers.h) and
 * the pid-file kill it relies on (base/orphan.h), against the real kernel
 * (needs root), in a mount namespace of its own: a "QEMU" (a child of the
 * test, so that its end can be checked) named by a pid file is killed and
 * seen gone; a process that started after its pid file was written (a
 * reused pid) is left alone; a dead pod's run directory, bundle share with
 * a member's bind and recorded cgroup, its QEMU in that cgroup, all go in
 * one clear, and a second clear finds nothing. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/orphan.h"
#include "cgroup/pod.h"
#include "cgroup/paths.h"
#include "cgroup/record.h"
#include "check.h"
#include "scratch.h"
#include "sandbox/vm/leftovers.h"
#include "sandbox/vm/vm.h"

static char tmpdir[64];

static char *path_of(const char *fmt, const char *a)
{
        char *p = NULL, *rel = NULL;

        if (asprintf(&rel, fmt, a) < 0 || asprintf(&p, "%s/%s", tmpdir, rel) < 0)
                abort();
        free(rel);
        return p;
}

static pid_t sleeper(void)
{
        pid_t pid = fork();

        if (pid == 0) {
                for (;;)
                        pause();
        }
        return pid;
}

static int write_pid(const char *path, pid_t pid)
{
        char buf[32];

        snprintf(buf, sizeof(buf), "%d", pid);
        return ps_write_file_atomic(path, buf, strlen(buf), 0600, NULL);
}

/* The child's end: 1 if SIGKILL ended it, 0 if it still runs (it is
 * killed and reaped then), -1 otherwise. */
static int killed(pid_t pid)
{
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                return 0;
        }
        return r == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 1 : -1;
}

static void test_orphan_kill(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        _cleanup_free_ char *file = path_of("%s", "orphan.pid");
        struct timespec old[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
        pid_t pid = sleeper(), got = 0;

        /* no file, nothing to do */
        CHECK_INTEQ(ps_orphan_kill(file, 0, &got, &err), 0);
        CHECK_INTEQ(got, 0);
        /* a pid file older than the process: a reused pid, left alone */
        CHECK_INTEQ(write_pid(file, pid), 0);
        CHECK_INTEQ(utimensat(AT_FDCWD, file, old, 0), 0);
        CHECK_INTEQ(ps_orphan_kill(file, 100, &got, &err), 0);
        CHECK_INTEQ(got, pid);
        CHECK(kill(pid, 0) == 0);
        /* written after it started: killed, and seen gone */
        CHECK_INTEQ(write_pid(file, pid), 0);
        CHECK_INTEQ(ps_orphan_kill(file, 2000, &got, &err), 1);
        CHECK(err == NULL);
        CHECK_INTEQ(killed(pid), 1);
        /* the pid is no process now; ourselves never */
        CHECK_INTEQ(ps_orphan_kill(file, 100, NULL, &err), 0);
        CHECK_INTEQ(write_pid(file, getpid()), 0);
        CHECK_INTEQ(ps_orphan_kill(file, 100, NULL, &err), 0);
        CHECK(err == NULL);
}

/* The pod cgroup's directories in any hierarchy. */
static int cgroup_dirs(const char *rel)
{
        _cleanup_(ps_cgroup_mounts_freep) struct ps_cgroup_mounts *m = NULL;
        int n = 0;

        if (ps_cgroup_mounts_list(&m, NULL) < 0)
                return -1;
        for (size_t i = 0; i < m->n; i++) {
                _cleanup_free_ char *d = NULL;

                if (asprintf(&d, "%s%s", m->m[i].dir, rel) >= 0 && access(d, F_OK) == 0)
                        n++;
        }
        return n;
}

static void test_dead_pod_cleared(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        _cleanup_free_ char *run = path_of("%s", "run"), *bundle = path_of("%s", "bundles/pod");
        _cleanup_free_ char *member = path_of("%s", "bundles/m1");
        _cleanup_free_ char *member_rootfs = path_of("%s", "bundles/m1/rootfs");
        _cleanup_free_ char *sock = NULL, *pidfile = NULL, *bind = NULL, *top = NULL;
        _cleanup_free_ char *leaf = NULL;
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *cg = NULL;
        struct ps_vm_paths p;
        pid_t qemu, got = 0;

        if (asprintf(&top, "/podshim-test-leftovers-%d", getpid()) < 0 ||
            asprintf(&leaf, "%s/pod", top) < 0 || ps_mkdir_p(run, 0700, NULL) < 0 ||
            ps_mkdir_p(bundle, 0700, NULL) < 0 || ps_mkdir_p(member_rootfs, 0700, NULL) < 0 ||
            mount("tmpfs", member_rootfs, "tmpfs", 0, NULL) < 0)
                abort();
        CHECK_INTEQ(ps_vm_paths_of(run, bundle, &p, &err), 0);
        /* nothing there yet: nothing to do */
        CHECK_INTEQ(ps_vm_leftovers_clear(run, bundle, 100, &got, &err), 0);
        CHECK_INTEQ(got, 0);

        /* what a shim that died leaves: QEMU in the pod cgroup, its run
         * directory with socket and pid file, the share with a member
         * bound in it, the cgroup's record */
        qemu = sleeper();
        cg = ps_pod_cgroup_create(leaf, false, &err);
        CHECK(cg != NULL);
        if (!cg) {
                killed(qemu);
                return;
        }
        CHECK_INTEQ(ps_pod_cgroup_attach(cg, qemu, &err), 0);
        CHECK_INTEQ(ps_cgroup_record_write(p.cgroup, ps_pod_cgroup_path(cg), &err), 0);
        if (asprintf(&sock, "%s/agent.sock", p.dir) < 0 ||
            asprintf(&pidfile, "%s/%s", p.dir, PS_VM_QEMU_PID) < 0 ||
            asprintf(&bind, "%s/m1", p.share) < 0)
                abort();
        CHECK_INTEQ(mkdir(p.dir, 0700), 0);
        CHECK_INTEQ(ps_write_file_atomic(sock, "", 0, 0600, NULL), 0);
        CHECK_INTEQ(write_pid(pidfile, qemu), 0);
        CHECK_INTEQ(ps_mkdir_p(bind, 0700, NULL), 0);
        CHECK_INTEQ(mount(p.share, p.share, "none", MS_BIND, NULL), 0);
        CHECK_INTEQ(mount(member, bind, "none", MS_BIND | MS_REC, NULL), 0);
        CHECK(cgroup_dirs(leaf) > 0);

        CHECK_INTEQ(ps_vm_leftovers_clear(run, bundle, 3000, &got, &err), 0);
        if (err)
                fprintf(stderr, "clear: %s\n", ps_err_msg(err));
        CHECK_INTEQ(got, qemu);
        CHECK_INTEQ(killed(qemu), 1);
        CHECK(access(p.dir, F_OK) < 0 && errno == ENOENT);
        CHECK(access(p.share, F_OK) < 0 && errno == ENOENT);
        CHECK(access(p.cgroup, F_OK) < 0 && errno == ENOENT);
        CHECK_INTEQ(cgroup_dirs(leaf), 0);
        /* the member's own bundle and rootfs are untouched */
        CHECK(access(member_rootfs, F_OK) == 0);
        /* and again: nothing left, nothing to do */
        CHECK_INTEQ(ps_vm_leftovers_clear(run, bundle, 100, &got, &err), 0);
        CHECK_INTEQ(got, 0);

        /* the test's own parent cgroup */
        ps_pod_cgroup_free(TAKE_PTR(cg));
        cg = ps_pod_cgroup_open(top, false, &err);
        if (cg)
                ps_pod_cgroup_remove(cg, NULL);
        CHECK_INTEQ(cgroup_dirs(top), 0);
        umount2(member_rootfs, MNT_DETACH);
}

/* A cgroup nobody made is NOT_FOUND for ps_pod_cgroup_open. */
static void test_open_missing_cgroup(void)
{
        _cleanup_err_ struct ps_err *err = NULL;

        CHECK(ps_pod_cgroup_open("/podshim-test-leftovers-none/x", false, &err) == NULL);
        CHECK(err && err->code == PS_NOT_FOUND);
}

int main(void)
{
        int r = test_private_tmpfs("test_vm_leftovers", tmpdir, sizeof(tmpdir));

        if (r != 0)
                return r;
        RUN(test_orphan_kill);
        RUN(test_dead_pod_cleared);
        RUN(test_open_missing_cgroup);
        test_private_tmpfs_end(tmpdir);
        return check_summary();
}
