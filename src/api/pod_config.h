/* CreateSandboxRequest.options: CRI's runtime.v1.PodSandboxConfig, which
 * containerd 2.x's shim controller passes as an Any of type URL
 * "runtime.v1.PodSandboxConfig" (gogo's marshalling of the message CRI got
 * from kubelet), decoded into the plain sandbox/pod_spec.h config.
 *
 * A missing Any, another type URL, bytes that are no such message and a
 * config past the spec limits (oci/spec.h: more sysctls than
 * PS_SPEC_MAX_SYSCTLS) are INVALID_ARGUMENT; fields podshim does not read
 * are skipped (protobuf unknown fields).
 *
 * Ownership: the config borrows its strings from the decoded message,
 * which the holder owns; ps_api_pod_config_clear() frees both. */
#ifndef PS_API_POD_CONFIG_H
#define PS_API_POD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "sandbox/pod_spec.h"

#define PS_POD_CONFIG_TYPE_URL "runtime.v1.PodSandboxConfig"

struct ps_api_pod_config {
        struct ps_pod_config cfg;
        void *msg;                          /* the decoded Runtime__V1__PodSandboxConfig */
        struct ps_spec_kv *sysctls;         /* cfg.sysctls: pointers into msg */
        struct ps_idmap *uid_map, *gid_map; /* cfg's maps: owned copies */
};

/* type_url NULL or "" means no options. On failure *ret is left cleared. */
int ps_api_pod_config_decode(const char *type_url, const uint8_t *value, size_t len,
                             struct ps_api_pod_config *ret, struct ps_err **err);
void ps_api_pod_config_clear(struct ps_api_pod_config *c);

#endif
