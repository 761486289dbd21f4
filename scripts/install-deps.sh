#!/bin/bash
# Install every Debian (bookworm) package podshim needs to build and test,
# then fetch (without installing) the newer containerd builds and OCI
# runtime the version matrix runs against (scripts/fetch-containerd.sh).
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
	# scripts/fetch-containerd.sh: apt-get download and dpkg-deb -x (apt,
	# dpkg), the archive keys that sign trixie's and sid's Release files,
	# patchelf to point sid's crun at sid's libc
	apt dpkg debian-archive-keyring gpgv patchelf
)

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
# containerd 1.7.24 (trixie) and 2.1.9 (sid), sid's runc 1.3.6 and crun 1.28,
# and 2.1's API protos and sources, unpacked under /var/cache/podshim (never
# installed into the system): the e2e stages under 1.7 and 2.1 (which need an
# OCI runtime newer than bookworm's for 2.1's spec version, idmapped mounts
# and user namespaces) and the wire tests' upstream for what only 2.x
# defines (RuntimeInfo for -info, runc's task_api_* options, the Sandbox
# API; CRI's runtime API, which only 2.1.9's sources carry).
bash "$(dirname "$0")/fetch-containerd.sh" containerd-1.7.24 containerd-2.1.9 crun-1.28 \
	runc-1.3.6 containerd-api-src-2.1.9 containerd-src-2.1.9
