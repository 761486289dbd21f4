#!/bin/bash
# The kernel and initramfs of podshim's pod VMs (docs/vm-backend.md), the
# initramfs built once and cached.
#
#   scripts/vm-initramfs.sh [KERNEL_RELEASE]
#   podshim-vm-image [KERNEL_RELEASE]      (the same, as the package has it)
#
# Prints one line, "KERNEL INITRAMFS" (absolute paths, no blanks). The
# kernel is /boot/vmlinuz-KERNEL_RELEASE; without the argument the running
# kernel's when /boot has it, else the newest one /boot and /lib/modules
# both have (a host that is itself a VM may run a kernel of its own). The
# initramfs holds busybox (busybox-static), scripts/vm-guest-init as /init,
# and the modules that mount the guest's root and carry the agent port,
# with their dependencies (modprobe --show-depends, as cgroup-v2-vm.sh
# does): virtio_pci, virtio_console, virtio_balloon (free page reporting),
# virtio_net (the pod's NIC),
# 9pnet_virtio, 9p, overlay.
#
# The KERNEL printed is, where it can be, the ELF image inside the bzImage
# (its payload decompressed once here and cached), which QEMU enters at its
# PVH entry point: no firmware decompression in the guest, which under TCG
# took 3 of a VM's 6 seconds to boot (xz, emulated). QEMU maps that file:
# its pages are page cache, shared by every pod VM and reclaimable, where
# the bzImage's were each guest's own memory. The bzImage itself is
# printed when the payload is none of xz, gzip or zstd, when that tool or
# readelf is missing, or when the ELF has no PVH entry note (a kernel built
# without CONFIG_PVH).
#
# The cache (PODSHIM_VM_CACHE, default /var/cache/podshim/vm) keys each
# image by the kernel release and a hash of everything in it: the init, the
# busybox binary and the module files (the kernel image: by its own hash). A
# new init or kernel makes a new image; an image is written to a temporary
# name and renamed, so concurrent callers never see half of one.
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
[ -n "$kver" ] && [ -r "$kernel" ] || { echo "${0##*/}: no kernel /boot/vmlinuz-${kver:-*}" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "${0##*/}: /bin/busybox missing (busybox-static)" >&2; exit 2; }
# the guest's /init: beside this script in the source tree, in
# share/podshim when installed (as podshim-vm-image)
init=${PODSHIM_VM_INIT:-$here/vm-guest-init}
[ -r "$init" ] || init=$here/../share/podshim/vm-guest-init
[ -r "$init" ] || { echo "${0##*/}: no vm-guest-init beside $0 or in ../share/podshim" >&2; exit 2; }
cache=${PODSHIM_VM_CACHE:-/var/cache/podshim/vm}
mkdir -p "$cache"
tmp='' work=''
trap 'rm -rf "$work" "$tmp"' EXIT

# The bzImage's payload as an ELF with a PVH entry, in $1 (a path in the
# cache's work area); fails when there is none (1) or readelf is missing (2).
extract_pvh_elf() {
	local dst=$1 magic tool off
	command -v readelf >/dev/null || return 2
	for magic in xz zstd gzip; do
		case $magic in
		xz) pat='\xfd7zXZ\x00' tool=(xz -dc --single-stream) ;;
		zstd) pat='\x28\xb5\x2f\xfd' tool=(zstd -dcq) ;;
		gzip) pat='\x1f\x8b\x08' tool=(gzip -dc) ;;
		esac
		command -v "${tool[0]}" >/dev/null || continue
		# the first few places the magic occurs: a stray match fails to
		# decompress to an ELF and the next is tried
		for off in $(LC_ALL=C grep -obUaP "$pat" "$kernel" | head -n 4 | cut -d: -f1); do
			tail -c +$((off + 1)) "$kernel" | "${tool[@]}" >"$dst" 2>/dev/null || true
			[ "$(head -c 4 "$dst" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || continue
			# XEN_ELFNOTE_PHYS32_ENTRY (18): where QEMU enters a PVH kernel
			LC_ALL=C readelf -n "$dst" 2>/dev/null |
				grep -qE '^[[:space:]]*Xen[[:space:]].*(\(0x00000012\)|PHYS32_ENTRY)' || continue
			# QEMU maps the file and loads every segment's file bytes.
			# x86's 4 MiB .init.scratch (zeros, SME's workspace) sits
			# behind .bss, so the last segment carries bss and brk as
			# 24 MiB of zeros in the file: without it they are memory
			# only, which a new guest's RAM already is (zero), and the
			# symbols are of no use to QEMU. Without objcopy the image
			# stays as it is.
			if command -v objcopy >/dev/null; then
				objcopy --strip-all -R .init.scratch "$dst" 2>/dev/null || return 1
			fi
			return 0
		done
	done
	return 1
}

kkey=$({
	sha256sum "$kernel" | cut -d' ' -f1
	echo 2 # how the image is made (extract_pvh_elf): a change makes a new one
} | sha256sum | cut -c1-16)
elf=$cache/vmlinux-$kver-$kkey
nopvh=$cache/vmlinux-$kver-$kkey.none
if [ ! -s "$elf" ] && [ ! -e "$nopvh" ]; then
	tmp=$(mktemp "$cache/.vmlinux.XXXXXX")
	r=0
	extract_pvh_elf "$tmp" || r=$?
	if [ $r -eq 0 ]; then
		chmod 644 "$tmp"
		mv "$tmp" "$elf"
	elif [ $r -eq 1 ]; then
		: >"$nopvh" # this kernel has none: not tried again
	fi
fi
[ -s "$elf" ] && boot_kernel=$elf || boot_kernel=$kernel

mods=$(for m in virtio_pci virtio_console virtio_balloon virtio_net 9pnet_virtio 9p overlay; do
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
echo "$boot_kernel $out"
