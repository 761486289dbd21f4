#include "sandbox/linux/members.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/fs.h"

/* <pod_bundle>/members; NULL with err: out of memory */
static char *members_dir(const char *pod_bundle, struct ps_err **err)
{
        char *dir;

        if (asprintf(&dir, "%s/" PS_LINUX_MEMBERS_DIR, pod_bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "members"), NULL;
        return dir;
}

char *ps_members_record_dir(const char *pod_bundle, const char *id, struct ps_err **err)
{
        char *dir;

        /* the id becomes a path component: nothing may climb out */
        if (!ps_id_valid(id))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "member record: bad id \"%s\"", id),
                       NULL;
        if (asprintf(&dir, "%s/" PS_LINUX_MEMBERS_DIR "/%s", pod_bundle, id) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "member record"), NULL;
        return dir;
}

/* mkdir that takes an existing directory; never makes a parent: a pod
 * bundle containerd removed is not made again here. */
static int make_dir(const char *path, struct ps_err **err)
{
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return ps_err_errno(err, errno, PS_FAILED_PRECONDITION, "mkdir %s", path);
        return 0;
}

int ps_members_record(const char *pod_bundle, const char *id, const struct ps_options *o,
                      struct ps_err **err)
{
        _cleanup_free_ char *dir = ps_members_record_dir(pod_bundle, id, err);
        _cleanup_free_ char *members = dir ? members_dir(pod_bundle, err) : NULL;

        if (!members)
                return -1;
        if (make_dir(members, err) < 0 || make_dir(dir, err) < 0 ||
            ps_options_save(dir, o, err) < 0)
                return ps_err_prefix(err, "record member %s", id);
        return 0;
}

int ps_members_forget(const char *pod_bundle, const char *id, struct ps_err **err)
{
        _cleanup_free_ char *dir = ps_members_record_dir(pod_bundle, id, err);

        /* The record's files, a temporary one of an interrupted save
         * included; nothing in it is a directory. */
        if (!dir || ps_remove_flat_dir(dir, err) < 0)
                return ps_err_prefix(err, "forget member %s", id);
        return 0;
}

static bool is_record(int dirfd, const char *name)
{
        struct stat st;

        return ps_id_valid(name) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(st.st_mode);
}

int ps_members_list(const char *pod_bundle, char ***ret_ids, size_t *ret_n, struct ps_err **err)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_ char **ids = NULL;
        struct dirent *de;
        size_t n = 0;

        dir = members_dir(pod_bundle, err);
        if (!dir)
                return -1;
        ids = calloc(1, sizeof(*ids));
        if (!ids)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "members");
        d = opendir(dir);
        if (!d && errno != ENOENT)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open %s", dir);
        while (d && (errno = 0, de = readdir(d))) {
                char **grown;

                if (!is_record(dirfd(d), de->d_name))
                        continue;
                if (n >= PS_LINUX_MEMBERS_MAX)
                        return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "%s: more than %d members",
                                          dir, PS_LINUX_MEMBERS_MAX);
                grown = realloc(ids, (n + 2) * sizeof(*ids));
                if (!grown)
                        return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "members");
                ids = grown;
                ids[n + 1] = NULL;
                ids[n] = strdup(de->d_name);
                if (!ids[n])
                        return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "members");
                n++;
        }
        if (d && errno)
                return ps_err_errno(err, errno, PS_UNKNOWN, "read %s", dir);
        *ret_ids = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}
