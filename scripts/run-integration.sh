#!/usr/bin/env bash
# Runs the integration tests (tests/integration/*.t) against a throwaway MariaDB.
#
#   scripts/run-integration.sh [-C BUILDDIR] [-a] [-x TEST]... [TEST.t ...]
#
# BUILDDIR is a configured build tree (default: the current directory). Without TEST
# names every integration test runs; -a runs all of `make check` (unit tests too); -x
# leaves a test out (e.g. -x sysbench.t). A sandbox MariaDB is started in a temporary
# directory and stopped on exit, unless MARIADB_PORT already names a live one. A test
# that SKIPs counts as a failure here: the point of this script is that they run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=.
all=0
excludes=()
while [ $# -gt 0 ]; do
	case "$1" in
	-C) builddir=$2; shift 2 ;;
	-a) all=1; shift ;;
	-x) excludes+=("$(basename "$2")"); shift 2 ;;
	-h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
done
builddir=$(cd "$builddir" && pwd)
[ -f "$builddir/Makefile" ] || { echo "run-integration: no Makefile in $builddir (configure first)" >&2; exit 2; }

tests=()
for t in "$@"; do
	case "$t" in
	tests/integration/*) tests+=("$t") ;;
	*) tests+=("tests/integration/$(basename "$t")") ;;
	esac
done

sandbox=
cleanup() {
	local rc=$?
	if [ -n "$sandbox" ]; then
		"$here/mariadb-sandbox.sh" stop "$sandbox" || true
		if [ "$rc" -eq 0 ] && [ -z "${SLUICE_TEST_KEEP:-}" ]; then
			rm -rf "$sandbox"
		else
			echo "run-integration: sandbox kept in $sandbox (mariadb.err there)" >&2
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${MARIADB_PORT:-}" ] && mariadb-admin --no-defaults -h "${MARIADB_HOST:-127.0.0.1}" \
	-P "$MARIADB_PORT" -uroot --connect-timeout=2 ping >/dev/null 2>&1; then
	echo "run-integration: using the MariaDB on port $MARIADB_PORT" >&2
else
	sandbox=$(mktemp -d --suffix=.sluice-mariadb)
	eval "$("$here/mariadb-sandbox.sh" start "$sandbox")"
fi
export MARIADB_HOST MARIADB_PORT MARIADB_SOCKET

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cd "$builddir"
# The value of a variable of the generated Makefile (TESTS, INTEGRATION_TESTS).
# (Regenerate the Makefile first, so that no rebuild chatter mixes into the value.)
make Makefile >/dev/null
make_var() {
	printf 'print-var:\n\t@echo $(%s)\n' "$1" | make -s -f Makefile -f - print-var | tail -n 1
}
if [ ${#tests[@]} -eq 0 ]; then
	if [ "$all" -eq 1 ]; then
		read -r -a tests <<<"$(make_var TESTS)"
	else
		read -r -a tests <<<"$(make_var INTEGRATION_TESTS)"
	fi
fi
run=()
for t in "${tests[@]}"; do
	keep=1
	for x in "${excludes[@]+"${excludes[@]}"}"; do
		[ "$(basename "$t")" = "$x" ] && keep=0
	done
	[ "$keep" -eq 1 ] && run+=("$t")
done
tests=("${run[@]}")
testvar="TESTS=${tests[*]}"
echo "run-integration: make check $testvar" >&2

status=0
make -j"${JOBS:-2}" check "$testvar" || status=$?

# Each test's .trs holds its results; a SKIP means the suite did not really run.
skipped=0
for t in "${tests[@]}"; do
	case "$t" in *.t) ;; *) continue ;; esac
	trs="${t%.t}.trs"
	if [ ! -f "$trs" ]; then
		echo "run-integration: $t did not run (no $trs)" >&2
		skipped=1
	elif grep -q '^:global-test-result: SKIP' "$trs"; then
		echo "run-integration: $t SKIPPED:" >&2
		grep -m3 'SKIP' "${t%.t}.log" >&2 || true
		skipped=1
	fi
	if [ "$status" -ne 0 ] && [ -f "${t%.t}.log" ] && grep -qE '^(not ok|Bail out!)' "${t%.t}.log"; then
		echo "---- $t (failures) ----" >&2
		grep -E -A6 '^(not ok|Bail out!)' "${t%.t}.log" | head -n 60 >&2
	fi
done
if [ "$status" -eq 0 ] && [ "$skipped" -ne 0 ]; then
	echo "run-integration: integration tests skipped: failing" >&2
	status=1
fi
exit "$status"
