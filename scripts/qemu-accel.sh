#!/bin/bash
# Which accelerator and CPU model qemu-system-x86_64 should use on this host:
# KVM only when a probe guest shows that KVM really runs a guest here, else
# TCG (the emulated CPU, slow but always works).
#
#   scripts/qemu-accel.sh [KERNEL]
#
# Prints one line on stdout: the accelerator's name, then the qemu arguments
# (no word contains a blank), e.g.
#
#   kvm -accel kvm -cpu host
#   kvm -accel kvm -cpu host,-arch-capabilities
#   tcg -accel tcg,thread=multi -cpu max
#
# and one line on stderr saying which and why. Exit status 0 (TCG is always
# an answer). KERNEL (default: the newest /boot/vmlinuz-*) is the kernel the
# probe boots; pass the one the real guest will boot. Needs busybox-static and
# cpio for the probe; without them the answer is TCG.
#
# Environment:
#   QEMU_ACCEL=auto|kvm|tcg       auto (default) probes; kvm and tcg force
#                                 (kvm uses QEMU_ACCEL_CPU, default host)
#   QEMU_ACCEL_CPUS="host ..."    the -cpu candidates, in order
#   QEMU_ACCEL_PROBE_TIMEOUT=5    seconds for the whole probe
#
# The decision (a later C version, for VM-isolated pods, must do the same):
#   1. No qemu-system-x86_64, no /dev/kvm, or /dev/kvm not readable and
#      writable: TCG.
#   2. For each -cpu candidate (host, host,-arch-capabilities, kvm64), boot
#      KERNEL with a one-file initramfs whose /init (busybox sh) prints a
#      marker on ttyS0 and powers off; -accel kvm, -m 256, -smp min(nproc,2),
#      -nodefaults, -no-reboot. One deadline (5 s) covers all candidates.
#      - marker on the console: KVM with this candidate.
#      - qemu exited without the marker (vCPU setup refused, unknown model):
#        next candidate; this takes milliseconds.
#      - "KVM internal error" on qemu's stderr (the VM is paused, qemu never
#        exits by itself): kill it, next candidate.
#      - deadline reached: kill it, TCG. A real KVM guest reaches init in
#        about a second; one still booting after 5 s is no faster than TCG
#        (about 7 s to init with this probe on a 2-core host), whatever the
#        cause.
#   3. Nothing worked: TCG.
#
# Why these candidates (found on a development host, QEMU 7.2, Debian's
# 6.1 kernel; the host is itself a Firecracker guest with no VMX/SVM in its
# CPU flags, and its /dev/kvm comes from the kvm_pvm module, nested_pvm=1):
#   - -cpu host (and -cpu max) abort in 50 ms: "failed to set MSR 0x10a to
#     0x69", then "kvm_buf_set_msrs: Assertion ... failed" (SIGABRT, 134).
#     KVM lists IA32_ARCH_CAPABILITIES (MSR 0x10a, CPUID.07H:EDX[29]) as
#     supported with RDCL_NO|SKIP_L1DFL_VMENTRY|MDS_NO|PSCHANGE_MC_NO
#     (0x01|0x08|0x20|0x40 = 0x69), QEMU writes that value at vCPU reset, and
#     this host's KVM refuses every non-zero value (0x68, 0x61, 0x49, 0x29
#     fail alike; 0 is accepted). Without the CPUID bit QEMU does not write
#     the MSR: host,-arch-capabilities (or host,-rdctl-no,-skip-l1dfl-vmentry,
#     -mds-no,-pschange-mc-no) starts. This is the known nested-KVM
#     ARCH_CAPABILITIES mismatch, so on hosts with real nested virtualization
#     the second candidate is the one expected to work. Named models without
#     the bit (kvm64, qemu64, EPYC) start too.
#   - On that host no model boots Linux under KVM: kvm_pvm runs a normal
#     (non-PVM) guest's kernel-mode code through KVM's instruction emulator.
#     Its supported CPUID lacks even SSE3; the bzImage's xz decompressor ran
#     at ~50 KB/s and did not finish within minutes; the uncompressed vmlinux
#     (PVH entry) took ~40 s of guest time to the "Memory:" line (TCG: at
#     init after 3 s) and then stopped with "KVM internal error. Suberror: 1"
#     (emulation failure) on lock cmpxchg16b (-cx16 avoids it), xrstor
#     (noxsave avoids it) and finally int3 in the kernel's alternatives
#     self-test, which nothing avoids. The probe hits its deadline there
#     and TCG is chosen.
set -uo pipefail

kernel=${1:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)}
mode=${QEMU_ACCEL:-auto}
tcg="tcg -accel tcg,thread=multi -cpu max"
marker=qemu-accel-probe-reached-init

say() { echo "qemu-accel: $*" >&2; }
answer() { # answer LINE WHY
	echo "$1"
	say "${1%% *} (${1#* }): $2"
	exit 0
}

case $mode in
tcg) answer "$tcg" "forced by QEMU_ACCEL=tcg" ;;
kvm) answer "kvm -accel kvm -cpu ${QEMU_ACCEL_CPU:-host}" "forced by QEMU_ACCEL=kvm, not probed" ;;
auto) ;;
*) say "QEMU_ACCEL must be auto, kvm or tcg, not '$mode'"; exit 2 ;;
esac
command -v qemu-system-x86_64 >/dev/null || answer "$tcg" "qemu-system-x86_64 not found"
[ -e /dev/kvm ] || answer "$tcg" "no /dev/kvm"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || answer "$tcg" "/dev/kvm is not readable and writable for $(id -un)"
[ -n "$kernel" ] && [ -r "$kernel" ] || answer "$tcg" "KVM not probed: no kernel to boot (${kernel:-/boot/vmlinuz-*})"
[ -x /bin/busybox ] && command -v cpio >/dev/null ||
	answer "$tcg" "KVM not probed: /bin/busybox or cpio missing"

work=$(mktemp -d /tmp/qemu-accel.XXXXXX)
trap 'rm -rf "$work"' EXIT
ulimit -c 0 # qemu aborts on a refused MSR; no core files
mkdir -p "$work/root/bin" "$work/root/dev"
cp /bin/busybox "$work/root/bin/busybox"
printf '#!/bin/busybox sh\necho %s\n/bin/busybox poweroff -f\n' "$marker" >"$work/root/init"
chmod 755 "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) >"$work/probe.cpio" ||
	answer "$tcg" "KVM not probed: building the probe initramfs failed"

usec() { local t=${EPOCHREALTIME//[.,]/}; echo "${t#0}"; }
smp=$(nproc)
[ "$smp" -gt 2 ] && smp=2
budget=${QEMU_ACCEL_PROBE_TIMEOUT:-5}
t0=$(usec)
deadline=$((t0 + budget * 1000000))
tried=()

# probe CPU: boot the probe guest; sets outcome (init, exited, internal,
# timeout) and detail
probe() {
	local cpu=$1 pid st
	rm -f "$work/console" "$work/stderr"
	# bash reports a child killed by a signal ("Aborted") on its stderr
	exec 4>&2 2>/dev/null
	qemu-system-x86_64 -accel kvm -cpu "$cpu" -smp "$smp" -m 256 -nodefaults -no-reboot \
		-kernel "$kernel" -initrd "$work/probe.cpio" -append "console=ttyS0 panic=-1 quiet" \
		-serial "file:$work/console" -monitor none -display none -nic none \
		</dev/null >/dev/null 2>"$work/stderr" &
	pid=$!
	outcome=
	while [ -z "$outcome" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			st=$?
			if grep -qa "$marker" "$work/console" 2>/dev/null; then
				outcome=init
			else
				outcome=exited
				detail="qemu exited with status $st: $(grep -v 'warning:' "$work/stderr" | head -1)"
			fi
		elif grep -qa "$marker" "$work/console" 2>/dev/null; then
			outcome=init
		elif grep -q 'KVM internal error' "$work/stderr"; then
			outcome=internal
			detail="KVM internal error (emulation failure), guest paused"
		elif [ "$(usec)" -ge "$deadline" ]; then
			outcome=timeout
			detail="no init after ${budget} s"
		else
			sleep 0.05
		fi
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	exec 2>&4 4>&-
	return 0
}

for cpu in ${QEMU_ACCEL_CPUS:-host host,-arch-capabilities kvm64}; do
	probe "$cpu"
	took=$((($(usec) - t0) / 1000))
	if [ "$outcome" = init ]; then
		why="a probe guest reached init in $((took / 1000)).$(printf %03d $((took % 1000))) s"
		[ ${#tried[@]} -gt 0 ] && why+=$(printf '; %s' "${tried[@]}")
		answer "kvm -accel kvm -cpu $cpu" "$why"
	fi
	tried+=("-cpu $cpu: $detail")
	[ "$outcome" = timeout ] && break
done
answer "$tcg" "/dev/kvm is there, but no KVM probe guest reached init in time (KVM is broken or no faster than TCG here)$(printf '; %s' "${tried[@]}")"
