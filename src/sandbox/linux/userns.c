#include "sandbox/linux/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "base/cleanup.h"
#include "base/fs.h"

/* One map file: the whole text in one write, as the kernel wants it. */
static int write_map(pid_t pid, const char *file, const struct ps_idmap *m, size_t n,
                     const char *what, struct ps_err **err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        char path[64];
        size_t len;

        if (ps_idmap_format(m, n, what, &text, &len, err) < 0)
                return -1;
        snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, text, len) != (ssize_t)len)
                return ps_err_errno(err, errno, PS_UNKNOWN, "write %s of %s", file, what);
        return 0;
}

int ps_userns_write_maps(pid_t pid, const struct ps_idmap *uid, size_t n_uid, const char *what_uid,
                         const struct ps_idmap *gid, size_t n_gid, const char *what_gid,
                         struct ps_err **err)
{
        if (write_map(pid, "uid_map", uid, n_uid, what_uid, err) < 0)
                return -1;
        return write_map(pid, "gid_map", gid, n_gid, what_gid, err);
}

int ps_userns_read_map(pid_t pid, const char *file, struct ps_idmap **ret, size_t *ret_n,
                       struct ps_err **err)
{
        _cleanup_free_ char *text = NULL;
        char path[64];
        size_t len = 0;

        snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
        if (ps_read_file(path, 64 << 10, &text, &len, err) < 0 ||
            ps_idmap_parse(text, len, ret, ret_n, err) < 0)
                return ps_err_prefix(err, "%s", file);
        return 0;
}

/* The child: in its new user namespace, it waits for the pipe's EOF. Only
 * system calls, no libc state: it shares nothing with the shim but what
 * fork semantics copied. */
static __attribute__((noreturn)) void holder_main(int rd, int wr)
{
        char c;

        close(wr);
        while (read(rd, &c, 1) < 0 && errno == EINTR)
                ;
        _exit(0);
}

int ps_userns_fd(const struct ps_idmap *uid, size_t n_uid, const struct ps_idmap *gid, size_t n_gid,
                 struct ps_err **err)
{
        _cleanup_close_ int rd = -1, wr = -1;
        char path[64];
        int p[2], fd = -1, st;
        pid_t child;

        /* checked before a process exists for them */
        if (ps_idmap_check(uid, n_uid, "uid map", err) < 0 ||
            ps_idmap_check(gid, n_gid, "gid map", err) < 0)
                return -1;
        if (pipe2(p, O_CLOEXEC) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "pipe");
        rd = p[0], wr = p[1];
        child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER, NULL, NULL, NULL, 0);
        if (child < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "clone a user namespace");
        if (child == 0)
                holder_main(rd, wr);
        if (ps_userns_write_maps(child, uid, n_uid, "uid map", gid, n_gid, "gid map", err) == 0) {
                snprintf(path, sizeof(path), "/proc/%d/ns/user", child);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        ps_err_errno(err, errno, PS_UNKNOWN, "open %s", path);
        }
        /* EOF lets it go; __WCLONE: it has no exit signal (see the header) */
        wr = ps_close(wr);
        while (waitpid(child, &st, __WCLONE) < 0 && errno == EINTR)
                ;
        return fd;
}

int ps_userns_owner_of(const char *ns_path, struct ps_err **err)
{
        _cleanup_close_ int ns = -1, owner = -1;
        struct stat mine, st;

        ns = open(ns_path, O_RDONLY | O_CLOEXEC);
        if (ns < 0)
                return ps_err_errno(err, errno, errno == ENOENT ? PS_NOT_FOUND : PS_UNKNOWN,
                                    "open %s", ns_path);
        owner = ioctl(ns, NS_GET_USERNS);
        if (owner < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "%s: the user namespace owning it",
                                    ns_path);
        if (fstat(owner, &st) < 0 || stat("/proc/self/ns/user", &mine) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "%s: stat user namespace", ns_path);
        if (st.st_dev == mine.st_dev && st.st_ino == mine.st_ino)
                return ps_err_set(err, PS_FAILED_PRECONDITION,
                                  "%s is not owned by a user namespace of the pod's own (it was "
                                  "not made inside one)",
                                  ns_path);
        /* NS_GET_USERNS does not set O_CLOEXEC */
        if (fcntl(owner, F_SETFD, FD_CLOEXEC) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "%s: user namespace fd", ns_path);
        return TAKE_FD(owner);
}
