/* Bind mounts added to a bundle's config.json before the OCI runtime reads
 * it: how a shim that owns the pod gives a member container the pod's own
 * files (sandbox/pod_files.h), the way CRI adds them to the spec itself
 * when it owns the pod (containerMounts in internal/cri/server of 2.1).
 *
 * A bind goes in only where the spec has no mount at its destination yet,
 * so what the user or CRI mounted there wins. The one exception is
 * `over_tmpfs`: a tmpfs at the destination is the runtime spec's default
 * (its per-container /dev/shm), which a pod-wide bind replaces in place,
 * as CRI drops that default for its own /dev/shm.
 *
 * A bind's options are CRI's for a host path mount: rbind, rprivate and
 * ro or rw, plus `extra` (e.g. nosuid,nodev,noexec for a tmpfs that has
 * them, so that the bind's remount keeps them). */
#ifndef PS_OCI_SPEC_BINDS_H
#define PS_OCI_SPEC_BINDS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

struct cJSON;

struct ps_spec_bind {
        const char *destination;
        const char *source;
        bool readonly;
        bool over_tmpfs;
        const char *const *extra; /* NULL-terminated, or NULL */
};

/* Adds `binds` to a bundle's spec as said above: `tree` is its config.json
 * as ps_spec_load_tree gave it, which is then written back to
 * <bundle>/config.json atomically (same mode), only when something changed.
 * *ret_added (may be NULL) counts the binds that went in. A spec that is no
 * JSON object, or whose mounts are no array of objects, is INVALID_ARGUMENT. */
int ps_spec_tree_add_binds(const char *bundle, struct cJSON *tree, const struct ps_spec_bind *binds,
                           size_t n, size_t *ret_added, struct ps_err **err);

#endif
