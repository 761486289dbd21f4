#include "shim/info.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/options.h"
#include "api/runtime_info.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/version.h"
#include "oci/options.h"
#include "shim/probe.h"
#include "shim/stdin.h"

#define FEATURES_MAX        (1u << 20)
#define FEATURES_TIMEOUT_MS 5000

struct features {
        char *json; /* NULL: none */
        size_t len;
        char *why; /* why there are none, for the note on stderr */
};

static void features_clear(struct features *f)
{
        free(f->json);
        free(f->why);
        *f = (struct features){0};
}

/* The document must be one JSON object and nothing else: containerd
 * decodes it into runtime-spec's features.Features. */
static bool is_json_object(const char *buf, size_t len)
{
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, false);
        bool ok = cJSON_IsObject(j);

        cJSON_Delete(j);
        if (!ok || !end)
                return false;
        for (; end < buf + len; end++) {
                if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
                        return false;
        }
        return true;
}

/* `<binary> features`. Whatever goes wrong leaves f->json NULL and says
 * why in f->why. */
static void query_features(const char *binary, struct features *f)
{
        _cleanup_free_ char *out = NULL;
        size_t len = 0;

        if (ps_probe_output(binary, "features", FEATURES_MAX, FEATURES_TIMEOUT_MS, &out, &len,
                            &f->why) < 0)
                return;
        if (!is_json_object(out, len)) {
                free(f->why);
                f->why = strdup("the output is not a JSON object");
                return;
        }
        f->json = TAKE_PTR(out);
        f->len = len;
}

static int fail(struct ps_err *e)
{
        fprintf(stderr, "containerd-shim-podshim-v2 -info: %s\n", ps_err_msg(e));
        ps_err_free(e);
        return 1;
}

int ps_info_action(const struct ps_options_profile *p)
{
        _cleanup_free_ char *in = NULL, *binary = NULL;
        _cleanup_free_ uint8_t *out = NULL;
        struct features feat = {0};
        struct ps_options o = {0};
        struct ps_err *e = NULL;
        size_t in_len = 0, out_len = 0;
        int r;

        if (ps_read_stdin(&in, &in_len, &e) < 0 ||
            ps_options_decode_any_for(p, (const uint8_t *)in, in_len, &o, &e) < 0)
                return fail(e);
        binary = ps_probe_look_path(o.binary_name, &e);
        ps_options_clear(&o);
        if (!binary)
                return fail(e);
        query_features(binary, &feat);
        if (!feat.json)
                fprintf(stderr,
                        "containerd-shim-podshim-v2 -info: %s features: %s; "
                        "answering without features\n",
                        binary, feat.why ? feat.why : "out of memory");
        struct ps_runtime_info info = {.name = p->runtime_type,
                                       .version = ps_build_version,
                                       .revision = ps_build_revision,
                                       .options = (const uint8_t *)in,
                                       .options_len = in_len,
                                       .features = feat.json,
                                       .features_len = feat.len};
        r = ps_runtime_info_pack(&info, &out, &out_len, &e);
        features_clear(&feat);
        if (r < 0)
                return fail(e);
        /* the only write to stdout: all of the message, or an error */
        if (ps_write_all(STDOUT_FILENO, out, out_len) < 0) {
                ps_err_errno(&e, errno, PS_UNKNOWN, "write the answer");
                return fail(e);
        }
        return 0;
}
