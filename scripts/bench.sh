#!/usr/bin/env bash
# Benchmark: sysbench straight to MariaDB, through a bare TCP relay (tests/relay.c, the
# floor for any proxy), and through sluice, side by side.
#
#   scripts/bench.sh [SLUICE_BIN [BEFORE_BIN]]
#
# With BEFORE_BIN (another sluice build, e.g. the commit before a change) both run side
# by side, each point in turn, with the same settings: the table adds the before build's
# CPU per query and after/before.
#
# Settings (environment):
#   BENCH_THREADS   "1 8 32 128 512 1024"            sysbench --threads, one point each
#   BENCH_TIME      10                               seconds per point
#   BENCH_TESTS     "oltp_point_select oltp_read_only"
#   BENCH_POOL      16                               sluice --pool-size
#   BENCH_SLUICE_THREADS (unset: one per CPU)        sluice --threads
#   BENCH_TABLES    4,  BENCH_TABLE_SIZE 100000      the sysbench data
#   BENCH_OUT       bench-<date>                     directory for results.csv, logs, plot
#   MARIADB_PORT    use this MariaDB (root over MARIADB_SOCKET); else a sandbox is started
#
# Prints a table per test: qps and p95 latency for each path, sluice/direct, and the CPU
# time per query of the relay and of sluice (utime+stime from /proc/PID/stat over the
# run, divided by the queries). Writes results.csv, and results.png if gnuplot is there.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
sluice=${1:-${SLUICE_BIN:-./sluice}}
before=${2:-${BENCH_BEFORE:-}}
threads_list=${BENCH_THREADS:-1 8 32 128 512 1024}
duration=${BENCH_TIME:-10}
tests=${BENCH_TESTS:-oltp_point_select oltp_read_only}
pool=${BENCH_POOL:-16}
tables=${BENCH_TABLES:-4}
table_size=${BENCH_TABLE_SIZE:-100000}
out=${BENCH_OUT:-bench-$(date +%Y%m%d-%H%M%S)}

[ -x "$sluice" ] || { echo "bench: no sluice binary at $sluice (give its path)" >&2; exit 2; }
sluice=$(cd "$(dirname "$sluice")" && pwd)/$(basename "$sluice")
if [ -n "$before" ]; then
	[ -x "$before" ] || { echo "bench: no sluice binary at $before (BEFORE_BIN)" >&2; exit 2; }
	before=$(cd "$(dirname "$before")" && pwd)/$(basename "$before")
fi
command -v sysbench >/dev/null || { echo "bench: sysbench is not installed" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d --suffix=.sluice-bench)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() {
	printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

sandbox= relay_pid= sluice_pid= before_pid=
cleanup() {
	local rc=$?
	[ -z "$sluice_pid" ] || { kill -TERM "$sluice_pid" 2>/dev/null; wait "$sluice_pid" 2>/dev/null || true; }
	[ -z "$before_pid" ] || { kill -TERM "$before_pid" 2>/dev/null; wait "$before_pid" 2>/dev/null || true; }
	[ -z "$relay_pid" ] || { kill -TERM "$relay_pid" 2>/dev/null; wait "$relay_pid" 2>/dev/null || true; }
	[ -z "$sandbox" ] || "$here/mariadb-sandbox.sh" stop "$sandbox" || true
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

wait_port() {
	local port=$1 pid=$2
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# utime + stime of a process, in clock ticks.
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

if [ -n "${MARIADB_PORT:-}" ]; then
	log "MariaDB on 127.0.0.1:$MARIADB_PORT"
	if [ -n "${MARIADB_SOCKET:-}" ]; then
		root_sql() { mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot -e "$1"; }
	else
		root_sql() { mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -uroot -e "$1"; }
	fi
else
	sandbox=$work/mariadb
	eval "$("$here/mariadb-sandbox.sh" start "$sandbox")"
	root_sql() { "$here/mariadb-sandbox.sh" sql "$sandbox" "$1"; }
fi

user=sluice_bench password=bench-$RANDOM$RANDOM db=sluice_bench
root_sql "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db;
	CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$password';
	ALTER USER '$user'@'%' IDENTIFIED BY '$password';
	GRANT ALL ON $db.* TO '$user'@'%';"
echo "$password" | "$sluice" --db "$work/sluice.db" account add "$user" >/dev/null
[ -z "$before" ] || echo "$password" | "$before" --db "$work/before.db" account add "$user" >/dev/null

sb_common=(--db-driver=mysql --db-ps-mode=disable --mysql-user="$user"
	--mysql-password="$password" --mysql-db="$db" --tables="$tables"
	--table-size="$table_size")
log "sysbench prepare: $tables tables x $table_size rows"
sysbench oltp_read_only "${sb_common[@]}" --mysql-host=127.0.0.1 --mysql-port="$MARIADB_PORT" \
	--threads=4 prepare >"$out/prepare.log" 2>&1

log "building the relay"
${CC:-cc} -O2 -D_GNU_SOURCE -o "$work/relay" "$top/tests/relay.c"
relay_port=$(free_port)
"$work/relay" "$relay_port" "127.0.0.1:$MARIADB_PORT" 2>"$out/relay.log" &
relay_pid=$!
wait_port "$relay_port" "$relay_pid" || { echo "bench: relay did not start" >&2; exit 1; }

# start_sluice BIN DB LOG: a sluice on a free port with the bench's settings; sets
# started_port and started_pid.
start_sluice() {
	started_port=$(free_port)
	"$1" --listen "127.0.0.1:$started_port" --backend "127.0.0.1:$MARIADB_PORT" \
		--pool-size "$pool" --db "$2" --admin "127.0.0.1:$(free_port)" \
		--admin-token "bench-$RANDOM" --log-level warn ${BENCH_SLUICE_THREADS:+--threads "$BENCH_SLUICE_THREADS"} \
		</dev/null >"$3" 2>&1 &
	started_pid=$!
	wait_port "$started_port" "$started_pid" || { echo "bench: sluice did not start; see $3" >&2; exit 1; }
}
start_sluice "$sluice" "$work/sluice.db" "$out/sluice.log"
sluice_port=$started_port sluice_pid=$started_pid
log "relay pid $relay_pid on :$relay_port, sluice pid $sluice_pid on :$sluice_port (pool $pool)"
if [ -n "$before" ]; then
	start_sluice "$before" "$work/before.db" "$out/before.log"
	before_port=$started_port before_pid=$started_pid
	log "before: $before, pid $before_pid on :$before_port"
fi

clk=$(getconf CLK_TCK)
csv=$out/results.csv
echo "test,threads,path,qps,p95_ms,errors,cpu_us_per_query" >"$csv"

# run TEST THREADS PATH PORT PID: one sysbench point; appends a CSV line.
run_point() {
	local test=$1 threads=$2 path=$3 port=$4 pid=$5 f c0=0 c1=0
	f=$out/$test-$threads-$path.log
	[ "$pid" = - ] || c0=$(cpu_ticks "$pid")
	if ! sysbench "$test" "${sb_common[@]}" --mysql-host=127.0.0.1 --mysql-port="$port" \
		--threads="$threads" --time="$duration" --report-interval=0 run >"$f" 2>&1; then
		log "$test threads=$threads $path: sysbench failed (see $f)"
	fi
	[ "$pid" = - ] || c1=$(cpu_ticks "$pid")
	local queries qps p95 errors cpu=
	queries=$(awk '$1 == "queries:" { print $2 }' "$f")
	qps=$(awk '$1 == "queries:" { gsub(/\(/, "", $3); print $3 }' "$f")
	p95=$(awk '$1 == "95th" { print $3 }' "$f")
	errors=$(awk '$1 == "ignored" && $2 == "errors:" { print $3 }' "$f")
	if [ "$pid" != - ] && [ -n "$queries" ] && [ "$queries" -gt 0 ]; then
		cpu=$(awk -v t=$((c1 - c0)) -v hz="$clk" -v q="$queries" 'BEGIN { printf "%.1f", t * 1e6 / hz / q }')
	fi
	echo "$test,$threads,$path,${qps:-0},${p95:-},${errors:-},$cpu" >>"$csv"
	log "$test threads=$threads $path: ${qps:-0} qps, p95 ${p95:-?} ms, errors ${errors:-?}${cpu:+, $cpu µs CPU/query}"
}

for test in $tests; do
	for threads in $threads_list; do
		run_point "$test" "$threads" direct "$MARIADB_PORT" -
		run_point "$test" "$threads" relay "$relay_port" "$relay_pid"
		run_point "$test" "$threads" sluice "$sluice_port" "$sluice_pid"
		[ -z "$before" ] || run_point "$test" "$threads" before "$before_port" "$before_pid"
		kill -0 "$sluice_pid" 2>/dev/null || { echo "bench: sluice died; see $out/sluice.log" >&2; sluice_pid=; exit 1; }
		[ -z "$before" ] || kill -0 "$before_pid" 2>/dev/null ||
			{ echo "bench: the before build died; see $out/before.log" >&2; before_pid=; exit 1; }
	done
done

# The table, from the CSV.
awk -F, -v pool="$pool" -v secs="$duration" -v before="$before" '
NR == 1 { next }
{
	key = $1 SUBSEP $2
	qps[key, $3] = $4; p95[key, $3] = $5; cpu[key, $3] = $7
	if (!(key in seen)) { seen[key] = 1; order[++n] = key }
}
END {
	last = ""
	for (i = 1; i <= n; i++) {
		split(order[i], k, SUBSEP)
		if (k[1] != last) {
			printf "\n%s, %d s per point, sluice --pool-size %d\n", k[1], secs, pool
			printf "%7s | %9s %8s | %9s %8s | %9s %8s | %8s | %9s %9s | %7s",
			       "threads", "direct", "p95 ms", "relay", "p95 ms", "sluice", "p95 ms",
			       "sl/dir", "relay µs", "sluice µs", "sl/rel"
			if (before != "")
				printf " | %9s %9s %7s", "before", "before µs", "sl/bef"
			printf "\n%7s | %18s | %18s | %18s | %8s | %19s | %7s", "", "qps", "qps",
			       "qps", "qps", "CPU per query", "CPU"
			if (before != "")
				printf " | %9s %9s %7s", "qps", "CPU/query", "CPU"
			printf "\n"
			last = k[1]
		}
		d = qps[order[i], "direct"]; s = qps[order[i], "sluice"]
		rc = cpu[order[i], "relay"]; sc = cpu[order[i], "sluice"]
		printf "%7d | %9.0f %8s | %9.0f %8s | %9.0f %8s | %8s | %9s %9s | %7s", k[2],
		       d, p95[order[i], "direct"], qps[order[i], "relay"], p95[order[i], "relay"],
		       s, p95[order[i], "sluice"], (d > 0 ? sprintf("%.2f", s / d) : "-"),
		       rc, sc, (rc > 0 ? sprintf("%.2f", sc / rc) : "-")
		if (before != "") {
			bc = cpu[order[i], "before"]
			printf " | %9.0f %9s %7s", qps[order[i], "before"], bc,
			       (bc > 0 ? sprintf("%.2f", sc / bc) : "-")
		}
		printf "\n"
	}
}' "$csv"
echo
log "results: $csv"

if command -v gnuplot >/dev/null; then
	for test in $tests; do
		for path in direct relay sluice ${before:+before}; do
			awk -F, -v t="$test" -v p="$path" '$1 == t && $3 == p { print $2, $4 }' "$csv" \
				>"$work/$test-$path.dat"
		done
	done
	{
		echo "set terminal png size 1000,$((420 * $(echo "$tests" | wc -w))) noenhanced"
		echo "set output '$out/results.png'"
		echo "set multiplot layout $(echo "$tests" | wc -w),1"
		echo "set logscale x 2; set xlabel 'sysbench threads'; set ylabel 'queries/s'; set key left top"
		for test in $tests; do
			echo "set title '$test (sluice pool $pool)'"
			echo "plot '$work/$test-direct.dat' with linespoints title 'direct'," \
				"'$work/$test-relay.dat' with linespoints title 'relay'," \
				"'$work/$test-sluice.dat' with linespoints title 'sluice'" \
				"${before:+, '$work/$test-before.dat' with linespoints title 'before'}"
		done
		echo "unset multiplot"
	} | gnuplot && log "plot: $out/results.png"
else
	log "gnuplot not installed (apt-get install gnuplot-nox): no plot"
fi
