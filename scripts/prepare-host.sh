#!/bin/bash
# Prepare this host for podshim's end-to-end tests (idempotent, needs root).
#
# On a hybrid cgroup host (cgroup v1 hierarchies under /sys/fs/cgroup plus a
# cgroup2 mount at /sys/fs/cgroup/unified), crun 1.8 refuses to run a
# container while the unified hierarchy still holds controllers ("cgroups in
# hybrid mode not supported, drop all controllers from cgroupv2"). systemd's
# hybrid mode mounts every v1 controller, which leaves the unified hierarchy
# empty; some machines skip one (often hugetlb). Bind each such controller to
# its own v1 hierarchy, as systemd would, if nothing uses it on cgroup2.
set -euo pipefail

unified=/sys/fs/cgroup/unified
if [ "$(id -u)" -ne 0 ]; then
	echo "prepare-host: not root, nothing changed" >&2
	exit 0
fi
if [ "$(stat -f -c %T /sys/fs/cgroup)" != "tmpfs" ] || [ ! -r "$unified/cgroup.controllers" ]; then
	exit 0 # pure cgroup v1 or pure v2: nothing to do
fi
read -r -a held <"$unified/cgroup.controllers" || true
if [ "${#held[@]}" -gt 0 ] && [ -n "$(cat "$unified/cgroup.subtree_control")" ]; then
	echo "prepare-host: controllers enabled in $unified/cgroup.subtree_control; leaving them" >&2
	exit 0
fi
for c in "${held[@]}"; do
	dir=/sys/fs/cgroup/$c
	if mountpoint -q "$dir"; then
		continue
	fi
	mkdir -p "$dir"
	mount -t cgroup -o "$c" cgroup "$dir"
	echo "prepare-host: mounted cgroup v1 controller $c at $dir"
done
