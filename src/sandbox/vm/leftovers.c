#include "sandbox/vm/leftovers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/orphan.h"
#include "base/sha256.h"
#include "cgroup/record.h"
#include "oci/options.h"
#include "sandbox/vm/share.h"
#include "sandbox/vm/vm.h"

int ps_vm_paths_of(const char *run_root, const char *bundle, struct ps_vm_paths *ret,
                   struct ps_err **err)
{
        char hex[65];
        int n;

        if (!run_root)
                run_root = PS_VM_RUN_DIR;
        /* Bundle paths are too long for a socket address: one short
         * directory per pod, named by its bundle. */
        ps_sha256_hex(bundle, strlen(bundle), hex);
        n = snprintf(ret->dir, sizeof(ret->dir), "%s/%.16s", run_root, hex);
        if (n < 0 || (size_t)n + strlen(".bundles") >= sizeof(ret->dir))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "vm: run directory %s too long",
                                  run_root);
        snprintf(ret->share, sizeof(ret->share), "%s.bundles", ret->dir);
        snprintf(ret->cgroup, sizeof(ret->cgroup), "%s.cgroup", ret->dir);
        return 0;
}

int ps_vm_save_options(const char *bundle, const struct ps_options *o, struct ps_err **err)
{
        struct ps_options vm = o ? *o : (struct ps_options){0};
        char backend[] = PS_BACKEND_VM;

        vm.backend = backend; /* a shallow copy: nothing of it is freed */
        return ps_options_save(bundle, &vm, err);
}

int ps_vm_leftovers_clear(const char *run_root, const char *bundle, unsigned wait_ms,
                          pid_t *ret_qemu, struct ps_err **err)
{
        _cleanup_free_ char *pidfile = NULL;
        struct ps_vm_paths p = {0};
        pid_t qemu = 0;
        int r = 0;

        if (ret_qemu)
                *ret_qemu = 0;
        if (ps_vm_paths_of(run_root, bundle, &p, err) < 0)
                return -1;
        if (asprintf(&pidfile, "%s/%s", p.dir, PS_VM_QEMU_PID) < 0)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm leftovers");
        /* QEMU first: it holds the share's files and is in the cgroup */
        if (ps_orphan_kill(pidfile, wait_ms, &qemu, err) < 0)
                r = ps_err_prefix(err, "vm: QEMU");
        if (ps_remove_flat_dir(p.dir, r < 0 ? NULL : err) < 0)
                r = -1;
        if (ps_vm_share_remove_stale(p.share, r < 0 ? NULL : err) < 0)
                r = -1;
        if (ps_cgroup_record_clear(p.cgroup, wait_ms, r < 0 ? NULL : err) < 0)
                r = -1;
        if (ret_qemu)
                *ret_qemu = qemu;
        return r;
}
