#!/usr/bin/env python3
# compress_status.t (issue 12, symptom 11): a client on the compressed protocol asks the
# server whether its session is compressed (SHOW STATUS LIKE 'Compression', as drivers and
# DBAs check it) and must hear ON, as MariaDB answers it directly. sluice inflates the
# client's frames and talks plain to the backend, whose answer for its own connection is
# OFF. Each statement's output (mariadb CLI, --compress or not, with its column metadata)
# is compared with MariaDB's answer to the same statement on a direct connection.
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()

SCHEMA = lib.create_schema("t_zstatus")
U = lib.Account("t_zstatus_u", "pw-zstatus", schemas=[SCHEMA])
lib.root_sql("CREATE OR REPLACE TABLE %s.my_session_status (name VARCHAR(64), value VARCHAR(64))"
             % SCHEMA)
lib.root_sql("INSERT INTO %s.my_session_status VALUES ('Compression', 'OFF')" % SCHEMA)
s = lib.start_sluice([U], pool_size=4)

STATEMENTS = [
    "SHOW STATUS LIKE 'Compression'",
    "SHOW SESSION STATUS LIKE 'Compression'",
    "show local status like 'compression'",
    "SHOW GLOBAL STATUS LIKE 'Compression'",
    "SHOW STATUS LIKE 'Compress%'",
    "SHOW STATUS WHERE Variable_name = 'Compression'",
    "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
    " WHERE VARIABLE_NAME = 'COMPRESSION'",
    # Not the status variable: a value 'OFF' next to 'Compression' in the client's own
    # data is left alone.
    "SELECT 'Compression', 'OFF'",
    # ... nor in a table whose name merely contains session_status
    "SELECT name, value FROM my_session_status",
]


def cli(host, port, sql, *opts):
    r = subprocess.run(["mariadb", "--no-defaults", "-h", host, "-P", str(port), "-u", U.name,
                        "-p" + U.password, "-D", SCHEMA] + list(opts) + ["-e", sql],
                       capture_output=True, text=True, timeout=30)
    return (r.returncode, r.stdout.strip(), r.stderr.strip())


for opts in (("--compress", "-N", "-B"), ("-N", "-B"), ("--compress", "--column-type-info", "-t")):
    for sql in STATEMENTS:
        if "--column-type-info" in opts and not sql.startswith("SHOW STATUS LIKE 'Compression'"):
            continue
        want = cli(lib.MARIADB_HOST, lib.MARIADB_PORT, sql, *opts)
        got = cli(s.host, s.port, sql, *opts)
        name = "mariadb %s -e \"%s\": as MariaDB answers it" % (" ".join(opts), sql)
        if not is_(got, want, name) or "--column-type-info" in opts:
            diag("directly: %r" % (want,))
        if sql == STATEMENTS[0]:
            diag("%s: %r" % (" ".join(opts), got[1]))

# Several statements in one compressed session: the answer follows each statement.
sql = ("SHOW STATUS LIKE 'Compression'; SELECT 'Compression', 'OFF'; "
       "SHOW STATUS LIKE 'Compression'")
is_(cli(s.host, s.port, sql, "--compress", "-N", "-B"),
    cli(lib.MARIADB_HOST, lib.MARIADB_PORT, sql, "--compress", "-N", "-B"),
    "three statements in one compressed session answer as MariaDB's do")

# A plain client (pymysql, no compression) hears OFF.
c = s.connect(U)
with c.cursor() as cur:
    cur.execute("SHOW STATUS LIKE 'Compression'")
    is_(cur.fetchall(), (("Compression", "OFF"),), "pymysql (not compressed): OFF")
c.close()

# The same through server-side prepared statements (DBD::mysql with compression): the
# execute's binary rows say ON too.
if subprocess.run(["perl", "-MDBD::mysql", "-e", "1"], capture_output=True).returncode != 0:
    lib.skip("a compressed session's prepared status query", "DBD::mysql is not installed "
             "(Debian: libdbd-mysql-perl)")
else:
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compress_ps.pl")
    out = []
    for host, port in ((lib.MARIADB_HOST, lib.MARIADB_PORT), (s.host, s.port)):
        r = subprocess.run(["perl", script, host, str(port), U.name, U.password, SCHEMA],
                           capture_output=True, text=True, timeout=60)
        out.append((r.returncode, r.stdout.strip(), r.stderr.strip()))
    diag("DBD::mysql, compressed, server-side prepared: directly %r, through sluice %r"
         % (out[0], out[1]))
    is_(out[1], out[0], "a compressed session's prepared SHOW STATUS and SESSION_STATUS "
        "query (binary rows) say Compression ON, as directly")

lib.finish(s)
lib.drop_schema(SCHEMA)
lib.drop_user(U.name)
lib.done_testing()
