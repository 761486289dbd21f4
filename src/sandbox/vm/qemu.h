/* QEMU's command line for one pod VM (docs/vm-backend.md, "The machine").
 *
 * q35 with virtio-pci devices, no firmware menu, no default
 * devices: the host's kernel and the cached initramfs
 * (scripts/vm-initramfs.sh), the guest's root directory (built by the same
 * script: the agent, the OCI runtimes and their libraries, never the host's
 * /) shared read-only over 9p as "guestroot" (the guest's init lays a tmpfs
 * overlay on it), one virtio-serial port
 * org.podshim.agent whose host end is a unix socket QEMU listens on
 * (`<dir>/agent.sock`, server=on,wait=off: QEMU does not wait for us), a
 * second 9p share, read-write, of the pod's own bundle share (a directory
 * of binds of its members' bundles, sandbox/vm/share.h), which the agent
 * mounts at the path where containerd keeps those bundles, a
 * virtio-net NIC on a tap fd when the pod has a network (nic_mac), a
 * balloon device that only reports free pages (the guest gives back the
 * memory it frees), and -no-reboot, so the guest's panic when its agent dies ends QEMU.
 *
 * Only argv: nothing here goes through a shell. QEMU's own option parser
 * splits values at ',' (and would need ",,"), and the kernel command line at
 * blanks, so such paths are refused rather than quoted.
 */
#ifndef PS_SANDBOX_VM_QEMU_H
#define PS_SANDBOX_VM_QEMU_H

#include <stddef.h>

#include "base/error.h"

#define PS_VM_AGENT_SOCKET "agent.sock"
#define PS_VM_AGENT_PORT   "org.podshim.agent"
#define PS_VM_BUNDLES_TAG  "bundles"   /* the agent mounts it (agent/main.c) */
#define PS_VM_ROOT_TAG     "guestroot" /* scripts/vm-guest-init mounts it */
#define PS_VM_TAP_FD       3           /* the first of ps_spawn's extra fds */

struct ps_vm_config {
        const char *qemu;    /* NULL: qemu-system-x86_64 from $PATH */
        const char *kernel;  /* e.g. /boot/vmlinuz-6.1.0-57-amd64 */
        const char *initrd;  /* scripts/vm-initramfs.sh's image */
        const char *root;    /* the guest's root directory, the same script's */
        const char *agent;   /* podshim-agent's path inside `root` */
        const char *accel;   /* "tcg" or "kvm" (scripts/qemu-accel.sh decides) */
        const char *cpu;     /* -cpu; NULL: "max" under TCG, "host" under KVM */
        unsigned vcpus;      /* 0: 1 */
        unsigned mem_mib;    /* 0: 256 */
        const char *console; /* file for the guest's serial console; NULL: none */
        /* where the guest mounts the bundle share: the directory containerd
         * keeps the pod's bundles in, so a bundle path means the same on
         * both sides (podshim.bundles= on its command line); NULL: none */
        const char *bundles;
        /* the host directory exported read-write as that share (the pod's
         * binds of its members' bundles); NULL: `bundles` itself */
        const char *bundles_share;
        int stderr_fd; /* QEMU's stderr; -1: /dev/null */
        /* the pod's NIC (net/vmnic.h): a virtio-net device with this MAC
         * on the tap whose fd QEMU gets as its fd 3 (PS_VM_TAP_FD); NULL:
         * no NIC */
        const char *nic_mac;
        int tap_fd;
        /* written "0" by QEMU's process before it execs (base/spawn.h
         * enter_fds): the pod cgroup's files (sandbox/vm/pod.c) */
        const int *cgroup_fds;
        size_t n_cgroup_fds;
};

/* QEMU's argv (argv[0] included, NULL-terminated; free with ps_strv_free)
 * for a VM whose run directory is `dir`. INVALID_ARGUMENT for a missing or
 * unusable setting. */
char **ps_vm_qemu_argv(const struct ps_vm_config *cfg, const char *dir, struct ps_err **err);

#endif
