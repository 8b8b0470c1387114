#!/usr/bin/python3
"""drivers.t program for SQLAlchemy over PyMySQL (Debian python3-sqlalchemy,
python3-pymysql): HOST PORT USER PASSWORD DB DB2. PyMySQL has no server-side prepared
statements: parameters are escaped into the query text. SQLAlchemy's pool (16 + 4) holds
the connections; the 16 x 50 check runs its transactions as SQLAlchemy does (autocommit
off, COMMIT at the end of each `with k.begin()`); the batch is an executemany (one
multi-row INSERT); the multi-statement check uses the DBAPI cursor (SQLAlchemy has no
API for several result sets); reset is the pool's reset on return plus pool_pre_ping."""

import os
import threading
import time

import pymysql
import sqlalchemy as sa
from pymysql.constants import CLIENT
from sqlalchemy import text

from pycommon import BIG, DB, DB2, HOST, PASSWORD, PORT, TYPES, USER, check, parallel

URL = "mysql+pymysql://%s:%s@%s:%d/%s?charset=utf8mb4" % (USER, PASSWORD, HOST, PORT, DB)
engine = sa.create_engine(URL, pool_size=16, max_overflow=4, pool_pre_ping=True,
                          connect_args=dict(connect_timeout=10, read_timeout=60,
                                            write_timeout=60,
                                            client_flag=CLIENT.MULTI_STATEMENTS))
c = engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def one(sql, args=None, conn=None):
    return (conn or c).execute(text(sql), args or {}).scalar()


def do(sql, args=None, conn=None):
    return (conn or c).execute(text(sql), args or {})


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

do("INSERT INTO types VALUES (1, %s)" % ", ".join(":" + n for n, _, _, _ in TYPES),
   {n: v for n, _, v, _ in TYPES})
row = do("SELECT %s FROM types WHERE id = :id" % ", ".join("c_" + n for n, _, _, _ in TYPES),
         {"id": 1}).fetchone()
for (name, _, _, want), got in zip(TYPES, row):
    check("type_" + name, lambda w=want, g=got: None if g == w and type(g) is type(w)
          else "got %r, want %r" % (g, w))


def blob():
    do("INSERT INTO big VALUES (1, :b)", {"b": BIG})
    got = one("SELECT b FROM big WHERE id = 1")
    return None if got == BIG else "read back %d bytes, differ" % len(got or b"")


check("blob_20mb", blob)


def txn(commit):
    def f():
        k = 1 if commit else 2
        with engine.connect() as t:
            tr = t.begin()
            t.execute(text("INSERT INTO tx VALUES (:k)"), {"k": k})
            tr.commit() if commit else tr.rollback()
        with engine.connect() as o:
            n = one("SELECT COUNT(*) FROM tx WHERE id = :k", {"k": k}, o)
        return None if n == (1 if commit else 0) else "another connection sees %d rows" % n
    return f


check("txn_commit", txn(True))
check("txn_rollback", txn(False))


def err(code, sql):
    def f():
        try:
            do(sql)
            got = None
        except sa.exc.DBAPIError as e:
            got = e.orig.args[0]
        if got != code:
            return "error %r, want %d" % (got, code)
        return None if one("SELECT 1") == 1 else "connection unusable after"
    return f


check("err_1062", err(1062, "INSERT INTO tx VALUES (1)"))
check("err_1064", err(1064, "SELEC 1"))


def session_vars():
    do("SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'")
    do("SET SESSION time_zone = '+05:30'")
    for _ in range(3):
        one("SELECT 1")
    got = tuple(do("SELECT @@SESSION.sql_mode, @@SESSION.time_zone").fetchone())
    do("SET SESSION sql_mode = DEFAULT")
    do("SET SESSION time_zone = DEFAULT")
    want = ("ANSI_QUOTES,NO_ENGINE_SUBSTITUTION", "+05:30")
    return None if got == want else "read back %r" % (got,)


check("session_vars", session_vars)


def use_db():
    do("USE " + DB2)
    a = one("SELECT DATABASE()")
    do("USE " + DB)
    b = one("SELECT DATABASE()")
    return None if (a, b) == (DB2, DB) else "DATABASE() %r then %r" % (a, b)


check("use_db", use_db)


# LAST_INSERT_ID on a connection of its own, not pinned by the checks above; between the
# insert and the reads another connection inserts (id 1001) and goes back to the pool.
lc = engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def insert_id_api():
    r = do("INSERT INTO lid (v) VALUES (:v)", {"v": 1}, lc)
    with engine.begin() as o:
        o.execute(text("INSERT INTO lid (v) VALUES (2)"))
    return None if r.lastrowid == 1000 else "lastrowid %r, want 1000" % r.lastrowid


def lid_select():
    r = do("SELECT LAST_INSERT_ID()", conn=lc)
    col = list(r.keys())[0]
    v = r.scalar()
    return None if (v, col) == (1000, "LAST_INSERT_ID()") else "%r named %r" % (v, col)


def lid_child():
    do("INSERT INTO child (pid) VALUES (LAST_INSERT_ID())", conn=lc)
    v = one("SELECT pid FROM child ORDER BY id DESC LIMIT 1")
    return None if v == 1000 else "child.pid %r, want 1000" % v


check("insert_id_api", insert_id_api)
check("last_insert_id_select", lid_select)
check("last_insert_id_child", lid_child)
lc.close()


def thread_id():
    a = c.connection.dbapi_connection.thread_id()
    b = one("SELECT CONNECTION_ID()")
    return None if a == b else "thread_id() %r, CONNECTION_ID() %r" % (a, b)


check("thread_id_api", thread_id)


def temp_table():
    do("CREATE TEMPORARY TABLE tmp1 (v INT)")
    do("INSERT INTO tmp1 VALUES (:a), (:b)", {"a": 1, "b": 2})
    one("SELECT 1")
    do("INSERT INTO tmp1 VALUES (3)")
    s = one("SELECT SUM(v) FROM tmp1")
    do("DROP TEMPORARY TABLE tmp1")
    return None if s == 6 else "sum %r, want 6" % s


check("temp_table", temp_table)


def stream():
    r = c.execution_options(stream_results=True).execute(text("SELECT seq FROM seq_1_to_100000"))
    n = s = 0
    for (v,) in r:
        n += 1
        s += v
    return None if (n, s) == (100000, 5000050000) else "%d rows, sum %d" % (n, s)


check("stream_100k", stream)


def multi():
    do("CREATE TEMPORARY TABLE ms (v INT)")
    do("INSERT INTO ms VALUES (1)")
    cur = c.connection.dbapi_connection.cursor()
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
    r = do("INSERT INTO bat (v) VALUES (:v)", [{"v": i} for i in range(200)])
    cnt = one("SELECT COUNT(*) FROM bat")
    return None if (r.rowcount, cnt) == (200, 200) else "rowcount %r, rows %r" % (r.rowcount, cnt)


check("batch", batch)


def reset():
    with engine.connect() as k:
        k.execute(text("SET @gone = 1"))
    # Back in the pool: rolled back; out again: pinged (pool_pre_ping).
    with engine.connect() as k:
        v = k.execute(text("SELECT 1")).scalar()
    return None if v == 1 else "SELECT 1 gave %r" % v


check("reset", reset)


def abandon():
    r = c.execution_options(stream_results=True).execute(text("SELECT seq FROM seq_1_to_100000"))
    first = [r.fetchone() for _ in range(10)]
    r.close()
    v = one("SELECT 42")
    return None if tuple(first[9]) == (10,) and v == 42 else "%r then %r" % (first[9], v)


check("abandon_result", abandon)


def kill_query():
    k = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    kid = one("SELECT CONNECTION_ID()", conn=k)
    res = {}

    def sleeper():
        t0 = time.monotonic()
        try:
            res["v"] = one("SELECT SLEEP(10)", conn=k)
        except sa.exc.DBAPIError as e:
            res["v"] = "error %r" % (e.orig.args[0],)
        res["t"] = time.monotonic() - t0

    th = threading.Thread(target=sleeper, daemon=True)
    th.start()
    time.sleep(0.5)
    o = pymysql.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, database=DB,
                        connect_timeout=10, read_timeout=60)
    try:
        o.cursor().execute("KILL QUERY %d" % kid)
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

# Checked out by the 16 workers until all are done, as an application's threads would.
conns = {}
conns_lock = threading.Lock()


def txn16(t, i):
    with conns_lock:
        if t not in conns:
            conns[t] = None
    if conns[t] is None:
        conns[t] = engine.connect()
    k = conns[t]
    with k.begin():
        k.execute(text("SET @x = :x"), {"x": t * 1000 + i})
        k.execute(text("INSERT INTO par (v) VALUES (@x)"))


def par():
    why = parallel(16, 50, txn16)
    if why:
        return why
    n = one("SELECT COUNT(*) FROM par")
    return None if n == 800 else "%d rows, want 800" % n


check("parallel_16x50", par)
os._exit(0)  # threads stuck in a hung check must not keep the process
