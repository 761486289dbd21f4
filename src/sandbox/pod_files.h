/* The pod's own files, for a pod made through the Sandbox API.
 *
 * In podsandbox mode CRI makes them for the pause container's pod and
 * mounts them into every container (setupSandboxFiles and containerMounts
 * in internal/cri/server of containerd 2.1). With a shim sandboxer CRI
 * leaves them to the sandboxer: it mounts its copies only where they exist
 * in its own sandbox directory, which they then do not. So the shim, which
 * owns the pod, makes them in the pod's bundle and binds them into each
 * member's spec at the member's Create (oci/spec_binds.h: where the spec
 * has no mount of its own there):
 *
 *   hostname     the pod's hostname, or the host's when none was given
 *   hosts        a copy of the host's /etc/hosts
 *   resolv.conf  the pod's DNS config, or a copy of the host's
 *   shm/         a 64 MiB tmpfs (mode 1777, nosuid, nodev, noexec), the
 *                pod's /dev/shm; none when the pod shares the host's IPC
 *                namespace: its members get the host's /dev/shm then
 *
 * Read-only in a member whose root file system is, as CRI mounts them.
 *
 * Ownership: a ps_pod_files owns `dir` (a copy of the bundle path);
 * ps_pod_files_clear() releases the files and frees it. */
#ifndef PS_SANDBOX_POD_FILES_H
#define PS_SANDBOX_POD_FILES_H

#include <stdbool.h>

#include "base/error.h"
#include "sandbox/pod_spec.h"

struct cJSON;

/* CRI's defaultShmSize. */
#define PS_POD_SHM_SIZE (64u << 20)

struct ps_pod_files {
        char *dir;     /* the pod's bundle; NULL: none made */
        bool shm;      /* dir/shm is the pod's tmpfs, mounted */
        bool host_ipc; /* members get the host's /dev/shm */
        bool released; /* the pod has ended: its files are gone */
};

/* Makes the files in `dir` for the pod config `cfg`; on failure nothing
 * is left behind. */
int ps_pod_files_create(struct ps_pod_files *f, const char *dir, const struct ps_pod_config *cfg,
                        struct ps_err **err);

/* Binds the files into the spec of a member's `bundle`, whose config.json
 * is `tree` (oci/spec_binds.h). After the pod has ended this is
 * FAILED_PRECONDITION. */
int ps_pod_files_bind(const struct ps_pod_files *f, const char *bundle, struct cJSON *tree,
                      bool readonly, struct ps_err **err);

/* Unmounts the shm and removes the files: the pod has ended. Idempotent. */
void ps_pod_files_release(struct ps_pod_files *f);

/* Release, and free `dir`. */
void ps_pod_files_clear(struct ps_pod_files *f);

/* What a pod bundle can hold after its shim died: unmounts <dir>/shm if
 * something is mounted there (the shim's `delete` action). */
void ps_pod_files_cleanup_dir(const char *dir);

#endif
