#!/usr/bin/env python3
# session.t: pooling that applications cannot tell apart from a direct connection.
# 200 parallel short sessions on a pool of 4, each with its own schema, time_zone,
# sql_mode and character set (replayed onto whichever backend connection runs the next
# statement), a quarter of them also with a user variable (carried) and a temporary table
# (pinned);
# every read must see exactly its own state. Then the same run with replay and pinning
# switched off (--unsafe-no-replay) must see other sessions' state: the test can fail.
# Also: transactions keep their connection, a client vanishing inside a transaction
# leaves nothing behind, and SELECT LAST_INSERT_ID() answers the client's own insert.
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()

S1 = lib.create_schema("t_sess1")
S2 = lib.create_schema("t_sess2")
A = lib.Account("t_sess_a", "pw-sess-a", schemas=[S1, S2])
B = lib.Account("t_sess_b", "pw-sess-b", schemas=[S1])

ZONES = ["+00:00", "+01:00", "+02:00", "-03:00", "+05:30", "-07:00"]
MODES = ["ANSI_QUOTES", "NO_ZERO_DATE", "STRICT_TRANS_TABLES", "PIPES_AS_CONCAT",
         "NO_BACKSLASH_ESCAPES", "IGNORE_SPACE"]
CHARSETS = ["utf8mb4", "latin1"]


def session(s, i, reads, quiet=False):
    """One client session; returns the number of reads that saw someone else's state."""
    schema = S1 if i % 2 else S2
    zone = ZONES[i % len(ZONES)]
    mode = MODES[i % len(MODES)]
    cs = CHARSETS[(i // 2) % 2]
    pinned = i % 4 == 0
    c = s.connect(A, database=schema, charset=cs)
    bad = 0
    try:
        cur = c.cursor()
        cur.execute("SET time_zone = %s", (zone,))
        cur.execute("SET SESSION sql_mode = %s", (mode,))
        if pinned:
            cur.execute("SET @mine = %s", (i,))
            cur.execute("CREATE TEMPORARY TABLE tmp_sess (v INT)")
            cur.execute("INSERT INTO tmp_sess VALUES (%s)", (i,))
        for _ in range(reads):
            cur.execute("SELECT DATABASE(), @@time_zone, @@sql_mode, @@character_set_client, "
                        "@mine")
            db, tz, sm, csc, mine = cur.fetchone()
            want_mine = i if pinned else None
            got_mine = None if mine is None else int(mine)
            if (db, tz, sm, csc) != (schema, zone, mode, cs) or got_mine != want_mine:
                bad += 1
            if pinned:
                cur.execute("SELECT v FROM tmp_sess")
                if cur.fetchone() != (i,):
                    bad += 1
    except Exception as e:  # a missing temporary table is a wrong read too
        if not quiet:
            diag("session %d: %s" % (i, e))
        bad += 1
    finally:
        c.close()
    return bad


def run_sessions(s, n=200, reads=10, quiet=False):
    with ThreadPoolExecutor(max_workers=50) as ex:
        results = list(ex.map(lambda i: session(s, i, reads, quiet), range(n)))
    return sum(results), sum(1 for r in results if r)


s = lib.start_sluice([A, B], pool_size=4)
bad, sessions = run_sessions(s)
ok(bad == 0, "200 parallel sessions on 4 backend connections each saw only their own "
   "schema, time_zone, sql_mode, charset, user variable and temporary table",
   "%d wrong reads in %d sessions" % (bad, sessions))

# ---- transactions
c0 = s.connect(A)
cur0 = c0.cursor()
cur0.execute("CREATE TABLE IF NOT EXISTS acct (id INT PRIMARY KEY, n INT) ENGINE=InnoDB")
cur0.execute("DELETE FROM acct")
cur0.executemany("INSERT INTO acct VALUES (%s, 0)", [(k,) for k in range(20)])


def txn(i):
    c = s.connect(A)
    try:
        cur = c.cursor()
        for j in range(5):
            cur.execute("BEGIN")
            cur.execute("UPDATE acct SET n = n + 1 WHERE id = %s", ((i + j) % 20,))
            cur.execute("SELECT n FROM acct WHERE id = %s", ((i + j) % 20,))
            cur.fetchone()
            cur.execute("ROLLBACK" if j % 2 else "COMMIT")
    finally:
        c.close()


with ThreadPoolExecutor(max_workers=16) as ex:
    list(ex.map(txn, range(40)))
cur0.execute("SELECT SUM(n) FROM acct")
is_(int(cur0.fetchone()[0]), 40 * 3, "interleaved BEGIN/UPDATE/COMMIT/ROLLBACK of 40 clients "
    "leave exactly the committed updates")

# autocommit=0 keeps its transaction on one connection
c1 = s.connect(A, autocommit=False)
cur1 = c1.cursor()
cur1.execute("UPDATE acct SET n = n + 100 WHERE id = 0")
for _ in range(10):
    cur0.execute("SELECT n FROM acct WHERE id = 0")
cur1.execute("SELECT n FROM acct WHERE id = 0")
own = int(cur1.fetchone()[0])
cur0.execute("SELECT n FROM acct WHERE id = 0")
other = int(cur0.fetchone()[0])
ok(own == other + 100, "autocommit=0: the session sees its own uncommitted update, others "
   "do not", "own %d other %d" % (own, other))
c1.rollback()
cur1.execute("SELECT n FROM acct WHERE id = 0")
is_(int(cur1.fetchone()[0]), other, "autocommit=0: ROLLBACK undoes it")
c1.close()

# a client that vanishes inside a transaction leaves nothing behind
c2 = s.connect(A)
cur2 = c2.cursor()
cur2.execute("BEGIN")
cur2.execute("UPDATE acct SET n = n + 1000 WHERE id = 1")
c2._sock.shutdown(socket.SHUT_RDWR)  # gone: no COM_QUIT, no ROLLBACK
c2._sock.close()
cur0.execute("SET SESSION innodb_lock_wait_timeout = 10")


def row1_free():
    try:
        cur0.execute("UPDATE acct SET n = n WHERE id = 1")
        return True
    except Exception:
        return False


ok(lib.wait_until(row1_free, 15), "a client gone inside a transaction: its row lock is "
   "released")
cur0.execute("SELECT n FROM acct WHERE id = 1")
ok(int(cur0.fetchone()[0]) < 1000, "a client gone inside a transaction: its update is rolled "
   "back")

# SELECT LAST_INSERT_ID() answers the client's own insert, whatever ran since
cur0.execute("CREATE TABLE IF NOT EXISTS ai (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
ids = {}


def inserter(i):
    c = s.connect(A)
    try:
        cur = c.cursor()
        cur.execute("INSERT INTO ai (v) VALUES (%s)", (i,))
        expect = cur.lastrowid
        for _ in range(5):
            cur.execute("SELECT 1")
        cur.execute("SELECT LAST_INSERT_ID()")
        ids[i] = (expect, int(cur.fetchone()[0]))
    finally:
        c.close()


with ThreadPoolExecutor(max_workers=20) as ex:
    list(ex.map(inserter, range(60)))
wrong = [k for k, (e, g) in ids.items() if e != g]
ok(len(ids) == 60 and not wrong, "SELECT LAST_INSERT_ID() returns each client's own id",
   "wrong for %s" % wrong[:5])
# CONNECTION_ID() and KILL: ids are sluice's; KILL stops the target's own statement only
ca = s.connect(A)
cura = ca.cursor()
cura.execute("SELECT CONNECTION_ID()")
aid = int(cura.fetchone()[0])
is_(aid, ca.thread_id(), "CONNECTION_ID() is the id in the client's greeting")
res = {}


def sleeper():
    try:
        cura.execute("SELECT SLEEP(20)")
        res["rows"] = cura.fetchall()
    except Exception as e:
        res["err"] = e.args[0] if e.args else e


t = threading.Thread(target=sleeper)
t0 = time.monotonic()
t.start()
lib.wait_until(lambda: any(r[7] and "SLEEP(20)" in r[7] for r in lib.root_sql(
    "SELECT * FROM information_schema.PROCESSLIST")), 5)
cur0.execute("KILL QUERY %d" % aid)
t.join(25)
took = time.monotonic() - t0
ok(res.get("err") == 1317 and took < 10, "KILL QUERY <CONNECTION_ID()> from another session "
   "of the account stops that statement (ERR 1317)", "got %r after %.1f s" % (res, took))
cura.execute("SELECT 7")
is_(cura.fetchone(), (7,), "the killed client's session goes on")
cb_ = s.connect(B)
e = lib.error_of(lambda: cb_.cursor().execute("KILL QUERY %d" % aid))
is_(e and e[0], 1094, "KILL of another account's client: ERR 1094, as unknown (isolation)")
e = lib.error_of(lambda: cur0.execute("KILL QUERY 4000000000"))
is_(e and e[0], 1094, "KILL of an unknown id: ERR 1094")
cb_.close()
ca.close()
c0.close()
lib.finish(s)

# ---- what pins and what does not (the pinned gauge of /v1/stats)
# Replayable state (variables, schema, character set) must leave the client free to run
# on any connection; state that cannot be replayed pins it.
if lib.TEST_ADDR is None:
    import qoslib  # noqa: E402  (the admin API helpers)

    sq = lib.start_sluice([A], pool_size=2)
    # A procedure that sets a user variable and a system variable: its OK reports the
    # system variable only, so the user variable must pin.
    lib.root_sql("DROP PROCEDURE IF EXISTS `%s`.set_u" % S1)
    lib.root_sql("CREATE PROCEDURE `%s`.set_u() BEGIN SET @u = 42; "
                 "SET SESSION sql_mode = 'ANSI_QUOTES'; END" % S1)
    for sql, pins in (("SET time_zone = '+03:00'", False),
                      ("SET SESSION sql_mode = 'ANSI_QUOTES'", False),
                      ("SET autocommit = 0", False),
                      ("SET NAMES latin1", False),
                      ("USE `%s`" % S2, False),
                      ("SET SESSION wait_timeout = 600, time_zone = '-02:00'", False),
                      # user variables are read back and replayed (carry.t)...
                      ("SET @mine = 1", False),
                      ("SELECT @m2 := 2, LAST_INSERT_ID(5)", False),
                      # ... but not a quoted name
                      ("SET @`my var` = 1", True),
                      ("CALL `%s`.set_u()" % S1, True),
                      ("CREATE TEMPORARY TABLE tmp_pin (v INT)", True)):
        cp = sq.connect(A)
        cp.cursor().execute(sql)
        cp.cursor().execute("SELECT 1")
        n = qoslib.stats(sq)[A.name]["pinned"]
        is_(n, 1 if pins else 0, "%s %s" % (sql, "pins" if pins else "does not pin"))
        cp.close()
        lib.wait_until(lambda: qoslib.stats(sq)[A.name]["pinned"] == 0, 5)
    lib.finish(sq)
else:
    lib.skip("what pins and what does not", "needs a sluice of our own")

# ---- a refused preparation step: the statement behind it must not run
# Pool of 1. X (schema S3, a time_zone of its own) and Z (schema S1, no variables) take
# turns; S3 is dropped; X's INSERT then needs a SET and COM_INIT_DB, sent in one write
# (COM_INIT_DB last). The COM_INIT_DB is refused: X gets the backend's error, the INSERT
# has not run, and Z's next statement on the same connection sees only its own state.
if lib.TEST_ADDR is None:
    S3 = lib.create_schema("t_sess3")
    C = lib.Account("t_sess_c", "pw-sess-c", schemas=[S1, S3])
    sp = lib.start_sluice([C], pool_size=1)
    lib.root_sql("CREATE TABLE IF NOT EXISTS `%s`.marks (id INT PRIMARY KEY)" % S1)
    lib.root_sql("DELETE FROM `%s`.marks" % S1)
    cx = sp.connect(C, database=S3)
    cz = sp.connect(C)
    curx, curz = cx.cursor(), cz.cursor()
    curx.execute("SET time_zone = '+03:00'")
    curz.execute("SELECT @@time_zone, DATABASE()")
    is_(curz.fetchone(), ("SYSTEM", S1), "Z on the shared connection: its own state")
    lib.drop_schema(S3)
    e = lib.error_of(lambda: curx.execute("INSERT INTO `%s`.marks VALUES (1)" % S1))
    is_(e and e[0], 1049, "X's schema was dropped: the backend's ERR 1049 for its INSERT")
    is_(lib.root_sql("SELECT COUNT(*) FROM `%s`.marks" % S1)[0][0], 0,
        "the INSERT behind the refused COM_INIT_DB did not run")
    curz.execute("SELECT @@time_zone, DATABASE()")
    is_(curz.fetchone(), ("SYSTEM", S1), "Z goes on with its own state afterwards")
    cx.close()
    cx = sp.connect(C)
    curx = cx.cursor()
    curx.execute("INSERT INTO marks VALUES (2)")
    is_(lib.root_sql("SELECT id FROM `%s`.marks" % S1), ((2,),),
        "X, connected again, inserts")
    cx.close()
    cz.close()
    lib.finish(sp)
else:
    lib.skip("a refused preparation step", "needs a sluice of our own")

# ---- the same sessions without replay and pins must go wrong (the test can fail)
if lib.TEST_ADDR is None:
    s2 = lib.start_sluice([A], pool_size=4, extra_args=["--unsafe-no-replay"])
    bad, sessions = run_sessions(s2, n=100, reads=10, quiet=True)
    diag("without replay: %d wrong reads in %d of 100 sessions" % (bad, sessions))
    ok(bad > 0, "with replay and pinning switched off, sessions see each other's state")
    lib.finish(s2)
else:
    lib.skip("without replay the test fails", "needs a sluice of our own")
lib.done_testing()
