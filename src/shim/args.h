/* The shim's command line, exactly as containerd 1.6 invokes it (Go `flag`
 * syntax: -flag value, -flag=value, --flag; booleans take no value; parsing
 * stops at the first non-flag, which is the action):
 *   start:  -namespace ns -address grpc -publish-binary path -id id [-debug] start
 *   delete: -namespace ns -address grpc -publish-binary path -id id -bundle dir delete
 *   serve:  -namespace ns -id id -address grpc [-debug]   (no action; our own)
 *   info:   -info   (containerd 2.x; options Any on stdin, shim/info.h)
 * Also accepted: -socket path (serve: socket path, for symmetry with runc-v2),
 * -v / -version (print version), -h/-help. As in containerd's Go shims,
 * -v wins over -info, and -info over any action word.
 */
#ifndef PS_SHIM_ARGS_H
#define PS_SHIM_ARGS_H

#include <stdbool.h>

#include "base/error.h"
#include "oci/options.h"

enum ps_action {
        PS_ACTION_SERVE = 0,
        PS_ACTION_START,
        PS_ACTION_DELETE,
        PS_ACTION_VERSION,
        PS_ACTION_INFO,
};

struct ps_args {
        enum ps_action action;
        char *ns;             /* -namespace (required except for version) */
        char *id;             /* -id (required except for version) */
        char *address;        /* -address: containerd's gRPC socket */
        char *publish_binary; /* -publish-binary */
        char *bundle;         /* -bundle (delete); defaults to cwd */
        char *socket;         /* -socket */
        bool debug;
        bool info; /* -info */
        /* from the name the binary was run under (shim/profile.h), set by
         * main after parsing */
        struct ps_options_profile profile;
};

/* Fills *ret (owned strings; release with ps_args_clear). Unknown flags,
 * a missing value, an unknown action, or a missing/invalid -namespace or -id
 * (except for -v and -info, which need neither) give INVALID_ARGUMENT. */
int ps_args_parse(int argc, char *const argv[], struct ps_args *ret, struct ps_err **err);
void ps_args_clear(struct ps_args *a);

#endif
