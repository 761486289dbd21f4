#include "oci/spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"

static const char *const ns_names[PS_SPEC_NS_COUNT] = {
    [PS_SPEC_NS_PID] = "pid",       [PS_SPEC_NS_NETWORK] = "network", [PS_SPEC_NS_MOUNT] = "mount",
    [PS_SPEC_NS_IPC] = "ipc",       [PS_SPEC_NS_UTS] = "uts",         [PS_SPEC_NS_USER] = "user",
    [PS_SPEC_NS_CGROUP] = "cgroup", [PS_SPEC_NS_TIME] = "time"};

/* ---- typed access to one member ------------------------------------------
 * Each getter takes the parent object (NULL: absent as a whole), the key and
 * the member's name for the error, and writes its out-param only on
 * success: the zero value when the member is absent or JSON null. */

static const cJSON *member(const cJSON *obj, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

        return cJSON_IsNull(v) ? NULL : v;
}

static int bad(struct ps_err **err, const char *what, const char *must)
{
        return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: %s must be %s", what, must);
}

static int get_object(const cJSON *obj, const char *key, const char *what, const cJSON **ret,
                      struct ps_err **err)
{
        const cJSON *v = member(obj, key);

        if (v && !cJSON_IsObject(v))
                return bad(err, what, "an object");
        *ret = v;
        return 0;
}

static int get_bool(const cJSON *obj, const char *key, const char *what, bool *ret,
                    struct ps_err **err)
{
        const cJSON *v = member(obj, key);

        if (v && !cJSON_IsBool(v))
                return bad(err, what, "a boolean");
        *ret = cJSON_IsTrue(v);
        return 0;
}

/* A copy of the string, at most `max` bytes. */
static int get_string(const cJSON *obj, const char *key, const char *what, size_t max, char **ret,
                      struct ps_err **err)
{
        const cJSON *v = member(obj, key);
        char *s = NULL;

        if (v && (!cJSON_IsString(v) || !v->valuestring))
                return bad(err, what, "a string");
        if (v && strlen(v->valuestring) > max)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: %s is longer than %zu bytes",
                                  what, max);
        if (v && !(s = strdup(v->valuestring)))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "spec");
        *ret = s;
        return 0;
}

/* Where an empty string means the same as none. */
static int get_nonempty_string(const cJSON *obj, const char *key, const char *what, size_t max,
                               char **ret, struct ps_err **err)
{
        char *s;

        if (get_string(obj, key, what, max, &s, err) < 0)
                return -1;
        if (s && !*s) {
                free(s);
                s = NULL;
        }
        *ret = s;
        return 0;
}

/* cJSON holds numbers as doubles: an integer is one that survives the
 * round trip. INT64_MAX and UINT64_MAX are not doubles; written out they
 * read as 2^63 and 2^64, which therefore count as those bounds. */
#define TWO_63 9223372036854775808.0
#define TWO_64 18446744073709551616.0

static int get_i64(const cJSON *obj, const char *key, const char *what, int64_t min, int64_t max,
                   bool *ret_present, int64_t *ret, struct ps_err **err)
{
        const cJSON *v = member(obj, key);
        double d;
        int64_t i;

        if (!v) {
                *ret_present = false;
                *ret = 0;
                return 0;
        }
        d = v->valuedouble;
        if (!cJSON_IsNumber(v) || !(d >= -TWO_63 && d <= TWO_63))
                return bad(err, what, "an integer");
        i = d == TWO_63 ? INT64_MAX : (int64_t)d;
        if (d != TWO_63 && (double)i != d)
                return bad(err, what, "an integer");
        if (i < min || i > max)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "spec: %s must be within %" PRId64 "..%" PRId64, what, min, max);
        *ret_present = true;
        *ret = i;
        return 0;
}

static int get_u64(const cJSON *obj, const char *key, const char *what, uint64_t max, uint64_t *ret,
                   struct ps_err **err)
{
        const cJSON *v = member(obj, key);
        double d;
        uint64_t u;

        if (!v) {
                *ret = 0;
                return 0;
        }
        d = v->valuedouble;
        if (!cJSON_IsNumber(v) || !(d >= 0 && d <= TWO_64))
                return bad(err, what, "a non-negative integer");
        u = d == TWO_64 ? UINT64_MAX : (uint64_t)d;
        if (d != TWO_64 && (double)u != d)
                return bad(err, what, "a non-negative integer");
        if (u > max)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: %s must be at most %" PRIu64,
                                  what, max);
        *ret = u;
        return 0;
}

/* An object of strings into an array of key/value copies, in file order. A
 * null value counts as an absent entry. Entries land in *ret as they are
 * copied, so that ps_spec_free() frees what a failure leaves. */
static int get_string_map(const cJSON *obj, const char *key, const char *what, size_t max_n,
                          size_t max_key, size_t max_value, struct ps_spec_kv **ret, size_t *ret_n,
                          struct ps_err **err)
{
        const cJSON *map = NULL, *e;
        size_t n;

        if (get_object(obj, key, what, &map, err) < 0)
                return -1;
        if (!map)
                return 0;
        n = (size_t)cJSON_GetArraySize(map);
        if (n > max_n)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: %s has more than %zu entries",
                                  what, max_n);
        if (n && !(*ret = calloc(n, sizeof(**ret))))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "spec");
        cJSON_ArrayForEach(e, map)
        {
                struct ps_spec_kv *kv = &(*ret)[*ret_n];

                if (cJSON_IsNull(e))
                        continue;
                if (strlen(e->string) > max_key)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "spec: a key of %s is longer than %zu bytes", what,
                                          max_key);
                if (!cJSON_IsString(e) || !e->valuestring)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "spec: %s[\"%s\"] must be a string", what, e->string);
                if (strlen(e->valuestring) > max_value)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "spec: %s[\"%s\"] is longer than %zu bytes", what,
                                          e->string, max_value);
                kv->key = strdup(e->string);
                kv->value = strdup(e->valuestring);
                if (!kv->key || !kv->value) {
                        free(kv->key);
                        free(kv->value);
                        *kv = (struct ps_spec_kv){0};
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "spec");
                }
                (*ret_n)++;
        }
        return 0;
}

/* ---- the sections ---------------------------------------------------------- */

static int read_process(const cJSON *json, struct ps_spec *s, struct ps_err **err)
{
        const cJSON *process = NULL, *args = NULL, *a, *user = NULL;
        uint64_t uid = 0, gid = 0;
        int64_t oom;

        if (get_object(json, "process", "\"process\"", &process, err) < 0)
                return -1;
        if (!process)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: \"process\" is missing");
        args = member(process, "args");
        if (args && !cJSON_IsArray(args))
                return bad(err, "process.args", "an array");
        cJSON_ArrayForEach(a, args)
        {
                if (!cJSON_IsString(a))
                        return bad(err, "process.args", "an array of strings");
        }
        if (get_string(process, "cwd", "process.cwd", PS_SPEC_MAX_PATH, &s->cwd, err) < 0)
                return -1;
        if (!s->cwd)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: process.cwd is missing");
        if (get_bool(process, "terminal", "process.terminal", &s->terminal, err) < 0 ||
            get_object(process, "user", "process.user", &user, err) < 0 ||
            get_u64(user, "uid", "process.user.uid", UINT32_MAX, &uid, err) < 0 ||
            get_u64(user, "gid", "process.user.gid", UINT32_MAX, &gid, err) < 0 ||
            get_i64(process, "oomScoreAdj", "process.oomScoreAdj", -1000, 1000,
                    &s->has_oom_score_adj, &oom, err) < 0)
                return -1;
        s->uid = (uint32_t)uid;
        s->gid = (uint32_t)gid;
        s->oom_score_adj = (int)oom;
        return 0;
}

static int read_root(const cJSON *json, struct ps_spec *s, struct ps_err **err)
{
        const cJSON *root = NULL;

        if (get_object(json, "root", "\"root\"", &root, err) < 0 ||
            get_string(root, "path", "root.path", PS_SPEC_MAX_PATH, &s->root_path, err) < 0)
                return -1;
        if (!s->root_path)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: root.path is missing");
        return get_bool(root, "readonly", "root.readonly", &s->root_readonly, err);
}

static int read_namespace(const cJSON *ns, struct ps_spec *s, struct ps_err **err)
{
        _cleanup_free_ char *type = NULL, *path = NULL;
        size_t t;

        if (!cJSON_IsObject(ns))
                return bad(err, "linux.namespaces", "an array of objects");
        if (get_string(ns, "type", "linux.namespaces[].type", 16, &type, err) < 0)
                return -1;
        if (!type)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "spec: linux.namespaces entries need a \"type\"");
        for (t = 0; t < PS_SPEC_NS_COUNT && strcmp(type, ns_names[t]) != 0; t++)
                ;
        if (t == PS_SPEC_NS_COUNT)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "spec: linux.namespaces: unknown type \"%s\"", type);
        if (s->ns[t].present)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "spec: linux.namespaces: \"%s\" is listed twice", type);
        if (get_nonempty_string(ns, "path", "linux.namespaces[].path", PS_SPEC_MAX_PATH, &path,
                                err) < 0)
                return -1;
        s->ns[t] = (struct ps_spec_ns){.present = true, .path = TAKE_PTR(path)};
        return 0;
}

static int read_resources(const cJSON *linux_obj, struct ps_spec_resources *r, struct ps_err **err)
{
        const cJSON *res = NULL, *cpu = NULL, *mem = NULL;
        bool present;

        if (get_object(linux_obj, "resources", "linux.resources", &res, err) < 0 ||
            get_object(res, "cpu", "linux.resources.cpu", &cpu, err) < 0 ||
            get_object(res, "memory", "linux.resources.memory", &mem, err) < 0)
                return -1;
        if (get_u64(cpu, "shares", "linux.resources.cpu.shares", UINT64_MAX, &r->cpu_shares, err) <
                0 ||
            get_i64(cpu, "quota", "linux.resources.cpu.quota", INT64_MIN, INT64_MAX, &present,
                    &r->cpu_quota, err) < 0 ||
            get_u64(cpu, "period", "linux.resources.cpu.period", UINT64_MAX, &r->cpu_period, err) <
                0 ||
            get_i64(mem, "limit", "linux.resources.memory.limit", INT64_MIN, INT64_MAX, &present,
                    &r->memory_limit, err) < 0)
                return -1;
        return 0;
}

/* linux.uidMappings or gidMappings: an array of {containerID, hostID,
 * size}, each a uint32 (absent members are 0, as in Go). */
static int read_id_mappings(const cJSON *linux_obj, const char *key, const char *what,
                            struct ps_idmap **ret, size_t *ret_n, struct ps_err **err)
{
        const cJSON *arr = member(linux_obj, key), *e;
        size_t n;

        if (!arr)
                return 0;
        if (!cJSON_IsArray(arr))
                return bad(err, what, "an array");
        n = (size_t)cJSON_GetArraySize(arr);
        if (n > PS_SPEC_MAX_ID_MAPPINGS)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: %s has more than %u entries",
                                  what, PS_SPEC_MAX_ID_MAPPINGS);
        if (n && !(*ret = calloc(n, sizeof(**ret))))
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "spec");
        cJSON_ArrayForEach(e, arr)
        {
                char wc[40], wh[40], ws[40];
                uint64_t c, h, sz;

                if (!cJSON_IsObject(e))
                        return bad(err, what, "an array of objects");
                snprintf(wc, sizeof(wc), "%s[].containerID", what);
                snprintf(wh, sizeof(wh), "%s[].hostID", what);
                snprintf(ws, sizeof(ws), "%s[].size", what);
                if (get_u64(e, "containerID", wc, UINT32_MAX, &c, err) < 0 ||
                    get_u64(e, "hostID", wh, UINT32_MAX, &h, err) < 0 ||
                    get_u64(e, "size", ws, UINT32_MAX, &sz, err) < 0)
                        return -1;
                (*ret)[(*ret_n)++] = (struct ps_idmap){
                    .container_id = (uint32_t)c, .host_id = (uint32_t)h, .size = (uint32_t)sz};
        }
        return 0;
}

static int read_linux(const cJSON *json, struct ps_spec *s, struct ps_err **err)
{
        const cJSON *linux_obj = NULL, *nss = NULL, *ns;

        if (get_object(json, "linux", "\"linux\"", &linux_obj, err) < 0)
                return -1;
        if (!linux_obj)
                return 0;
        if (get_nonempty_string(linux_obj, "cgroupsPath", "linux.cgroupsPath", PS_SPEC_MAX_PATH,
                                &s->cgroups_path, err) < 0)
                return -1;
        nss = member(linux_obj, "namespaces");
        if (nss && !cJSON_IsArray(nss))
                return bad(err, "linux.namespaces", "an array");
        cJSON_ArrayForEach(ns, nss)
        {
                if (read_namespace(ns, s, err) < 0)
                        return -1;
        }
        if (read_resources(linux_obj, &s->resources, err) < 0 ||
            read_id_mappings(linux_obj, "uidMappings", "linux.uidMappings", &s->uid_mappings,
                             &s->n_uid_mappings, err) < 0 ||
            read_id_mappings(linux_obj, "gidMappings", "linux.gidMappings", &s->gid_mappings,
                             &s->n_gid_mappings, err) < 0)
                return -1;
        return get_string_map(linux_obj, "sysctl", "linux.sysctl", PS_SPEC_MAX_SYSCTLS,
                              PS_SPEC_MAX_SYSCTL_KEY, PS_SPEC_MAX_SYSCTL_VALUE, &s->sysctls,
                              &s->n_sysctls, err);
}

static int spec_fill(const cJSON *json, struct ps_spec *s, struct ps_err **err)
{
        if (!cJSON_IsObject(json))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: not a JSON object");
        if (read_process(json, s, err) < 0 || read_root(json, s, err) < 0 ||
            get_nonempty_string(json, "hostname", "hostname", PS_SPEC_MAX_HOSTNAME, &s->hostname,
                                err) < 0 ||
            read_linux(json, s, err) < 0)
                return -1;
        return get_string_map(json, "annotations", "annotations", PS_SPEC_MAX_ANNOTATIONS,
                              PS_SPEC_MAX_ANNOTATION_KEY, PS_SPEC_MAX_ANNOTATION_VALUE,
                              &s->annotations, &s->n_annotations, err);
}

/* ---- public ---------------------------------------------------------------- */

/* ps_spec_parse, also handing over the JSON tree when ret_tree is not NULL. */
static int parse(const char *json, size_t len, struct ps_spec **ret, cJSON **ret_tree,
                 struct ps_err **err)
{
        _cleanup_json_ cJSON *tree = NULL;
        _cleanup_spec_ struct ps_spec *s = NULL;
        const char *end = NULL;

        if (len > PS_SPEC_MAX_SIZE)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: larger than %u bytes",
                                  PS_SPEC_MAX_SIZE);
        tree = cJSON_ParseWithLengthOpts(json, len, &end, false);
        if (!tree)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: not valid JSON");
        /* cJSON stops after the first value; anything but blanks after it is
         * a malformed file, not a spec with a harmless tail. */
        while (end && end < json + len &&
               (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t' || *end == '\0'))
                end++;
        if (end && end < json + len)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "spec: trailing data after JSON");
        s = calloc(1, sizeof(*s));
        if (!s)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "spec");
        if (spec_fill(tree, s, err) < 0)
                return -1;
        *ret = TAKE_PTR(s);
        if (ret_tree)
                *ret_tree = TAKE_PTR(tree);
        return 0;
}

int ps_spec_parse(const char *json, size_t len, struct ps_spec **ret, struct ps_err **err)
{
        return parse(json, len, ret, NULL, err);
}

int ps_spec_load_tree(const char *bundle, struct ps_spec **ret, struct cJSON **ret_tree,
                      struct ps_err **err)
{
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t len = 0;

        if (asprintf(&path, "%s/config.json", bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "spec");
        if (ps_read_file(path, PS_SPEC_MAX_SIZE, &buf, &len, err) < 0)
                return ps_err_prefix(err, "load spec");
        if (parse(buf, len, ret, ret_tree, err) < 0)
                return ps_err_prefix(err, "%s", path);
        return 0;
}

int ps_spec_load(const char *bundle, struct ps_spec **ret, struct ps_err **err)
{
        return ps_spec_load_tree(bundle, ret, NULL, err);
}

const char *ps_spec_annotation(const struct ps_spec *s, const char *key)
{
        if (!s || !key)
                return NULL;
        for (size_t i = 0; i < s->n_annotations; i++)
                if (strcmp(s->annotations[i].key, key) == 0)
                        return s->annotations[i].value;
        return NULL;
}

bool ps_spec_new_ns(const struct ps_spec *s, enum ps_spec_ns_type type)
{
        return type < PS_SPEC_NS_COUNT && s->ns[type].present && !s->ns[type].path;
}

static void kv_free(struct ps_spec_kv *kv, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

struct ps_spec *ps_spec_free(struct ps_spec *s)
{
        if (!s)
                return NULL;
        free(s->cwd);
        free(s->root_path);
        free(s->hostname);
        free(s->cgroups_path);
        for (size_t t = 0; t < PS_SPEC_NS_COUNT; t++)
                free(s->ns[t].path);
        free(s->uid_mappings);
        free(s->gid_mappings);
        kv_free(s->sysctls, s->n_sysctls);
        kv_free(s->annotations, s->n_annotations);
        free(s);
        return NULL;
}
