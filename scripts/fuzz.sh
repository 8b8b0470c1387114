#!/bin/sh
# fuzz.sh - build the wire fuzz target with clang in a temporary build directory and run
# it for N seconds (default 60) on a copy of the corpus. New crashes are left in the
# work directory (printed at the end); copy each into tests/fuzz/corpus/.
#
# Usage: scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz.XXXXXX")
jobs=$(nproc 2>/dev/null || echo 2)

command -v clang >/dev/null || { echo "fuzz.sh: clang not found" >&2; exit 1; }
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)

echo "fuzz.sh: building in $work/build"
mkdir -p "$work/build" "$work/corpus" "$work/crashes"
cd "$work/build"
"$top/configure" CC=clang --enable-fuzzing --enable-werror >configure.log 2>&1 ||
	{ tail -20 configure.log >&2; exit 1; }
make -j"$jobs" tests/fuzz/fuzz_wire >make.log 2>&1 || { tail -40 make.log >&2; exit 1; }

# libFuzzer writes new inputs into the first directory only: keep the source corpus
# read-only by merging from a scratch copy.
cp "$top"/tests/fuzz/corpus/* "$work/corpus/" 2>/dev/null || true
status=0
./tests/fuzz/fuzz_wire -max_total_time="$secs" -print_final_stats=1 \
	-artifact_prefix="$work/crashes/" "$@" "$work/corpus" || status=$?

if [ -n "$(ls -A "$work/crashes")" ]; then
	echo "fuzz.sh: crashing inputs in $work/crashes:" >&2
	ls -l "$work/crashes" >&2
	echo "fuzz.sh: reproduce with $work/build/tests/fuzz/fuzz_wire <file>" >&2
	exit 1
fi
echo "fuzz.sh: no crash in ${secs}s (work dir $work)"
exit $status
