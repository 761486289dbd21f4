#include "api/runtime_info.h"

#include <errno.h>
#include <stdlib.h>

#include "containerd/types/introspection.pb-c.h"
#include "google/protobuf/any.pb-c.h"

int ps_runtime_info_pack(const struct ps_runtime_info *info, uint8_t **ret_buf, size_t *ret_len,
                         struct ps_err **err)
{
        Containerd__Types__RuntimeInfo m = CONTAINERD__TYPES__RUNTIME_INFO__INIT;
        Containerd__Types__RuntimeVersion v = CONTAINERD__TYPES__RUNTIME_VERSION__INIT;
        Google__Protobuf__Any features = GOOGLE__PROTOBUF__ANY__INIT;
        Google__Protobuf__Any *options = NULL;
        uint8_t *buf;
        size_t len;

        m.name = (char *)(uintptr_t)info->name;
        v.version = (char *)(uintptr_t)info->version;
        if (info->revision)
                v.revision = (char *)(uintptr_t)info->revision;
        m.version = &v;
        if (info->options_len) {
                options = google__protobuf__any__unpack(NULL, info->options_len, info->options);
                if (!options)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "options are not a protobuf Any");
                m.options = options;
        }
        if (info->features) {
                features.type_url = PS_FEATURES_TYPE_URL;
                features.value.data = (uint8_t *)(uintptr_t)info->features;
                features.value.len = info->features_len;
                m.features = &features;
        }
        len = containerd__types__runtime_info__get_packed_size(&m);
        /* +1: an empty message is valid and malloc(0) may return NULL */
        buf = malloc(len + 1);
        if (!buf) {
                google__protobuf__any__free_unpacked(options, NULL);
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "runtime info");
        }
        containerd__types__runtime_info__pack(&m, buf);
        google__protobuf__any__free_unpacked(options, NULL);
        *ret_buf = buf;
        *ret_len = len;
        return 0;
}
