#!/usr/bin/env python3
# prepared.t: server-side prepared statements through a pool (docs/pooling.md, "Prepared
# statements"). They do not pin: an execute runs on whichever backend connection the
# scheduler gives it, prepared there first if it is not yet.
#  - tests/integration/psclient (C, libmariadb) against a sluice of pool size 1 whose
#    backend connection it KILLs under it: the execute after that is prepared again and
#    keeps the parameter types libmariadb sends only once; a statement keeps the schema
#    it was prepared in, as straight to MariaDB; statement id -1; 8 clients sharing one
#    backend connection; close and prepare again;
#  - sysbench in its default mode (server-side prepared statements) with 32 threads on a
#    pool of 4, read-only and read-write: finishes with no errors (but InnoDB deadlocks)
#    and no reconnects, no client is ever pinned, the backend sees at most 4 connections.
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import qoslib  # noqa: E402
from lib import diag, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("prepared.t starts sluice with a pool of its own size")

SCHEMA, SCHEMA2 = lib.create_schema("t_ps_a"), lib.create_schema("t_ps_b")
for sch, v in ((SCHEMA, "one"), (SCHEMA2, "two")):
    lib.root_sql("CREATE TABLE IF NOT EXISTS `%s`.ps_w (v VARCHAR(8))" % sch)
    lib.root_sql("DELETE FROM `%s`.ps_w" % sch)
    lib.root_sql("INSERT INTO `%s`.ps_w VALUES (%%s)" % sch, (v,))
U = lib.Account("t_ps", "pw-ps", schemas=[SCHEMA, SCHEMA2])

prog = os.path.join(os.path.dirname(os.environ.get("SLUICE_BIN", "./sluice")),
                    "tests", "integration", "psclient")
if not os.path.exists(prog):
    lib.bail_out("%s is missing: build it with make check" % prog)

# ---- psclient: pool 1, so that every statement runs on the connection it kills
s = lib.start_sluice([U], pool_size=1)
r = subprocess.run([prog, s.host, str(s.port), U.name, U.password, SCHEMA, SCHEMA2,
                    str(lib.MARIADB_PORT), lib.MARIADB_SOCKET or ""],
                   capture_output=True, text=True, timeout=120)
lib.relay_tap(r, "psclient: ", 13)
st = qoslib.stats(s)[U.name]
ok(st["pinned"] == 0, "no client was left pinned (pinned %d)" % st["pinned"])
lib.finish(s)

# ---- sysbench with server-side prepared statements: 32 threads, 4 backend connections
if shutil.which("sysbench") is None:
    lib.skip("sysbench with prepared statements", "sysbench is not installed")
    lib.done_testing()
    sys.exit(0)
POOL, THREADS, SECONDS = 4, 32, 5


def sysbench(test, port, cmd, threads=THREADS):
    args = ["sysbench", test, "--db-driver=mysql", "--db-ps-mode=auto",
            "--mysql-host=127.0.0.1", "--mysql-port=%d" % port, "--mysql-user=%s" % U.name,
            "--mysql-password=%s" % U.password, "--mysql-db=%s" % SCHEMA, "--tables=1",
            "--table-size=1000", "--threads=%d" % threads, "--time=%d" % SECONDS,
            "--report-interval=0", cmd]
    return subprocess.run(args, capture_output=True, text=True, timeout=SECONDS + 60)


def count(out, label):
    m = re.search(r"^\s*%s:\s+(\d+)" % label, out, re.M)
    return int(m.group(1)) if m else None


def status(name):
    return int(lib.root_sql("SHOW GLOBAL STATUS LIKE %s", (name,))[0][1])


lib.root_sql("DROP TABLE IF EXISTS `%s`.sbtest1" % SCHEMA)
r = sysbench("oltp_read_only", lib.MARIADB_PORT, "prepare", threads=1)
if not ok(r.returncode == 0, "sysbench prepare (1 table, 1000 rows) directly on MariaDB",
          r.stdout[-1000:] + r.stderr[-1000:]):
    lib.bail_out("no sysbench data")

s = lib.start_sluice([U], pool_size=POOL)
for test in ("oltp_read_only", "oltp_read_write"):
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                b = qoslib.api(s, "GET", "/v1/stats")[1]
                a = [x for x in b["accounts"] if x["name"] == U.name][0]
                samples.append((a["pinned"], b["backends"][0]["connected"]))
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.2)

    th = threading.Thread(target=sample)
    d0, p0 = status("Innodb_deadlocks"), status("Com_stmt_prepare")
    th.start()
    try:
        r = sysbench(test, s.port, "run")
    finally:
        done.set()
        th.join()
    dl, prepares = status("Innodb_deadlocks") - d0, status("Com_stmt_prepare") - p0
    q, err, rec = (count(r.stdout, k) for k in ("queries", "(?:ignored )?errors", "reconnects"))
    name = "sysbench %s, %d threads, prepared statements, pool %d" % (test, THREADS, POOL)
    diag("%s: %s queries, %s errors, %d InnoDB deadlocks, %s reconnects; MariaDB saw %d"
         " COM_STMT_PREPARE; /v1/stats samples (pinned, connected): %s"
         % (name, q, err, dl, rec, prepares, sorted(set(samples))))
    ok(r.returncode == 0 and (q or 0) > 0, name + ": finishes with queries",
       lambda: r.stdout[-1500:] + r.stderr[-1500:])
    ok(err is not None and err <= dl and rec == 0,
       name + ": 0 errors (but InnoDB deadlocks), 0 reconnects",
       lambda: "errors=%s deadlocks=%s reconnects=%s\n%s" % (err, dl, rec, r.stderr[-1500:]))
    ok(samples and max(p for p, _ in samples) == 0 and max(c for _, c in samples) <= POOL,
       name + ": no client pinned, at most %d backend connections (%d samples)"
       % (POOL, len(samples)))
lib.finish(s)
lib.drop_schema(SCHEMA)
lib.drop_schema(SCHEMA2)
lib.done_testing()
