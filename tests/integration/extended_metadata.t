#!/usr/bin/env python3
# extended_metadata.t (issue 12, symptom 9): MariaDB's extended column metadata.
# A MariaDB client (libmariadb, the mariadb CLI) asks for MARIADB_CLIENT_EXTENDED_METADATA
# and learns from each column definition that a JSON column has format=json and that an
# INET6 or UUID column has that type name. sluice must pass this on as MariaDB sends it -
# in text results, a prepared statement's metadata, its execute's results and
# COM_FIELD_LIST - while clients that did not ask for it (pymysql, mysqlnd, ...) read
# column definitions without the extra field, from the same pooled backend connections.
# Also: result sets sluice answers itself carry the field for clients that asked.
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()

SCHEMA = lib.create_schema("t_extmeta")
U = lib.Account("t_extmeta_u", "pw-extmeta", schemas=[SCHEMA])
lib.root_sql("DROP TABLE IF EXISTS `%s`.tj" % SCHEMA)
lib.root_sql("CREATE TABLE `%s`.tj (j JSON, i INET6, u UUID, p POINT)" % SCHEMA)
lib.root_sql("INSERT INTO `%s`.tj VALUES ('{\"a\": 1}', '::1', "
             "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', POINT(1, 2)), "
             "('[2]', '::ffff:10.0.0.1', '00000000-0000-0000-0000-000000000001', NULL)" % SCHEMA)

prog = os.path.join(os.path.dirname(os.environ.get("SLUICE_BIN", "./sluice")),
                    "tests", "integration", "extmeta")
if not os.path.exists(prog):
    lib.bail_out("%s is missing: build it with make check" % prog)

s = lib.start_sluice([U], pool_size=4)


def extmeta(host, port):
    r = subprocess.run([prog, host, str(port), U.name, U.password, SCHEMA, "tj"],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout.splitlines(), r.stderr.strip()


def cli(host, port, sql, *opts):
    r = subprocess.run(["mariadb", "--no-defaults", "-h", host, "-P", str(port), "-u", U.name,
                        "-p" + U.password, "-D", SCHEMA] + list(opts) + ["-e", sql],
                       capture_output=True, text=True, timeout=30)
    return (r.returncode, r.stdout.strip(), r.stderr.strip())


def pymysql_view(host, port):
    """What a client without extended metadata reads: values and column descriptions."""
    import pymysql
    c = pymysql.connect(host=host, port=port, user=U.name, password=U.password,
                        database=SCHEMA, connect_timeout=10, read_timeout=30, autocommit=True)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT j, i, u FROM tj ORDER BY i")
            rows = cur.fetchall()
            desc = cur.description
            cur.execute("SELECT 'in step'")
            last = cur.fetchone()
        return rows, desc, last
    finally:
        c.close()


want = extmeta(lib.MARIADB_HOST, lib.MARIADB_PORT)
ok(want[0] == 0 and any("format 'json'" in line for line in want[1]) and
   any("type_name 'inet6'" in line for line in want[1]),
   "directly: libmariadb sees format=json and type inet6", lambda: "%r" % (want,))
# Twice through sluice: the second run's statements may run on other connections.
for run in (1, 2):
    got = extmeta(s.host, s.port)
    is_(got, want, "libmariadb through sluice (run %d): every column definition, "
        "extended type info included, as MariaDB sends it" % run)
diag("through sluice:\n" + "\n".join(line for line in got[1] if line.startswith("query:")))

sql = "SELECT j, i, u FROM tj ORDER BY i"
want = cli(lib.MARIADB_HOST, lib.MARIADB_PORT, sql, "--column-type-info", "-t")
got = cli(s.host, s.port, sql, "--column-type-info", "-t")
is_(got, want, "mariadb --column-type-info: (format=json), (type=inet6), (type=uuid) as "
    "directly")
diag("through sluice: " + " / ".join(line for line in got[1].splitlines()
                                     if line.startswith("Type:")))

# Clients without the capability read the same pooled connections' answers.
want = pymysql_view(lib.MARIADB_HOST, lib.MARIADB_PORT)
for run in (1, 2):
    is_(pymysql_view(s.host, s.port), want,
        "pymysql (no extended metadata, run %d): the same rows and column descriptions" % run)



def wide_view(host, port, ncols):
    """A result of ncols columns (their definitions fill several socket reads) through
    pymysql: descriptions and the row."""
    import pymysql
    sql = "SELECT " + ", ".join("%s AS c%d" % ("ji"[k % 2], k) for k in range(ncols)) + \
        " FROM tj ORDER BY i LIMIT 1"
    c = pymysql.connect(host=host, port=port, user=U.name, password=U.password,
                        database=SCHEMA, connect_timeout=10, read_timeout=30, autocommit=True)
    try:
        with c.cursor() as cur:
            cur.execute(sql)
            return cur.description, cur.fetchall()
    finally:
        c.close()


for ncols in (40, 1500):
    is_(wide_view(s.host, s.port, ncols), wide_view(lib.MARIADB_HOST, lib.MARIADB_PORT, ncols),
        "pymysql: %d column definitions without the extended field, as directly" % ncols)

# Answers sluice builds itself carry the extended field for a client that asked for it.
for sql in ("SELECT LAST_INSERT_ID()", "SELECT CONNECTION_ID() > 0"):
    want = cli(lib.MARIADB_HOST, lib.MARIADB_PORT, sql, "-N", "-B")
    got = cli(s.host, s.port, sql, "-N", "-B")
    is_(got, want, "mariadb -e \"%s\": read as directly" % sql)

lib.finish(s)
lib.drop_schema(SCHEMA)
lib.drop_user(U.name)
lib.done_testing()
