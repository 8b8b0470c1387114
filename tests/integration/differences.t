#!/usr/bin/env python3
# differences.t: the rows of docs/pooling.md's table "what a pooled session does
# differently from a direct one" that still differ (issue 12), each run straight against
# MariaDB and through sluice and compared. A known difference is a TAP TODO point: it
# is reported and does not fail the build, and the day it matches it passes (then the
# row leaves the table). What must hold whatever the row says (no other session's value
# is visible) is a plain point.
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("differences.t starts sluices with pools of its own sizes")

SCHEMA = lib.create_schema("t_diff")
A = lib.Account("t_diff_a", "pw-diff-a", schemas=[SCHEMA])
lib.root_sql("CREATE OR REPLACE TABLE %s.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) "
             "AUTO_INCREMENT=1000" % SCHEMA)
lib.root_sql("INSERT INTO %s.t (v) VALUES (1), (2), (3)" % SCHEMA)
lib.root_sql("DROP FUNCTION IF EXISTS %s.set_fv" % SCHEMA)
lib.root_sql("CREATE FUNCTION %s.set_fv() RETURNS INT NOT DETERMINISTIC "
             "BEGIN SET @fv = 7; RETURN 1; END" % SCHEMA)

s1 = lib.start_sluice([A], pool_size=1, extra_args=["--reserve-pool", "0"])


def direct(**kw):
    args = dict(host=lib.MARIADB_HOST, port=lib.MARIADB_PORT, user=A.name,
                password=A.password, database=SCHEMA, autocommit=True, charset="utf8mb4",
                connect_timeout=10, read_timeout=60)
    args.update(kw)
    return lib.pymysql.connect(**args)


def q(c, sql):
    cur = c.cursor()
    cur.execute(sql)
    rows = cur.fetchall() if cur.description else ()
    return rows, cur.description


def both(fn):
    """fn(connect) run straight to MariaDB and through the pool of one."""
    return fn(direct), fn(lambda **kw: s1.connect(A, **kw))


# ---- user variables: what information_schema.USER_VARIABLES lists
def user_variables(connect):
    x = connect()
    q(x, "SET @left_by_x = 'secret of x'")
    x.close()
    y = connect()
    rows, _ = q(y, "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.USER_VARIABLES "
                   "ORDER BY 1")
    y.close()
    return rows


want, got = both(user_variables)
diag("USER_VARIABLES directly: %r; through sluice: %r" % (want, got))
ok(all(v is None for _, v in got),
   "information_schema.USER_VARIABLES shows no value another session set", repr(got))
lib.todo(got == want, "information_schema.USER_VARIABLES lists no other session's names",
         "the names stay on the connection (NULL)")


# ---- a user variable assigned inside a stored function
def function_var(connect):
    c = connect()
    q(c, "SELECT set_fv(), @other := 1")
    churn = connect()  # another session of the account on the connection
    q(churn, "SET @fv = 'churn', @other = 'churn'")
    churn.close()
    rows, _ = q(c, "SELECT @fv, @other")
    c.close()
    return rows


want, got = both(function_var)
lib.todo(got == want, "a user variable a stored function sets is there after the "
         "connection served another session (%r, directly %r)" % (got, want),
         "only the statement's own @names are read back")


# ---- LAST_INSERT_ID() first used in SQL after an explicit id
def lid_explicit(connect):
    c = connect()
    q(c, "INSERT INTO t (v) VALUES (10)")           # generated: LAST_INSERT_ID() = that id
    q(c, "INSERT INTO t (id, v) VALUES (9000, 11)")  # explicit: LAST_INSERT_ID() unchanged
    churn = connect()
    q(churn, "INSERT INTO t (v) VALUES (12)")
    churn.close()
    rows, _ = q(c, "SELECT LAST_INSERT_ID()")
    q(c, "DELETE FROM t WHERE id = 9000")
    c.close()
    return rows[0][0]


want_lid, got_lid = both(lid_explicit)
diag("LAST_INSERT_ID() after an explicit id: directly %r, through sluice %r"
     % (want_lid, got_lid))
lib.todo(got_lid == want_lid or (want_lid and got_lid == want_lid + 1),
         "LAST_INSERT_ID() first used after an insert with an explicit id is the earlier "
         "generated one", "before the first use sluice takes the OK packets' insert id")

# ---- CONNECTION_ID()
def processlist(connect):
    c = connect()
    rows, _ = q(c, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                   "WHERE ID = CONNECTION_ID()")
    c.close()
    return rows[0][0]


want, got = both(processlist)
lib.todo(got == want, "PROCESSLIST WHERE ID = CONNECTION_ID() finds the session (%r rows, "
         "directly %r)" % (got, want), "processlist ids are the backend's")


def connid_view(connect):
    c = connect()
    q(c, "CREATE OR REPLACE VIEW v_cid AS SELECT CONNECTION_ID() AS id")
    me = c.thread_id()
    rows, _ = q(c, "SELECT id FROM v_cid")
    c.close()
    return rows[0][0] == me


want, got = both(connid_view)
lib.todo(want and got, "CONNECTION_ID() in a view is the session's id",
         "a definition keeps the function, which the backend answers")


def connid_type(connect):
    c = connect()
    _, desc = q(c, "SELECT CONNECTION_ID() + 1")
    c.close()
    return desc[0][1:3]  # type, display width


want, got = both(connid_type)
lib.todo(got == want, "CONNECTION_ID() + 1 is typed as MariaDB types it (type and width %r, "
         "directly %r)"
         % (got, want), "typed after the literal sluice writes")
lib.finish(s1)

# ---- the diagnostics area: SHOW WARNINGS and ROW_COUNT() right after a statement
s4 = lib.start_sluice([A], pool_size=4)
stop = []


def busy():
    c = s4.connect(A)
    while not stop:
        q(c, "SELECT 1")
    c.close()


def diagnostics(connect, n=100):
    c = connect()
    lost_warn = wrong_rc = 0
    for _ in range(n):
        q(c, "SELECT 'abc' + 1")
        rows, _ = q(c, "SHOW WARNINGS")
        lost_warn += len(rows) != 1
        q(c, "UPDATE t SET v = v + 1 WHERE id < 1003")
        rows, _ = q(c, "SELECT ROW_COUNT()")
        wrong_rc += rows[0][0] != 3
    c.close()
    return lost_warn, wrong_rc


want = diagnostics(direct)
threads = [threading.Thread(target=busy) for _ in range(8)]
for t in threads:
    t.start()
got = diagnostics(lambda: s4.connect(A))
stop.append(1)
for t in threads:
    t.join(30)
diag("of 100 each, SHOW WARNINGS empty / ROW_COUNT() wrong: directly %r, through a pool of 4 "
     "beside 8 busy sessions %r" % (want, got))
is_(want, (0, 0), "directly, SHOW WARNINGS and ROW_COUNT() always see the statement before")
lib.todo(got[0] == 0, "SHOW WARNINGS right after a statement sees its warning (%d of 100 "
         "empty)" % got[0], "the diagnostics area lives on the connection that ran it")
lib.todo(got[1] == 0, "ROW_COUNT() right after an UPDATE is its count (%d of 100 wrong)"
         % got[1], "the diagnostics area lives on the connection that ran it")
lib.finish(s4)
lib.done_testing()
