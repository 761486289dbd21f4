#!/bin/bash
# podshim vs containerd-shim-runc-v2, side by side, in one run:
#   sudo bench/run.sh [--quick] [--growth N] [--growth-only runc|podshim] [--publish]
#                     [--containerd VERSION|DIR] [--bootstrap 2|3]
# Builds the shim (unless PODSHIM_BIN_DIR names a build that has it) and the
# Go ttrpc State client, starts ONE private CRI containerd with both runtime
# handlers, runs every metric for both (interleaved), prints the table and
# writes bench/out/{results.json,latest.md,chart.png}. A full run also copies
# latest.md and chart.png to bench/results/ (what README shows).
#
# --quick: one round with small sizes (a smoke pass, < 4 min); it does not
# touch bench/results/ unless --publish is given too.
# --growth N: ExecSync cycles per shim in the memory growth loop (default
# 100,000; --quick: 300). The full run's growth loops take most of its time
# (1.5-2 h in all on a 2-core VM).
# --growth-only runc|podshim: only the growth loop, for one shim (a leak
# check, no comparison); writes bench/out/growth-<shim>.json.
# --containerd VERSION|DIR: the containerd build, as the e2e harness takes it
# (tests/e2e/harness.py Dist): default the system's (Debian's 1.6.20), or
# e.g. 2.1.9 as scripts/fetch-containerd.sh unpacks it under
# /var/cache/podshim. runc-v2 is that build's own shim; the targets are that
# containerd line's (bench/report.py TARGETS). PODSHIM_CONTAINERD in the
# environment is not read here: only this flag moves the bench.
# --bootstrap 2|3: podshim's mode under containerd 2.x: 2 plain (default),
# 3 grouped (PODSHIM_BOOTSTRAP_VERSION=3 through the shim manager's env).
# Environment: PODSHIM_BIN_DIR (shim build dir; default: build it in
# build-bench/), BENCH_OUT (default bench/out), JOBS.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
quick=0
publish=0
growth=""
only=""
containerd=system
bootstrap=2
usage() {
	echo "usage: $0 [--quick] [--growth N] [--growth-only runc|podshim] [--publish]" \
		"[--containerd VERSION|DIR] [--bootstrap 2|3]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--publish) publish=1 ;;
	--growth)
		[ $# -ge 2 ] || usage
		growth=$2
		shift
		;;
	--growth=*) growth=${1#--growth=} ;;
	--growth-only)
		[ $# -ge 2 ] || usage
		only=$2
		shift
		;;
	--growth-only=*) only=${1#--growth-only=} ;;
	--containerd)
		[ $# -ge 2 ] || usage
		containerd=$2
		shift
		;;
	--containerd=*) containerd=${1#--containerd=} ;;
	--bootstrap)
		[ $# -ge 2 ] || usage
		bootstrap=$2
		shift
		;;
	--bootstrap=*) bootstrap=${1#--bootstrap=} ;;
	*) usage ;;
	esac
	shift
done
[ -z "$growth" ] || [[ $growth =~ ^[1-9][0-9]*$ ]] || usage
[ -z "$only" ] || [ "$only" = runc ] || [ "$only" = podshim ] || usage
[ -n "$containerd" ] || usage
[ "$bootstrap" = 2 ] || [ "$bootstrap" = 3 ] || usage
if [ "$bootstrap" = 3 ] && [[ $containerd =~ ^(system|1(\.[0-9]+)*)$ ]]; then
	echo "--bootstrap 3 (podshim grouped) needs containerd 2.x (--containerd 2.1.9)" >&2
	exit 2
fi
[ "$quick" -eq 0 ] && publish=1
out=${BENCH_OUT:-$repo/bench/out}
mkdir -p "$out"

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh needs root (containerd, mounts, cgroups)" >&2
	exit 1
fi

bindir=${PODSHIM_BIN_DIR:-}
if [ -z "$bindir" ] || [ ! -x "$bindir/containerd-shim-podshim-v2" ]; then
	bindir=$repo/build-bench
	echo "== building the shim in $bindir"
	timeout 900 cmake -S "$repo" -B "$bindir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DPODSHIM_TESTS=OFF -DPODSHIM_SANITIZE=OFF >"$out/cmake.log" 2>&1 ||
		{ tail -30 "$out/cmake.log"; exit 1; }
	timeout 900 make -C "$bindir" -j "${JOBS:-$(nproc)}" containerd-shim-podshim-v2 \
		podshim-infra >"$out/make.log" 2>&1 || { tail -30 "$out/make.log"; exit 1; }
fi
bindir=$(cd "$bindir" && pwd)

# the State client: containerd's own Go task client over its ttrpc package,
# built offline in GOPATH mode from Debian's golang-github-containerd-*-dev
staterps=""
if command -v go >/dev/null; then
	gopath=$out/gopath
	mkdir -p "$gopath/src/podshim-bench/staterps"
	cp "$repo/bench/staterps/main.go" "$gopath/src/podshim-bench/staterps/"
	if (cd "$gopath/src/podshim-bench/staterps" &&
		GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$gopath/cache" \
			GOPROXY=off GOFLAGS='' timeout 600 go build -o "$out/staterps" .) >"$out/go-build.log" 2>&1; then
		staterps=$out/staterps
	else
		echo "== Go State client did not build (see $out/go-build.log); using the Python client" >&2
	fi
else
	echo "== no Go toolchain (golang-go); State round trips use the Python client" >&2
fi

args=(--out "$out" --containerd "$containerd" --bootstrap "$bootstrap")
[ -n "$staterps" ] && args+=(--staterps "$staterps")
[ "$quick" -eq 1 ] && args+=(--quick)
[ -n "$growth" ] && args+=(--growth "$growth")
[ -n "$only" ] && args+=(--growth-only "$only")
[ "$publish" -eq 1 ] && args+=(--publish "$repo/bench/results")
echo "== shim from $bindir"
# full: each shim's growth loop stops itself after 100 min (suite.py; 45-60
# min is usual on 2 cores); the rest takes about 10 min
PODSHIM_BIN_DIR=$bindir timeout $((quick ? 600 : 14400)) /usr/bin/python3 "$repo/bench/suite.py" "${args[@]}"
