/* QEMU's argv for a pod VM (sandbox/vm/qemu.h): what the machine is made
 * of, and the settings refused before anything runs. tests/vm boots it. */
#include <stdbool.h>
#include <string.h>

#include "base/cleanup.h"
#include "check.h"
#include "sandbox/vm/qemu.h"

static const struct ps_vm_config good = {
    .kernel = "/boot/vmlinuz-6.1.0-57-amd64",
    .initrd = "/var/cache/podshim/vm/initramfs.cpio.gz",
    .root = "/var/cache/podshim/vm/root-0123456789abcdef",
    .agent = "/usr/libexec/podshim/podshim-agent",
    .accel = "tcg",
    .stderr_fd = -1,
};

/* The value after option `opt`, or NULL. */
static const char *opt_value(char **argv, const char *opt)
{
        for (size_t i = 1; argv[i]; i++)
                if (strcmp(argv[i], opt) == 0)
                        return argv[i + 1];
        return NULL;
}

static bool has(char **argv, const char *word)
{
        for (size_t i = 0; argv[i]; i++)
                if (strcmp(argv[i], word) == 0)
                        return true;
        return false;
}

static void test_argv(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        _cleanup_strv_ char **argv = ps_vm_qemu_argv(&good, "/run/podshim/vm/p1", &err);

        CHECK(argv != NULL);
        if (!argv)
                return;
        CHECK_STREQ(argv[0], "qemu-system-x86_64");
        CHECK_STREQ(opt_value(argv, "-accel"), "tcg,thread=multi,tb-size=32");
        CHECK(has(argv, "virtio-balloon-pci,free-page-reporting=on"));
        CHECK_STREQ(opt_value(argv, "-cpu"), "max");
        CHECK_STREQ(opt_value(argv, "-m"), "256");
        CHECK_STREQ(opt_value(argv, "-smp"), "1");
        CHECK_STREQ(opt_value(argv, "-kernel"), good.kernel);
        CHECK_STREQ(opt_value(argv, "-initrd"), good.initrd);
        CHECK_STREQ(opt_value(argv, "-serial"), "none");
        CHECK(has(argv, "-no-reboot"));
        CHECK(has(argv, "-nodefaults"));
        CHECK_STREQ(
            opt_value(argv, "-append"),
            "console=ttyS0 panic=-1 quiet podshim.agent=/usr/libexec/podshim/podshim-agent");
        CHECK_STREQ(opt_value(argv, "-chardev"),
                    "socket,id=agent,path=/run/podshim/vm/p1/agent.sock,server=on,wait=off");
        CHECK(has(argv, "virtserialport,bus=vser.0,chardev=agent,name=org.podshim.agent"));
        /* the guest's root is the directory built for it, read-only;
         * never the host's / */
        CHECK_STREQ(opt_value(argv, "-fsdev"),
                    "local,id=guestroot,path=/var/cache/podshim/vm/root-0123456789abcdef,"
                    "security_model=passthrough,readonly=on,multidevs=remap");
        CHECK(has(argv, "virtio-9p-pci,fsdev=guestroot,mount_tag=guestroot"));
        for (size_t i = 1; argv[i]; i++)
                CHECK(strcmp(argv[i - 1], "-fsdev") != 0 || strstr(argv[i], "path=/,") == NULL);
}

static void test_kvm_and_sizes(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_vm_config c = good;
        _cleanup_strv_ char **argv = NULL;

        c.accel = "kvm";
        c.vcpus = 2;
        c.mem_mib = 512;
        c.console = "/tmp/console.log";
        argv = ps_vm_qemu_argv(&c, "/run/p", &err);
        CHECK(argv != NULL);
        if (!argv)
                return;
        CHECK_STREQ(opt_value(argv, "-accel"), "kvm");
        CHECK_STREQ(opt_value(argv, "-cpu"), "host");
        CHECK_STREQ(opt_value(argv, "-smp"), "2");
        CHECK_STREQ(opt_value(argv, "-m"), "512");
        CHECK_STREQ(opt_value(argv, "-serial"), "file:/tmp/console.log");
}

/* The pod's bundle directory: a second, writable 9p share the agent finds
 * on the kernel command line; a path with a comma is refused. */
static void test_bundles_share(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_vm_config c = good;
        _cleanup_strv_ char **argv = NULL;
        char **bad;
        bool rw_share = false;

        c.bundles = "/run/containerd/io.containerd.runtime.v2.task/k8s.io";
        argv = ps_vm_qemu_argv(&c, "/run/p", &err);
        CHECK(argv != NULL);
        if (!argv)
                return;
        CHECK_STREQ(opt_value(argv, "-append"),
                    "console=ttyS0 panic=-1 quiet podshim.agent=/usr/libexec/podshim/podshim-agent "
                    "podshim.bundles=/run/containerd/io.containerd.runtime.v2.task/k8s.io");
        for (size_t i = 1; argv[i]; i++)
                if (strcmp(argv[i - 1], "-fsdev") == 0 &&
                    strcmp(argv[i], "local,id=bundles,path=/run/containerd/"
                                    "io.containerd.runtime.v2.task/k8s.io,security_model="
                                    "passthrough,multidevs=remap") == 0)
                        rw_share = true;
        CHECK(rw_share);
        CHECK(has(argv, "virtio-9p-pci,fsdev=bundles,mount_tag=bundles"));

        /* the pod's own share is exported; the guest's path stays */
        ps_strv_free(argv);
        c.bundles_share = "/run/podshim/vm/0123.bundles";
        argv = ps_vm_qemu_argv(&c, "/run/p", &err);
        CHECK(argv != NULL);
        if (!argv)
                return;
        CHECK(strstr(opt_value(argv, "-append"),
                     " podshim.bundles=/run/containerd/io.containerd.runtime.v2.task/k8s.io") !=
              NULL);
        CHECK(has(argv, "local,id=bundles,path=/run/podshim/vm/0123.bundles,"
                        "security_model=passthrough,multidevs=remap"));
        c.bundles_share = "/run/x y";
        bad = ps_vm_qemu_argv(&c, "/run/p", &err);
        CHECK(bad == NULL);
        CHECK(err && err->code == PS_INVALID_ARGUMENT);
        ps_strv_free(bad);
        ps_err_free(TAKE_PTR(err));
        c.bundles_share = NULL;

        c.bundles = "/run/a,b";
        bad = ps_vm_qemu_argv(&c, "/run/p", &err);
        CHECK(bad == NULL);
        CHECK(err && err->code == PS_INVALID_ARGUMENT);
        ps_strv_free(bad);
}

/* The pod's NIC: the tap as QEMU's fd 3, virtio-net with eth0's MAC;
 * without one, no NIC at all; a MAC that is not one is refused. */
static void test_nic(void)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_vm_config c = good;
        _cleanup_strv_ char **argv = NULL, **none = NULL;
        char **bad;

        none = ps_vm_qemu_argv(&c, "/run/p", &err);
        CHECK(none != NULL);
        if (!none)
                return;
        CHECK_STREQ(opt_value(none, "-nic"), "none");
        CHECK(opt_value(none, "-netdev") == NULL);
        c.nic_mac = "06:16:3a:e7:58:82";
        c.tap_fd = 7;
        argv = ps_vm_qemu_argv(&c, "/run/p", &err);
        CHECK(argv != NULL);
        if (!argv)
                return;
        CHECK_STREQ(opt_value(argv, "-netdev"), "tap,id=net0,fd=3,vhost=off");
        CHECK(has(argv, "virtio-net-pci,netdev=net0,mac=06:16:3a:e7:58:82"));
        CHECK(opt_value(argv, "-nic") == NULL);
        c.nic_mac = "06:16:3a:e7:58:82,x=1";
        bad = ps_vm_qemu_argv(&c, "/run/p", &err);
        CHECK(bad == NULL);
        CHECK(err && err->code == PS_INVALID_ARGUMENT);
        ps_strv_free(bad);
}

/* QEMU would split a value at a comma, the kernel at a blank. */
static void test_refused(void)
{
        struct {
                const char *field, *value;
        } bad[] = {
            {"kernel", "/boot/a,b"}, {"initrd", "relative.gz"}, {"agent", "/x/my agent"},
            {"accel", "hvf"},        {"dir", "/run/p,q"},       {"kernel", NULL},
            {"root", NULL},          {"root", "root-1"},        {"root", "/r/a,b"},
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_err_ struct ps_err *err = NULL;
                struct ps_vm_config c = good;
                const char *dir = "/run/p";
                char **argv;

                if (strcmp(bad[i].field, "kernel") == 0)
                        c.kernel = bad[i].value;
                else if (strcmp(bad[i].field, "initrd") == 0)
                        c.initrd = bad[i].value;
                else if (strcmp(bad[i].field, "agent") == 0)
                        c.agent = bad[i].value;
                else if (strcmp(bad[i].field, "root") == 0)
                        c.root = bad[i].value;
                else if (strcmp(bad[i].field, "accel") == 0)
                        c.accel = bad[i].value;
                else
                        dir = bad[i].value;
                argv = ps_vm_qemu_argv(&c, dir, &err);
                CHECK(argv == NULL);
                CHECK(err && err->code == PS_INVALID_ARGUMENT);
                ps_strv_free(argv);
        }
}

int main(void)
{
        RUN(test_argv);
        RUN(test_kvm_and_sizes);
        RUN(test_bundles_share);
        RUN(test_nic);
        RUN(test_refused);
        return check_summary();
}
