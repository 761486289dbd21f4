/* libFuzzer target: the OCI config.json loader (ps_spec_parse) on arbitrary
 * bytes, exactly as read from a bundle: not NUL-terminated, any length up to
 * the 4 MiB limit.
 *
 * Beyond "no crash, no leak, no sanitizer report", a spec that parses must
 * hold what the header promises: a JSON object with a "process" object and
 * root.path, and every extracted pointer must point into the tree (which
 * ASan checks when we read through it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "oci/spec.h"

static void check_spec(const struct ps_spec *s)
{
        volatile size_t sink = 0;

        if (!cJSON_IsObject(s->json) || !s->root_path ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(s->json, "process")))
                abort();
        if (s->netns_path && !s->has_netns)
                abort();
        /* read every borrowed string to the end, under ASan */
        sink += strlen(s->root_path);
        if (s->hostname)
                sink += strlen(s->hostname);
        if (s->cgroups_path)
                sink += strlen(s->cgroups_path);
        if (s->netns_path)
                sink += strlen(s->netns_path);
        (void)sink;
        (void)ps_spec_annotation(s, "io.kubernetes.cri.container-type");
        (void)ps_spec_annotation(s, "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ps_spec *s = NULL;
        struct ps_err *e = NULL;
        static int once;

        if (!once++)
                ps_log_setup(PS_LOG_ERROR, NULL, NULL);
        if (ps_spec_parse((const char *)data, size, &s, &e) < 0) {
                /* a failure says why, as INVALID_ARGUMENT (containerd branches
                 * on the code), and sets nothing */
                if (!e || !ps_err_msg(e) || e->code != PS_INVALID_ARGUMENT || s)
                        abort();
                ps_err_free(e);
                return 0;
        }
        if (e)
                abort();
        check_spec(s);
        ps_spec_free(s);
        return 0;
}
