#!/bin/sh
# fuzz.sh - build the fuzz targets (wire, session, admin) with clang in a temporary build
# directory and run each for N seconds (default 60) on a copy of its corpus. New crashes are left in the
# work directory (printed at the end); copy each into tests/fuzz/corpus/.
#
# Usage: scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]
#        FUZZ_SEED=1 FUZZ_RUNS="wire=N session=N admin=N" scripts/fuzz.sh   (repeatable)
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d --suffix=.sluice-fuzz)
jobs=$(nproc 2>/dev/null || echo 2)

command -v clang >/dev/null || { echo "fuzz.sh: clang not found" >&2; exit 1; }
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)

echo "fuzz.sh: building in $work/build"
mkdir -p "$work/build" "$work/corpus" "$work/crashes"
cd "$work/build"
"$top/configure" CC=clang --enable-fuzzing --enable-werror >configure.log 2>&1 ||
	{ tail -20 configure.log >&2; exit 1; }
make -j"$jobs" tests/fuzz/fuzz_wire tests/fuzz/fuzz_session tests/fuzz/fuzz_admin \
	>make.log 2>&1 || { tail -40 make.log >&2; exit 1; }

# Each target runs for $secs on a scratch copy of its corpus (libFuzzer writes new inputs
# into the first directory, and the source corpus stays as committed).
status=0
for t in wire:corpus session:corpus-session admin:corpus-admin; do
	name=${t%%:*}
	dir=${t#*:}
	mkdir -p "$work/$dir"
	cp "$top/tests/fuzz/$dir"/* "$work/$dir/" 2>/dev/null || true
	# FUZZ_RUNS="wire=N session=N admin=N" (with FUZZ_SEED) makes a run repeatable:
	# the same inputs on every machine, as CI wants; else it runs for $secs.
	runs=$(printf '%s\n' ${FUZZ_RUNS:-} | sed -n "s/^$name=//p")
	if [ -n "$runs" ]; then
		echo "fuzz.sh: fuzz_$name for $runs runs (at most ${secs}s)${FUZZ_SEED:+, seed $FUZZ_SEED}"
	else
		echo "fuzz.sh: fuzz_$name for ${secs}s"
	fi
	# A unit is reported slow after 60 s, not libFuzzer's 10: on a shared 2-core box a
	# stall of the machine once made a 4 ms unit take 10 s (its replay: 4 ms; the same
	# seeded run again: slowest unit 0 s). A unit still running after 120 s is a hang.
	./tests/fuzz/fuzz_"$name" ${runs:+-runs="$runs"} -max_total_time="$secs" \
		${FUZZ_SEED:+-seed="$FUZZ_SEED"} -print_final_stats=1 \
		-report_slow_units=60 -timeout=120 \
		-artifact_prefix="$work/crashes/$name-" "$@" "$work/$dir" 2>"$work/$name.log" ||
		status=$?
	grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY" \
		"$work/$name.log" | sed "s/^/fuzz_$name: /"
done

if [ -n "$(ls -A "$work/crashes")" ]; then
	echo "fuzz.sh: crashing inputs in $work/crashes:" >&2
	ls -l "$work/crashes" >&2
	echo "fuzz.sh: reproduce with $work/build/tests/fuzz/fuzz_<target> <file>" >&2
	exit 1
fi
echo "fuzz.sh: no crash (work dir $work)"
exit $status
