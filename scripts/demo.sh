#!/bin/bash
# podshim demo on a fresh Debian bookworm machine (run as root):
#   1. install the build and runtime dependencies (Debian packages only),
#   2. build podshim and install the shim to /usr/local/bin,
#   3. start a private containerd in a temp dir with its CRI plugin, two
#      runtime handlers (podshim, from the shipped containerd snippet, and
#      containerd's own runc-v2 as the reference) and a CNI bridge of its
#      own (its own root, state, sockets, bridge and subnet; a system
#      containerd, if any, is not touched),
#   4. import a busybox image and an offline sandbox ("pause") image built
#      locally from Debian's busybox-static (no registry, no network),
#   5. run a container with `ctr run` through the podshim runtime,
#   6. through CRI (scripts/podctl), run the same pod of two containers
#      under podshim and under runc-v2: show the one podshim process that
#      holds both containers and the pod's infra process, with no pause
#      process; the shims' memory (PSS) side by side; an exec; the shim's
#      lines in containerd's log,
#   7. tear everything down, check that nothing of the pods is left, and
#      end with a one-line summary.
#
#   demo.sh               steps 1-7, building from this checkout
#   demo.sh --installed   the installed Debian package instead (binaries in
#                         /usr/bin, /etc/podshim/config.toml and the
#                         examples in /usr/share/doc/podshim): no
#                         dependencies installed, nothing built
#
# Set PODSHIM_SKIP_DEPS=1 to skip step 1, PREFIX to install elsewhere,
# BUILD_DIR to build elsewhere than build/, PODSHIM_DEMO_DEBUG=1 to run
# containerd (and so the shims) at debug level.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
podctl_bin=$repo/scripts/podctl
prefix=${PREFIX:-/usr/local}
build=${BUILD_DIR:-$repo/build}
image=docker.io/library/busybox:e2e
ns=podshim-demo
installed=
t_start=$SECONDS

case "${1:-}" in
--installed) installed=1 ;;
"") ;;
*)
	echo "usage: $0 [--installed]" >&2
	exit 2
	;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (containerd needs it): sudo $0" >&2
	exit 1
fi

step() { printf '\n--> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
die() {
	echo "demo.sh: $*" >&2
	exit 1
}

if [ -n "$installed" ]; then
	shim_dir=/usr/bin
	examples=/usr/share/doc/podshim/examples
	[ -x $shim_dir/containerd-shim-podshim-v2 ] && [ -d $examples ] ||
		die "--installed: the podshim package is not installed (dpkg -i podshim_*.deb)"
else
	if [ -z "${PODSHIM_SKIP_DEPS:-}" ]; then
		step "installing dependencies"
		bash "$repo/scripts/install-deps.sh"
	fi
	step "building podshim"
	cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPODSHIM_TESTS=OFF >/dev/null
	cmake --build "$build" -j "$(nproc)"
	cmake --install "$build" --prefix "$prefix" --component shim >/dev/null
	echo "installed $prefix/bin/containerd-shim-podshim-v2 and podshim-infra"
	shim_dir=$prefix/bin
	examples=$repo/deploy
fi
shim=$shim_dir/containerd-shim-podshim-v2

# A short directory: unix socket paths must stay below 108 bytes.
dir=$(mktemp -d /tmp/podshim-demo.XXXXXX)
chmod 0711 "$dir"
sock=$dir/c.sock
cpid=
bridge=psdemo$(($$ % 100000))
cgroot=podshim-demo-$$
had_cni_cache=
[ -e /var/lib/cni ] && had_cni_cache=1
export PODCTL_ADDRESS=$sock PODCTL_STUBS_DIR=$dir/stubs
ctr_() { ctr -a "$sock" -n "$ns" "$@"; }
# pids of the shims this containerd started (their -address is our socket)
our_shims() {
	local f
	for f in /proc/[0-9]*/cmdline; do
		if grep -q "containerd-shim.* -address $sock " < <(tr '\0' ' ' 2>/dev/null <"$f"); then
			echo "${f//[!0-9]/}"
		fi
	done
}
podctl() { "$py" "$podctl_bin" "$@"; }

cleanup() {
	set +e
	if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
		for p in $(podctl pods -q 2>/dev/null); do
			podctl rmp -f "$p" >/dev/null 2>&1
		done
		for n in "$ns" k8s.io; do
			for t in $(ctr -a "$sock" -n "$n" task ls -q 2>/dev/null); do
				ctr -a "$sock" -n "$n" task kill -a -s SIGKILL "$t"
				ctr -a "$sock" -n "$n" task rm -f "$t"
			done
			for c in $(ctr -a "$sock" -n "$n" containers ls -q 2>/dev/null); do
				ctr -a "$sock" -n "$n" containers rm "$c"
			done
			for i in $(ctr -a "$sock" -n "$n" images ls -q 2>/dev/null); do
				ctr -a "$sock" -n "$n" images rm --sync "$i" >/dev/null
			done
		done
	fi
	if [ -n "$cpid" ]; then
		kill -TERM "$cpid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$cpid" 2>/dev/null
	fi
	# Interrupted before the pods were removed: their shims outlive
	# containerd (each in a session of its own) and so do the pods'
	# processes. Kill what runs in the pods' cgroups and the shims.
	for p in $(cat /sys/fs/cgroup/$cgroot/cgroup.procs \
		$(find /sys/fs/cgroup/*/$cgroot -name cgroup.procs 2>/dev/null) 2>/dev/null | sort -u) \
		$(our_shims); do
		kill -KILL "$p" 2>/dev/null
	done
	for _ in $(seq 30); do [ -z "$(our_shims)" ] && break; sleep 0.1; done
	# unmount anything left below the temp dir, deepest first
	awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	ip link del dev "$bridge" 2>/dev/null
	[ -z "$had_cni_cache" ] && rm -rf /var/lib/cni
	# the pods' cgroup parents (kubelet's to remove, here ours)
	for d in /sys/fs/cgroup/$cgroot /sys/fs/cgroup/*/$cgroot; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rmdir "/run/containerd/runc/$ns" "/run/containerd/runc/k8s.io" 2>/dev/null
	if [ -n "${PODSHIM_DEMO_KEEP:-}" ]; then
		echo "kept $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap "exit 143" TERM
trap "exit 130" INT

step "$shim -v"
"$shim" -v | sed 's/^/    /'

# --- containerd's configuration: CRI, two handlers, a CNI bridge.

# A subnet no host route overlaps: the bridge has no address, so its pods
# reach nothing beyond it, but the host must not confuse them with a real
# network.
subnet=
for n in 77 78 79 80 81 82 83 84; do
	cand=10.88.$n.0/24
	if ! grep -q "^10\.88\.$n\." < <(ip -4 route show | awk '{print $1}'); then
		subnet=$cand
		break
	fi
done
[ -n "$subnet" ] || die "no free 10.88.x.0/24 subnet for the demo's bridge"

# The podshim handler is the snippet an operator installs: the file of the
# examples in containerd's config version 2 format (1.6 and 1.7), found by
# what it holds rather than by name.
snippet=$(grep -l 'plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.podshim\]' \
	"$examples"/*.toml | head -1)
[ -n "$snippet" ] || die "no containerd (config version 2) snippet for podshim in $examples"
if [ -n "$installed" ]; then
	config=/etc/podshim/config.toml
	[ -f "$config" ] || die "--installed: $config is missing"
	handler_toml=$(cat "$snippet")
else
	# the checkout's example config, where the snippet names the packaged one
	config=$dir/podshim.toml
	cp "$repo/deploy/podshim.toml" "$config"
	handler_toml=$(sed -E "s#([\"'])/etc/podshim/config.toml([\"'])#\1$config\2#" "$snippet")
fi
grep -q "^BinaryName" "$config" || die "$config names no BinaryName"

mkdir -p "$dir/cni/net.d" "$dir/cni/ipam"
cat >"$dir/cni/net.d/10-podshim-demo.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "podshim-demo",
  "plugins": [{
    "type": "bridge", "bridge": "$bridge", "isGateway": false, "ipMasq": false,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]],
             "dataDir": "$dir/cni/ipam"}
  }]
}
EOF

pause_image=$("$py" -c 'import sys; sys.path.insert(0, sys.argv[1]); from cri import images; print(images.PAUSE_NAME)' "$repo/tests/e2e")
cri='plugins."io.containerd.grpc.v1.cri"'
loglevel=info
[ -n "${PODSHIM_DEMO_DEBUG:-}" ] && loglevel=debug # containerd then passes -debug to shims
cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[debug]
  level = "$loglevel"

[$cri]
  sandbox_image = "$pause_image"
  # no AppArmor profile to load on a machine without apparmor_parser
  disable_apparmor = true
  restrict_oom_score_adj = true
  # pod network namespaces under our state dir, not /var/run/netns
  netns_mounts_under_state_dir = true
  # a port of its own (0: any free one), beside any system containerd
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[$cri.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "$dir/cni/net.d"
  max_conf_num = 1

[$cri.containerd]
  snapshotter = "overlayfs"

[$cri.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

# from $snippet
$handler_toml
EOF

step "starting a private containerd in $dir (CRI handlers: podshim, runc)"
# containerd finds containerd-shim-podshim-v2 for io.containerd.podshim.v2
# on its PATH: the one under test first
# (in a session of its own: a signal to this script's process group, as
# from timeout(1) or ^C, must leave it running for the cleanup)
PATH="$shim_dir:$PATH" setsid containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
cpid=$!
for _ in $(seq 100); do
	ctr -a "$sock" version >/dev/null 2>&1 && break
	kill -0 "$cpid" 2>/dev/null || {
		cat "$dir/containerd.log"
		exit 1
	}
	sleep 0.1
done
ctr -a "$sock" version >/dev/null

step "building and importing a busybox image and a sandbox image from /bin/busybox"
"$py" "$repo/tests/e2e/ociimage.py" "$dir/busybox.tar" --name "$image" >/dev/null
"$py" "$repo/tests/e2e/ociimage.py" "$dir/pause.tar" --pause >/dev/null
ctr_ images import --all-platforms "$dir/busybox.tar" >/dev/null
for tar in busybox pause; do
	ctr -a "$sock" -n k8s.io images import --all-platforms "$dir/$tar.tar" >/dev/null
done
say "$image, $pause_image"

step "ctr run --rm --runtime io.containerd.podshim.v2 $image demo echo hello from podshim"
ctr_ run --rm --runtime io.containerd.podshim.v2 --runtime-config-path "$config" \
	--cgroup "/$cgroot/demo" "$image" demo echo hello from podshim

# --- the pod path through CRI

podctl ready --image "$image" --image "$pause_image" --wait 30
say "$(podctl version)"

# pids of the processes whose parent is $1
children_of() {
	grep -s "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status | cut -d/ -f3 | sort -n
}
cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | sed 's/ $//'; }
ppid_of() { awk '$1 == "PPid:" { print $2 }' "/proc/$1/status"; }
pss_kib() { awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup"; }
pause_argv="/bin/sleep 2147483647"

declare -A pod_of shim_of shim_pss sandbox_pss sandbox_cmd pauses
for handler in podshim runc; do
	step "pod 'web' under the $handler handler: RunPodSandbox, then 2 containers"
	pod=$(podctl runp --handler "$handler" --name "web-$handler" \
		--cgroup-parent "/$cgroot/pod-$handler")
	c1=$(podctl run "$pod" app "$image" -- sleep 3600)
	c2=$(podctl run "$pod" sidecar "$image" -- sleep 3600)
	pod_of[$handler]=$pod
	say "pod $pod"
	say "containers app ${c1:0:13}, sidecar ${c2:0:13}"
	sandbox=$(podctl pid "$pod")
	pids=("$sandbox" "$(podctl pid "$c1")" "$(podctl pid "$c2")")
	# the shims: the parents of the pod's processes (each shim is the
	# subreaper of what it runs)
	shims=$(for p in "${pids[@]}"; do ppid_of "$p"; done | sort -u)
	[ "$(echo "$shims" | wc -l)" -eq 1 ] ||
		die "$handler: the pod's processes have several parents: $(echo $shims)"
	s=$shims
	shim_of[$handler]=$s
	say "one shim process holds the whole pod:"
	printf '      %-7s %-7s %-6s %s\n' PID PPID UID COMMAND
	printf '      %-7s %-7s %-6s %s\n' "$s" "$(ppid_of "$s")" "$(stat -c %u /proc/$s)" \
		"$(cmdline "$s" | sed "s|$dir|\$DIR|g" | cut -c1-100)"
	for p in $(children_of "$s"); do
		printf '      %-7s %-7s %-6s %s\n' "$p" "$s" "$(stat -c %u /proc/$p)" \
			"$(cmdline "$p" | cut -c1-100)"
	done
	n=0
	for p in $(children_of "$s"); do
		[ "$(cmdline "$p")" = "$pause_argv" ] && n=$((n + 1))
	done
	pauses[$handler]=$n
	shim_pss[$handler]=$(pss_kib "$s")
	sandbox_pss[$handler]=$(pss_kib "$sandbox")
	sandbox_cmd[$handler]=$(cmdline "$sandbox")
	if [ "$handler" = podshim ]; then
		exe=$(readlink "/proc/$s/exe")
		[ "$exe" = "$shim" ] || die "the pod's shim runs $exe, not $shim"
		[ "$n" -eq 0 ] || die "a pause process runs under podshim"
		say "the sandbox process is '${sandbox_cmd[$handler]}' (pid $sandbox): no pause process"
		step "exec into the app container (ExecSync through CRI)"
		podctl exec "$c1" -- sh -c 'echo "hello from $(hostname), pid $$ in the pod";
			ip -4 addr show dev eth0 | grep -o "inet [0-9./]*"' | sed 's/^/    /'
	else
		say "the sandbox process is '${sandbox_cmd[$handler]}' (pid $sandbox): the pause container"
	fi
done

step "memory of the pod's shim (PSS, /proc/PID/smaps_rollup)"
printf '    %-9s %-12s %-14s %s\n' handler "shim PSS" "sandbox PSS" "sandbox process"
printf '    %-9s %-12s %-14s %s\n' podshim "${shim_pss[podshim]} KiB" \
	"${sandbox_pss[podshim]} KiB" "${sandbox_cmd[podshim]}"
printf '    %-9s %-12s %-14s %s\n' runc-v2 "${shim_pss[runc]} KiB" \
	"${sandbox_pss[runc]} KiB" "pause (${sandbox_cmd[runc]})"

step "the podshim pod's lines in containerd's log (the shim writes to the bundle's log FIFO)"
shim_log=$(grep -a "runtime=io.containerd.podshim.v2" "$dir/containerd.log" |
	grep -a " id=${pod_of[podshim]} " || true)
[ -n "$shim_log" ] || die "no line of the pod's shim in containerd's log"
echo "$shim_log" | head -3 | cut -c1-200 | sed 's/^/    /'

step "tearing the pods down (StopPodSandbox, RemovePodSandbox)"
for handler in podshim runc; do
	pod=${pod_of[$handler]}
	podctl stopp "$pod"
	podctl rmp "$pod"
	for _ in $(seq 50); do kill -0 "${shim_of[$handler]}" 2>/dev/null || break; sleep 0.1; done
	kill -0 "${shim_of[$handler]}" 2>/dev/null && die "$handler: shim ${shim_of[$handler]} outlived its pod"
	say "$handler: pod removed, shim ${shim_of[$handler]} gone"
done
[ -z "$(podctl pods -q)" ] || die "pods left: $(podctl pods -q)"
left=$(our_shims)
[ -z "$left" ] || die "shims of this containerd still run: $(echo $left)"

ratio=$(awk -v a="${shim_pss[runc]}" -v b="${shim_pss[podshim]}" 'BEGIN { printf "%.0f", a / b }')
printf '\npodshim demo: 2 pods of 2 containers; podshim: 1 shim, %s pause, shim PSS %s KiB; runc-v2: 1 shim, %s pause, shim PSS %s KiB (%sx podshim); %ss\n' \
	"${pauses[podshim]}" "${shim_pss[podshim]}" "${pauses[runc]}" "${shim_pss[runc]}" \
	"$ratio" "$((SECONDS - t_start))"
