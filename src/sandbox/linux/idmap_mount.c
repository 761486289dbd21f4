#include "sandbox/linux/idmap_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "oci/idmap.h"
#include "sandbox/linux/userns.h"

bool ps_idmap_mount_option(const char *option)
{
        return strncmp(option, "uidmap=", 7) == 0 || strncmp(option, "gidmap=", 7) == 0;
}

int ps_idmap_mount_userns(char *const *options, size_t n, int *ret_userns, struct ps_err **err)
{
        _cleanup_free_ struct ps_idmap *uid = NULL, *gid = NULL;
        const char *uidmap = NULL, *gidmap = NULL;
        size_t nu = 0, ng = 0;
        int fd;

        for (size_t i = 0; i < n; i++) {
                const char **slot = strncmp(options[i], "uidmap=", 7) == 0   ? &uidmap
                                    : strncmp(options[i], "gidmap=", 7) == 0 ? &gidmap
                                                                             : NULL;
                if (!slot)
                        continue;
                if (*slot)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "mount option %.7s is given twice", options[i]);
                *slot = options[i] + 7;
        }
        if (!uidmap && !gidmap) {
                *ret_userns = -1;
                return 0;
        }
        if (!uidmap || !gidmap)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "mount option %s= without %s=: a remapped mount needs both",
                                  uidmap ? "uidmap" : "gidmap", uidmap ? "gidmap" : "uidmap");
        if (ps_idmap_parse_option(uidmap, "mount option uidmap", &uid, &nu, err) < 0 ||
            ps_idmap_parse_option(gidmap, "mount option gidmap", &gid, &ng, err) < 0)
                return -1;
        fd = ps_userns_fd(uid, nu, gid, ng, err);
        if (fd < 0)
                return ps_err_prefix(err, "remapped mount");
        *ret_userns = fd;
        return 0;
}

int ps_idmap_mount_clone(const char *path, int userns, bool rdonly, struct ps_err **err)
{
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP | (rdonly ? MOUNT_ATTR_RDONLY : 0),
                                  .userns_fd = (__u64)userns};
        _cleanup_close_ int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

        if (tree < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "clone the mount at %s", path);
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "idmap the mount of %s", path);
        return TAKE_FD(tree);
}

int ps_idmap_mount_in_place(const char *target, int userns, struct ps_err **err)
{
        _cleanup_close_ int tree = ps_idmap_mount_clone(target, userns, false, err);

        if (tree < 0)
                return -1;
        if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "attach the idmapped mount to %s",
                                    target);
        return 0;
}
