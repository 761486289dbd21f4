#include "sandbox/vm/share.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"

struct ps_vm_share {
        char *dir;
};

/* Detaches whatever is mounted at path (EINVAL: nothing is). A mount may
 * be stacked (a stale share bound twice): detach until nothing is there. */
static int detach_all(const char *path, struct ps_err **err)
{
        for (int i = 0; i < 16 && umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; i++)
                ;
        if (errno != EINVAL && errno != ENOENT)
                return ps_err_errno(err, errno, PS_INTERNAL, "unmount %s", path);
        return 0;
}

/* Detaches whatever is mounted at path and removes the directory; 0 when
 * it is gone. */
static int detach_and_remove(const char *path, struct ps_err **err)
{
        if (detach_all(path, err) < 0)
                return -1;
        if (rmdir(path) < 0 && errno != ENOENT)
                return ps_err_errno(err, errno, PS_INTERNAL, "rmdir %s", path);
        return 0;
}

/* Detaches whatever is mounted at a bind's mount point and removes it (a
 * file or a directory); 0 when it is gone. */
static int detach_and_unlink(const char *path, struct ps_err **err)
{
        if (detach_all(path, err) < 0)
                return -1;
        if (unlink(path) < 0 && errno != ENOENT && (errno != EISDIR || rmdir(path) < 0) &&
            errno != ENOENT)
                return ps_err_errno(err, errno, PS_INTERNAL, "remove %s", path);
        return 0;
}

/* Runs fn on every entry of dir (its path and name); the first failure is
 * err's, the rest are still tried. A dir that is gone has no entries. */
static int each_entry(const char *dir,
                      int (*fn)(const char *path, const char *name, struct ps_err **err),
                      struct ps_err **err)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return errno == ENOENT ? 0 : ps_err_errno(err, errno, PS_INTERNAL, "open %s", dir);
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
                        r = ps_err_errno(r < 0 ? NULL : err, ENOMEM, PS_RESOURCE_EXHAUSTED,
                                         "share");
                else if (fn(path, de->d_name, r < 0 ? NULL : err) < 0)
                        r = -1;
        }
        return r;
}

static int unlink_bind(const char *path, const char *name, struct ps_err **err)
{
        (void)name;
        return detach_and_unlink(path, err);
}

/* A member's binds (<share>/.<id>.mounts), every one detached and removed,
 * then the directory; 0 when it is gone. */
static int remove_binds(const char *dir, struct ps_err **err)
{
        if (each_entry(dir, unlink_bind, err) < 0)
                return -1;
        if (rmdir(dir) < 0 && errno != ENOENT)
                return ps_err_errno(err, errno, PS_INTERNAL, "rmdir %s", dir);
        return 0;
}

/* A member's binds (.<id>.mounts) or its bundle (<id>). */
static int clear_entry(const char *path, const char *name, struct ps_err **err)
{
        return name[0] == '.' ? remove_binds(path, err) : detach_and_remove(path, err);
}

/* Every entry of the share, detached and removed. */
static int clear(const char *dir, struct ps_err **err)
{
        return each_entry(dir, clear_entry, err);
}

int ps_vm_share_remove_stale(const char *dir, struct ps_err **err)
{
        if (clear(dir, err) < 0 || detach_and_remove(dir, err) < 0)
                return ps_err_prefix(err, "stale bundle share");
        return 0;
}

/* The share's directory: empty, a private mount of itself. */
static int make_dir(const char *dir, struct ps_err **err)
{
        /* a shim that died left it: nothing of it is anyone's now */
        if (ps_vm_share_remove_stale(dir, err) < 0)
                return -1;
        if (mkdir(dir, 0700) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "mkdir %s", dir);
        /* "none" where the kernel ignores the field: valgrind checks it */
        if (mount(dir, dir, "none", MS_BIND, NULL) < 0 ||
            mount("none", dir, "none", MS_PRIVATE, NULL) < 0) {
                ps_err_errno(err, errno, PS_INTERNAL, "make %s a private mount", dir);
                detach_and_remove(dir, NULL);
                return -1;
        }
        return 0;
}

struct ps_vm_share *ps_vm_share_new(const char *dir, struct ps_err **err)
{
        struct ps_vm_share *s = calloc(1, sizeof(*s));

        if (!s || !(s->dir = strdup(dir))) {
                free(s);
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "share"), NULL;
        }
        if (make_dir(dir, err) < 0) {
                free(s->dir);
                free(s);
                return NULL;
        }
        return s;
}

const char *ps_vm_share_path(const struct ps_vm_share *s)
{
        return s->dir;
}

/* A member's entry in the share: its bundle (<id>) or, with `binds`, the
 * directory of its host binds (.<id>.mounts; an id never starts with '.'). */
static char *member_path(const struct ps_vm_share *s, const char *id, bool binds,
                         struct ps_err **err)
{
        char *path = NULL;

        /* an id is one path component: nothing outside the share */
        if (!ps_id_valid(id))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "share: bad id '%s'", id), NULL;
        if (asprintf(&path, binds ? "%s/.%s.mounts" : "%s/%s", s->dir, id) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "share"), NULL;
        return path;
}

int ps_vm_share_add(struct ps_vm_share *s, const char *id, const char *bundle, struct ps_err **err)
{
        _cleanup_free_ char *path = member_path(s, id, false, err);

        if (!path)
                return -1;
        if (mkdir(path, 0700) < 0)
                return ps_err_errno(err, errno, errno == EEXIST ? PS_ALREADY_EXISTS : PS_INTERNAL,
                                    "mkdir %s", path);
        /* private: containerd's later mounts at the bundle stay there, ours
         * here (MS_REC: the rootfs the shim mounted comes along) */
        if (mount(bundle, path, "none", MS_BIND | MS_REC, NULL) < 0 ||
            mount("none", path, "none", MS_PRIVATE | MS_REC, NULL) < 0) {
                ps_err_errno(err, errno, PS_INTERNAL, "bind %s at %s", bundle, path);
                detach_and_remove(path, NULL);
                return -1;
        }
        return 0;
}

/* A bind's mount point: a directory for a directory, a file for the rest. */
static int make_mount_point(const char *path, bool dir, struct ps_err **err)
{
        int fd;

        if (dir) {
                if (mkdir(path, 0700) == 0)
                        return 0;
        } else {
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd >= 0) {
                        close(fd);
                        return 0;
                }
        }
        return ps_err_errno(err, errno, errno == EEXIST ? PS_ALREADY_EXISTS : PS_INTERNAL,
                            "make %s", path);
}

/* Read-only, the mounts below included when recursive (mount_setattr,
 * Linux 5.12); where the kernel has none, the top mount alone. */
static int make_readonly(const char *path, bool recursive)
{
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};

        if (mount_setattr(AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof(attr)) == 0)
                return 0;
        if (errno != ENOSYS)
                return -1;
        return mount("none", path, "none", MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
}

int ps_vm_share_add_bind(struct ps_vm_share *s, const char *id, unsigned n, const char *source,
                         bool recursive, bool readonly, struct ps_err **err)
{
        _cleanup_free_ char *dir = member_path(s, id, true, err), *path = NULL;
        struct stat st;

        if (!dir)
                return -1;
        if (asprintf(&path, "%s/%u", dir, n) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "share");
        if (stat(source, &st) < 0)
                return ps_err_errno(err, errno, errno == ENOENT ? PS_INVALID_ARGUMENT : PS_INTERNAL,
                                    "bind source %s", source);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return ps_err_errno(err, errno, PS_INTERNAL, "mkdir %s", dir);
        if (make_mount_point(path, S_ISDIR(st.st_mode), err) < 0)
                return -1;
        if (mount(source, path, "none", MS_BIND | (recursive ? MS_REC : 0), NULL) < 0 ||
            mount("none", path, "none", MS_PRIVATE | (recursive ? MS_REC : 0), NULL) < 0 ||
            (readonly && make_readonly(path, recursive) < 0)) {
                ps_err_errno(err, errno, PS_INTERNAL, "bind %s at %s", source, path);
                detach_and_unlink(path, NULL);
                return -1;
        }
        return 0;
}

int ps_vm_share_remove(struct ps_vm_share *s, const char *id, struct ps_err **err)
{
        _cleanup_free_ char *path = member_path(s, id, false, err);
        _cleanup_free_ char *binds = path ? member_path(s, id, true, err) : NULL;

        if (!binds)
                return -1;
        if (detach_and_remove(path, err) < 0)
                return -1;
        return remove_binds(binds, err);
}

struct ps_vm_share *ps_vm_share_free(struct ps_vm_share *s)
{
        _cleanup_err_ struct ps_err *e = NULL;

        if (!s)
                return NULL;
        if (clear(s->dir, &e) < 0 || detach_and_remove(s->dir, &e) < 0)
                ps_log_warn("vm: bundle share: %s", ps_err_msg(e));
        free(s->dir);
        free(s);
        return NULL;
}
