#include "shim/profile.h"

#include <string.h>

void ps_shim_profile(const char *argv0, const char *vm_config, struct ps_options_profile *ret)
{
        const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
        const char *name = slash ? slash + 1 : argv0 ? argv0 : "";

        if (strcmp(name, PS_SHIM_VM_BINARY) == 0) {
                *ret = (struct ps_options_profile){
                    .runtime_type = PS_RUNTIME_TYPE_VM,
                    .system_config = vm_config && *vm_config ? vm_config : PS_VM_SYSTEM_CONFIG,
                    .backend = PS_BACKEND_VM,
                    .config_under_options = true};
                return;
        }
        *ret = (struct ps_options_profile){.runtime_type = PS_RUNTIME_TYPE,
                                           .system_config = PS_SYSTEM_CONFIG};
}

bool ps_shim_profile_is_vm(const struct ps_options_profile *p)
{
        return p && p->runtime_type && strcmp(p->runtime_type, PS_RUNTIME_TYPE_VM) == 0;
}
