#!/usr/bin/env bash
# A running sluice to try, in one command (as root: it installs packages):
#
#   sudo scripts/demo.sh
#
# Installs the packages (.ci/run --install-only), builds in build/, starts a sandbox
# MariaDB in /var/tmp/sluice-demo, creates the account demo (password demo) in MariaDB and
# in sluice, starts sluice on 127.0.0.1:3307 in front of it, and runs one query through
# it. sluice and MariaDB keep running; it prints how to connect and how to stop them.
# Running it again restarts sluice with the same data. SLUICE_DEMO_DIR, SLUICE_DEMO_LISTEN
# and SLUICE_DEMO_ADMIN move the state directory and the ports.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
state=${SLUICE_DEMO_DIR:-/var/tmp/sluice-demo}
listen=${SLUICE_DEMO_LISTEN:-127.0.0.1:3307}
admin=${SLUICE_DEMO_ADMIN:-127.0.0.1:8307}
port=${listen##*:}

say() {
	printf '\n==== %s\n' "$*"
}

if [ -z "${SLUICE_DEMO_NO_INSTALL:-}" ]; then
	say "installing packages"
	bash "$top/.ci/run" --install-only
fi

say "building sluice (build/)"
cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p build
if [ ! -f build/Makefile ]; then
	(cd build && ../configure)
fi
make -C build -j"${JOBS:-2}" sluice
sluice=$top/build/sluice

say "starting MariaDB ($state/mariadb)"
mkdir -p "$state"
eval "$(scripts/mariadb-sandbox.sh start "$state/mariadb")"
scripts/mariadb-sandbox.sh sql "$state/mariadb" "
	CREATE DATABASE IF NOT EXISTS demo;
	CREATE USER IF NOT EXISTS 'demo'@'%' IDENTIFIED BY 'demo';
	GRANT ALL ON demo.* TO 'demo'@'%';"

say "account demo in sluice ($state/sluice.db)"
if ! "$sluice" --db "$state/sluice.db" account list 2>/dev/null | grep -qw demo; then
	echo demo | "$sluice" --db "$state/sluice.db" account add demo
fi
"$sluice" --db "$state/sluice.db" account list

# A sluice of an earlier run of this script goes first (by its pid file only).
if [ -f "$state/sluice.pid" ]; then
	old=$(cat "$state/sluice.pid")
	if kill -0 "$old" 2>/dev/null && grep -q sluice "/proc/$old/cmdline" 2>/dev/null; then
		say "stopping the previous demo sluice (pid $old)"
		kill -TERM "$old"
		for _ in $(seq 1 50); do
			kill -0 "$old" 2>/dev/null || break
			sleep 0.2
		done
	fi
fi

say "starting sluice on $listen"
[ -f "$state/admin-token" ] || head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$state/admin-token"
token=$(cat "$state/admin-token")
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nohup "$sluice" --listen "$listen" --backend "127.0.0.1:$MARIADB_PORT" --pool-size 16 \
	--db "$state/sluice.db" --admin "$admin" --admin-token "$token" --log-level info \
	</dev/null >>"$state/sluice.log" 2>&1 &
pid=$!
echo "$pid" >"$state/sluice.pid"
for _ in $(seq 1 50); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		break
	fi
	kill -0 "$pid" 2>/dev/null || { tail -n 20 "$state/sluice.log" >&2; echo "sluice exited" >&2; exit 1; }
	sleep 0.2
done

say "a query through sluice"
mariadb --no-defaults -h 127.0.0.1 -P "$port" -u demo -pdemo -e "SELECT VERSION(), NOW(), CURRENT_USER()"

cat <<MSG

sluice is running (pid $pid), in front of MariaDB on 127.0.0.1:$MARIADB_PORT.

  connect:      mariadb -h 127.0.0.1 -P $port -u demo -pdemo demo
  admin API:    curl -H "Authorization: Bearer $token" http://$admin/v1/stats
  dashboard:    http://$admin/
  log:          $state/sluice.log
  stop sluice:  kill $pid
  stop MariaDB: $top/scripts/mariadb-sandbox.sh stop $state/mariadb
MSG
