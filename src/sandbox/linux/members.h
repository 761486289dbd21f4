/* A Linux pod's record of its member containers, kept in the bundle of the
 * pod's own task: <pod bundle>/members/<id>/ holds a member's runtime
 * options (oci/options.h ps_options_save: options.json and runtime).
 *
 * Why: containerd 2.x runs no `delete` action for the containers it groups
 * on a version 3 pod shim when that shim dies (core/runtime/v2/
 * shim_manager.go Start: loadShim with an empty cleanup), only the pod's
 * own; and it removes the members' bundles before it runs that one. The
 * pod's action (shim/delete.c) can only clean up members whose runtime
 * and root it can still find: here, in the one bundle it is given.
 *
 * A record is written before the runtime creates the member and removed
 * once the runtime holds no state of it (deleted, or its create failed):
 * at any moment a container the runtime may know has one. */
#ifndef PS_SANDBOX_LINUX_MEMBERS_H
#define PS_SANDBOX_LINUX_MEMBERS_H

#include <stddef.h>

#include "base/error.h"
#include "oci/options.h"

#define PS_LINUX_MEMBERS_DIR "members"
/* More records than this are not read (RESOURCE_EXHAUSTED). */
#define PS_LINUX_MEMBERS_MAX 1024

/* The record directory of member `id` of the pod whose bundle is
 * pod_bundle; caller frees. NULL with err for an invalid id or no memory. */
char *ps_members_record_dir(const char *pod_bundle, const char *id, struct ps_err **err);

/* Records member `id` with its runtime options. */
int ps_members_record(const char *pod_bundle, const char *id, const struct ps_options *o,
                      struct ps_err **err);

/* Drops member `id`'s record; no record is no error. */
int ps_members_forget(const char *pod_bundle, const char *id, struct ps_err **err);

/* The ids recorded in pod_bundle, a NULL-terminated array in *ret_ids
 * (caller frees with ps_strv_free) of *ret_n entries; none when the pod
 * recorded none. Entries that are not a directory of a valid id (a link,
 * a stray file) are skipped. */
int ps_members_list(const char *pod_bundle, char ***ret_ids, size_t *ret_n, struct ps_err **err);

#endif
