#!/usr/bin/env python3
# mysqlnd.t: PHP's mysqlnd (mysqli and PDO) through sluice sees what it sees straight
# from MariaDB (issue 12, symptoms 1 and 2). mysqlnd reads an OK packet's info as
# string<lenenc> whatever the capabilities; sluice wrote the info of the OK packets it
# rewrites (for clients without CLIENT_SESSION_TRACK) as plain text, so PHP warned
# "RSET_HEADER packet additional data length is past 45 bytes the packet size", lost the
# insert id, and failed every command after it with 2014 "Commands out of sync": no PHP
# application could run a transaction. tests/integration/mysqlnd.php does the same
# transaction, temporary-table, rollback and PDO steps against both and prints what PHP
# saw; every line must match.
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()
if shutil.which("php") is None:
    lib.skip_all("php is not installed (Debian: php-cli php-mysql)")

SCHEMA = lib.create_schema("t_mysqlnd")
A = lib.Account("t_mysqlnd", "pw-mysqlnd", schemas=[SCHEMA])
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mysqlnd.php")


def run_php(port):
    r = subprocess.run(["php", SCRIPT, str(port), A.name, A.password, SCHEMA],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).splitlines()


s = lib.start_sluice([A], pool_size=4)
code_d, direct = run_php(lib.MARIADB_PORT)
ok(code_d == 0 and direct and direct[-1] == "done", "mysqlnd.php runs straight to MariaDB",
   "exit %d: %s" % (code_d, "\n".join(direct[-5:])))
code_s, through = run_php(s.port)
diag("through sluice:\n" + "\n".join(through))
ok(not [l for l in through if l.startswith("php warning")],
   "no PHP warning through sluice", "\n".join(l for l in through if "warning" in l))
ok(code_s == 0 and through and through[-1] == "done", "mysqlnd.php runs through sluice",
   "exit %d" % code_s)
for want, got in zip(direct, through):
    is_(got, want, "mysqlnd sees what it sees directly: " + want.split(":")[0])
is_(len(through), len(direct), "as many lines as directly")
lib.finish(s)
lib.done_testing()
