/* User namespaces the Linux backend deals with: writing and reading a
 * process's uid_map/gid_map, and a user namespace made only to be named by
 * an fd (what an idmapped mount takes, mount_setattr(MOUNT_ATTR_IDMAP)).
 *
 * The maps are checked with oci/idmap.h's rules before anything is written;
 * a map file takes one write, once per namespace. */
#ifndef PS_SANDBOX_LINUX_USERNS_H
#define PS_SANDBOX_LINUX_USERNS_H

#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "oci/idmap.h"

/* Writes the uid_map, then the gid_map, of process pid's (new, unmapped)
 * user namespace. The writer must be privileged in the parent namespace
 * (the shim is root there), so setgroups stays allowed. `what_uid` and
 * `what_gid` name the maps in errors (INVALID_ARGUMENT for a map the kernel
 * would refuse; the write's errno otherwise). */
int ps_userns_write_maps(pid_t pid, const struct ps_idmap *uid, size_t n_uid, const char *what_uid,
                         const struct ps_idmap *gid, size_t n_gid, const char *what_gid,
                         struct ps_err **err);

/* The map `file` ("uid_map" or "gid_map") of process pid, as the shim's
 * user namespace sees it. On success the caller frees *ret. */
int ps_userns_read_map(pid_t pid, const char *file, struct ps_idmap **ret, size_t *ret_n,
                       struct ps_err **err);

/* An fd (O_CLOEXEC) on a new user namespace with these maps, owned by the
 * caller. Made by a short-lived child cloned with CLONE_NEWUSER and exit
 * signal 0 (no SIGCHLD: the reaper never sees it, as with net/netns.h's
 * helper), which waits on a pipe while the shim writes its maps and opens
 * its namespace, then exits at the pipe's EOF; the shim reaps it right away
 * with waitpid(its pid, __WCLONE), a wait bounded by the child's exit path.
 * The namespace lives on as long as the fd (or a mount idmapped with it). */
int ps_userns_fd(const struct ps_idmap *uid, size_t n_uid, const struct ps_idmap *gid, size_t n_gid,
                 struct ps_err **err);

/* An fd (O_CLOEXEC) on the user namespace that owns the namespace at
 * `ns_path` (ioctl NS_GET_USERNS), owned by the caller. One that is the
 * caller's own user namespace is FAILED_PRECONDITION: the namespace was not
 * made inside a user namespace of its own. */
int ps_userns_owner_of(const char *ns_path, struct ps_err **err);

#endif
