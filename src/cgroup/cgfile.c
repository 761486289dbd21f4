#include "cgroup/cgfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"

int ps_cgfile_read_at(int dirfd, const char *name, char **ret_buf, struct ps_err **err)
{
        _cleanup_err_ struct ps_err *e = NULL;
        char *buf = NULL;

        if (ps_read_file_at(dirfd, name, PS_CGFILE_MAX, &buf, NULL, &e) < 0) {
                if (e->errnum == ENOENT)
                        return 0;
                return ps_err_move(err, &e);
        }
        *ret_buf = buf;
        return 1;
}

int ps_cgfile_read(const char *dir, const char *name, char **ret_buf, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup file path");
        return ps_cgfile_read_at(AT_FDCWD, path, ret_buf, err);
}

int ps_cgfile_parse_u64(const char *s, uint64_t *ret)
{
        unsigned long long v;
        char *end = NULL;

        while (*s == ' ' || *s == '\t')
                s++;
        if (strncmp(s, "max", 3) == 0 && (s[3] == '\0' || isspace((unsigned char)s[3]))) {
                *ret = UINT64_MAX;
                return 0;
        }
        /* strtoull accepts "-1" and wraps it; cgroup counters are unsigned. */
        if (!isdigit((unsigned char)*s)) {
                errno = EINVAL;
                return -1;
        }
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || (*end != '\0' && !isspace((unsigned char)*end))) {
                errno = errno ? errno : EINVAL;
                return -1;
        }
        *ret = v;
        return 0;
}

int ps_cgfile_read_u64(const char *dir, const char *name, uint64_t *ret, struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;
        int r = ps_cgfile_read(dir, name, &buf, err);

        if (r <= 0)
                return r;
        if (ps_cgfile_parse_u64(buf, ret) < 0)
                return ps_err_set(err, PS_INTERNAL, "%s/%s: unexpected content", dir, name);
        return 1;
}

int ps_cgfile_kv_get(const char *buf, const char *key, uint64_t *ret)
{
        size_t kl = strlen(key);

        for (const char *line = buf; line && *line;) {
                if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
                        return ps_cgfile_parse_u64(line + kl + 1, ret);
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        errno = ENOENT;
        return -1;
}
