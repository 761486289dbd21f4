/* Runtime options: which OCI runtime binary, its root, cgroup driver, io
 * owner, criu paths. They come from the Create request's options Any (or the
 * start action's stdin), in any of three forms containerd clients send:
 *   containerd.runc.v1.Options, containerd.linux.runc.CreateOptions, or
 *   runtimeoptions.v1.Options whose config_path names podshim's own TOML-
 *   subset config file (flat `Key = "string" | true | false | 123` lines,
 *   `#` comments; keys as in runc.v1 Options: BinaryName, Root, CriuPath,
 *   SystemdCgroup, NoPivotRoot, NoNewKeyring, IoUid, IoGid, ShimCgroup,
 *   CriuImagePath, CriuWorkPath).
 * An absent Any gives the defaults. An unknown type URL is INVALID_ARGUMENT.
 *
 * Create persists them in <bundle>/options.json (JSON) and <bundle>/runtime
 * (the binary name) so the `delete` action can clean up with the same
 * runtime after the shim is gone.
 *
 * Ownership: the struct owns its strings; ps_options_clear() frees them. */
#ifndef PS_TASK_OPTIONS_H
#define PS_TASK_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

#define PS_DEFAULT_RUNTIME      "runc"
#define PS_DEFAULT_RUNTIME_ROOT "/run/containerd/runc"

struct ps_options {
        char *binary_name; /* never NULL after decode/load: default "runc" */
        char *root;        /* never NULL after decode/load: default PS_DEFAULT_RUNTIME_ROOT */
        char *criu_path;
        char *shim_cgroup;
        char *criu_image_path;
        char *criu_work_path;
        bool systemd_cgroup;
        bool no_pivot_root;
        bool no_new_keyring;
        uid_t io_uid;
        gid_t io_gid;
};

int ps_options_decode(const char *type_url, const uint8_t *value, size_t len,
                      struct ps_options *ret, struct ps_err **err);
int ps_options_defaults(struct ps_options *ret, struct ps_err **err);
int ps_options_save(const char *bundle, const struct ps_options *o, struct ps_err **err);
int ps_options_load(const char *bundle, struct ps_options *ret, struct ps_err **err);
void ps_options_clear(struct ps_options *o);

#endif
