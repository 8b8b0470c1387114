#!/usr/bin/env python3
# basic.t: what any MySQL client expects of a server, through sluice: the mariadb CLI,
# pymysql result sets, big packets, character sets, transactions, errors, multi-statements,
# the small commands (PING, INIT_DB, STATISTICS, CHANGE_USER, an unknown one), auth
# failures, compression, LOAD DATA LOCAL, a TLS request, and session state that pooling
# must carry or pin.
import hashlib
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, like, ok, skip  # noqa: E402

lib.require_sandbox()

import pymysql  # noqa: E402
from pymysql import _auth  # noqa: E402
from pymysql.constants import CLIENT, COMMAND  # noqa: E402

SCHEMA = lib.create_schema("t_basic")
SCHEMA2 = lib.create_schema("t_basic_b")
U = lib.Account("t_basic", "pw-basic-1", schemas=[SCHEMA, SCHEMA2])
U2 = lib.Account("t_basic2", "pw-basic-2", schemas=[SCHEMA])
s = lib.start_sluice([U, U2], pool_size=4)


def q(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def q1(conn, sql, args=None):
    return q(conn, sql, args)[0][0]


c = s.connect(U)
q(c, "DROP TABLE IF EXISTS t_blob, t_tx, t_ai, t_utf, t_load")

# ---- the mariadb command-line client
r = s.cli(U, "-N", "-B", "-e", "SELECT 1")
is_((r.returncode, r.stdout.strip()), (0, "1"), "mariadb CLI: SELECT 1")
if r.returncode:
    diag(r.stderr)
r = s.cli(U, "-N", "-B", SCHEMA, "-e",
          "SELECT DATABASE(), CURRENT_USER(); SELECT 'two', NULL")
is_(r.stdout.splitlines(), ["%s\t%s@%%" % (SCHEMA, U.name), "two\tNULL"],
    "mariadb CLI: database argument, two statements, NULL")

# ---- result sets
rows = q(c, "SELECT seq, REPEAT('x', seq % 50) FROM seq_1_to_100000")
ok(len(rows) == 100000 and sum(r[0] for r in rows) == 100000 * 100001 // 2
   and all(len(r[1]) == r[0] % 50 for r in rows), "100000-row result set streams intact",
   "got %d rows" % len(rows))
is_(q(c, "SELECT NULL, 1, NULL, '', 'a'"), ((None, 1, None, "", "a"),), "NULL columns")
is_(q(c, "SELECT 1 FROM DUAL WHERE 1 = 0"), (), "empty result set")

# ---- a 20 MiB blob both ways: the query and the row are split into 16 MiB packets
big = os.urandom(20 * 1024 * 1024)
digest = hashlib.sha1(big).hexdigest()
cb = s.connect(U, max_allowed_packet=64 * 1024 * 1024)
q(cb, "CREATE TABLE t_blob (id INT PRIMARY KEY, b LONGBLOB)")
lib.check("20 MiB blob INSERT", lambda: q(cb, "INSERT INTO t_blob VALUES (1, %s)", (big,)) == ())
is_(q(cb, "SELECT LENGTH(b), SHA1(b) FROM t_blob WHERE id = 1"), ((len(big), digest),),
    "20 MiB blob stored intact (server-side SHA1)")
got = q(cb, "SELECT b FROM t_blob WHERE id = 1")
ok(len(got) == 1 and hashlib.sha1(got[0][0]).hexdigest() == digest,
   "20 MiB blob read back intact")
is_(q1(cb, "SELECT LENGTH(REPEAT('z', 16777215 - 5))"), 16777210,
    "a query whose packet is just under 16 MiB")
cb.close()

# ---- utf8mb4
q(c, "CREATE TABLE t_utf (id INT PRIMARY KEY, s VARCHAR(100)) CHARACTER SET utf8mb4")
text = "emoji \U0001F600 \U0001F42C h\u00e9llo \u2713 \u4e2d\u6587"
q(c, "INSERT INTO t_utf VALUES (1, %s)", (text,))
is_(q1(c, "SELECT s FROM t_utf WHERE id = 1"), text, "utf8mb4 round-trip through a table")
is_(q(c, "SELECT '\U0001F42C', CHAR_LENGTH('\U0001F42C')"), (("\U0001F42C", 1),),
    "utf8mb4 literal: one character")

# ---- transactions
q(c, "CREATE TABLE t_tx (id INT PRIMARY KEY) ENGINE=InnoDB")
q(c, "INSERT INTO t_tx VALUES (1)")
c.begin()
q(c, "INSERT INTO t_tx VALUES (2)")
q(c, "INSERT INTO t_tx VALUES (3)")
is_(q1(c, "SELECT COUNT(*) FROM t_tx"), 3, "transaction sees its own rows")
c2 = s.connect(U)
is_(q1(c2, "SELECT COUNT(*) FROM t_tx"), 1, "another client does not see uncommitted rows")
c.rollback()
is_(q1(c, "SELECT COUNT(*) FROM t_tx"), 1, "ROLLBACK undoes the transaction")
c.begin()
q(c, "INSERT INTO t_tx VALUES (4)")
c.commit()
is_(q1(c2, "SELECT COUNT(*) FROM t_tx"), 2, "COMMIT is visible to another client")

# ---- errors
e = lib.error_of(lambda: q(c, "SELECT * FROM no_such_table"))
is_(e and e[0], 1146, "missing table: ER_NO_SUCH_TABLE")
e = lib.error_of(lambda: q(c, "SELEKT 1"))
is_(e and e[0], 1064, "syntax error: ER_PARSE_ERROR")
is_(q1(c, "SELECT 1"), 1, "the session works after errors")

# ---- affected rows and LAST_INSERT_ID
q(c, "CREATE TABLE t_ai (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
with c.cursor() as cur:
    is_(cur.execute("INSERT INTO t_ai (v) VALUES (1), (2), (3)"), 3, "INSERT: 3 affected rows")
    is_(cur.execute("UPDATE t_ai SET v = v + 10 WHERE v >= 2"), 2, "UPDATE: 2 affected rows")
    is_(cur.execute("UPDATE t_ai SET v = v WHERE v >= 2"), 0, "UPDATE, no change: 0 affected")
    cur.execute("INSERT INTO t_ai (v) VALUES (99)")
    last = cur.lastrowid
    is_(last, 4, "OK packet carries the insert id")
    cur.execute("SELECT LAST_INSERT_ID()")
    is_(cur.fetchone()[0], last, "SELECT LAST_INSERT_ID() after INSERT")
    is_(cur.execute("DELETE FROM t_ai"), 4, "DELETE: 4 affected rows")

# ---- multi-statements
cm = s.connect(U, client_flag=CLIENT.MULTI_STATEMENTS)
sets = []
with cm.cursor() as cur:
    cur.execute("SELECT 1; SELECT 2, 3; UPDATE t_ai SET v = 0 WHERE 1 = 0; SELECT 'a' UNION SELECT 'b'")
    while True:
        sets.append(cur.fetchall())
        if not cur.nextset():
            break
is_(sets, [((1,),), ((2, 3),), (), (("a",), ("b",))], "multi-statement: four results in order")
e = lib.error_of(lambda: q(cm, "SELECT 1; SELECT * FROM no_such_table; SELECT 3"))
is_(e and e[0], 1146, "multi-statement stopped by an error in the middle")
is_(q1(cm, "SELECT 4"), 4, "session works after a failed multi-statement")
cm.close()

# ---- COM_PING, COM_INIT_DB
lib.check("COM_PING", lambda: c.ping(reconnect=False) is None)
c.select_db(SCHEMA2)
is_([q1(c, "SELECT DATABASE()") for _ in range(20)], [SCHEMA2] * 20,
    "COM_INIT_DB: schema sticks for the following 20 queries")
e = lib.error_of(lambda: c.select_db("t_basic_no_such_db"))
ok(e is not None and e[0] in (1044, 1049), "COM_INIT_DB of a missing schema: 1044 or 1049",
   "got %r" % (e,))
e = lib.error_of(lambda: c.select_db("mysql"))
ok(e is not None and e[0] in (1044, 1045), "COM_INIT_DB of a schema without grants: denied",
   "got %r" % (e,))
is_(q1(c, "SELECT DATABASE()"), SCHEMA2, "failed COM_INIT_DB keeps the old schema")
c.select_db(SCHEMA)

# ---- session state that pooling must replay or pin, and must not leak
cs = s.connect(U)
q(cs, "SET @v = 42")
is_([q1(cs, "SELECT @v") for _ in range(20)], [42] * 20, "user variable survives 20 queries")
q(cs, "CREATE TEMPORARY TABLE tmp_basic (x INT)")
q(cs, "INSERT INTO tmp_basic VALUES (7)")
is_([q1(cs, "SELECT x FROM tmp_basic") for _ in range(10)], [7] * 10,
    "temporary table survives 10 queries")
q(cs, "SET SESSION sql_mode = 'ANSI_QUOTES'")
is_({q1(cs, "SELECT @@SESSION.sql_mode") for _ in range(20)}, {"ANSI_QUOTES"},
    "SET SESSION sql_mode is kept")
q(cs, "SET NAMES latin1")
is_({q1(cs, "SELECT @@character_set_client") for _ in range(20)}, {"latin1"},
    "SET NAMES is kept")
cs.close()
# One after the other: reading @v may pin a client, and 6 pinned clients at once would
# wait for a pool of 4.
leaks = set()
for _ in range(6):
    o = s.connect(U2)
    for _ in range(5):
        leaks.add((q1(o, "SELECT @@SESSION.sql_mode") == "ANSI_QUOTES",
                   q1(o, "SELECT CURRENT_USER()"), q1(o, "SELECT @v")))
    o.close()
is_(leaks, {(False, U2.name + "@%", None)},
    "no user variable, sql_mode or identity leaks to other clients")
ca = s.connect(U, autocommit=False)
q(ca, "INSERT INTO t_tx VALUES (10)")
is_(q1(c2, "SELECT COUNT(*) FROM t_tx WHERE id = 10"), 0, "autocommit=0: row not yet visible")
ca.rollback()
is_(q1(ca, "SELECT COUNT(*) FROM t_tx WHERE id = 10"), 0, "autocommit=0: ROLLBACK undoes it")
is_(q1(ca, "SELECT @@autocommit"), 0, "autocommit=0 is kept")
ca.close()


# ---- authentication failures
def denied(user, password):
    try:
        s.connect(lib.Account(user, password)).close()
    except pymysql.err.OperationalError as e:
        return e.args
    return None


e = denied(U.name, "wrong-password")
ok(e is not None and e[0] == 1045 and
   re.fullmatch(r"Access denied for user '%s'@'[^']+' \(using password: YES\)" % U.name, e[1]),
   "wrong password: 1045, MySQL's message", "got %r" % (e,))
e = denied("t_basic_nobody", "x")
ok(e is not None and e[0] == 1045 and
   re.fullmatch(r"Access denied for user 't_basic_nobody'@'[^']+' \(using password: YES\)", e[1]),
   "unknown user: 1045, MySQL's message", "got %r" % (e,))
e = denied(U.name, "")
ok(e is not None and e[0] == 1045 and e[1].endswith("(using password: NO)"),
   "empty password: 1045 ... (using password: NO)", "got %r" % (e,))
r = s.cli(lib.Account(U.name, "wrong"), "-e", "SELECT 1")
ok(r.returncode != 0 and "ERROR 1045" in r.stderr, "mariadb CLI, wrong password: ERROR 1045",
   r.stderr)

# ---- compression: sluice either supports it or does not offer it; both must work
r = s.cli(U, "--compress", "-N", "-B", "-e", "SELECT REPEAT('ab', 100000), 42")
ok(r.returncode == 0 and r.stdout.strip() == "ab" * 100000 + "\t42",
   "mariadb CLI --compress: 200 kB result", (r.returncode, r.stderr))

# ---- LOAD DATA LOCAL INFILE
q(c, "CREATE TABLE t_load (a INT, b VARCHAR(20))")
with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    for i in range(1, 5001):
        f.write("%d,row %d\n" % (i, i))
    path = f.name
cl = s.connect(U, local_infile=True)
try:
    with cl.cursor() as cur:
        n = cur.execute("LOAD DATA LOCAL INFILE %s INTO TABLE t_load FIELDS TERMINATED BY ','",
                        (path,))
    is_(n, 5000, "LOAD DATA LOCAL INFILE: 5000 rows affected")
except pymysql.err.MySQLError as e:
    ok(False, "LOAD DATA LOCAL INFILE: 5000 rows affected", repr(e))
is_(q(cl, "SELECT COUNT(*), SUM(a), MAX(b) FROM t_load"), ((5000, 5000 * 5001 // 2, "row 999"),),
    "LOAD DATA LOCAL INFILE: rows intact")
is_(q1(cl, "SELECT 1"), 1, "session works after LOAD DATA LOCAL")
cl.close()
os.unlink(path)


# ---- a TLS request gets an answer, not a hang
def read_packet(sock):
    hdr = b""
    while len(hdr) < 4:
        chunk = sock.recv(4 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    n = hdr[0] | hdr[1] << 8 | hdr[2] << 16
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return body


def tls_request_outcome():
    """Send an SSLRequest and a TLS ClientHello whether or not the server offered TLS;
    return what came back within 15 s."""
    sock = socket.create_connection((s.host, s.port), timeout=15)
    try:
        greeting = read_packet(sock)
        if not greeting or greeting[0] != 10:
            return "bad greeting %r" % (greeting[:16] if greeting else greeting)
        caps = (CLIENT.LONG_PASSWORD | CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION |
                CLIENT.SSL | CLIENT.PLUGIN_AUTH)
        body = struct.pack("<IIB23x", caps, 16 * 1024 * 1024, 45)
        sock.sendall(struct.pack("<I", len(body))[:3] + b"\x01" + body)
        hello = b"\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03" + os.urandom(32) + b"\x00\x00\x02\x00\x2f\x01\x00"
        try:
            sock.sendall(hello)
            data = sock.recv(4096)
        except ConnectionResetError:
            return "closed"
        if not data:
            return "closed"
        if data[:1] == b"\x16":
            return "tls"
        if len(data) > 4 and data[4] == 0xFF:
            return "error %d" % (data[5] | data[6] << 8)
        return "unexpected %r" % data[:16]
    except socket.timeout:
        return "timeout"
    finally:
        sock.close()


out = tls_request_outcome()
ok(out in ("closed", "tls") or out.startswith("error "),
   "SSLRequest + ClientHello: refused or answered within 15 s", "got %s" % out)
try:
    r = s.cli(U, "--ssl", "-N", "-B", "-e", "SELECT 1", timeout=20)
    ok((r.returncode == 0 and r.stdout.strip() == "1") or
       (r.returncode != 0 and r.stderr.strip() != ""),
       "mariadb CLI --ssl: works or fails cleanly", (r.returncode, r.stdout, r.stderr))
    diag("mariadb --ssl: exit %d %s" % (r.returncode, r.stderr.strip()))
except subprocess.TimeoutExpired:
    ok(False, "mariadb CLI --ssl: works or fails cleanly", "hung for 20 s")
try:
    ct = s.connect(U, ssl={"fake_flag_to_enable_tls": True}, connect_timeout=15,
                   read_timeout=15)
    is_(q1(ct, "SELECT 1"), 1, "pymysql ssl=...: works (TLS or plain) or fails cleanly")
    ct.close()
except pymysql.err.MySQLError as e:
    ok(not isinstance(e, pymysql.err.OperationalError) or "timed out" not in str(e),
       "pymysql ssl=...: works (TLS or plain) or fails cleanly", repr(e))


# ---- COM_CHANGE_USER (pymysql has no API for it: built from its internals; MariaDB and a
# sluice that re-scrambles answer with an AuthSwitchRequest)
def change_user(conn, acct, password, db):
    payload = (acct.encode() + b"\0" + bytes([20]) +
               _auth.scramble_native_password(password.encode(), conn.salt) +
               db.encode() + b"\0" + struct.pack("<H", 45) + b"mysql_native_password\0")
    if conn.server_capabilities & CLIENT.CONNECT_ATTRS and conn.client_flag & CLIENT.CONNECT_ATTRS:
        payload += b"\0"
    conn._execute_command(COMMAND.COM_CHANGE_USER, payload)
    p = conn._read_packet()
    if p.is_auth_switch_request():
        data = p.get_all_data()
        plugin, _, salt = data[1:].partition(b"\0")
        if plugin != b"mysql_native_password":
            raise RuntimeError("auth switch to %r" % plugin)
        conn.write_packet(_auth.scramble_native_password(password.encode(), salt.rstrip(b"\0")))
        p = conn._read_packet()
    return p.is_ok_packet()


cc = s.connect(U)
q(cc, "SET @left_over = 1")
lib.check("COM_CHANGE_USER to another account", lambda: change_user(cc, U2.name, U2.password, SCHEMA))
is_(q(cc, "SELECT CURRENT_USER(), DATABASE(), @left_over"), ((U2.name + "@%", SCHEMA, None),),
    "after COM_CHANGE_USER: new identity and schema, session reset")
try:
    e = lib.error_of(lambda: change_user(cc, U.name, "wrong-password", SCHEMA))
    is_(e and e[0], 1045, "COM_CHANGE_USER with a wrong password: 1045")
except Exception as ex:  # noqa: BLE001
    ok(False, "COM_CHANGE_USER with a wrong password: 1045", repr(ex))
cc.close()

# ---- COM_STATISTICS
r = s.cli(U, "status", binary="mariadb-admin")
like(r.stdout, r"Uptime: \d+", "mariadb-admin status (COM_STATISTICS)")
cx = s.connect(U)
cx._execute_command(COMMAND.COM_STATISTICS, b"")
like(cx._read_packet().get_all_data().decode("ascii", "replace"), r"^Uptime: \d+",
     "COM_STATISTICS from pymysql")
is_(q1(cx, "SELECT 1"), 1, "session works after COM_STATISTICS")

# ---- an unknown command
cx._execute_command(0x60, b"")
e = lib.error_of(lambda: cx._read_packet())
is_(e and e[0], 1047, "command 0x60: ER_UNKNOWN_COM_ERROR")
is_(q1(cx, "SELECT 1"), 1, "session works after an unknown command")
cx.close()

# ---- the gateway survived all of it
is_(q1(c, "SELECT 1"), 1, "the first connection still works")
c.close()
c2.close()
lib.finish(s)
lib.done_testing()
