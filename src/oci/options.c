#include "oci/options.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "base/cleanup.h"
#include "base/fs.h"

#define CONFIG_MAX_SIZE (64u << 10)
#define OPTIONS_JSON    "options.json"
#define OPTIONS_RUNTIME "runtime"

enum field_kind { FIELD_STR, FIELD_BOOL, FIELD_U32 };

/* One table drives the TOML keys (Go field names, as CRI writes them for
 * runc) and the options.json keys (the Go JSON tags runc-v2 writes). */
struct field {
        const char *toml;
        const char *json;
        enum field_kind kind;
        size_t offset;
};

#define F(t, j, k, m)                                                                              \
        {                                                                                          \
                t, j, k, offsetof(struct ps_options, m)                                            \
        }
static const struct field fields[] = {
    F("BinaryName", "binary_name", FIELD_STR, binary_name),
    F("Root", "root", FIELD_STR, root),
    F("CriuPath", "criu_path", FIELD_STR, criu_path),
    F("ShimCgroup", "shim_cgroup", FIELD_STR, shim_cgroup),
    F("CriuImagePath", "criu_image_path", FIELD_STR, criu_image_path),
    F("CriuWorkPath", "criu_work_path", FIELD_STR, criu_work_path),
    F("SystemdCgroup", "systemd_cgroup", FIELD_BOOL, systemd_cgroup),
    F("NoPivotRoot", "no_pivot_root", FIELD_BOOL, no_pivot_root),
    F("NoNewKeyring", "no_new_keyring", FIELD_BOOL, no_new_keyring),
    F("IoUid", "io_uid", FIELD_U32, io_uid),
    F("IoGid", "io_gid", FIELD_U32, io_gid),
    F("Backend", "backend", FIELD_STR, backend),
    F("VMKernel", "vm_kernel", FIELD_STR, vm_kernel),
    F("VMInitrd", "vm_initrd", FIELD_STR, vm_initrd),
    F("VMRoot", "vm_root", FIELD_STR, vm_root),
    F("VMAgent", "vm_agent", FIELD_STR, vm_agent),
    F("VMAccel", "vm_accel", FIELD_STR, vm_accel),
    F("VMCPU", "vm_cpu", FIELD_STR, vm_cpu),
    F("VMDefaultCPUs", "vm_cpus", FIELD_U32, vm_cpus),
    F("VMDefaultMemoryMiB", "vm_memory_mib", FIELD_U32, vm_memory_mib),
};
#undef F
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static char **str_slot(struct ps_options *o, const struct field *f)
{
        return (char **)((char *)o + f->offset);
}

static bool *bool_slot(struct ps_options *o, const struct field *f)
{
        return (bool *)((char *)o + f->offset);
}

/* uid_t and gid_t are both 32-bit unsigned on Linux. */
static uint32_t *u32_slot(struct ps_options *o, const struct field *f)
{
        return (uint32_t *)((char *)o + f->offset);
}

/* Replaces a string field; NULL or "" (proto3's unset, or `Key = ""`)
 * leaves what is there: the base's value (a profile's defaults, or none). */
int ps_options_set_str(char **slot, const char *v, struct ps_err **err)
{
        char *copy;

        if (!v || !*v)
                return 0;
        copy = strdup(v);
        if (!copy)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "options");
        free(*slot);
        *slot = copy;
        return 0;
}

/* Fills the two fields that must never be NULL. */
int ps_options_fill_defaults(struct ps_options *o, struct ps_err **err)
{
        if (!o->binary_name && ps_options_set_str(&o->binary_name, PS_DEFAULT_RUNTIME, err) < 0)
                return -1;
        if (!o->root && ps_options_set_str(&o->root, PS_DEFAULT_RUNTIME_ROOT, err) < 0)
                return -1;
        return 0;
}

int ps_options_defaults_from(const char *path, struct ps_options *ret, struct ps_err **err)
{
        struct ps_options o = {0};

        if (ps_options_fill_defaults(&o, err) < 0 ||
            (path && access(path, F_OK) == 0 && ps_options_read_config(path, &o, err) < 0) ||
            ps_options_fill_defaults(&o, err) < 0) {
                ps_options_clear(&o);
                return -1;
        }
        *ret = o;
        return 0;
}

int ps_options_defaults(struct ps_options *ret, struct ps_err **err)
{
        return ps_options_defaults_from(PS_SYSTEM_CONFIG, ret, err);
}

int ps_options_profile_defaults(const struct ps_options_profile *p, struct ps_options *ret,
                                struct ps_err **err)
{
        struct ps_options o = {0};
        const char *path = p->system_config;

        if (ps_options_set_str(&o.backend, p->backend, err) < 0 ||
            ps_options_fill_defaults(&o, err) < 0)
                goto fail;
        if (path && access(path, F_OK) == 0 && ps_options_read_config(path, &o, err) < 0)
                goto fail;
        if (ps_options_fill_defaults(&o, err) < 0)
                goto fail;
        *ret = o;
        return 0;
fail:
        ps_options_clear(&o);
        return -1;
}

int ps_options_profile_base(const struct ps_options_profile *p, struct ps_options *ret,
                            struct ps_err **err)
{
        if (!p || !p->config_under_options) {
                *ret = (struct ps_options){0};
                return 0;
        }
        return ps_options_profile_defaults(p, ret, err);
}

int ps_options_copy(struct ps_options *dst, const struct ps_options *src, struct ps_err **err)
{
        struct ps_options o = *src;

        /* the scalars came with the struct; now own copies of the strings */
        for (size_t i = 0; i < N_FIELDS; i++) {
                if (fields[i].kind == FIELD_STR)
                        *str_slot(&o, &fields[i]) = NULL;
        }
        for (size_t i = 0; i < N_FIELDS; i++) {
                const char *v;

                if (fields[i].kind != FIELD_STR)
                        continue;
                v = *str_slot((struct ps_options *)(uintptr_t)src, &fields[i]);
                if (v && !(*str_slot(&o, &fields[i]) = strdup(v))) {
                        ps_options_clear(&o);
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "runtime options");
                }
        }
        *dst = o;
        return 0;
}

void ps_options_clear(struct ps_options *o)
{
        if (!o)
                return;
        for (size_t i = 0; i < N_FIELDS; i++) {
                if (fields[i].kind == FIELD_STR)
                        free(*str_slot(o, &fields[i]));
        }
        *o = (struct ps_options){0};
}

/* ---- the TOML subset ---- */

static char *skip_ws(char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* Parses a quoted string at p (basic "..." with \" \\ \n \t escapes, or
 * literal '...') in place; *rest gets what follows the closing quote. */
static char *parse_quoted(char *p, char **rest)
{
        char q = *p++, *w = p, *start = p;

        for (; *p && *p != q; p++) {
                if (q == '"' && *p == '\\') {
                        p++;
                        switch (*p) {
                        case '"':
                        case '\\':
                                *w++ = *p;
                                break;
                        case 'n':
                                *w++ = '\n';
                                break;
                        case 't':
                                *w++ = '\t';
                                break;
                        default:
                                return NULL;
                        }
                } else {
                        *w++ = *p;
                }
        }
        if (*p != q)
                return NULL;
        *rest = p + 1;
        *w = '\0';
        return start;
}

/* Case-insensitive, as containerd's TOML decoder matches the same table
 * against runc's options for an io.containerd.runc.v2 handler: a table
 * written for runc means the same here. */
static const struct field *field_by_toml(const char *key)
{
        for (size_t i = 0; i < N_FIELDS; i++) {
                if (strcasecmp(fields[i].toml, key) == 0)
                        return &fields[i];
        }
        return NULL;
}

/* Keys of runtimeoptions.v1.Options itself: containerd decodes the
 * handler's table into that message and then passes the whole table as
 * config_body, these keys included (ConfigPath only when empty). */
static bool is_envelope_key(const char *key)
{
        return strcasecmp(key, "TypeUrl") == 0 || strcasecmp(key, "ConfigPath") == 0;
}

static int toml_value(char *v, const struct field *f, struct ps_options *o, struct ps_err **err)
{
        char *rest = NULL, *s, *end;
        unsigned long n;

        switch (f->kind) {
        case FIELD_STR:
                if (*v != '"' && *v != '\'')
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "%s wants a string", f->toml);
                s = parse_quoted(v, &rest);
                if (!s || *skip_ws(rest))
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "bad string for %s", f->toml);
                if (f->offset == offsetof(struct ps_options, backend) &&
                    strcmp(s, PS_BACKEND_LINUX) != 0 && strcmp(s, PS_BACKEND_VM) != 0)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "Backend is \"%s\", not \"linux\" or \"vm\"", s);
                return ps_options_set_str(str_slot(o, f), s, err);
        case FIELD_BOOL:
                if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
                        return *bool_slot(o, f) = v[0] == 't', 0;
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s wants true or false", f->toml);
        case FIELD_U32:
                errno = 0;
                n = strtoul(v, &end, 10);
                if (errno || end == v || *end || *v == '-' || n > UINT32_MAX)
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "%s wants an integer", f->toml);
                *u32_slot(o, f) = (uint32_t)n;
                return 0;
        }
        return ps_err_set(err, PS_INTERNAL, "bad field kind");
}

/* Strips a '#' comment that is not inside a quoted string, and trailing
 * blanks. */
static void strip_comment(char *line)
{
        char quote = 0;
        char *p = line;

        for (; *p; p++) {
                if (quote == '"' && *p == '\\' && p[1]) {
                        p++;
                } else if (quote) {
                        if (*p == quote)
                                quote = 0;
                } else if (*p == '"' || *p == '\'') {
                        quote = *p;
                } else if (*p == '#') {
                        break;
                }
        }
        *p = '\0';
        while (p > line && (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\r'))
                *--p = '\0';
}

static int toml_line(char *line, bool inline_body, struct ps_options *o, struct ps_err **err)
{
        char *key, *eq, *kend;
        const struct field *f;

        strip_comment(line);
        key = skip_ws(line);
        if (!*key)
                return 0;
        eq = strchr(key, '=');
        if (!eq)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "expected Key = value");
        kend = eq;
        while (kend > key && (kend[-1] == ' ' || kend[-1] == '\t'))
                kend--;
        *kend = '\0';
        if (inline_body && is_envelope_key(key))
                return 0;
        f = field_by_toml(key);
        if (!f)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "unknown key \"%s\"", key);
        return toml_value(skip_ws(eq + 1), f, o, err);
}

/* Parses text (NUL-terminated, modified in place); `name` for messages. */
static int parse_config(char *text, const char *name, bool inline_body, struct ps_options *o,
                        struct ps_err **err)
{
        char *line, *next;
        unsigned lineno = 1;

        for (line = text; line; line = next, lineno++) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (toml_line(line, inline_body, o, err) < 0)
                        return ps_err_prefix(err, "%s:%u", name, lineno);
        }
        return 0;
}

int ps_options_read_config(const char *path, struct ps_options *o, struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;

        if (ps_read_file(path, CONFIG_MAX_SIZE, &buf, NULL, err) < 0)
                return ps_err_prefix(err, "runtime config");
        return parse_config(buf, path, false, o, err);
}

int ps_options_parse_config(const char *text, size_t len, struct ps_options *o, struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;

        if (len > CONFIG_MAX_SIZE)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "runtime options: more than %u bytes",
                                  (unsigned)CONFIG_MAX_SIZE);
        if (memchr(text, '\0', len))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "runtime options: a NUL byte");
        /* Not strndup: `text` is bytes with no NUL after them, and a string
         * function may read one past (ASan's strict_string_checks does). */
        buf = malloc(len + 1);
        if (!buf)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "runtime options");
        memcpy(buf, text, len);
        buf[len] = '\0';
        return parse_config(buf, "runtime options", true, o, err);
}

/* ---- options.json ---- */

static cJSON *options_to_json(const struct ps_options *o)
{
        cJSON *j = cJSON_CreateObject();

        if (!j)
                return NULL;
        for (size_t i = 0; i < N_FIELDS; i++) {
                const struct field *f = &fields[i];
                cJSON *v = NULL;

                const void *slot = (const char *)o + f->offset;

                if (f->kind == FIELD_STR && *(char *const *)slot)
                        v = cJSON_AddStringToObject(j, f->json, *(char *const *)slot);
                else if (f->kind == FIELD_BOOL)
                        v = cJSON_AddBoolToObject(j, f->json, *(const bool *)slot);
                else if (f->kind == FIELD_U32)
                        v = cJSON_AddNumberToObject(j, f->json, *(const uint32_t *)slot);
                else
                        continue;
                if (!v) {
                        cJSON_Delete(j);
                        return NULL;
                }
        }
        return j;
}

int ps_options_save(const char *bundle, const struct ps_options *o, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL, *rpath = NULL, *text = NULL;
        cJSON *j = options_to_json(o);
        const char *bin = o->binary_name ? o->binary_name : "";

        if (!j)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "save options");
        text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!text || asprintf(&path, "%s/" OPTIONS_JSON, bundle) < 0 ||
            asprintf(&rpath, "%s/" OPTIONS_RUNTIME, bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "save options");
        if (ps_write_file_atomic(path, text, strlen(text), 0600, err) < 0 ||
            ps_write_file_atomic(rpath, bin, strlen(bin), 0600, err) < 0)
                return ps_err_prefix(err, "save options");
        return 0;
}

static int json_field(const cJSON *j, const struct field *f, struct ps_options *o,
                      struct ps_err **err)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, f->json);

        if (!v || cJSON_IsNull(v))
                return 0;
        if (f->kind == FIELD_STR && cJSON_IsString(v))
                return ps_options_set_str(str_slot(o, f), v->valuestring, err);
        if (f->kind == FIELD_BOOL && cJSON_IsBool(v))
                return *bool_slot(o, f) = cJSON_IsTrue(v), 0;
        if (f->kind == FIELD_U32 && cJSON_IsNumber(v) && v->valuedouble >= 0 &&
            v->valuedouble <= UINT32_MAX)
                return *u32_slot(o, f) = (uint32_t)v->valuedouble, 0;
        return ps_err_set(err, PS_INVALID_ARGUMENT, "options.json: bad \"%s\"", f->json);
}

static int load_json(const char *path, struct ps_options *o, struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        cJSON *j;
        int r = 0;

        if (ps_read_file(path, CONFIG_MAX_SIZE, &buf, &len, err) < 0)
                return -1;
        j = cJSON_ParseWithLength(buf, len);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s: not a JSON object", path);
        }
        for (size_t i = 0; i < N_FIELDS && r == 0; i++)
                r = json_field(j, &fields[i], o, err);
        cJSON_Delete(j);
        return r;
}

/* Missing files are not an error: a task created without options (or the
 * delete action for a bundle whose Create never ran) gets the defaults. */
int ps_options_load(const char *bundle, struct ps_options *ret, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL, *rpath = NULL, *bin = NULL;
        struct ps_options o = {0};
        struct ps_err *e = NULL;

        if (asprintf(&path, "%s/" OPTIONS_JSON, bundle) < 0 ||
            asprintf(&rpath, "%s/" OPTIONS_RUNTIME, bundle) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "load options");
        if (load_json(path, &o, &e) < 0) {
                if (!e || e->errnum != ENOENT)
                        goto fail;
                e = ps_err_free(e);
        }
        if (!o.binary_name && ps_read_file(rpath, PATH_MAX, &bin, NULL, &e) == 0) {
                bin[strcspn(bin, "\n")] = '\0';
                if (ps_options_set_str(&o.binary_name, bin, &e) < 0)
                        goto fail;
        }
        e = ps_err_free(e);
        if (ps_options_fill_defaults(&o, &e) < 0)
                goto fail;
        *ret = o;
        return 0;
fail:
        ps_options_clear(&o);
        return ps_err_move(err, &e);
}
