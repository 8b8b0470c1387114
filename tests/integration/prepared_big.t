#!/usr/bin/env python3
# prepared_big.t: a prepared execute over 16 MiB through a pool (issue 12, symptom 10:
# DBD::mysql with server-side prepare and a 17 MiB parameter, pool of 4, after other
# sessions used the pool, got 1210 "Incorrect arguments to mysqld_stmt_execute").
# An execute of 16 MiB or more arrives as several packets. Where it runs on a backend
# connection that never saw its statement and the client left the parameter types out
# (libmariadb sends them only after a bind), sluice prepares the statement there, puts the
# types back in, and splits the now longer execute into 16 MiB packets again.
# tests/integration/psclient "big": three 17 MiB executes (with types, then twice without,
# the backend connection KILLed in between), after 4 other clients used every connection
# of a pool of 4; each row must arrive byte for byte (LENGTH and MD5 in SQL).
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("prepared_big.t starts sluice with a pool of its own size")
mp = int(lib.root_sql("SELECT @@max_allowed_packet")[0][0])
if mp < 48 << 20:
    lib.skip_all("the backend's max_allowed_packet is %d; 17 MiB rows need 48 MiB or more "
                 "(scripts/mariadb-sandbox.sh sets 64M)" % mp)

SCHEMA = lib.create_schema("t_psbig")
A = lib.Account("t_psbig", "pw-psbig", schemas=[SCHEMA])
prog = os.path.join(os.path.dirname(os.environ.get("SLUICE_BIN", "./sluice")),
                    "tests", "integration", "psclient")
if not os.path.exists(prog):
    lib.bail_out("%s is missing: build it with make check" % prog)

s = lib.start_sluice([A], pool_size=4)
# Every pool connection used by someone else first: 4 statements at once.
backend_ids = set()


def busy():
    c = s.connect(A)
    cur = c.cursor()
    cur.execute("SELECT SLEEP(1), @@pseudo_thread_id")  # the backend's thread
    backend_ids.add(cur.fetchone()[1])
    c.close()


for attempt in range(5):  # bounded: the pool opens its connections as they are needed
    ts = [threading.Thread(target=busy) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    if len(backend_ids) == 4:
        break
ok(len(backend_ids) == 4, "4 clients at once used every pool connection (backend threads %s)"
   % sorted(backend_ids))

r = subprocess.run([prog, s.host, str(s.port), A.name, A.password, SCHEMA, SCHEMA,
                    str(lib.MARIADB_PORT), lib.MARIADB_SOCKET or "", "big"],
                   capture_output=True, text=True, timeout=240)
lib.relay_tap(r, "psclient: ", 16)

# ---- the driver of the report: DBD::mysql with mysql_server_prepare=1
has_dbd = subprocess.run(["perl", "-MDBD::mysql", "-e", "1"], capture_output=True).returncode == 0
if not has_dbd:
    lib.skip("DBD::mysql, server-side prepare, 17 MiB", "DBD::mysql is not installed "
             "(Debian: libdbd-mysql-perl)")
else:
    r = subprocess.run(["perl", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "prepared_big.pl"),
                        str(s.port), A.name, A.password, SCHEMA],
                       capture_output=True, text=True, timeout=240)
    out = r.stdout.splitlines()
    diag("DBD::mysql through sluice:\n" + r.stdout + r.stderr)
    for n in range(3):
        ok("execute %d: ok 1" % n in out, "DBD::mysql: execute %d of a 17 MiB parameter" % n)
    ok("rows (n, LENGTH, MD5 right): 0 17825792 1, 1 17825792 1, 2 17825792 1" in out,
       "DBD::mysql: each row arrived whole, byte for byte")
lib.finish(s)
lib.done_testing()
