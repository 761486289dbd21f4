#include "shim/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/version.h"
#include "oci/options.h"
#include "shim/probe.h"

#define VERSION_OUT_MAX    4096
#define VERSION_TIMEOUT_MS 5000

/* The first line of `<binary> --version`, or why there is none. */
static char *runtime_version(const char *binary)
{
        _cleanup_free_ char *out = NULL, *why = NULL;
        size_t len = 0;
        char *line;

        if (ps_probe_output(binary, "--version", VERSION_OUT_MAX, VERSION_TIMEOUT_MS, &out, &len,
                            &why) < 0) {
                if (asprintf(&line, "--version: %s", why ? why : "out of memory") < 0)
                        return NULL;
                return line;
        }
        out[strcspn(out, "\r\n")] = '\0';
        return strdup(*out ? out : "--version printed nothing");
}

/* Which BinaryName a task without options gets, and from where. */
static int default_binary(const struct ps_options_profile *p, struct ps_options *o,
                          const char **ret_from, struct ps_err **err)
{
        if (ps_options_profile_defaults(p, o, err) < 0)
                return -1;
        *ret_from =
            p->system_config && access(p->system_config, F_OK) == 0 ? p->system_config : "default";
        return 0;
}

static void print_runtime(const struct ps_options_profile *p)
{
        _cleanup_free_ char *path = NULL, *version = NULL;
        struct ps_options o = {0};
        struct ps_err *e = NULL;
        const char *from = NULL;

        if (default_binary(p, &o, &from, &e) < 0) {
                printf("  OCI runtime: unknown: %s\n", ps_err_msg(e));
                ps_err_free(e);
                ps_options_clear(&o);
                return;
        }
        path = ps_probe_look_path(o.binary_name, &e);
        if (!path) {
                printf("  OCI runtime: %s (%s): %s\n", o.binary_name, from, ps_err_msg(e));
                ps_err_free(e);
                ps_options_clear(&o);
                return;
        }
        version = runtime_version(path);
        printf("  OCI runtime: %s (%s, %s)\n", version ? version : "?", path, from);
        ps_options_clear(&o);
}

int ps_version_action(const char *argv0, const struct ps_options_profile *p)
{
        const char *name = argv0 ? strrchr(argv0, '/') : NULL;

        name = name ? name + 1 : (argv0 && *argv0 ? argv0 : "containerd-shim-podshim-v2");
        printf("%s:\n", name);
        printf("  Version:  %s\n", ps_build_version);
        printf("  Revision: %s\n", ps_build_revision);
        print_runtime(p);
        printf("\n");
        return fflush(stdout) == 0 ? 0 : 1;
}
