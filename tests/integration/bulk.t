#!/usr/bin/env python3
# bulk.t: COM_STMT_BULK_EXECUTE (0xfa, MariaDB's array execute) through a pool (issue 12,
# symptom 2): the MariaDB Node connector's batch() reported affectedRows null instead of
# 200 through sluice, which did not offer MARIADB_CLIENT_STMT_BULK_OPERATIONS (and
# answered 0xfa "Unknown command"). tests/integration/bulk.js runs its batches straight to
# MariaDB and through sluice (pool 4, 8 connections at once); every line must match.
# First tests/integration/psclient (libmariadb's array binding) through a pool of 1 whose
# backend connection it KILLs between two bulk executes: the second, which libmariadb
# sends without the parameter types, runs on a connection that never saw the statement.
# The Node part needs the npm package mariadb, from $SLUICE_NODE_MODULES or
# tests/integration/drivers/node_modules, where .ci/run installs it with drivers.t's
# (npm install --prefix tests/integration/drivers mysql2 mariadb); without node or the
# package it is skipped.
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("bulk.t starts sluice with a pool of its own size")
HERE = os.path.dirname(os.path.abspath(__file__))
modules = os.environ.get("SLUICE_NODE_MODULES") or os.path.join(HERE, "drivers", "node_modules")

SCHEMA = lib.create_schema("t_bulk")
A = lib.Account("t_bulk", "pw-bulk", schemas=[SCHEMA])
SCRIPT = os.path.join(HERE, "bulk.js")

# ---- a client that did not ask for bulk operations (pymysql) gets what MariaDB answers it


def bulk_without_cap(conn):
    conn._execute_command(0xfa, b"\x01\x00\x00\x00\x00\x00")
    try:
        conn._read_ok_packet()
        got = "OK"
    except lib.pymysql.err.MySQLError as e:
        got = "ERR %d %s" % (e.args[0], e.args[1])
    conn.ping(reconnect=False)
    return got


s = lib.start_sluice([A], pool_size=1)
c = lib.pymysql.connect(host="127.0.0.1", port=lib.MARIADB_PORT, user=A.name,
                        password=A.password, database=SCHEMA)
want = bulk_without_cap(c)
c.close()
c = s.connect(A)
is_(bulk_without_cap(c), want, "COM_STMT_BULK_EXECUTE without the capability: as MariaDB "
    "answers it, and the session goes on")
c.close()

# ---- libmariadb: pool 1, the backend connection KILLed between two bulk executes
prog = os.path.join(os.path.dirname(os.environ.get("SLUICE_BIN", "./sluice")),
                    "tests", "integration", "psclient")
if not os.path.exists(prog):
    lib.bail_out("%s is missing: build it with make check" % prog)
r = subprocess.run([prog, s.host, str(s.port), A.name, A.password, SCHEMA, SCHEMA,
                    str(lib.MARIADB_PORT), lib.MARIADB_SOCKET or "", "bulk"],
                   capture_output=True, text=True, timeout=120)
lib.relay_tap(r, "psclient: ", 5)
lib.finish(s)

if shutil.which("node") is None or not os.path.isdir(os.path.join(modules, "mariadb")):
    why = ("node is not installed" if shutil.which("node") is None else
           "the npm package mariadb is not in %s (npm install --prefix "
           "tests/integration/drivers mysql2 mariadb, or set SLUICE_NODE_MODULES)" % modules)
    lib.skip("the MariaDB Node connector's batch()", why)
    lib.done_testing()
    sys.exit(0)


def run_node(port):
    env = dict(os.environ, NODE_PATH=modules)
    r = subprocess.run(["node", SCRIPT, str(port), A.name, A.password, SCHEMA],
                       capture_output=True, text=True, timeout=120, env=env)
    return r.returncode, (r.stdout + r.stderr).splitlines()


s = lib.start_sluice([A], pool_size=4)
code_d, direct = run_node(lib.MARIADB_PORT)
ok(code_d == 0 and direct and direct[-1] == "done", "bulk.js runs straight to MariaDB",
   "exit %d: %s" % (code_d, "\n".join(direct[-5:])))
diag("straight to MariaDB:\n" + "\n".join(direct))
code_s, through = run_node(s.port)
diag("through sluice:\n" + "\n".join(through))
ok(code_s == 0 and through and through[-1] == "done", "bulk.js runs through sluice",
   "exit %d" % code_s)
for want, got in zip(direct, through):
    is_(got, want, "the Node connector sees what it sees directly: " + want.split(":")[0])
is_(len(through), len(direct), "as many lines as directly")
lib.finish(s)
lib.done_testing()
