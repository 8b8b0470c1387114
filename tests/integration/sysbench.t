#!/usr/bin/env python3
# sysbench.t: sysbench OLTP through sluice (pool of 16) at 1, 64 and 1024 threads: every
# run finishes, counts transactions, and reports zero reconnects and zero errors
# ("ignored errors:") beyond the deadlocks InnoDB reports during the run: read-write
# transactions on 10000 rows deadlock now and then even straight to MariaDB, and sysbench
# counts the victims among its errors.
# SYSBENCH_TIME (seconds per run, default 10) and SYSBENCH_THREADS ("1,64,1024") tune it.
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, ok  # noqa: E402

lib.require_sandbox()
if shutil.which("sysbench") is None:
    lib.skip_all("sysbench is not installed")

DURATION = int(os.environ.get("SYSBENCH_TIME", "10"))
THREADS = [int(t) for t in os.environ.get("SYSBENCH_THREADS", "1,64,1024").split(",")]
SCHEMA = "t_sysbench"
lib.drop_schema(SCHEMA)
lib.create_schema(SCHEMA)
U = lib.Account("t_sysbench", "pw-sysbench", schemas=[SCHEMA])
s = lib.start_sluice([U], pool_size=16)


def sysbench(test, host, port, threads, cmd, seconds=DURATION):
    args = ["sysbench", test, "--db-driver=mysql", "--db-ps-mode=disable",
            "--mysql-host=%s" % host, "--mysql-port=%d" % port, "--mysql-user=%s" % U.name,
            "--mysql-password=%s" % U.password, "--mysql-db=%s" % SCHEMA,
            "--tables=1", "--table-size=10000", "--threads=%d" % threads,
            "--time=%d" % seconds, "--report-interval=0", cmd]
    return subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)


def parse(out):
    """Numbers from sysbench's summary: transactions, queries, errors, reconnects."""
    res = {}
    for key, label in (("transactions", "transactions"), ("queries", "queries"),
                       ("errors", "(?:ignored )?errors"), ("reconnects", "reconnects")):
        m = re.search(r"^\s*%s:\s+(\d+)" % label, out, re.M)
        res[key] = int(m.group(1)) if m else None
    m = re.search(r"^\s*95th percentile:\s+([\d.]+)", out, re.M)
    res["p95_ms"] = float(m.group(1)) if m else None
    return res


def deadlocks():
    return int(lib.root_sql("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")[0][1])


# Prepared directly against MariaDB, so that a broken gateway cannot spoil the data.
r = sysbench("oltp_read_only", lib.MARIADB_HOST, lib.MARIADB_PORT, 1, "prepare", seconds=60)
if not ok(r.returncode == 0, "sysbench prepare (1 table, 10000 rows) directly on MariaDB",
          r.stdout[-2000:] + r.stderr[-2000:]):
    lib.bail_out("no sysbench data")

for test in ("oltp_read_only", "oltp_read_write"):
    for threads in THREADS:
        name = "%s, %d threads, %d s through %s" % (test, threads, DURATION,
                                                   "MariaDB" if lib.DIRECT else "sluice")
        d0 = deadlocks()
        try:
            r = sysbench(test, s.host, s.port, threads, "run")
        except subprocess.TimeoutExpired:
            ok(False, name + ": finishes", "sysbench hung")
            continue
        res = parse(r.stdout)
        res["deadlocks"] = deadlocks() - d0
        diag("%s: %s" % (name, ", ".join("%s=%s" % kv for kv in res.items())))
        ok(r.returncode == 0 and res["transactions"] is not None, name + ": finishes",
           lambda: "exit %d\n%s\n%s" % (r.returncode, r.stdout[-1500:], r.stderr[-1500:]))
        ok((res["transactions"] or 0) > 0, name + ": transactions > 0")
        if res["errors"] and res["errors"] <= res["deadlocks"]:
            # InnoDB picked deadlock victims (ER_LOCK_DEADLOCK, which sysbench counts and
            # retries): the database's doing, the same with or without a gateway.
            diag("%s: %d errors, %d InnoDB deadlocks in the run"
                 % (name, res["errors"], res["deadlocks"]))
        ok(res["errors"] is not None and res["errors"] <= res["deadlocks"] and
           res["reconnects"] == 0, name + ": 0 errors (but InnoDB deadlocks), 0 reconnects",
           lambda: "errors=%s deadlocks=%s reconnects=%s\n%s"
           % (res["errors"], res["deadlocks"], res["reconnects"], r.stderr[-1500:]))

r = sysbench("oltp_read_only", lib.MARIADB_HOST, lib.MARIADB_PORT, 1, "cleanup", seconds=60)
lib.drop_schema(SCHEMA)
lib.finish(s)
lib.done_testing()
