#!/bin/bash
# Runs a command on a pure cgroup v2 machine: this host's own root file
# system, booted under qemu with Debian's kernel (linux-image-amd64) and only
# the unified hierarchy mounted. CI hosts here are cgroup v1 (hybrid), and
# the kernel decides the cgroup layout at boot, so a guest is the only way
# to exercise the shim's cgroup v2 code on a v2 system.
#
#   scripts/cgroup-v2-vm.sh OUTDIR COMMAND [ARG...]
#
# The guest sees the host's / read-only through 9p with a tmpfs overlay on
# top (every write stays in the guest), plus OUTDIR read-write at the same
# path. COMMAND runs as root in the guest with cgroup2 at /sys/fs/cgroup
# (cpu, memory, pids, io, cpuset, hugetlb enabled for children), fresh
# /tmp and /run, lo up. The script's exit status is COMMAND's; its console
# goes to OUTDIR/console.log. Needs: qemu-system-x86, linux-image-amd64,
# busybox-static.
#
# The accelerator is scripts/qemu-accel.sh's choice (KVM only if a probe
# guest boots with it, else TCG, the emulated CPU, many times slower; set
# QEMU_ACCEL=tcg or kvm to skip the probe). COMMAND sees it as
# CGV2_VM_ACCEL=kvm|tcg. If the guest does not come up under KVM within
# CGV2_VM_KVM_BOOT_TIMEOUT seconds (default 90), or KVM reports an internal
# error before it is up, it boots again under TCG (the KVM console is kept as
# OUTDIR/console-kvm.log). CGV2_VM_TIMEOUT (default 1500) bounds the whole
# run, both boots included.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 OUTDIR COMMAND [ARG...]" >&2; exit 2; }
out=$(mkdir -p "$1" && cd "$1" && pwd)
shift
kver=$(ls /lib/modules | sort -V | tail -1)
kernel=/boot/vmlinuz-$kver
for f in "$kernel" /bin/busybox; do
	[ -e "$f" ] || { echo "cgroup-v2-vm: $f missing" >&2; exit 2; }
done

here=$(cd "$(dirname "$0")" && pwd)
usec() { local t=${EPOCHREALTIME//[.,]/}; echo "${t#0}"; }
secs() { printf '%d.%d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }
t_start=$(usec)
deadline=$((t_start + ${CGV2_VM_TIMEOUT:-1500} * 1000000))

work=$(mktemp -d /tmp/cgv2vm.XXXXXX)
qemu_pid=
cleanup() {
	[ -n "$qemu_pid" ] && kill -KILL "$qemu_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
init=$work/initramfs
mkdir -p "$init"/{bin,dev,proc,sys,lower,upper,root,mods}
cp /bin/busybox "$init/bin/busybox"
# the modules that mount the host root; the rest load from it later
for m in virtio_pci 9pnet_virtio 9p overlay; do
	modprobe -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$work/mods.list"
: >"$init/mods/order"
while read -r m; do
	cp "$m" "$init/mods/"
	basename "$m" >>"$init/mods/order"
done <"$work/mods.list"

# The command, quoted for the guest's shell.
printf '%q ' "$@" >"$init/command"
printf '%s' "$out" >"$init/outdir.path"
# this checkout stays visible in the guest even under /tmp or /run, which
# the guest mounts afresh
printf '%s' "$(cd "$(dirname "$0")/.." && pwd)" >"$init/keep.path"

cat >"$init/init" <<'EOF'
#!/bin/busybox sh
# stage 1: mount the host root (9p, read-only) under a tmpfs overlay
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "/mods/$m" || echo "stage1: insmod $m failed"; done </mods/order
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose hostroot /lower
mount -t tmpfs -o size=8g,mode=0755 upper /upper
mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w root /root
out=$(cat /outdir.path)
mkdir -p /root/.cgroup-v2-out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 outdir /root/.cgroup-v2-out
cp /command /root/.cgroup-v2-command
cp /keep.path /root/.cgroup-v2-keep
mount --move /dev /root/dev
umount /proc /sys
exec switch_root /root /bin/bash -c '
	set -u
	out='"$out"'
	mount -t proc proc /proc
	mount -t sysfs sys /sys
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	keep=$(cat /.cgroup-v2-keep)
	mkdir -p /.cgroup-v2-host
	mount --bind / /.cgroup-v2-host
	mount -t tmpfs -o mode=1777 tmp /tmp
	mount -t tmpfs -o mode=0755 run /run
	case $keep in
	/tmp/* | /run/*)
		mkdir -p "$keep"
		mount --bind "/.cgroup-v2-host$keep" "$keep" ;;
	esac
	mkdir -p "$out"
	mount --move /.cgroup-v2-out "$out"
	mkdir -p /dev/pts /dev/shm /dev/mqueue
	mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
	mount -t tmpfs shm /dev/shm
	mount -t mqueue mqueue /dev/mqueue
	for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
		echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
	done
	ip link set lo up
	hostname cgroup-v2-guest
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
	CGV2_VM_ACCEL=$(sed -n "s/.*cgv2vm_accel=\([a-z]*\).*/\1/p" /proc/cmdline)
	export CGV2_VM_ACCEL
	echo "guest: $(uname -r) ($CGV2_VM_ACCEL), cgroup controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
	eval "$(cat /.cgroup-v2-command)"
	echo $? >"$out/exit-status"
	sync
	echo o >/proc/sysrq-trigger
	busybox poweroff -f
'
EOF
chmod 755 "$init/init"
(cd "$init" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.gz"

mem_mib=${CGV2_VM_MEM_MIB:-6144}

# run_vm NAME QEMU-ACCEL-ARGS...: boot the guest; sets vm_end (how qemu
# ended: "finished", "exited", "KVM internal error", "timed out", "not up
# after N s", maybe with qemu's status) and vm_up (seconds to the guest's
# "guest:" line, empty if it never came up)
run_vm() {
	local name=$1 t0 now st
	shift
	rm -f "$out/exit-status"
	: >"$out/console.log"
	: >"$work/qemu.err"
	t0=$(usec)
	# bash reports a child killed by a signal ("Aborted") on its stderr; qemu's
	# own stderr is printed below
	exec 4>&2 2>/dev/null
	qemu-system-x86_64 \
		"$@" -smp "$(nproc)" -m "$mem_mib" -no-reboot \
		-kernel "$kernel" -initrd "$work/initramfs.gz" \
		-append "console=ttyS0 panic=-1 quiet systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all cgv2vm_accel=$name" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
		-virtfs local,path="$out",mount_tag=outdir,security_model=passthrough,multidevs=remap \
		-nic none -serial "file:$out/console.log" -monitor none -display none \
		</dev/null 2>"$work/qemu.err" &
	qemu_pid=$!
	vm_up=
	vm_end=
	while [ -z "$vm_end" ]; do
		now=$(usec)
		if ! kill -0 "$qemu_pid" 2>/dev/null; then
			vm_end=exited
		elif grep -q 'KVM internal error' "$work/qemu.err"; then
			vm_end="KVM internal error"
		elif [ "$now" -ge "$deadline" ]; then
			vm_end="timed out"
		elif [ -z "$vm_up" ] && grep -qa '^guest: ' "$out/console.log"; then
			vm_up=$(secs $((now - t0)))
			echo "cgroup-v2-vm: guest up after $vm_up s under $name"
		elif [ -z "$vm_up" ] && [ "$name" = kvm ] &&
			[ $((now - t0)) -ge $((${CGV2_VM_KVM_BOOT_TIMEOUT:-90} * 1000000)) ]; then
			vm_end=noboot
		else
			sleep 0.5
		fi
	done
	[ "$vm_end" = noboot ] && vm_end="not up after ${CGV2_VM_KVM_BOOT_TIMEOUT:-90} s"
	if [ "$vm_end" != exited ]; then
		kill -KILL "$qemu_pid" 2>/dev/null || true
	fi
	st=0
	wait "$qemu_pid" 2>/dev/null || st=$?
	qemu_pid=
	exec 2>&4 4>&-
	[ "$vm_end" = exited ] && [ -s "$out/exit-status" ] && vm_end=finished
	[ -z "$vm_up" ] && grep -qa '^guest: ' "$out/console.log" && vm_up=$(secs $((now - t0)))
	grep -v '^qemu-system-x86_64: terminating on signal' "$work/qemu.err" | sed 's/^/qemu: /' >&2 || true
	[ "$st" -ne 0 ] && vm_end+=" (qemu status $st)"
	echo "cgroup-v2-vm: qemu ($name) ran $(secs $(($(usec) - t0))) s: $vm_end"
}

read -r accel_name accel_args < <(bash "$here/qemu-accel.sh" "$kernel")
# shellcheck disable=SC2086 # the helper's arguments contain no blanks
run_vm "$accel_name" $accel_args
if [ "$accel_name" = kvm ] && [ -z "$vm_up" ] && [ ! -s "$out/exit-status" ]; then
	echo "cgroup-v2-vm: the guest did not come up under KVM: $vm_end; booting it again under TCG" >&2
	mv "$out/console.log" "$out/console-kvm.log"
	read -r accel_name accel_args < <(QEMU_ACCEL=tcg bash "$here/qemu-accel.sh" "$kernel")
	# shellcheck disable=SC2086
	run_vm "$accel_name" $accel_args
fi
case $vm_end in
finished*) ;;
"timed out"*) echo "cgroup-v2-vm: timed out after ${CGV2_VM_TIMEOUT:-1500} s (see $out/console.log)" >&2 ;;
"KVM internal error"*) echo "cgroup-v2-vm: KVM internal error, guest stopped (see $out/console.log)" >&2 ;;
*) echo "cgroup-v2-vm: qemu failed (see $out/console.log)" >&2 ;;
esac
if [ ! -s "$out/exit-status" ]; then
	echo "cgroup-v2-vm: the guest did not finish; console:" >&2
	tail -40 "$out/console.log" >&2
	exit 1
fi
exit "$(cat "$out/exit-status")"
