/* A pod VM's size from CRI's pod resource annotations on the sandbox spec
 * (sandbox/vm/sizing.h). */
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "check.h"
#include "oci/spec.h"
#include "sandbox/vm/sizing.h"

/* A sandbox spec with the given annotations (a JSON object's members). */
static struct ps_spec *spec_with(const char *annotations)
{
        struct ps_spec *s = NULL;
        _cleanup_err_ struct ps_err *err = NULL;
        char json[1024];

        snprintf(json, sizeof(json),
                 "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"/pause\"], \"cwd\": "
                 "\"/\"}, \"root\": {\"path\": \"rootfs\"}, \"annotations\": {%s}}",
                 annotations);
        CHECK_INTEQ(ps_spec_parse(json, strlen(json), &s, &err), 0);
        return s;
}

static unsigned online(void)
{
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned)n : 1;
}

static unsigned min_u(unsigned a, unsigned b)
{
        return a < b ? a : b;
}

static void test_base_only(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_vm_size sz;
        struct ps_spec *s = spec_with("\"io.kubernetes.cri.container-type\": \"sandbox\"");

        CHECK_INTEQ(ps_vm_size_for_pod(NULL, 0, 0, &sz, &err), 0);
        CHECK_INTEQ(sz.vcpus, PS_VM_BASE_VCPUS);
        CHECK_INTEQ(sz.mem_mib, PS_VM_BASE_MEM_MIB);
        CHECK_INTEQ(ps_vm_size_for_pod(s, 1, 128, &sz, &err), 0);
        CHECK_INTEQ(sz.vcpus, 1);
        CHECK_INTEQ(sz.mem_mib, 128);
        ps_spec_free(s);
}

static void test_pod_limits_on_top(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_vm_size sz;
        /* 1.5 CPUs (rounded up to 2) and 512 MiB + 1 byte (rounded up) */
        struct ps_spec *s = spec_with("\"io.kubernetes.cri.sandbox-cpu-period\": \"100000\", "
                                      "\"io.kubernetes.cri.sandbox-cpu-quota\": \"150000\", "
                                      "\"io.kubernetes.cri.sandbox-memory\": \"536870913\"");

        CHECK_INTEQ(ps_vm_size_for_pod(s, 0, 0, &sz, &err), 0);
        CHECK_INTEQ(sz.vcpus, min_u(PS_VM_BASE_VCPUS + 2, online()));
        CHECK_INTEQ(sz.mem_mib, PS_VM_BASE_MEM_MIB + 513);
        ps_spec_free(s);
}

static void test_capped_at_host_cpus(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_vm_size sz;
        struct ps_spec *s = spec_with("\"io.kubernetes.cri.sandbox-cpu-period\": \"100000\", "
                                      "\"io.kubernetes.cri.sandbox-cpu-quota\": \"6400000\"");

        CHECK_INTEQ(ps_vm_size_for_pod(s, 0, 0, &sz, &err), 0);
        CHECK_INTEQ(sz.vcpus, min_u(65, online()));
        ps_spec_free(s);
}

/* A quota without a period (or -1: unlimited, as CRI sends none) adds no
 * vCPU; a memory limit of 0 adds nothing. */
static void test_no_limit(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_vm_size sz;
        struct ps_spec *s = spec_with("\"io.kubernetes.cri.sandbox-cpu-quota\": \"150000\", "
                                      "\"io.kubernetes.cri.sandbox-memory\": \"0\"");

        CHECK_INTEQ(ps_vm_size_for_pod(s, 2, 300, &sz, &err), 0);
        CHECK_INTEQ(sz.vcpus, min_u(2, online()));
        CHECK_INTEQ(sz.mem_mib, 300);
        ps_spec_free(s);
}

static void test_refused(void)
{
        static const char *const bad[] = {
            "\"io.kubernetes.cri.sandbox-memory\": \"-1\"",
            "\"io.kubernetes.cri.sandbox-memory\": \"1G\"",
            "\"io.kubernetes.cri.sandbox-cpu-quota\": \"x\"",
            "\"io.kubernetes.cri.sandbox-cpu-period\": \"99999999999999999999999\"",
            "\"io.kubernetes.cri.sandbox-memory\": \"9223372036854775807\"",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_err_ struct ps_err *err = NULL;
                struct ps_vm_size sz = {0};
                struct ps_spec *s = spec_with(bad[i]);

                CHECK(ps_vm_size_for_pod(s, 0, 0, &sz, &err) < 0);
                CHECK(err && err->code == PS_INVALID_ARGUMENT);
                ps_spec_free(s);
        }
}

/* A container outside any pod: its own linux.resources on top of the base;
 * unlimited (negative) or unset adds nothing. */
static void test_container_resources(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_vm_size sz;
        struct ps_spec *s = NULL, *unlimited = NULL;
        const char *json =
            "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"}, "
            "\"root\": {\"path\": \"rootfs\"}, \"linux\": {\"resources\": {\"cpu\": "
            "{\"quota\": 150000, \"period\": 100000}, \"memory\": {\"limit\": 134217729}}}}";
        const char *json_unlimited =
            "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"}, "
            "\"root\": {\"path\": \"rootfs\"}, \"linux\": {\"resources\": {\"cpu\": "
            "{\"quota\": -1, \"period\": 100000}, \"memory\": {\"limit\": -1}}}}";

        CHECK_INTEQ(ps_spec_parse(json, strlen(json), &s, &err), 0);
        CHECK_INTEQ(ps_spec_parse(json_unlimited, strlen(json_unlimited), &unlimited, &err), 0);
        CHECK_INTEQ(ps_vm_size_for_container(s, 1, 200, &sz, &err), 0);
        CHECK_INTEQ(sz.vcpus, min_u(3, online()));
        CHECK_INTEQ(sz.mem_mib, 200 + 129);
        CHECK_INTEQ(ps_vm_size_for_container(unlimited, 0, 0, &sz, &err), 0);
        CHECK_INTEQ(sz.vcpus, PS_VM_BASE_VCPUS);
        CHECK_INTEQ(sz.mem_mib, PS_VM_BASE_MEM_MIB);
        CHECK_INTEQ(ps_vm_size_for_container(NULL, 2, 300, &sz, &err), 0);
        CHECK_INTEQ(sz.vcpus, min_u(2, online()));
        CHECK_INTEQ(sz.mem_mib, 300);
        ps_spec_free(s);
        ps_spec_free(unlimited);
}

int main(void)
{
        RUN(test_base_only);
        RUN(test_pod_limits_on_top);
        RUN(test_capped_at_host_cpus);
        RUN(test_no_limit);
        RUN(test_refused);
        RUN(test_container_resources);
        return check_summary();
}
