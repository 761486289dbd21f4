/* containerd.types.RuntimeInfo: what `<shim> -info` prints for containerd
 * 2.x (pkg/shim's -info; core/runtime/v2/task_manager.go reads it before a
 * task with idmapped mounts and requires `features`). Plain inputs in, the
 * protobuf bytes out: the shim layer gathers the facts, only this module
 * knows the message. */
#ifndef PS_API_RUNTIME_INFO_H
#define PS_API_RUNTIME_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* The type URL containerd registers for runtime-spec's features.Features,
 * whose Any value is the features document as JSON. */
#define PS_FEATURES_TYPE_URL "types.containerd.io/opencontainers/runtime-spec/1/features/Features"

struct ps_runtime_info {
        const char *name;     /* the runtime type, e.g. io.containerd.podshim.v2 */
        const char *version;  /* podshim's version */
        const char *revision; /* NULL or "": none */
        /* the options Any as received (marshalled google.protobuf.Any),
         * echoed as RuntimeInfo.options; len 0: none */
        const uint8_t *options;
        size_t options_len;
        /* the OCI runtime's features JSON, sent as is; NULL: no features */
        const char *features;
        size_t features_len;
};

/* Encodes *info into a malloc'd buffer the caller frees. Options that are
 * not a protobuf Any are INVALID_ARGUMENT. */
int ps_runtime_info_pack(const struct ps_runtime_info *info, uint8_t **ret_buf, size_t *ret_len,
                         struct ps_err **err);

#endif
