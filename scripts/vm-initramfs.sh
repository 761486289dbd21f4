#!/bin/bash
# The kernel and initramfs of podshim's pod VMs (docs/vm-backend.md), the
# initramfs built once and cached.
#
#   scripts/vm-initramfs.sh [KERNEL_RELEASE]
#
# Prints one line, "KERNEL INITRAMFS" (absolute paths, no blanks). The
# kernel is /boot/vmlinuz-KERNEL_RELEASE; without the argument the running
# kernel's when /boot has it, else the newest one /boot and /lib/modules
# both have (a host that is itself a VM may run a kernel of its own). The
# initramfs holds busybox (busybox-static), scripts/vm-guest-init as /init,
# and the modules that mount the guest's root and carry the agent port,
# with their dependencies (modprobe --show-depends, as cgroup-v2-vm.sh
# does): virtio_pci, virtio_console, virtio_balloon (free page reporting),
# 9pnet_virtio, 9p, overlay.
#
# The cache (PODSHIM_VM_CACHE, default /var/cache/podshim/vm) keys each
# image by the kernel release and a hash of everything in it: the init, the
# busybox binary and the module files. A new init or kernel makes a new
# image; an image is written to a temporary name and renamed, so concurrent
# callers never see half of one.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kver=${1:-}
if [ -z "$kver" ]; then
	if [ -e "/boot/vmlinuz-$(uname -r)" ] && [ -d "/lib/modules/$(uname -r)" ]; then
		kver=$(uname -r)
	else
		for v in $(ls /lib/modules | sort -V); do
			[ -e "/boot/vmlinuz-$v" ] && kver=$v
		done
	fi
fi
kernel=/boot/vmlinuz-$kver
[ -n "$kver" ] && [ -r "$kernel" ] || { echo "vm-initramfs: no kernel /boot/vmlinuz-${kver:-*}" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "vm-initramfs: /bin/busybox missing (busybox-static)" >&2; exit 2; }
init=$here/vm-guest-init
cache=${PODSHIM_VM_CACHE:-/var/cache/podshim/vm}
mkdir -p "$cache"

mods=$(for m in virtio_pci virtio_console virtio_balloon 9pnet_virtio 9p overlay; do
	modprobe -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
key=$({
	echo "$kver"
	sha256sum "$init" /bin/busybox | cut -d' ' -f1
	for m in $mods; do sha256sum "$m"; done
} | sha256sum | cut -c1-16)
out=$cache/initramfs-$kver-$key.cpio.gz
if [ ! -s "$out" ]; then
	work=$(mktemp -d "$cache/.build.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	root=$work/root
	mkdir -p "$root"/{bin,dev,proc,sys,mods}
	cp /bin/busybox "$root/bin/busybox"
	cp "$init" "$root/init"
	chmod 755 "$root/init"
	: >"$root/mods/order"
	for m in $mods; do
		cp "$m" "$root/mods/"
		basename "$m" >>"$root/mods/order"
	done
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/image"
	mv "$work/image" "$out"
fi
echo "$kernel $out"
