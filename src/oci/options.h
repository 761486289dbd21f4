/* Runtime options: which OCI runtime binary, its root, cgroup driver, io
 * owner, criu paths. api/options.h decodes them from what containerd sends
 * (three wire forms); this module holds the plain struct, its defaults,
 * podshim's own TOML-subset config file (flat `Key = "string" | true |
 * false | 123` lines, `#` comments; keys as in runc.v1 Options: BinaryName,
 * Root, CriuPath, SystemdCgroup, NoPivotRoot, NoNewKeyring, IoUid, IoGid,
 * ShimCgroup, CriuImagePath, CriuWorkPath; and podshim's own: Backend,
 * "linux" (the default) or "vm" (docs/vm-backend.md), and the VM's
 * VMKernel, VMInitrd, VMRoot, VMAgent, VMAccel, VMCPU, VMDefaultCPUs,
 * VMDefaultMemoryMiB) and the copy kept in the bundle.
 *
 * Create persists them in <bundle>/options.json (JSON) and <bundle>/runtime
 * (the binary name) so the `delete` action can clean up with the same
 * runtime after the shim is gone.
 *
 * Ownership: the struct owns its strings; ps_options_clear() frees them. */
#ifndef PS_OCI_OPTIONS_H
#define PS_OCI_OPTIONS_H

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
        /* which backend runs a pod (its sandbox task); NULL means "linux" */
        char *backend;
        /* the vm backend's machine (sandbox/vm/qemu.h); vm_root is the
         * guest's root directory, vm_agent the agent's path in it */
        char *vm_kernel, *vm_initrd, *vm_root, *vm_agent, *vm_accel, *vm_cpu;
        uint32_t vm_cpus, vm_memory_mib;
};

#define PS_BACKEND_LINUX "linux"
#define PS_BACKEND_VM    "vm"

/* Every unset field to its default (binary "runc", root
 * PS_DEFAULT_RUNTIME_ROOT). */
int ps_options_fill_defaults(struct ps_options *o, struct ps_err **err);
/* Replaces *slot with a copy of v (NULL or "" leaves it). */
int ps_options_set_str(char **slot, const char *v, struct ps_err **err);
/* Applies the config file at `path` on top of *o. Keys are the Go field
 * names of runc's options (BinaryName, SystemdCgroup, ...), matched without
 * regard to case as containerd matches them for runc. A key this config
 * does not know, or a line that is not `Key = value`, is INVALID_ARGUMENT
 * with its file and line: an operator's mistake is never ignored. */
int ps_options_read_config(const char *path, struct ps_options *o, struct ps_err **err);
/* The same for config text given inline (runtimeoptions' config_body: the
 * handler's options table, where the keys of runtimeoptions.v1.Options
 * itself, TypeUrl and an empty ConfigPath, may remain and are skipped). */
int ps_options_parse_config(const char *text, size_t len, struct ps_options *o,
                            struct ps_err **err);
/* The options of a task given none: the built-in defaults, with the system
 * config PS_SYSTEM_CONFIG (the packaged /etc/podshim/config.toml) applied
 * on top when that file exists, so that what an operator writes there
 * holds for `ctr run` without a config path as for the shipped CRI
 * handlers that name it. A broken system config is an error, not ignored. */
#define PS_SYSTEM_CONFIG "/etc/podshim/config.toml"
int ps_options_defaults(struct ps_options *ret, struct ps_err **err);
/* The same with the system config at `path` (NULL: none). */
int ps_options_defaults_from(const char *path, struct ps_options *ret, struct ps_err **err);

/* What the runtime type a shim serves makes of the defaults (shim/profile.h
 * picks one by the name containerd ran the binary under). It changes
 * defaults only: whatever a task's options say explicitly wins.
 *  - io.containerd.podshim.v2: the built-in defaults, PS_SYSTEM_CONFIG on
 *    top for a task given no options; explicit options start from the
 *    built-in defaults alone (a handler's ConfigPath is the whole config);
 *  - io.containerd.podshim-vm.v2: Backend = "vm", PS_VM_SYSTEM_CONFIG on
 *    top, and that is the base of every task's options, explicit or not:
 *    containerd 2.x's shim sandboxer sends a VM handler no options of its
 *    own (only runc's, naming the task API address), so the VM's machine
 *    (VMKernel, VMInitrd, ...) can only come from there. */
#define PS_VM_SYSTEM_CONFIG "/etc/podshim/vm.toml"
struct ps_options_profile {
        const char *runtime_type;  /* for messages */
        const char *system_config; /* applied when the file exists; NULL: none */
        const char *backend;       /* the default Backend; NULL: linux */
        bool config_under_options; /* the defaults are the base of explicit options too */
};
/* The defaults of a task given no options under profile p. */
int ps_options_profile_defaults(const struct ps_options_profile *p, struct ps_options *ret,
                                struct ps_err **err);
/* What a task's explicit options are applied on: all zero (NULL p, or a
 * profile without config_under_options) or p's defaults. Not yet filled
 * with the built-in defaults' binary and root when zero. */
int ps_options_profile_base(const struct ps_options_profile *p, struct ps_options *ret,
                            struct ps_err **err);
int ps_options_save(const char *bundle, const struct ps_options *o, struct ps_err **err);
int ps_options_load(const char *bundle, struct ps_options *ret, struct ps_err **err);
/* A deep copy; *dst is overwritten (not cleared first). */
int ps_options_copy(struct ps_options *dst, const struct ps_options *src, struct ps_err **err);
void ps_options_clear(struct ps_options *o);

#endif
