/* Which runtime type this shim serves, told by the name containerd ran it
 * under: containerd turns runtime type io.containerd.<name>.v2 into the
 * binary containerd-shim-<name>-v2 (its runtime/v2 shim binary naming),
 * so the one binary, installed a second time as a symlink, serves
 *   containerd-shim-podshim-v2     io.containerd.podshim.v2     (the Linux backend)
 *   containerd-shim-podshim-vm-v2  io.containerd.podshim-vm.v2  (VM pods)
 * The name changes the options' defaults and nothing else
 * (oci/options.h, struct ps_options_profile): a handler needs no options
 * to get VM pods, which is the only way under containerd 2.x's shim
 * sandboxer, and a task's explicit options still win. The name also salts
 * the socket (shim/address.h), so a task of one type never joins a shim of
 * the other. Any other name is the first. */
#ifndef PS_SHIM_PROFILE_H
#define PS_SHIM_PROFILE_H

#include <stdbool.h>

#include "oci/options.h"

#define PS_SHIM_BINARY     "containerd-shim-podshim-v2"
#define PS_SHIM_VM_BINARY  "containerd-shim-podshim-vm-v2"
#define PS_RUNTIME_TYPE    "io.containerd.podshim.v2"
#define PS_RUNTIME_TYPE_VM "io.containerd.podshim-vm.v2"
/* Another path for PS_VM_SYSTEM_CONFIG (an operator's, or a test's), read
 * from the environment containerd gives its shims. */
#define PS_VM_CONFIG_ENV "PODSHIM_VM_CONFIG"

/* The profile for argv0 (a path or a bare name; only its last component
 * counts); vm_config overrides PS_VM_SYSTEM_CONFIG when set and non-empty.
 * The strings in *ret are static or vm_config itself (borrowed). */
void ps_shim_profile(const char *argv0, const char *vm_config, struct ps_options_profile *ret);
/* True for the VM runtime type's profile. */
bool ps_shim_profile_is_vm(const struct ps_options_profile *p);

#endif
