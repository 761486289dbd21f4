#!/bin/bash
# podshim demo on a fresh Debian bookworm machine (run as root):
#   1. install the build and runtime dependencies (Debian packages only),
#   2. build podshim and install the shim to /usr/local/bin,
#   3. start a private containerd in a temp dir (its own root, state and
#      sockets; a system containerd, if any, is not touched),
#   4. import a busybox image built locally from Debian's busybox-static
#      (no registry, no network),
#   5. run a container through the podshim runtime,
#   6. tear everything down again.
# Set PODSHIM_SKIP_DEPS=1 to skip step 1, PREFIX to install elsewhere,
# BUILD_DIR to build elsewhere than build/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/usr/local}
build=${BUILD_DIR:-$repo/build}
image=docker.io/library/busybox:e2e
ns=podshim-demo

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (containerd needs it): sudo $0" >&2
	exit 1
fi

step() { printf '\n--> %s\n' "$*"; }

if [ -z "${PODSHIM_SKIP_DEPS:-}" ]; then
	step "installing dependencies"
	bash "$repo/scripts/install-deps.sh"
fi

step "building podshim"
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPODSHIM_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
cmake --install "$build" --prefix "$prefix"
echo "installed $prefix/bin/containerd-shim-podshim-v2"

# A short directory: unix socket paths must stay below 108 bytes.
dir=$(mktemp -d /tmp/podshim-demo.XXXXXX)
chmod 0711 "$dir"
sock=$dir/c.sock
cpid=
ctr_() { ctr -a "$sock" -n "$ns" "$@"; }

cleanup() {
	set +e
	if [ -n "$cpid" ]; then
		step "tearing down"
		for t in $(ctr_ task ls -q 2>/dev/null); do
			ctr_ task kill -a -s SIGKILL "$t"
			ctr_ task rm -f "$t"
		done
		for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers rm "$c"; done
		for i in $(ctr_ images ls -q 2>/dev/null); do ctr_ images rm --sync "$i" >/dev/null; done
		kill -TERM "$cpid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$cpid" 2>/dev/null
	fi
	# unmount anything left below the temp dir, deepest first
	awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	rmdir "/run/containerd/runc/$ns" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

step "starting a private containerd in $dir"
cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"
EOF
# containerd finds containerd-shim-podshim-v2 for io.containerd.podshim.v2 on PATH
PATH="$prefix/bin:$PATH" containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
cpid=$!
for _ in $(seq 100); do
	ctr -a "$sock" version >/dev/null 2>&1 && break
	kill -0 "$cpid" 2>/dev/null || { cat "$dir/containerd.log"; exit 1; }
	sleep 0.1
done
ctr -a "$sock" version >/dev/null

step "building and importing a busybox image from /bin/busybox"
/usr/bin/python3 "$repo/tests/e2e/ociimage.py" "$dir/busybox.tar" --name "$image" >/dev/null
ctr_ images import --all-platforms "$dir/busybox.tar"

step "ctr run --rm --runtime io.containerd.podshim.v2 $image demo echo hello from podshim"
ctr_ run --rm --runtime io.containerd.podshim.v2 "$image" demo echo hello from podshim
