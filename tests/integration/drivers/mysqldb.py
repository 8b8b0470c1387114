#!/usr/bin/python3
"""drivers.t program for MySQLdb (mysqlclient, Debian python3-mysqldb, over libmariadb):
HOST PORT USER PASSWORD DB DB2. MySQLdb has no server-side prepared statements: its
parameters are escaped into the query text, so the type checks go through COM_QUERY.
Its batch is executemany() (one multi-row INSERT); its reset is ping()."""

import threading
import time

import MySQLdb
import MySQLdb.cursors
from MySQLdb.constants import CLIENT

from pycommon import BIG, DB, DB2, HOST, PASSWORD, PORT, TYPES, USER, check, parallel


def connect(**kw):
    return MySQLdb.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, database=DB,
                           charset="utf8mb4", autocommit=True, connect_timeout=10,
                           read_timeout=60, write_timeout=60, **kw)


c = connect(client_flag=CLIENT.MULTI_STATEMENTS)


def one(sql, args=None, conn=None):
    cur = (conn or c).cursor()
    cur.execute(sql, args)
    row = cur.fetchone()
    cur.close()
    return row[0] if row else None


def do(sql, args=None, conn=None):
    cur = (conn or c).cursor()
    n = cur.execute(sql, args)
    cur.close()
    return n


def errno_of(fn):
    try:
        fn()
    except MySQLdb.Error as e:
        return e.args[0]
    return None


for t in ("types", "big", "tx", "lid", "child", "par", "bat"):
    do("DROP TABLE IF EXISTS " + t)
do("CREATE TABLE types (id INT PRIMARY KEY, %s)" % ", ".join(
    "c_%s %s" % (n, t) for n, t, _, _ in TYPES))
do("CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)")
do("CREATE TABLE tx (id INT PRIMARY KEY)")
do("CREATE TABLE lid (id INT AUTO_INCREMENT PRIMARY KEY, v INT) AUTO_INCREMENT=1000")
do("CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, pid BIGINT)")
do("CREATE TABLE par (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
do("CREATE TABLE bat (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")

do("INSERT INTO types VALUES (1, %s)" % ", ".join(["%s"] * len(TYPES)),
   [v for _, _, v, _ in TYPES])
cur = c.cursor()
cur.execute("SELECT %s FROM types WHERE id = %%s" % ", ".join("c_" + n for n, _, _, _ in TYPES),
            (1,))
row = cur.fetchone()
cur.close()
for (name, _, _, want), got in zip(TYPES, row):
    check("type_" + name, lambda w=want, g=got: None if g == w and type(g) is type(w)
          else "got %r, want %r" % (g, w))


def blob():
    do("INSERT INTO big VALUES (1, %s)", (BIG,))
    got = one("SELECT b FROM big WHERE id = 1")
    return None if got == BIG else "read back %d bytes, differ" % len(got or b"")


check("blob_20mb", blob)


def txn(commit):
    def f():
        k = 1 if commit else 2
        c.autocommit(False)
        do("INSERT INTO tx VALUES (%s)", (k,))
        c.commit() if commit else c.rollback()
        c.autocommit(True)
        o = connect()
        n = one("SELECT COUNT(*) FROM tx WHERE id = %s", (k,), o)
        o.close()
        return None if n == (1 if commit else 0) else "another connection sees %d rows" % n
    return f


check("txn_commit", txn(True))
check("txn_rollback", txn(False))


def err(code, fn):
    def f():
        got = errno_of(fn)
        if got != code:
            return "error %r, want %d" % (got, code)
        return None if one("SELECT 1") == 1 else "connection unusable after"
    return f


check("err_1062", err(1062, lambda: do("INSERT INTO tx VALUES (1)")))
check("err_1064", err(1064, lambda: do("SELEC 1")))


def session_vars():
    do("SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'")
    do("SET SESSION time_zone = '+05:30'")
    for _ in range(3):
        one("SELECT 1")
    cur = c.cursor()
    cur.execute("SELECT @@SESSION.sql_mode, @@SESSION.time_zone")
    got = cur.fetchone()
    cur.close()
    do("SET SESSION sql_mode = DEFAULT")
    do("SET SESSION time_zone = DEFAULT")
    want = ("ANSI_QUOTES,NO_ENGINE_SUBSTITUTION", "+05:30")
    return None if tuple(got) == want else "read back %r" % (got,)


check("session_vars", session_vars)


def use_db():
    do("USE " + DB2)
    a = one("SELECT DATABASE()")
    c.select_db(DB)  # COM_INIT_DB
    b = one("SELECT DATABASE()")
    return None if (a, b) == (DB2, DB) else "DATABASE() %r then %r" % (a, b)


check("use_db", use_db)

# LAST_INSERT_ID on a connection of its own, not pinned by the checks above; between the
# insert and the reads another connection inserts (id 1001) and leaves: its backend
# connection may be the one that runs the next statement.
lc = connect()


def insert_id_api():
    cur = lc.cursor()
    cur.execute("INSERT INTO lid (v) VALUES (1)")
    rid = cur.lastrowid
    cur.close()
    o = connect()
    do("INSERT INTO lid (v) VALUES (2)", conn=o)
    o.close()
    return None if lc.insert_id() == 1000 and rid == 1000 else \
        "insert_id %r lastrowid %r, want 1000" % (lc.insert_id(), rid)


def lid_select():
    cur = lc.cursor()
    cur.execute("SELECT LAST_INSERT_ID()")
    v = cur.fetchone()[0]
    col = cur.description[0][0]
    cur.close()
    return None if (v, col) == (1000, "LAST_INSERT_ID()") else "%r named %r" % (v, col)


def lid_child():
    do("INSERT INTO child (pid) VALUES (LAST_INSERT_ID())", conn=lc)
    v = one("SELECT pid FROM child ORDER BY id DESC LIMIT 1")
    return None if v == 1000 else "child.pid %r, want 1000" % v


check("insert_id_api", insert_id_api)
check("last_insert_id_select", lid_select)
check("last_insert_id_child", lid_child)
lc.close()
check("thread_id_api", lambda: None if c.thread_id() == one("SELECT CONNECTION_ID()") else
      "thread_id() %r, CONNECTION_ID() %r" % (c.thread_id(), one("SELECT CONNECTION_ID()")))


def temp_table():
    do("CREATE TEMPORARY TABLE tmp1 (v INT)")
    do("INSERT INTO tmp1 VALUES (1), (2)")
    one("SELECT 1")
    do("INSERT INTO tmp1 VALUES (3)")
    s = one("SELECT SUM(v) FROM tmp1")
    do("DROP TEMPORARY TABLE tmp1")
    return None if s == 6 else "sum %r, want 6" % s


check("temp_table", temp_table)


def stream():
    cur = c.cursor(MySQLdb.cursors.SSCursor)
    cur.execute("SELECT seq FROM seq_1_to_100000")
    n = s = 0
    for (v,) in cur:
        n += 1
        s += v
    cur.close()
    return None if (n, s) == (100000, 5000050000) else "%d rows, sum %d" % (n, s)


check("stream_100k", stream)


def multi():
    do("CREATE TEMPORARY TABLE ms (v INT)")
    do("INSERT INTO ms VALUES (1)")
    cur = c.cursor()
    cur.execute("SELECT 1; UPDATE ms SET v = v + 1; SELECT 2; SELECT 'x', 2")
    got = [cur.fetchall()]
    while cur.nextset():
        got.append(cur.fetchall() if cur.description else cur.rowcount)
    cur.close()
    do("DROP TEMPORARY TABLE ms")
    want = [((1,),), 1, ((2,),), (("x", 2),)]
    return None if got == want else "got %r" % (got,)


check("multi_statements", multi)


def batch():
    cur = c.cursor()
    n = cur.executemany("INSERT INTO bat (v) VALUES (%s)", [(i,) for i in range(200)])
    cur.close()
    cnt = one("SELECT COUNT(*) FROM bat")
    return None if (n, cnt) == (200, 200) else "affected %r, rows %r" % (n, cnt)


check("batch", batch)


def reset():
    c.ping()
    return None if one("SELECT 1") == 1 else "no SELECT 1 after ping"


check("reset", reset)


def abandon():
    cur = c.cursor(MySQLdb.cursors.SSCursor)
    cur.execute("SELECT seq FROM seq_1_to_100000")
    first = [cur.fetchone() for _ in range(10)]
    cur.close()
    v = one("SELECT 42")
    return None if first[9] == (10,) and v == 42 else "%r then %r" % (first[9], v)


check("abandon_result", abandon)


def kill_query():
    k = connect()
    kid = one("SELECT CONNECTION_ID()", conn=k)
    res = {}

    def sleeper():
        t0 = time.monotonic()
        try:
            res["v"] = one("SELECT SLEEP(10)", conn=k)
        except MySQLdb.Error as e:
            res["v"] = "error %d" % e.args[0]
        res["t"] = time.monotonic() - t0

    th = threading.Thread(target=sleeper, daemon=True)
    th.start()
    time.sleep(0.5)
    o = connect()
    try:
        do("KILL QUERY %d" % kid, conn=o)
    finally:
        o.close()
    th.join(15)
    if th.is_alive():
        return "SLEEP(10) still running"
    if res["t"] > 5:
        return "SLEEP(10) not interrupted (%.1f s, %r)" % (res["t"], res["v"])
    after = one("SELECT 1", conn=k)
    k.close()
    return None if after == 1 else "connection unusable after"


check("kill_query", kill_query)

conns = [connect() for _ in range(16)]


def txn16(t, i):
    k = conns[t]
    do("BEGIN", conn=k)
    do("SET @x = %d" % (t * 1000 + i), conn=k)
    do("INSERT INTO par (v) VALUES (@x)", conn=k)
    do("COMMIT", conn=k)


def par():
    why = parallel(16, 50, txn16)
    if why:
        return why
    n = one("SELECT COUNT(*) FROM par")
    return None if n == 800 else "%d rows, want 800" % n


check("parallel_16x50", par)
import os  # noqa: E402
os._exit(0)  # threads stuck in a hung check must not keep the process
