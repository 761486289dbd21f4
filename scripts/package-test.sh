#!/bin/bash
# The Debian package, end to end (run as root; a test-all.sh stage):
#   1. build it: configure DEB_BUILD_DIR (default build-deb/) with the /usr
#      prefix, build, `cpack -G DEB`;
#   2. lintian: no error (overrides in packaging/deb/lintian-overrides,
#      each with its reason); warnings and overrides are printed;
#   3. its contents: the programs, the conffile, every file of deploy/
#      among the examples, the man pages, Depends;
#   4. dpkg -i, then podshim-vm-image (a VM pod's kernel, initramfs and
#      guest root, made from the installed files into a scratch cache: the
#      root holds the installed agent at /usr/bin/podshim-agent, no host
#      file beyond programs and libraries), the installed
#      shim's -v (version, the revision the build recorded, the OCI runtime
#      from /etc/podshim/config.toml) and `scripts/demo.sh --installed`, the
#      pod demo on the installed binaries;
#   5. dpkg -r: the programs go, the conffile stays; dpkg -P: it goes too,
#      and every path the package brought that was not there before is gone.
# The package is never left installed: an EXIT trap purges it. It refuses
# to run where podshim is installed already (by dpkg or by hand in /usr/bin),
# since removing it afterwards would take that installation away.
#
# Environment: DEB_BUILD_DIR (default build-deb), JOBS, DEMO_TIMEOUT
# (seconds, default 240).
set -euo pipefail

# dpkg knows the package in any state but "not-installed" (its config files
# count). A variable, not a pipe into grep -q: with pipefail, grep leaving
# early can fail the pipe that found what it looked for.
installed() {
	local status
	status=$(dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null || true)
	[ -n "$status" ] && [[ $status != *not-installed* ]]
}

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bdir=${DEB_BUILD_DIR:-build-deb}
jobs=${JOBS:-$(nproc)}
pkg=podshim
t0=$SECONDS

fail() {
	echo "package-test: FAIL: $*" >&2
	exit 1
}
step() { printf '\n== %s\n' "$*"; }

[ "$(id -u)" -eq 0 ] || fail "run as root (dpkg -i)"
command -v lintian >/dev/null || fail "lintian is not installed (scripts/install-deps.sh)"
if installed; then
	fail "$pkg is already installed or has config files here ($(dpkg-query -W -f '${Status}' $pkg)); not touching it"
fi
for f in /usr/bin/containerd-shim-podshim-v2 /usr/bin/podshim-infra /usr/bin/podshim-agent \
	/usr/bin/containerd-shim-podshim-vm-v2 /usr/sbin/podshim-vm-image /usr/share/podshim \
	/etc/podshim; do
	{ [ -e "$f" ] || [ -L "$f" ]; } && fail "$f exists (installed by hand?); not overwriting it"
done

step "build ($bdir/, prefix /usr)"
cmake -S "$repo" -B "$repo/$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPODSHIM_TESTS=OFF \
	-DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$repo/$bdir" -j "$jobs" >/dev/null
rm -f "$repo/$bdir"/${pkg}_*.deb
(cd "$repo/$bdir" && cpack -G DEB >/dev/null)
debs=("$repo/$bdir"/${pkg}_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "cpack made no single .deb: ${debs[*]}"
deb=${debs[0]}
echo "$deb ($(stat -c %s "$deb") bytes)"
revision=$(sed -n 's/^const char ps_build_revision\[\] = "\(.*\)";$/\1/p' "$repo/$bdir/gen/revision.c")
echo "revision recorded: ${revision:-(none)}"

step "lintian"
set +e
lint=$(lintian --info --display-info --show-overrides "$deb" 2>&1 | grep -v '^running with root privileges' | grep -v '^N:')
set -e
echo "${lint:-(no tags)}"
errors=$(echo "$lint" | grep -c '^E:' || true)
warnings=$(echo "$lint" | grep -c '^W:' || true)
overrides=$(echo "$lint" | grep -c '^O:' || true)
echo "lintian: $errors errors, $warnings warnings, $overrides overridden"
[ "$errors" -eq 0 ] || fail "lintian reports errors"

step "contents"
# a symlink's line ends in " -> target": its own path is before that
contents=$(dpkg-deb -c "$deb" | sed 's/ -> .*$//' | awk '{print $NF}' | sed 's|^\./|/|')
want=(/usr/bin/containerd-shim-podshim-v2 /usr/bin/podshim-infra /usr/bin/podshim-agent
	/usr/bin/containerd-shim-podshim-vm-v2 /usr/sbin/podshim-vm-image /usr/share/podshim/vm-guest-init /etc/podshim/config.toml
	/usr/share/doc/podshim/copyright /usr/share/doc/podshim/changelog.gz)
for f in "$repo"/docs/man/*.8; do
	want+=("/usr/share/man/man8/$(basename "$f").gz")
done
for f in "$repo"/deploy/*; do
	want+=("/usr/share/doc/podshim/examples/$(basename "$f")")
done
for f in "${want[@]}"; do
	grep -qx "$f" <<<"$contents" || fail "the package lacks $f"
done
echo "${#want[@]} expected files present (every file of deploy/ among the examples, every man page)"
grep -qx /etc/podshim/config.toml <<<"$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" ||
	fail "/etc/podshim/config.toml is not a conffile"
cmp -s <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/podshim/config.toml) deploy/podshim.toml ||
	fail "/etc/podshim/config.toml is not deploy/podshim.toml"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
grep -q 'runc | crun' <<<"$depends" || fail "Depends lacks 'runc | crun'"
for lib in libcjson1 libc6; do
	grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib (dpkg-shlibdeps)"
done
# linked from their static archives (CMakeLists.txt says why): a Depends on
# one of them means a binary links it shared again
for lib in libprotobuf-c1 libevent-core libcgroup2 libnl-3-200 libnl-route-3-200; do
	if grep -q "$lib" <<<"$depends"; then
		fail "Depends names $lib, which the binaries link statically"
	fi
done

# What exists before the install: after the purge, exactly that remains.
mapfile -t paths < <(echo "$contents" | sed 's|/$||' | grep -v '^$' | sort -u)
before=()
for p in "${paths[@]}"; do
	[ -e "$p" ] && before+=("$p")
done

purge() {
	if installed; then
		echo "package-test: purging $pkg"
		dpkg -P "$pkg" >/dev/null || true
	fi
}
trap purge EXIT
# a signal ends the script through exit, so the EXIT trap still purges
trap 'exit 143' TERM
trap 'exit 130' INT

step "dpkg -i"
dpkg -i "$deb"
dpkg-query -W -f '${Status} ${Version}\n' "$pkg"
[ "$(dpkg-query -W -f '${Status}' "$pkg")" = "install ok installed" ] || fail "not installed"
[ -x /usr/bin/podshim-infra ] || fail "/usr/bin/podshim-infra missing"
if command -v man >/dev/null; then
	for f in "$repo"/docs/man/*.8; do
		page=$(basename "$f" .8)
		man -w "$page" >/dev/null || fail "man $page not found"
	done
fi

step "/usr/sbin/podshim-vm-image (a VM pod's kernel, initramfs and guest root, from the installed files)"
vmcache=$(mktemp -d)
vmimg=$(PODSHIM_VM_CACHE=$vmcache /usr/sbin/podshim-vm-image) ||
	{ rm -rf "$vmcache"; fail "podshim-vm-image failed (busybox-static and a /boot kernel with modules are needed)"; }
echo "$vmimg"
read -r vmkernel vminitrd vmroot <<<"$vmimg"
for f in "$vmkernel" "$vminitrd"; do
	[ -s "$f" ] || { rm -rf "$vmcache"; fail "podshim-vm-image printed $f, which is not there"; }
done
# the guest's root: the installed agent (the shim's default VMAgent, the
# one beside it) at its path, its own copy; executables and libraries, the
# mount points, nothing else of the host
cmp -s "$vmroot/usr/bin/podshim-agent" /usr/bin/podshim-agent ||
	{ rm -rf "$vmcache"; fail "the guest root $vmroot has no copy of /usr/bin/podshim-agent"; }
others=$(cd "$vmroot" && find . -mindepth 1 -not -type d | grep -vE '^\./(usr/s?bin/(podshim-agent|runc|crun)|(usr/)?lib(64|/x86_64-linux-gnu)/[^/]+\.so[.0-9]*)$' || true)
[ -z "$others" ] || { rm -rf "$vmcache"; fail "the guest root holds more than programs and libraries: $others"; }
# the image's /init is the installed one
if ! cmp -s <(zcat "$vminitrd" | (cd "$vmcache" && cpio -i --quiet --to-stdout init)) \
	/usr/share/podshim/vm-guest-init; then
	rm -rf "$vmcache"
	fail "the initramfs's /init is not /usr/share/podshim/vm-guest-init"
fi
rm -rf "$vmcache"
echo "kernel, initramfs and guest root made from the installed files"

step "/usr/bin/containerd-shim-podshim-v2 -v"
v=$(/usr/bin/containerd-shim-podshim-v2 -v)
echo "$v"
[ "${v%%$'\n'*}" = 'containerd-shim-podshim-v2:' ] || fail "-v: first line"
grep -qx "  Version:  $(sed -n 's/^project(podshim VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)" <<<"$v" ||
	fail "-v: Version is not CMakeLists.txt's"
grep -qxF "  Revision: $revision" <<<"$v" || fail "-v: Revision is not the recorded $revision"
if [ -d .git ] || [ -f .git ]; then
	head=$(git -c safe.directory='*' rev-parse HEAD)
	case "$revision" in
	"$head" | "$head.m") ;;
	*) fail "the build recorded revision '$revision', the checkout is at $head" ;;
	esac
fi
grep -q '^  OCI runtime: .*/etc/podshim/config.toml)$' <<<"$v" ||
	fail "-v: the OCI runtime does not come from /etc/podshim/config.toml"

step "/usr/bin/containerd-shim-podshim-vm-v2 (the runtime type io.containerd.podshim-vm.v2)"
[ "$(readlink /usr/bin/containerd-shim-podshim-vm-v2)" = containerd-shim-podshim-v2 ] ||
	fail "containerd-shim-podshim-vm-v2 is not a symlink to containerd-shim-podshim-v2"
v=$(/usr/bin/containerd-shim-podshim-vm-v2 -v)
echo "$v"
[ "${v%%$'\n'*}" = 'containerd-shim-podshim-vm-v2:' ] || fail "-v of the VM name: first line"
# its defaults are /etc/podshim/vm.toml's, which the package does not install
grep -q '^  OCI runtime: .*, default)$' <<<"$v" ||
	fail "-v of the VM name: the OCI runtime is not the default (config.toml read?)"

step "scripts/demo.sh --installed"
set +e
timeout "${DEMO_TIMEOUT:-240}" bash scripts/demo.sh --installed 2>&1 | tee "$repo/$bdir/demo.log"
st=${PIPESTATUS[0]}
set -e
[ "$st" -eq 0 ] || fail "the demo failed (exit status $st; $bdir/demo.log)"
grep -q '^podshim demo: ' "$repo/$bdir/demo.log" || fail "the demo printed no summary"

step "dpkg -r"
dpkg -r "$pkg" >/dev/null
[ "$(dpkg-query -W -f '${Status}' "$pkg")" = "deinstall ok config-files" ] ||
	fail "after dpkg -r: $(dpkg-query -W -f '${Status}' "$pkg")"
for f in /usr/bin/containerd-shim-podshim-v2 /usr/bin/podshim-infra /usr/bin/podshim-agent \
	/usr/bin/containerd-shim-podshim-vm-v2 /usr/sbin/podshim-vm-image \
	/usr/share/podshim/vm-guest-init; do
	{ [ -e "$f" ] || [ -L "$f" ]; } && fail "dpkg -r left $f"
done
[ -f /etc/podshim/config.toml ] || fail "dpkg -r removed the conffile"
echo "removed; the conffile stays"

step "dpkg -P"
dpkg -P "$pkg" >/dev/null
if installed; then
	fail "after dpkg -P: $(dpkg-query -W -f '${Status}' "$pkg")"
fi
left=()
for p in "${paths[@]}"; do
	if [ -e "$p" ] && ! grep -qx "$p" < <(printf '%s\n' "${before[@]}"); then
		left+=("$p")
	fi
done
[ ${#left[@]} -eq 0 ] || fail "dpkg -P left ${left[*]}"
echo "purged: none of the ${#paths[@]} paths the package brought is left (${#before[@]} existed before)"

echo
echo "package-test: ok in $((SECONDS - t0))s: lintian $errors errors, $warnings warnings, $overrides overridden"
