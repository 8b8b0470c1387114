#!/usr/bin/env bash
# The test command of the README, and what .ci/run runs after installing the packages:
#
#   1. autoreconf, configure --enable-werror in build-ci/, make;
#   2. a sandbox MariaDB (scripts/mariadb-sandbox.sh) on a free loopback port;
#   3. make check: unit tests and every integration test, none may SKIP;
#   4. a second build with --enable-sanitizers (ASan + UBSan, leak detection on) in
#      build-asan/: the whole suite again under it;
#   5. a third build with --enable-tsan (ThreadSanitizer) in build-tsan/: the integration
#      tests again, but those that measure timing (qos.t, isolation.t, sysbench.t), since
#      backend connections move between worker threads (CI_SKIP_TSAN=1 leaves it out);
#   6. every fuzz target for 60 s (scripts/fuzz.sh; CI_SKIP_FUZZ=1 leaves it out);
#   7. the sandbox stops on exit.
# About 27 minutes on 2 cores. CI_SKIP_ASAN=1 leaves out step 4.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${JOBS:-2}
started=$(date +%s)

step() {
	printf '\n==== [%4ds] %s\n' $(($(date +%s) - started)) "$*"
}

sandbox=
cleanup() {
	local rc=$?
	if [ -n "$sandbox" ]; then
		scripts/mariadb-sandbox.sh stop "$sandbox" || true
		[ "$rc" -ne 0 ] || rm -rf "$sandbox"
	fi
	if [ "$rc" -ne 0 ]; then
		echo "ci: FAILED (exit $rc) after $(($(date +%s) - started)) s" >&2
		[ -z "$sandbox" ] || echo "ci: MariaDB's log: $sandbox/mariadb.err" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "format check (clang-format 14)"
scripts/format.sh --check

step "autoreconf"
autoreconf -fi

step "configure --enable-werror (build-ci/)"
rm -rf build-ci
mkdir build-ci
(cd build-ci && ../configure --enable-werror)

step "make -j$jobs"
make -C build-ci -j"$jobs"

step "sandbox MariaDB"
sandbox=$(mktemp -d --suffix=.sluice-ci-mariadb)
eval "$(scripts/mariadb-sandbox.sh start "$sandbox")"
export MARIADB_HOST MARIADB_PORT MARIADB_SOCKET

step "make check: unit and integration tests"
JOBS=$jobs scripts/run-integration.sh -C build-ci -a

if [ -z "${CI_SKIP_ASAN:-}" ]; then
	step "configure --enable-sanitizers (build-asan/)"
	rm -rf build-asan
	mkdir build-asan
	(cd build-asan && ../configure --enable-werror --enable-sanitizers)

	step "make -j$jobs (ASan + UBSan)"
	make -C build-asan -j"$jobs"

	step "make check under ASan + UBSan: every unit and integration test"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		JOBS=$jobs scripts/run-integration.sh -C build-asan -a
fi

if [ -z "${CI_SKIP_TSAN:-}" ]; then
	step "configure --enable-tsan (build-tsan/)"
	rm -rf build-tsan
	mkdir build-tsan
	(cd build-tsan && ../configure --enable-werror --enable-tsan)

	step "make -j$jobs (ThreadSanitizer)"
	make -C build-tsan -j"$jobs"

	# A race makes sluice exit 66 (and stop at once with halt_on_error): every test
	# ends by checking that sluice is still running and exits 0.
	step "integration tests under ThreadSanitizer (all but the timing measurements)"
	TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
		JOBS=$jobs scripts/run-integration.sh -C build-tsan -x qos.t -x isolation.t \
		-x sysbench.t
fi

if [ -z "${CI_SKIP_FUZZ:-}" ]; then
	# A fixed seed and run count: at least 60 s per target on this machine kind, and
	# the same inputs on every run, so the build's verdict does not depend on luck.
	# Longer exploratory runs: scripts/fuzz.sh SECONDS.
	step "fuzz: every target under ASan + UBSan (libFuzzer, clang), seed 1"
	FUZZ_SEED=1 FUZZ_RUNS=${CI_FUZZ_RUNS:-"wire=1500000 session=16000 admin=900000"} \
		scripts/fuzz.sh 600
fi

step "all passed"
