#!/bin/bash
# The whole test suite, as CI runs it (.ci/run) and README documents it.
# Needs root (containerd, mounts, cgroups) and the packages from
# scripts/install-deps.sh.
#
# Stages: lint (clang-format, cppcheck), release and ASan builds, the
# host-cgroup e2e tests on the host's boot cgroup state, host preparation,
# release unit tests, the same under valgrind memcheck, ASan/UBSan unit
# tests, the libFuzzer targets (clang, ASan+UBSan, a bounded time each on a
# scratch copy of their seed corpus), the VM boot stage (pod VMs of the vm
# backend, tests/vm and the `vm` e2e tests), then the end-to-end suite against the
# ASan shim under a private containerd, for podshim and for containerd's own
# runc-v2 shim (the reference the suite is checked against): under the
# system's containerd 1.6, all of it again under containerd 2.1.9 (podshim
# plain, then the pod suites with podshim grouped) and the task and pod
# suites under 1.7.24; the cgroup suites again in a cgroup v2-only guest, a
# bench smoke pass, and the Debian package (built, linted, installed, the
# pod demo run on it, purged).
# Every stage runs even if an earlier one failed; the last line is
# "N passed, N failed" summed over all stages (ctest and pytest count each
# test, valgrind each unit test executable, fuzzing each target, every other
# stage counts as one), and the exit status is non-zero on any failure.
#
# Environment: JOBS (parallel build jobs), BUILD_DIR, ASAN_BUILD_DIR and
# FUZZ_BUILD_DIR (default build, build-asan and build-fuzz, relative to the
# repo), FUZZ_SECONDS (per fuzz target, default 60), PODSHIM_E2E_RUNTIMES and
# PODSHIM_E2E_OCI (override the e2e matrix), PODSHIM_TEST_OUT (where reports go).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
py=/usr/bin/python3
jobs=${JOBS:-$(nproc)}
bdir=${BUILD_DIR:-build}
adir=${ASAN_BUILD_DIR:-build-asan}
fdir=${FUZZ_BUILD_DIR:-build-fuzz}
fuzz_seconds=${FUZZ_SECONDS:-60}
out=${PODSHIM_TEST_OUT:-$(mktemp -d /tmp/podshim-test.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
passed=0
failed=0
skipped=0
failures=()

# note TITLE: starts a stage; the time each took is in the summary
stage_names=()
stage_secs=()
stage_t0=$SECONDS
t_begin=$SECONDS
note() {
	if [ ${#stage_names[@]} -gt 0 ]; then
		stage_secs+=($((SECONDS - stage_t0)))
	fi
	stage_t0=$SECONDS
	local name=$1
	[ ${#name} -gt 32 ] && name="${name:0:31}…"
	stage_names+=("$name")
	printf '\n==== %s\n' "$*"
}

# count_stage NAME STATUS: a stage that is one check
count_stage() {
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$1")
	fi
}

# count_junit NAME STATUS FILE: add the per-test counts of a JUnit report;
# a runner that failed with no failed test in its report (a crash, a
# session-level error) or left no report counts as one failure
count_junit() {
	local p f s
	if [ -s "$3" ] && read -r p f s < <("$py" "$repo/scripts/junit-count.py" "$3"); then
		if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1
		fi
		passed=$((passed + p))
		failed=$((failed + f))
		skipped=$((skipped + s))
		if [ "$f" -gt 0 ]; then
			failures+=("$1")
		fi
	else
		failed=$((failed + 1))
		failures+=("$1 (no report, exit status $2)")
	fi
}

note "clang-format"
mapfile -t cfiles < <(find src tests/unit tests/fuzz tests/vm tests/e2e/probes -name '*.[ch]' 2>/dev/null | sort)
clang-format --dry-run --Werror "${cfiles[@]}"
count_stage clang-format $?

note "cppcheck"
# cppcheck does not model __attribute__((cleanup)), so every scope-bound free
# looks like a leak to it; leaks are caught by LeakSanitizer in every test run.
cppcheck --enable=warning,performance,portability --inline-suppr --quiet \
	--suppress=memleak --error-exitcode=1 -I src src/
count_stage cppcheck $?

# build DIR CMAKE-ARGS...: configure and build; returns the status
build() {
	local dir=$1
	shift
	cmake -S "$repo" -B "$repo/$dir" "$@" >"$out/configure-${dir//\//_}.log" 2>&1 &&
		cmake --build "$repo/$dir" -j "$jobs"
	local st=$?
	[ $st -ne 0 ] && tail -50 "$out/configure-${dir//\//_}.log"
	return $st
}

note "release build ($bdir/)"
build "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPODSHIM_TESTS=ON -DPODSHIM_SANITIZE=OFF
release_ok=$?
count_stage "release build" $release_ok

note "ASan+UBSan build ($adir/)"
build "$adir" -DCMAKE_BUILD_TYPE=Debug -DPODSHIM_TESTS=ON -DPODSHIM_SANITIZE=ON
asan_ok=$?
count_stage "asan build" $asan_ok

note "end-to-end on the host's boot cgroup state (before host preparation)"
# A pod must leave the host's cgroup configuration as it found it, which
# only shows on the state the host booted in (a controller left on the
# unified hierarchy): these run before prepare-host.sh changes that state.
# Their fixture produces the boot state itself where it can, and skips with
# the reason where it cannot.
if [ $asan_ok -eq 0 ]; then
	PODSHIM_BIN_DIR="$repo/$adir" PODSHIM_ASAN_LOG_DIR="$out/asan-boot" \
		"$py" -m pytest tests/e2e/test_host_cgroups.py --junitxml="$out/e2e-boot.xml"
	count_junit "end-to-end (boot cgroup state)" $? "$out/e2e-boot.xml"
fi

note "host preparation"
bash scripts/prepare-host.sh

note "unit tests (release)"
if [ $release_ok -eq 0 ]; then
	ctest --test-dir "$bdir" --output-on-failure --output-junit "$out/ctest-release.xml"
	count_junit "unit tests (release)" $? "$out/ctest-release.xml"
fi

note "unit tests (valgrind memcheck, release build)"
# Every unit test executable (not the python proto check), one check each.
# Definite leaks fail; scripts/valgrind.supp lists the harness artefacts.
# Children a test execs run natively (--trace-children=no); children it only
# forks stay under valgrind, which is why the writer in test_stdio needs a
# suppression.
if [ $release_ok -eq 0 ]; then
	mkdir -p "$out/valgrind"
	for t in tests/unit/test_*.c; do
		name=$(basename "$t" .c)
		log="$out/valgrind/$name.log"
		(cd "$bdir" && timeout 900 valgrind -q --error-exitcode=1 --leak-check=full \
			--errors-for-leak-kinds=definite --trace-children=no \
			--suppressions="$repo/scripts/valgrind.supp" --log-file="$log.%p" \
			"./$name" >"$log" 2>&1)
		st=$?
		# the per-process reports (forked children included) follow the output
		cat "$log".* >>"$log" 2>/dev/null
		rm -f "$log".*
		if [ $st -eq 0 ]; then
			echo "ok   valgrind $name"
		else
			echo "FAIL valgrind $name (exit status $st; $log)"
			tail -40 "$log"
		fi
		count_stage "valgrind $name" $st
	done
fi

note "unit tests (ASan+UBSan)"
if [ $asan_ok -eq 0 ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir "$adir" --output-on-failure --output-junit "$out/ctest-asan.xml"
	count_junit "unit tests (asan)" $? "$out/ctest-asan.xml"
fi

note "fuzzing (libFuzzer + ASan/UBSan, ${fuzz_seconds}s per target, $fdir/)"
# Each target runs on a scratch copy of its seed corpus (new inputs never
# land in the repo) with crash and leak artefacts written to $out/fuzz.
# A target fails on a non-zero exit or any sanitizer report in its log.
build "$fdir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DPODSHIM_FUZZ=ON -DPODSHIM_SANITIZE=ON -DPODSHIM_TESTS=OFF
fuzz_ok=$?
[ $fuzz_ok -ne 0 ] && count_stage "fuzz build" $fuzz_ok
fuzz_total=0
for src in tests/fuzz/fuzz_*.c; do
	[ $fuzz_ok -eq 0 ] || break
	name=$(basename "$src" .c)
	stem=${name#fuzz_}
	seeds=tests/fuzz/corpus/$stem
	[ -d "$seeds" ] || seeds=tests/fuzz/corpus/${stem%%_*}
	work="$out/fuzz/$name"
	rm -rf "$work"
	mkdir -p "$work/corpus"
	[ -d "$seeds" ] && cp -r "$seeds/." "$work/corpus/"
	log="$work/fuzz.log"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		timeout $((fuzz_seconds + 300)) "$fdir/$name" -max_total_time="$fuzz_seconds" \
		-detect_leaks=1 -print_final_stats=1 -timeout=30 -rss_limit_mb=2560 \
		-artifact_prefix="$work/" "$work/corpus" >"$log" 2>&1
	st=$?
	if grep -qE 'ERROR: (Address|Leak|Memory|UndefinedBehavior)Sanitizer|runtime error:|==ERROR: libFuzzer' "$log"; then
		[ $st -eq 0 ] && st=1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	fuzz_total=$((fuzz_total + ${execs:-0}))
	if [ $st -eq 0 ]; then
		echo "ok   $name: ${execs:-?} executions in ${fuzz_seconds}s"
	else
		echo "FAIL $name (exit status $st, ${execs:-?} executions; $log)"
		grep -E -A30 'ERROR|runtime error' "$log" | head -60
		ls "$work" | grep -E '^(crash|leak|timeout|oom)-' | sed "s|^|  artefact: $work/|"
	fi
	count_stage "fuzz $name" $st
done
[ $fuzz_ok -eq 0 ] && echo "fuzzing: $fuzz_total executions in total"

note "VM boot (tests/vm/test_vm_boot, then tests/e2e/test_vm_pods.py and test_vm_ctr.py: pod VMs through CRI, VM containers through ctr run)"
# One short stage: scripts/vm-initramfs.sh builds the guest's initramfs and
# root once (cached), qemu-accel.sh picks KVM or TCG, and the test boots one VM to
# SIGKILL, one to stop through the agent's Shutdown and one as a pod's own
# task through the sandbox layer, printing each boot time and QEMU's PSS
# (the release build: the agent runs as the guest's pid 1); then the `vm`
# e2e tests (marked, and left out of the other e2e stages) run CRI pods on
# the podshim-vm handler and `ctr run` VM containers under containerd 1.6
# with the ASan shim, and VM pods through the shim sandboxer
# (test_vm_sandboxer.py) under containerd 2.1.9.
if [ $release_ok -eq 0 ]; then
	(
		set -e
		# the guest's root holds this build's agent (at its path here)
		read -r vm_kernel vm_initrd vm_root < <(PODSHIM_VM_AGENT="$(cd "$bdir" && pwd)/podshim-agent" \
			bash scripts/vm-initramfs.sh)
		read -r vm_accel vm_accel_args < <(bash scripts/qemu-accel.sh "$vm_kernel")
		vm_cpu=$(sed -n 's/.*-cpu \([^ ]*\).*/\1/p' <<<"$vm_accel_args")
		PODSHIM_VM_CONSOLE="$out" timeout 900 "$bdir/test_vm_boot" "$vm_kernel" "$vm_initrd" \
			"$vm_root" "$vm_accel" "$vm_cpu"
	) 2>&1 | tee "$out/vm-boot.log"
	count_stage "vm boot" "${PIPESTATUS[0]}"
	grep -a 'boot .* PSS' "$out/vm-boot.log" >"$out/vm-boot-summary.txt" || true
else
	count_stage "vm boot" 1
fi
if [ $asan_ok -eq 0 ]; then
	PODSHIM_CONTAINERD=1.6 PODSHIM_BIN_DIR="$repo/$adir" PODSHIM_ASAN_LOG_DIR="$out/asan-vm" \
		"$py" -m pytest tests/e2e/test_vm_pods.py tests/e2e/test_vm_ctr.py -m vm \
		--junitxml="$out/e2e-vm.xml"
	count_junit "end-to-end (vm pods)" $? "$out/e2e-vm.xml"
	# VM pods through containerd 2.x's shim sandboxer (1.x has none): the
	# runtime type io.containerd.podshim-vm.v2 with `sandboxer = 'shim'`
	if [ -x "${PODSHIM_CACHE:-/var/cache/podshim}/containerd-2.1.9/usr/bin/containerd" ]; then
		PODSHIM_CONTAINERD=2.1.9 PODSHIM_BIN_DIR="$repo/$adir" \
			PODSHIM_ASAN_LOG_DIR="$out/asan-vm-2.1.9" \
			"$py" -m pytest tests/e2e/test_vm_sandboxer.py -m vm \
			--junitxml="$out/e2e-vm-2.1.9.xml"
		count_junit "end-to-end (vm pods, containerd 2.1.9 shim sandboxer)" $? \
			"$out/e2e-vm-2.1.9.xml"
	fi
fi

note "end-to-end under containerd 1.6 (ASan shim; podshim and runc-v2)"
if [ $asan_ok -eq 0 ]; then
	rm -rf "$out/asan"
	t0=$SECONDS
	PODSHIM_CONTAINERD=1.6 PODSHIM_BIN_DIR="$repo/$adir" PODSHIM_ASAN_LOG_DIR="$out/asan" \
		PODSHIM_E2E_RUNTIMES=${PODSHIM_E2E_RUNTIMES:-io.containerd.podshim.v2,io.containerd.runc.v2} \
		"$py" -m pytest tests/e2e --ignore=tests/e2e/test_host_cgroups.py -m "not vm" \
		--junitxml="$out/e2e.xml" --durations=10
	st=$?
	echo "end-to-end (containerd 1.6): $((SECONDS - t0))s"
	count_junit "end-to-end" $st "$out/e2e.xml"
fi

# The version matrix: the same suites under the newer containerd builds
# scripts/fetch-containerd.sh unpacks (install-deps.sh runs it), each against
# podshim and that version's own runc-v2 shim, with sid's crun 1.28 for
# crun (harness.Dist). 2.1 runs every suite; 1.7 the task, pod, pod-feature
# and deploy-snippet suites (README "Supported containerd versions").
# e2e_under TAG VERSION NAME FILES...: one stage, reports under TAG
e2e_under() {
	local tag=$1 v=$2 name=$3
	shift 3
	rm -rf "$out/asan-$tag"
	local t0=$SECONDS
	PODSHIM_CONTAINERD=$v PODSHIM_BIN_DIR="$repo/$adir" PODSHIM_ASAN_LOG_DIR="$out/asan-$tag" \
		PODSHIM_E2E_RUNTIMES=${PODSHIM_E2E_RUNTIMES:-io.containerd.podshim.v2,io.containerd.runc.v2} \
		"$py" -m pytest "$@" -o junit_suite_name="e2e-$tag" \
		--junitxml="$out/e2e-$tag.xml" --durations=10
	local st=$?
	echo "$name: $((SECONDS - t0))s"
	count_junit "$name" $st "$out/e2e-$tag.xml"
}

note "end-to-end under containerd 2.1.9 (ASan shim; podshim and 2.1.9's runc-v2)"
if [ $asan_ok -eq 0 ]; then
	e2e_under 2.1.9 2.1.9 "end-to-end (containerd 2.1.9)" tests/e2e \
		--ignore=tests/e2e/test_host_cgroups.py -m "not vm"
fi

note "pods under containerd 2.1.9, podshim grouped (bootstrap version 3)"
# podshim's grouped mode (src/shim/bootstrap.h): containerd 2.1 creates a
# pod's containers on the pod's socket directly, with no start or delete
# exec; the CRI suites again, the churn tests among them, for podshim in
# both pod modes (podsandbox and shim sandboxer: the Sandbox API's pod with
# its containers on the pod's socket); the reference runc-v2 is the same in
# both bootstrap modes: it ran in the stage before.
if [ $asan_ok -eq 0 ]; then
	PODSHIM_E2E_BOOTSTRAP_VERSION=3 PODSHIM_CRI_HANDLERS=podshim,podshim-sb \
		e2e_under 2.1.9-grouped 2.1.9 "end-to-end (containerd 2.1.9, grouped)" \
		tests/e2e/test_pods.py tests/e2e/test_pod_features.py tests/e2e/test_pod_failures.py \
		tests/e2e/test_grouped.py tests/e2e/test_pod_userns.py tests/e2e/test_deploy.py \
		tests/e2e/test_shim_sandboxer.py tests/e2e/test_sandbox_api.py
fi

note "end-to-end under containerd 1.7.24 (ASan shim; podshim and 1.7.24's runc-v2)"
if [ $asan_ok -eq 0 ]; then
	e2e_under 1.7.24 1.7.24 "end-to-end (containerd 1.7.24)" tests/e2e/test_tasks.py \
		tests/e2e/test_pods.py tests/e2e/test_pod_features.py tests/e2e/test_deploy.py
fi

note "cgroup v2 (a v2-only guest: scripts/cgroup-v2-vm.sh)"
# This host is cgroup v1 (hybrid) and the layout is fixed at boot, so the
# cgroup-sensitive unit and e2e suites run again in a guest booted with only
# cgroup2, on this host's own root file system, against the release build.
# The guest runs under KVM only where a probe guest shows KVM works
# (scripts/qemu-accel.sh), else under TCG, an emulated CPU; the e2e timeouts
# in the guest scale with the accelerator it actually got (2x KVM, 8x TCG;
# cgroup-v2-tests.sh).
if [ $release_ok -eq 0 ]; then
	rm -rf "$out/cgroup-v2"
	mkdir -p "$out/cgroup-v2"
	CGV2_VM_TIMEOUT=1500 timeout 1600 bash scripts/cgroup-v2-vm.sh "$out/cgroup-v2" \
		"$repo/scripts/cgroup-v2-tests.sh" "$repo/$bdir" "$out/cgroup-v2" 2>&1 |
		tee "$out/cgroup-v2/vm.log"
	grep -v '^\[' "$out/cgroup-v2/console.log" | tail -40
	for r in ctest e2e; do
		st=$(cat "$out/cgroup-v2/$r-v2.status" 2>/dev/null || echo 1)
		count_junit "cgroup v2 $r" "$st" "$out/cgroup-v2/$r-v2.xml"
	done
	if [ -x "${PODSHIM_CACHE:-/var/cache/podshim}/containerd-2.1.9/usr/bin/containerd" ]; then
		st=$(cat "$out/cgroup-v2/e2e-v2-cd21.status" 2>/dev/null || echo 1)
		count_junit "cgroup v2 e2e (containerd 2.1.9)" "$st" "$out/cgroup-v2/e2e-v2-cd21.xml"
	fi
	# how the guest ended, for the summary (CI shows only the end of the log)
	vm_end=$(grep -a '^cgroup-v2-vm: qemu' "$out/cgroup-v2/vm.log" | tail -1)
fi

note "bench smoke (bench/run.sh --quick; no timing asserted)"
if [ $release_ok -eq 0 ]; then
	PODSHIM_BIN_DIR="$repo/$bdir" BENCH_OUT="$out/bench" bash bench/run.sh --quick
	count_stage "bench smoke" $?
else
	count_stage "bench smoke" 1
fi

note "Debian package (scripts/package-test.sh: build, lintian, install, demo, purge)"
# Installs the package into this machine for the length of the demo and
# purges it again (an EXIT trap); refuses where podshim is installed already.
timeout 600 bash scripts/package-test.sh 2>&1 | tee "$out/package-test.log"
count_stage "debian package" "${PIPESTATUS[0]}"
grep -a -E '^(lintian: |podshim demo: |package-test: )' "$out/package-test.log" >"$out/package-summary.txt"

note "summary"
echo "reports in $out; $skipped skipped"
[ "$fuzz_total" -gt 0 ] && echo "fuzz executions: $fuzz_total"
times=
for i in "${!stage_secs[@]}"; do
	times+="${stage_names[$i]} ${stage_secs[$i]}s; "
done
echo "stage times: ${times}total $((SECONDS - t_begin))s"
[ -n "${vm_end:-}" ] && echo "$vm_end"
# the package stage's lintian result and the demo's last line
sed 's/^/package: /' "$out/package-summary.txt" 2>/dev/null
sed 's/^/vm: /' "$out/vm-boot-summary.txt" 2>/dev/null
for f in "${failures[@]}"; do
	echo "FAILED: $f"
	case $f in
	"cgroup v2 "*)
		# the guest's last words
		grep -av '^\[' "$out/cgroup-v2/console.log" 2>/dev/null | grep -av '^\s*$' |
			tail -8 | cut -c1-200 | sed 's/^/  guest: /'
		;;
	esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
