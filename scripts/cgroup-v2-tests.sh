#!/bin/bash
# The cgroup-sensitive part of the suite on a cgroup v2-only machine; runs
# INSIDE the guest of scripts/cgroup-v2-vm.sh (test-all.sh's "cgroup v2"
# stage starts it there):
#
#   scripts/cgroup-v2-tests.sh BUILD_DIR OUTDIR
#
# BUILD_DIR is a release build with tests. Unit tests of the cgroup, pod
# cgroup and infra code, then the end-to-end tasks, pods, pod features and
# security suites for podshim and the runc-v2 reference, with JUnit reports
# and exit statuses in OUTDIR (ctest-v2.{xml,status}, e2e-v2.{xml,status},
# and e2e-v2-cd21.{xml,status} for the containerd 2.1.9 pass).
# Exit status non-zero on a failure.
#
# What runs follows the accelerator the guest actually got (CGV2_VM_ACCEL,
# set by cgroup-v2-vm.sh). Under KVM: the four suites in full, runc and crun.
# Under TCG, whose emulated CPU runs everything 10-20 times slower (a full
# pass took over 15 minutes on 2 cores): only the e2e tests marked `cgroup`
# (those that drive the shim's cgroup code: pod and container cgroups,
# stats, limits, freezer, OOM, removal) or `criu` (checkpoint/restore, which
# the host itself cannot run) with runc, so the stage stays within
# CI's budget; PODSHIM_E2E_SELECT=all forces the full set. The harness's
# timeouts are scaled by PODSHIM_E2E_TIME_SCALE: unless set, 2 under KVM and
# 8 under TCG.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bdir=$(cd "$1" && pwd)
out=$2
cd "$repo"
select=(-m "cgroup or criu")
oci=runc
scale=8
if [ "${CGV2_VM_ACCEL:-}" = kvm ]; then
	select=()
	oci=runc,crun
	scale=2
fi
[ "${PODSHIM_E2E_SELECT:-}" = all ] && select=()
export PODSHIM_E2E_TIME_SCALE=${PODSHIM_E2E_TIME_SCALE:-$scale}
export PODSHIM_E2E_OCI=${PODSHIM_E2E_OCI:-$oci}
echo "cgroup-v2-tests: accelerator ${CGV2_VM_ACCEL:-unknown}, e2e time scale" \
	"$PODSHIM_E2E_TIME_SCALE, OCI runtimes $PODSHIM_E2E_OCI, selection ${select[*]:-all}"
ctest --test-dir "$bdir" -R '^test_(pod_cgroup|cgroup|infra)$' --output-on-failure \
	--output-junit "$out/ctest-v2.xml"
echo $? >"$out/ctest-v2.status"
PODSHIM_BIN_DIR=$bdir \
	PODSHIM_E2E_RUNTIMES=${PODSHIM_E2E_RUNTIMES:-io.containerd.podshim.v2,io.containerd.runc.v2} \
	/usr/bin/python3 -m pytest -p no:cacheprovider --junitxml="$out/e2e-v2.xml" --durations=5 \
	${select[@]+"${select[@]}"} \
	tests/e2e/test_tasks.py tests/e2e/test_pods.py tests/e2e/test_pod_features.py \
	tests/e2e/test_security.py
echo $? >"$out/e2e-v2.status"
# containerd 2.1 on cgroup v2, the pairing current Kubernetes nodes run: the
# e2e tests marked cgroup or criu again (the CRI checkpoint among them),
# with that version's runc-v2 as the reference and sid's crun first on PATH
# (tests/e2e/harness.py Dist). Skipped, with a line, where
# scripts/fetch-containerd.sh has not unpacked it.
cd21=${PODSHIM_CACHE:-/var/cache/podshim}/containerd-2.1.9
if [ -x "$cd21/usr/bin/containerd" ]; then
	PODSHIM_CONTAINERD=2.1.9 PODSHIM_BIN_DIR=$bdir \
		PODSHIM_E2E_RUNTIMES=${PODSHIM_E2E_RUNTIMES:-io.containerd.podshim.v2,io.containerd.runc.v2} \
		/usr/bin/python3 -m pytest -p no:cacheprovider --junitxml="$out/e2e-v2-cd21.xml" \
		--durations=5 -m "cgroup or criu" \
		tests/e2e/test_tasks.py tests/e2e/test_pods.py tests/e2e/test_pod_features.py
	echo $? >"$out/e2e-v2-cd21.status"
else
	echo "cgroup-v2-tests: no containerd 2.1.9 in $cd21 (scripts/fetch-containerd.sh): not run"
fi
for r in ctest-v2 e2e-v2 e2e-v2-cd21; do
	[ ! -e "$out/$r.status" ] || [ "$(cat "$out/$r.status")" = 0 ] || exit 1
done
