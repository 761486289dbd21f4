#!/bin/bash
# The whole test suite, as CI runs it (.ci/run) and README documents it.
# Needs root (containerd, mounts, cgroups) and the packages from
# scripts/install-deps.sh.
#
# Stages: lint (clang-format, cppcheck), release build + unit tests,
# ASan/UBSan build + unit tests, then the end-to-end suite against the ASan
# shim under a private containerd, for podshim and for containerd's own
# runc-v2 shim (the reference the suite is checked against).
# Every stage runs even if an earlier one failed; the last line is
# "N passed, N failed" summed over all stages (ctest and pytest count each
# test, every other stage counts as one), and the exit status is non-zero
# on any failure.
#
# Environment: JOBS (parallel build jobs), BUILD_DIR and ASAN_BUILD_DIR
# (default build and build-asan, relative to the repo), PODSHIM_E2E_RUNTIMES and
# PODSHIM_E2E_OCI (override the e2e matrix), PODSHIM_TEST_OUT (where reports go).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
py=/usr/bin/python3
jobs=${JOBS:-$(nproc)}
bdir=${BUILD_DIR:-build}
adir=${ASAN_BUILD_DIR:-build-asan}
out=${PODSHIM_TEST_OUT:-$(mktemp -d /tmp/podshim-test.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
passed=0
failed=0
skipped=0
failures=()

note() { printf '\n==== %s\n' "$*"; }

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

note "host preparation"
bash scripts/prepare-host.sh

note "clang-format"
mapfile -t cfiles < <(find src tests/unit tests/fuzz -name '*.[ch]' 2>/dev/null | sort)
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

note "unit tests (release)"
if [ $release_ok -eq 0 ]; then
	ctest --test-dir "$bdir" --output-on-failure --output-junit "$out/ctest-release.xml"
	count_junit "unit tests (release)" $? "$out/ctest-release.xml"
fi

note "unit tests (ASan+UBSan)"
if [ $asan_ok -eq 0 ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir "$adir" --output-on-failure --output-junit "$out/ctest-asan.xml"
	count_junit "unit tests (asan)" $? "$out/ctest-asan.xml"
fi

note "end-to-end (ASan shim; podshim and runc-v2)"
if [ $asan_ok -eq 0 ]; then
	rm -rf "$out/asan"
	PODSHIM_BIN_DIR="$repo/$adir" PODSHIM_ASAN_LOG_DIR="$out/asan" \
		PODSHIM_E2E_RUNTIMES=${PODSHIM_E2E_RUNTIMES:-io.containerd.podshim.v2,io.containerd.runc.v2} \
		"$py" -m pytest tests/e2e --junitxml="$out/e2e.xml" --durations=10
	count_junit "end-to-end" $? "$out/e2e.xml"
fi

note "summary"
echo "reports in $out; $skipped skipped"
for f in "${failures[@]}"; do
	echo "FAILED: $f"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
