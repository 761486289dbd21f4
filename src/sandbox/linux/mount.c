#include "sandbox/linux/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/mountinfo.h"
#include "sandbox/linux/idmap_mount.h"

#define PTYPES        (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)
#define LOOP_ATTEMPTS 16

struct mount_opts {
        unsigned long flags;  /* for mount(2), propagation excluded */
        unsigned long pflags; /* propagation change, applied by a separate call */
        char *data;           /* owned */
        bool loop;
};

/* containerd's table (mount_linux.go), plus the propagation words that
 * runc understands, which containerd would pass on as data. */
static const struct {
        const char *name;
        bool clear;
        unsigned long flag;
} flag_table[] = {
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

static const struct {
        const char *name;
        unsigned long flag;
} prop_table[] = {
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static size_t page_size(void)
{
        long p = sysconf(_SC_PAGESIZE);

        return p > 0 ? (size_t)p : 4096;
}

static bool apply_flag(const char *o, struct mount_opts *m)
{
        for (size_t i = 0; i < ARRAY_LEN(flag_table); i++) {
                if (strcmp(o, flag_table[i].name) != 0)
                        continue;
                if (flag_table[i].clear)
                        m->flags &= ~flag_table[i].flag;
                else
                        m->flags |= flag_table[i].flag;
                return true;
        }
        for (size_t i = 0; i < ARRAY_LEN(prop_table); i++) {
                if (strcmp(o, prop_table[i].name) == 0) {
                        m->pflags |= prop_table[i].flag;
                        return true;
                }
        }
        return false;
}

/* Splits fstab-style options into flags and the fs data string. */
static int parse_options(char *const *opts, size_t n, struct mount_opts *ret, struct ps_err **err)
{
        struct mount_opts m = {0};
        size_t len = 0, max = page_size();

        for (size_t i = 0; i < n; i++)
                len += strlen(opts[i]) + 1;
        m.data = calloc(1, len + 1);
        if (!m.data)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "mount options");
        for (size_t i = 0; i < n; i++) {
                if (apply_flag(opts[i], &m))
                        continue;
                if (strcmp(opts[i], "loop") == 0) {
                        m.loop = true;
                        continue;
                }
                if (ps_idmap_mount_option(opts[i]))
                        continue; /* idmap_mount.h: not data */
                if (m.data[0])
                        strcat(m.data, ",");
                strcat(m.data, opts[i]);
        }
        len = strlen(m.data);
        if (len > max) {
                free(m.data);
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "mount options are too long (%zu bytes, the limit is %zu)", len,
                                  max);
        }
        *ret = m;
        return 0;
}

/* ---- overlay lowerdir compaction ---- */

/* Longest common prefix of the ':'-separated list `dirs`, cut back to its
 * parent directory (snapshot ids share digits: ".../snapshots/1" must not
 * become a common "directory"). Returns its length including the final
 * '/', or 0 when there is nothing worth compacting: relative paths, the
 * root alone, or (unless `single`) a single lowerdir, whose parent it is
 * otherwise (containerd's getCommonDirectory for idmapped layers). */
static size_t common_parent_len(const char *dirs, bool single)
{
        size_t common = strcspn(dirs, ":");
        bool many = dirs[common] == ':';

        if ((!many && !single) || dirs[0] != '/')
                return 0;
        for (const char *p = dirs + common + 1; many; p += strcspn(p, ":") + 1) {
                size_t len = strcspn(p, ":"), i = 0;

                while (i < common && i < len && p[i] == dirs[i])
                        i++;
                common = i;
                if (!p[len])
                        break;
        }
        /* path.Dir: keep everything up to the last '/' of the prefix, which
         * is a parent of every lowerdir, never one of them ("/a/fs/"). */
        if (common > 0 && dirs[common - 1] == '/')
                common--;
        while (common > 0 && dirs[common - 1] != '/')
                common--;
        return common > 1 ? common : 0; /* "/" alone gains nothing */
}

/* The index of the lowerdir= option, or n. */
static size_t find_lowerdir(char *const *opts, size_t n)
{
        size_t i = 0;

        while (i < n && strncmp(opts[i], "lowerdir=", 9) != 0)
                i++;
        return i;
}

/* lowerdir= with the first `cut` bytes of every directory taken off (they
 * are their common parent, common_parent_len). Caller frees; NULL: ENOMEM. */
static char *relative_lowerdir(const char *opt, size_t cut)
{
        const char *dirs = opt + 9;
        char *lower = malloc(strlen(opt) + 1), *w;

        if (!lower)
                return NULL;
        w = lower + sprintf(lower, "lowerdir=");
        for (const char *p = dirs;; p += strcspn(p, ":") + 1) {
                size_t len = strcspn(p, ":");
                w += sprintf(w, "%s%.*s", w[-1] == '=' ? "" : ":", (int)(len - cut), p + cut);
                if (!p[len])
                        break;
        }
        return lower;
}

/* ---- loop devices ---- */

/* Binds `back` to the loop device `dev` with autoclear, in one step where
 * the kernel has LOOP_CONFIGURE (5.8), else with LOOP_SET_FD and then
 * LOOP_SET_STATUS64. Returns 0 when bound, 1 when another process bound
 * the device first (EBUSY), -1 with errno set on any other failure. */
static int bind_loop(int dev, int back, bool ro, const char *backing)
{
        struct loop_config cfg = {.fd = (__u32)back};
        int e;

        snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", backing);
        cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (ro ? LO_FLAGS_READ_ONLY : 0);
        if (ioctl(dev, LOOP_CONFIGURE, &cfg) == 0)
                return 0;
        if (errno == EBUSY)
                return 1;
        if (errno != EINVAL && errno != ENOTTY)
                return -1;
        if (ioctl(dev, LOOP_SET_FD, back) < 0)
                return errno == EBUSY ? 1 : -1;
        /* Offset and size limit stay 0: no EAGAIN retry (which changing
         * them on a device with cached pages can ask for) is ever needed. */
        if (ioctl(dev, LOOP_SET_STATUS64, &cfg.info) == 0)
                return 0;
        e = errno;
        ioctl(dev, LOOP_CLR_FD, 0);
        errno = e;
        return -1;
}

/* Opens a loop device's backing file, which must be a regular file or a
 * block device. O_NONBLOCK for the open only: a read-only open of a FIFO
 * would otherwise wait on the loop thread for a writer that never comes. */
static int open_backing(const char *backing, int flags, struct ps_err **err)
{
        _cleanup_close_ int fd = open(backing, flags | O_NONBLOCK);
        struct stat st;
        int fl;

        if (fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open loop backing file %s", backing);
        if (fstat(fd, &st) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "stat %s", backing);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "loop backing file %s is neither a file nor a block device",
                                  backing);
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "clear O_NONBLOCK on %s", backing);
        return TAKE_FD(fd);
}

/* Attaches `backing` to a free loop device with autoclear, so the device
 * goes away with its last user (the mount). Returns the device fd, which
 * must stay open until the mount holds the device.
 *
 * Never sleeps. Between LOOP_CTL_GET_FREE and the bind another process can
 * take the same device (EBUSY); the device is then bound, so asking
 * loop-control again at once yields a different one (or creates it).
 * LOOP_ATTEMPTS bounds the rounds; exhausting them (that many races lost
 * in a row, or an unbound device held exclusively by someone else, which
 * GET_FREE keeps handing out) fails with UNAVAILABLE rather than waiting. */
static int setup_loop(const char *backing, bool ro, char name[32], struct ps_err **err)
{
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        int flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC;
        _cleanup_close_ int back = open_backing(backing, flags, err);
        int r;

        if (back < 0)
                return -1;
        if (ctl < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open /dev/loop-control");
        for (int attempt = 0; attempt < LOOP_ATTEMPTS; attempt++) {
                int num = ioctl(ctl, LOOP_CTL_GET_FREE);
                _cleanup_close_ int dev = -1;

                if (num < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "get a free loop device");
                snprintf(name, 32, "/dev/loop%d", num);
                dev = open(name, flags);
                if (dev < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "open %s", name);
                r = bind_loop(dev, back, ro, backing);
                if (r == 0)
                        return TAKE_FD(dev);
                if (r < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "attach %s to %s", backing,
                                            name);
        }
        return ps_err_set(err, PS_UNAVAILABLE,
                          "no free loop device for %s: %d devices were taken by other processes "
                          "before they could be attached",
                          backing, LOOP_ATTEMPTS);
}

/* ---- mounting ---- */

/* mount(2) with relative lowerdirs resolved from the directory `dirfd`
 * (-1: none). The shim is single-threaded, so changing the cwd around the
 * call is safe (containerd forks for this only because Go is not). */
static int mount_in(int dirfd, const char *src, const char *target, const char *type,
                    unsigned long flags, const char *data, struct ps_err **err)
{
        _cleanup_close_ int saved = -1;
        int r, e;

        if (dirfd < 0) {
                if (mount(src, target, type, flags, data) < 0)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "mount %s on %s", src, target);
                return 0;
        }
        saved = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (saved < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open cwd");
        if (fchdir(dirfd) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "chdir to the lower layers");
        r = mount(src, target, type, flags, data);
        e = errno;
        if (fchdir(saved) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "restore cwd after mount");
        if (r < 0)
                return ps_err_errno(err, e, PS_UNKNOWN, "mount %s on %s", src, target);
        return 0;
}

static size_t options_size(char *const *opts, size_t n)
{
        size_t size = 0;

        for (size_t i = 0; i < n; i++)
                size += strlen(opts[i]);
        return size;
}

/* Where an overlay's lower layers are read from, with lowerdir= rewritten
 * relative to it (*ret_lower, owned): an idmapped clone of their common
 * parent when `userns` >= 0 (idmap_mount.h), else, when the data would
 * come within 512 bytes of a page, that parent itself (compaction, as
 * containerd does it). *ret_dirfd stays -1 when neither applies. */
static int lower_layers(const struct ps_mount *m, int userns, int *ret_dirfd, size_t *ret_idx,
                        char **ret_lower, struct ps_err **err)
{
        _cleanup_free_ char *parent = NULL, *lower = NULL;
        size_t idx = find_lowerdir(m->options, m->n_options), cut;
        int fd;

        if (idx == m->n_options) {
                if (userns >= 0)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "a remapped overlay needs lowerdir=");
                return 0;
        }
        if (userns < 0 && options_size(m->options, m->n_options) + 512 < page_size())
                return 0;
        cut = common_parent_len(m->options[idx] + 9, userns >= 0);
        if (cut == 0) {
                if (userns >= 0)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "%s: the lower layers of a remapped overlay need a "
                                          "common parent directory other than /",
                                          m->options[idx]);
                return 0; /* the data goes as it is: the kernel decides */
        }
        parent = strndup(m->options[idx] + 9, cut);
        lower = relative_lowerdir(m->options[idx], cut);
        if (!parent || !lower)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "mount options");
        if (userns >= 0)
                fd = ps_idmap_mount_clone(parent, userns, true, err);
        else if ((fd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                ps_err_errno(err, errno, PS_UNKNOWN, "open %s", parent);
        if (fd < 0)
                return -1;
        *ret_dirfd = fd;
        *ret_idx = idx;
        *ret_lower = TAKE_PTR(lower);
        return 0;
}

/* Options of `m` split into flags and data (with lowerdir= rewritten by
 * lower_layers for an overlay), and the directory the data's relative
 * lowerdirs start from (-1: none). */
static int prepare_options(const struct ps_mount *m, int userns, struct mount_opts *ret,
                           int *ret_dirfd, struct ps_err **err)
{
        _cleanup_free_ char **opts = NULL;
        _cleanup_free_ char *lower = NULL;
        _cleanup_close_ int dirfd = -1;
        size_t idx = 0;

        if (m->type && strcmp(m->type, "overlay") == 0 &&
            lower_layers(m, userns, &dirfd, &idx, &lower, err) < 0)
                return -1;
        if (dirfd < 0)
                return parse_options(m->options, m->n_options, ret, err);
        opts = calloc(m->n_options, sizeof(char *));
        if (!opts)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "mount options");
        memcpy(opts, m->options, m->n_options * sizeof(char *));
        opts[idx] = lower;
        if (parse_options(opts, m->n_options, ret, err) < 0)
                return -1;
        *ret_dirfd = TAKE_FD(dirfd);
        return 0;
}

static int mount_one(const char *target, const struct ps_mount *m, struct ps_err **err)
{
        struct mount_opts o;
        _cleanup_close_ int dirfd = -1, loop_fd = -1, userns = -1;
        char loop_name[32];
        const char *src = m->source && *m->source ? m->source : "none";
        unsigned long broflags = MS_BIND | MS_RDONLY;
        bool overlay = m->type && strcmp(m->type, "overlay") == 0;
        int r = 0;

        if (ps_idmap_mount_userns(m->options, m->n_options, &userns, err) < 0 ||
            prepare_options(m, userns, &o, &dirfd, err) < 0)
                return -1;
        /* A plain remount carries no data: only its flags matter. */
        if (!(o.flags & MS_REMOUNT) || o.data[0]) {
                if (o.loop) {
                        loop_fd = setup_loop(src, o.flags & MS_RDONLY, loop_name, err);
                        if (loop_fd < 0)
                                r = -1;
                        src = loop_name;
                }
                if (r == 0)
                        r = mount_in(dirfd, src, target, m->type, o.flags, o.data, err);
        }
        if (r == 0 && o.pflags && mount("", target, "", o.pflags, "") < 0)
                r = ps_err_errno(err, errno, PS_UNKNOWN, "set propagation of %s", target);
        /* The kernel ignores MS_RDONLY on the first bind: remount to apply. */
        if (r == 0 && (o.flags & broflags) == broflags &&
            mount("", target, "", o.flags | MS_REMOUNT, "") < 0)
                r = ps_err_errno(err, errno, PS_UNKNOWN, "remount %s read-only", target);
        /* A remapped overlay reads idmapped layers already; anything else
         * is shown through the maps by a clone stacked on it. */
        if (r == 0 && userns >= 0 && !overlay)
                r = ps_idmap_mount_in_place(target, userns, err);
        free(o.data);
        return r;
}

int ps_mount_all(const char *target, const struct ps_mount *mounts, size_t n, struct ps_err **err)
{
        _cleanup_free_ char *abs = NULL;

        if (n == 0)
                return 0;
        if (mkdir(target, 0711) < 0 && errno != EEXIST)
                return ps_err_errno(err, errno, PS_UNKNOWN, "mkdir %s", target);
        /* Absolute, so that a chdir for overlay compaction cannot move it. */
        abs = realpath(target, NULL);
        if (!abs)
                return ps_err_errno(err, errno, PS_UNKNOWN, "resolve %s", target);
        for (size_t i = 0; i < n; i++) {
                if (mount_one(abs, &mounts[i], err) < 0) {
                        ps_unmount_all(abs, NULL);
                        return ps_err_prefix(err, "rootfs mount %zu (%s)", i,
                                             mounts[i].type ? mounts[i].type : "");
                }
        }
        return 0;
}

/* ---- unmounting ---- */

struct mnt_point {
        const char *path; /* into the mount table */
        size_t order;     /* position in mountinfo: later = mounted on top */
};

static int cmp_deepest_first(const void *a, const void *b)
{
        const struct mnt_point *x = a, *y = b;
        size_t lx = strlen(x->path), ly = strlen(y->path);

        if (lx != ly)
                return lx > ly ? -1 : 1;
        return x->order > y->order ? -1 : (x->order < y->order ? 1 : 0);
}

static bool is_at_or_under(const char *path, const char *root)
{
        size_t n = strlen(root);

        return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Mount points at or under `root`, in mountinfo order. The paths point
 * into `mi`, which the caller keeps. */
static int collect_mounts(const struct ps_mountinfo *mi, const char *root, struct mnt_point **ret,
                          size_t *ret_n, struct ps_err **err)
{
        struct mnt_point *v = NULL;
        size_t n = 0;

        for (size_t i = 0; i < mi->n; i++) {
                if (!is_at_or_under(mi->e[i].mount_point, root))
                        continue;
                if (!v && !(v = calloc(mi->n - i, sizeof(*v))))
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "mountinfo");
                v[n++] = (struct mnt_point){.path = mi->e[i].mount_point, .order = i};
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* Unmounts `path` now; a busy mount is detached instead of waited for
 * (mount.h says why that is safe). */
static int unmount_one(const char *path, struct ps_err **err)
{
        if (umount2(path, UMOUNT_NOFOLLOW) == 0)
                return 0;
        if (errno == EINVAL || errno == ENOENT)
                return 0; /* already gone (a detach took it with a parent) */
        if (errno != EBUSY)
                return ps_err_errno(err, errno, PS_UNKNOWN, "unmount %s", path);
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
                return ps_err_errno(err, errno, PS_UNKNOWN, "detach busy mount %s", path);
        return 0;
}

int ps_unmount_all(const char *target, struct ps_err **err)
{
        _cleanup_free_ char *root = NULL;
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi = NULL;
        _cleanup_free_ struct mnt_point *mps = NULL;
        size_t n = 0;
        int r = 0;

        if (!target || !*target)
                return 0;
        root = realpath(target, NULL);
        if (!root) {
                if (errno == ENOENT)
                        return 0;
                return ps_err_errno(err, errno, PS_UNKNOWN, "resolve %s", target);
        }
        if (strcmp(root, "/") == 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "refusing to unmount everything");
        if (ps_mountinfo_read(&mi, err) < 0 || collect_mounts(mi, root, &mps, &n, err) < 0)
                return ps_err_prefix(err, "unmount %s", target);
        if (n == 0)
                return 0;
        qsort(mps, n, sizeof(*mps), cmp_deepest_first);
        /* Keep going after a failure: unmount as much as possible. */
        for (size_t i = 0; i < n; i++) {
                if (unmount_one(mps[i].path, err) < 0)
                        r = -1;
        }
        return r;
}
