#!/usr/bin/env bash
# A throwaway MariaDB for tests and benchmarks: its own datadir, socket and loopback port.
#
#   mariadb-sandbox.sh start DIR [PORT]   initialise DIR (first time only), start mariadbd,
#                                         print "export MARIADB_PORT=...; ..." for eval
#   mariadb-sandbox.sh stop DIR           stop the server started in DIR (by its pid file)
#   mariadb-sandbox.sh sql DIR "SQL" [mariadb options...]
#                                         run SQL as root over DIR's socket
#   mariadb-sandbox.sh env DIR            print the exports again
#
# Installs nothing: needs mariadb-server and mariadb-client. Runs as root too (mariadbd is
# then told --user=root). Everything it prints besides the exports goes to stderr, so
# `eval "$(scripts/mariadb-sandbox.sh start DIR)"` works.
set -euo pipefail

die() {
	echo "mariadb-sandbox: $*" >&2
	exit 1
}

usage() {
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# The server binary: Debian puts mariadbd in /usr/sbin, which a non-root PATH may lack.
find_mariadbd() {
	local b
	for b in mariadbd /usr/sbin/mariadbd mysqld /usr/sbin/mysqld; do
		if command -v "$b" >/dev/null 2>&1; then
			command -v "$b"
			return 0
		fi
	done
	die "mariadbd not found: apt-get install mariadb-server"
}

# A TCP port on 127.0.0.1 that nobody listens on right now.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

pid_alive() {
	[ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null
}

read_pid() {
	cat "$1/mysqld.pid" 2>/dev/null || true
}

print_env() {
	local dir=$1
	echo "export MARIADB_HOST=127.0.0.1; export MARIADB_PORT=$(cat "$dir/port");" \
		"export MARIADB_SOCKET=$dir/mysqld.sock; export MARIADB_SANDBOX=$dir"
}

# Raise the open files limit to the hard limit (capped at 65536): 1024+ client
# connections through sluice each hold a MariaDB connection in the direct benchmarks.
raise_nofile() {
	local hard
	hard=$(ulimit -Hn)
	if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then
		hard=65536
	fi
	ulimit -n "$hard" 2>/dev/null || true
}

cmd_start() {
	local dir=${1:-} port=${2:-}
	[ -n "$dir" ] || usage
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local pid
	pid=$(read_pid "$dir")
	if pid_alive "$pid"; then
		echo "mariadb-sandbox: already running in $dir (pid $pid)" >&2
		print_env "$dir"
		return 0
	fi
	local mariadbd user
	mariadbd=$(find_mariadbd)
	user=$(id -un)
	if [ ! -d "$dir/data/mysql" ]; then
		echo "mariadb-sandbox: initialising $dir/data" >&2
		mariadb-install-db --no-defaults --datadir="$dir/data" --user="$user" \
			--auth-root-authentication-method=normal --skip-test-db \
			>"$dir/install.log" 2>&1 ||
			{ tail -n 20 "$dir/install.log" >&2; die "mariadb-install-db failed"; }
	fi
	if [ -z "$port" ]; then
		port=$(free_port)
	fi
	echo "$port" >"$dir/port"
	raise_nofile
	rm -f "$dir/mysqld.sock" "$dir/mysqld.pid"
	# --no-defaults first: nothing from /etc/mysql may leak in (a bind address, a
	# socket path, a datadir of the system server).
	"$mariadbd" --no-defaults --user="$user" --datadir="$dir/data" \
		--port="$port" --skip-networking=0 --bind-address=127.0.0.1 \
		--socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" \
		--log-error="$dir/mariadb.err" --max-connections=3000 --skip-name-resolve \
		--max-allowed-packet=64M --local-infile=1 --open-files-limit="$(ulimit -n)" \
		--innodb-buffer-pool-size=256M --innodb-log-file-size=256M \
		--innodb-flush-log-at-trx-commit=2 --thread-cache-size=256 \
		--table-open-cache=2000 --skip-log-bin \
		</dev/null >>"$dir/mariadb.out" 2>&1 &
	local spawned=$!
	echo "$spawned" >"$dir/mariadbd.spawned"
	printf 'mariadb-sandbox: starting mariadbd (pid %s) on 127.0.0.1:%s ' "$spawned" "$port" >&2
	local i
	for i in $(seq 1 120); do
		if mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot \
			--connect-timeout=2 ping >/dev/null 2>&1; then
			echo " up" >&2
			print_env "$dir"
			return 0
		fi
		if ! pid_alive "$spawned"; then
			echo " died" >&2
			tail -n 30 "$dir/mariadb.err" >&2 || true
			die "mariadbd exited during start-up"
		fi
		printf '.' >&2
		sleep 0.5
	done
	echo " timeout" >&2
	tail -n 30 "$dir/mariadb.err" >&2 || true
	kill -TERM "$spawned" 2>/dev/null || true
	die "mariadbd did not answer ping within 60 s"
}

cmd_stop() {
	local dir=${1:-}
	[ -n "$dir" ] || usage
	[ -d "$dir" ] || die "no such directory: $dir"
	local pid
	pid=$(read_pid "$dir")
	if ! pid_alive "$pid"; then
		# Started but the pid file never appeared: fall back to the pid we spawned.
		pid=$(cat "$dir/mariadbd.spawned" 2>/dev/null || true)
	fi
	if ! pid_alive "$pid"; then
		echo "mariadb-sandbox: not running in $dir" >&2
		return 0
	fi
	printf 'mariadb-sandbox: stopping mariadbd (pid %s) ' "$pid" >&2
	kill -TERM "$pid"
	local i
	for i in $(seq 1 120); do
		if ! pid_alive "$pid"; then
			echo " stopped" >&2
			rm -f "$dir/mariadbd.spawned"
			return 0
		fi
		printf '.' >&2
		sleep 0.5
	done
	echo " still running after 60 s: SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$dir/mariadbd.spawned"
}

cmd_sql() {
	local dir=${1:-} sql=${2:-}
	[ -n "$dir" ] && [ -n "$sql" ] || usage
	shift 2
	mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot "$@" -e "$sql"
}

case "${1:-}" in
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
sql) shift; cmd_sql "$@" ;;
env) shift; [ -n "${1:-}" ] || usage; print_env "$(cd "$1" && pwd)" ;;
*) usage ;;
esac
