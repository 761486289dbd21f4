/* A pod VM's size from the pod's resources: what CRI puts on the sandbox's
 * spec as annotations (containerd's pkg/cri annotations SandboxCPUPeriod,
 * SandboxCPUQuota, SandboxMem: the sum of the containers' limits, which
 * kubelet sends in PodSandboxConfig.linux.resources from 1.23 on) added to
 * the handler's base size (VMDefaultCPUs, VMDefaultMemoryMiB): the base is
 * what the guest's kernel and agent need, the pod's limits come on top, so
 * a pod limited to 512 MiB gets a VM whose containers can use 512 MiB. As
 * Kata's static sizing does; no hotplug.
 *
 * vCPUs: base + ceil(quota / period) when both are positive, at most the
 * host's online CPUs (more vCPUs than CPUs only adds contention) and 255.
 * Memory: base + the limit in MiB rounded up. A pod without limits (or a
 * containerd that sends none, as 1.6 for its pause spec may not) gets the
 * base alone. An annotation that is not a decimal number, or is negative,
 * is INVALID_ARGUMENT naming it: a VM sized on a misread limit would be
 * worse than none. */
#ifndef PS_SANDBOX_VM_SIZING_H
#define PS_SANDBOX_VM_SIZING_H

#include "base/error.h"

struct ps_spec;

#define PS_VM_BASE_VCPUS   1
#define PS_VM_BASE_MEM_MIB 256

struct ps_vm_size {
        unsigned vcpus;
        unsigned mem_mib;
};

/* base_vcpus, base_mem_mib: the handler's (0: PS_VM_BASE_*); spec may be
 * NULL (base size). */
int ps_vm_size_for_pod(const struct ps_spec *spec, unsigned base_vcpus, unsigned base_mem_mib,
                       struct ps_vm_size *ret, struct ps_err **err);

/* The VM of a container outside any pod (sandbox/vm/solo.h): the same base
 * plus the container's own linux.resources (cpu quota / period, the memory
 * limit), with the same rounding and caps; an unlimited (negative) or unset
 * value adds nothing. spec may be NULL (base size). */
int ps_vm_size_for_container(const struct ps_spec *spec, unsigned base_vcpus, unsigned base_mem_mib,
                             struct ps_vm_size *ret, struct ps_err **err);

#endif
