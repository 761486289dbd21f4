/* Runtime options as containerd sends them (an Any in Create, or the start
 * action's stdin), decoded into the plain struct of oci/options.h. */
#include "api/options.h"

#include <string.h>

#include "containerd/runc/legacy.pb-c.h"
#include "containerd/runc/options.pb-c.h"
#include "runtimeoptions/options.pb-c.h"

static int from_runc_v1(const uint8_t *value, size_t len, struct ps_options *o, struct ps_err **err)
{
        Containerd__Runc__V1__Options *m = containerd__runc__v1__options__unpack(NULL, len, value);
        int r = 0;

        if (!m)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "cannot decode containerd.runc.v1.Options");
        o->no_pivot_root = m->no_pivot_root;
        o->no_new_keyring = m->no_new_keyring;
        o->systemd_cgroup = m->systemd_cgroup;
        o->io_uid = m->io_uid;
        o->io_gid = m->io_gid;
        if (ps_options_set_str(&o->shim_cgroup, m->shim_cgroup, err) < 0 ||
            ps_options_set_str(&o->binary_name, m->binary_name, err) < 0 ||
            ps_options_set_str(&o->root, m->root, err) < 0 ||
            ps_options_set_str(&o->criu_path, m->criu_path, err) < 0 ||
            ps_options_set_str(&o->criu_image_path, m->criu_image_path, err) < 0 ||
            ps_options_set_str(&o->criu_work_path, m->criu_work_path, err) < 0)
                r = -1;
        containerd__runc__v1__options__free_unpacked(m, NULL);
        return r;
}

static int from_legacy(const uint8_t *value, size_t len, struct ps_options *o, struct ps_err **err)
{
        Containerd__Linux__Runc__CreateOptions *m =
            containerd__linux__runc__create_options__unpack(NULL, len, value);
        int r = 0;

        if (!m)
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "cannot decode containerd.linux.runc.CreateOptions");
        o->no_pivot_root = m->no_pivot_root;
        o->no_new_keyring = m->no_new_keyring;
        o->io_uid = m->io_uid;
        o->io_gid = m->io_gid;
        if (ps_options_set_str(&o->shim_cgroup, m->shim_cgroup, err) < 0 ||
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
         * handler's ConfigPath, or (1.7+) the handler's options table */
        if (m->config_path && *m->config_path)
                r = ps_options_read_config(m->config_path, o, err);
        else if (m->config_body && *m->config_body)
                r = ps_options_parse_config(m->config_body, strlen(m->config_body), o, err);
        runtimeoptions__v1__options__free_unpacked(m, NULL);
        return r;
}

int ps_options_decode(const char *type_url, const uint8_t *value, size_t len,
                      struct ps_options *ret, struct ps_err **err)
{
        struct ps_options o = {0};
        const char *name = type_url ? strrchr(type_url, '/') : NULL;
        int r;

        /* Go's typeurl registers bare names, but a "type.googleapis.com/"
         * prefix names the same message. */
        name = name ? name + 1 : type_url;
        if (!name || !*name)
                r = 0;
        else if (strcmp(name, "containerd.runc.v1.Options") == 0)
                r = from_runc_v1(value, len, &o, err);
        else if (strcmp(name, "containerd.linux.runc.CreateOptions") == 0)
                r = from_legacy(value, len, &o, err);
        else if (strcmp(name, "runtimeoptions.v1.Options") == 0)
                r = from_runtimeoptions(value, len, &o, err);
        else
                r = ps_err_set(err, PS_INVALID_ARGUMENT, "unsupported runtime options type %s",
                               type_url);
        if (r < 0 || ps_options_fill_defaults(&o, err) < 0) {
                ps_options_clear(&o);
                return -1;
        }
        *ret = o;
        return 0;
}
