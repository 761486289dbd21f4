#include "oci/spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"

static const char *str_field(const cJSON *obj, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool bool_field(const cJSON *obj, const char *key)
{
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static int validate_process(const cJSON *process, struct ps_err **err)
{
        const cJSON *args, *cwd, *a;

        if (!cJSON_IsObject(process))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: \"process\" must be an object");
        args = cJSON_GetObjectItemCaseSensitive(process, "args");
        if (args && !cJSON_IsArray(args))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: process.args must be an array");
        cJSON_ArrayForEach(a, args)
        {
                if (!cJSON_IsString(a))
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "spec: process.args must hold strings");
        }
        cwd = cJSON_GetObjectItemCaseSensitive(process, "cwd");
        if (!cJSON_IsString(cwd))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: process.cwd must be a string");
        return 0;
}

/* linux.namespaces: what the shim needs to know about pid and network. */
static int read_namespaces(const cJSON *linux_obj, struct ps_spec *s, struct ps_err **err)
{
        const cJSON *nss = cJSON_GetObjectItemCaseSensitive(linux_obj, "namespaces"), *ns;

        if (!nss)
                return 0;
        if (!cJSON_IsArray(nss))
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "spec: linux.namespaces must be an array");
        cJSON_ArrayForEach(ns, nss)
        {
                const char *type = str_field(ns, "type"), *path = str_field(ns, "path");

                if (!cJSON_IsObject(ns) || !type)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "spec: linux.namespaces entries need a \"type\"");
                if (path && !*path)
                        path = NULL;
                if (strcmp(type, "pid") == 0) {
                        s->private_pid_ns = path == NULL;
                } else if (strcmp(type, "network") == 0) {
                        s->has_netns = true;
                        s->netns_path = path;
                }
        }
        return 0;
}

static int spec_fill(struct ps_spec *s, struct ps_err **err)
{
        const cJSON *process, *root, *linux_obj;

        if (!cJSON_IsObject(s->json))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: not a JSON object");
        process = cJSON_GetObjectItemCaseSensitive(s->json, "process");
        if (!process)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: \"process\" is missing");
        if (validate_process(process, err) < 0)
                return -1;
        root = cJSON_GetObjectItemCaseSensitive(s->json, "root");
        if (!cJSON_IsObject(root) || !str_field(root, "path"))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: root.path is missing");

        s->terminal = bool_field(process, "terminal");
        s->root_path = str_field(root, "path");
        s->root_readonly = bool_field(root, "readonly");
        s->hostname = str_field(s->json, "hostname");
        linux_obj = cJSON_GetObjectItemCaseSensitive(s->json, "linux");
        if (linux_obj && !cJSON_IsObject(linux_obj))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: \"linux\" must be an object");
        if (!linux_obj)
                return 0;
        s->cgroups_path = str_field(linux_obj, "cgroupsPath");
        return read_namespaces(linux_obj, s, err);
}

int ps_spec_parse(const char *json, size_t len, struct ps_spec **ret, struct ps_err **err)
{
        struct ps_spec *s;
        const char *end = NULL;

        if (len > PS_SPEC_MAX_SIZE)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: larger than %u bytes",
                                  PS_SPEC_MAX_SIZE);
        s = calloc(1, sizeof(*s));
        if (!s)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "spec");
        s->json = cJSON_ParseWithLengthOpts(json, len, &end, false);
        if (!s->json) {
                ps_spec_free(s);
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: not valid JSON");
        }
        /* cJSON stops after the first value; anything but blanks after it is
         * a malformed file, not a spec with a harmless tail. */
        while (end && end < json + len &&
               (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t' || *end == '\0'))
                end++;
        if (end && end < json + len) {
                ps_spec_free(s);
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: trailing data after JSON");
        }
        if (spec_fill(s, err) < 0) {
                ps_spec_free(s);
                return -1;
        }
        *ret = s;
        return 0;
}

int ps_spec_load(const char *bundle, struct ps_spec **ret, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t len = 0;

        if (asprintf(&path, "%s/config.json", bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "spec");
        if (ps_read_file(path, PS_SPEC_MAX_SIZE, &buf, &len, err) < 0)
                return ps_err_prefix(err, "load spec");
        if (ps_spec_parse(buf, len, ret, err) < 0)
                return ps_err_prefix(err, "%s", path);
        return 0;
}

const char *ps_spec_annotation(const struct ps_spec *s, const char *key)
{
        const cJSON *ann;

        if (!s || !key)
                return NULL;
        ann = cJSON_GetObjectItemCaseSensitive(s->json, "annotations");
        return cJSON_IsObject(ann) ? str_field(ann, key) : NULL;
}

struct ps_spec *ps_spec_free(struct ps_spec *s)
{
        if (s) {
                cJSON_Delete(s->json);
                free(s);
        }
        return NULL;
}
