#include "base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"

int ps_read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len,
                    struct ps_err **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open %s", path);
        for (;;) {
                ssize_t n;

                if (len + 1 >= cap) {
                        size_t ncap = cap ? cap * 2 : 512;
                        char *nb;

                        if (ncap > max + 1)
                                ncap = max + 1;
                        if (ncap <= len + 1)
                                return ps_err_set(err, PS_RESOURCE_EXHAUSTED,
                                                  "%s is larger than %zu bytes", path, max);
                        nb = realloc(buf, ncap);
                        if (!nb)
                                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "read %s", path);
                        buf = nb;
                        cap = ncap;
                }
                n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ps_err_errno(err, errno, PS_UNKNOWN, "read %s", path);
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (!buf && !(buf = calloc(1, 1)))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "read %s", path);
        buf[len] = '\0';
        *ret_buf = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int ps_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len, struct ps_err **err)
{
        return ps_read_file_at(AT_FDCWD, path, max, ret_buf, ret_len, err);
}

int ps_write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int ps_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct ps_err **err)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        const char *slash = strrchr(path, '/');
        int r;

        if (slash)
                r = asprintf(&tmp, "%.*s/.%s.tmp", (int)(slash - path), path, slash + 1);
        else
                r = asprintf(&tmp, ".%s.tmp", path);
        if (r < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "write %s", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "create %s", tmp);
        if (ps_write_all(fd, data, len) < 0) {
                r = errno;
                unlink(tmp);
                return ps_err_errno(err, r, PS_UNKNOWN, "write %s", tmp);
        }
        if (rename(tmp, path) < 0) {
                r = errno;
                unlink(tmp);
                return ps_err_errno(err, r, PS_UNKNOWN, "rename %s", path);
        }
        return 0;
}

int ps_mkdir_p(const char *path, mode_t mode, struct ps_err **err)
{
        char buf[PATH_MAX];
        size_t len = strlen(path);

        if (len == 0 || len >= sizeof(buf))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "bad directory path '%s'", path);
        memcpy(buf, path, len + 1);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "mkdir %s", buf);
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return ps_err_errno(err, errno, PS_UNKNOWN, "mkdir %s", buf);
        return 0;
}

/* No heap: a caller that has just had a process started must learn its
 * pid even when memory is short, or it could neither supervise nor kill it. */
int ps_read_pid_file(const char *path, pid_t *ret_pid, struct ps_err **err)
{
        char buf[64], *end;
        ssize_t n;
        long v;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open %s", path);
        do
                n = read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        close(fd);
        if (n < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "read %s", path);
        buf[n] = '\0';
        errno = 0;
        v = strtol(buf, &end, 10);
        while (*end == '\n' || *end == ' ')
                end++;
        if (errno || end == buf || *end || v <= 0 || v > INT_MAX)
                return ps_err_set(err, PS_UNKNOWN, "pid file %s holds '%s', not a pid", path, buf);
        *ret_pid = (pid_t)v;
        return 0;
}

int ps_remove_flat_dir(const char *dir, struct ps_err **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd < 0 || !(d = fdopendir(fd))) {
                int e = errno;

                if (fd >= 0)
                        close(fd);
                return ps_err_errno(err, e, PS_INTERNAL, "open %s", dir);
        }
        while ((errno = 0, de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
                    unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                        return ps_err_errno(err, errno, PS_INTERNAL, "remove %s/%s", dir,
                                            de->d_name);
        if (errno)
                return ps_err_errno(err, errno, PS_INTERNAL, "read %s", dir);
        if (rmdir(dir) < 0 && errno != ENOENT)
                return ps_err_errno(err, errno, PS_INTERNAL, "rmdir %s", dir);
        return 0;
}

static bool is_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool ps_id_valid(const char *s)
{
        size_t n = 0;
        bool prev_sep = true; /* forbids a leading separator */

        if (!s)
                return false;
        for (; s[n]; n++) {
                char c = s[n];
                if (n >= 76)
                        return false;
                if (is_alnum(c)) {
                        prev_sep = false;
                } else if (c == '.' || c == '_' || c == '-') {
                        if (prev_sep)
                                return false;
                        prev_sep = true;
                } else {
                        return false;
                }
        }
        return n > 0 && !prev_sep;
}
