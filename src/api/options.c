/* Runtime options as containerd sends them (an Any in Create, or the start
 * action's stdin), decoded into the plain struct of oci/options.h. */
#include "api/options.h"

#include <string.h>

#include "containerd/runc/legacy.pb-c.h"
#include "containerd/runc/options.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "runtimeoptions/options.pb-c.h"

/* A field this build does not know (a newer containerd's, or a typo in a
 * hand-built Any) means an option podshim would silently not apply. */
static int refuse_unknown_fields(const ProtobufCMessage *m, struct ps_err **err)
{
        if (m->n_unknown_fields == 0)
                return 0;
        return ps_err_set(err, PS_INVALID_ARGUMENT, "%s: field %u is not a podshim option",
                          m->descriptor->name, (unsigned)m->unknown_fields[0].tag);
}

static int from_runc_v1(const uint8_t *value, size_t len, struct ps_options *o, struct ps_err **err)
{
        Containerd__Runc__V1__Options *m = containerd__runc__v1__options__unpack(NULL, len, value);
        int r = 0;

        if (!m)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "cannot decode containerd.runc.v1.Options");
        /* proto3 cannot tell false or 0 from unset: those leave the base
         * (a profile's defaults, shim/profile.h) as it is */
        o->no_pivot_root |= m->no_pivot_root;
        o->no_new_keyring |= m->no_new_keyring;
        o->systemd_cgroup |= m->systemd_cgroup;
        if (m->io_uid)
                o->io_uid = m->io_uid;
        if (m->io_gid)
                o->io_gid = m->io_gid;
        /* task_api_address/_version (containerd 2.x, shim sandboxer and
         * user-namespace pods) name the task API endpoint of the pod: the
         * socket this Create already arrived on, so nothing to apply. */
        if (refuse_unknown_fields(&m->base, err) < 0 ||
            ps_options_set_str(&o->shim_cgroup, m->shim_cgroup, err) < 0 ||
            ps_options_set_str(&o->binary_name, m->binary_name, err) < 0 ||
            ps_options_set_str(&o->root, m->root, err) < 0 ||
            ps_options_set_str(&o->criu_path, m->criu_path, err) < 0 ||
            ps_options_set_str(&o->criu_image_path, m->criu_image_path, err) < 0 ||
            ps_options_set_str(&o->criu_work_path, m->criu_work_path, err) < 0)
                r = -1;
        containerd__runc__v1__options__free_unpacked(m, NULL);
        return r;
}

/* The checkpoint-flavoured fields of CreateOptions (criu flags for a
 * restore) have no podshim counterpart: set, they are refused by name. */
static const char *legacy_unsupported(const Containerd__Linux__Runc__CreateOptions *m)
{
        if (m->open_tcp)
                return "open_tcp";
        if (m->external_unix_sockets)
                return "external_unix_sockets";
        if (m->terminal)
                return "terminal";
        if (m->file_locks)
                return "file_locks";
        if (m->n_empty_namespaces)
                return "empty_namespaces";
        if (m->cgroups_mode && *m->cgroups_mode)
                return "cgroups_mode";
        return NULL;
}

static int from_legacy(const uint8_t *value, size_t len, struct ps_options *o, struct ps_err **err)
{
        Containerd__Linux__Runc__CreateOptions *m =
            containerd__linux__runc__create_options__unpack(NULL, len, value);
        const char *bad;
        int r = 0;

        if (!m)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "cannot decode containerd.linux.runc.CreateOptions");
        o->no_pivot_root |= m->no_pivot_root;
        o->no_new_keyring |= m->no_new_keyring;
        if (m->io_uid)
                o->io_uid = m->io_uid;
        if (m->io_gid)
                o->io_gid = m->io_gid;
        bad = legacy_unsupported(m);
        if (bad)
                r = ps_err_set(
                    err, PS_INVALID_ARGUMENT,
                    "containerd.linux.runc.CreateOptions: %s is not supported by podshim", bad);
        else if (refuse_unknown_fields(&m->base, err) < 0 ||
                 ps_options_set_str(&o->shim_cgroup, m->shim_cgroup, err) < 0 ||
                 ps_options_set_str(&o->criu_image_path, m->criu_image_path, err) < 0 ||
                 ps_options_set_str(&o->criu_work_path, m->criu_work_path, err) < 0)
                r = -1;
        containerd__linux__runc__create_options__free_unpacked(m, NULL);
        return r;
}

static int from_runtimeoptions(const uint8_t *value, size_t len, struct ps_options *o,
                               struct ps_err **err)
{
        Runtimeoptions__V1__Options *m = runtimeoptions__v1__options__unpack(NULL, len, value);
        int r = 0;

        if (!m)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "cannot decode runtimeoptions.v1.Options");
        /* containerd sends one or the other: the file named by the
         * handler's ConfigPath, or (1.7+) the handler's options table;
         * neither means an empty table, i.e. the defaults */
        if (refuse_unknown_fields(&m->base, err) < 0)
                r = -1;
        else if (m->config_path && *m->config_path)
                r = ps_options_read_config(m->config_path, o, err);
        else if (m->config_body.len)
                r = ps_options_parse_config((const char *)m->config_body.data, m->config_body.len,
                                            o, err);
        runtimeoptions__v1__options__free_unpacked(m, NULL);
        return r;
}

int ps_options_decode(const char *type_url, const uint8_t *value, size_t len,
                      struct ps_options *ret, struct ps_err **err)
{
        return ps_options_decode_for(NULL, type_url, value, len, ret, err);
}

int ps_options_decode_for(const struct ps_options_profile *p, const char *type_url,
                          const uint8_t *value, size_t len, struct ps_options *ret,
                          struct ps_err **err)
{
        struct ps_options o;
        const char *name = type_url ? strrchr(type_url, '/') : NULL;
        int r;

        if (ps_options_profile_base(p, &o, err) < 0)
                return -1;
        /* Go's typeurl registers bare names, but a "type.googleapis.com/"
         * prefix names the same message. */
        name = name ? name + 1 : type_url;
        if ((!name || !*name) && len == 0)
                r = 0; /* an empty Any: no options */
        else if (!name || !*name)
                r = ps_err_set(err, PS_INVALID_ARGUMENT, "runtime options without a type URL");
        else if (strcmp(name, "containerd.runc.v1.Options") == 0)
                r = from_runc_v1(value, len, &o, err);
        else if (strcmp(name, "containerd.linux.runc.CreateOptions") == 0)
                r = from_legacy(value, len, &o, err);
        else if (strcmp(name, "runtimeoptions.v1.Options") == 0)
                r = from_runtimeoptions(value, len, &o, err);
        else
                r = ps_err_set(err, PS_INVALID_ARGUMENT,
                               "unsupported runtime options type \"%s\" (podshim takes "
                               "containerd.runc.v1.Options, runtimeoptions.v1.Options or "
                               "containerd.linux.runc.CreateOptions)",
                               type_url);
        if (r < 0 || ps_options_fill_defaults(&o, err) < 0) {
                ps_options_clear(&o);
                return -1;
        }
        *ret = o;
        return 0;
}

int ps_options_decode_any(const uint8_t *buf, size_t len, struct ps_options *ret,
                          struct ps_err **err)
{
        return ps_options_decode_any_for(NULL, buf, len, ret, err);
}

int ps_options_decode_any_for(const struct ps_options_profile *p, const uint8_t *buf, size_t len,
                              struct ps_options *ret, struct ps_err **err)
{
        Google__Protobuf__Any *any;
        int r;

        if (len == 0)
                return p ? ps_options_profile_defaults(p, ret, err) : ps_options_defaults(ret, err);
        any = google__protobuf__any__unpack(NULL, len, buf);
        if (!any)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "options are not a protobuf Any");
        r = ps_options_decode_for(p, any->type_url, any->value.data, any->value.len, ret, err);
        google__protobuf__any__free_unpacked(any, NULL);
        return r;
}
