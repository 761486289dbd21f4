#include "sandbox/vm/qemu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

#define MAX_ARGS 64

struct argv_builder {
        char *v[MAX_ARGS + 1];
        size_t n;
        bool oom;
};

static void add(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv_builder *b, const char *fmt, ...)
{
        va_list ap;
        char *s;

        if (b->oom || b->n >= MAX_ARGS) {
                b->oom = true;
                return;
        }
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (!s)
                b->oom = true;
        else
                b->v[b->n++] = s;
}

/* A path QEMU's option syntax and the kernel command line carry as is. */
static int check_path(const char *what, const char *p, struct ps_err **err)
{
        if (!p || p[0] != '/')
                return ps_err_set(err, PS_INVALID_ARGUMENT, "vm: %s must be an absolute path",
                                  what);
        if (strpbrk(p, ", \t\n"))
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "vm: %s '%s' contains a comma or a blank", what, p);
        return 0;
}

static int check_config(const struct ps_vm_config *cfg, const char *dir, struct ps_err **err)
{
        if (check_path("kernel", cfg->kernel, err) < 0 ||
            check_path("initrd", cfg->initrd, err) < 0 || check_path("root", cfg->root, err) < 0 ||
            check_path("agent", cfg->agent, err) < 0 || check_path("run directory", dir, err) < 0 ||
            (cfg->console && check_path("console", cfg->console, err) < 0) ||
            (cfg->bundles && check_path("bundle directory", cfg->bundles, err) < 0) ||
            (cfg->bundles_share && check_path("bundle share", cfg->bundles_share, err) < 0))
                return -1;
        if (!cfg->accel || (strcmp(cfg->accel, "tcg") != 0 && strcmp(cfg->accel, "kvm") != 0))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "vm: accel must be tcg or kvm");
        if (cfg->cpu && strpbrk(cfg->cpu, " \t\n"))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "vm: bad cpu model '%s'", cfg->cpu);
        if (cfg->nic_mac &&
            (strlen(cfg->nic_mac) != 17 || strspn(cfg->nic_mac, "0123456789abcdefABCDEF:") != 17))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "vm: bad MAC address '%s'",
                                  cfg->nic_mac);
        if (cfg->mem_mib && cfg->mem_mib < 64)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "vm: %u MiB is too little memory",
                                  cfg->mem_mib);
        if (cfg->vcpus > 255)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "vm: %u vCPUs", cfg->vcpus);
        return 0;
}

char **ps_vm_qemu_argv(const struct ps_vm_config *cfg, const char *dir, struct ps_err **err)
{
        struct argv_builder b = {0};
        bool tcg;
        char **ret;

        if (check_config(cfg, dir, err) < 0)
                return NULL;
        tcg = strcmp(cfg->accel, "tcg") == 0;
        add(&b, "%s", cfg->qemu ? cfg->qemu : "qemu-system-x86_64");
        add(&b, "-machine");
        add(&b, "q35");
        add(&b, "-accel");
        /* TCG's translated-code cache defaults to 1 GiB, of which a booted
         * guest had ~58 MiB resident; 32 MiB bounds it (measured: QEMU's PSS
         * after boot 244 -> 216 MiB, the boot no slower). */
        add(&b, "%s", tcg ? "tcg,thread=multi,tb-size=32" : "kvm");
        add(&b, "-cpu");
        add(&b, "%s", cfg->cpu ? cfg->cpu : tcg ? "max" : "host");
        add(&b, "-smp");
        add(&b, "%u", cfg->vcpus ? cfg->vcpus : 1);
        add(&b, "-m");
        add(&b, "%u", cfg->mem_mib ? cfg->mem_mib : 256);
        add(&b, "-nodefaults");
        add(&b, "-no-user-config");
        add(&b, "-no-reboot");
        add(&b, "-display");
        add(&b, "none");
        add(&b, "-monitor");
        add(&b, "none");
        if (cfg->nic_mac) {
                /* QEMU's own tap backend (no vhost-net: that needs
                 * /dev/vhost-net and KVM to pay off). */
                add(&b, "-netdev");
                add(&b, "tap,id=net0,fd=%d,vhost=off", PS_VM_TAP_FD);
                add(&b, "-device");
                add(&b, "virtio-net-pci,netdev=net0,mac=%s", cfg->nic_mac);
        } else {
                add(&b, "-nic");
                add(&b, "none");
        }
        add(&b, "-serial");
        if (cfg->console)
                add(&b, "file:%s", cfg->console);
        else
                add(&b, "none");
        add(&b, "-kernel");
        add(&b, "%s", cfg->kernel);
        add(&b, "-initrd");
        add(&b, "%s", cfg->initrd);
        add(&b, "-append");
        add(&b, "console=ttyS0 panic=-1 quiet podshim.agent=%s%s%s", cfg->agent,
            cfg->bundles ? " podshim.bundles=" : "", cfg->bundles ? cfg->bundles : "");
        /* Only the root built for guests, never the host's /: a guest
         * reads nothing of the host beyond it and its pod's bundles. */
        add(&b, "-fsdev");
        add(&b, "local,id=%s,path=%s,security_model=passthrough,readonly=on,multidevs=remap",
            PS_VM_ROOT_TAG, cfg->root);
        add(&b, "-device");
        add(&b, "virtio-9p-pci,fsdev=%s,mount_tag=%s", PS_VM_ROOT_TAG, PS_VM_ROOT_TAG);
        if (cfg->bundles) {
                /* Read-write, and passthrough so that the guest's runtime
                 * sees the rootfs's owners and modes as they are. */
                add(&b, "-fsdev");
                add(&b, "local,id=%s,path=%s,security_model=passthrough,multidevs=remap",
                    PS_VM_BUNDLES_TAG, cfg->bundles_share ? cfg->bundles_share : cfg->bundles);
                add(&b, "-device");
                add(&b, "virtio-9p-pci,fsdev=%s,mount_tag=%s", PS_VM_BUNDLES_TAG,
                    PS_VM_BUNDLES_TAG);
        }
        /* The guest hands pages it frees back to QEMU, which drops them:
         * boot-time memory (the kernel's decompression, the initramfs) and
         * later whatever the pod's containers free (measured after boot:
         * 129 -> 106 MiB of guest RAM resident). */
        add(&b, "-device");
        add(&b, "virtio-balloon-pci,free-page-reporting=on");
        add(&b, "-device");
        add(&b, "virtio-serial-pci,id=vser");
        add(&b, "-chardev");
        add(&b, "socket,id=agent,path=%s/%s,server=on,wait=off", dir, PS_VM_AGENT_SOCKET);
        add(&b, "-device");
        add(&b, "virtserialport,bus=vser.0,chardev=agent,name=%s", PS_VM_AGENT_PORT);
        if (b.oom) {
                for (size_t i = 0; i < b.n; i++)
                        free(b.v[i]);
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm: qemu argv");
                return NULL;
        }
        ret = calloc(b.n + 1, sizeof(*ret));
        if (!ret) {
                for (size_t i = 0; i < b.n; i++)
                        free(b.v[i]);
                ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "vm: qemu argv");
                return NULL;
        }
        memcpy(ret, b.v, b.n * sizeof(*ret));
        return ret;
}
