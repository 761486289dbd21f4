#!/bin/bash
# The kernel, initramfs and guest root of podshim's pod VMs
# (docs/vm-backend.md), the initramfs and the root built once and cached.
#
#   scripts/vm-initramfs.sh [KERNEL_RELEASE]
#   podshim-vm-image [KERNEL_RELEASE]      (the same, as the package has it)
#
# Prints one line, "KERNEL INITRAMFS ROOT" (absolute paths, no blanks), for
# the runtime options VMKernel, VMInitrd and VMRoot. The
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
# ROOT is the directory QEMU shares with the guest (read-only, 9p) as its
# root file system: the only host files a guest can read besides its own
# pod's bundles. It holds the agent, the OCI runtimes the guest may run and
# the ELF shared libraries they load (ldd: the dynamic loader included, and
# libasan and friends for a sanitizer build), each at the same absolute
# path as on the host, and the empty directories the guest mounts on;
# nothing else of the host. The agent is PODSHIM_VM_AGENT, by default the
# podshim-agent installed beside this script (../bin, as the package has
# it) or on PATH; the runtimes are runc and crun as PATH finds them (those
# that exist) and the absolute paths PODSHIM_VM_RUNTIMES lists (blanks or
# colons between them). A runtime the guest should run by name must be in
# the guest's PATH (the agent's: /usr/local/sbin:/usr/local/bin:/usr/sbin:
# /usr/bin:/sbin:/bin); one named by an absolute path (BinaryName) at that
# path.
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
# busybox binary and the module files (the kernel image: by its own hash);
# the root by the paths and hashes of the files it holds. A new init, kernel,
# agent or runtime makes a new image; an image is written to a temporary
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
tmp='' work='' rwork=''
trap 'rm -rf "$work" "$tmp" "$rwork"' EXIT
die() {
	echo "${0##*/}: $*" >&2
	exit 2
}

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

# ---- the guest's root -------------------------------------------------------

# what the agent's PATH finds in the guest (src/agent/main.c DEFAULT_PATH)
guest_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
agent=${PODSHIM_VM_AGENT:-}
if [ -z "$agent" ]; then
	if [ -x "$here/../bin/podshim-agent" ]; then
		agent=$(cd "$here/../bin" && pwd)/podshim-agent
	else
		agent=$(command -v podshim-agent || true)
	fi
fi
[ -n "$agent" ] || die "no podshim-agent beside $0 (../bin) or on PATH: set PODSHIM_VM_AGENT"
bins=("$agent")
for r in runc crun; do
	p=$(PATH=$guest_path command -v "$r" || true)
	[ -n "$p" ] && bins+=("$p")
done
runtimes=${PODSHIM_VM_RUNTIMES:-}
for p in ${runtimes//:/ }; do
	bins+=("$p")
done
for p in "${bins[@]}"; do
	# the guest runs each at this path: the kernel command line (the
	# agent's) and QEMU's options split at blanks and commas
	case $p in
	/*[[:space:],]* | [!/]*) die "$p: an absolute path without blanks or commas, please" ;;
	esac
	[ -f "$p" ] && [ -x "$p" ] || die "$p: no executable file"
done
# Each program and the shared libraries it loads, the dynamic loader
# included (ldd: a static program has none). A library ldd cannot find
# would fail in the guest: refused here.
closure() {
	local f out
	for f; do
		echo "$f"
		out=$(LC_ALL=C ldd "$f" 2>/dev/null || true)
		if grep -q '=> not found' <<<"$out"; then
			die "$f: $(grep '=> not found' <<<"$out" | head -n 3 | tr -s '\t\n' '  ')"
		fi
		awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$out"
	done | sort -u
}
files=$(closure "${bins[@]}")
rkey=$({
	echo 1 # how the root is made: a change makes a new one
	# shellcheck disable=SC2086 # one path a line, none with blanks
	sha256sum $files
} | sha256sum | cut -c1-16)
rootdir=$cache/root-$rkey
if [ ! -d "$rootdir" ]; then
	rwork=$(mktemp -d "$cache/.root.XXXXXX")
	for f in $files; do
		mkdir -p "$rwork${f%/*}"
		cp -L "$f" "$rwork$f" # a symlink's target, at the symlink's path
	done
	# where the guest's init and agent mount: dev, proc, sys (the
	# cgroup2 mount point is sysfs's own), and the runtimes' state
	mkdir -p "$rwork"/{dev,proc,sys,run,tmp}
	chmod -R u=rwX,go=rX "$rwork"
	chmod 1777 "$rwork/tmp"
	# Another caller may have finished the same root first: a rename onto
	# its (non-empty) directory fails, and ours goes.
	mv -T "$rwork" "$rootdir" 2>/dev/null || rm -rf "$rwork"
	rwork=''
fi
echo "$boot_kernel $out $rootdir"
