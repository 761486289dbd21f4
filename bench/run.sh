#!/bin/bash
# podshim vs containerd-shim-runc-v2, side by side, in one run:
#   sudo bench/run.sh [--quick]
# Builds the shim (unless PODSHIM_BIN_DIR names a build that has it) and the
# Go ttrpc State client, starts ONE private CRI containerd with both runtime
# handlers, runs every metric for both (interleaved), prints the table and
# writes bench/out/{results.json,latest.md,chart.png}. A full run also copies
# latest.md and chart.png to bench/results/ (what README shows).
#
# --quick: one round with small sizes (a smoke pass, < 3 min); it does not
# touch bench/results/ unless --publish is given too.
# Environment: PODSHIM_BIN_DIR (shim build dir; default: build it in
# build-bench/), BENCH_OUT (default bench/out), JOBS.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
quick=0
publish=0
for a in "$@"; do
	case "$a" in
	--quick) quick=1 ;;
	--publish) publish=1 ;;
	*)
		echo "usage: $0 [--quick] [--publish]" >&2
		exit 2
		;;
	esac
done
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

args=(--out "$out")
[ -n "$staterps" ] && args+=(--staterps "$staterps")
[ "$quick" -eq 1 ] && args+=(--quick)
[ "$publish" -eq 1 ] && args+=(--publish "$repo/bench/results")
echo "== shim from $bindir"
PODSHIM_BIN_DIR=$bindir timeout $((quick ? 600 : 5400)) /usr/bin/python3 "$repo/bench/suite.py" "${args[@]}"
