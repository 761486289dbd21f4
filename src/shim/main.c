#include <stdio.h>
#include <stdlib.h>

#include "base/cleanup.h"
#include "shim/args.h"
#include "shim/delete.h"
#include "shim/info.h"
#include "shim/profile.h"
#include "shim/start.h"
#include "shim/version.h"

int main(int argc, char *argv[])
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_args args = {0};
        int rc;

        if (ps_args_parse(argc, argv, &args, &e) < 0) {
                fprintf(stderr, "containerd-shim-podshim-v2: %s\n", ps_err_msg(e));
                return 2;
        }
        ps_shim_profile(argv[0], getenv(PS_VM_CONFIG_ENV), &args.profile);
        switch (args.action) {
        case PS_ACTION_VERSION:
                rc = ps_version_action(argv[0], &args.profile);
                break;
        case PS_ACTION_START:
                rc = ps_start_action(&args);
                break;
        case PS_ACTION_INFO:
                rc = ps_info_action(&args.profile);
                break;
        case PS_ACTION_DELETE:
                rc = ps_delete_action(&args);
                break;
        default:
                /* Serve on the socket inherited as fd 3 (runc-v2 convention). */
                rc = ps_serve(&args, 3, args.socket);
                break;
        }
        ps_args_clear(&args);
        return rc;
}
