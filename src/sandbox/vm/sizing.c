#include "sandbox/vm/sizing.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "oci/spec.h"

#define ANN_CPU_PERIOD "io.kubernetes.cri.sandbox-cpu-period"
#define ANN_CPU_QUOTA  "io.kubernetes.cri.sandbox-cpu-quota"
#define ANN_MEMORY     "io.kubernetes.cri.sandbox-memory"
#define MAX_VCPUS      255
#define MIB            (1024 * 1024)

/* The annotation as a number >= 0; 0 when absent or empty. */
static int annotation_i64(const struct ps_spec *spec, const char *key, int64_t *ret,
                          struct ps_err **err)
{
        const char *v = spec ? ps_spec_annotation(spec, key) : NULL;
        char *end;
        long long n;

        *ret = 0;
        if (!v || !*v)
                return 0;
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno || *end || end == v || n < 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "vm: annotation %s=\"%.64s\": not a "
                                  "count >= 0",
                                  key, v);
        *ret = n;
        return 0;
}

/* base + ceil(quota / period) vCPUs, capped; base + ceil(mem / MiB) MiB. */
static int size_of(int64_t period, int64_t quota, int64_t mem, unsigned base_vcpus,
                   unsigned base_mem_mib, struct ps_vm_size *ret, struct ps_err **err)
{
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        uint64_t vcpus = base_vcpus ? base_vcpus : PS_VM_BASE_VCPUS;
        uint64_t mib = base_mem_mib ? base_mem_mib : PS_VM_BASE_MEM_MIB;

        if (period > 0 && quota > 0)
                vcpus += (uint64_t)(quota + period - 1) / (uint64_t)period;
        if (online > 0 && vcpus > (uint64_t)online)
                vcpus = (uint64_t)online;
        if (vcpus > MAX_VCPUS)
                vcpus = MAX_VCPUS;
        if (mem > 0)
                mib += ((uint64_t)mem + MIB - 1) / MIB;
        if (mib > UINT32_MAX)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "vm: %llu MiB of memory",
                                  (unsigned long long)mib);
        *ret = (struct ps_vm_size){.vcpus = (unsigned)vcpus, .mem_mib = (unsigned)mib};
        return 0;
}

int ps_vm_size_for_pod(const struct ps_spec *spec, unsigned base_vcpus, unsigned base_mem_mib,
                       struct ps_vm_size *ret, struct ps_err **err)
{
        int64_t period, quota, mem;

        if (annotation_i64(spec, ANN_CPU_PERIOD, &period, err) < 0 ||
            annotation_i64(spec, ANN_CPU_QUOTA, &quota, err) < 0 ||
            annotation_i64(spec, ANN_MEMORY, &mem, err) < 0)
                return -1;
        return size_of(period, quota, mem, base_vcpus, base_mem_mib, ret, err);
}

int ps_vm_size_for_container(const struct ps_spec *spec, unsigned base_vcpus, unsigned base_mem_mib,
                             struct ps_vm_size *ret, struct ps_err **err)
{
        const struct ps_spec_resources *r = spec ? &spec->resources : NULL;
        int64_t period = r && r->cpu_period <= INT64_MAX ? (int64_t)r->cpu_period : 0;

        return size_of(period, r ? r->cpu_quota : 0, r ? r->memory_limit : 0, base_vcpus,
                       base_mem_mib, ret, err);
}
