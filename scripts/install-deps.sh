#!/bin/bash
# Install every Debian (bookworm) package podshim needs to build and test.
# Needs root. Safe to run again.
set -euo pipefail

packages=(
	# build
	build-essential cmake pkg-config
	protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev protobuf-compiler
	libevent-dev libcjson-dev libcgroup-dev
	# netlink, linked statically (CMakeLists.txt says why)
	libnl-3-dev libnl-route-3-dev
	# sanitizers, fuzzing and lint
	clang libclang-rt-14-dev clang-format cppcheck valgrind
	# what the shim drives and the tests run
	containerd runc crun criu busybox-static iproute2 containernetworking-plugins
	# test harness (python3-protobuf: wire tests; grpc: the CRI client)
	python3 python3-pytest python3-protobuf python3-grpcio python3-grpc-tools
	protobuf-compiler-grpc
	# containerd's Go sources: the upstream protos the wire tests compare against
	golang-github-containerd-containerd-dev golang-github-containerd-ttrpc-dev
	golang-github-containerd-cgroups-dev golang-github-gogo-protobuf-dev
	golang-github-gogo-googleapis-dev
	# the cgroup v2 stage: a guest booted from Debian's kernel under qemu
	qemu-system-x86 linux-image-amd64 cpio kmod
	# the Debian package: lintian checks it (scripts/package-test.sh);
	# git records the build's source revision (cmake/revision.cmake)
	lintian git
	# bench/run.sh: the chart, and the Go State client (containerd's own
	# task client over its ttrpc, built offline from the -dev sources above)
	gnuplot-nox golang-go
)

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
# containerd 2.1's API protos (sid's -dev package, unpacked into
# /var/cache/podshim, never installed): the wire tests' upstream for what
# only 2.x defines (RuntimeInfo for -info, runc's task_api_* options)
bash "$(dirname "$0")/fetch-containerd.sh" containerd-api-src-2.1.9
